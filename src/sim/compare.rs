//! `emsweep compare`: the voltage traces two backends wrote for the same sweep, compared trace by
//! trace as spec/NUMERICS.md says (spike counts, spike times at the −20 mV upward crossings, the
//! largest |ΔV| before the first spike) and judged by the backend tolerances of the README's Accuracy section.
//!
//! Each backend runs the whole sweep on its own (`crate::sweep::sweep` into
//! `<out>/<backend name>/`); this module reads the `traces.h5` files back and diffs them, so the
//! comparison sees exactly what a user of `emsweep run` gets.

use std::path::Path;

use crate::features::{spike_times_ms, COMPARISON_THRESHOLD_MV};
use crate::output::traces::{read_traces, Samples, StoredTrace};

/// How far two backends may drift apart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Largest |Δ spike time| [ms].
    pub spike_time_ms: f64,
    /// Largest |ΔV| before the first spike [mV] (infinite: reported, not judged).
    pub pre_spike_dv_mv: f64,
}

/// The project's tolerance between backends (README, Accuracy) `a` and `b` (names such as `cpu-f64`,
/// `gpu-f32`): gpu-f32 against cpu-f32 0.05 ms and 1e-2 mV; f32 against f64 0.05 ms (no voltage
/// bound); the same backend twice must agree exactly; anything else is held to the gpu/cpu bound.
pub fn tolerance(a: &str, b: &str) -> Tolerance {
    let precision = |n: &str| n.rsplit('-').next().unwrap_or("").to_string();
    if a == b {
        Tolerance {
            spike_time_ms: 0.0,
            pre_spike_dv_mv: 0.0,
        }
    } else if precision(a) != precision(b) {
        Tolerance {
            spike_time_ms: 0.05,
            pre_spike_dv_mv: f64::INFINITY,
        }
    } else {
        Tolerance {
            spike_time_ms: 0.05,
            pre_spike_dv_mv: 1e-2,
        }
    }
}

/// Two traces of one lane compared.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TraceDiff {
    pub spikes_ref: usize,
    pub spikes_other: usize,
    /// max |Δ spike time| [ms]; infinite when the counts differ.
    pub worst_spike_dt_ms: f64,
    /// max |ΔV| [mV] over t < min(first spike of either) − 1 ms (the whole trace without
    /// spikes); NaN when a value is NaN there.
    pub worst_pre_spike_dv_mv: f64,
}

impl TraceDiff {
    /// Whether the difference is within `tol`.
    pub fn within(&self, tol: &Tolerance) -> bool {
        self.spikes_ref == self.spikes_other
            && self.worst_spike_dt_ms <= tol.spike_time_ms
            && (tol.pre_spike_dv_mv.is_infinite()
                || self.worst_pre_spike_dv_mv <= tol.pre_spike_dv_mv)
    }
}

/// Compares `other` with `reference`, both sampled at `t0_ms + k · dt_ms`.
pub fn diff_traces(reference: &[f64], other: &[f64], t0_ms: f64, dt_ms: f64) -> TraceDiff {
    let n = reference.len().min(other.len());
    let t: Vec<f64> = (0..n).map(|k| t0_ms + k as f64 * dt_ms).collect();
    let a = spike_times_ms(&t, &reference[..n], COMPARISON_THRESHOLD_MV);
    let b = spike_times_ms(&t, &other[..n], COMPARISON_THRESHOLD_MV);
    let worst_spike_dt_ms = if a.len() == b.len() && reference.len() == other.len() {
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    } else {
        f64::INFINITY
    };
    let first = a.iter().chain(&b).copied().fold(f64::INFINITY, f64::min);
    let mut worst = 0.0f64;
    for k in 0..n {
        if t[k] >= first - 1.0 {
            break;
        }
        let d = (reference[k] - other[k]).abs();
        if d.is_nan() {
            worst = f64::NAN;
            break;
        }
        worst = worst.max(d);
    }
    TraceDiff {
        spikes_ref: a.len(),
        spikes_other: b.len(),
        worst_spike_dt_ms,
        worst_pre_spike_dv_mv: worst,
    }
}

/// One row of the comparison: one lane of one voltage recording.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub emodel: String,
    pub protocol: String,
    pub recording: String,
    pub lane_label: String,
    /// `None`: the other backend has no such trace.
    pub diff: Option<TraceDiff>,
    pub ok: bool,
}

fn as_f64(s: &Samples) -> Vec<f64> {
    match s {
        Samples::F64(v) => v.clone(),
        Samples::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
    }
}

