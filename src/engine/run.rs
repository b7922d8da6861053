//! The run driver's vocabulary: a [`Batch`] (lanes sharing one [`CellModel`]), what to record
//! ([`Probe`]s, an optional [`SpikeDetector`]), how long and how finely ([`RunConfig`]), and what
//! comes back ([`RunOutput`]: per lane its traces, its spike times and, if it failed, when and
//! where).

use crate::diag::{Diagnostic, Diagnostics};
use crate::engine::stimulus::{Amplitude, StimulusProgram};
use crate::ir::IonVar;
use crate::layout::Node;
use std::sync::Arc;

use super::model::{CellModel, LaneValues};

/// One lane: its numbers and its electrodes.
#[derive(Clone, Debug, PartialEq)]
pub struct LaneSpec {
    pub values: LaneValues,
    /// The electrode currents it receives (`None`: no `IClamp`).
    pub stimulus: Option<LaneStimulus>,
}

/// Where a lane's electrode currents come from: lane `lane` of a stimulus program (shared by
/// the lanes built from it), injected at `node`. The program's clamps add in their order, each
/// one evaluated as NEURON evaluates an `IClamp` at `t + dt/2`.
#[derive(Clone, Debug, PartialEq)]
pub struct LaneStimulus {
    pub node: Node,
    pub program: Arc<StimulusProgram>,
    pub lane: usize,
}

impl LaneStimulus {
    /// One [`LaneStimulus`] per lane of `program`, all at `node`.
    pub fn lanes_of(program: StimulusProgram, node: Node) -> Vec<LaneStimulus> {
        let program = Arc::new(program);
        (0..program.lanes)
            .map(|lane| LaneStimulus {
                node,
                program: program.clone(),
                lane,
            })
            .collect()
    }
}

/// Lanes sharing one structure.
#[derive(Clone, Debug)]
pub struct Batch<'m> {
    pub model: &'m CellModel,
    pub lanes: Vec<LaneSpec>,
}

/// A recorded quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// Membrane potential [mV].
    V,
    /// A value of ion species `ion` (index in [`CellModel::ions`]): concentration [mM], reversal
    /// potential [mV] or total current [mA/cm²].
    Ion { ion: usize, var: IonVar },
}

/// What to record where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub node: Node,
    pub quantity: Quantity,
}

/// How long and how finely a batch is run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    pub dt_ms: f64,
    /// Number of fixed steps.
    pub steps: usize,
    /// Record every this many steps (1: every step; t = 0 is always recorded).
    pub record_every: usize,
    pub probes: Vec<Probe>,
    /// Spikes detected every step, whatever `record_every` (`None`: no detection).
    pub spike_detector: Option<SpikeDetector>,
}

/// Spike detection during a run: every step, an upward crossing of `threshold_mv` by the
/// membrane potential at `node` is a spike, its time interpolated linearly between the two steps
/// exactly as [`super::spikes::spike_times_ms`] interpolates an every-step trace whose sample
/// `k` is at `k · dt` (so the spikes equal those found afterwards on a full trace, bit for bit).
/// A lane keeps its first `capacity` spikes; later ones are counted ([`LaneSpikes::dropped`]).
/// Detection stops when the lane fails.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpikeDetector {
    pub node: Node,
    pub threshold_mv: f64,
    /// Spike times kept per lane.
    pub capacity: usize,
}

impl SpikeDetector {
    /// Spike times kept per lane unless told otherwise.
    pub const DEFAULT_CAPACITY: usize = 256;
    /// The largest capacity a run accepts.
    pub const MAX_CAPACITY: usize = 1 << 16;

    /// A detector at `node` with [`SpikeDetector::DEFAULT_CAPACITY`].
    pub fn new(node: Node, threshold_mv: f64) -> SpikeDetector {
        SpikeDetector {
            node,
            threshold_mv,
            capacity: SpikeDetector::DEFAULT_CAPACITY,
        }
    }
}

/// One lane's detected spikes.
#[derive(Clone, Debug, PartialEq)]
pub struct LaneSpikes {
    /// The first (at most `capacity`) spike times [ms], ascending.
    pub times_ms: Vec<f64>,
    /// Spikes detected beyond the capacity, not kept (0: none lost).
    pub dropped: usize,
}

impl LaneSpikes {
    /// The spikes of a lane from a detector's records: per kept crossing, the step `s` at which
    /// the voltage reached the threshold, the voltage at step `s − 1` and at step `s` [mV];
    /// `count` is the number of crossings detected (kept or not). Each time is
    /// [`super::spikes::spike_times_ms`] over the two samples at `(s − 1) · dt` and `s · dt`.
    pub fn from_records(
        detector: &SpikeDetector,
        dt_ms: f64,
        count: usize,
        records: impl IntoIterator<Item = (u32, f64, f64)>,
    ) -> LaneSpikes {
        let mut times_ms = Vec::new();
        for (step, v0, v1) in records {
            let t = [f64::from(step.max(1) - 1) * dt_ms, f64::from(step) * dt_ms];
            times_ms.extend(super::spikes::spike_times_ms(
                &t,
                &[v0, v1],
                detector.threshold_mv,
            ));
        }
        LaneSpikes {
            dropped: count.saturating_sub(times_ms.len()),
            times_ms,
        }
    }
}

