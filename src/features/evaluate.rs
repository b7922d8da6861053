//! Scores one e-model's recorded traces against the targets of its package's feature file, with
//! the rules of the tool the package was written for.
//!
//! For each protocol the tool's feature objects take a stimulus window and a step amplitude from
//! the protocol ([`feature_window`]): EModelRunner's `StepProtocol` / `StepThresholdProtocol`
//! start at the first step's delay and end at the last step's end (at the protocol's total
//! duration for `bAP` protocols, at the last step's start for `H40S8`), with the mean step
//! amplitude as `stimulus_current`; its ramps have no window (their features cannot be
//! computed); BluePyOpt's example takes the first stimulus' step; BluePyEModel's e-codes give
//! their own `stim_start` / `stim_end` / `amplitude`. Threshold-based amplitudes need the
//! searched threshold current ([`SearchedCurrents`]).
//!
//! The package reader already gave every feature the dialect's settings (EModelRunner: threshold
//! −30 mV unless set, `strict_stiminterval`; BluePyEModel: the pipeline's `efel_settings` merged
//! with the feature's); [`crate::features::score::Scorer`] applies them and scores. A feature
//! whose trace is missing — the protocol was not run, its lane failed, it has no window, the
//! recording was not made — scores 250, and the evaluation says why ([`FeatureNote`]).
//!
//! Everything is in the order of the feature file; maps are ordered.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::engine::stimulus::FixedStepClock;
use crate::features::score::{
    ScoreReport, ScoreRule, ScoreTrace, Scorer, ValidationFunction, DEFAULT_VALIDATION_THRESHOLD,
};
use crate::features::Trace;
use crate::package::{Dialect, ECode, ECodeProtocolType, EModel, PackageType, Protocol, Stimulus};

/// The currents the threshold/holding search found for an e-model [nA] (None: not searched).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SearchedCurrents {
    /// `bpo_holding_current`.
    pub holding_na: Option<f64>,
    /// `bpo_threshold_current`.
    pub threshold_na: Option<f64>,
}

/// The searched currents an e-model's evaluation uses [nA].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EModelCurrents {
    /// `bpo_holding_current` / `bpo_threshold_current`: the e-model's main search (the only
    /// one of EModelRunner's SSCx rules and BluePyEModel's, the thalamus `dep` search).
    pub bpo: SearchedCurrents,
    /// The currents each protocol ran with, by protocol name: its window's
    /// `stimulus_current` follows them (the thalamus `_hyp` protocols ran at the `hyp`
    /// search's). Protocols not listed use `bpo`.
    pub by_protocol: BTreeMap<String, SearchedCurrents>,
}

impl EModelCurrents {
    /// The currents protocol `name` ran with.
    pub fn for_protocol(&self, name: &str) -> &SearchedCurrents {
        self.by_protocol.get(name).unwrap_or(&self.bpo)
    }
}

impl From<SearchedCurrents> for EModelCurrents {
    fn from(bpo: SearchedCurrents) -> Self {
        EModelCurrents {
            bpo,
            by_protocol: BTreeMap::new(),
        }
    }
}

/// One recording of one protocol, for one parameter set.
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    /// The simulator's samples: one every step, `dt_ms` apart from `t0_ms`. The features see
    /// them as the dialect's tool records them ([`tool_samples`]).
    Trace {
        t0_ms: f64,
        dt_ms: f64,
        values: Vec<f64>,
    },
    /// Samples at the times given, taken as the tool's features see them (a trace from
    /// elsewhere, such as a reference's).
    ToolSamples { t_ms: Vec<f64>, values: Vec<f64> },
    /// The lane failed (diverged): no usable samples.
    Failed { reason: String },
}

/// What became of one protocol.
#[derive(Clone, Debug, PartialEq)]
pub enum ProtocolOutcome {
    /// It ran; its recordings by name (`soma.v`, `dend1.v`).
    Ran(BTreeMap<String, Recorded>),
    /// It was not run (skipped or failed before simulating), with the reason.
    NotRun { reason: String },
}

