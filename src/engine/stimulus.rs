//! The stimulus runtime: current clamps at soma(0.5) as a small program evaluated once per
//! time step for every lane of a batch, and NEURON's fixed-step clock. What a protocol's
//! clamps are is decided above the engine (`sim::stimulus` builds programs from protocols).
//!
//! # What NEURON does (and this module reproduces)
//! Every stimulus of the packaged tools is one or more `IClamp`s at soma(0.5). An IClamp
//! injects `i = amp` [nA] while `del <= t < del + dur`, else 0 (`stim.mod`; `del + dur` is
//! computed in double precision at each evaluation, the same sum every time). In the fixed
//! step NEURON evaluates the clamps at the middle of the step: t is advanced by dt/2, vectors
//! played into `amp` are updated, then the currents are computed, then t is advanced by dt/2
//! again. `t` is accumulated this way (two additions of dt/2 per step, in floating point), so
//! the midpoint of step n is not exactly (n + ½)·dt; [`FixedStepClock`] reproduces the sums.
//! `finitialize` also evaluates the clamps once, at t = 0.
//!
//! Some clamps have a vector played into their amplitude with continuous interpolation
//! (`Vector.play(&amp, tvec, 1)`: BluePyOpt's ramp, BluePyEModel's e-codes). NEURON then sets
//! `amp` to the piecewise-linear interpolation of the (time, value) breakpoints at t: between
//! breakpoints k-1 and k where k is the first breakpoint later than t (so at a repeated time,
//! an edge, the value after the edge applies from that time on), the first value before the
//! first breakpoint, and past the last breakpoint the last segment extended (or the mean of
//! the last two values when their times coincide). The interpolation is
//! `x0 + (x1 − x0)·((t − t0)/(t1 − t0))`.
//!
//! # The program
//! A [`StimulusProgram`] is a list of [`Clamp`]s shared by all lanes of a batch (times are
//! the protocol's), with amplitudes per lane. Evaluating it at a time is a window test per
//! clamp and, for played clamps, one binary search among the breakpoints, then one multiply-add
//! per lane. Units: times [ms], currents [nA]; a positive current depolarises.

/// How a clamp's amplitude is set.
#[derive(Clone, Debug, PartialEq)]
pub enum Amplitude {
    /// `IClamp.amp`, one per lane [nA].
    Fixed(Vec<f64>),
    /// A vector played continuously into `IClamp.amp`: breakpoint times shared by the lanes
    /// (non-decreasing), values per lane, lane-major: `values_na[lane * times_ms.len() + k]`.
    Played {
        times_ms: Vec<f64>,
        values_na: Vec<f64>,
    },
}

/// One IClamp at soma(0.5).
#[derive(Clone, Debug, PartialEq)]
pub struct Clamp {
    /// What it is, for messages: `step 0`, `holding`, `ramp`, `IDrest`, ...
    pub label: String,
    /// `IClamp.del` [ms].
    pub delay_ms: f64,
    /// `IClamp.del + IClamp.dur` as NEURON computes it [ms]: the clamp is on while
    /// `delay_ms <= t < stop_ms`.
    pub stop_ms: f64,
    pub amplitude: Amplitude,
}

/// Where t falls among a played vector's breakpoints; shared by all lanes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Position {
    /// The value of breakpoint k.
    At(usize),
    /// Between breakpoints k-1 and k, at fraction `theta` (may exceed 1 past the end).
    Between(usize, f64),
    /// The mean of breakpoints k-1 and k (same time, past the end).
    Mean(usize),
}

fn locate(times_ms: &[f64], t_ms: f64) -> Position {
    let last = times_ms.len() - 1;
    let k = if t_ms >= times_ms[last] {
        if last == 0 {
            return Position::At(0);
        }
        last
    } else if t_ms <= times_ms[0] {
        return Position::At(0);
    } else {
        // The first breakpoint later than t; exists because t < times[last].
        times_ms.partition_point(|&x| x <= t_ms)
    };
    let (t0, t1) = (times_ms[k - 1], times_ms[k]);
    if t0 == t1 {
        Position::Mean(k)
    } else {
        Position::Between(k, (t_ms - t0) / (t1 - t0))
    }
}

fn value_at(values: &[f64], pos: Position) -> f64 {
    match pos {
        Position::At(k) => values[k],
        Position::Between(k, theta) => {
            let (x0, x1) = (values[k - 1], values[k]);
            x0 + (x1 - x0) * theta
        }
        Position::Mean(k) => (values[k - 1] + values[k]) / 2.0,
    }
}

impl Clamp {
    /// Whether the clamp injects at `t_ms` (IClamp's window).
    pub fn is_on(&self, t_ms: f64) -> bool {
        t_ms < self.stop_ms && t_ms >= self.delay_ms
    }

