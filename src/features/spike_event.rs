//! Features of spike timing: peaks, counts, intervals, frequencies, adaptation, bursts and
//! depolarisation block (eFEL's SpikeEvent group and its Python spike features).
//!
//! A spike is an excursion of the resampled trace above `Threshold`: it begins at a sample above
//! the threshold whose predecessor is below it, ends at the next sample below the threshold whose
//! predecessor is above it (samples exactly at the threshold neither begin nor end one), and peaks
//! at its first highest sample. Excursions the trace starts or ends in are not spikes. With
//! `strict_stiminterval` only spikes peaking inside [stim_start, stim_end] count.

use super::context::FeatureContext;

fn one(x: f64) -> Option<Vec<f64>> {
    Some(vec![x])
}

fn as_values(indices: &[usize]) -> Vec<f64> {
    indices.iter().map(|&i| i as f64).collect()
}

/// The peaks of the spikes (see the module docs), as indices into the resampled trace.
pub(crate) fn peaks<'c>(ctx: &'c FeatureContext<'_>) -> Option<&'c [usize]> {
    ctx.cache
        .peak_indices
        .get_or_init(|| find_peaks(ctx))
        .as_deref()
}

fn find_peaks(ctx: &FeatureContext) -> Option<Vec<usize>> {
    let (t, v) = (&ctx.t, &ctx.v);
    let threshold = ctx.settings.threshold_mv;
    let mut rises = Vec::new();
    let mut falls = Vec::new();
    for i in 1..v.len() {
        if v[i] > threshold && v[i - 1] < threshold {
            rises.push(i);
        } else if v[i] < threshold && v[i - 1] > threshold {
            falls.push(i);
        }
    }
    if rises.is_empty() || falls.is_empty() {
        return None;
    }
    // A fall before the first rise ends an excursion the trace started in.
    let first_rise = rises[0];
    falls.retain(|&f| f >= first_rise);
    // A rise without a later fall starts an excursion the trace ends in.
    rises.truncate(falls.len());
    let mut peaks = Vec::with_capacity(rises.len());
    for (&rise, &fall) in rises.iter().zip(&falls) {
        let mut best: Option<usize> = None;
        let mut best_v = -1e9;
        for (j, &x) in v.iter().enumerate().take(fall + 1).skip(rise) {
            if x > best_v {
                best_v = x;
                best = Some(j);
            }
        }
        let Some(p) = best else { continue };
        if ctx.settings.strict_stiminterval && !(t[p] >= ctx.stim_start && t[p] <= ctx.stim_end) {
            continue;
        }
        peaks.push(p);
    }
    (!peaks.is_empty()).then_some(peaks)
}

/// Times of the spike peaks [ms].
pub(crate) fn peak_times(ctx: &FeatureContext) -> Option<Vec<f64>> {
    peaks(ctx).map(|p| p.iter().map(|&i| ctx.t[i]).collect())
}

/// Intervals between consecutive spike peaks [ms]; needs two spikes.
pub(crate) fn isis(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let times = peak_times(ctx)?;
    if times.len() < 2 {
        return None;
    }
    Some(times.windows(2).map(|w| w[1] - w[0]).collect())
}

/// `peak_indices`: indices of the spike peaks in the resampled trace.
pub fn peak_indices(ctx: &FeatureContext) -> Option<Vec<f64>> {
    peaks(ctx).map(as_values)
}

/// `peak_time` [ms]: times of the spike peaks.
pub fn peak_time(ctx: &FeatureContext) -> Option<Vec<f64>> {
    peak_times(ctx)
}

/// `spike_count`: the number of spikes (0 when there is none, never "no value").
pub fn spike_count(ctx: &FeatureContext) -> Option<Vec<f64>> {
    one(peaks(ctx).map_or(0, |p| p.len()) as f64)
}

/// `Spikecount`: eFEL 5's old name of `spike_count`.
pub fn Spikecount(ctx: &FeatureContext) -> Option<Vec<f64>> {
    spike_count(ctx)
}