/// How the validation verdict is taken.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ValidationRule {
    pub function: ValidationFunction,
    /// The verdict is a pass when the statistic is below this.
    pub threshold: f64,
}

impl Default for ValidationRule {
    fn default() -> Self {
        ValidationRule {
            function: ValidationFunction::MaxScore,
            threshold: DEFAULT_VALIDATION_THRESHOLD,
        }
    }
}

/// The verdict.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Validation {
    pub rule: ValidationRule,
    /// The max (or mean) weighted feature score; None without features.
    pub statistic: Option<f64>,
    pub validated: bool,
}

/// Why a feature scored 250 without being computed on a trace.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum FeatureNote {
    /// The feature file names a protocol the package does not define.
    UnknownProtocol,
    /// The protocol was not run.
    NotRun(String),
    /// The protocol ran but this recording was not made.
    NotRecorded,
    /// The lane failed.
    LaneFailed(String),
    /// The tool gives this protocol's features no stimulus window.
    NoWindow(String),
    /// A `bpo_*` feature whose current was not searched.
    NotSearched,
    /// The protocol that ran under this name is another protocol set's, not the one the
    /// feature file was written for.
    OtherProtocol(String),
}

impl std::fmt::Display for FeatureNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeatureNote::UnknownProtocol => write!(f, "the package defines no such protocol"),
            FeatureNote::NotRun(r) => write!(f, "protocol not run: {r}"),
            FeatureNote::NotRecorded => write!(f, "recording not made"),
            FeatureNote::LaneFailed(r) => write!(f, "lane failed: {r}"),
            FeatureNote::NoWindow(r) => write!(f, "no stimulus window: {r}"),
            FeatureNote::NotSearched => write!(f, "current not searched"),
            FeatureNote::OtherProtocol(r) => write!(f, "{r}"),
        }
    }
}

/// Everything one e-model (one parameter set) scored.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// The e-model's key in the run (`run.json`'s label).
    pub key: String,
    pub emodel: String,
    pub variant: Option<String>,
    /// The lane's label when the run had several parameter sets.
    pub lane: Option<String>,
    pub package: String,
    /// `emodelrunner-sscx`, `bluepyemodel`, `bluepyopt`, ...
    pub dialect: String,
    pub scores: ScoreReport,
    /// One per feature of `scores.features`: why it was not computed, if that is why it scored
    /// 250.
    pub notes: Vec<Option<FeatureNote>>,
    pub validation: Validation,
    pub currents: SearchedCurrents,
    /// The stimulus window of each protocol whose features were computed on a trace.
    pub windows: BTreeMap<String, FeatureWindow>,
    /// The lane's free parameter values by `final.json` key (the caller fills them in).
    pub params: Vec<(String, f64)>,
}

impl Evaluation {
    /// The features that scored without a trace, with why: `(name, note)`.
    pub fn failures(&self) -> Vec<(&str, &FeatureNote)> {
        self.scores
            .features
            .iter()
            .zip(&self.notes)
            .filter_map(|(f, n)| n.as_ref().map(|n| (f.name.as_str(), n)))
            .collect()
    }
}

/// A dialect's short name for reports.
pub fn dialect_name(d: Dialect) -> String {
    match d {
        Dialect::EModelRunner(t) => format!("emodelrunner-{}", t.name()),
        Dialect::BluePyEModel => "bluepyemodel".into(),
        Dialect::BluePyOpt => "bluepyopt".into(),
    }
}

/// The stimulus window and step amplitude a tool's feature objects take from a protocol.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureWindow {
    pub stim_start_ms: f64,
    pub stim_end_ms: f64,
    /// eFEL's `stimulus_current` [nA]; None where the tool gives none or it is unknown.
    pub stimulus_current_na: Option<f64>,
}

/// Mean of a few amplitudes as numpy takes it (in order; `None` if any is unknown).
fn mean_amplitude(amps: &[Option<f64>]) -> Option<f64> {
    let values: Option<Vec<f64>> = amps.iter().copied().collect();
    let values = values?;
    if values.is_empty() {
        return None;
    }
    Some(crate::features::score::numpy_sum(&values) / values.len() as f64)
}

