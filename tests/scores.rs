//! emsweep's scores against BluePyOpt / EModelRunner and BluePyEModel themselves, on the cases of
//! `tests/reference/scores` (made by its `generate.py`): every feature score, weighted score,
//! per-protocol sum, total and validation verdict.
//!
//! Criterion: |Δ| ≤ 1e-9·|ref| + 1e-12 for every number; the outcomes (250 for a missing trace or
//! no value, the cap) must agree exactly.

use crate::common::repo_root;
use emsweep::features::score::{Outcome, ScoreRule, ScoreTrace, Scorer, ValidationFunction};
use emsweep::features::Trace;
use emsweep::package::{EfelSetting, Feature, Origin};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const RTOL: f64 = 1e-9;
const ATOL: f64 = 1e-12;

fn load(rel: &str) -> Value {
    let path = repo_root().join("tests/reference").join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "nan" => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        other => panic!("not a number: {other}"),
    }
}

/// A recorded trace of tests/reference/features: times and values.
struct Recorded {
    t: Vec<f64>,
    v: Vec<f64>,
}

fn recorded_traces() -> BTreeMap<(String, String), Recorded> {
    let mut out = BTreeMap::new();
    for file in ["traces.json", "packages/sscx_cADpyr_L4UPC.json"] {
        let doc = load(&format!("features/{file}"));
        for tr in doc["traces"].as_array().unwrap() {
            let v: Vec<f64> = tr["v"].as_array().unwrap().iter().map(number).collect();
            let t: Vec<f64> = match tr.get("dt").filter(|d| !d.is_null()) {
                Some(dt) => {
                    let dt = number(dt);
                    (0..v.len()).map(|i| i as f64 * dt).collect()
                }
                None => tr["t"].as_array().unwrap().iter().map(number).collect(),
            };
            let name = tr["name"].as_str().unwrap().to_string();
            out.insert((file.to_string(), name), Recorded { t, v });
        }
    }
    out
}

fn setting(v: &Value) -> EfelSetting {
    match v {
        Value::Bool(b) => EfelSetting::Bool(*b),
        Value::Number(n) if n.is_i64() => EfelSetting::Int(n.as_i64().unwrap()),
        Value::Number(n) => EfelSetting::Float(n.as_f64().unwrap()),
        Value::String(s) => EfelSetting::Text(s.clone()),
        other => panic!("unexpected setting {other}"),
    }
}

/// The feature as the reference's tool object had it.
fn feature(r: &Value) -> Feature {
    let s = |k: &str| r[k].as_str().unwrap().to_string();
    let settings: Vec<(String, EfelSetting)> = r["efel_settings"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), setting(v)))
        .collect();
    let strict = settings
        .iter()
        .find(|(k, _)| k == "strict_stiminterval")
        .map(|(_, v)| matches!(v, EfelSetting::Bool(true)));
    Feature {
        protocol: s("protocol"),
        recording: s("recording"),
        efel_name: s("efel_feature_name"),
        name: s("name"),
        mean: number(&r["mean"]),
        std: number(&r["std"]),
        threshold_mv: r["threshold"].as_f64(),
        strict_stim: strict,
        weight: number(&r["weight"]),
        efel_settings: settings,
        origin: Origin::new(Path::new("scores.json"), None),
    }
}

fn close(ours: f64, reference: f64) -> bool {
    if reference.is_infinite() || ours.is_infinite() {
        return ours == reference;
    }
    (ours - reference).abs() <= RTOL * reference.abs() + ATOL
}

