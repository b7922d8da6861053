//! `scores.json`: every evaluation in the dialect of BluePyEModel's `final.json`, keyed by
//! e-model (`<key>`; a population's lanes by their labels): `params` (the lane's free parameter
//! values), `score` (the total), `fitness` (weighted score per
//! `<protocol>.<recording>.<feature>`), `features` (the mean of each feature's values, as
//! BluePyEModel stores them; null without a value), `validated`; and what emsweep adds:
//! `threshold` (of the validation), `emodel`, `variant`, `package`, `dialect`, `rule`, `validation` (function, threshold,
//! statistic), `protocol_scores`, `feature_values` (every value), `currents` and `failures`
//! (features scored 250 without a trace, with why).
//!
//! JSON has no NaN or infinity: such numbers are written as the strings `"nan"`, `"inf"`,
//! `"-inf"` (an uncapped EModelRunner score can be infinite).

use serde_json::{Map, Value};

use crate::features::evaluate::Evaluation;
use crate::features::score::{Outcome, ScoreRule, ValidationFunction};

/// The `format` field emsweep adds to each entry.
pub const FORMAT: &str = "emsweep-scores-1";

/// A number, or its name when JSON cannot hold it.
pub fn number(x: f64) -> Value {
    if x.is_nan() {
        Value::String("nan".into())
    } else if x.is_infinite() {
        Value::String(if x > 0.0 { "inf" } else { "-inf" }.into())
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

fn opt_number(x: Option<f64>) -> Value {
    x.map_or(Value::Null, number)
}

/// The key of an evaluation in `features.csv`, and in `scores.json` where its lane label is
/// taken (see [`to_string`]).
pub fn entry_key(e: &Evaluation) -> String {
    match &e.lane {
        Some(l) => format!("{}[{}]", e.key, l),
        None => e.key.clone(),
    }
}

/// numpy's `nanmean` of a feature's values (None: no finite value).
fn nanmean(values: &[f64]) -> Option<f64> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if finite.is_empty() {
        return None;
    }
    Some(crate::features::score::numpy_sum(&finite) / finite.len() as f64)
}

fn outcome_name(o: &Outcome) -> &str {
    match o {
        Outcome::Scored => "scored",
        Outcome::MissingTrace => "missing-trace",
        Outcome::NoValue => "no-value",
        Outcome::NotANumber => "nan",
        Outcome::Capped { .. } => "capped",
        Outcome::Error { kind, .. } => kind.as_ref(),
    }
}

/// One evaluation as a `final.json` entry.
pub fn entry(e: &Evaluation) -> Value {
    let mut fitness = Map::new();
    let mut features = Map::new();
    let mut values = Map::new();
    for f in &e.scores.features {
        fitness.insert(f.name.clone(), number(f.weighted));
        features.insert(
            f.name.clone(),
            opt_number(f.values.as_deref().and_then(nanmean)),
        );
        values.insert(
            f.name.clone(),
            f.values.as_ref().map_or(Value::Null, |v| {
                Value::Array(v.iter().copied().map(number).collect())
            }),
        );
    }
    let mut protocols = Map::new();
    for p in &e.scores.protocols {
        protocols.insert(p.protocol.clone(), number(p.score));
    }
    let failures: Vec<Value> = e
        .scores
        .features
        .iter()
        .zip(&e.notes)
        .filter_map(|(f, n)| {
            let reason = match (&f.outcome, n) {
                (_, Some(n)) => n.to_string(),
                (Outcome::Error { message, .. }, None) => message.clone(),
                _ => return None,
            };
            let mut m = Map::new();
            m.insert("feature".into(), Value::String(f.name.clone()));
            m.insert("outcome".into(), outcome_name(&f.outcome).into());
            m.insert("reason".into(), Value::String(reason));
            Some(Value::Object(m))
        })
        .collect();
    let mut validation = Map::new();
    validation.insert(
        "function".into(),
        match e.validation.rule.function {
            ValidationFunction::MaxScore => "max_score",
            ValidationFunction::MeanScore => "mean_score",
        }
        .into(),
    );
    validation.insert("threshold".into(), number(e.validation.rule.threshold));
    validation.insert("statistic".into(), opt_number(e.validation.statistic));
    let mut currents = Map::new();
    currents.insert(
        "bpo_holding_current".into(),
        opt_number(e.currents.holding_na),
    );
    currents.insert(
        "bpo_threshold_current".into(),
        opt_number(e.currents.threshold_na),
    );

    let mut params = Map::new();
    for (k, v) in &e.params {
        params.insert(k.clone(), number(*v));
    }
    let mut m = Map::new();
    m.insert("emodel".into(), Value::String(e.emodel.clone()));
    m.insert("params".into(), Value::Object(params));
    m.insert(
        "variant".into(),
        e.variant.clone().map_or(Value::Null, Value::String),
    );
    m.insert(
        "lane".into(),
        e.lane.clone().map_or(Value::Null, Value::String),
    );
    m.insert("score".into(), number(e.scores.total));
    m.insert("fitness".into(), Value::Object(fitness));
    m.insert("features".into(), Value::Object(features));
    m.insert("validated".into(), Value::Bool(e.validation.validated));
    m.insert("threshold".into(), number(e.validation.rule.threshold));
    m.insert("format".into(), FORMAT.into());
    m.insert("package".into(), Value::String(e.package.clone()));
    m.insert("dialect".into(), Value::String(e.dialect.clone()));
    m.insert(
        "rule".into(),
        match e.scores.rule {
            ScoreRule::EModelRunner => "EModelRunner",
            ScoreRule::BluePyEModel => "BluePyEModel",
        }
        .into(),
    );
    m.insert("validation".into(), Value::Object(validation));
    m.insert("protocol_scores".into(), Value::Object(protocols));
    m.insert("feature_values".into(), Value::Object(values));
    m.insert("currents".into(), Value::Object(currents));
    m.insert("failures".into(), Value::Array(failures));
    Value::Object(m)
}

/// The whole file, entries in the order given, pretty-printed with a final newline. A lane of
/// a population is keyed by its label, so that the file can be the next run's `--population`
/// (`<key>[<label>]` where another entry has that key already).
pub fn to_string(evaluations: &[Evaluation]) -> String {
    let mut root = Map::new();
    let plain: std::collections::BTreeSet<&str> = evaluations
        .iter()
        .filter(|e| e.lane.is_none())
        .map(|e| e.key.as_str())
        .collect();
    for e in evaluations {
        let key = match &e.lane {
            Some(l) if !plain.contains(l.as_str()) && !root.contains_key(l) => l.clone(),
            _ => entry_key(e),
        };
        root.insert(key, entry(e));
    }
    let mut s = serde_json::to_string_pretty(&Value::Object(root))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
