//! The CPU backend: executes the schedule for blocks of lanes, in f64 or f32, with the kernels of
//! `kernels-cpu` (mechanism register programs, the Hines solve).
//!
//! The lanes of a batch are cut into blocks of at most `block_lanes` lanes; each block owns its
//! interleaved arrays (`row · lanes_padded + lane`, see `crate::layout`) and runs the whole
//! simulation on its own, so blocks run in parallel (rayon) without synchronisation. Padding
//! lanes simulate a copy of the block's last real lane and are dropped.
//!
//! Every value a lane computes depends only on that lane's inputs, through the same sequence of
//! IEEE-754 operations whatever the block width or the lane's position: a lane run alone and the
//! same lane inside any batch give bit-identical results. Mechanism programs read per-instance
//! columns: node values (voltage, ion values, the current and conductance accumulators) are
//! gathered into them before a kernel and the written ones scattered back after it.
//!
//! The right-hand side is accumulated as `Σ i` (membrane currents minus electrode currents, in
//! row units) and negated before the solve: by the symmetry of IEEE rounding this equals NEURON's
//! `rhs −= i` / `rhs += i_electrode` sequence bit for bit.

use rayon::prelude::*;

use kernels_cpu::cable::{cable_step, na_to_row_units, Cable, NodeCoefficients, Tree};

use crate::diag::{Diagnostic, Diagnostics};
use crate::emit::cpu::Column;
use crate::engine::model::{ktf_mv, CellModel};
use crate::engine::run::FAILURE_BOUND_MV;
use crate::engine::{
    Batch, LaneFailure, LaneResult, LaneSpec, Phase, Quantity, RunConfig, RunOutput, Schedule,
};
use crate::ir::{Hook, IonVar, SimVar};
use crate::layout::{blocks, Interleaved, Node};

use super::{Backend, Precision};

use kernels_cpu::mechanism::{
    Column as MechColumn, Kernel, Op, Output, Program, ProgramError, Workspace,
};

/// The floating-point types the CPU backend runs in.
pub trait Float: kernels_cpu::Real + kernels_cpu::mechanism::Real {}
impl Float for f32 {}
impl Float for f64 {}

#[inline(always)]
fn real<R: Float>(x: f64) -> R {
    <R as kernels_cpu::Real>::from_f64(x)
}

#[inline(always)]
fn wide<R: Float>(x: R) -> f64 {
    <R as kernels_cpu::Real>::to_f64(x)
}

/// The CPU backend's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuBackend {
    pub precision: Precision,
    /// Lanes per block at most (one rayon task each; fewer when the batch would otherwise leave
    /// threads of the pool idle).
    pub block_lanes: usize,
    /// Lanes per block are padded to a multiple of this.
    pub align: usize,
}

impl CpuBackend {
    pub fn new(precision: Precision) -> CpuBackend {
        CpuBackend {
            precision,
            // wide enough that a mechanism instance fills most of an f64 chunk (64 slots) and
            // the per-node loops run over whole vectors; 16 was 20 % slower in f32
            block_lanes: 32,
            align: 1,
        }
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        format!("cpu-{}", self.precision.name())
    }

    fn precision(&self) -> Precision {
        self.precision
    }

    fn parallel_batches(&self) -> bool {
        true
    }

    fn run(
        &self,
        batch: &Batch,
        schedule: &Schedule,
        config: &RunConfig,
    ) -> Result<RunOutput, Diagnostics> {
        match self.precision {
            Precision::F64 => run_blocks::<f64>(self, batch, schedule, config),
            Precision::F32 => run_blocks::<f32>(self, batch, schedule, config),
        }
    }
}

fn run_blocks<R: Float>(
    backend: &CpuBackend,
    batch: &Batch,
    schedule: &Schedule,
    config: &RunConfig,
) -> Result<RunOutput, Diagnostics> {
    // as wide as allowed, but at least one block per thread of the pool when lanes allow
    let per_thread = batch
        .lanes
        .len()
        .div_ceil(rayon::current_num_threads().max(1));
    let ranges = blocks(
        batch.lanes.len(),
        backend.block_lanes.min(per_thread.max(1)),
    );
    let results: Vec<Result<Vec<LaneResult>, Diagnostics>> = ranges
        .par_iter()
        .map(|r| {
            let specs: Vec<&LaneSpec> = batch.lanes[r.clone()].iter().collect();
            let mut block = Block::<R>::new(batch.model, &specs, backend.align, config)?;
            block.simulate(schedule, config);
            Ok(block.into_results())
        })
        .collect();
    let mut lanes = Vec::with_capacity(batch.lanes.len());
    for r in results {
        lanes.extend(r?);
    }
    Ok(RunOutput {
        lanes,
        record_dt_ms: config.record_dt_ms(),
    })
}

