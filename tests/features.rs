//! emsweep's eFEL features against eFEL 5.7.34 itself: every feature on every reference trace under
//! every settings combination of `tests/reference/features` (made by its `generate.py`).
//!
//! Criterion (tests/reference/features/README.md): where eFEL gives a value, emsweep gives one of
//! the same length with |Δ| ≤ 1e-6·|ref| + 1e-9 elementwise (NaN matches NaN, infinities match
//! exactly); where eFEL gives none (or raises), emsweep gives none.

use crate::common::repo_root;
use emsweep::features::{self, FeatureContext, SettingValue, Settings, Trace};
use serde_json::Value;
use std::collections::BTreeMap;

const RTOL: f64 = 1e-6;
const ATOL: f64 = 1e-9;

const FILES: &[&str] = &[
    "traces.json",
    "packages/sscx_cADpyr_L4UPC.json",
    "packages/thalamus_dNAD_ltb.json",
];

fn load(rel: &str) -> Value {
    let path = repo_root().join("tests/reference/features").join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "nan" => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        other => panic!("not a number: {other}"),
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(number).collect()
}

/// The reference's answer: `None` for no value (null, or eFEL raised), else the values.
fn expected(v: &Value) -> Option<Vec<f64>> {
    match v {
        Value::Null | Value::Object(_) => None,
        Value::Array(_) => Some(floats(v)),
        other => panic!("unexpected reference value {other}"),
    }
}