/// `spike_count_stimint`: the number of spikes peaking in [stim_start, stim_end] (0 when none).
pub fn spike_count_stimint(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let n = peak_times(ctx).map_or(0, |times| {
        times
            .iter()
            .filter(|&&t| ctx.stim_start <= t && t <= ctx.stim_end)
            .count()
    });
    one(n as f64)
}

/// `Spikecount_stimint`: eFEL 5's old name of `spike_count_stimint`.
pub fn Spikecount_stimint(ctx: &FeatureContext) -> Option<Vec<f64>> {
    spike_count_stimint(ctx)
}

/// `all_ISI_values` [ms]: every interval between consecutive spike peaks; needs two spikes.
pub fn all_ISI_values(ctx: &FeatureContext) -> Option<Vec<f64>> {
    isis(ctx)
}

/// `ISI_values` [ms]: the intervals without the first one when `ignore_first_ISI` is set (may be
/// empty: two spikes).
pub fn ISI_values(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let mut all = isis(ctx)?;
    if ctx.settings.ignore_first_isi {
        all.remove(0);
    }
    Some(all)
}

/// `inv_ISI_values` [Hz]: 1000 / each interval.
pub fn inv_ISI_values(ctx: &FeatureContext) -> Option<Vec<f64>> {
    Some(isis(ctx)?.iter().map(|isi| 1000.0 / isi).collect())
}

fn inv_isi(ctx: &FeatureContext, k: usize) -> Option<Vec<f64>> {
    isis(ctx)?.get(k).map(|isi| vec![1000.0 / isi])
}

/// `inv_first_ISI` [Hz]: 1000 / the first interval (never skipped).
pub fn inv_first_ISI(ctx: &FeatureContext) -> Option<Vec<f64>> {
    inv_isi(ctx, 0)
}

/// `inv_second_ISI` [Hz]: 1000 / the second interval.
pub fn inv_second_ISI(ctx: &FeatureContext) -> Option<Vec<f64>> {
    inv_isi(ctx, 1)
}

/// `inv_third_ISI` [Hz]: 1000 / the third interval.
pub fn inv_third_ISI(ctx: &FeatureContext) -> Option<Vec<f64>> {
    inv_isi(ctx, 2)
}

/// `inv_fourth_ISI` [Hz]: 1000 / the fourth interval.
pub fn inv_fourth_ISI(ctx: &FeatureContext) -> Option<Vec<f64>> {
    inv_isi(ctx, 3)
}

/// `inv_fifth_ISI` [Hz]: 1000 / the fifth interval.
pub fn inv_fifth_ISI(ctx: &FeatureContext) -> Option<Vec<f64>> {
    inv_isi(ctx, 4)
}

/// `inv_last_ISI` [Hz]: 1000 / the last interval.
pub fn inv_last_ISI(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let all = isis(ctx)?;
    all.last().map(|isi| vec![1000.0 / isi])
}