/// Where a gathered column comes from (and a scattered one goes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NodeSource {
    V,
    Ion(usize, IonVar),
    AccCurrent,
    AccConductance,
}

/// What to do around one kernel of one mechanism.
#[derive(Clone, Debug)]
struct KernelPlan {
    kernel: Kernel,
    /// The column holding `t`, if the kernel reads it.
    t_column: Option<usize>,
    /// Ions (model indices) whose concentration the kernel writes.
    writes_concentration_of: Vec<usize>,
}

struct MechState<R> {
    /// Per-instance columns (those backed by node arrays are unused).
    cols: Vec<Vec<R>>,
    /// Per column, the node array it reads and writes through `rows`, if any.
    sources: Vec<Option<NodeSource>>,
    /// The node of each instance.
    rows: Vec<u32>,
    init: KernelPlan,
    current: KernelPlan,
    state: KernelPlan,
    /// Per hook (init, current, state), the kernel's scratch memory.
    workspaces: [Workspace<R>; 3],
}

struct IonState<R> {
    erev: Vec<R>,
    inside: Vec<R>,
    outside: Vec<R>,
    current: Vec<R>,
}

/// The position of `var` in [`IonState`]'s arrays (erev, inside, outside, current).
fn ion_var_index(var: IonVar) -> usize {
    match var {
        IonVar::Erev => 0,
        IonVar::Inside => 1,
        IonVar::Outside => 2,
        IonVar::Current => 3,
    }
}

impl<R> IonState<R> {
    fn array(&self, var: IonVar) -> &Vec<R> {
        match var {
            IonVar::Erev => &self.erev,
            IonVar::Inside => &self.inside,
            IonVar::Outside => &self.outside,
            IonVar::Current => &self.current,
        }
    }
}

/// One block of lanes and everything it simulates.
struct Block<'a, R> {
    model: &'a CellModel,
    lay: Interleaved,
    /// The spec of each slot (padding slots repeat the last real lane).
    specs: Vec<&'a LaneSpec>,
    v: Vec<R>,
    acc_i: Vec<R>,
    acc_g: Vec<R>,
    rhs: Vec<R>,
    d: Vec<R>,
    cm: Vec<R>,
    cable: Cable<R>,
    ions: Vec<IonState<R>>,
    mechs: Vec<MechState<R>>,
    /// `ktf / valence` per ion species and slot [mV], for Nernst.
    nernst_coef: Vec<Vec<R>>,
    /// Per slot: nA → row units at its electrode's node.
    electrode_scale: Vec<f64>,
    dt_ms: f64,
    t_ms: f64,
    step: usize,
    /// With a spike detector in the run configuration: its state.
    spikes: Option<SpikeLanes<R>>,
    failures: Vec<Option<LaneFailure>>,
    /// `traces[slot][probe]`.
    traces: Vec<Vec<Vec<f64>>>,
}

/// Per column of mechanism `m`, the node array behind it, if any.
fn sources(model: &CellModel, m: usize) -> Vec<Option<NodeSource>> {
    let pm = &model.mechanisms[m];
    pm.cpu
        .columns
        .iter()
        .map(|c| match *c {
            Column::Sim(SimVar::V) => Some(NodeSource::V),
            Column::Ion(i, var) => Some(NodeSource::Ion(pm.ion_index[i.index()], var)),
            Column::Current => Some(NodeSource::AccCurrent),
            Column::Conductance => Some(NodeSource::AccConductance),
            _ => None,
        })
        .collect()
}

