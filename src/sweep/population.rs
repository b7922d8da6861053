//! Parameter sets of one e-model: read from a population file (`final.json` with many entries in
//! EModelRunner's or BluePyEModel's dialect, or CSV with a header of parameter keys), drawn
//! inside the bounds of the e-model's free parameters (`--sample N --seed S`, uniform or Latin
//! hypercube), written back as `population.csv`, and applied to the e-model.
//!
//! Keys are the ones `final.json` uses: `<name>.<location>` (`gNaTgbar_NaTg.axonal`), a
//! distribution's parameter `<name>.distribution_<dist>`, or a global's name. Every free parameter
//! must have a value; a key that names no parameter, a missing free parameter or a value that is
//! not a finite number is an error naming the file, the row or entry and the parameter: nothing
//! runs with a silently defaulted value. A key may also name a fixed parameter, which the set
//! then overrides.

use std::path::Path;

use crate::diag::{Diagnostic, Diagnostics, LineCol};
use crate::package::formula::PyNum;
use crate::package::json::{Json, JsonFile, JsonValue};
use crate::package::{EModel, ParamValue, Parameter};

/// One parameter set: a label (unique within the population) and a value per key, in the
/// order of the e-model's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ParameterSet {
    pub label: String,
    pub values: Vec<(String, PyNum)>,
}

/// How `--sample` draws parameter sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampler {
    /// Every value independently uniform in its bounds.
    Uniform,
    /// Latin hypercube: each parameter's range cut into N strata, one value in each, the strata
    /// permuted independently per parameter.
    Lhs,
}

impl Sampler {
    pub fn parse(name: &str) -> Option<Sampler> {
        match name {
            "uniform" => Some(Sampler::Uniform),
            "lhs" => Some(Sampler::Lhs),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Sampler::Uniform => "uniform",
            Sampler::Lhs => "lhs",
        }
    }
}

/// The free parameters of `em` (the ones a set must give), in the package's order.
pub fn free_parameters(em: &EModel) -> Vec<&Parameter> {
    em.parameters
        .iter()
        .filter(|p| matches!(p.value, ParamValue::Free { .. }))
        .collect()
}

/// The parameter a key names (the last definition, as later ones override earlier ones).
fn parameter<'a>(em: &'a EModel, key: &str) -> Option<&'a Parameter> {
    em.parameters.iter().rev().find(|p| p.key == key)
}

