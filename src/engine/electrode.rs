//! Electrode currents: the minimal description of what is injected into a lane, one entry per
//! NEURON `IClamp`, evaluated as NEURON evaluates them during a fixed step.
//!
//! Richer stimulus descriptions (protocols, e-codes, thresholds) are turned into these by the
//! stimulus layer; the engine only needs, per lane, a list of [`Electrode`]s, each a node and a
//! [`Waveform`]. NEURON computes electrode currents with the membrane currents, after moving `t`
//! forward by half a step, so a step from `t` uses the value at `t + dt/2`.

use crate::layout::Node;

/// The current of one `IClamp` [nA] as a function of time [ms].
#[derive(Clone, Debug, PartialEq)]
pub enum Waveform {
    /// `IClamp` with `del`, `dur`, `amp`: `amp_na` while `delay_ms ≤ t < delay_ms + duration_ms`,
    /// 0 otherwise (BluePyOpt's `NrnSquarePulse`).
    Square {
        delay_ms: f64,
        duration_ms: f64,
        amp_na: f64,
    },
    /// `IClamp` with `del` = `delay_ms`, `dur` = `duration_ms` whose `amp` is played from the
    /// points `(t [ms], amp [nA])` with `Vector.play(..., continuous = 1)`: linear interpolation
    /// between points (the mean of two points at the same time), the first value before the
    /// first point, linear extrapolation of the last two points after the last one (BluePyOpt's
    /// `NrnRampPulse`: see [`Waveform::ramp`]).
    Played {
        delay_ms: f64,
        duration_ms: f64,
        points: Vec<(f64, f64)>,
    },
}

impl Waveform {
    /// BluePyOpt's `NrnRampPulse`: an `IClamp` on from 0 for `total_duration_ms`, its amplitude
    /// played from the envelope 0 until `delay_ms`, then a line from `amp_start_na` to
    /// `amp_end_na` over `duration_ms`, then 0.
    pub fn ramp(
        delay_ms: f64,
        duration_ms: f64,
        amp_start_na: f64,
        amp_end_na: f64,
        total_duration_ms: f64,
    ) -> Waveform {
        let end = delay_ms + duration_ms;
        Waveform::Played {
            delay_ms: 0.0,
            duration_ms: total_duration_ms,
            points: vec![
                (0.0, 0.0),
                (delay_ms, 0.0),
                (delay_ms, amp_start_na),
                (end, amp_end_na),
                (end, 0.0),
                (total_duration_ms, 0.0),
            ],
        }
    }

    /// The current [nA] at time `t_ms`.
    pub fn current_na(&self, t_ms: f64) -> f64 {
        let (delay, duration) = match self {
            Waveform::Square {
                delay_ms,
                duration_ms,
                ..
            }
            | Waveform::Played {
                delay_ms,
                duration_ms,
                ..
            } => (*delay_ms, *duration_ms),
        };
        // IClamp's own test, in its order of operations
        if !(t_ms < delay + duration && t_ms >= delay) {
            return 0.0;
        }
        match self {
            Waveform::Square { amp_na, .. } => *amp_na,
            Waveform::Played { points, .. } => played_value(points, t_ms),
        }
    }
}

/// The value `Vector.play(..., continuous = 1)` gives at `t_ms` from `(time, value)` points in
/// non-decreasing time order.
pub fn played_value(points: &[(f64, f64)], t_ms: f64) -> f64 {
    let Some(&(t_first, y_first)) = points.first() else {
        return 0.0;
    };
    let last = points.len() - 1;
    let upper = if t_ms >= points[last].0 {
        if last == 0 {
            return points[0].1;
        }
        last
    } else if t_ms <= t_first {
        return y_first;
    } else {
        // first point strictly after t
        points.iter().position(|&(t, _)| t > t_ms).unwrap_or(last)
    };
    let (t0, x0) = points[upper - 1];
    let (t1, x1) = points[upper];
    if t0 == t1 {
        return (x0 + x1) / 2.0;
    }
    x0 + (x1 - x0) * ((t_ms - t0) / (t1 - t0))
}

/// One electrode of a lane: where, and what it injects.
#[derive(Clone, Debug, PartialEq)]
pub struct Electrode {
    pub node: Node,
    pub waveform: Waveform,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_pulse_is_on_in_its_half_open_window() {
        let w = Waveform::Square {
            delay_ms: 70.0,
            duration_ms: 200.0,
            amp_na: 0.2,
        };
        assert_eq!(w.current_na(69.9875), 0.0);
        assert_eq!(w.current_na(70.0), 0.2);
        assert_eq!(w.current_na(269.9875), 0.2);
        assert_eq!(w.current_na(270.0), 0.0);
    }

    #[test]
    fn ramp_interpolates_its_envelope() {
        let w = Waveform::ramp(70.0, 200.0, 0.0, 0.2, 300.0);
        assert_eq!(w.current_na(10.0), 0.0);
        assert!((w.current_na(170.0) - 0.1).abs() < 1e-15);
        assert!((w.current_na(269.0) - 0.199).abs() < 1e-12);
        assert_eq!(w.current_na(280.0), 0.0);
        assert_eq!(w.current_na(300.0), 0.0);
        // at a jump NEURON takes the mean of both sides
        assert_eq!(
            played_value(&[(0.0, 0.0), (1.0, 0.0), (1.0, 2.0)], 1.0),
            1.0
        );
        // before the first point: its value; after the last: the last segment extended
        assert_eq!(played_value(&[(1.0, 3.0), (2.0, 5.0)], 0.5), 3.0);
        assert_eq!(played_value(&[(1.0, 3.0), (2.0, 5.0)], 3.0), 7.0);
        assert_eq!(played_value(&[(1.0, 3.0)], 3.0), 3.0);
        assert_eq!(played_value(&[], 3.0), 0.0);
    }
}
