//! eFEL-compatible feature extraction: for a recorded trace, the value eFEL 5.7 gives each
//! feature, under eFEL's names, including "no value" exactly where eFEL gives none.
//!
//! Like eFEL, every feature works on the trace resampled to `interp_step` (linear interpolation onto
//! a grid built by repeatedly adding the step to the first time; see `interp`), and index features
//! (`peak_indices`, `AP_begin_indices`, ...) are indices into that resampled trace. Spikes are the
//! excursions above `Threshold`; with `strict_stiminterval` only those peaking inside the stimulus
//! window count. Each feature is one function named as in eFEL (in `spike_event`, `spike_shape`,
//! `subthreshold`), documented with its definition; intermediate results several features share
//! are computed once per trace in a [`FeatureContext`].
//!
//! [`spike_times_ms`] is a different thing: the spike times used to compare two simulations
//! (upward threshold crossings interpolated between samples, spec/NUMERICS.md), not an eFEL feature.
//!
//! The definitions follow eFEL's documentation and its observable behaviour (checked against
//! eFEL 5.7.34 on the traces of `tests/reference/features`); the code is emsweep's own.

mod context;
mod interp;
mod registry;
mod settings;
#[allow(non_snake_case)]
pub mod spike_event;
#[allow(non_snake_case)]
pub mod spike_shape;
mod spikes;
#[allow(non_snake_case)]
pub mod subthreshold;

pub use context::FeatureContext;
pub use registry::feature_names;
pub use settings::{BaseMode, SettingValue, Settings, Trace};
pub use spikes::{spike_times_ms, COMPARISON_THRESHOLD_MV};

/// Why a feature could not be computed at all (as opposed to having no value on this trace).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeatureError {
    #[error("trace has {times} times but {values} values")]
    LengthMismatch { times: usize, values: usize },
    #[error("trace has {samples} samples; at least 3 are needed")]
    TooShort { samples: usize },
    #[error("trace time at sample {index} is not finite, decreases, or the times span nothing")]
    BadTime { index: usize },
    #[error("trace value at sample {index} is not finite")]
    NonFiniteValue { index: usize },
    #[error("stimulus window [{start}, {end}] ms must be finite and end after it starts")]
    BadStimulusWindow { start: f64, end: f64 },
    #[error("interp_step {step} ms must be finite and positive")]
    BadInterpStep { step: f64 },
    #[error("resampling would make {points} points; the limit is 2^27")]
    TooManyPoints { points: f64 },
    #[error("unknown feature '{name}' (not an eFEL feature emsweep computes)")]
    UnknownFeature { name: String },
    #[error("unknown setting '{name}' (not an eFEL setting that changes emsweep's features)")]
    UnknownSetting { name: String },
    #[error("setting '{name}' cannot take the value {value}")]
    BadSetting { name: String, value: String },
}

impl FeatureError {
    /// A short stable name of the problem, for reports and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            FeatureError::LengthMismatch { .. } => "trace-length-mismatch",
            FeatureError::TooShort { .. } => "trace-too-short",
            FeatureError::BadTime { .. } => "trace-bad-time",
            FeatureError::NonFiniteValue { .. } => "trace-non-finite-value",
            FeatureError::BadStimulusWindow { .. } => "bad-stimulus-window",
            FeatureError::BadInterpStep { .. } => "bad-interp-step",
            FeatureError::TooManyPoints { .. } => "trace-too-many-points",
            FeatureError::UnknownFeature { .. } => "unknown-feature",
            FeatureError::UnknownSetting { .. } => "unknown-setting",
            FeatureError::BadSetting { .. } => "bad-setting",
        }
    }
}

/// The eFEL feature `name` of `trace` under `settings`: `Ok(None)` where eFEL gives no value,
/// `Err` for an unknown name or an unusable trace. To compute several features of one trace,
/// build a [`FeatureContext`] once instead.
pub fn try_feature(
    name: &str,
    trace: &Trace<'_>,
    settings: &Settings,
) -> Result<Option<Vec<f64>>, FeatureError> {
    if registry::lookup(name).is_none() {
        return Err(FeatureError::UnknownFeature {
            name: name.to_string(),
        });
    }
    FeatureContext::new(trace, settings)?.feature(name)
}

/// Like [`try_feature`], with every error folded into "no value".
pub fn feature(name: &str, trace: &Trace<'_>, settings: &Settings) -> Option<Vec<f64>> {
    try_feature(name, trace, settings).ok().flatten()
}