/// Checks a set read from `file` at `pos` (`what` names the row or entry) against `em`: every
/// key known, every free parameter present, every value finite. Values come back in the order
/// of the e-model's parameters.
fn checked(
    em: &EModel,
    file: &Path,
    what: &str,
    label: String,
    given: Vec<(String, PyNum, Option<LineCol>)>,
    pos: Option<LineCol>,
    diags: &mut Diagnostics,
) -> Option<ParameterSet> {
    let before = diags.error_count();
    for (key, value, at) in &given {
        if parameter(em, key).is_none() {
            diags.push(Diagnostic::error(
                "unknown-parameter",
                file,
                *at,
                format!(
                    "{what}: `{key}` is not a parameter of e-model `{}` (its free parameters: {})",
                    em.label(),
                    free_parameters(em)
                        .iter()
                        .map(|p| p.key.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        } else if !value.to_f64().is_finite() {
            diags.push(Diagnostic::error(
                "bad-value",
                file,
                *at,
                format!("{what}: `{key}` is {}, not a finite number", value.to_f64()),
            ));
        }
    }
    for p in free_parameters(em) {
        if !given.iter().any(|(k, _, _)| *k == p.key) {
            diags.push(Diagnostic::error(
                "missing-parameter",
                file,
                pos,
                format!("{what}: no value for free parameter `{}`", p.key),
            ));
        }
    }
    if diags.error_count() > before {
        return None;
    }
    let mut values: Vec<(String, PyNum)> = Vec::new();
    for p in &em.parameters {
        if values.iter().any(|(k, _)| *k == p.key) {
            continue;
        }
        if let Some((_, v, _)) = given.iter().rev().find(|(k, _, _)| *k == p.key) {
            values.push((p.key.clone(), *v));
        }
    }
    Some(ParameterSet { label, values })
}

/// Reads the parameter sets of `em` from `path` (`.csv`, else JSON).
pub fn read(path: &Path, em: &EModel) -> (Vec<ParameterSet>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let sets = if is_csv {
        read_csv(path, em, &mut diags)
    } else {
        read_json(path, em, &mut diags)
    };
    if sets.is_empty() && !diags.has_errors() {
        diags.push(Diagnostic::error(
            "empty-population",
            path,
            None,
            "the population holds no parameter set",
        ));
    }
    check_labels(path, &sets, &mut diags);
    (sets, diags)
}

fn check_labels(path: &Path, sets: &[ParameterSet], diags: &mut Diagnostics) {
    let mut seen = std::collections::BTreeSet::new();
    for s in sets {
        if s.label.is_empty() {
            diags.push(Diagnostic::error(
                "bad-label",
                path,
                None,
                "a parameter set has an empty label",
            ));
        } else if !seen.insert(s.label.as_str()) {
            diags.push(Diagnostic::error(
                "duplicate-label",
                path,
                None,
                format!("two parameter sets are labelled `{}`", s.label),
            ));
        }
    }
}

/// A final.json-like file: every entry `{label: {params|parameters: {...}, ...}}` is a set.
/// Entries of BluePyEModel's dialect that name another e-model (`"emodel": ...`) are left out.
fn read_json(path: &Path, em: &EModel, diags: &mut Diagnostics) -> Vec<ParameterSet> {
    let Some(file) = JsonFile::read(path, diags) else {
        return Vec::new();
    };
    let Some(entries) = file.root.members() else {
        diags.push(Diagnostic::error(
            "json-type",
            path,
            Some(file.pos_of(&file.root)),
            "a population file is an object of entries `{label: {\"params\": {...}}}`",
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries {
        if let Some(name) = entry.value.get("emodel").and_then(Json::as_str) {
            if name != em.name && name != em.label() {
                continue;
            }
        }
        let what = format!("entry `{}`", entry.key);
        let pos = Some(file.pos(entry.key_span.start));
        let params = match (entry.value.get("params"), entry.value.get("parameters")) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => {
                diags.push(Diagnostic::error(
                    "missing-key",
                    path,
                    pos,
                    format!("{what} has neither `params` nor `parameters`"),
                ));
                continue;
            }
        };
        let Some(members) = params.members() else {
            diags.push(Diagnostic::error(
                "json-type",
                path,
                Some(file.pos_of(params)),
                format!("{what}: `params` should be an object of values"),
            ));
            continue;
        };
        let mut given = Vec::new();
        for m in members {
            let at = Some(file.pos_of(&m.value));
            match &m.value.value {
                JsonValue::Number(n) => given.push((
                    m.key.clone(),
                    crate::package::fields::py_num(n.value, n.is_int),
                    at,
                )),
                _ => diags.push(Diagnostic::error(
                    "json-type",
                    path,
                    at,
                    format!("{what}: `{}` should be a number", m.key),
                )),
            }
        }
        if let Some(set) = checked(em, path, &what, entry.key.clone(), given, pos, diags) {
            out.push(set);
        }
    }
    out
}

/// A number as Python's `json` would read its text: integer literals are ints.
fn parse_number(text: &str) -> Option<PyNum> {
    let t = text.trim();
    if !t.is_empty()
        && t.trim_start_matches(['-', '+'])
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        if let Ok(i) = t.parse::<i64>() {
            return Some(PyNum::Int(i));
        }
    }
    match t.to_ascii_lowercase().as_str() {
        "nan" | "inf" | "-inf" | "infinity" | "-infinity" => {
            t.parse::<f64>().ok().map(PyNum::Float)
        }
        _ => t.parse::<f64>().ok().map(PyNum::Float),
    }
}

/// Splits one CSV line into fields (RFC 4180 quotes, `""` inside quotes).
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
            at_start = true;
        } else {
            cur.push(c);
            at_start = false;
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    out.push(cur);
    Ok(out)
}

/// CSV: a header of keys (and optionally `label`), one set per row; rows without a label are
/// labelled `row_<k>` (k from 0, in file order).
fn read_csv(path: &Path, em: &EModel, diags: &mut Diagnostics) -> Vec<ParameterSet> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic::error(
                "io",
                path,
                None,
                format!("cannot read the file: {e}"),
            ));
            return Vec::new();
        }
    };
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header_line)) = lines.next() else {
        return Vec::new();
    };
    let header = match csv_fields(header_line) {
        Ok(h) => h
            .into_iter()
            .map(|s| s.trim().to_string())
            .collect::<Vec<_>>(),
        Err(e) => {
            diags.push(Diagnostic::error(
                "csv-syntax",
                path,
                Some(LineCol { line: 1, col: 1 }),
                e,
            ));
            return Vec::new();
        }
    };
    let label_col = header.iter().position(|h| h == "label");
    let mut out = Vec::new();
    for (row, (index, line)) in lines.enumerate() {
        let line_no = index as u32 + 1;
        let pos = Some(LineCol {
            line: line_no,
            col: 1,
        });
        let fields = match csv_fields(line) {
            Ok(f) => f,
            Err(e) => {
                diags.push(Diagnostic::error("csv-syntax", path, pos, e));
                continue;
            }
        };
        if fields.len() != header.len() {
            diags.push(Diagnostic::error(
                "csv-syntax",
                path,
                pos,
                format!(
                    "row {row} has {} fields, the header {}",
                    fields.len(),
                    header.len()
                ),
            ));
            continue;
        }
        let label =
            label_col.map_or_else(|| format!("row_{row}"), |c| fields[c].trim().to_string());
        let what = format!("row {row} (`{label}`)");
        let mut given = Vec::new();
        let mut col = 1u32;
        for (k, (key, field)) in header.iter().zip(&fields).enumerate() {
            let at = Some(LineCol { line: line_no, col });
            col += field.chars().count() as u32 + 1;
            if Some(k) == label_col {
                continue;
            }
            match parse_number(field) {
                Some(v) => given.push((key.clone(), v, at)),
                None => diags.push(Diagnostic::error(
                    "bad-value",
                    path,
                    at,
                    format!("{what}: `{key}` = `{}` is not a number", field.trim()),
                )),
            }
        }
        if let Some(set) = checked(em, path, &what, label, given, pos, diags) {
            out.push(set);
        }
    }
    out
}

