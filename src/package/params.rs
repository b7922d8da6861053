//! Parameter definitions in their three spellings (EModelRunner's / BluePyEModel's legacy
//! `{mechanisms, distributions, parameters}` dictionary, BluePyEModel's exported configuration
//! lists, BluePyOpt's flat `parameters.json` + `mechanisms.json`), and the optimised values of
//! the free parameters (`final.json`, `params` or `parameters` dialect).

use crate::diag::{Diagnostic, Diagnostics};

use super::fields::{py_num, Fields};
use super::formula::{Formula, PyNum};
use super::json::{string_content_offset, Json, JsonFile};
use super::model::{
    Distribution, Location, MechanismUse, Origin, ParamTarget, ParamValue, Parameter,
};

/// Mechanisms, distributions and parameters as a package defines them.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ParamsDef {
    pub mechanisms: Vec<MechanismUse>,
    pub distributions: Vec<Distribution>,
    pub parameters: Vec<Parameter>,
}

/// Which location names a tool accepts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum LocationRules {
    /// EModelRunner's `multi_locations`: the section lists and alldend somadend somaxon allact.
    EModelRunner,
    /// BluePyEModel's `multi_locations`: also allnoaxon, plus the recipe's `multiloc_map`.
    BluePyEModel { extra: Vec<(String, Vec<String>)> },
    /// BluePyOpt's example: section lists only.
    BluePyOpt,
}

impl LocationRules {
    pub fn location(&self, name: &str) -> Option<Location> {
        match self {
            LocationRules::EModelRunner if name == "allnoaxon" => None,
            LocationRules::BluePyOpt => {
                crate::morph::SectionList::from_name(name).map(|l| Location {
                    name: name.to_string(),
                    lists: vec![l],
                })
            }
            LocationRules::BluePyEModel { extra } => {
                if let Some((_, names)) = extra.iter().find(|(k, _)| k == name) {
                    let lists: Option<Vec<_>> = names
                        .iter()
                        .map(|n| crate::morph::SectionList::from_name(n))
                        .collect();
                    return lists.map(|lists| Location {
                        name: name.to_string(),
                        lists,
                    });
                }
                Location::standard(name)
            }
            LocationRules::EModelRunner => Location::standard(name),
        }
    }

    fn known_names(&self) -> &'static str {
        match self {
            LocationRules::EModelRunner => {
                "all somatic basal apical axonal myelinated alldend somadend somaxon allact"
            }
            LocationRules::BluePyEModel { .. } => {
                "all somatic basal apical axonal myelinated alldend somadend allnoaxon somaxon allact"
            }
            LocationRules::BluePyOpt => "all somatic basal apical axonal myelinated",
        }
    }
}

fn location_or_report(
    f: &mut Fields,
    rules: &LocationRules,
    name: &str,
    at: &Json,
) -> Option<Location> {
    let loc = rules.location(name);
    if loc.is_none() {
        f.push(
            f.origin(at)
                .error(
                    "unknown-location",
                    format!("unknown location `{name}`: the cell has no such section list"),
                )
                .with_note(format!("known locations: {}", rules.known_names())),
        );
    }
    loc
}

/// Parse a distribution formula written in JSON string `s` and check its placeholders against
/// `allowed`; every problem is reported at its exact place in the file.
pub(crate) fn parse_formula(f: &mut Fields, s: &Json, allowed: &[&str]) -> Option<Formula> {
    let text = s.as_str()?;
    let file_text = &f.file.text;
    match Formula::parse(text) {
        Ok(formula) => {
            let mut ok = true;
            for name in formula.placeholders() {
                if !allowed.contains(&name.as_str()) {
                    let idx = text.find(&format!("{{{name}}}")).unwrap_or(0);
                    let off = string_content_offset(file_text, s.span, idx);
                    let origin = f.origin_at(off);
                    f.push(
                        origin
                            .error(
                                "unknown-name",
                                format!("`{{{name}}}` is neither `{{value}}`, `{{distance}}` nor a parameter of this distribution"),
                            )
                            .with_note(format!("available: {}", allowed.join(", "))),
                    );
                    ok = false;
                }
            }
            ok.then_some(formula)
        }
        Err(errors) => {
            for e in errors {
                let off = string_content_offset(file_text, s.span, e.offset);
                let origin = f.origin_at(off);
                f.push(origin.error(
                    e.kind,
                    format!("{} (column {} of the formula)", e.message, e.col),
                ));
            }
            None
        }
    }
}

