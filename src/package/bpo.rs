//! BluePyOpt's example layout (`examples/l5pc`): `config/parameters.json` (a flat list),
//! `config/mechanisms.json`, `config/protocols.json`, `config/features.json`, one morphology in
//! `morphology/`. The example keeps its optimised values in Python (`release_params = {...}` in
//! `l5pc_analysis.py`); that dictionary literal is read when present.

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics, LineCol};
use crate::morph::AxonReplacement;

use super::fields::py_num;
use super::json::JsonFile;
use super::model::{Dialect, EModel, Origin, ParamValue};
use super::params::{self, FinalValues};
use super::{features, finish_emodel, globals_of, protocols};

pub(crate) const PARAMETERS: &str = "config/parameters.json";
pub(crate) const MECHANISMS: &str = "config/mechanisms.json";

/// Read the BluePyOpt example package in `root` (one e-model, named after the directory).
pub(crate) fn read(root: &Path, diags: &mut Diagnostics) -> Vec<EModel> {
    let name = root
        .file_name()
        .map_or_else(|| "cell".to_string(), |n| n.to_string_lossy().into_owned());
    let params_path = root.join(PARAMETERS);
    let mechs_path = root.join(MECHANISMS);
    let (Some(params_json), Some(mechs_json)) = (
        JsonFile::read(&params_path, diags),
        JsonFile::read(&mechs_path, diags),
    ) else {
        return Vec::new();
    };
    let def = params::read_bluepyopt_flat(&params_json, &mechs_json, diags);
    let mut sources = vec![params_path.clone(), mechs_path];
    let mut parameters = def.parameters;

    let mut final_values = None;
    if parameters
        .iter()
        .any(|p| matches!(p.value, ParamValue::Free { .. }))
    {
        if let Some((py, fin)) = release_params(root, diags) {
            diags.push(fin.origin.note(
                "final-values",
                "free parameter values taken from the `release_params` dictionary of this Python file",
            ));
            params::apply_final(&mut parameters, &fin, diags);
            final_values = Some(fin.origin);
            sources.push(py);
        }
    }

    let mut protocol_sets = Vec::new();
    let prot_path = root.join("config/protocols.json");
    if prot_path.is_file() {
        sources.push(prot_path.clone());
        if let Some(f) = JsonFile::read(&prot_path, diags) {
            protocol_sets.push(protocols::read_bluepyopt(&f, diags));
        }
    }
    let mut feats = Vec::new();
    let feat_path = root.join("config/features.json");
    if feat_path.is_file() {
        sources.push(feat_path.clone());
        if let Some(f) = JsonFile::read(&feat_path, diags) {
            feats = features::read_bluepyopt(&f, diags);
        }
    }

    let morph_dir = root.join("morphology");
    let mut morphs: Vec<PathBuf> = std::fs::read_dir(&morph_dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && p.extension().is_some_and(|e| {
                            e.eq_ignore_ascii_case("asc") || e.eq_ignore_ascii_case("swc")
                        })
                })
                .collect()
        })
        .unwrap_or_default();
    morphs.sort();
    let morphology = match morphs.len() {
        1 => morphs.pop(),
        0 => {
            diags.push(Diagnostic::error(
                "missing-file",
                &morph_dir,
                None,
                "no .asc or .swc morphology in `morphology/`",
            ));
            None
        }
        n => {
            diags.push(Diagnostic::error("ambiguous-morphology", &morph_dir, None, format!("{n} morphologies in `morphology/`: BluePyOpt's example names one in Python; emsweep cannot tell which")));
            None
        }
    };
    let origin = Origin::new(&params_path, None);
    let (celsius, v_init) = globals_of(&parameters, &origin, diags);
    diags.push(origin.note(
        "variable-step",
        format!("BluePyOpt's NrnSimulator runs `{name}` with CVODE by default; emsweep runs fixed steps of 0.025 ms"),
    ));
    let morphology = match morphology {
        Some(m) => m,
        None => return Vec::new(),
    };
    sources.push(morphology.clone());
    let mut em = EModel {
        name,
        variant: None,
        package_dir: root.to_path_buf(),
        dialect: Dialect::BluePyOpt,
        source_files: sources,
        morphology,
        axon: AxonReplacement::BluePyOpt,
        celsius,
        v_init_mv: v_init,
        dt_ms: 0.025,
        authors_cvode: true,
        mechanisms: def.mechanisms,
        distributions: def.distributions,
        parameters,
        final_values,
        protocol_sets,
        features: feats,
        apical_point_isec: None,
        mechanism_dir: None,
        mod_files: Vec::new(),
    };
    finish_emodel(&mut em, &root.join("mechanisms"), diags);
    vec![em]
}