/// The window of `p`'s features under `dialect`'s tool, or why it has none.
pub fn feature_window(
    p: &Protocol,
    dialect: Dialect,
    currents: &SearchedCurrents,
) -> Result<FeatureWindow, String> {
    match dialect {
        Dialect::EModelRunner(_) => emodelrunner_window(p, currents),
        Dialect::BluePyOpt => bluepyopt_window(p),
        Dialect::BluePyEModel => match &p.stimulus {
            Stimulus::ECode(e) => ecode_window(p, e, currents),
            _ => emodelrunner_window(p, currents),
        },
    }
}

fn emodelrunner_window(p: &Protocol, c: &SearchedCurrents) -> Result<FeatureWindow, String> {
    let (steps, amps): (&[crate::package::SquarePulse], Vec<Option<f64>>) = match &p.stimulus {
        Stimulus::Step { steps, .. } => (steps, steps.iter().map(|s| s.amp_na).collect()),
        Stimulus::StepThreshold {
            steps, thresh_perc, ..
        } => (
            steps,
            steps
                .iter()
                .map(|_| c.threshold_na.map(|t| t * (thresh_perc / 100.0)))
                .collect(),
        ),
        Stimulus::Ramp { .. } | Stimulus::RampThreshold { .. } => {
            return Err("EModelRunner's ramp protocols give eFEL no stimulus window".into())
        }
        Stimulus::Pulses(_) | Stimulus::ECode(_) => {
            return Err("EModelRunner gives this protocol's features no stimulus window".into())
        }
    };
    let (Some(first), Some(last)) = (steps.first(), steps.last()) else {
        return Err("the protocol has no step".into());
    };
    let stim_end_ms = if p.name.contains("bAP") {
        p.stimulus.tstop_ms()
    } else if p.name.contains("H40S8") {
        last.delay_ms
    } else {
        last.delay_ms + last.duration_ms
    };
    Ok(FeatureWindow {
        stim_start_ms: first.delay_ms,
        stim_end_ms,
        stimulus_current_na: mean_amplitude(&amps),
    })
}

/// BluePyOpt's L5PC example: the first stimulus' step, to the total duration for `bAP`.
fn bluepyopt_window(p: &Protocol) -> Result<FeatureWindow, String> {
    let first = match &p.stimulus {
        Stimulus::Pulses(s) | Stimulus::Step { steps: s, .. } => s.first(),
        _ => None,
    };
    let Some(s) = first else {
        return Err("the protocol has no step stimulus".into());
    };
    let stim_end_ms = if p.name == "bAP" {
        s.total_duration_ms
    } else {
        s.delay_ms + s.duration_ms
    };
    Ok(FeatureWindow {
        stim_start_ms: s.delay_ms,
        stim_end_ms,
        stimulus_current_na: None,
    })
}

/// A field as the e-code's constructor reads it (`kwargs.get(key, default)`; null is None).
fn ecode_arg(e: &ECode, key: &str, default: Option<f64>) -> Option<f64> {
    if e.is_null(key) {
        None
    } else {
        e.get(key).or(default)
    }
}