fn plan(model: &CellModel, m: usize, program: &Program) -> Result<KernelPlan, ProgramError> {
    let pm = &model.mechanisms[m];
    let cols = &pm.cpu.columns;
    let kernel = program.compile(cols.len())?;
    let reads_t = program.ops.iter().find_map(|op| match *op {
        Op::Read { column, .. } if cols[column as usize] == Column::Sim(SimVar::T) => {
            Some(column as usize)
        }
        _ => None,
    });
    let mut writes_concentration_of = Vec::new();
    for o in &program.outputs {
        let c = match *o {
            Output::Set { column, .. } | Output::Add { column, .. } => column as usize,
        };
        if let Column::Ion(i, var) = cols[c] {
            let ion = pm.ion_index[i.index()];
            if var.is_concentration() && !writes_concentration_of.contains(&ion) {
                writes_concentration_of.push(ion);
            }
        }
    }
    Ok(KernelPlan {
        kernel,
        t_column: reads_t,
        writes_concentration_of,
    })
}

impl<'a, R: Float> Block<'a, R> {
    fn new(
        model: &'a CellModel,
        lanes: &[&'a LaneSpec],
        align: usize,
        config: &RunConfig,
    ) -> Result<Self, Diagnostics> {
        let lay = Interleaved::new(lanes.len(), align);
        let w = lay.lanes_padded();
        let specs: Vec<&LaneSpec> = (0..w).map(|s| lanes[s.min(lanes.len() - 1)]).collect();
        let n = model.node_count();
        let fail = |msg: String| {
            let mut d = Diagnostics::new();
            d.push(Diagnostic::error("cable", &model.source, None, msg));
            d
        };
        let tree = Tree::new(&model.parents).map_err(|e| fail(e.to_string()))?;
        let mut cable =
            Cable::<R>::uniform(tree, w, &model.coefficients).map_err(|e| fail(e.to_string()))?;
        for (slot, spec) in specs.iter().enumerate() {
            if let Some(c) = &spec.values.coefficients {
                cable
                    .set_lane(slot, c as &NodeCoefficients)
                    .map_err(|e| fail(e.to_string()))?;
            }
        }
        let node_array = |f: &dyn Fn(&LaneSpec, usize) -> f64| -> Vec<R> {
            let mut a = vec![real::<R>(0.0); lay.len(n)];
            for node in 0..n {
                for (slot, spec) in specs.iter().enumerate() {
                    a[node * w + slot] = real(f(spec, node));
                }
            }
            a
        };
        let cm = node_array(&|s, node| s.values.cm_uf_cm2[node]);
        let ions: Vec<IonState<R>> = (0..model.ions.len())
            .map(|k| IonState {
                erev: node_array(&|s, node| s.values.ions[k][node].erev_mv),
                inside: node_array(&|s, node| s.values.ions[k][node].inside_mm),
                outside: node_array(&|s, node| s.values.ions[k][node].outside_mm),
                current: vec![real(0.0); lay.len(n)],
            })
            .collect();
        let disc = &model.cell().disc;
        let mut mechs = Vec::with_capacity(model.mechanisms.len());
        for (m, pm) in model.mechanisms.iter().enumerate() {
            let n_inst = pm.nodes.len();
            let mut cols = Vec::with_capacity(pm.cpu.columns.len());
            for col in &pm.cpu.columns {
                let mut a = vec![real::<R>(0.0); lay.len(n_inst)];
                for i in 0..n_inst {
                    let seg = &disc.segments[pm.segments[i].0 as usize];
                    for (slot, spec) in specs.iter().enumerate() {
                        let value = match *col {
                            Column::Field(f) => spec.values.fields[m][f.index()][i],
                            Column::Sim(SimVar::Diam) => seg.diam_um,
                            Column::Sim(SimVar::Area) => seg.area_um2,
                            Column::Sim(SimVar::Celsius) => spec.values.celsius,
                            Column::Sim(SimVar::Dt) => config.dt_ms,
                            _ => 0.0,
                        };
                        a[i * w + slot] = real(value);
                    }
                }
                cols.push(a);
            }
            let planned = |hook: Hook| {
                plan(model, m, pm.cpu.program(hook)).map_err(|e| {
                    let mut d = Diagnostics::new();
                    d.push(Diagnostic::error(
                        "internal",
                        &model.source,
                        None,
                        format!(
                            "mechanism `{}`: {hook:?} program invalid ({e:?}); a bug",
                            pm.suffix
                        ),
                    ));
                    d
                })
            };
            let (init, current, state) = (
                planned(Hook::Init)?,
                planned(Hook::Current)?,
                planned(Hook::State)?,
            );
            mechs.push(MechState {
                cols,
                sources: sources(model, m),
                rows: pm.nodes.iter().map(|n| n.0).collect(),
                workspaces: [
                    init.kernel.workspace(),
                    current.kernel.workspace(),
                    state.kernel.workspace(),
                ],
                init,
                current,
                state,
            });
        }
        let nernst_coef = model
            .ions
            .iter()
            .map(|s| {
                specs
                    .iter()
                    .map(|spec| real::<R>(ktf_mv(spec.values.celsius)) / real::<R>(s.valence))
                    .collect()
            })
            .collect();
        let electrode_scale = specs
            .iter()
            .map(|spec| {
                spec.stimulus
                    .as_ref()
                    .map_or(0.0, |st| na_to_row_units(model.area_um2[st.node.index()]))
            })
            .collect();
        let real_lanes = lanes.len();
        Ok(Block {
            model,
            lay,
            specs,
            v: vec![real(0.0); lay.len(n)],
            acc_i: vec![real(0.0); lay.len(n)],
            acc_g: vec![real(0.0); lay.len(n)],
            rhs: vec![real(0.0); lay.len(n)],
            d: vec![real(0.0); lay.len(n)],
            cm,
            cable,
            ions,
            mechs,
            nernst_coef,
            electrode_scale,
            dt_ms: config.dt_ms,
            t_ms: 0.0,
            step: 0,
            spikes: config
                .spike_detector
                .map(|sd| SpikeLanes::new(sd, real_lanes)),
            failures: vec![None; real_lanes],
            traces: vec![
                vec![Vec::with_capacity(config.samples()); config.probes.len()];
                real_lanes
            ],
        })
    }

    fn simulate(&mut self, schedule: &Schedule, config: &RunConfig) {
        self.t_ms = 0.0;
        self.step = 0;
        for phase in &schedule.init {
            self.phase(*phase, config);
        }
        for step in 1..=config.steps {
            self.step = step;
            for phase in &schedule.step {
                self.phase(*phase, config);
            }
        }
    }

    fn phase(&mut self, phase: Phase, config: &RunConfig) {
        match phase {
            Phase::SetVoltage => {
                let w = self.lay.lanes_padded();
                for (k, x) in self.v.iter_mut().enumerate() {
                    *x = real(self.specs[k % w].values.v_init_mv);
                }
            }
            Phase::IonInit => self.ion_init(),
            Phase::Init(m) => self.kernel(m, Hook::Init),
            Phase::ClearMatrix => {
                self.acc_i.iter_mut().for_each(|x| *x = real(0.0));
                self.acc_g.iter_mut().for_each(|x| *x = real(0.0));
            }
            Phase::IonCurrents => self.ion_currents(),
            Phase::Current(m) => self.kernel(m, Hook::Current),
            Phase::Electrodes => self.electrodes(),
            Phase::Cable => {
                for ((r, d), (&i, &g)) in self
                    .rhs
                    .iter_mut()
                    .zip(self.d.iter_mut())
                    .zip(self.acc_i.iter().zip(&self.acc_g))
                {
                    *r = -i;
                    *d = g;
                }
                cable_step(
                    &self.cable,
                    &self.cm,
                    self.dt_ms,
                    &mut self.v,
                    &mut self.rhs,
                    &mut self.d,
                );
            }
            Phase::HalfStep => self.t_ms += 0.5 * self.dt_ms,
            Phase::State(m) => self.kernel(m, Hook::State),
            Phase::CheckLanes => {
                self.check_lanes();
                self.detect_spikes();
            }
            Phase::Record => {
                if self.step.is_multiple_of(config.record_every.max(1)) {
                    self.record(config);
                }
            }
        }
    }

    /// Nernst potential of ion species `s` from concentrations, for slot `slot`.
    #[inline]
    fn nernst(&self, s: usize, slot: usize, inside: R, outside: R) -> R {
        let z = self.model.ions[s].valence;
        if z == 0.0 {
            real(0.0)
        } else if inside <= real(0.0) {
            real(1e6)
        } else if outside <= real(0.0) {
            real(-1e6)
        } else {
            self.nernst_coef[s][slot] * kernels_cpu::mechanism::Real::ln(outside / inside)
        }
    }

    /// Reversal potential from Nernst at `node` for every slot.
    fn nernst_node(&mut self, s: usize, node: usize) {
        let w = self.lay.lanes_padded();
        for slot in 0..w {
            let k = node * w + slot;
            let e = self.nernst(s, slot, self.ions[s].inside[k], self.ions[s].outside[k]);
            self.ions[s].erev[k] = e;
        }
    }

    fn ion_init(&mut self) {
        let w = self.lay.lanes_padded();
        for s in 0..self.model.ions.len() {
            let species = &self.model.ions[s];
            let (ci, co) = (
                real::<R>(species.defaults.inside_mm),
                real::<R>(species.defaults.outside_mm),
            );
            for node in 0..self.model.node_count() {
                let Some(style) = species.styles[node] else {
                    continue;
                };
                if style.cinit {
                    for k in node * w..(node + 1) * w {
                        self.ions[s].inside[k] = ci;
                        self.ions[s].outside[k] = co;
                    }
                }
            }
            for node in 0..self.model.node_count() {
                if species.styles[node].is_some_and(|st| st.einit) {
                    self.nernst_node(s, node);
                }
            }
        }
    }

    fn ion_currents(&mut self) {
        for s in 0..self.model.ions.len() {
            self.ions[s].current.iter_mut().for_each(|x| *x = real(0.0));
            for node in 0..self.model.node_count() {
                if self.model.ions[s].styles[node].is_some_and(|st| st.eadvance) {
                    self.nernst_node(s, node);
                }
            }
        }
    }

    fn electrodes(&mut self) {
        let w = self.lay.lanes_padded();
        let t = self.t_ms;
        for slot in 0..w {
            let Some(st) = &self.specs[slot].stimulus else {
                continue;
            };
            let scale = self.electrode_scale[slot];
            let k = st.node.index() * w + slot;
            // clamp by clamp, in NEURON's order: each IClamp adds its own current
            for c in &st.program.clamps {
                let amp = c.current_na(st.lane, t);
                if amp != 0.0 {
                    // NEURON: rhs += i · (100 / area); here Σ i, so subtract
                    self.acc_i[k] -= real::<R>(amp * scale);
                }
            }
        }
    }

    fn kernel(&mut self, m: usize, hook: Hook) {
        let w = self.lay.lanes_padded();
        let model = self.model;
        let pm = &model.mechanisms[m];
        let t = real::<R>(self.t_ms);
        let Block {
            v,
            acc_i,
            acc_g,
            ions,
            mechs,
            ..
        } = self;
        let state = &mut mechs[m];
        let (plan, ws) = match hook {
            Hook::Init => (&state.init, &mut state.workspaces[0]),
            Hook::Current => (&state.current, &mut state.workspaces[1]),
            Hook::State => (&state.state, &mut state.workspaces[2]),
        };
        if let Some(c) = plan.t_column {
            state.cols[c].iter_mut().for_each(|x| *x = t);
        }
        // node values are read and written in place through the instances' rows
        let mut node_arrays: Vec<[Option<&mut Vec<R>>; 4]> = ions
            .iter_mut()
            .map(|s| {
                [
                    Some(&mut s.erev),
                    Some(&mut s.inside),
                    Some(&mut s.outside),
                    Some(&mut s.current),
                ]
            })
            .collect();
        let (mut v, mut acc_i, mut acc_g) = (Some(v), Some(acc_i), Some(acc_g));
        let rows = &state.rows[..];
        let mut columns: Vec<MechColumn<R>> = state
            .cols
            .iter_mut()
            .zip(&state.sources)
            .map(|(own, src)| {
                let array = match *src {
                    Some(NodeSource::V) => v.take(),
                    Some(NodeSource::AccCurrent) => acc_i.take(),
                    Some(NodeSource::AccConductance) => acc_g.take(),
                    Some(NodeSource::Ion(s, var)) => node_arrays[s][ion_var_index(var)].take(),
                    None => None,
                };
                match array {
                    Some(data) => MechColumn::Rows {
                        data: data.as_mut_slice(),
                        rows,
                    },
                    None => MechColumn::Direct(own.as_mut_slice()),
                }
            })
            .collect();
        // checked in `Block::new`: every column exists and all have one length
        let ran = plan.kernel.run(ws, &mut columns, rows.len(), w);
        debug_assert!(ran.is_ok(), "{}: {ran:?}", pm.suffix);
        drop(columns);
        if hook == Hook::Init {
            // nrn_wrote_conc: the reversal potential follows a concentration written in INITIAL
            let ions = self.mechs[m].init.writes_concentration_of.clone();
            for s in ions {
                for node in &pm.nodes {
                    if model.ions[s].styles[node.index()].is_some_and(|st| st.einit) {
                        self.nernst_node(s, node.index());
                    }
                }
            }
        }
    }

    fn check_lanes(&mut self) {
        let w = self.lay.lanes_padded();
        let bound = real::<R>(FAILURE_BOUND_MV);
        for (slot, failure) in self.failures.iter_mut().enumerate() {
            if failure.is_some() {
                continue;
            }
            for node in 0..self.model.node_count() {
                let v = self.v[node * w + slot];
                // written so that NaN fails too
                if !(v <= bound && v >= -bound) {
                    *failure = Some(LaneFailure {
                        t_ms: self.t_ms,
                        node: Node(node as u32),
                        v_mv: wide(v),
                    });
                    break;
                }
            }
        }
    }

    fn record(&mut self, config: &RunConfig) {
        let w = self.lay.lanes_padded();
        for (slot, traces) in self.traces.iter_mut().enumerate() {
            let failed = self.failures[slot].is_some();
            for (p, probe) in config.probes.iter().enumerate() {
                let k = probe.node.index() * w + slot;
                let value = if failed {
                    f64::NAN
                } else {
                    wide(match probe.quantity {
                        Quantity::V => self.v[k],
                        Quantity::Ion { ion, var } => self.ions[ion].array(var)[k],
                    })
                };
                traces[p].push(value);
            }
        }
    }

    fn into_results(self) -> Vec<LaneResult> {
        let spikes = self.spikes.map(|sp| sp.into_lanes(self.dt_ms));
        self.traces
            .into_iter()
            .zip(self.failures)
            .enumerate()
            .map(|(lane, (traces, failure))| LaneResult {
                traces,
                failure,
                spikes: spikes.as_ref().map(|s| s[lane].clone()),
            })
            .collect()
    }
}

impl<R: Float> Block<'_, R> {
    /// After the lane check: the spike detector, if the run has one.
    fn detect_spikes(&mut self) {
        if let Some(sp) = &mut self.spikes {
            let w = self.lay.lanes_padded();
            let v_at_node = &self.v[sp.detector.node.index() * w..][..w];
            sp.detect(v_at_node, &self.failures, self.step);
        }
    }
}

