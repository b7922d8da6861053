//! The electrode tables of a batch for `shaders/electrodes.wgsl`: per lane its electrode node and
//! its clamps' amplitudes (scaled to row units), and per time the position of that time among
//! each clamp's window and breakpoints, worked out on the host in f64 exactly as
//! [`crate::engine::stimulus::Clamp::current_na`] does, so that the device only interpolates.

use std::sync::Arc;

use kernels_cpu::cable::na_to_row_units;

use crate::engine::stimulus::{Amplitude, Clamp, StimulusProgram};
use crate::engine::{CellModel, LaneSpec};

/// Lane-table word meaning "no electrode".
pub const NO_ELECTRODE: u32 = u32::MAX;

/// Where a time falls for one clamp (the `mode, k, theta` of `shaders/electrodes.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClampPosition {
    /// The clamp is off.
    Off,
    /// A fixed amplitude, on.
    Fixed,
    /// The value of breakpoint k.
    At(usize),
    /// Between breakpoints k-1 and k at fraction theta (may exceed 1 past the end).
    Between(usize, f64),
    /// The mean of breakpoints k-1 and k (same time, past the end).
    Mean(usize),
}

impl ClampPosition {
    /// The four words of the shader's position table (theta rounded to f32).
    pub fn words(self) -> [u32; 4] {
        match self {
            ClampPosition::Off => [0, 0, 0, 0],
            ClampPosition::Fixed => [1, 0, 0, 0],
            ClampPosition::At(k) => [2, k as u32, 0, 0],
            ClampPosition::Between(k, theta) => [3, k as u32, (theta as f32).to_bits(), 0],
            ClampPosition::Mean(k) => [4, k as u32, 0, 0],
        }
    }

    /// The amplitude at this position from one lane's breakpoint values (or its one fixed
    /// amplitude), in f64: the host-side meaning of the shader's interpolation.
    pub fn value(self, values: &[f64]) -> f64 {
        match self {
            ClampPosition::Off => 0.0,
            ClampPosition::Fixed => values[0],
            ClampPosition::At(k) => values[k],
            ClampPosition::Between(k, theta) => {
                let (x0, x1) = (values[k - 1], values[k]);
                x0 + (x1 - x0) * theta
            }
            ClampPosition::Mean(k) => (values[k - 1] + values[k]) / 2.0,
        }
    }
}

/// The position of `t_ms` for `clamp` (NEURON's IClamp window, then `Vector.play`'s continuous
/// interpolation among the breakpoints; see `crate::engine::stimulus`).
pub fn position(clamp: &Clamp, t_ms: f64) -> ClampPosition {
    if !clamp.is_on(t_ms) {
        return ClampPosition::Off;
    }
    let times = match &clamp.amplitude {
        Amplitude::Fixed(_) => return ClampPosition::Fixed,
        Amplitude::Played { times_ms, .. } => times_ms,
    };
    let last = times.len() - 1;
    let k = if t_ms >= times[last] {
        if last == 0 {
            return ClampPosition::At(0);
        }
        last
    } else if t_ms <= times[0] {
        return ClampPosition::At(0);
    } else {
        times.partition_point(|&x| x <= t_ms)
    };
    let (t0, t1) = (times[k - 1], times[k]);
    if t0 == t1 {
        ClampPosition::Mean(k)
    } else {
        ClampPosition::Between(k, (t_ms - t0) / (t1 - t0))
    }
}

/// The electrode tables of a group of lanes.
#[derive(Clone, Debug, Default)]
pub struct ElectrodeTables {
    /// Every clamp of every distinct program of the lanes, programs in order of first use.
    pub clamps: Vec<Clamp>,
    /// Per lane: node, first entry, entries, 0.
    pub lane_info: Vec<u32>,
    /// Per entry: clamp, offset of its amplitudes in `values`.
    pub entries: Vec<u32>,
    /// Amplitudes [row units], f64 products rounded to f32.
    pub values: Vec<f32>,
}