/// BluePyEModel's `stim_start()`, `stim_end()` (to the total duration for `bAP` protocols) and
/// `amplitude` of an e-code.
fn ecode_window(p: &Protocol, e: &ECode, c: &SearchedCurrents) -> Result<FeatureWindow, String> {
    let need = |key: &str, default: Option<f64>| {
        ecode_arg(e, key, default).ok_or_else(|| format!("{}: `{key}` is null", e.class))
    };
    // amplitude: a percentage of the threshold current when both are known, else `amp`; plain
    // `Protocol`s never get a threshold current
    let threshold = match e.protocol_type {
        ECodeProtocolType::Fixed => None,
        _ => c.threshold_na,
    };
    let rel = |abs: &str, rel: &str, default_rel: Option<f64>| match (
        ecode_arg(e, rel, default_rel),
        threshold,
    ) {
        (Some(r), Some(t)) => Some(t * (r / 100.0)),
        _ => ecode_arg(e, abs, None),
    };
    let (start, end, total, amp) = match e.class {
        "IDrest" | "IV" | "APWaveform" | "FirePattern" | "Ramp" => {
            let (perc, duration, total) = match e.class {
                "IV" => (-40.0, 3000.0, 3500.0),
                "APWaveform" => (220.0, 50.0, 550.0),
                "FirePattern" => (200.0, 3600.0, 4100.0),
                _ => (200.0, 1350.0, 1850.0),
            };
            let delay = need("delay", Some(250.0))?;
            let duration = need("duration", Some(duration))?;
            let total = need("totduration", Some(total))?;
            let amp = rel("amp", "thresh_perc", Some(perc));
            (delay, delay + duration, total, amp)
        }
        "ThresholdAddition" => {
            let delay = need("delay", Some(250.0))?;
            let duration = need("duration", Some(1350.0))?;
            let total = need("totduration", Some(1850.0))?;
            let amp = match (threshold, ecode_arg(e, "amp", None)) {
                (Some(t), Some(a)) => Some(t + a),
                _ => None,
            };
            (delay, delay + duration, total, amp)
        }
        "sAHP" => {
            let delay = need("delay", Some(250.0))?;
            let toff = need("toff", Some(1175.0))?;
            let total = need("totduration", Some(1425.0))?;
            (delay, toff, total, rel("amp", "thresh_perc", None))
        }
        "HyperDepol" | "DeHyperpol" => {
            let delay = need("delay", Some(250.0))?;
            let toff = need("toff", Some(970.0))?;
            let total = need("totduration", Some(1220.0))?;
            let amp = if e.class == "HyperDepol" {
                rel("hyper_amp", "hyper_amp_rel", None)
            } else {
                rel("amp", "amp_rel", None)
            };
            (delay, toff, total, amp)
        }
        "SpikeRecMultiSpikes" => {
            let delay = need("delay", Some(10.0))?;
            let n = need("n_spikes", Some(2.0))?;
            let width = need("spike_duration", Some(3.5))?;
            let delta = need("delta", Some(3.5))?;
            let total = need("totduration", Some(1500.0))?;
            let end = delay + n * width + (n - 1.0) * delta;
            (delay, end, total, rel("amp", "thresh_perc", None))
        }
        "SineSpec" => {
            let delay = need("delay", Some(0.0))?;
            let duration = need("duration", Some(5000.0))?;
            let total = need("totduration", Some(5000.0))?;
            (
                delay,
                duration + delay,
                total,
                rel("amp", "thresh_perc", Some(60.0)),
            )
        }
        "Comb" => {
            let delay = need("delay", Some(200.0))?;
            let n = need("n_steps", Some(20.0))?;
            let duration = need("duration", Some(0.5))?;
            let total = need("totduration", Some(350.0))?;
            (
                delay,
                delay + n * duration,
                total,
                ecode_arg(e, "amp", Some(40.0)),
            )
        }
        "BPOSquarePulse" => {
            let delay = need("delay", Some(250.0))?;
            let duration = need("duration", Some(1350.0))?;
            let total = need("totduration", Some(1850.0))?;
            (delay, delay + duration, total, ecode_arg(e, "amp", None))
        }
        other => return Err(format!("no stimulus window known for e-code `{other}`")),
    };
    let end = if p.name.contains("bAP") { total } else { end };
    Ok(FeatureWindow {
        stim_start_ms: start,
        stim_end_ms: end,
        stimulus_current_na: amp,
    })
}

/// A trace's sample times [ms].
fn times_ms(t0_ms: f64, dt_ms: f64, n: usize) -> Vec<f64> {
    (0..n).map(|k| t0_ms + k as f64 * dt_ms).collect()
}

/// The interval of EModelRunner's `RecordingCustom` [ms]: `Vector.record(&var, 0.1)`.
const EMODELRUNNER_RECORD_INTERVAL_MS: f64 = 0.1;