/// Every voltage trace of `reference` against the same trace (e-model, protocol, recording,
/// lane) of `other`, in `reference`'s order.
pub fn diff_runs(reference: &[StoredTrace], other: &[StoredTrace], tol: &Tolerance) -> Vec<Row> {
    let mut rows = Vec::new();
    for r in reference.iter().filter(|r| r.variable == "v") {
        let o = other.iter().find(|o| {
            o.emodel == r.emodel && o.protocol == r.protocol && o.recording == r.recording
        });
        let (rv, ov) = (as_f64(&r.data), o.map(|o| as_f64(&o.data)));
        for lane in 0..r.lanes {
            let diff = ov.as_ref().and_then(|ov| {
                let o = o?;
                if lane >= o.lanes || o.samples != r.samples || o.dt_ms != r.dt_ms {
                    return None;
                }
                let s = r.samples;
                Some(diff_traces(
                    &rv[lane * s..(lane + 1) * s],
                    &ov[lane * s..(lane + 1) * s],
                    r.t0_ms,
                    r.dt_ms,
                ))
            });
            rows.push(Row {
                emodel: r.emodel.clone(),
                protocol: r.protocol.clone(),
                recording: r.recording.clone(),
                lane_label: r.lane_labels.get(lane).cloned().unwrap_or_default(),
                ok: diff.is_some_and(|d| d.within(tol)),
                diff,
            });
        }
    }
    rows
}

/// Reads the `traces.h5` of two runs and diffs them.
pub fn diff_files(reference: &Path, other: &Path, tol: &Tolerance) -> Result<Vec<Row>, String> {
    let a = read_traces(reference).map_err(|e| format!("{}: {e}", reference.display()))?;
    let b = read_traces(other).map_err(|e| format!("{}: {e}", other.display()))?;
    Ok(diff_runs(&a, &b, tol))
}

/// The table of `rows` (`reference` and `other` name the backends).
pub fn render(rows: &[Row], reference: &str, other: &str, tol: &Tolerance) -> String {
    let mut s = format!(
        "{other} against {reference} (tolerance: spike times {} ms, pre-spike |ΔV| {} mV)\n",
        tol.spike_time_ms, tol.pre_spike_dv_mv
    );
    s.push_str(&format!(
        "{:<28} {:<28} {:<12} {:>8} {:>8} {:>12} {:>12}  {}\n",
        "e-model",
        "protocol",
        "recording",
        "spikes",
        "spikes'",
        "max Δt ms",
        "max ΔV mV",
        "verdict"
    ));
    for r in rows {
        let (a, b, dt, dv) = match &r.diff {
            Some(d) => (
                d.spikes_ref.to_string(),
                d.spikes_other.to_string(),
                format!("{:.3e}", d.worst_spike_dt_ms),
                format!("{:.3e}", d.worst_pre_spike_dv_mv),
            ),
            None => ("-".into(), "missing".into(), "-".into(), "-".into()),
        };
        let label = if r.lane_label.is_empty() {
            r.emodel.clone()
        } else {
            format!("{} [{}]", r.emodel, r.lane_label)
        };
        s.push_str(&format!(
            "{:<28} {:<28} {:<12} {:>8} {:>8} {:>12} {:>12}  {}\n",
            label,
            r.protocol,
            r.recording,
            a,
            b,
            dt,
            dv,
            if r.ok { "ok" } else { "BEYOND TOLERANCE" }
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spiky(shift: usize, n: usize) -> Vec<f64> {
        (0..n)
            .map(|k| {
                if (50..55).contains(&((k + shift) % 100)) {
                    20.0
                } else {
                    -70.0
                }
            })
            .collect()
    }

    #[test]
    fn diffs_follow_the_numerics_spec() {
        let a = spiky(0, 1000);
        let d = diff_traces(&a, &a, 0.0, 0.025);
        assert_eq!(
            (d.spikes_ref, d.worst_spike_dt_ms, d.worst_pre_spike_dv_mv),
            (10, 0.0, 0.0)
        );
        assert!(d.within(&tolerance("cpu-f32", "gpu-f32")));
        // shifted by one sample: same count, 0.025 ms apart
        let b = spiky(1, 1000);
        let d = diff_traces(&a, &b, 0.0, 0.025);
        assert_eq!(d.spikes_other, d.spikes_ref);
        assert!((d.worst_spike_dt_ms - 0.025).abs() < 1e-12);
        assert!(!d.within(&tolerance("cpu-f32", "cpu-f32")));
        assert!(d.within(&tolerance("cpu-f32", "gpu-f32")));
        // a voltage offset before the first spike, not after it
        let mut c = a.clone();
        c[10] += 0.5;
        c[500] += 5.0;
        let flat = vec![-70.0; 1000];
        let d = diff_traces(
            &flat,
            &c[..].iter().map(|x| x.min(-60.0)).collect::<Vec<_>>(),
            0.0,
            0.025,
        );
        assert_eq!(d.spikes_ref, 0);
        assert!((d.worst_pre_spike_dv_mv - 10.0).abs() < 1e-12);
        let mut e = a.clone();
        e[5] = f64::NAN;
        assert!(diff_traces(&a, &e, 0.0, 0.025)
            .worst_pre_spike_dv_mv
            .is_nan());
        assert!(!diff_traces(&a, &e, 0.0, 0.025).within(&tolerance("cpu-f32", "gpu-f32")));
        // one spike fewer
        let mut f = a.clone();
        for x in &mut f[540..560] {
            *x = -70.0;
        }
        let d = diff_traces(&a, &f, 0.0, 0.025);
        assert_eq!(d.spikes_other + 1, d.spikes_ref);
        assert!(!d.within(&tolerance("cpu-f64", "cpu-f32")));
        assert_eq!(
            tolerance("cpu-f64", "gpu-f32").pre_spike_dv_mv,
            f64::INFINITY
        );
    }
}