impl ElectrodeTables {
    /// The tables of `lanes` of a batch of `model`.
    pub fn new(model: &CellModel, lanes: &[&LaneSpec]) -> ElectrodeTables {
        let mut t = ElectrodeTables::default();
        let mut programs: Vec<(Arc<StimulusProgram>, usize)> = Vec::new();
        for spec in lanes {
            let Some(st) = &spec.stimulus else {
                t.lane_info.extend([NO_ELECTRODE, 0, 0, 0]);
                continue;
            };
            let first_clamp = match programs.iter().find(|(p, _)| Arc::ptr_eq(p, &st.program)) {
                Some((_, g)) => *g,
                None => {
                    let g = t.clamps.len();
                    t.clamps.extend(st.program.clamps.iter().cloned());
                    programs.push((st.program.clone(), g));
                    g
                }
            };
            let scale = na_to_row_units(model.area_um2[st.node.index()]);
            let first_entry = t.entries.len() / 2;
            for (c, clamp) in st.program.clamps.iter().enumerate() {
                t.entries
                    .extend([(first_clamp + c) as u32, t.values.len() as u32]);
                match &clamp.amplitude {
                    Amplitude::Fixed(a) => t.values.push((a[st.lane] * scale) as f32),
                    Amplitude::Played {
                        times_ms,
                        values_na,
                    } => {
                        let n = times_ms.len();
                        t.values.extend(
                            values_na[st.lane * n..(st.lane + 1) * n]
                                .iter()
                                .map(|v| (v * scale) as f32),
                        );
                    }
                }
            }
            t.lane_info.extend([
                st.node.0,
                first_entry as u32,
                st.program.clamps.len() as u32,
                0,
            ]);
        }
        t
    }

    /// Whether any lane has an electrode.
    pub fn any(&self) -> bool {
        !self.entries.is_empty()
    }

    /// The position words of every clamp at `t_ms`, appended to `out`.
    pub fn positions_at(&self, t_ms: f64, out: &mut Vec<u32>) {
        for c in &self.clamps {
            out.extend(position(c, t_ms).words());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn played(times_ms: Vec<f64>, values_na: Vec<f64>, delay: f64, stop: f64) -> Clamp {
        Clamp {
            label: "played".into(),
            delay_ms: delay,
            stop_ms: stop,
            amplitude: Amplitude::Played {
                times_ms,
                values_na,
            },
        }
    }

    #[test]
    fn positions_give_the_clamp_amplitudes() {
        // edges (repeated times), a ramp, the end extended, and a mean at a final repeated time
        let times = vec![0.0, 10.0, 10.0, 20.0, 30.0, 30.0];
        let lane0 = vec![0.0, 0.0, 0.5, 1.5, 0.0, 0.2];
        let lane1 = vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
        let values: Vec<f64> = lane0.iter().chain(&lane1).copied().collect();
        let c = played(times, values, 0.0, 35.0);
        for k in 0..4000 {
            let t = -1.0 + k as f64 * 0.0125;
            let p = position(&c, t);
            for (lane, v) in [&lane0, &lane1].into_iter().enumerate() {
                let want = c.current_na(lane, t);
                assert_eq!(p.value(v).to_bits(), want.to_bits(), "t {t} lane {lane}");
            }
        }
        let fixed = Clamp {
            label: "step".into(),
            delay_ms: 5.0,
            stop_ms: 7.5,
            amplitude: Amplitude::Fixed(vec![0.3]),
        };
        assert_eq!(position(&fixed, 4.99), ClampPosition::Off);
        assert_eq!(position(&fixed, 5.0), ClampPosition::Fixed);
        assert_eq!(position(&fixed, 7.5), ClampPosition::Off);
        assert_eq!(ClampPosition::Between(3, 0.5).words()[2], 0.5f32.to_bits());
    }
}
