//! Features of action-potential shape: peak voltages, amplitudes, onsets, widths and
//! after-hyperpolarisations (eFEL's SpikeShape group).
//!
//! AP onsets (`AP_begin_indices`) are found on dV/dt of the resampled trace, computed by central
//! differences of V and of t separately (one-sided at both ends) and divided sample by sample.
//! AHP minima (`min_AHP_indices`) are searched between consecutive spike peaks with eFEL's "first
//! minimum" rule: walking forward, the running minimum is taken as soon as two later samples do not
//! go below it.

use super::context::FeatureContext;
use super::spike_event::peaks;
use super::subthreshold::voltage_base_value;

fn as_values(indices: &[usize]) -> Vec<f64> {
    indices.iter().map(|&i| i as f64).collect()
}

fn nonempty(values: Vec<f64>) -> Option<Vec<f64>> {
    (!values.is_empty()).then_some(values)
}

/// dV/dt [mV/ms] of the resampled trace: central differences of V over central differences of t,
/// forward/backward differences at the two ends.
pub(crate) fn dvdt<'c>(ctx: &'c FeatureContext<'_>) -> &'c [f64] {
    ctx.cache.dvdt.get_or_init(|| {
        let (t, v) = (&ctx.t, &ctx.v);
        let n = v.len();
        let diff = |x: &[f64], i: usize| -> f64 {
            if i == 0 {
                x[1] - x[0]
            } else if i == n - 1 {
                x[n - 1] - x[n - 2]
            } else {
                (x[i + 1] - x[i - 1]) / 2.0
            }
        };
        (0..n).map(|i| diff(v, i) / diff(t, i)).collect()
    })
}

/// eFEL's first-minimum search on `v[from..to]`: walking forward, keep the running minimum (first
/// occurrence) and return it once two samples after it have not gone below it; otherwise the
/// minimum of the range. An empty range gives `to`.
fn first_minimum(v: &[f64], from: usize, to: usize) -> usize {
    if from >= to {
        return to;
    }
    let mut lowest = from;
    let mut not_lower = 0;
    for k in from + 1..to {
        if v[k] < v[lowest] {
            lowest = k;
            not_lower = 0;
        } else {
            not_lower += 1;
            if not_lower == 2 {
                return lowest;
            }
        }
    }
    lowest
}

/// Index of the first smallest value of `v[from..to]`, `to` when the range is empty.
fn first_smallest(v: &[f64], from: usize, to: usize) -> usize {
    let mut best = to;
    for k in from..to {
        if best == to || v[k] < v[best] {
            best = k;
        }
    }
    best
}

pub(crate) fn ahp_minima<'c>(ctx: &'c FeatureContext<'_>) -> Option<&'c [usize]> {
    ctx.cache
        .min_ahp_indices
        .get_or_init(|| {
            let peaks = peaks(ctx)?;
            let n = ctx.v.len();
            let end = if ctx.settings.strict_stiminterval {
                ctx.first_index_at_or_after(ctx.stim_end)
            } else {
                n
            };
            let mut minima = Vec::new();
            for (k, &p) in peaks.iter().enumerate() {
                let next = peaks.get(k + 1).copied().unwrap_or(end);
                let m = first_minimum(&ctx.v, p, next);
                // A minimum on the last sample before the end is the trace still falling: skipped.
                if end >= 1 && m == end - 1 {
                    continue;
                }
                if m >= n {
                    return None;
                }
                minima.push(m);
            }
            (!minima.is_empty()).then_some(minima)
        })
        .as_deref()
}

/// `min_AHP_indices`: for each spike, the first minimum (see module docs) between its peak and the
/// next peak (the last spike: up to stim_end with `strict_stiminterval`, else the end of the
/// trace), skipped when it falls on the sample just before that end.
pub fn min_AHP_indices(ctx: &FeatureContext) -> Option<Vec<f64>> {
    ahp_minima(ctx).map(as_values)
}

/// `min_AHP_values` [mV]: V at `min_AHP_indices`.
pub fn min_AHP_values(ctx: &FeatureContext) -> Option<Vec<f64>> {
    ahp_minima(ctx).map(|m| m.iter().map(|&i| ctx.v[i]).collect())
}

/// `AHP_depth_abs` [mV]: the same as `min_AHP_values`.
pub fn AHP_depth_abs(ctx: &FeatureContext) -> Option<Vec<f64>> {
    min_AHP_values(ctx)
}

/// `AHP_depth` [mV]: `min_AHP_values` minus `voltage_base`.
pub fn AHP_depth(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let base = voltage_base_value(ctx)?;
    let values = min_AHP_values(ctx)?;
    Some(values.into_iter().map(|x| x - base).collect())
}