/// The samples the tool's features see of a trace recorded every step from `t0_ms`: times [ms]
/// and values.
///
/// EModelRunner's SSCx reader gives every protocol of the protocol file a `RecordingCustom`,
/// which records with `Vector.record(&var, 0.1)`. NEURON 9.0.2 then keeps sample k at the time
/// e_k (e_0 = 0, e_k = e_(k−1) + 0.1, added in f64; the time vector holds e_k) for every e_k
/// ≤ the clock's final t (the sum of the run's half steps), with the value of the step at
/// index k·(0.1 / dt). So a 3000 ms run at dt 0.025 gives 30000 samples, the last at
/// 2999.8999999984 (its event at 3000 − 2e-12 lies past the final t, 3000 − 9e-12), where a 740
/// ms run gives 7401, the last at 740.0000000001 (final t 740 + 5e-10). The end of the trace
/// moves eFEL's `voltage_after_stim` window (25 % to 75 % of the time after stim_end), so it
/// matters. The thalamus reader and the search protocols use BluePyOpt's `CompRecording`
/// (every step): their traces stay as they are, as does a trace not starting at 0 or whose
/// dt does not divide 0.1 ms (no package of the tool has one).
pub(crate) fn tool_samples<'a>(
    dialect: Dialect,
    t0_ms: f64,
    dt_ms: f64,
    values: &'a [f64],
) -> (Vec<f64>, Cow<'a, [f64]>) {
    let stride = (EMODELRUNNER_RECORD_INTERVAL_MS / dt_ms).round();
    let divides = stride >= 1.0
        && (stride * dt_ms - EMODELRUNNER_RECORD_INTERVAL_MS).abs()
            <= 1e-9 * EMODELRUNNER_RECORD_INTERVAL_MS;
    if dialect != Dialect::EModelRunner(PackageType::Sscx)
        || t0_ms != 0.0
        || !divides
        || values.is_empty()
    {
        return (times_ms(t0_ms, dt_ms, values.len()), Cow::Borrowed(values));
    }
    let stride = stride as usize;
    let mut clock = FixedStepClock::new(dt_ms, f64::INFINITY);
    for _ in 1..values.len() {
        clock.advance();
    }
    let t_end_ms = clock.t_ms;
    let mut times = Vec::with_capacity(values.len() / stride + 1);
    let mut kept = Vec::with_capacity(values.len() / stride + 1);
    let mut event_ms = 0.0;
    let mut index = 0usize;
    while event_ms <= t_end_ms && index < values.len() {
        times.push(event_ms);
        kept.push(values[index]);
        event_ms += EMODELRUNNER_RECORD_INTERVAL_MS;
        index += stride;
    }
    (times, Cow::Owned(kept))
}

/// The times [ms], values and window of one recording, as the tool's features see it.
type Samples<'a> = (Vec<f64>, Cow<'a, [f64]>, FeatureWindow);

/// Who the evaluation is for, as the report names it.
#[derive(Clone, Debug, Default)]
pub struct EvaluationLabel {
    /// The e-model's key in the run.
    pub key: String,
    /// The lane's label when the run had several parameter sets.
    pub lane: Option<String>,
}

