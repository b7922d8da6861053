//! Features of the trace outside spikes: baseline, steady state, deflections, extremes, sag,
//! input resistance and the decay after the stimulus (eFEL's Subthreshold group).

use super::context::FeatureContext;
use super::settings::BaseMode;

fn one(x: f64) -> Option<Vec<f64>> {
    Some(vec![x])
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The `voltage_base` value (cached).
pub(crate) fn voltage_base_value(ctx: &FeatureContext) -> Option<f64> {
    *ctx.cache.voltage_base.get_or_init(|| {
        let s = ctx.settings;
        let start_time = ctx.stim_start * s.voltage_base_start_perc;
        let end_time = ctx.stim_start * s.voltage_base_end_perc;
        if start_time >= end_time {
            return None;
        }
        let t = &ctx.t;
        // From the first sample at or after start_time (the first sample when there is none) up
        // to the last sample not later than end_time (within precision_threshold); the scan for
        // the latter stops before sample 0 and defaults to the whole trace.
        let first = t.iter().position(|&x| x >= start_time).unwrap_or(0);
        let last = (1..t.len())
            .rev()
            .find(|&i| t[i] - end_time < s.precision_threshold_ms)
            .map_or(t.len(), |i| i + 1);
        if first > last {
            return None;
        }
        let window = &ctx.v[first..last];
        Some(match s.voltage_base_mode {
            BaseMode::Mean => mean(window),
            BaseMode::Median => {
                if window.is_empty() {
                    return None;
                }
                let mut w = window.to_vec();
                w.sort_by(f64::total_cmp);
                let n = w.len();
                if n % 2 == 1 {
                    w[n / 2]
                } else {
                    (w[(n - 1) / 2] + w[n / 2]) / 2.0
                }
            }
        })
    })
}

/// `voltage_base` [mV]: mean (or median, `voltage_base_mode`) of V from
/// `voltage_base_start_perc`·stim_start to `voltage_base_end_perc`·stim_start (defaults: the last
/// 10 % before the stimulus). No value when that window is empty of time (stim_start ≤ 0).
pub fn voltage_base(ctx: &FeatureContext) -> Option<Vec<f64>> {
    voltage_base_value(ctx).map(|v| vec![v])
}

pub(crate) fn steady_state_value(ctx: &FeatureContext) -> Option<f64> {
    *ctx.cache.steady_state_voltage_stimend.get_or_init(|| {
        let start_time = ctx.stim_end - 0.1 * (ctx.stim_end - ctx.stim_start);
        let first = ctx.first_index_at_or_after(start_time);
        let last = ctx.first_index_at_or_after(ctx.stim_end);
        (last > first).then(|| mean(&ctx.v[first..last]))
    })
}

/// `steady_state_voltage_stimend` [mV]: mean V over the last 10 % of the stimulus window (samples
/// from stim_end − 0.1·duration up to, not including, the first at or after stim_end).
pub fn steady_state_voltage_stimend(ctx: &FeatureContext) -> Option<Vec<f64>> {
    steady_state_value(ctx).map(|v| vec![v])
}

/// `voltage_deflection_vb_ssse` [mV]: `steady_state_voltage_stimend` − `voltage_base`.
pub fn voltage_deflection_vb_ssse(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let base = voltage_base_value(ctx)?;
    let steady = steady_state_value(ctx)?;
    one(steady - base)
}

/// `ohmic_input_resistance_vb_ssse` [MΩ]: `voltage_deflection_vb_ssse` [mV] over
/// `stimulus_current` [nA]. No value without a (non-zero) stimulus current.
pub fn ohmic_input_resistance_vb_ssse(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let deflection = voltage_deflection_vb_ssse(ctx)?[0];
    let current = ctx.settings.stimulus_current_na?;
    if current == 0.0 {
        return None;
    }
    one(deflection / current)
}

/// `voltage_deflection` [mV]: mean V of the 5 samples ending 5 samples before the first sample
/// after stim_end, minus the mean V of the samples before stim_start. No value when no sample
/// lies after stim_end or before stim_start, or fewer than 10 before stim_end.
pub fn voltage_deflection(ctx: &FeatureContext) -> Option<Vec<f64>> {
    const WINDOW: usize = 5;
    let (t, v) = (&ctx.t, &ctx.v);
    let mut base = 0.0;
    let mut base_n = 0usize;
    let mut after_end = 0usize;
    for i in 0..t.len() {
        if t[i] < ctx.stim_start {
            base += v[i];
            base_n += 1;
        }
        if t[i] > ctx.stim_end {
            after_end = i;
            break;
        }
    }
    if base_n == 0 || after_end < 2 * WINDOW {
        return None;
    }
    let window = &v[after_end - 2 * WINDOW..after_end - WINDOW];
    one(window.iter().sum::<f64>() / WINDOW as f64 - base / base_n as f64)
}

/// `voltage_deflection_begin` [mV]: mean V over (stim_start + 5 %, stim_start + 15 %] of the
/// stimulus duration minus mean V before stim_start (NaN when either has no sample).
pub fn voltage_deflection_begin(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let (t, v) = (&ctx.t, &ctx.v);
    let duration = ctx.stim_end - ctx.stim_start;
    let from = ctx.stim_start + duration * (0.10 / 2.0);
    let to = from + duration * 0.10;
    let mut base = 0.0;
    let mut base_n = 0usize;
    for i in 0..t.len() {
        if t[i] < ctx.stim_start {
            base += v[i];
            base_n += 1;
        } else {
            break;
        }
    }
    let mut level = 0.0;
    let mut level_n = 0usize;
    for i in 0..t.len() {
        if t[i] > to {
            break;
        }
        if t[i] > from {
            level += v[i];
            level_n += 1;
        }
    }
    one(level / level_n as f64 - base / base_n as f64)
}

/// `voltage_after_stim` [mV]: mean V from 25 % to 75 % of the time between stim_end and the end
/// of the trace (every sample from the 25 % point on, up to and including the first one past the
/// 75 % point).
pub fn voltage_after_stim(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let (t, v) = (&ctx.t, &ctx.v);
    let t_last = t[t.len() - 1];
    let from = ctx.stim_end + (t_last - ctx.stim_end) * 0.25;
    let to = ctx.stim_end + (t_last - ctx.stim_end) * 0.75;
    let mut sum = 0.0;
    let mut n = 0usize;
    for i in 0..t.len() {
        if t[i] >= from {
            sum += v[i];
            n += 1;
        }
        if t[i] > to {
            break;
        }
    }
    (n > 0).then(|| vec![sum / n as f64])
}

fn max_min(ctx: &FeatureContext) -> Option<(f64, f64)> {
    *ctx.cache.max_min_voltage.get_or_init(|| {
        let (t, v) = (&ctx.t, &ctx.v);
        let t_last = t[t.len() - 1];
        if ctx.stim_start > t_last {
            return None;
        }
        let end_time = ctx.stim_end.min(t_last);
        let first = ctx.first_index_at_or_after(ctx.stim_start);
        let last = ctx.first_index_at_or_after(end_time);
        if first >= t.len() || last >= t.len() {
            return None;
        }
        if first >= last {
            // eFEL reads the sample at the window's end for an empty window.
            return Some((v[last], v[last]));
        }
        let w = &v[first..last];
        let max = w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = w.iter().copied().fold(f64::INFINITY, f64::min);
        Some((max, min))
    })
}

/// `maximum_voltage` [mV]: the largest V from the first sample at or after stim_start up to (not
/// including) the first at or after stim_end (or the trace's end).
pub fn maximum_voltage(ctx: &FeatureContext) -> Option<Vec<f64>> {
    max_min(ctx).map(|(max, _)| vec![max])
}

/// `minimum_voltage` [mV]: the smallest V over the same samples as `maximum_voltage`.
pub fn minimum_voltage(ctx: &FeatureContext) -> Option<Vec<f64>> {
    max_min(ctx).map(|(_, min)| vec![min])
}

/// `maximum_voltage_from_voltagebase` [mV]: `maximum_voltage` − `voltage_base`.
pub fn maximum_voltage_from_voltagebase(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let (max, _) = max_min(ctx)?;
    let base = voltage_base_value(ctx)?;
    one(max - base)
}

/// `sag_amplitude` [mV]: `steady_state_voltage_stimend` − `minimum_voltage`, for a response
/// that ends below the baseline (`voltage_deflection_vb_ssse` ≤ 0); no value otherwise.
pub fn sag_amplitude(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let steady = steady_state_value(ctx)?;
    let deflection = steady - voltage_base_value(ctx)?;
    let (_, min) = max_min(ctx)?;
    (deflection <= 0.0).then(|| vec![steady - min])
}

/// `decay_time_constant_after_stim` [ms]: |1 / slope| of a least-squares line through
/// (t, ln|V(t) − V(stim_start)|) for the samples from `decay_start_after_stim` (1 ms) after
/// stim_end up to (not including) `decay_end_after_stim` (10 ms) after it; V(stim_start) is V at
/// the first sample at or after stim_start. No value when no sample lies in that range.
pub fn decay_time_constant_after_stim(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let s = ctx.settings;
    if s.decay_start_after_stim_ms >= s.decay_end_after_stim_ms {
        return None;
    }
    let (t, v) = (&ctx.t, &ctx.v);
    let reference = *v.get(ctx.first_index_at_or_after(ctx.stim_start))?;
    let first = ctx.first_index_at_or_after(ctx.stim_end + s.decay_start_after_stim_ms);
    let last = ctx.first_index_at_or_after(ctx.stim_end + s.decay_end_after_stim_ms);
    if last <= first {
        return None;
    }
    let (mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0);
    for i in first..last {
        let x = t[i];
        let y = (v[i] - reference).abs().ln();
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    let n = (last - first) as f64;
    let slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    one((-1.0 / slope).abs())
}