/// The deviation of `ours` from `reference` in units of the tolerance (≤ 1 passes), or infinity
/// for a NaN/infinity mismatch.
fn deviation(ours: f64, reference: f64) -> f64 {
    if reference.is_nan() || ours.is_nan() {
        return if reference.is_nan() && ours.is_nan() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    if reference.is_infinite() || ours.is_infinite() {
        return if ours == reference {
            0.0
        } else {
            f64::INFINITY
        };
    }
    (ours - reference).abs() / (RTOL * reference.abs() + ATOL)
}

#[derive(Default)]
struct Tally {
    with_value: usize,
    without_value: usize,
    worst_ratio: f64,
    worst_abs: f64,
    worst_where: String,
}

/// Settings from the reference's eFEL settings (eFEL names), on top of eFEL's defaults.
fn settings_from(entry: &Value, stimulus_current: Option<f64>) -> Settings {
    let mut settings = Settings::default();
    for (name, value) in entry.as_object().unwrap() {
        let value = match value {
            Value::Number(n) => SettingValue::Number(n.as_f64().unwrap()),
            Value::Bool(b) => SettingValue::Bool(*b),
            Value::String(s) => SettingValue::Text(s),
            other => panic!("setting {name}: {other}"),
        };
        settings
            .set(name, &value)
            .unwrap_or_else(|e| panic!("setting {name}: {e}"));
    }
    settings.stimulus_current_na = stimulus_current;
    settings
}

#[test]
fn every_feature_matches_efel_on_every_reference_trace() {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut traces_seen = 0;
    let mut checks = 0;
    for file in FILES {
        let doc = load(file);
        let names: Vec<&str> = doc["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let ours: Vec<&str> = features::feature_names().collect();
        for name in &names {
            assert!(
                ours.contains(name),
                "{file}: reference feature {name} not computed by emsweep"
            );
        }
        for name in &ours {
            assert!(
                names.contains(name),
                "{file}: emsweep feature {name} has no reference"
            );
        }
        for trace in doc["traces"].as_array().unwrap() {
            traces_seen += 1;
            let tname = trace["name"].as_str().unwrap();
            let v = floats(&trace["v"]);
            let t: Vec<f64> = match trace.get("t") {
                Some(t) => floats(t),
                None => {
                    let dt = trace["dt"].as_f64().unwrap();
                    (0..v.len()).map(|i| i as f64 * dt).collect()
                }
            };
            let tr = Trace {
                t_ms: &t,
                v_mv: &v,
                stim_start_ms: trace["stim_start"].as_f64().unwrap(),
                stim_end_ms: trace["stim_end"].as_f64().unwrap(),
            };
            let current = trace["stimulus_current"].as_f64();
            for (sname, entry) in doc["settings"].as_object().unwrap() {
                let settings = settings_from(entry, current);
                let ctx = FeatureContext::new(&tr, &settings)
                    .unwrap_or_else(|e| panic!("{tname}/{sname}: {e}"));
                let values = &trace["efel"][sname];
                for name in &names {
                    checks += 1;
                    let reference = expected(&values[*name]);
                    let got = ctx.feature(name).unwrap();
                    let tally = tallies.entry(name.to_string()).or_default();
                    let place = format!("{tname}/{sname}");
                    match (&reference, &got) {
                        (None, None) => tally.without_value += 1,
                        (None, Some(g)) => failures.push(format!(
                            "{name} {place}: eFEL has no value, emsweep {:?}",
                            &g[..g.len().min(6)]
                        )),
                        (Some(r), None) => failures.push(format!(
                            "{name} {place}: emsweep has no value, eFEL {:?}",
                            &r[..r.len().min(6)]
                        )),
                        (Some(r), Some(g)) => {
                            tally.with_value += 1;
                            if r.len() != g.len() {
                                failures.push(format!(
                                    "{name} {place}: length {} (eFEL {})",
                                    g.len(),
                                    r.len()
                                ));
                                continue;
                            }
                            for (i, (&a, &b)) in g.iter().zip(r).enumerate() {
                                let ratio = deviation(a, b);
                                if ratio > tally.worst_ratio {
                                    tally.worst_ratio = ratio;
                                    tally.worst_abs = (a - b).abs();
                                    tally.worst_where = format!("{place}[{i}]");
                                }
                                if ratio > 1.0 {
                                    failures
                                        .push(format!("{name} {place}[{i}]: emsweep {a} eFEL {b}"));
                                    break;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    println!("{traces_seen} traces, {checks} checks");
    println!(
        "{:<34} {:>6} {:>6} {:>12} {:>12}  where",
        "feature", "value", "none", "worst |Δ|", "Δ/tol"
    );
    for (name, t) in &tallies {
        println!(
            "{:<34} {:>6} {:>6} {:>12.3e} {:>12.3e}  {}",
            name, t.with_value, t.without_value, t.worst_abs, t.worst_ratio, t.worst_where
        );
    }
    assert!(traces_seen >= 30, "only {traces_seen} reference traces");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn one_shot_api_agrees_with_the_context_and_reports_errors() {
    let doc = load("traces.json");
    let trace = &doc["traces"][3];
    let v = floats(&trace["v"]);
    let dt = trace["dt"].as_f64().unwrap();
    let t: Vec<f64> = (0..v.len()).map(|i| i as f64 * dt).collect();
    let tr = Trace {
        t_ms: &t,
        v_mv: &v,
        stim_start_ms: trace["stim_start"].as_f64().unwrap(),
        stim_end_ms: trace["stim_end"].as_f64().unwrap(),
    };
    let s = Settings::emodelrunner();
    let ctx = FeatureContext::new(&tr, &s).unwrap();
    assert_eq!(
        features::feature("mean_frequency", &tr, &s),
        ctx.feature("mean_frequency").unwrap()
    );
    let err = features::try_feature("no_such_feature", &tr, &s).unwrap_err();
    assert_eq!(err.kind(), "unknown-feature");
    assert_eq!(features::feature("no_such_feature", &tr, &s), None);
    let bad = Trace {
        t_ms: &t[..10],
        ..tr
    };
    let err = features::try_feature("voltage_base", &bad, &s).unwrap_err();
    assert_eq!(err.kind(), "trace-length-mismatch");
    let window = Trace {
        stim_start_ms: 5.0,
        stim_end_ms: 5.0,
        ..tr
    };
    let err = features::try_feature("voltage_base", &window, &s).unwrap_err();
    assert_eq!(err.kind(), "bad-stimulus-window");
}
