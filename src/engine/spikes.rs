//! Spike times for comparing two simulations (spec/NUMERICS.md): the upward crossings of a
//! threshold, placed by linear interpolation between the two samples around each crossing.
//! Not an eFEL feature (eFEL's spikes are peaks of the resampled trace).

/// The threshold simulations are compared at [mV].
pub const COMPARISON_THRESHOLD_MV: f64 = -20.0;

/// Times [ms] at which `v_mv` crosses `threshold_mv` upwards: one for each pair of consecutive
/// samples with `v[i-1] < threshold <= v[i]`, at
/// `t[i-1] + (threshold − v[i-1]) · (t[i] − t[i-1]) / (v[i] − v[i-1])`.
/// Extra samples of either slice beyond the shorter one are ignored.
pub fn spike_times_ms(t_ms: &[f64], v_mv: &[f64], threshold_mv: f64) -> Vec<f64> {
    let n = t_ms.len().min(v_mv.len());
    let mut times = Vec::new();
    for i in 1..n {
        let (v0, v1) = (v_mv[i - 1], v_mv[i]);
        if v0 < threshold_mv && v1 >= threshold_mv {
            let (t0, t1) = (t_ms[i - 1], t_ms[i]);
            times.push(t0 + (threshold_mv - v0) * (t1 - t0) / (v1 - v0));
        }
    }
    times
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossings_are_interpolated_and_only_upward() {
        let t = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let v = [-60.0, -10.0, 20.0, -30.0, -20.0, 0.0];
        // up between 0 and 1 at -20: 0 + 40/50 = 0.8; down at 2..3 ignored; -30 -> -20 reaches
        // the threshold exactly at t = 4 (counts: v[i] >= threshold); -20 -> 0 starts at it (no).
        assert_eq!(spike_times_ms(&t, &v, -20.0), vec![0.8, 4.0]);
    }

    #[test]
    fn no_crossing_no_spike() {
        assert!(spike_times_ms(&[0.0, 1.0], &[-70.0, -65.0], -20.0).is_empty());
        assert!(spike_times_ms(&[], &[], -20.0).is_empty());
    }
}
