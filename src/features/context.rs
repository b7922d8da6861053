//! One trace prepared for feature extraction: checked, resampled to the settings' step, with the
//! intermediate results several features share (spike peaks, AP onsets, AHP minima, dV/dt, the
//! baseline voltage) computed at most once.

use std::cell::OnceCell;

use super::interp::resample;
use super::settings::{Settings, Trace};
use super::FeatureError;

/// The most grid points a trace may be resampled to (a guard against a tiny `interp_step` on a
/// long trace exhausting memory): 2^27 points, about 2 GiB for times and values together.
const MAX_GRID_POINTS: f64 = 134_217_728.0;

/// A trace ready for feature extraction under one set of settings. Build it once per trace and
/// settings, then ask it for as many features as needed ([`FeatureContext::feature`]); shared
/// intermediate results are cached inside.
pub struct FeatureContext<'s> {
    pub(crate) settings: &'s Settings,
    /// Resampled times [ms] (eFEL's `T` after interpolation).
    pub(crate) t: Vec<f64>,
    /// Resampled values [mV] (eFEL's `V` after interpolation).
    pub(crate) v: Vec<f64>,
    pub(crate) stim_start: f64,
    pub(crate) stim_end: f64,
    pub(crate) cache: Cache,
}

/// Intermediate results, each computed on first use. `None` inside means "no value" (eFEL would
/// report the intermediate feature as missing).
#[derive(Default)]
pub(crate) struct Cache {
    pub peak_indices: OnceCell<Option<Vec<usize>>>,
    pub min_ahp_indices: OnceCell<Option<Vec<usize>>>,
    pub ap_begin_indices: OnceCell<Option<Vec<usize>>>,
    pub ap_end_indices: OnceCell<Option<Vec<usize>>>,
    pub dvdt: OnceCell<Vec<f64>>,
    pub voltage_base: OnceCell<Option<f64>>,
    pub steady_state_voltage_stimend: OnceCell<Option<f64>>,
    pub max_min_voltage: OnceCell<Option<(f64, f64)>>,
}

impl<'s> FeatureContext<'s> {
    /// Check the trace and resample it to `settings.interp_step_ms`.
    ///
    /// Errors (eFEL would raise, or its result would be meaningless): times and values of
    /// different lengths, fewer than 3 samples, times not finite or decreasing or all equal,
    /// values not finite, a stimulus window that is not finite or does not end after it starts,
    /// an interpolation step that is not finite and positive, or a grid of more than 2^27 points.
    pub fn new(trace: &Trace<'_>, settings: &'s Settings) -> Result<Self, FeatureError> {
        let (t, v) = (trace.t_ms, trace.v_mv);
        if t.len() != v.len() {
            return Err(FeatureError::LengthMismatch {
                times: t.len(),
                values: v.len(),
            });
        }
        if t.len() < 3 {
            return Err(FeatureError::TooShort { samples: t.len() });
        }
        if let Some(i) = t.iter().position(|x| !x.is_finite()) {
            return Err(FeatureError::BadTime { index: i });
        }
        if let Some(i) = t.windows(2).position(|w| w[1] < w[0]) {
            return Err(FeatureError::BadTime { index: i + 1 });
        }
        if t[t.len() - 1] <= t[0] {
            return Err(FeatureError::BadTime { index: t.len() - 1 });
        }
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(FeatureError::NonFiniteValue { index: i });
        }
        let (start, end) = (trace.stim_start_ms, trace.stim_end_ms);
        if !start.is_finite() || !end.is_finite() || end <= start {
            return Err(FeatureError::BadStimulusWindow { start, end });
        }
        let step = settings.interp_step_ms;
        if !step.is_finite() || step <= 0.0 {
            return Err(FeatureError::BadInterpStep { step });
        }
        if (t[t.len() - 1] - t[0]) / step > MAX_GRID_POINTS {
            return Err(FeatureError::TooManyPoints {
                points: ((t[t.len() - 1] - t[0]) / step).ceil(),
            });
        }
        let (t, v) = match resample(t, v, step) {
            Some(r) => (r.t_ms, r.y),
            // eFEL's interpolation failed: it carries on with the trace as given.
            None => (t.to_vec(), v.to_vec()),
        };
        Ok(FeatureContext {
            settings,
            t,
            v,
            stim_start: start,
            stim_end: end,
            cache: Cache::default(),
        })
    }

    /// The resampled times [ms] that every index feature refers to.
    pub fn time_ms(&self) -> &[f64] {
        &self.t
    }

    /// The resampled values [mV].
    pub fn voltage_mv(&self) -> &[f64] {
        &self.v
    }

    /// The value of the eFEL feature `name` on this trace: `Ok(None)` where eFEL gives no value,
    /// `Err` for a name emsweep does not compute.
    pub fn feature(&self, name: &str) -> Result<Option<Vec<f64>>, FeatureError> {
        match super::registry::lookup(name) {
            Some(f) => Ok(f(self)),
            None => Err(FeatureError::UnknownFeature {
                name: name.to_string(),
            }),
        }
    }

    /// Index of the first sample at or after `time` (the number of samples when there is none).
    pub(crate) fn first_index_at_or_after(&self, time: f64) -> usize {
        self.t
            .iter()
            .position(|&x| x >= time)
            .unwrap_or(self.t.len())
    }
}