/// A distribution, checked the way BluePyOpt's scaler checks it.
fn distribution(
    f: &mut Fields,
    name: &str,
    fun: &Json,
    param_names: Vec<String>,
    soma_ref_location: f64,
    origin: Origin,
) -> Distribution {
    let mut allowed: Vec<&str> = vec!["value", "distance"];
    allowed.extend(param_names.iter().map(String::as_str));
    if name == "step" {
        allowed.extend(["step_begin", "step_end"]);
    }
    let formula = parse_formula(f, fun, &allowed);
    if let Some(text) = fun.as_str() {
        for p in &param_names {
            if !text.contains(p.as_str()) {
                f.error(
                    fun,
                    "unused-parameter",
                    format!("distribution parameter `{p}` does not appear in the formula (BluePyOpt refuses this)"),
                );
            }
        }
    }
    Distribution {
        name: name.to_string(),
        formula,
        param_names,
        soma_ref_location,
        origin,
    }
}

/// A `val` / `value`: a number (fixed) or `[lower, upper]` (free).
fn param_value(f: &mut Fields, v: &Json, bluepyemodel: bool) -> Option<ParamValue> {
    if let Some(items) = v.items() {
        if bluepyemodel && items.len() == 1 {
            // BluePyEModel's ParameterConfiguration: a one-item list is that value
            return f
                .py_number(&items[0], "a parameter value")
                .map(ParamValue::Fixed);
        }
        if items.len() != 2 {
            f.error(
                v,
                "json-type",
                format!(
                    "bounds should be [lower, upper], not {} numbers",
                    items.len()
                ),
            );
            return None;
        }
        let lo = f.number(&items[0], "a lower bound")?;
        let hi = f.number(&items[1], "an upper bound")?;
        if lo > hi {
            if bluepyemodel {
                f.error(
                    v,
                    "bad-bounds",
                    format!(
                        "lower bound {lo} is above upper bound {hi} (BluePyEModel refuses this)"
                    ),
                );
                return None;
            }
            f.warning(
                v,
                "bad-bounds",
                format!("lower bound {lo} is above upper bound {hi}"),
            );
        }
        return Some(ParamValue::Free {
            bounds: (lo, hi),
            value: None,
        });
    }
    f.py_number(v, "a parameter value").map(ParamValue::Fixed)
}

