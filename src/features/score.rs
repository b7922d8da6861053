//! Scores of an e-model's target features on recorded traces, as BluePyOpt (through EModelRunner)
//! and BluePyEModel compute them: per feature, per protocol, in total, and BluePyEModel's
//! validation verdict.
//!
//! A feature's score is the mean over its value array of |value − mean| / std, computed as the
//! tools do: the absolute deviations are summed, then divided by std, then by the number of
//! values. The rules differ in small ways that change the last bits or the result:
//!
//! - [`ScoreRule::EModelRunner`] (BluePyOpt's `eFELFeature.calculate_score`, eFEL's
//!   `get_distance` without trace check): the deviations are summed one after the other; a missing
//!   trace, no value, an empty array or a NaN result scores [`MAX_SCORE`]; nothing is capped (an
//!   infinite score stays infinite); EModelRunner gives its features no weight.
//! - [`ScoreRule::BluePyEModel`] (`eFELFeatureBPEM.calculate_score`): the deviations are summed
//!   as numpy sums (pairwise, see [`numpy_sum`]); the score is capped at [`MAX_SCORE`]; NaN scores
//!   [`MAX_SCORE`]; each score is multiplied by the feature's weight (`SingletonWeightObjective`).
//!
//! `bpo_*` features (`bpo_holding_current`, `bpo_threshold_current`) are scalars the protocols
//! produce, not eFEL features: they score |value − mean| / std under both rules, uncapped, and
//! [`MAX_SCORE`] when the value is absent or the score NaN.
//!
//! Totals add scores one after the other in feature order (Python's `sum` on 3.11 and
//! `WeightedSumObjective`); BluePyEModel's mean score is numpy's mean (pairwise sum / count).

use std::collections::BTreeMap;

use crate::package::{Dialect, EfelSetting, Feature};

use super::{FeatureContext, FeatureError, SettingValue, Settings, Trace};

/// The score of a feature that could not be computed (BluePyOpt's `max_score`, eFEL's
/// `error_dist`), and BluePyEModel's cap.
pub const MAX_SCORE: f64 = 250.0;

/// BluePyEModel's default validation threshold.
pub const DEFAULT_VALIDATION_THRESHOLD: f64 = 5.0;

/// Whose scoring rules apply (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ScoreRule {
    /// BluePyOpt's `eFELFeature` as EModelRunner (and BluePyOpt's example) builds it.
    EModelRunner,
    /// BluePyEModel's `eFELFeatureBPEM` inside `SingletonWeightObjective`s.
    BluePyEModel,
}

impl ScoreRule {
    /// The rule of the tool a package was written for.
    pub fn for_dialect(dialect: Dialect) -> ScoreRule {
        match dialect {
            Dialect::BluePyEModel => ScoreRule::BluePyEModel,
            Dialect::EModelRunner(_) | Dialect::BluePyOpt => ScoreRule::EModelRunner,
        }
    }
}

/// A recorded trace with what the protocol tells the features about it.
#[derive(Clone, Copy, Debug)]
pub struct ScoreTrace<'a> {
    /// The samples and the stimulus window the features use (the protocol's step; bAP
    /// protocols: to the end of the trace).
    pub trace: Trace<'a>,
    /// The protocol's step amplitude [nA] (eFEL's `stimulus_current`), if it has one.
    pub stimulus_current_na: Option<f64>,
}

/// How a feature's score came about.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// |value − mean| / std over the values.
    Scored,
    /// No trace recorded for the feature's `<protocol>.<recording>` (or no `bpo_*` value).
    MissingTrace,
    /// The feature had no value, or an empty array, on the trace.
    NoValue,
    /// The computed score was NaN.
    NotANumber,
    /// The computed score exceeded [`MAX_SCORE`] and BluePyEModel capped it.
    Capped { uncapped: f64 },
    /// The feature cannot be computed at all (unknown feature, unusable setting or trace):
    /// scored [`MAX_SCORE`] and reported under this stable kind.
    Error {
        kind: std::borrow::Cow<'static, str>,
        message: String,
    },
}