impl RunConfig {
    /// The steps NEURON's `run()` takes to reach `tstop_ms` with fixed step `dt_ms`, counted
    /// with the same clock the stimulus layer uses ([`crate::engine::stimulus::FixedStepClock`]:
    /// 12000 steps and 12001 samples for 300 ms at 0.025 ms).
    pub fn steps_for(tstop_ms: f64, dt_ms: f64) -> usize {
        if !(dt_ms > 0.0 && tstop_ms.is_finite()) {
            return 0;
        }
        let mut clock = crate::engine::stimulus::FixedStepClock::new(dt_ms, tstop_ms);
        let mut steps = 0;
        while clock.running() {
            clock.advance();
            steps += 1;
        }
        steps
    }

    /// Number of samples per trace.
    pub fn samples(&self) -> usize {
        self.steps / self.record_every.max(1) + 1
    }

    /// Time between samples [ms].
    pub fn record_dt_ms(&self) -> f64 {
        self.dt_ms * self.record_every.max(1) as f64
    }
}

/// Why a lane stopped producing meaningful values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LaneFailure {
    /// Simulation time at which it was detected [ms].
    pub t_ms: f64,
    pub node: Node,
    /// The offending voltage [mV] (NaN, or beyond ±1000 mV).
    pub v_mv: f64,
}

/// One lane's results.
#[derive(Clone, Debug, PartialEq)]
pub struct LaneResult {
    /// One trace per probe, `RunConfig::samples()` values each; NaN from the failure on.
    pub traces: Vec<Vec<f64>>,
    pub failure: Option<LaneFailure>,
    /// The detected spikes (`None`: no [`SpikeDetector`] in the run configuration).
    pub spikes: Option<LaneSpikes>,
}

/// The results of a batch, lane by lane in batch order.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutput {
    pub lanes: Vec<LaneResult>,
    pub record_dt_ms: f64,
}

/// The bound beyond which a membrane potential means the lane has failed [mV].
pub const FAILURE_BOUND_MV: f64 = 1000.0;

/// Checks a batch and a run configuration before a backend runs them.
pub fn check(batch: &Batch, config: &RunConfig) -> Diagnostics {
    let mut d = Diagnostics::new();
    let model = batch.model;
    let src = model.source.clone();
    let mut bad =
        |kind: &'static str, msg: String| d.push(Diagnostic::error(kind, &src, None, msg));
    if !(config.dt_ms.is_finite() && config.dt_ms > 0.0) {
        bad(
            "bad-dt",
            format!("dt must be positive, not {}", config.dt_ms),
        );
    }
    if config.record_every == 0 {
        bad("bad-record", "record_every must be at least 1".into());
    }
    if batch.lanes.is_empty() {
        bad("empty-batch", "the batch has no lanes".into());
    }
    let n = model.node_count();
    if let Some(sd) = &config.spike_detector {
        if sd.node.index() >= n {
            bad(
                "bad-spike-detector",
                format!("spike detector at node {} of {n}", sd.node.0),
            );
        }
        if !sd.threshold_mv.is_finite() {
            bad(
                "bad-spike-detector",
                format!("spike threshold must be finite, not {}", sd.threshold_mv),
            );
        }
        if sd.capacity == 0 || sd.capacity > SpikeDetector::MAX_CAPACITY {
            bad(
                "bad-spike-detector",
                format!(
                    "spike capacity must be 1 to {}, not {}",
                    SpikeDetector::MAX_CAPACITY,
                    sd.capacity
                ),
            );
        }
    }
    for (k, p) in config.probes.iter().enumerate() {
        if p.node.index() >= n {
            bad("bad-probe", format!("probe {k}: node {} of {n}", p.node.0));
        } else if let Quantity::Ion { ion, .. } = p.quantity {
            match model.ions.get(ion) {
                None => bad("bad-probe", format!("probe {k}: no ion species {ion}")),
                Some(s) if s.styles[p.node.index()].is_none() => bad(
                    "bad-probe",
                    format!(
                        "probe {k}: ion `{}` is not present at node {}",
                        s.name, p.node.0
                    ),
                ),
                _ => {}
            }
        }
    }
    for (l, lane) in batch.lanes.iter().enumerate() {
        let v = &lane.values;
        let shapes_ok = v.cm_uf_cm2.len() == n
            && v.fields.len() == model.mechanisms.len()
            && v.fields.iter().zip(&model.mechanisms).all(|(f, m)| {
                f.len() == m.ir.fields.len() && f.iter().all(|c| c.len() == m.nodes.len())
            })
            && v.ions.len() == model.ions.len()
            && v.ions.iter().all(|s| s.len() == n);
        if !shapes_ok {
            bad(
                "lane-shape",
                format!("lane {l}: values not made for this cell structure"),
            );
        }
        if let Some(st) = &lane.stimulus {
            if st.node.index() >= n {
                bad(
                    "bad-electrode",
                    format!("lane {l}: electrode at node {} of {n}", st.node.0),
                );
            }
            let p = &st.program;
            if st.lane >= p.lanes {
                bad(
                    "bad-electrode",
                    format!(
                        "lane {l}: stimulus lane {} of {} in `{}`",
                        st.lane, p.lanes, p.protocol
                    ),
                );
            }
            let shapes_ok = p.clamps.iter().all(|c| match &c.amplitude {
                Amplitude::Fixed(a) => a.len() == p.lanes,
                Amplitude::Played {
                    times_ms,
                    values_na,
                } => !times_ms.is_empty() && values_na.len() == times_ms.len() * p.lanes,
            });
            if !shapes_ok {
                bad(
                    "bad-electrode",
                    format!(
                        "lane {l}: stimulus `{}` has amplitudes for other lane counts",
                        p.protocol
                    ),
                );
            }
        }
    }
    d
}