/// EModelRunner's / BluePyEModel's `{mechanisms, distributions, parameters}` dictionary
/// (`config/params/pyr.json`).
pub(crate) fn read_legacy_dict(
    file: &JsonFile,
    rules: &LocationRules,
    diags: &mut Diagnostics,
) -> ParamsDef {
    let mut f = Fields::new(file, diags);
    let mut out = ParamsDef::default();
    let root = &file.root;
    if f.object(root, "a parameter file").is_none() {
        return out;
    }
    let bluepyemodel = matches!(rules, LocationRules::BluePyEModel { .. });

    if let Some(mechs) = f.req(root, "mechanisms", "the parameter file") {
        for m in f.object(mechs, "`mechanisms`").unwrap_or(&[]) {
            let loc_json = &m.value;
            let key_origin = f.origin_at(m.key_span.start);
            let loc = rules.location(&m.key);
            if loc.is_none() {
                f.push(
                    key_origin
                        .error(
                            "unknown-location",
                            format!(
                                "unknown location `{}`: the cell has no such section list",
                                m.key
                            ),
                        )
                        .with_note(format!("known locations: {}", rules.known_names())),
                );
            }
            let Some(list) = f.req(loc_json, "mech", &format!("mechanisms of `{}`", m.key)) else {
                continue;
            };
            for s in f.array(list, "`mech`").unwrap_or(&[]) {
                let Some(suffix) = f.string(s, "a mechanism name") else {
                    continue;
                };
                if let Some(location) = &loc {
                    out.mechanisms.push(MechanismUse {
                        suffix: suffix.to_string(),
                        location: location.clone(),
                        origin: f.origin(s),
                    });
                }
            }
        }
    }

    if let Some(dists) = f.req(root, "distributions", "the parameter file") {
        for d in f.object(dists, "`distributions`").unwrap_or(&[]) {
            let ctx = format!("distribution `{}`", d.key);
            let Some(fun) = f.req(&d.value, "fun", &ctx) else {
                continue;
            };
            if f.string(fun, "`fun`").is_none() {
                continue;
            }
            let params = match d.value.get("parameters") {
                Some(p) if !p.is_null() => f.strings(p, "`parameters`"),
                _ => Vec::new(),
            };
            // EModelRunner builds the scaler without soma_ref_location (0.5); BluePyEModel
            // passes the file's value when there is one
            let soma_ref = if bluepyemodel {
                f.opt_num_field(&d.value, "soma_ref_location")
                    .unwrap_or(0.5)
            } else {
                0.5
            };
            let origin = f.origin_at(d.key_span.start);
            let dist = distribution(&mut f, &d.key, fun, params, soma_ref, origin);
            out.distributions.push(dist);
        }
    }

    let Some(params) = f.req(root, "parameters", "the parameter file") else {
        return out;
    };
    for group in f.object(params, "`parameters`").unwrap_or(&[]) {
        let loc_name = group.key.as_str();
        if loc_name == "__comment" {
            continue;
        }
        let key_origin = f.origin_at(group.key_span.start);
        let target_kind = if loc_name == "global" {
            Some(TargetKind::Global)
        } else if let Some(i) = loc_name.find("distribution_") {
            let dist = &loc_name[i + "distribution_".len()..];
            let dist = dist.split("distribution_").next().unwrap_or(dist);
            if out.distributions.iter().any(|d| d.name == dist) {
                Some(TargetKind::DistParam(dist.to_string()))
            } else {
                f.push(key_origin.error(
                    "unknown-distribution",
                    format!("`{loc_name}` names distribution `{dist}`, which is not defined"),
                ));
                None
            }
        } else {
            location_or_report(&mut f, rules, loc_name, &json_at(group)).map(TargetKind::Loc)
        };
        for p in f
            .array(&group.value, &format!("parameters of `{loc_name}`"))
            .unwrap_or(&[])
        {
            let ctx = format!("a parameter of `{loc_name}`");
            let name = f.str_field(p, "name", &ctx).map(str::to_string);
            let val = f
                .req(p, "val", &ctx)
                .and_then(|v| param_value(&mut f, v, bluepyemodel));
            let dist = f.opt_str_field(p, "dist").map(str::to_string);
            let (Some(name), Some(value), Some(kind)) = (name, val, target_kind.as_ref()) else {
                continue;
            };
            let target = match kind {
                TargetKind::Global => ParamTarget::Global,
                TargetKind::DistParam(d) => ParamTarget::DistributionParam {
                    distribution: d.clone(),
                },
                TargetKind::Loc(location) => {
                    // BluePyEModel treats "constant" as uniform too
                    let dist = dist.filter(|d| !(bluepyemodel && d == "constant"));
                    match dist {
                        None => ParamTarget::Section {
                            location: location.clone(),
                        },
                        Some(d) if d == "uniform" && bluepyemodel => ParamTarget::Section {
                            location: location.clone(),
                        },
                        Some(d) => {
                            if d != "uniform" && !out.distributions.iter().any(|x| x.name == d) {
                                f.error(
                                    p.get("dist").unwrap_or(p),
                                    "unknown-distribution",
                                    format!("parameter `{name}` uses distribution `{d}`, which is not defined"),
                                );
                                continue;
                            }
                            ParamTarget::Range {
                                location: location.clone(),
                                distribution: d,
                            }
                        }
                    }
                }
            };
            let key = match &target {
                ParamTarget::Global => name.clone(),
                _ => format!("{name}.{loc_name}"),
            };
            out.parameters.push(Parameter {
                name,
                key,
                target,
                value,
                origin: f.origin(p),
            });
        }
    }
    out
}