/// `AHP_time_from_peak` [ms]: time from each peak to its AHP minimum (paired in order, as many as
/// both lists have).
pub fn AHP_time_from_peak(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let minima = ahp_minima(ctx)?;
    let peaks = peaks(ctx)?;
    nonempty(
        peaks
            .iter()
            .zip(minima)
            .map(|(&p, &m)| ctx.t[m] - ctx.t[p])
            .collect(),
    )
}

/// Slow AHP minima for spikes 2 .. n−1: the index of the (first) smallest V between `sahp_start`
/// after peak i+1 and peak i+2, for i = 0 .. n−3. Needs three spikes.
fn slow_ahp<'c>(ctx: &'c FeatureContext<'_>) -> Option<(Vec<usize>, &'c [usize])> {
    let peaks = peaks(ctx)?;
    if peaks.len() < 3 {
        return None;
    }
    let t = &ctx.t;
    let mut out = Vec::with_capacity(peaks.len() - 2);
    for w in peaks.windows(3) {
        let (from, to) = (w[1], w[2]);
        let t_start = t[from] + ctx.settings.sahp_start_ms;
        let begin = (from..to).find(|&k| t[k] >= t_start).unwrap_or(to);
        out.push(first_smallest(&ctx.v, begin, to));
    }
    Some((out, peaks))
}

/// `AHP_depth_abs_slow` [mV]: V at the slow AHP minimum after each spike but the first and last:
/// the smallest V from `sahp_start` (5 ms) after peak i up to peak i+1. Needs three spikes.
pub fn AHP_depth_abs_slow(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let (idx, _) = slow_ahp(ctx)?;
    Some(idx.iter().map(|&i| ctx.v[i]).collect())
}

/// `AHP_slow_time`: where the slow AHP minimum lies between its two peaks, as a fraction of the
/// interval (time from the earlier peak over the interval).
pub fn AHP_slow_time(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let (idx, peaks) = slow_ahp(ctx)?;
    let t = &ctx.t;
    Some(
        idx.iter()
            .enumerate()
            .map(|(i, &m)| (t[m] - t[peaks[i + 1]]) / (t[peaks[i + 2]] - t[peaks[i + 1]]))
            .collect(),
    )
}

/// `peak_voltage` [mV]: V at the spike peaks.
pub fn peak_voltage(ctx: &FeatureContext) -> Option<Vec<f64>> {
    peaks(ctx).map(|p| p.iter().map(|&i| ctx.v[i]).collect())
}

/// `AP_height` [mV]: the same as `peak_voltage`.
pub fn AP_height(ctx: &FeatureContext) -> Option<Vec<f64>> {
    peak_voltage(ctx)
}

pub(crate) fn ap_begins<'c>(ctx: &'c FeatureContext<'_>) -> Option<&'c [usize]> {
    ctx.cache
        .ap_begin_indices
        .get_or_init(|| find_ap_begins(ctx))
        .as_deref()
}

/// AP onsets; `Some(empty)` when every spike was skipped (eFEL keeps an empty list, which its
/// consumers treat as missing).
fn find_ap_begins(ctx: &FeatureContext) -> Option<Vec<usize>> {
    let peaks = peaks(ctx)?;
    let dvdt = dvdt(ctx);
    let n = ctx.v.len() as i64;
    let threshold = ctx.settings.derivative_threshold_mv_per_ms;
    let width = ctx.settings.derivative_window as i64;
    let stim_begin = ctx.first_index_at_or_after(ctx.stim_start) as i64;

    // Lower search limits: just before the stimulus starts, then each AHP after that.
    let mut lower = vec![match stim_begin {
        0 => 0,
        1 => 0,
        s => s - 2,
    }];
    if let Some(minima) = ahp_minima(ctx) {
        lower.extend(minima.iter().map(|&m| m as i64).filter(|&m| m > stim_begin));
    }
    let spikes: Vec<i64> = peaks
        .iter()
        .map(|&p| p as i64)
        .filter(|&p| p > stim_begin)
        .collect();
    if lower.len() < spikes.len() {
        return None;
    }

    let mut begins = Vec::with_capacity(spikes.len());
    'spikes: for (i, &peak) in spikes.iter().enumerate() {
        let floor = lower[i];
        let mut search_from = peak;
        let begin = loop {
            // Last sample at or below the threshold, walking back from search_from − 1 to floor;
            // the onset candidate is the sample after it (floor when there is none).
            let mut candidate = floor;
            let mut k = search_from - 1;
            while k >= floor {
                if dvdt[k as usize] <= threshold {
                    candidate = k + 1;
                    break;
                }
                k -= 1;
            }
            if candidate > n - width {
                candidate = n - width;
            }
            // At the limit: no onset. (Below it, possible only when the window is longer than the
            // rest of the trace, eFEL's search runs out of its range; emsweep skips the spike.)
            if candidate <= floor {
                continue 'spikes;
            }
            search_from = candidate - 1;
            // Accept when dV/dt stays at or above the threshold for `width` samples.
            let lo = candidate.max(0) as usize;
            let hi = (candidate + width).clamp(0, n) as usize;
            if dvdt[lo..hi].iter().all(|&d| d >= threshold) {
                break candidate;
            }
        };
        begins.push(begin as usize);
    }
    Some(begins)
}