/// The first `release_params = {'name.loc': number, ...}` dictionary literal in a top-level
/// `.py` file of `root` (sorted by name).
fn release_params(root: &Path, diags: &mut Diagnostics) -> Option<(PathBuf, FinalValues)> {
    let mut pys: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "py"))
        .collect();
    pys.sort();
    for py in pys {
        let Ok(bytes) = std::fs::read(&py) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        if let Some(fin) = parse_dict_literal(&py, &text, "release_params", diags) {
            return Some((py, fin));
        }
    }
    None
}

/// A Python dict literal of string keys and number values assigned to `var` at the start of a
/// line. Anything else inside the braces is reported and the dictionary refused.
fn parse_dict_literal(
    path: &Path,
    text: &str,
    var: &str,
    diags: &mut Diagnostics,
) -> Option<FinalValues> {
    let start = text.match_indices(var).map(|(i, _)| i).find(|&i| {
        (i == 0 || text.as_bytes()[i - 1] == b'\n')
            && text[i + var.len()..].trim_start().starts_with('=')
    })?;
    let open = start + text[start..].find('{')?;
    let close = open + text[open..].find('}')?;
    let body = &text[open + 1..close];
    let mut values = Vec::new();
    let mut offset = open + 1;
    for item in body.split(',') {
        let item_off = offset;
        offset += item.len() + 1;
        let code: String = item
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let code = code.trim();
        if code.is_empty() {
            continue;
        }
        let key_at = item
            .find(['\'', '"'])
            .unwrap_or(item.len() - item.trim_start().len());
        let pos = LineCol::of_offset(text, item_off + key_at);
        let parsed = code.split_once(':').and_then(|(k, v)| {
            let k = k.trim();
            let quoted = (k.starts_with('\'') && k.ends_with('\''))
                || (k.starts_with('"') && k.ends_with('"'));
            if !quoted || k.len() < 2 {
                return None;
            }
            let v = v.trim();
            let is_int = !v.contains(['.', 'e', 'E']);
            let x: f64 = v.parse().ok()?;
            Some((k[1..k.len() - 1].to_string(), py_num(x, is_int)))
        });
        match parsed {
            Some((k, v)) => values.push((k, v, Origin::new(path, Some(pos)))),
            None => {
                diags.push(Diagnostic::error(
                    "python-literal",
                    path,
                    Some(pos),
                    format!("`{var}`: `{code}` is not `'name': number`"),
                ));
                return None;
            }
        }
    }
    Some(FinalValues {
        values,
        origin: Origin::new(path, Some(LineCol::of_offset(text, start))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::formula::PyNum;

    #[test]
    fn reads_a_python_dict_literal() {
        let t = "import x\n# c\nrelease_params = {\n    'a.b': 0.5,  # note\n    'c.d': 3,\n}\n";
        let mut d = Diagnostics::new();
        let fin = parse_dict_literal(Path::new("m.py"), t, "release_params", &mut d).unwrap();
        assert!(d.is_empty());
        let got: Vec<(&str, PyNum)> = fin
            .values
            .iter()
            .map(|(k, v, _)| (k.as_str(), *v))
            .collect();
        assert_eq!(got, [("a.b", PyNum::Float(0.5)), ("c.d", PyNum::Int(3))]);
        assert_eq!(fin.values[1].2.pos, Some(LineCol { line: 5, col: 5 }));
        let bad = "release_params = {'a': x}\n";
        assert!(parse_dict_literal(Path::new("m.py"), bad, "release_params", &mut d).is_none());
        assert_eq!(d.iter().next().unwrap().kind, "python-literal");
    }
}