/// One feature's score.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureScore {
    /// `<protocol>.<recording>.<feature>`: the key of BluePyEModel's `fitness` scores.
    pub name: String,
    pub protocol: String,
    pub recording: String,
    pub efel_name: String,
    /// The feature's values on the trace (None: no value or not computed).
    pub values: Option<Vec<f64>>,
    /// The score before weighting.
    pub score: f64,
    /// The weight applied (1 under EModelRunner's rule).
    pub weight: f64,
    /// `score × weight`: what totals add.
    pub weighted: f64,
    pub outcome: Outcome,
}

/// The sum of one protocol's weighted feature scores.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProtocolScore {
    pub protocol: String,
    pub score: f64,
    pub features: usize,
}

/// BluePyEModel's validation function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ValidationFunction {
    /// `validate_max_score` (the default).
    MaxScore,
    /// `validate_mean_score`.
    MeanScore,
}

/// Every score of one e-model, in the order of its features.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoreReport {
    pub rule: ScoreRule,
    pub features: Vec<FeatureScore>,
    /// In the order each protocol first appears among the features.
    pub protocols: Vec<ProtocolScore>,
    /// Sum of the weighted scores in feature order (BluePyEModel's `fitness`).
    pub total: f64,
}

impl ScoreReport {
    /// The largest weighted score (numpy's `max`: NaN if any is NaN); None without features.
    pub fn max_score(&self) -> Option<f64> {
        let mut it = self.features.iter().map(|f| f.weighted);
        let first = it.next()?;
        Some(it.fold(first, |m, x| {
            if m.is_nan() || x.is_nan() {
                f64::NAN
            } else {
                m.max(x)
            }
        }))
    }

    /// The mean weighted score as numpy computes it; None without features.
    pub fn mean_score(&self) -> Option<f64> {
        if self.features.is_empty() {
            return None;
        }
        let w: Vec<f64> = self.features.iter().map(|f| f.weighted).collect();
        Some(numpy_sum(&w) / w.len() as f64)
    }

    /// BluePyEModel's verdict: the max (or mean) weighted score is below `threshold`. False
    /// without features (numpy raises) or when the statistic is NaN.
    pub fn passes(&self, function: ValidationFunction, threshold: f64) -> bool {
        let stat = match function {
            ValidationFunction::MaxScore => self.max_score(),
            ValidationFunction::MeanScore => self.mean_score(),
        };
        stat.is_some_and(|s| s < threshold)
    }

    /// The weighted scores keyed by feature name (duplicate names: the last one, as a Python
    /// dict keeps it).
    pub fn fitness(&self) -> BTreeMap<&str, f64> {
        self.features
            .iter()
            .map(|f| (f.name.as_str(), f.weighted))
            .collect()
    }
}

/// Scores an e-model's features on recorded traces.
#[derive(Clone, Debug)]
pub struct Scorer<'f> {
    features: &'f [Feature],
    rule: ScoreRule,
}