/// The spike detector of a block's real lanes: `shaders/spikes.wgsl`'s buffers, run by its CPU
/// twin after each lane check.
struct SpikeLanes<R> {
    detector: crate::engine::SpikeDetector,
    shape: kernels_cpu::device::SpikeShape,
    prev: Vec<R>,
    count: Vec<u32>,
    steps: Vec<u32>,
    volts: Vec<R>,
}

impl<R: Float> SpikeLanes<R> {
    fn new(detector: crate::engine::SpikeDetector, lanes: usize) -> SpikeLanes<R> {
        let shape = kernels_cpu::device::SpikeShape {
            lanes,
            capacity: detector.capacity,
        };
        SpikeLanes {
            detector,
            shape,
            prev: vec![real(0.0); lanes],
            count: vec![0; lanes],
            steps: vec![0; lanes * shape.capacity],
            volts: vec![real(0.0); 2 * lanes * shape.capacity],
        }
    }

    /// After the lane check of step `step`: `v_at_node` holds the detector node's row.
    fn detect(&mut self, v_at_node: &[R], failures: &[Option<LaneFailure>], step: usize) {
        let mut b = kernels_cpu::device::SpikeBuffers {
            prev: &mut self.prev,
            count: &mut self.count,
            steps: &mut self.steps,
            volts: &mut self.volts,
        };
        let failed = |lane: usize| failures[lane].is_some();
        let (threshold_mv, step) = (self.detector.threshold_mv, step as u32);
        kernels_cpu::device::detect_spikes(
            self.shape,
            v_at_node,
            failed,
            threshold_mv,
            step,
            &mut b,
        );
    }

    fn into_lanes(self, dt_ms: f64) -> Vec<crate::engine::LaneSpikes> {
        let cap = self.shape.capacity;
        (0..self.shape.lanes)
            .map(|lane| {
                let count = self.count[lane] as usize;
                let records = (0..count.min(cap)).map(|k| {
                    let r = lane * cap + k;
                    (
                        self.steps[r],
                        wide(self.volts[2 * r]),
                        wide(self.volts[2 * r + 1]),
                    )
                });
                crate::engine::LaneSpikes::from_records(&self.detector, dt_ms, count, records)
            })
            .collect()
    }
}