/// Computes and scores every feature of `em`'s feature file on `protocols` (by protocol name),
/// with the currents the search found.
pub fn evaluate(
    label: EvaluationLabel,
    em: &EModel,
    protocols: &BTreeMap<String, ProtocolOutcome>,
    currents: EModelCurrents,
    validation: ValidationRule,
) -> Evaluation {
    // The package's protocols under the names the sweep runs them (a name shared by several
    // protocol sets belongs to the main protocol's set; the others run as `<name>@<file>`),
    // and the ones the features were written for: EModelRunner's feature file goes with the
    // protocol set of its main protocol (`Step_200` is also in the SSCx's `allsteps.json`).
    let mut defined: BTreeMap<&str, &Protocol> = BTreeMap::new();
    let main_first = em
        .protocol_sets
        .iter()
        .filter(|s| s.main.is_some())
        .chain(em.protocol_sets.iter().filter(|s| s.main.is_none()));
    for p in main_first.flat_map(|s| s.protocols.iter()) {
        defined.entry(p.name.as_str()).or_insert(p);
    }
    let mut intended: BTreeMap<&str, &Protocol> = BTreeMap::new();
    for set in em.protocol_sets.iter().filter(|s| s.main.is_some()) {
        for p in &set.protocols {
            intended.entry(p.name.as_str()).or_insert(p);
        }
    }
    // Sample times and windows per `<protocol>.<recording>`; notes for those that have none.
    let mut samples: BTreeMap<String, Samples<'_>> = BTreeMap::new();
    let mut missing: BTreeMap<String, FeatureNote> = BTreeMap::new();
    let mut windows: BTreeMap<String, FeatureWindow> = BTreeMap::new();
    for f in &em.features {
        let key = format!("{}.{}", f.protocol, f.recording);
        if f.efel_name.starts_with("bpo_") || samples.contains_key(&key) {
            continue;
        }
        if missing.contains_key(&key) {
            continue;
        }
        let Some(p) = defined.get(f.protocol.as_str()) else {
            missing.insert(key, FeatureNote::UnknownProtocol);
            continue;
        };
        if let Some(want) = intended.get(f.protocol.as_str()) {
            if want.stimulus != p.stimulus {
                missing.insert(
                    key,
                    FeatureNote::OtherProtocol(format!(
                        "the run's `{}` is the one of {}, not the main protocol's in {}",
                        p.name,
                        p.origin.file.display(),
                        want.origin.file.display()
                    )),
                );
                continue;
            }
        }
        let recorded = match protocols.get(&f.protocol) {
            None => {
                missing.insert(key, FeatureNote::NotRun("not part of this run".into()));
                continue;
            }
            Some(ProtocolOutcome::NotRun { reason }) => {
                missing.insert(key, FeatureNote::NotRun(reason.clone()));
                continue;
            }
            Some(ProtocolOutcome::Ran(r)) => r,
        };
        let Some(rec) = recorded.get(&f.recording) else {
            missing.insert(key, FeatureNote::NotRecorded);
            continue;
        };
        let (t, v) = match rec {
            Recorded::Failed { reason } => {
                missing.insert(key, FeatureNote::LaneFailed(reason.clone()));
                continue;
            }
            Recorded::Trace {
                t0_ms,
                dt_ms,
                values,
            } => tool_samples(em.dialect, *t0_ms, *dt_ms, values),
            Recorded::ToolSamples { t_ms, values } => {
                (t_ms.clone(), Cow::Borrowed(values.as_slice()))
            }
        };
        match feature_window(p, em.dialect, currents.for_protocol(&p.name)) {
            Ok(w) => {
                windows.insert(f.protocol.clone(), w);
                samples.insert(key, (t, v, w));
            }
            Err(reason) => {
                missing.insert(key, FeatureNote::NoWindow(reason));
            }
        }
    }
    let traces: BTreeMap<String, ScoreTrace<'_>> = samples
        .iter()
        .map(|(k, (t, v, w))| {
            (
                k.clone(),
                ScoreTrace {
                    trace: Trace {
                        t_ms: t,
                        v_mv: v,
                        stim_start_ms: w.stim_start_ms,
                        stim_end_ms: w.stim_end_ms,
                    },
                    stimulus_current_na: w.stimulus_current_na,
                },
            )
        })
        .collect();
    let mut bpo = BTreeMap::new();
    if let Some(h) = currents.bpo.holding_na {
        bpo.insert("bpo_holding_current".to_string(), h);
    }
    if let Some(t) = currents.bpo.threshold_na {
        bpo.insert("bpo_threshold_current".to_string(), t);
    }
    let rule = ScoreRule::for_dialect(em.dialect);
    let scores = Scorer::new(&em.features, rule).score(&traces, &bpo);
    let notes = em
        .features
        .iter()
        .map(|f| {
            if f.efel_name.starts_with("bpo_") {
                (!bpo.contains_key(&f.efel_name)).then_some(FeatureNote::NotSearched)
            } else {
                missing
                    .get(&format!("{}.{}", f.protocol, f.recording))
                    .cloned()
            }
        })
        .collect();
    let statistic = match validation.function {
        ValidationFunction::MaxScore => scores.max_score(),
        ValidationFunction::MeanScore => scores.mean_score(),
    };
    let validated = scores.passes(validation.function, validation.threshold);
    Evaluation {
        key: label.key,
        emodel: em.name.clone(),
        variant: em.variant.clone(),
        lane: label.lane,
        package: em.package_dir.display().to_string(),
        dialect: dialect_name(em.dialect),
        scores,
        notes,
        validation: Validation {
            rule: validation,
            statistic,
            validated,
        },
        currents: currents.bpo,
        windows,
        params: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{feature, Settings, Trace};

    /// A trace recorded every step of a run of `tstop_ms` at dt 0.025 ms: the step index as
    /// value, so that each kept sample says which step it is.
    fn step_indices(tstop_ms: f64) -> Vec<f64> {
        let n = FixedStepClock::sample_times_ms(0.025, tstop_ms).len();
        (0..n).map(|k| k as f64).collect()
    }

    /// Sample counts and last times of `Vector.record(&t, 0.1)` in NEURON 9.0.2 (dt 0.025,
    /// `h.run()`), measured there.
    #[test]
    fn sscx_recordings_keep_neurons_0_1_ms_samples() {
        let sscx = Dialect::EModelRunner(PackageType::Sscx);
        for (tstop_ms, count, last_ms) in [
            (3000.0, 30000, 2999.899999998367),
            (740.0, 7401, 740.0000000000997),
            (300.05, 3001, 299.9999999999997),
            (546.1, 5461, 546.0000000000556),
            (384.5, 3845, 384.4000000000189),
            (150.0125, 1501, 149.99999999999577),
        ] {
            let values = step_indices(tstop_ms);
            let (t, v) = tool_samples(sscx, 0.0, 0.025, &values);
            assert_eq!(t.len(), count, "{tstop_ms}");
            assert_eq!(v.len(), count, "{tstop_ms}");
            assert_eq!(t[count - 1], last_ms, "{tstop_ms}");
            assert!(v.iter().enumerate().all(|(k, &x)| x == (4 * k) as f64));
        }
    }

    #[test]
    fn other_recordings_keep_every_step() {
        let values = step_indices(3000.0);
        for dialect in [
            Dialect::EModelRunner(PackageType::Thalamus),
            Dialect::BluePyEModel,
            Dialect::BluePyOpt,
        ] {
            let (t, v) = tool_samples(dialect, 0.0, 0.025, &values);
            assert_eq!((t.len(), v.len()), (values.len(), values.len()));
            assert_eq!(t[values.len() - 1], 3000.0);
        }
        // a dt that does not divide 0.1 ms
        let sscx = Dialect::EModelRunner(PackageType::Sscx);
        let (t, _) = tool_samples(sscx, 0.0, 0.03, &values);
        assert_eq!(t.len(), values.len());
    }

    /// `voltage_after_stim` of a 3000 ms SSCx step (stim_end 2700) decaying after the step:
    /// eFEL 5.7.34 gives −79.29295311978483 on the samples NEURON's `Vector.record(&v, 0.1)`
    /// keeps (the last at 2999.9), −79.29436580037293 on every step's sample (to 3000).
    #[test]
    fn voltage_after_stim_sees_the_tools_trace_end() {
        let n = FixedStepClock::sample_times_ms(0.025, 3000.0).len();
        let values: Vec<f64> = (0..n)
            .map(|k| {
                let t = k as f64 * 0.025;
                if t < 2700.0 {
                    -70.0
                } else {
                    -80.0 + 10.0 * (-(t - 2700.0) / 50.0).exp()
                }
            })
            .collect();
        let sscx = Dialect::EModelRunner(PackageType::Sscx);
        let (t, v) = tool_samples(sscx, 0.0, 0.025, &values);
        let trace = Trace {
            t_ms: &t,
            v_mv: &v,
            stim_start_ms: 700.0,
            stim_end_ms: 2700.0,
        };
        let got = feature("voltage_after_stim", &trace, &Settings::default()).unwrap()[0];
        assert!((got - -79.29295311978483).abs() < 1e-11, "{got}");
    }
}