impl<'f> Scorer<'f> {
    pub fn new(features: &'f [Feature], rule: ScoreRule) -> Scorer<'f> {
        Scorer { features, rule }
    }

    /// Scores every feature. `traces` maps `<protocol>.<recording>` (`Step_200.soma.v`) to its
    /// trace; `bpo_values` maps `bpo_holding_current` / `bpo_threshold_current` to the currents
    /// the protocols found [nA].
    pub fn score(
        &self,
        traces: &BTreeMap<String, ScoreTrace<'_>>,
        bpo_values: &BTreeMap<String, f64>,
    ) -> ScoreReport {
        let mut features = Vec::with_capacity(self.features.len());
        for f in self.features {
            let key = format!("{}.{}", f.protocol, f.recording);
            let (values, score, outcome) = if f.efel_name.starts_with("bpo_") {
                self.score_bpo(f, bpo_values.get(&f.efel_name).copied())
            } else {
                match traces.get(&key) {
                    None => (None, MAX_SCORE, Outcome::MissingTrace),
                    Some(t) => self.score_efel(f, t),
                }
            };
            let weight = match self.rule {
                ScoreRule::EModelRunner => 1.0,
                ScoreRule::BluePyEModel => f.weight,
            };
            features.push(FeatureScore {
                name: f.name.clone(),
                protocol: f.protocol.clone(),
                recording: f.recording.clone(),
                efel_name: f.efel_name.clone(),
                values,
                score,
                weight,
                weighted: score * weight,
                outcome,
            });
        }
        let mut protocols: Vec<ProtocolScore> = Vec::new();
        let mut total = 0.0;
        for s in &features {
            total += s.weighted;
            match protocols.iter_mut().find(|p| p.protocol == s.protocol) {
                Some(p) => {
                    p.score += s.weighted;
                    p.features += 1;
                }
                None => protocols.push(ProtocolScore {
                    protocol: s.protocol.clone(),
                    score: 0.0 + s.weighted,
                    features: 1,
                }),
            }
        }
        ScoreReport {
            rule: self.rule,
            features,
            protocols,
            total,
        }
    }

    fn score_bpo(&self, f: &Feature, value: Option<f64>) -> (Option<Vec<f64>>, f64, Outcome) {
        let Some(v) = value else {
            return (None, MAX_SCORE, Outcome::MissingTrace);
        };
        let score = (v - f.mean).abs() / f.std;
        if score.is_nan() {
            (Some(vec![v]), MAX_SCORE, Outcome::NotANumber)
        } else {
            (Some(vec![v]), score, Outcome::Scored)
        }
    }

    fn score_efel(&self, f: &Feature, t: &ScoreTrace<'_>) -> (Option<Vec<f64>>, f64, Outcome) {
        let error = |e: FeatureError| {
            (
                None,
                MAX_SCORE,
                Outcome::Error {
                    kind: e.kind().into(),
                    message: e.to_string(),
                },
            )
        };
        let (settings, trace) = match self.setup(f, t) {
            Ok(x) => x,
            Err(e) => return error(e),
        };
        let values = match FeatureContext::new(&trace, &settings) {
            // eFEL reports an unusable trace as an error: no value
            Err(_) => None,
            Ok(ctx) => match ctx.feature(&f.efel_name) {
                Ok(v) => v,
                Err(e) => return error(e),
            },
        };
        let Some(values) = values.filter(|v| !v.is_empty()) else {
            return (None, MAX_SCORE, Outcome::NoValue);
        };
        let deviations: Vec<f64> = values.iter().map(|v| (v - f.mean).abs()).collect();
        let sum = match self.rule {
            ScoreRule::EModelRunner => deviations.iter().fold(0.0, |s, d| s + d),
            ScoreRule::BluePyEModel => numpy_sum(&deviations),
        };
        let score = sum / f.std / values.len() as f64;
        if score.is_nan() {
            return (Some(values), MAX_SCORE, Outcome::NotANumber);
        }
        if self.rule == ScoreRule::BluePyEModel && score > MAX_SCORE {
            return (Some(values), MAX_SCORE, Outcome::Capped { uncapped: score });
        }
        (Some(values), score, Outcome::Scored)
    }

    /// The eFEL settings and window a feature is computed with: eFEL's defaults, then the
    /// feature's threshold, the protocol's step amplitude, then the feature's own settings in
    /// order (BluePyOpt's `_setup_efel`). Settings that change none of emsweep's features are
    /// skipped; BluePyEModel's `stim_start` / `stim_end` settings replace the window.
    fn setup<'t>(
        &self,
        f: &Feature,
        t: &ScoreTrace<'t>,
    ) -> Result<(Settings, Trace<'t>), FeatureError> {
        let mut settings = Settings::default();
        let mut trace = t.trace;
        if let Some(th) = f.threshold_mv {
            settings.threshold_mv = th;
        }
        settings.stimulus_current_na = t.stimulus_current_na;
        for (name, value) in &f.efel_settings {
            let number = match value {
                EfelSetting::Float(x) => Some(*x),
                EfelSetting::Int(i) => Some(*i as f64),
                _ => None,
            };
            match (name.as_str(), number) {
                ("stim_start", Some(x)) if self.rule == ScoreRule::BluePyEModel => {
                    trace.stim_start_ms = x;
                    continue;
                }
                ("stim_end", Some(x)) if self.rule == ScoreRule::BluePyEModel => {
                    trace.stim_end_ms = x;
                    continue;
                }
                _ => {}
            }
            let v = match value {
                EfelSetting::Bool(b) => SettingValue::Bool(*b),
                EfelSetting::Int(i) => SettingValue::Number(*i as f64),
                EfelSetting::Float(x) => SettingValue::Number(*x),
                EfelSetting::Text(s) => SettingValue::Text(s),
                EfelSetting::Floats(_) => continue,
            };
            match settings.set(name, &v) {
                Ok(()) | Err(FeatureError::UnknownSetting { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok((settings, trace))
    }
}

/// `numpy.sum` of a contiguous float64 array: blocks of up to 128 values are summed in eight
/// interleaved partial sums combined as a tree, longer arrays are split in two (at a multiple
/// of 8) and the halves summed recursively; fewer than 8 values are summed in order.
pub fn numpy_sum(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 8 {
        return x.iter().fold(0.0, |s, v| s + v);
    }
    if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&x[..8]);
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj += x[i + j];
            }
            i += 8;
        }
        let mut s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for v in &x[whole..] {
            s += v;
        }
        return s;
    }
    let mut half = n / 2;
    half -= half % 8;
    numpy_sum(&x[..half]) + numpy_sum(&x[half..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::Origin;
    use std::path::Path;

    fn feature(protocol: &str, efel: &str, mean: f64, std: f64, weight: f64) -> Feature {
        Feature {
            protocol: protocol.into(),
            recording: "soma.v".into(),
            efel_name: efel.into(),
            name: format!("{protocol}.soma.v.{efel}"),
            mean,
            std,
            threshold_mv: Some(-30.0),
            strict_stim: Some(true),
            weight,
            efel_settings: vec![("strict_stiminterval".into(), EfelSetting::Bool(true))],
            origin: Origin::new(Path::new("f.json"), None),
        }
    }

    fn flat_trace(v_mv: f64) -> (Vec<f64>, Vec<f64>) {
        let t: Vec<f64> = (0..201).map(|i| i as f64 * 0.1).collect();
        (t, vec![v_mv; 201])
    }

    #[test]
    fn numpy_sum_orders_like_numpy() {
        // 0.1 added ten times in order differs from numpy's blocked sum
        let x = vec![0.1; 10];
        let tree = ((0.1 + 0.1) + (0.1 + 0.1)) + ((0.1 + 0.1) + (0.1 + 0.1)) + 0.1 + 0.1;
        let in_order = x.iter().fold(0.0, |s, v| s + v);
        assert_eq!(numpy_sum(&x), tree);
        assert_ne!(tree, in_order);
        assert_eq!(numpy_sum(&[1.0, 2.0, 3.0]), 6.0);
        assert_eq!(numpy_sum(&[]), 0.0);
        // a long array: exact for integers
        let y: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        assert_eq!(numpy_sum(&y), 499500.0);
    }

    #[test]
    fn missing_traces_and_values_score_250_and_rules_differ_on_caps() {
        let (t, v) = flat_trace(-70.0);
        let trace = ScoreTrace {
            trace: Trace {
                t_ms: &t,
                v_mv: &v,
                stim_start_ms: 5.0,
                stim_end_ms: 15.0,
            },
            stimulus_current_na: None,
        };
        let feats = vec![
            feature("A", "voltage_base", -60.0, 2.0, 2.0),
            feature("A", "AP_amplitude", 60.0, 1.0, 1.0),
            feature("B", "voltage_base", -70.0, 1.0, 1.0),
            feature("A", "voltage_base", 1000.0, 1.0, 1.0),
            feature("H", "bpo_holding_current", -0.1, 0.05, 1.0),
        ];
        let traces: BTreeMap<String, ScoreTrace> = [("A.soma.v".to_string(), trace)].into();
        let bpo: BTreeMap<String, f64> = [("bpo_holding_current".to_string(), -0.2)].into();
        let emr = Scorer::new(&feats, ScoreRule::EModelRunner).score(&traces, &bpo);
        assert_eq!(emr.features[0].score, 5.0);
        assert_eq!(emr.features[0].weighted, 5.0);
        assert_eq!(emr.features[1].outcome, Outcome::NoValue);
        assert_eq!(emr.features[1].score, MAX_SCORE);
        assert_eq!(emr.features[2].outcome, Outcome::MissingTrace);
        assert_eq!(emr.features[3].score, 1070.0);
        assert!((emr.features[4].score - 2.0).abs() < 1e-12);
        let bpem = Scorer::new(&feats, ScoreRule::BluePyEModel).score(&traces, &bpo);
        assert_eq!(bpem.features[0].weighted, 10.0);
        assert_eq!(
            bpem.features[3].outcome,
            Outcome::Capped { uncapped: 1070.0 }
        );
        assert_eq!(bpem.features[3].score, MAX_SCORE);
        assert_eq!(bpem.protocols[0].protocol, "A");
        assert_eq!(bpem.protocols[0].features, 3);
        assert_eq!(bpem.protocols[0].score, 10.0 + 250.0 + 250.0);
        assert!(!bpem.passes(ValidationFunction::MaxScore, 5.0));
        assert_eq!(bpem.fitness()["B.soma.v.voltage_base"], MAX_SCORE);
        let total: f64 = bpem.features.iter().map(|f| f.weighted).sum();
        assert_eq!(bpem.total, total);
    }

    #[test]
    fn nan_scores_250_and_validation_thresholds() {
        let (t, v) = flat_trace(-70.0);
        let trace = ScoreTrace {
            trace: Trace {
                t_ms: &t,
                v_mv: &v,
                stim_start_ms: 5.0,
                stim_end_ms: 15.0,
            },
            stimulus_current_na: None,
        };
        // 0 / 0 is NaN: 250
        let feats = vec![
            feature("A", "voltage_base", -70.0, 0.0, 1.0),
            feature("A", "voltage_base", -71.0, 1.0, 1.0),
        ];
        let traces: BTreeMap<String, ScoreTrace> = [("A.soma.v".to_string(), trace)].into();
        let r = Scorer::new(&feats, ScoreRule::EModelRunner).score(&traces, &BTreeMap::new());
        assert_eq!(r.features[0].outcome, Outcome::NotANumber);
        assert_eq!(r.features[0].score, MAX_SCORE);
        let r = Scorer::new(&feats[1..], ScoreRule::BluePyEModel).score(&traces, &BTreeMap::new());
        assert!(r.passes(ValidationFunction::MaxScore, DEFAULT_VALIDATION_THRESHOLD));
        assert!(r.passes(ValidationFunction::MeanScore, 1.5));
        assert!(!r.passes(ValidationFunction::MeanScore, 1.0));
        let empty = Scorer::new(&[], ScoreRule::BluePyEModel).score(&traces, &BTreeMap::new());
        assert!(!empty.passes(ValidationFunction::MaxScore, 5.0));
        assert_eq!(empty.total, 0.0);
    }
}