enum TargetKind {
    Global,
    DistParam(String),
    Loc(Location),
}

/// A stand-in JSON value positioned at a member's key (for reporting at the key).
fn json_at(m: &super::json::Member) -> Json {
    Json {
        value: super::json::JsonValue::Null,
        span: m.key_span,
    }
}

/// BluePyEModel's exported `EModelConfiguration` (lists of mechanisms, distributions and
/// parameters).
pub(crate) fn read_bluepyemodel_config(
    file: &JsonFile,
    rules: &LocationRules,
    diags: &mut Diagnostics,
) -> ParamsDef {
    let mut f = Fields::new(file, diags);
    let mut out = ParamsDef::default();
    let root = &file.root;
    if let Some(dists) = root.get("distributions") {
        for d in f.array(dists, "`distributions`").unwrap_or(&[]) {
            let Some(name) = f.str_field(d, "name", "a distribution") else {
                continue;
            };
            let Some(fun) = f.req(d, "function", &format!("distribution `{name}`")) else {
                continue;
            };
            if f.string(fun, "`function`").is_none() {
                continue;
            }
            let params = match d.get("parameters") {
                Some(p) if !p.is_null() => f.strings(p, "`parameters`"),
                _ => Vec::new(),
            };
            let soma_ref = f.opt_num_field(d, "soma_ref_location").unwrap_or(0.5);
            let origin = f.origin(d);
            let dist = distribution(&mut f, name, fun, params, soma_ref, origin);
            out.distributions.push(dist);
        }
    }
    if let Some(params) = root.get("parameters") {
        for p in f.array(params, "`parameters`").unwrap_or(&[]) {
            let ctx = "a parameter";
            let name = f.str_field(p, "name", ctx).map(str::to_string);
            let loc_name = f.str_field(p, "location", ctx).map(str::to_string);
            let value = f
                .req(p, "value", ctx)
                .and_then(|v| param_value(&mut f, v, true));
            // BluePyEModel writes `distribution`; its reader looks for `dist`: accept both
            let dist = f
                .opt_str_field(p, "distribution")
                .or_else(|| f.opt_str_field(p, "dist"))
                .map(str::to_string)
                .filter(|d| d != "uniform" && d != "constant");
            let (Some(name), Some(loc_name), Some(value)) = (name, loc_name, value) else {
                continue;
            };
            let target = if loc_name == "global" {
                ParamTarget::Global
            } else if let Some(i) = loc_name.find("distribution_") {
                let d = &loc_name[i + "distribution_".len()..];
                if !out.distributions.iter().any(|x| x.name == d) {
                    f.error(
                        p,
                        "unknown-distribution",
                        format!("`{loc_name}` names distribution `{d}`, which is not defined"),
                    );
                    continue;
                }
                ParamTarget::DistributionParam {
                    distribution: d.to_string(),
                }
            } else {
                let Some(location) = location_or_report(&mut f, rules, &loc_name, p) else {
                    continue;
                };
                match dist {
                    None => ParamTarget::Section { location },
                    Some(d) => {
                        if !out.distributions.iter().any(|x| x.name == d) {
                            f.error(p, "unknown-distribution", format!("parameter `{name}` uses distribution `{d}`, which is not defined"));
                            continue;
                        }
                        ParamTarget::Range {
                            location,
                            distribution: d,
                        }
                    }
                }
            };
            let key = match &target {
                ParamTarget::Global => name.clone(),
                _ => format!("{name}.{loc_name}"),
            };
            out.parameters.push(Parameter {
                name,
                key,
                target,
                value,
                origin: f.origin(p),
            });
        }
    }
    if let Some(mechs) = root.get("mechanisms") {
        for m in f.array(mechs, "`mechanisms`").unwrap_or(&[]) {
            let Some(name) = f.str_field(m, "name", "a mechanism") else {
                continue;
            };
            let Some(loc_name) = f.str_field(m, "location", "a mechanism") else {
                continue;
            };
            if let Some(location) = location_or_report(&mut f, rules, loc_name, m) {
                out.mechanisms.push(MechanismUse {
                    suffix: name.to_string(),
                    location,
                    origin: f.origin(m),
                });
            }
        }
    }
    out
}