/// `ISI_CV`: sample standard deviation (n − 1) over mean of the intervals, leaving out the first
/// one when `ignore_first_ISI` is set; needs two intervals after that.
pub fn ISI_CV(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let all = isis(ctx)?;
    let skip = usize::from(ctx.settings.ignore_first_isi);
    let x = &all[skip.min(all.len())..];
    if x.len() < 2 {
        return None;
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    one(var.sqrt() / mean)
}

/// `mean_frequency` [Hz]: spikes peaking in [stim_start, stim_end], times 1000, over the time
/// from stim_start to the last of them. With spikes but none in the window the count and the last
/// time are both 0 (giving −0 or 0 over −stim_start); no value when that time equals stim_start.
pub fn mean_frequency(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let times = peak_times(ctx)?;
    let mut last = 0.0;
    let mut count = 0usize;
    for &t in &times {
        if t >= ctx.stim_start && t <= ctx.stim_end {
            last = t;
            count += 1;
        }
    }
    if last == ctx.stim_start {
        return None;
    }
    one(count as f64 * 1000.0 / (last - ctx.stim_start))
}

/// `time_to_first_spike` [ms]: first peak time minus stim_start (negative for a spike before the
/// stimulus when spikes outside the window count).
pub fn time_to_first_spike(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let times = peak_times(ctx)?;
    one(times[0] - ctx.stim_start)
}

/// `inv_time_to_first_spike` [Hz]: 1000 / `time_to_first_spike`.
pub fn inv_time_to_first_spike(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let times = peak_times(ctx)?;
    one(1000.0 / (times[0] - ctx.stim_start))
}

/// `time_to_second_spike` [ms]: second peak time minus stim_start; needs two spikes.
pub fn time_to_second_spike(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let times = peak_times(ctx)?;
    times.get(1).map(|t| vec![t - ctx.stim_start])
}

/// `time_to_last_spike` [ms]: last peak time minus stim_start.
pub fn time_to_last_spike(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let times = peak_times(ctx)?;
    one(times[times.len() - 1] - ctx.stim_start)
}

/// `doublet_ISI` [ms]: the first interval between spike peaks; needs two spikes.
pub fn doublet_ISI(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let times = peak_times(ctx)?;
    (times.len() >= 2).then(|| vec![times[1] - times[0]])
}

/// `adaptation_index2`: from the spikes peaking in [stim_start, stim_end] (at least 4, and at least
/// 4 spikes overall), drop the first; of the remaining intervals, the mean over consecutive pairs
/// of (ISI_i − ISI_{i−1}) / (ISI_i + ISI_{i−1}).
pub fn adaptation_index2(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let times = peak_times(ctx)?;
    if times.len() < 4 {
        return None;
    }
    let inside: Vec<f64> = times
        .into_iter()
        .filter(|&t| t >= ctx.stim_start && t <= ctx.stim_end)
        .collect();
    if inside.len() < 4 {
        return None;
    }
    let intervals: Vec<f64> = inside[1..].windows(2).map(|w| w[1] - w[0]).collect();
    let mut sum = 0.0;
    for w in intervals.windows(2) {
        sum += (w[1] - w[0]) / (w[1] + w[0]);
    }
    one(sum / (intervals.len() - 1) as f64)
}

/// Median of a non-empty slice (mean of the two middle values for an even count).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Positions in `ISI_values` at which a new burst starts (the k-th position of the returned list
/// is the index, into `ISI_values`, of the first interval inside burst k + 1).
fn burst_starts(ctx: &FeatureContext) -> Option<Vec<usize>> {
    let isi = ISI_values(ctx)?;
    if isi.len() < 4 {
        return None;
    }
    let factor = ctx.settings.burst_factor;
    let mut starts = Vec::new();
    // Intervals from `from` up to (not including) i make the burst so far.
    let mut from = 0usize;
    for i in 1..isi.len() - 1 {
        if i <= from {
            continue;
        }
        let m = median(&isi[from..i]);
        if isi[i] > factor * m && isi[i + 1] < isi[i] / factor {
            starts.push(i + 1);
            from = i;
        }
    }
    (!starts.is_empty()).then_some(starts)
}

/// `burst_ISI_indices`: where bursts start, as positions in `ISI_values`. Walking the intervals,
/// interval i ends the current burst when it is longer than `burst_factor` times the median of the
/// burst's intervals so far and the next interval is shorter than it over `burst_factor`; the next
/// burst's intervals are counted from i on and i + 1 is recorded. Needs 4 intervals; no value when
/// no burst boundary is found.
pub fn burst_ISI_indices(ctx: &FeatureContext) -> Option<Vec<f64>> {
    burst_starts(ctx).map(|s| as_values(&s))
}

/// `burst_mean_freq` [Hz]: for each burst delimited by `burst_ISI_indices` (read as peak numbers,
/// the last burst ending at the last spike), its number of spikes times 1000 over the time between
/// its first and last peak. The first burst counts one spike more than its index span (eFEL's
/// allowance for the skipped first interval); a burst of a single spike gives no entry.
pub fn burst_mean_freq(ctx: &FeatureContext) -> Option<Vec<f64>> {
    let times = peak_times(ctx)?;
    let mut bounds = burst_starts(ctx)?;
    bounds.push(times.len() - 1);
    let mut freq = Vec::new();
    let first_span = times[bounds[0]] - times[0];
    freq.push((bounds[0] + 1) as f64 * 1000.0 / first_span);
    for w in bounds.windows(2) {
        if w[1] - w[0] != 1 {
            let span = times[w[1]] - times[w[0] + 1];
            freq.push((w[1] - w[0]) as f64 * 1000.0 / span);
        }
    }
    Some(freq)
}

/// `burst_number`: the number of entries of `burst_mean_freq` (0 when it has no value).
pub fn burst_number(ctx: &FeatureContext) -> Option<Vec<f64>> {
    one(burst_mean_freq(ctx).map_or(0, |f| f.len()) as f64)
}

/// Indices i where `above(i + 1)` holds and `above(i)` does not (`rising`), or the reverse.
fn transitions(v: &[f64], level: f64, rising: bool) -> Vec<usize> {
    (0..v.len().saturating_sub(1))
        .filter(|&i| {
            let (a, b) = (v[i] > level, v[i + 1] > level);
            if rising {
                !a && b
            } else {
                a && !b
            }
        })
        .collect()
}

/// `depol_block`: [1] when the trace shows no depolarisation block, no value when it does.
///
/// With no AP onsets (`AP_begin_voltage` has no value: no spikes) there is no block. Otherwise the
/// block level is the mean AP onset voltage. Stretches above it are paired in order (k-th upward
/// crossing with k-th downward crossing, a stretch still going at the end closing at stim_end):
/// no upward crossing at all, or a stretch longer than `depol_block_min_duration`, is a block.
/// Likewise stretches below −75 mV that begin strictly inside the stimulus window (closing at the
/// next rise inside the window, or at stim_end): one longer than the minimum duration is a block.
/// No value (eFEL raises) when the trace ends before stim_start or stim_end.
pub fn depol_block(ctx: &FeatureContext) -> Option<Vec<f64>> {
    const LONG_HYPERPOLARISATION_MV: f64 = -75.0;
    let (t, v) = (&ctx.t, &ctx.v);
    let start_idx = t.iter().position(|&x| x >= ctx.stim_start)?;
    let end_idx = t.iter().position(|&x| x >= ctx.stim_end)?;
    let Some(onsets) = AP_begin_voltage_values(ctx) else {
        return one(1.0);
    };
    let level = onsets.iter().sum::<f64>() / onsets.len() as f64;
    let min_duration = ctx.settings.depol_block_min_duration_ms;

    let ups = transitions(v, level, true);
    let mut downs = transitions(v, level, false);
    if ups.len() > downs.len() {
        downs.push(end_idx);
    }
    if ups.is_empty() {
        return None;
    }
    let mut longest = f64::NEG_INFINITY;
    for (k, &up) in ups.iter().enumerate() {
        longest = longest.max(t[*downs.get(k)?] - t[up]);
    }
    if longest > min_duration {
        return None;
    }

    let downs: Vec<usize> = transitions(v, LONG_HYPERPOLARISATION_MV, false)
        .into_iter()
        .filter(|&i| i > start_idx && i < end_idx)
        .collect();
    if let Some(&first_down) = downs.first() {
        let mut ups: Vec<usize> = transitions(v, LONG_HYPERPOLARISATION_MV, true)
            .into_iter()
            .filter(|&i| i > start_idx && i < end_idx && i > first_down)
            .collect();
        if ups.len() < downs.len() {
            ups.push(end_idx);
        }
        let mut longest = f64::NEG_INFINITY;
        for (k, &down) in downs.iter().enumerate() {
            longest = longest.max(t[*ups.get(k)?] - t[down]);
        }
        if longest > min_duration {
            return None;
        }
    }
    one(1.0)
}

/// `depol_block_bool`: [1] when the trace shows a depolarisation block (`depol_block` has no
/// value), [0] otherwise.
pub fn depol_block_bool(ctx: &FeatureContext) -> Option<Vec<f64>> {
    // eFEL raises (no value) where depol_block cannot look at the trace at all.
    ctx.t.iter().position(|&x| x >= ctx.stim_start)?;
    ctx.t.iter().position(|&x| x >= ctx.stim_end)?;
    one(if depol_block(ctx).is_none() { 1.0 } else { 0.0 })
}

fn AP_begin_voltage_values(ctx: &FeatureContext) -> Option<Vec<f64>> {
    super::spike_shape::AP_begin_voltage(ctx)
}