#[test]
fn scores_match_bluepyopt_and_bluepyemodel() {
    let doc = load("scores/scores.json");
    let recorded = recorded_traces();
    let mut checked = 0;
    let mut worst = 0.0f64;
    let mut failures = Vec::new();
    let mut check = |what: String, ours: f64, reference: f64| {
        checked += 1;
        if !close(ours, reference) {
            failures.push(format!("{what}: ours {ours}, reference {reference}"));
        } else if reference.is_finite() {
            worst = worst.max((ours - reference).abs() / (RTOL * reference.abs() + ATOL));
        }
    };
    let mut capped = 0;
    let mut over_250 = 0;
    let mut missing = 0;
    for case in doc["cases"].as_array().unwrap() {
        let package = case["package"].as_str().unwrap();
        let rule = match case["rule"].as_str().unwrap() {
            "EModelRunner" => ScoreRule::EModelRunner,
            "BluePyEModel" => ScoreRule::BluePyEModel,
            other => panic!("unknown rule {other}"),
        };
        let records = case["features"].as_array().unwrap();
        let features: Vec<Feature> = records.iter().map(feature).collect();
        // traces keyed by <protocol>.<recording>; every feature of a recording shares its window
        let mut traces: BTreeMap<String, ScoreTrace> = BTreeMap::new();
        for r in records {
            let Some(tr) = r["trace"].as_object() else {
                continue;
            };
            let key = (
                tr["file"].as_str().unwrap().to_string(),
                tr["name"].as_str().unwrap().to_string(),
            );
            let rec = &recorded[&key];
            let name = format!(
                "{}.{}",
                r["protocol"].as_str().unwrap(),
                r["recording"].as_str().unwrap()
            );
            traces.entry(name).or_insert(ScoreTrace {
                trace: Trace {
                    t_ms: &rec.t,
                    v_mv: &rec.v,
                    stim_start_ms: number(&r["stim_start"]),
                    stim_end_ms: number(&r["stim_end"]),
                },
                stimulus_current_na: r["stimulus_current"].as_f64(),
            });
        }
        let bpo: BTreeMap<String, f64> = case
            .get("bpo_values")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), number(v))).collect())
            .unwrap_or_default();
        let report = Scorer::new(&features, rule).score(&traces, &bpo);
        assert_eq!(report.features.len(), records.len(), "{package}");
        for (ours, r) in report.features.iter().zip(records) {
            let what = format!("{package} {}", ours.name);
            check(what.clone(), ours.score, number(&r["score"]));
            if let Some(w) = r.get("weighted") {
                check(format!("{what} weighted"), ours.weighted, number(w));
            }
            match &ours.outcome {
                Outcome::Capped { .. } => capped += 1,
                Outcome::MissingTrace => missing += 1,
                _ => {}
            }
            if ours.score > 250.0 {
                over_250 += 1;
            }
        }
        let protocols = case["protocols"].as_array().unwrap();
        assert_eq!(report.protocols.len(), protocols.len(), "{package}");
        for (ours, p) in report.protocols.iter().zip(protocols) {
            assert_eq!(ours.protocol, p["protocol"].as_str().unwrap());
            check(
                format!("{package} protocol {}", ours.protocol),
                ours.score,
                number(&p["score"]),
            );
        }
        check(
            format!("{package} total"),
            report.total,
            number(&case["total"]),
        );
        if let Some(v) = case.get("validation") {
            let threshold = number(&v["threshold"]);
            check(
                format!("{package} max score"),
                report.max_score().unwrap(),
                number(&v["max_score"]),
            );
            check(
                format!("{package} mean score"),
                report.mean_score().unwrap(),
                number(&v["mean_score"]),
            );
            let verdicts = [
                (ValidationFunction::MaxScore, threshold, "passes_max"),
                (ValidationFunction::MeanScore, threshold, "passes_mean"),
                (ValidationFunction::MeanScore, 100.0, "passes_mean_at_100"),
            ];
            for (function, t, key) in verdicts {
                assert_eq!(
                    report.passes(function, t),
                    v[key].as_bool().unwrap(),
                    "{package} {key}"
                );
            }
        }
    }
    eprintln!(
        "{checked} numbers checked; worst deviation {worst:.3e} of the tolerance; \
         {missing} missing traces, {capped} capped, {over_250} uncapped above 250"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // the reference must exercise every path
    assert!(capped > 0 && over_250 > 0 && missing > 0);
}