/// splitmix64: the generator of the samples (deterministic for a seed, on every machine).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 random bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0), by rejection (no modulo bias).
    fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }
}

/// `n` parameter sets of `em` drawn inside its free parameters' bounds, labelled
/// `sample_<k>`; the same `seed` gives the same sets. An error when a free parameter has no
/// finite bounds.
pub fn sample(
    em: &EModel,
    n: usize,
    seed: u64,
    sampler: Sampler,
) -> Result<Vec<ParameterSet>, Diagnostic> {
    let free = free_parameters(em);
    let mut bounds = Vec::with_capacity(free.len());
    for p in &free {
        let ParamValue::Free {
            bounds: (lo, hi), ..
        } = p.value
        else {
            continue;
        };
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(p.origin.error(
                "bad-bounds",
                format!("`{}` has bounds [{lo}, {hi}]: nothing to sample", p.key),
            ));
        }
        bounds.push((lo, hi));
    }
    if free.is_empty() {
        return Err(Diagnostic::error(
            "no-free-parameter",
            &em.package_dir,
            None,
            format!("e-model `{}` has no free parameter to sample", em.label()),
        ));
    }
    let mut rng = SplitMix64(seed);
    // unit[k][j]: parameter j of set k in [0, 1)
    let mut unit = vec![vec![0.0; free.len()]; n];
    match sampler {
        Sampler::Uniform => {
            for row in unit.iter_mut() {
                for x in row.iter_mut() {
                    *x = rng.unit();
                }
            }
        }
        Sampler::Lhs => {
            for j in 0..free.len() {
                // Fisher-Yates permutation of the strata
                let mut strata: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    let k = rng.below(i as u64 + 1) as usize;
                    strata.swap(i, k);
                }
                for (k, row) in unit.iter_mut().enumerate() {
                    row[j] = (strata[k] as f64 + rng.unit()) / n as f64;
                }
            }
        }
    }
    let width = n.saturating_sub(1).to_string().len();
    Ok(unit
        .into_iter()
        .enumerate()
        .map(|(k, row)| ParameterSet {
            label: format!("sample_{k:0width$}"),
            values: free
                .iter()
                .zip(&bounds)
                .zip(row)
                .map(|((p, &(lo, hi)), u)| (p.key.clone(), PyNum::Float(lo + u * (hi - lo))))
                .collect(),
        })
        .collect())
}