    /// The amplitude lane `lane` has at `t_ms`, window aside [nA].
    pub fn amplitude_na(&self, lane: usize, t_ms: f64) -> f64 {
        match &self.amplitude {
            Amplitude::Fixed(a) => a[lane],
            Amplitude::Played {
                times_ms,
                values_na,
            } => {
                let n = times_ms.len();
                value_at(&values_na[lane * n..(lane + 1) * n], locate(times_ms, t_ms))
            }
        }
    }

    /// The current the clamp injects in lane `lane` at `t_ms` [nA].
    pub fn current_na(&self, lane: usize, t_ms: f64) -> f64 {
        if self.is_on(t_ms) {
            self.amplitude_na(lane, t_ms)
        } else {
            0.0
        }
    }
}

/// The electrode currents of one protocol for a batch of lanes.
#[derive(Clone, Debug, PartialEq)]
pub struct StimulusProgram {
    pub protocol: String,
    pub lanes: usize,
    /// How long the protocol runs [ms] (the largest total duration of its stimuli).
    pub tstop_ms: f64,
    /// In the order NEURON creates them (the order their currents are summed).
    pub clamps: Vec<Clamp>,
}

impl StimulusProgram {
    /// Total current of lane `lane` at `t_ms`: the clamps' currents summed in order [nA].
    pub fn current_na(&self, lane: usize, t_ms: f64) -> f64 {
        self.clamps
            .iter()
            .fold(0.0, |sum, c| sum + c.current_na(lane, t_ms))
    }

    /// Adds every clamp's current at `t_ms` to `out_na[lane]`, clamp by clamp in order (the
    /// hot-loop form: window test and breakpoint search once per clamp, not per lane).
    ///
    /// # Panics
    /// When `out_na` does not hold one value per lane.
    pub fn add_currents_na(&self, t_ms: f64, out_na: &mut [f64]) {
        assert_eq!(out_na.len(), self.lanes, "one output per lane");
        for c in &self.clamps {
            if !c.is_on(t_ms) {
                continue;
            }
            match &c.amplitude {
                Amplitude::Fixed(a) => {
                    for (o, a) in out_na.iter_mut().zip(a) {
                        *o += a;
                    }
                }
                Amplitude::Played {
                    times_ms,
                    values_na,
                } => {
                    let pos = locate(times_ms, t_ms);
                    for (o, v) in out_na
                        .iter_mut()
                        .zip(values_na.chunks_exact(times_ms.len()))
                    {
                        *o += value_at(v, pos);
                    }
                }
            }
        }
    }

    /// The clock of a run of this protocol with step `dt_ms`.
    pub fn clock(&self, dt_ms: f64) -> FixedStepClock {
        FixedStepClock::new(dt_ms, self.tstop_ms)
    }
}

/// NEURON's fixed-step clock (`h.run()` with `cvode_active(0)`): t starts at 0, each step adds
/// dt/2 (currents are computed at that time), then dt/2 again; steps are taken while
/// `t < tstop − dt/2`. Recordings are made at t = 0 and after every step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedStepClock {
    pub dt_ms: f64,
    pub tstop_ms: f64,
    /// The current time [ms], accumulated as NEURON does.
    pub t_ms: f64,
}

/// The two times of one step [ms].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepTimes {
    /// When the step's currents (and clamps) are evaluated: t + dt/2.
    pub mid_ms: f64,
    /// The time after the step (what NEURON records with the step's results).
    pub end_ms: f64,
}

impl FixedStepClock {
    pub fn new(dt_ms: f64, tstop_ms: f64) -> FixedStepClock {
        FixedStepClock {
            dt_ms,
            tstop_ms,
            t_ms: 0.0,
        }
    }

    /// Whether NEURON's run loop takes another step.
    pub fn running(&self) -> bool {
        self.t_ms < self.tstop_ms - self.dt_ms / 2.0
    }

    /// Advances by one step and returns its times.
    pub fn advance(&mut self) -> StepTimes {
        let mid_ms = self.t_ms + 0.5 * self.dt_ms;
        let end_ms = mid_ms + 0.5 * self.dt_ms;
        self.t_ms = end_ms;
        StepTimes { mid_ms, end_ms }
    }

    /// The times NEURON records samples at [ms]: 0, then the end of every step (a run of
    /// `steps(dt, tstop).len()` steps has one sample more).
    pub fn sample_times_ms(dt_ms: f64, tstop_ms: f64) -> Vec<f64> {
        std::iter::once(0.0)
            .chain(Self::steps(dt_ms, tstop_ms).into_iter().map(|s| s.end_ms))
            .collect()
    }

    /// The times of every step of the run, from t = 0.
    pub fn steps(dt_ms: f64, tstop_ms: f64) -> Vec<StepTimes> {
        let mut clock = FixedStepClock::new(dt_ms, tstop_ms);
        let mut out = Vec::new();
        while clock.running() {
            out.push(clock.advance());
        }
        out
    }
}