/// BluePyEModel's `NeuronModelConfiguration` rules, applied after reading: a parameter repeated
/// at the same location (or at `all` after any location) keeps only its first occurrence;
/// mechanisms repeated across multi-locations are merged as `add_mechanism` merges them; a
/// parameter (other than the globals and ion parameters) must name one of the mechanisms.
pub(crate) fn apply_bluepyemodel_rules(def: &mut ParamsDef, diags: &mut Diagnostics) {
    const GLOBALS: [&str; 8] = ["v_init", "celsius", "cm", "Ra", "ena", "ek", "eca", "eh"];
    let loc_of = |p: &Parameter| -> String {
        match &p.target {
            ParamTarget::Global => "global".to_string(),
            ParamTarget::Section { location } | ParamTarget::Range { location, .. } => {
                location.name.clone()
            }
            ParamTarget::DistributionParam { distribution } => {
                format!("distribution_{distribution}")
            }
        }
    };
    let mech_names: Vec<String> = def.mechanisms.iter().map(|m| m.suffix.clone()).collect();
    let mut kept: Vec<Parameter> = Vec::new();
    for p in std::mem::take(&mut def.parameters) {
        let loc = loc_of(&p);
        if !GLOBALS.contains(&p.name.as_str())
            && !loc.contains("distribution")
            && !p.name.contains("_ion")
            && !mech_names.iter().any(|m| p.name.contains(m.as_str()))
        {
            diags.push(p.origin.error(
                "unknown-mechanism",
                format!(
                    "parameter `{}` names none of the mechanisms (BluePyEModel refuses this)",
                    p.name
                ),
            ));
        }
        // ParameterConfiguration.__eq__ (its `self.name == "all"` is in the original)
        let dup = kept
            .iter()
            .any(|q| q.name == p.name && (q.name == "all" || loc == "all" || loc_of(q) == loc));
        if dup {
            diags.push(p.origin.warning(
                "duplicate-parameter",
                format!("parameter `{}` at `{loc}` repeats an earlier one: BluePyEModel keeps only the first", p.name),
            ));
        } else {
            kept.push(p);
        }
    }
    def.parameters = kept;

    // add_mechanism's merging of multi-locations
    let multiloc = |n: &str| -> Option<&'static [&'static str]> {
        Some(match n {
            "all" => &["apical", "basal", "somatic", "axonal"],
            "alldend" => &["apical", "basal"],
            "somadend" | "allnoaxon" => &["apical", "basal", "somatic"],
            "somaxon" => &["axonal", "somatic"],
            "allact" => &["apical", "basal", "somatic", "axonal"],
            _ => return None,
        })
    };
    let mut mechs: Vec<MechanismUse> = Vec::new();
    for m in std::mem::take(&mut def.mechanisms) {
        let loc = m.location.name.as_str();
        if mechs
            .iter()
            .any(|x| x.suffix == m.suffix && x.location.name == loc)
        {
            continue;
        }
        if let Some(parts) = multiloc(loc) {
            mechs.retain(|x| !(x.suffix == m.suffix && parts.contains(&x.location.name.as_str())));
            mechs.push(m);
        } else {
            let covered = mechs.iter().any(|x| {
                x.suffix == m.suffix && multiloc(&x.location.name).is_some_and(|p| p.contains(&loc))
            });
            if !covered {
                mechs.push(m);
            }
        }
    }
    def.mechanisms = mechs;
}