/// `AP_begin_indices`: the onset of each spike peaking after stim_start: walking back from the
/// peak, the sample after the last one where dV/dt ≤ `DerivativeThreshold`, provided dV/dt stays
/// ≥ the threshold for `DerivativeWindow` samples from there (else the walk goes on below it). The
/// walk stops at a lower limit (2 samples before stim_start for the first spike, then the AHP
/// minima after stim_start); a spike whose walk reaches it has no onset and is left out.
pub fn AP_begin_indices(ctx: &FeatureContext) -> Option<Vec<f64>> {
    ap_begins(ctx).map(as_values).and_then(nonempty)
}

/// `AP_begin_voltage` [mV]: V at `AP_begin_indices`.
pub fn AP_begin_voltage(ctx: &FeatureContext) -> Option<Vec<f64>> {
    nonempty(ap_begins(ctx)?.iter().map(|&i| ctx.v[i]).collect())
}

/// `AP_amplitude` [mV]: for each spike peaking in [stim_start, stim_end], in order, its peak
/// voltage minus V at the corresponding entry of `AP_begin_indices`. No value when there are more
/// such spikes than onsets.
pub fn AP_amplitude(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let begins = ap_begins(ctx)?;
    if begins.is_empty() {
        return None;
    }
    let peaks = peaks(ctx)?;
    let inside: Vec<f64> = peaks
        .iter()
        .filter(|&&p| ctx.t[p] >= ctx.stim_start && ctx.t[p] <= ctx.stim_end)
        .map(|&p| ctx.v[p])
        .collect();
    if inside.len() > begins.len() {
        return None;
    }
    nonempty(
        inside
            .iter()
            .zip(begins)
            .map(|(pv, &b)| pv - ctx.v[b])
            .collect(),
    )
}

/// `AP1_amp` [mV]: the first `AP_amplitude`.
pub fn AP1_amp(ctx: &FeatureContext) -> Option<Vec<f64>> {
    AP_amplitude(ctx).map(|a| vec![a[0]])
}

/// `AP2_amp` [mV]: the second `AP_amplitude`; needs two.
pub fn AP2_amp(ctx: &FeatureContext) -> Option<Vec<f64>> {
    AP_amplitude(ctx).and_then(|a| a.get(1).map(|&x| vec![x]))
}

/// `APlast_amp` [mV]: the last `AP_amplitude`.
pub fn APlast_amp(ctx: &FeatureContext) -> Option<Vec<f64>> {
    AP_amplitude(ctx).map(|a| vec![a[a.len() - 1]])
}

/// `AP_amplitude_from_voltagebase` [mV]: every peak voltage minus `voltage_base`.
pub fn AP_amplitude_from_voltagebase(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let base = voltage_base_value(ctx)?;
    let peak_v = peak_voltage(ctx)?;
    Some(peak_v.into_iter().map(|p| p - base).collect())
}

pub(crate) fn ap_ends<'c>(ctx: &'c FeatureContext<'_>) -> Option<&'c [usize]> {
    ctx.cache
        .ap_end_indices
        .get_or_init(|| {
            let peaks = peaks(ctx)?;
            let dvdt = dvdt(ctx);
            let n = ctx.v.len();
            let threshold = ctx.settings.down_derivative_threshold_mv_per_ms;
            let stim_begin = ctx.first_index_at_or_after(ctx.stim_start);
            let mut bounds: Vec<usize> =
                peaks.iter().copied().filter(|&p| p > stim_begin).collect();
            bounds.push(n - 1);
            let mut ends = Vec::new();
            for w in bounds.windows(2) {
                let (from, to) = (w[0] + 1, w[1]);
                if from >= to || to >= n {
                    continue;
                }
                let steepest = first_smallest(dvdt, from, to);
                if let Some(k) = (steepest..to).find(|&k| dvdt[k] >= threshold) {
                    ends.push(k);
                }
            }
            Some(ends)
        })
        .as_deref()
}

/// `AP_end_indices`: for each spike peaking after stim_start, the first sample after the steepest
/// fall of V (the minimum of dV/dt between this peak and the next one, or the end of the trace)
/// where dV/dt is back at or above `DownDerivativeThreshold`; spikes without one are left out.
pub fn AP_end_indices(ctx: &FeatureContext) -> Option<Vec<f64>> {
    ap_ends(ctx).map(as_values).and_then(nonempty)
}