/// The e-model's own values as a set (labelled `label`), for reports.
pub fn own_set(em: &EModel, label: &str) -> ParameterSet {
    ParameterSet {
        label: label.to_string(),
        values: free_parameters(em)
            .iter()
            .filter_map(|p| p.value.value().map(|v| (p.key.clone(), v)))
            .collect(),
    }
}

/// A number as CSV text that reads back to the same value (and int-ness).
fn number_text(v: PyNum) -> String {
    match v {
        PyNum::Bool(b) => u8::from(b).to_string(),
        PyNum::Int(i) => i.to_string(),
        PyNum::Float(x) => {
            let s = format!("{x:?}");
            // `{:?}` of an integral float is `3.0`; of others the shortest round trip
            s
        }
    }
}

fn csv_quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// `population.csv`: a `label` column, then one column per key of the first set.
pub fn to_csv(sets: &[ParameterSet]) -> String {
    let keys: Vec<&str> = sets
        .first()
        .map(|s| s.values.iter().map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default();
    let mut out = String::from("label");
    for k in &keys {
        out.push(',');
        out.push_str(&csv_quote(k));
    }
    out.push('\n');
    for s in sets {
        out.push_str(&csv_quote(&s.label));
        for k in &keys {
            out.push(',');
            if let Some((_, v)) = s.values.iter().find(|(key, _)| key == k) {
                out.push_str(&number_text(*v));
            }
        }
        out.push('\n');
    }
    out
}

/// `em` with the values of `set`: free parameters take them, fixed ones they name are
/// overridden.
pub fn apply(em: &EModel, set: &ParameterSet) -> EModel {
    let mut out = em.clone();
    for p in out.parameters.iter_mut() {
        let Some((_, v)) = set.values.iter().find(|(k, _)| *k == p.key) else {
            continue;
        };
        p.value = match p.value {
            ParamValue::Free { bounds, .. } => ParamValue::Free {
                bounds,
                value: Some(*v),
            },
            ParamValue::Fixed(_) => ParamValue::Fixed(*v),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_follow_rfc4180() {
        assert_eq!(csv_fields("a,b,c").unwrap(), vec!["a", "b", "c"]);
        assert_eq!(
            csv_fields("\"a,b\",\"x\"\"y\",").unwrap(),
            vec!["a,b", "x\"y", ""]
        );
        assert!(csv_fields("\"open").is_err());
    }

    #[test]
    fn numbers_keep_python_int_ness_and_round_trip() {
        assert_eq!(parse_number("3"), Some(PyNum::Int(3)));
        assert_eq!(parse_number("-3"), Some(PyNum::Int(-3)));
        assert_eq!(parse_number("3.0"), Some(PyNum::Float(3.0)));
        assert_eq!(parse_number("1e-5"), Some(PyNum::Float(1e-5)));
        assert!(parse_number("nan").is_some_and(|v| v.to_f64().is_nan()));
        assert_eq!(parse_number("x"), None);
        for x in [0.1, 1.0 / 3.0, 6.02e23, -2.5e-300, 3.0] {
            assert_eq!(
                parse_number(&number_text(PyNum::Float(x))),
                Some(PyNum::Float(x))
            );
        }
    }

    #[test]
    fn lhs_puts_one_value_in_every_stratum() {
        let mut rng = SplitMix64(5);
        let n = 17;
        let mut strata: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let k = rng.below(i as u64 + 1) as usize;
            strata.swap(i, k);
        }
        let mut sorted = strata.clone();
        sorted.sort();
        assert_eq!(sorted, (0..n).collect::<Vec<_>>());
        assert_ne!(strata, (0..n).collect::<Vec<_>>());
    }
}