/// BluePyOpt's example dialect: `parameters.json` (a flat list) and `mechanisms.json`
/// (`{location: [SUFFIX, ...]}`).
pub(crate) fn read_bluepyopt_flat(
    params: &JsonFile,
    mechs: &JsonFile,
    diags: &mut Diagnostics,
) -> ParamsDef {
    let rules = LocationRules::BluePyOpt;
    let mut out = ParamsDef::default();
    {
        let mut f = Fields::new(mechs, diags);
        for m in f.object(&mechs.root, "the mechanisms file").unwrap_or(&[]) {
            let loc = location_or_report(&mut f, &rules, &m.key, &json_at(m));
            for s in f
                .array(&m.value, &format!("mechanisms of `{}`", m.key))
                .unwrap_or(&[])
            {
                let Some(suffix) = f.string(s, "a mechanism name") else {
                    continue;
                };
                if let Some(location) = &loc {
                    out.mechanisms.push(MechanismUse {
                        suffix: suffix.to_string(),
                        location: location.clone(),
                        origin: f.origin(s),
                    });
                }
            }
        }
    }
    let mut f = Fields::new(params, diags);
    for p in f.array(&params.root, "the parameters file").unwrap_or(&[]) {
        let ctx = "a parameter";
        let Some(name) = f.str_field(p, "param_name", ctx).map(str::to_string) else {
            continue;
        };
        let value = if let Some(v) = p.get("value") {
            f.py_number(v, "`value`").map(ParamValue::Fixed)
        } else if let Some(b) = p.get("bounds") {
            param_value(&mut f, b, false)
        } else {
            f.error(
                p,
                "missing-key",
                format!("parameter `{name}` has neither `value` nor `bounds`"),
            );
            None
        };
        let Some(kind) = f.str_field(p, "type", ctx).map(str::to_string) else {
            continue;
        };
        let target = match kind.as_str() {
            "global" => ParamTarget::Global,
            "section" | "range" => {
                let Some(seclist) = f.str_field(p, "sectionlist", ctx).map(str::to_string) else {
                    continue;
                };
                let Some(location) = location_or_report(&mut f, &rules, &seclist, p) else {
                    continue;
                };
                let dist_type = f
                    .str_field(p, "dist_type", ctx)
                    .unwrap_or("uniform")
                    .to_string();
                match (kind.as_str(), dist_type.as_str()) {
                    ("section", "uniform") => ParamTarget::Section { location },
                    ("range", "uniform") => ParamTarget::Range {
                        location,
                        distribution: "uniform".into(),
                    },
                    (_, "exp") => {
                        let Some(fun) = f.req(p, "dist", &format!("parameter `{name}`")) else {
                            continue;
                        };
                        if f.string(fun, "`dist`").is_none() {
                            continue;
                        }
                        if kind == "section" {
                            f.error(p, "section-distribution", format!("section parameter `{name}` with a distance distribution: BluePyOpt cannot instantiate it"));
                            continue;
                        }
                        // one anonymous distribution per parameter, named after it
                        let dname = format!("{name}.{seclist}");
                        let origin = f.origin(fun);
                        let d = distribution(&mut f, &dname, fun, Vec::new(), 0.5, origin);
                        out.distributions.push(d);
                        ParamTarget::Range {
                            location,
                            distribution: dname,
                        }
                    }
                    (_, other) => {
                        f.error(p, "unknown-distribution", format!("unknown `dist_type` `{other}` (BluePyOpt's example knows uniform and exp)"));
                        continue;
                    }
                }
            }
            other => {
                f.error(
                    p,
                    "json-type",
                    format!("parameter type `{other}` is none of global, section, range"),
                );
                continue;
            }
        };
        let Some(value) = value else { continue };
        let key = match &target {
            ParamTarget::Global => name.clone(),
            ParamTarget::Section { location } | ParamTarget::Range { location, .. } => {
                format!("{name}.{}", location.name)
            }
            ParamTarget::DistributionParam { .. } => name.clone(),
        };
        out.parameters.push(Parameter {
            name,
            key,
            target,
            value,
            origin: f.origin(p),
        });
    }
    out
}

/// Optimised values of free parameters, as `"<name>.<location>": value` pairs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FinalValues {
    pub values: Vec<(String, PyNum, Origin)>,
    /// Where the values are (the entry's `params` / `parameters` object).
    pub origin: Origin,
}

/// How an e-model's entry is found in `final.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FinalLookup {
    /// EModelRunner: `final[emodel]`.
    Exact,
    /// BluePyEModel: `final[emodel]`, or the entries `<emodel>__<seed>` (or whose `emodel` field
    /// names it); of several, the best (lowest) score.
    BluePyEModel,
}