/// Index of the sample of `v[from..to]` closest to `level` (first of equals); `from` when empty.
fn closest_to(v: &[f64], from: usize, to: usize, level: f64) -> usize {
    let mut best = from;
    let mut best_d = f64::INFINITY;
    for (k, x) in v.iter().enumerate().take(to).skip(from) {
        let d = (x - level).abs();
        if d < best_d {
            best_d = d;
            best = k;
        }
    }
    best
}

fn rise_indices(ctx: &FeatureContext) -> Option<Vec<usize>> {
    let begins = ap_begins(ctx)?;
    if begins.is_empty() {
        return None;
    }
    let peaks = peaks(ctx)?;
    let v = &ctx.v;
    let mut out = Vec::with_capacity(begins.len().min(peaks.len()));
    for (&b, &p) in begins.iter().zip(peaks) {
        if p < b {
            return None;
        }
        out.push(closest_to(v, b, p, (v[p] + v[b]) / 2.0));
    }
    (!out.is_empty()).then_some(out)
}

fn fall_indices(ctx: &FeatureContext) -> Option<Vec<usize>> {
    let begins = ap_begins(ctx)?;
    if begins.is_empty() {
        return None;
    }
    let ends = ap_ends(ctx)?;
    if ends.is_empty() {
        return None;
    }
    let peaks = peaks(ctx)?;
    let v = &ctx.v;
    let n = v.len();
    let count = begins.len().min(peaks.len());
    let mut out = vec![0usize; count];
    for (i, slot) in out.iter_mut().enumerate() {
        let (b, p) = (begins[i], peaks[i]);
        // eFEL reads past the end of its list of AP ends here (undefined); such spikes keep 0.
        let Some(&e) = ends.get(i) else { continue };
        if p >= n || b >= n || e >= n || p > e {
            continue;
        }
        *slot = closest_to(v, p, e, (v[p] + v[b]) / 2.0);
    }
    (!out.is_empty()).then_some(out)
}

/// `AP_rise_indices`: for each spike (onsets and peaks paired in order), the sample from the onset
/// up to the peak whose V is closest to half-way between onset and peak voltage. No value when a
/// peak comes before its paired onset.
pub fn AP_rise_indices(ctx: &FeatureContext) -> Option<Vec<f64>> {
    rise_indices(ctx).map(|r| as_values(&r))
}

/// `AP_fall_indices`: for each spike, the sample from the peak up to its `AP_end_indices` entry
/// (paired in order) whose V is closest to half-way between onset and peak voltage (0 where the
/// pairing is out of order).
pub fn AP_fall_indices(ctx: &FeatureContext) -> Option<Vec<f64>> {
    fall_indices(ctx).map(|f| as_values(&f))
}

/// `AP_duration_half_width` [ms]: time from `AP_rise_indices` to `AP_fall_indices`, per spike.
pub fn AP_duration_half_width(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let rise = rise_indices(ctx)?;
    let fall = fall_indices(ctx)?;
    nonempty(
        rise.iter()
            .zip(&fall)
            .map(|(&r, &f)| ctx.t[f] - ctx.t[r])
            .collect(),
    )
}

/// `AP_width` [ms]: for each stretch between consecutive boundaries (the trace start, or with
/// `strict_stiminterval` the first sample at stim_start, then each AHP minimum, with the strict
/// setting only those strictly inside the window), the time from the first sample at or above
/// `Threshold` to the next sample at or below it (each search stops at the stretch's end).
pub fn AP_width(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let minima = ahp_minima(ctx)?;
    let (t, v) = (&ctx.t, &ctx.v);
    let threshold = ctx.settings.threshold_mv;
    let mut bounds = Vec::with_capacity(minima.len() + 1);
    if ctx.settings.strict_stiminterval {
        let start = ctx.first_index_at_or_after(ctx.stim_start);
        let end = ctx.first_index_at_or_after(ctx.stim_end);
        bounds.push(start);
        bounds.extend(minima.iter().copied().filter(|&m| start < m && m < end));
    } else {
        bounds.push(0);
        bounds.extend_from_slice(minima);
    }
    let mut widths = Vec::with_capacity(bounds.len());
    for w in bounds.windows(2) {
        let (from, to) = (w[0], w[1]);
        let onset = (from..to).find(|&k| v[k] >= threshold).unwrap_or(to);
        let end = (onset..to).find(|&k| v[k] <= threshold).unwrap_or(to);
        widths.push(t[end] - t[onset]);
    }
    nonempty(widths)
}
