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
//! [`spike_times_ms`] (re-exported from `crate::engine::spikes`, where the spike detector uses it)
//! is a different thing: the spike times used to compare two simulations (upward threshold
//! crossings interpolated between samples, spec/NUMERICS.md), not an eFEL feature.
//!
//! The definitions follow eFEL's documentation and its observable behaviour (checked against
//! eFEL 5.7.34 on the traces of `tests/reference/features`); the code is emsweep's own.

mod context;
pub mod evaluate;
mod interp;
mod registry;
pub mod score;
mod settings;
#[allow(non_snake_case)]
pub mod spike_event;
#[allow(non_snake_case)]
pub mod spike_shape;
#[allow(non_snake_case)]
pub mod subthreshold;

pub use crate::engine::spikes::{spike_times_ms, COMPARISON_THRESHOLD_MV};
pub use context::FeatureContext;
pub use registry::feature_names;
pub use settings::{BaseMode, SettingValue, Settings, Trace};

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ctx_for<'s>(
        t: &[f64],
        v: &[f64],
        start: f64,
        end: f64,
        s: &'s Settings,
    ) -> FeatureContext<'s> {
        FeatureContext::new(
            &Trace {
                t_ms: t,
                v_mv: v,
                stim_start_ms: start,
                stim_end_ms: end,
            },
            s,
        )
        .unwrap()
    }

    /// A hand-made trace on the 0.1 ms grid itself (resampling keeps it): rest at −70, two
    /// triangular spikes peaking at 0 mV at 2.0 and 4.0 ms, a sample exactly at −20 mV.
    fn two_spikes() -> (Vec<f64>, Vec<f64>) {
        let t: Vec<f64> = (0..61).map(|i| i as f64 * 0.1).collect();
        let mut v = vec![-70.0; 61];
        for (i, x) in [
            (18, -40.0),
            (19, -20.0),
            (20, 0.0),
            (21, -30.0),
            (22, -60.0),
        ] {
            v[i] = x;
        }
        for (i, x) in [
            (38, -40.0),
            (39, -10.0),
            (40, 0.0),
            (41, -30.0),
            (42, -65.0),
        ] {
            v[i] = x;
        }
        (t, v)
    }

    #[test]
    fn peaks_need_strict_crossings_and_count_in_the_window() {
        let (t, v) = two_spikes();
        let s = Settings::default();
        let ctx = ctx_for(&t, &v, 1.0, 3.0, &s);
        // the peaks are the highest samples of each excursion above -20 mV
        assert_eq!(ctx.feature("peak_indices").unwrap(), Some(vec![20.0, 40.0]));
        assert_eq!(ctx.feature("spike_count").unwrap(), Some(vec![2.0]));
        assert_eq!(ctx.feature("spike_count_stimint").unwrap(), Some(vec![1.0]));
        let isi = ctx.feature("all_ISI_values").unwrap().unwrap();
        assert!((isi[0] - 2.0).abs() < 1e-12);
        // one spike in [1, 3]: 1 * 1000 / (t_peak - 1.0)
        let f = ctx.feature("mean_frequency").unwrap().unwrap()[0];
        assert!((f - 1000.0 / (t[20] - 1.0)).abs() < 1e-9);
        // two spikes, first ISI ignored: ISI_values is empty (a value, not "no value")
        assert_eq!(ctx.feature("ISI_values").unwrap(), Some(vec![]));
        assert_eq!(ctx.feature("ISI_CV").unwrap(), None);
        let strict = Settings {
            strict_stiminterval: true,
            ..Settings::default()
        };
        let ctx = ctx_for(&t, &v, 1.0, 3.0, &strict);
        assert_eq!(ctx.feature("peak_indices").unwrap(), Some(vec![20.0]));
        assert_eq!(ctx.feature("all_ISI_values").unwrap(), None);
        assert_eq!(ctx.feature("Spikecount").unwrap(), Some(vec![1.0]));
    }

    #[test]
    fn no_spike_counts_zero_and_spike_features_have_no_value() {
        let t: Vec<f64> = (0..101).map(|i| i as f64 * 0.1).collect();
        let v: Vec<f64> = t
            .iter()
            .map(|&x| if x < 3.0 { -70.0 } else { -60.0 })
            .collect();
        let s = Settings::default();
        let ctx = ctx_for(&t, &v, 3.0, 8.0, &s);
        assert_eq!(ctx.feature("spike_count").unwrap(), Some(vec![0.0]));
        assert_eq!(ctx.feature("burst_number").unwrap(), Some(vec![0.0]));
        for name in [
            "AP_amplitude",
            "mean_frequency",
            "AHP_depth",
            "inv_first_ISI",
        ] {
            assert_eq!(ctx.feature(name).unwrap(), None, "{name}");
        }
        // baseline: mean over [2.7, 3.0] ms = samples 27..=30, the last one already at -60
        let vb = ctx.feature("voltage_base").unwrap().unwrap()[0];
        assert!((vb - (-70.0 * 3.0 - 60.0) / 4.0).abs() < 1e-12);
        let max = ctx.feature("maximum_voltage").unwrap().unwrap()[0];
        assert_eq!(max, -60.0);
        // a window starting at 0 has no baseline
        let ctx = ctx_for(&t, &v, 0.0, 8.0, &s);
        assert_eq!(ctx.feature("voltage_base").unwrap(), None);
    }

    #[test]
    fn first_minimum_takes_the_first_dip_that_holds_for_two_samples() {
        let (t, mut v) = two_spikes();
        // after spike 1: a dip to -75 at 25 held by 26, 27, then a deeper -80 at 30
        v[25] = -75.0;
        v[30] = -80.0;
        let s = Settings::default();
        let ctx = ctx_for(&t, &v, 1.0, 5.5, &s);
        assert_eq!(ctx.feature("min_AHP_indices").unwrap().unwrap()[0], 25.0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any trace the checks accept, under any settings, gives every feature without panicking.
        #[test]
        fn every_feature_survives_arbitrary_traces(
            steps in prop::collection::vec(0.0f64..2.0, 3..300),
            values in prop::collection::vec(-100.0f64..60.0, 300),
            start in -5.0f64..100.0,
            length in 0.01f64..200.0,
            step in 0.01f64..3.0,
            threshold in -80.0f64..40.0,
            window in 0usize..8,
            strict in any::<bool>(),
            ignore_first in any::<bool>(),
            median in any::<bool>(),
        ) {
            let mut t = Vec::with_capacity(steps.len());
            let mut x = 0.0;
            for dt in &steps {
                t.push(x);
                x += dt;
            }
            let v = &values[..t.len()];
            let settings = Settings {
                threshold_mv: threshold,
                interp_step_ms: step,
                strict_stiminterval: strict,
                derivative_window: window,
                ignore_first_isi: ignore_first,
                voltage_base_mode: if median { BaseMode::Median } else { BaseMode::Mean },
                stimulus_current_na: Some(0.1),
                ..Settings::default()
            };
            let trace = Trace { t_ms: &t, v_mv: v, stim_start_ms: start, stim_end_ms: start + length };
            if let Ok(ctx) = FeatureContext::new(&trace, &settings) {
                for name in feature_names() {
                    let _ = ctx.feature(name).unwrap();
                }
            }
        }
    }
}