/// The values of `emodel` in a `final.json`.
pub(crate) fn read_final(
    file: &JsonFile,
    emodel: &str,
    lookup: FinalLookup,
    diags: &mut Diagnostics,
) -> Option<FinalValues> {
    let mut f = Fields::new(file, diags);
    let entries = f.object(&file.root, "final.json")?;
    let entry = match entries.iter().find(|m| m.key == emodel) {
        Some(m) => m,
        None if lookup == FinalLookup::BluePyEModel => {
            let candidates: Vec<_> = entries
                .iter()
                .filter(|m| {
                    m.key.starts_with(&format!("{emodel}__"))
                        || m.value.get("emodel").and_then(Json::as_str) == Some(emodel)
                })
                .collect();
            let best = candidates.iter().copied().min_by(|a, b| {
                let s = |m: &super::json::Member| {
                    m.value
                        .get("score")
                        .and_then(Json::as_f64)
                        .unwrap_or(f64::INFINITY)
                };
                s(a).total_cmp(&s(b))
            });
            match best {
                Some(m) => {
                    if candidates.len() > 1 {
                        let origin = f.origin_at(m.key_span.start);
                        f.push(origin.note(
                            "final-choice",
                            format!(
                                "{} entries for `{emodel}`: using `{}`, the lowest score",
                                candidates.len(),
                                m.key
                            ),
                        ));
                    }
                    m
                }
                None => {
                    f.error(
                        &file.root,
                        "missing-emodel",
                        format!("final.json has no entry for e-model `{emodel}`"),
                    );
                    return None;
                }
            }
        }
        None => {
            f.push(
                f.origin(&file.root)
                    .error(
                        "missing-emodel",
                        format!("final.json has no entry for e-model `{emodel}`"),
                    )
                    .with_note(format!(
                        "entries: {}",
                        entries
                            .iter()
                            .map(|m| m.key.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
            );
            return None;
        }
    };
    let params = match (entry.value.get("params"), entry.value.get("parameters")) {
        (Some(p), _) | (None, Some(p)) => p,
        (None, None) => {
            f.error(
                &entry.value,
                "missing-key",
                format!(
                    "entry `{}` has neither `params` nor `parameters`",
                    entry.key
                ),
            );
            return None;
        }
    };
    let mut values = Vec::new();
    for m in f
        .object(params, "the final parameter values")
        .unwrap_or(&[])
    {
        if let Some(n) = m.value.as_number() {
            values.push((m.key.clone(), py_num(n.value, n.is_int), f.origin(&m.value)));
        } else {
            f.error(
                &m.value,
                "json-type",
                format!("value of `{}` should be a number", m.key),
            );
        }
    }
    Some(FinalValues {
        values,
        origin: f.origin(params),
    })
}

/// Give every free parameter its final value; a missing one is an error (EModelRunner's
/// `freeze` raises), an unused value a note.
pub(crate) fn apply_final(params: &mut [Parameter], fin: &FinalValues, diags: &mut Diagnostics) {
    let mut missing = Vec::new();
    for p in params.iter_mut() {
        if let ParamValue::Free { value, .. } = &mut p.value {
            match fin.values.iter().find(|(k, _, _)| *k == p.key) {
                Some((_, v, _)) => *value = Some(*v),
                None => missing.push(p.key.clone()),
            }
        }
    }
    for key in &missing {
        diags.push(fin.origin.error(
            "missing-final",
            format!("no final value for free parameter `{key}`"),
        ));
    }
    let unused: Vec<&str> = fin
        .values
        .iter()
        .filter(|(k, _, _)| {
            !params
                .iter()
                .any(|p| p.key == *k && matches!(p.value, ParamValue::Free { .. }))
        })
        .map(|(k, _, _)| k.as_str())
        .collect();
    if !unused.is_empty() {
        diags.push(Diagnostic::note(
            "unused-final",
            &fin.origin.file,
            fin.origin.pos,
            format!(
                "final values that set no free parameter (ignored, as the tools do): {}",
                unused.join(", ")
            ),
        ));
    }
}
