//! [`GpuBackend`]: the engine's [`Schedule`] executed on a wgpu device in f32, phase by phase as
//! the CPU backend executes it (`crate::backend::cpu`), with every array on the device.
//!
//! # Data on the device (per group of lanes)
//! Node arrays interleave the lanes (`node · lanes + lane`): the membrane potential, the current
//! and conductance accumulators (which are the cable solve's right-hand side and diagonal), and
//! four arrays per ion species (reversal potential, inside and outside concentrations, current).
//! Each mechanism's columns live in column blocks (`super::mechanism`), split to fit a binding.
//!
//! # One phase, on the device
//! - `SetVoltage`, `ClearMatrix`, `IonInit`, `IonCurrents`, `CheckLanes`, `Record`:
//!   `shaders/lanes.wgsl` (one thread per lane; node lists built here, Nernst where the ion style
//!   says so, as NEURON's `ion_init` / `ion_cur` / `nrn_wrote_conc`).
//! - `Init(m)`, `Current(m)`, `State(m)`: `shaders/gather.wgsl` copies the node values the kernel
//!   reads into its columns, the generated kernel runs (`crate::emit::wgsl`), and the columns it
//!   wrote are copied back.
//! - `Electrodes`: `shaders/electrodes.wgsl` with the tables of [`super::stimulus`].
//! - after `CheckLanes`, with a [`crate::engine::SpikeDetector`]: `shaders/spikes.wgsl` (the
//!   previous step's voltage kept per lane, crossings written into a buffer of fixed capacity).
//! - `Cable`: the accumulated currents negated, then `shaders/hines.wgsl`'s `cable_step`.
//! - `HalfStep`: the host's f64 clock advances; each distinct time is a *time slot*, a uniform
//!   (bound at a dynamic offset) holding the time, the step number and the recording sample.
//!
//! Many steps are encoded into one compute pass and one submission; only the recordings (after
//! each submission), the lane failures and the spikes (at the end) are read back. A lane's values depend only
//! on its own inputs, whatever its position in the batch or the batch's size.
//!
//! Lanes are split into groups when one array of a group would exceed a binding (or the
//! dispatch limit); groups run one after the other.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use kernels_cpu::cable::{Cable, NodeCoefficients, Tree};
use kernels_cpu::mechanism::{Op as ProgramOp, Output as ProgramOutput};

use crate::diag::{Diagnostic, Diagnostics};
use crate::emit::wgsl;
use crate::engine::model::ktf_mv;
use crate::engine::run::FAILURE_BOUND_MV;
use crate::engine::{
    Batch, CellModel, LaneFailure, LaneResult, LaneSpec, LaneSpikes, Phase, Quantity, RunConfig,
    RunOutput, Schedule,
};
use crate::ir::abi::Column;
use crate::ir::{Expr, Hook, IonVar, SimVar};
use crate::layout::Node;

use super::cable::{CableBuffers, HinesKernel};
use super::mechanism::{MechanismBlocks, MechanismKernels};
use super::stimulus::ElectrodeTables;
use super::{workgroups, AdapterPolicy, AdapterSummary, Binding, Gpu, GpuError};
use crate::backend::{Backend, Precision};

/// `shaders/lanes.wgsl`.
pub const LANES_WGSL: &str = include_str!("../../../shaders/lanes.wgsl");
/// `shaders/gather.wgsl`.
pub const GATHER_WGSL: &str = include_str!("../../../shaders/gather.wgsl");
/// `shaders/electrodes.wgsl`.
pub const ELECTRODES_WGSL: &str = include_str!("../../../shaders/electrodes.wgsl");
/// `shaders/spikes.wgsl`.
pub const SPIKES_WGSL: &str = include_str!("../../../shaders/spikes.wgsl");

/// Threads per workgroup of the hand-written shaders.
const WG: u32 = 64;
/// Distance between dynamic-offset uniforms [bytes] (the default
/// `min_uniform_buffer_offset_alignment`).
const UNIFORM_SLOT_BYTES: u64 = 256;
/// Size of the `Step` uniform [bytes].
const STEP_BYTES: u64 = 16;
/// Size of the `Op` uniforms [bytes].
const OP_BYTES: u64 = 32;

/// Where a gathered or scattered value lives (the plan codes of `shaders/gather.wgsl`).
fn source_code(pm_ion_index: &[usize], c: Column) -> Option<u32> {
    match c {
        Column::Sim(SimVar::V) => Some(0),
        Column::Current => Some(1),
        Column::Conductance => Some(2),
        Column::Sim(SimVar::T) => Some(3),
        Column::Ion(i, var) => Some(4 + pm_ion_index[i.index()] as u32 * 4 + ion_var_code(var)),
        _ => None,
    }
}

fn ion_var_code(var: IonVar) -> u32 {
    match var {
        IonVar::Erev => 0,
        IonVar::Inside => 1,
        IonVar::Outside => 2,
        IonVar::Current => 3,
    }
}

/// The GPU backend (f32 only).
pub struct GpuBackend {
    gpu: Arc<Gpu>,
    /// The precision asked for: f64 is refused with a diagnostic.
    pub precision: Precision,
    /// Fixed steps encoded per submission.
    pub steps_per_submission: usize,
    /// At most this many lanes per group (besides the device limits).
    pub max_lanes_per_group: usize,
    kernels: OnceLock<Result<Arc<FixedKernels>, String>>,
    /// Mechanism pipelines by WGSL text (compiled once per backend).
    mechanisms: Mutex<BTreeMap<String, Arc<MechanismKernels>>>,
}

impl GpuBackend {
    /// Opens the best adapter `policy` allows.
    pub fn new(policy: AdapterPolicy) -> Result<GpuBackend, GpuError> {
        Ok(GpuBackend::on(Arc::new(Gpu::new(policy)?)))
    }

    /// A backend on an open device.
    pub fn on(gpu: Arc<Gpu>) -> GpuBackend {
        GpuBackend {
            gpu,
            precision: Precision::F32,
            steps_per_submission: 250,
            max_lanes_per_group: 1 << 16,
            kernels: OnceLock::new(),
            mechanisms: Mutex::new(BTreeMap::new()),
        }
    }

    /// Another backend on the same device (own settings, own pipeline caches): for runs that
    /// differ in `precision`, `steps_per_submission` or `max_lanes_per_group`.
    pub fn on_same_device(&self) -> GpuBackend {
        GpuBackend::on(self.gpu.clone())
    }

    /// The adapter, in words.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.gpu.adapter
    }

    /// The device.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    fn fixed_kernels(&self) -> Result<Arc<FixedKernels>, GpuError> {
        self.kernels
            .get_or_init(|| {
                FixedKernels::new(&self.gpu)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(GpuError::Wgpu)
    }

    fn mechanism_kernels(
        &self,
        m: &wgsl::WgslMechanism,
    ) -> Result<Arc<MechanismKernels>, GpuError> {
        if let Some(k) = self
            .mechanisms
            .lock()
            .map_err(|_| GpuError::Wgpu("poisoned pipeline cache".into()))?
            .get(&m.source)
        {
            return Ok(k.clone());
        }
        let k = Arc::new(MechanismKernels::new(&self.gpu, m)?);
        self.mechanisms
            .lock()
            .map_err(|_| GpuError::Wgpu("poisoned pipeline cache".into()))?
            .insert(m.source.clone(), k.clone());
        Ok(k)
    }
}

impl Backend for GpuBackend {
    fn name(&self) -> String {
        format!("gpu-{}", self.precision.name())
    }

    fn precision(&self) -> Precision {
        self.precision
    }

    fn versions(&self) -> Vec<(String, String)> {
        let a = self.adapter();
        vec![
            (
                "gpu adapter".into(),
                format!("{} ({}, {})", a.name, a.kind, a.backend),
            ),
            ("gpu driver".into(), a.driver.clone()),
        ]
    }

    fn run(
        &self,
        batch: &Batch,
        schedule: &Schedule,
        config: &RunConfig,
    ) -> Result<RunOutput, Diagnostics> {
        let model = batch.model;
        let fail = |kind: &'static str, msg: String| {
            let mut d = Diagnostics::new();
            d.push(Diagnostic::error(kind, &model.source, None, msg));
            d
        };
        if self.precision != Precision::F32 {
            return Err(fail(
                "gpu-precision",
                format!(
                    "the GPU backend runs in f32 only, not {}: use --precision f32 or the CPU backend",
                    self.precision.name()
                ),
            ));
        }
        let gpu_err = |e: GpuError| fail("gpu", e.to_string());
        let fixed = self.fixed_kernels().map_err(gpu_err)?;
        let prepared = Prepared::new(self, model, schedule).map_err(|e| match e {
            PrepareError::Gpu(e) => gpu_err(e),
            PrepareError::Internal(m) => fail("internal", m),
        })?;
        let cap = prepared
            .lanes_per_group(&self.gpu, config, self.steps_per_submission.max(1))
            .min(self.max_lanes_per_group.max(1));
        if cap == 0 {
            return Err(fail(
                "gpu-too-large",
                format!(
                    "one lane of `{}` does not fit the device's bindings",
                    model.label
                ),
            ));
        }
        let mut lanes = Vec::with_capacity(batch.lanes.len());
        for range in crate::layout::blocks(batch.lanes.len(), cap) {
            let specs: Vec<&LaneSpec> = batch.lanes[range].iter().collect();
            let group = self
                .gpu
                .checked(|| LaneGroup::new(self, &fixed, &prepared, &specs, config))
                .and_then(|r| r)
                .map_err(gpu_err)?;
            lanes.extend(
                group
                    .simulate(self, &fixed, &prepared, schedule, config)
                    .map_err(gpu_err)?,
            );
        }
        Ok(RunOutput {
            lanes,
            record_dt_ms: config.record_dt_ms(),
        })
    }
}

/// The pipelines of the hand-written shaders, and the layouts of their bind groups.
struct FixedKernels {
    hines: HinesKernel,
    lanes_group: wgpu::BindGroupLayout,
    gather_group: wgpu::BindGroupLayout,
    electrodes_group: wgpu::BindGroupLayout,
    spikes_group: wgpu::BindGroupLayout,
    step_group: wgpu::BindGroupLayout,
    op_group: wgpu::BindGroupLayout,
    lanes: BTreeMap<&'static str, wgpu::ComputePipeline>,
    gather: wgpu::ComputePipeline,
    scatter: wgpu::ComputePipeline,
    electrodes: wgpu::ComputePipeline,
    spikes: wgpu::ComputePipeline,
}

impl FixedKernels {
    fn new(gpu: &Gpu) -> Result<FixedKernels, GpuError> {
        let ro = Binding::Storage { read_only: true };
        let rw = Binding::Storage { read_only: false };
        let step_group = gpu.group_layout("step", &[Binding::DynamicUniform { size: STEP_BYTES }]);
        let op_group = gpu.group_layout("op", &[Binding::DynamicUniform { size: OP_BYTES }]);
        let lanes_group =
            gpu.group_layout("lanes", &[Binding::Uniform, rw, rw, rw, rw, ro, ro, rw]);
        let gather_group = gpu.group_layout("gather", &[rw, rw, rw, rw, ro, rw]);
        let electrodes_group =
            gpu.group_layout("electrodes", &[Binding::Uniform, ro, ro, ro, ro, rw]);
        let spikes_group = gpu.group_layout("spikes", &[Binding::Uniform, rw, rw, rw]);

        let lanes_module = gpu.shader_module("lanes", LANES_WGSL)?;
        let lanes_layout = gpu.pipeline_layout("lanes", &[&lanes_group, &step_group, &op_group]);
        let mut lanes = BTreeMap::new();
        for entry in [
            "set_voltage",
            "clear_matrix",
            "negate_currents",
            "set_concentrations",
            "nernst",
            "clear_ion_current",
            "check_lanes",
            "record",
        ] {
            lanes.insert(
                entry,
                gpu.compute_pipeline(entry, &lanes_layout, &lanes_module, entry)?,
            );
        }
        let gather_module = gpu.shader_module("gather", GATHER_WGSL)?;
        let gather_layout = gpu.pipeline_layout("gather", &[&gather_group, &step_group, &op_group]);
        let gather = gpu.compute_pipeline("gather", &gather_layout, &gather_module, "gather")?;
        let scatter = gpu.compute_pipeline("scatter", &gather_layout, &gather_module, "scatter")?;
        let el_module = gpu.shader_module("electrodes", ELECTRODES_WGSL)?;
        let el_layout = gpu.pipeline_layout("electrodes", &[&electrodes_group, &step_group]);
        let electrodes =
            gpu.compute_pipeline("electrodes", &el_layout, &el_module, "electrodes")?;
        let spikes_module = gpu.shader_module("spikes", SPIKES_WGSL)?;
        let spikes_layout = gpu.pipeline_layout("spikes", &[&spikes_group, &step_group]);
        let spikes =
            gpu.compute_pipeline("spikes", &spikes_layout, &spikes_module, "detect_spikes")?;
        Ok(FixedKernels {
            hines: HinesKernel::new(gpu)?,
            lanes_group,
            gather_group,
            electrodes_group,
            spikes_group,
            step_group,
            op_group,
            lanes,
            gather,
            scatter,
            electrodes,
            spikes,
        })
    }
}

/// Around one kernel of one mechanism: the gather and scatter plans (column, source code pairs).
#[derive(Clone, Debug, Default)]
pub(crate) struct KernelPlan {
    pub(crate) gather: Vec<(u32, u32)>,
    pub(crate) scatter: Vec<(u32, u32)>,
    /// Species whose concentration the kernel writes.
    pub(crate) writes_concentration_of: Vec<usize>,
}

/// The gather and scatter plans of every kernel of every mechanism of `model` (`[m][hook]`), over
/// the columns of `crate::ir::abi` that both emitters use. The gather plan holds what the CPU
/// program reads, the accumulations it makes, and what the generated kernel loads.
pub(crate) fn kernel_plans(model: &CellModel) -> Vec<[KernelPlan; 3]> {
    let mut plans = Vec::new();
    for pm in &model.mechanisms {
        let cols = &pm.cpu.columns;
        let mut hook_plans: [KernelPlan; 3] = Default::default();
        for hook in Hook::ALL {
            let program = pm.cpu.program(hook);
            let mut read: Vec<usize> = Vec::new();
            for op in &program.ops {
                if let ProgramOp::Read { column, .. } = *op {
                    read.push(column as usize);
                }
            }
            let mut written: Vec<usize> = Vec::new();
            for o in &program.outputs {
                match *o {
                    ProgramOutput::Set { column, .. } => written.push(column as usize),
                    ProgramOutput::Add { column, .. } => {
                        read.push(column as usize);
                        written.push(column as usize);
                    }
                }
            }
            // what the generated kernel loads, in case it differs from the CPU program
            let kernel = pm.ir.kernel(hook);
            for id in pm.ir.arena.reachable(kernel.writes.iter().map(|x| x.value)) {
                if let Expr::Load(l) = *pm.ir.arena.get(id) {
                    if let Some(ci) = pm.cpu.column(Column::of_load(l)) {
                        read.push(ci);
                    }
                }
            }
            read.sort_unstable();
            read.dedup();
            written.sort_unstable();
            written.dedup();
            let plan = &mut hook_plans[hook_index(hook)];
            for &c in &read {
                if let Some(code) = source_code(&pm.ion_index, cols[c]) {
                    plan.gather.push((c as u32, code));
                }
            }
            for &c in &written {
                if let Some(code) = source_code(&pm.ion_index, cols[c]) {
                    if code != 3 {
                        plan.scatter.push((c as u32, code));
                    }
                }
                if let Column::Ion(i, var) = cols[c] {
                    let s = pm.ion_index[i.index()];
                    if var.is_concentration() && !plan.writes_concentration_of.contains(&s) {
                        plan.writes_concentration_of.push(s);
                    }
                }
            }
        }
        plans.push(hook_plans);
    }
    plans
}

/// Everything about a model that does not depend on the lanes.
struct Prepared<'m> {
    model: &'m CellModel,
    kernels: Vec<Arc<MechanismKernels>>,
    /// `plans[m][hook]`.
    plans: Vec<[KernelPlan; 3]>,
}

enum PrepareError {
    Gpu(GpuError),
    Internal(String),
}

pub(crate) fn hook_index(h: Hook) -> usize {
    match h {
        Hook::Init => 0,
        Hook::Current => 1,
        Hook::State => 2,
    }
}

impl<'m> Prepared<'m> {
    fn new(
        backend: &GpuBackend,
        model: &'m CellModel,
        schedule: &Schedule,
    ) -> Result<Prepared<'m>, PrepareError> {
        let plans = kernel_plans(model);
        let mut kernels = Vec::new();
        for pm in &model.mechanisms {
            let w = wgsl::emit(&pm.ir);
            kernels.push(backend.mechanism_kernels(&w).map_err(PrepareError::Gpu)?);
        }
        // every kernel phase of the schedule has its entry point
        for phase in schedule.init.iter().chain(&schedule.step) {
            let (m, hook) = match *phase {
                Phase::Init(m) => (m, Hook::Init),
                Phase::Current(m) => (m, Hook::Current),
                Phase::State(m) => (m, Hook::State),
                _ => continue,
            };
            if kernels.get(m).and_then(|k| k.pipeline(hook)).is_none() {
                return Err(PrepareError::Internal(format!(
                    "phase {phase:?}: mechanism has no {} kernel in WGSL; a bug",
                    hook.name()
                )));
            }
        }
        Ok(Prepared {
            model,
            kernels,
            plans,
        })
    }

    /// The most lanes one group may have on `gpu`.
    fn lanes_per_group(&self, gpu: &Gpu, config: &RunConfig, chunk_steps: usize) -> usize {
        let n = self.model.node_count().max(1) as u64;
        let species = self.model.ions.len().max(1) as u64;
        let max = gpu.max_binding_bytes().min(gpu.limits.max_buffer_size);
        let records = (steps_per_chunk_records(config, chunk_steps) * config.probes.len()) as u64;
        let spike_words = config
            .spike_detector
            .map_or(0, |sd| (2 + 3 * sd.capacity) as u64);
        let per_lane_bytes = [
            n * 4,
            4 * species * n * 4,
            (4 + records) * 4,
            spike_words * 4,
        ];
        let mut cap = per_lane_bytes
            .iter()
            .map(|b| max / b.max(&1))
            .min()
            .unwrap_or(0);
        cap = cap.min(u64::from(gpu.limits.max_compute_workgroups_per_dimension) * u64::from(WG));
        cap as usize
    }
}

/// Record samples a submission of at most `chunk_steps` steps may hold (at most the run's).
fn steps_per_chunk_records(config: &RunConfig, chunk_steps: usize) -> usize {
    let every = config.record_every.max(1);
    (chunk_steps.min(config.steps + 1) / every + 2).min(config.samples())
}

/// One time slot's uniform (`Step` of the shaders), padded to a dynamic-offset slot.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct StepUniform {
    t: f32,
    slot: u32,
    step: u32,
    record: u32,
    pad: [u32; 60],
}

/// An `Op` uniform of lanes.wgsl or gather.wgsl (8 words), padded to a dynamic-offset slot.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct OpUniform {
    words: [u32; 8],
    pad: [u32; 56],
}

impl OpUniform {
    fn new(words: [u32; 8]) -> OpUniform {
        OpUniform {
            words,
            pad: [0; 56],
        }
    }
}

/// The ops of one ion species (indices into the op table; `None`: nothing to do).
#[derive(Clone, Debug, Default)]
struct IonOps {
    set_concentrations: Option<u32>,
    nernst_init: Option<u32>,
    clear_current: u32,
    nernst_advance: Option<u32>,
}

/// Per mechanism block: its gather bind group and the ops of each hook (gather, scatter).
struct BlockOps {
    gather_group: wgpu::BindGroup,
    ops: [(Option<u32>, Option<u32>); 3],
}

/// One group of lanes on the device.
struct LaneGroup<'a> {
    specs: Vec<&'a LaneSpec>,
    w: usize,
    cable: CableBuffers,
    _ions: wgpu::Buffer,
    out: wgpu::Buffer,
    out_words: usize,
    steps_buffer: wgpu::Buffer,
    positions: Option<wgpu::Buffer>,
    electrodes: ElectrodeTables,
    lanes_bind: wgpu::BindGroup,
    electrodes_bind: Option<wgpu::BindGroup>,
    /// With a spike detector: its buffer and bind group.
    spikes: Option<(wgpu::Buffer, wgpu::BindGroup)>,
    step_bind: wgpu::BindGroup,
    op_bind: wgpu::BindGroup,
    blocks: Vec<(MechanismBlocks, Vec<BlockOps>)>,
    ion_ops: Vec<IonOps>,
    /// `wrote_conc[m]`: Nernst ops after mechanism m's INITIAL.
    wrote_conc: Vec<Vec<u32>>,
    record_op: u32,
    chunk_steps: usize,
    chunk_records: usize,
}

impl<'a> LaneGroup<'a> {
    fn new(
        backend: &GpuBackend,
        fixed: &FixedKernels,
        prep: &Prepared,
        specs: &[&'a LaneSpec],
        config: &RunConfig,
    ) -> Result<LaneGroup<'a>, GpuError> {
        let gpu = &*backend.gpu;
        let model = prep.model;
        let w = specs.len();
        let n = model.node_count();
        let node_array = |f: &dyn Fn(&LaneSpec, usize) -> f64| -> Vec<f32> {
            let mut a = vec![0.0f32; n * w];
            for node in 0..n {
                for (slot, spec) in specs.iter().enumerate() {
                    a[node * w + slot] = f(spec, node) as f32;
                }
            }
            a
        };

        // cable: structure, capacitance, coefficients per lane
        let tree = Tree::new(&model.parents).map_err(|e| GpuError::Size(e.to_string()))?;
        let mut cable_cpu = Cable::<f32>::uniform(tree, w, &model.coefficients)
            .map_err(|e| GpuError::Size(e.to_string()))?;
        for (slot, spec) in specs.iter().enumerate() {
            if let Some(c) = &spec.values.coefficients {
                cable_cpu
                    .set_lane(slot, c as &NodeCoefficients)
                    .map_err(|e| GpuError::Size(e.to_string()))?;
            }
        }
        let parent: Vec<u32> = model.parents.iter().map(|p| p.unwrap_or(0)).collect();
        let cm = node_array(&|s, node| s.values.cm_uf_cm2[node]);
        let cable = CableBuffers::new(
            gpu,
            &fixed.hines,
            &parent,
            w,
            cable_cpu.a(),
            cable_cpu.b(),
            &cm,
        )?;
        cable.set_dt(gpu, config.dt_ms);

        // ions
        let species = model.ions.len();
        let mut ions = Vec::with_capacity(species * 4 * n * w);
        for k in 0..species {
            ions.extend(node_array(&|s, node| s.values.ions[k][node].erev_mv));
            ions.extend(node_array(&|s, node| s.values.ions[k][node].inside_mm));
            ions.extend(node_array(&|s, node| s.values.ions[k][node].outside_mm));
            ions.extend(vec![0.0f32; n * w]);
        }
        let ions_buffer = gpu.storage_buffer("ions", &ions);

        // per-lane values: v_init, then ktf/valence per species (as the CPU backend rounds them)
        let mut lane_values: Vec<f32> = specs.iter().map(|s| s.values.v_init_mv as f32).collect();
        for s in &model.ions {
            for spec in specs {
                lane_values.push(ktf_mv(spec.values.celsius) as f32 / s.valence as f32);
            }
        }
        let lane_values = gpu.storage_buffer("lane values", &lane_values);

        // lists and ops
        let mut lists: Vec<u32> = Vec::new();
        let mut ops: Vec<OpUniform> = vec![OpUniform::new([0; 8])];
        let list_op = |lists: &mut Vec<u32>,
                       ops: &mut Vec<OpUniform>,
                       species: usize,
                       nodes: &[u32],
                       extra: [f32; 3]|
         -> u32 {
            let start = lists.len() as u32;
            lists.extend_from_slice(nodes);
            ops.push(OpUniform::new([
                species as u32,
                start,
                nodes.len() as u32,
                0,
                extra[0].to_bits(),
                extra[1].to_bits(),
                extra[2].to_bits(),
                0,
            ]));
            (ops.len() - 1) as u32
        };
        let mut ion_ops = Vec::with_capacity(species);
        for (s, sp) in model.ions.iter().enumerate() {
            let nodes_where = |f: &dyn Fn(crate::engine::model::IonStyle) -> bool| -> Vec<u32> {
                (0..n as u32)
                    .filter(|&i| sp.styles[i as usize].is_some_and(f))
                    .collect()
            };
            let cinit = nodes_where(&|st| st.cinit);
            let einit = nodes_where(&|st| st.einit);
            let eadvance = nodes_where(&|st| st.eadvance);
            let z = sp.valence as f32;
            let conc = [
                sp.defaults.inside_mm as f32,
                sp.defaults.outside_mm as f32,
                z,
            ];
            ion_ops.push(IonOps {
                set_concentrations: (!cinit.is_empty())
                    .then(|| list_op(&mut lists, &mut ops, s, &cinit, conc)),
                nernst_init: (!einit.is_empty())
                    .then(|| list_op(&mut lists, &mut ops, s, &einit, conc)),
                clear_current: list_op(&mut lists, &mut ops, s, &[], conc),
                nernst_advance: (!eadvance.is_empty())
                    .then(|| list_op(&mut lists, &mut ops, s, &eadvance, conc)),
            });
        }
        let mut wrote_conc = Vec::with_capacity(model.mechanisms.len());
        for (m, pm) in model.mechanisms.iter().enumerate() {
            let mut v = Vec::new();
            for &s in &prep.plans[m][hook_index(Hook::Init)].writes_concentration_of {
                let sp = &model.ions[s];
                let nodes: Vec<u32> = pm
                    .nodes
                    .iter()
                    .filter(|nd| sp.styles[nd.index()].is_some_and(|st| st.einit))
                    .map(|nd| nd.0)
                    .collect();
                if !nodes.is_empty() {
                    let z = sp.valence as f32;
                    v.push(list_op(&mut lists, &mut ops, s, &nodes, [0.0, 0.0, z]));
                }
            }
            wrote_conc.push(v);
        }
        // probes: (what, node) pairs
        let record_op = {
            let start = lists.len() as u32;
            for p in &config.probes {
                let what = match p.quantity {
                    Quantity::V => 0,
                    Quantity::Ion { ion, var } => 1 + ion as u32 * 4 + ion_var_code(var),
                };
                lists.extend([what, p.node.0]);
            }
            ops.push(OpUniform::new([0, start, 0, 0, 0, 0, 0, 0]));
            (ops.len() - 1) as u32
        };

        // mechanism columns (as the CPU backend fills them) and their gather/scatter ops
        let disc = &model.cell().disc;
        let mut mech_nodes_start = Vec::new();
        for pm in &model.mechanisms {
            mech_nodes_start.push(lists.len() as u32);
            lists.extend(pm.nodes.iter().map(|nd| nd.0));
        }
        let mut plan_start: Vec<[(u32, u32); 3]> = Vec::new();
        for hp in &prep.plans {
            let mut starts = [(0, 0); 3];
            for (h, p) in hp.iter().enumerate() {
                let g = lists.len() as u32;
                lists.extend(p.gather.iter().flat_map(|&(c, s)| [c, s]));
                let s = lists.len() as u32;
                lists.extend(p.scatter.iter().flat_map(|&(c, s)| [c, s]));
                starts[h] = (g, s);
            }
            plan_start.push(starts);
        }
        let lists_buffer = gpu.storage_buffer("lists", &lists);

        let mut blocks = Vec::with_capacity(model.mechanisms.len());
        for (m, pm) in model.mechanisms.iter().enumerate() {
            let n_inst = pm.nodes.len();
            let mut cols: Vec<Vec<f32>> = Vec::with_capacity(pm.cpu.columns.len());
            for col in &pm.cpu.columns {
                let mut a = vec![0.0f32; n_inst * w];
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
                        a[i * w + slot] = value as f32;
                    }
                }
                cols.push(a);
            }
            let mb = MechanismBlocks::new(gpu, &prep.kernels[m], &cols, w)?;
            let mut bops = Vec::new();
            for (b, cb) in mb.blocks() {
                let gather_group = gpu.bind_group(
                    "gather",
                    &fixed.gather_group,
                    &[
                        cable.v_buffer(),
                        cable.rhs_buffer(),
                        cable.d_buffer(),
                        &ions_buffer,
                        &lists_buffer,
                        cb.data_buffer(),
                    ],
                );
                let mut hook_ops = [(None, None); 3];
                for (h, p) in prep.plans[m].iter().enumerate() {
                    let op =
                        |start: u32, entries: usize, ops: &mut Vec<OpUniform>| -> Option<u32> {
                            if entries == 0 {
                                return None;
                            }
                            ops.push(OpUniform::new([
                                w as u32,
                                n as u32,
                                b.first_instance as u32,
                                cb.elements as u32,
                                cb.elements as u32,
                                mech_nodes_start[m],
                                start,
                                entries as u32,
                            ]));
                            Some((ops.len() - 1) as u32)
                        };
                    let (gs, ss) = plan_start[m][h];
                    hook_ops[h] = (
                        op(gs, p.gather.len(), &mut ops),
                        op(ss, p.scatter.len(), &mut ops),
                    );
                }
                bops.push(BlockOps {
                    gather_group,
                    ops: hook_ops,
                });
            }
            blocks.push((mb, bops));
        }

        // submissions: time slots, recordings
        let chunk_steps = backend.steps_per_submission.max(1);
        let chunk_records = steps_per_chunk_records(config, chunk_steps);
        // finitialize: one slot; every step: one at its start and one per half step
        let slots = 3 * (chunk_steps + 1) + 1;
        let steps_buffer =
            gpu.uniform_bytes("steps", &vec![0u8; slots * UNIFORM_SLOT_BYTES as usize]);
        let out_words = 4 * w + chunk_records * config.probes.len() * w;
        let out = gpu.storage_buffer("out", &vec![0u32; out_words]);
        let ops_bytes: Vec<u8> = bytemuck::cast_slice(&ops).to_vec();
        let ops_buffer = gpu.uniform_bytes("ops", &ops_bytes);

        let params = gpu.uniform_buffer(
            "lanes",
            &[
                n as u32,
                w as u32,
                config.probes.len() as u32,
                (FAILURE_BOUND_MV as f32).to_bits(),
            ],
        );
        let lanes_bind = gpu.bind_group(
            "lanes",
            &fixed.lanes_group,
            &[
                &params,
                cable.v_buffer(),
                cable.rhs_buffer(),
                cable.d_buffer(),
                &ions_buffer,
                &lane_values,
                &lists_buffer,
                &out,
            ],
        );
        let electrodes = ElectrodeTables::new(model, specs);
        let (positions, electrodes_bind) = if electrodes.any() {
            let positions = gpu.storage_buffer(
                "positions",
                &vec![0u32; slots * electrodes.clamps.len() * 4],
            );
            let eparams = gpu.uniform_buffer(
                "electrodes",
                &[w as u32, electrodes.clamps.len() as u32, 0, 0],
            );
            let lane_info = gpu.storage_buffer("lane info", &electrodes.lane_info);
            let entries = gpu.storage_buffer("entries", &electrodes.entries);
            let values = gpu.storage_buffer("values", &electrodes.values);
            let bind = gpu.bind_group(
                "electrodes",
                &fixed.electrodes_group,
                &[
                    &eparams,
                    &lane_info,
                    &entries,
                    &values,
                    &positions,
                    cable.rhs_buffer(),
                ],
            );
            (Some(positions), Some(bind))
        } else {
            (None, None)
        };
        let spikes = config.spike_detector.map(|sd| {
            let shape = kernels_cpu::device::SpikeShape {
                lanes: w,
                capacity: sd.capacity,
            };
            let buffer = gpu.storage_buffer("spikes", &vec![0u32; shape.words()]);
            let params = gpu.uniform_buffer(
                "spike params",
                &[
                    w as u32,
                    sd.node.0,
                    sd.capacity as u32,
                    kernels_cpu::device::spike_threshold_f32(sd.threshold_mv).to_bits(),
                ],
            );
            let bind = gpu.bind_group(
                "spikes",
                &fixed.spikes_group,
                &[&params, cable.v_buffer(), &out, &buffer],
            );
            (buffer, bind)
        });
        let step_bind =
            gpu.dynamic_bind_group("step", &fixed.step_group, &steps_buffer, STEP_BYTES);
        let op_bind = gpu.dynamic_bind_group("op", &fixed.op_group, &ops_buffer, OP_BYTES);
        Ok(LaneGroup {
            specs: specs.to_vec(),
            w,
            cable,
            _ions: ions_buffer,
            out,
            out_words,
            steps_buffer,
            positions,
            electrodes,
            lanes_bind,
            electrodes_bind,
            spikes,
            step_bind,
            op_bind,
            blocks,
            ion_ops,
            wrote_conc,
            record_op,
            chunk_steps,
            chunk_records,
        })
    }

    fn simulate(
        &self,
        backend: &GpuBackend,
        fixed: &FixedKernels,
        prep: &Prepared,
        schedule: &Schedule,
        config: &RunConfig,
    ) -> Result<Vec<LaneResult>, GpuError> {
        let gpu = &*backend.gpu;
        let w = self.w;
        let probes = config.probes.len();
        let every = config.record_every.max(1);
        let mut traces: Vec<Vec<Vec<f64>>> =
            vec![vec![Vec::with_capacity(config.samples()); probes]; w];
        // the f64 clock, as the CPU backend keeps it; t at each step's lane check
        let mut t_ms = 0.0f64;
        let mut t_check: Vec<f64> = Vec::with_capacity(config.steps + 1);
        let mut step = 0usize;
        while step <= config.steps {
            let first = step;
            let last = if first == 0 {
                self.chunk_steps.min(config.steps)
            } else {
                (first + self.chunk_steps - 1).min(config.steps)
            };
            // time slots and recordings of this submission
            let mut slots: Vec<StepUniform> = Vec::new();
            let mut positions: Vec<u32> = Vec::new();
            let mut records = 0usize;
            let mut script: Vec<(usize, Vec<(Phase, u32)>)> = Vec::new();
            for s in first..=last {
                let phases = if s == 0 {
                    &schedule.init
                } else {
                    &schedule.step
                };
                let record = s.is_multiple_of(every);
                let rec_index = records as u32;
                let mut new_slot = |t: f64, slots: &mut Vec<StepUniform>| -> u32 {
                    slots.push(StepUniform {
                        t: t as f32,
                        slot: slots.len() as u32,
                        step: s as u32,
                        record: rec_index,
                        pad: [0; 60],
                    });
                    self.electrodes.positions_at(t, &mut positions);
                    (slots.len() - 1) as u32
                };
                let mut slot = new_slot(t_ms, &mut slots);
                let mut seq = Vec::with_capacity(phases.len());
                for &phase in phases {
                    if phase == Phase::HalfStep {
                        t_ms += 0.5 * config.dt_ms;
                        slot = new_slot(t_ms, &mut slots);
                        continue;
                    }
                    if phase == Phase::Record && !record {
                        continue;
                    }
                    if phase == Phase::CheckLanes {
                        t_check.push(t_ms);
                    }
                    seq.push((phase, slot));
                }
                if record {
                    records += 1;
                }
                script.push((s, seq));
            }
            debug_assert!(records <= self.chunk_records);
            gpu.queue
                .write_buffer(&self.steps_buffer, 0, bytemuck::cast_slice(&slots));
            if let Some(p) = &self.positions {
                if !positions.is_empty() {
                    gpu.queue
                        .write_buffer(p, 0, bytemuck::cast_slice(&positions));
                }
            }
            gpu.checked(|| {
                gpu.submit_and_wait(|enc| {
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some("steps"),
                        timestamp_writes: None,
                    });
                    for (_, seq) in &script {
                        for &(phase, slot) in seq {
                            self.encode(gpu, fixed, prep, &mut pass, phase, slot);
                        }
                    }
                })
            })??;
            if records > 0 && probes > 0 {
                let out: Vec<u32> = gpu.read_buffer(&self.out, 4 * w + records * probes * w)?;
                for r in 0..records {
                    for p in 0..probes {
                        for (lane, tr) in traces.iter_mut().enumerate() {
                            let bits = out[4 * w + (r * probes + p) * w + lane];
                            tr[p].push(f64::from(f32::from_bits(bits)));
                        }
                    }
                }
            }
            step = last + 1;
        }
        let out: Vec<u32> = gpu.read_buffer(&self.out, 4 * w)?;
        debug_assert!(self.out_words >= 4 * w);
        let mut spikes: Vec<Option<LaneSpikes>> = vec![None; w];
        if let (Some(sd), Some((buffer, _))) = (&config.spike_detector, &self.spikes) {
            let cap = sd.capacity;
            let words: Vec<u32> = gpu.read_buffer(buffer, w * (2 + 3 * cap))?;
            let (steps, volts) = words[2 * w..].split_at(w * cap);
            for (lane, lane_spikes) in spikes.iter_mut().enumerate() {
                let count = words[w + lane] as usize;
                let f = |x: u32| f64::from(f32::from_bits(x));
                let records = (0..count.min(cap)).map(|k| {
                    let r = lane * cap + k;
                    (steps[r], f(volts[2 * r]), f(volts[2 * r + 1]))
                });
                *lane_spikes = Some(LaneSpikes::from_records(sd, config.dt_ms, count, records));
            }
        }
        let mut results = Vec::with_capacity(w);
        for ((lane, mut tr), spikes) in traces.into_iter().enumerate().zip(spikes) {
            let failure = match out[4 * lane] {
                0 => None,
                s1 => {
                    let s = (s1 - 1) as usize;
                    Some(LaneFailure {
                        t_ms: t_check.get(s).copied().unwrap_or(f64::NAN),
                        node: Node(out[4 * lane + 1]),
                        v_mv: f64::from(f32::from_bits(out[4 * lane + 2])),
                    })
                }
            };
            // as the CPU backend records: NaN from the failing step's sample on
            if failure.is_some() {
                let s = (out[4 * lane] - 1) as usize;
                for t in &mut tr {
                    for (j, x) in t.iter_mut().enumerate() {
                        if j * every >= s {
                            *x = f64::NAN;
                        }
                    }
                }
            }
            results.push(LaneResult {
                traces: tr,
                failure,
                spikes,
            });
        }
        debug_assert_eq!(results.len(), self.specs.len());
        Ok(results)
    }

    fn lane_op(
        &self,
        fixed: &FixedKernels,
        pass: &mut wgpu::ComputePass,
        entry: &str,
        slot: u32,
        op: u32,
        groups: u32,
    ) {
        if let Some(p) = fixed.lanes.get(entry) {
            pass.set_pipeline(p);
            pass.set_bind_group(0, &self.lanes_bind, &[]);
            pass.set_bind_group(1, &self.step_bind, &[slot * UNIFORM_SLOT_BYTES as u32]);
            pass.set_bind_group(2, &self.op_bind, &[op * UNIFORM_SLOT_BYTES as u32]);
            pass.dispatch_workgroups(groups, 1, 1);
        }
    }

    fn encode(
        &self,
        gpu: &Gpu,
        fixed: &FixedKernels,
        prep: &Prepared,
        pass: &mut wgpu::ComputePass,
        phase: Phase,
        slot: u32,
    ) {
        let groups = (self.w as u32).div_ceil(WG);
        match phase {
            Phase::SetVoltage => self.lane_op(fixed, pass, "set_voltage", slot, 0, groups),
            Phase::ClearMatrix => self.lane_op(fixed, pass, "clear_matrix", slot, 0, groups),
            Phase::IonInit => {
                for ops in &self.ion_ops {
                    if let Some(op) = ops.set_concentrations {
                        self.lane_op(fixed, pass, "set_concentrations", slot, op, groups);
                    }
                    if let Some(op) = ops.nernst_init {
                        self.lane_op(fixed, pass, "nernst", slot, op, groups);
                    }
                }
            }
            Phase::IonCurrents => {
                for ops in &self.ion_ops {
                    self.lane_op(
                        fixed,
                        pass,
                        "clear_ion_current",
                        slot,
                        ops.clear_current,
                        groups,
                    );
                    if let Some(op) = ops.nernst_advance {
                        self.lane_op(fixed, pass, "nernst", slot, op, groups);
                    }
                }
            }
            Phase::Init(m) => {
                self.kernel(gpu, fixed, prep, pass, m, Hook::Init, slot);
                for &op in &self.wrote_conc[m] {
                    self.lane_op(fixed, pass, "nernst", slot, op, groups);
                }
            }
            Phase::Current(m) => self.kernel(gpu, fixed, prep, pass, m, Hook::Current, slot),
            Phase::State(m) => self.kernel(gpu, fixed, prep, pass, m, Hook::State, slot),
            Phase::Electrodes => {
                if let Some(bind) = &self.electrodes_bind {
                    pass.set_pipeline(&fixed.electrodes);
                    pass.set_bind_group(0, bind, &[]);
                    pass.set_bind_group(1, &self.step_bind, &[slot * UNIFORM_SLOT_BYTES as u32]);
                    pass.dispatch_workgroups(groups, 1, 1);
                }
            }
            Phase::Cable => {
                self.lane_op(fixed, pass, "negate_currents", slot, 0, groups);
                self.cable.dispatch_step_in(gpu, &fixed.hines, pass);
            }
            Phase::HalfStep => {}
            Phase::CheckLanes => {
                self.lane_op(fixed, pass, "check_lanes", slot, 0, groups);
                if let Some((_, bind)) = &self.spikes {
                    pass.set_pipeline(&fixed.spikes);
                    pass.set_bind_group(0, bind, &[]);
                    pass.set_bind_group(1, &self.step_bind, &[slot * UNIFORM_SLOT_BYTES as u32]);
                    pass.dispatch_workgroups(groups, 1, 1);
                }
            }
            Phase::Record => self.lane_op(fixed, pass, "record", slot, self.record_op, groups),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn kernel(
        &self,
        gpu: &Gpu,
        fixed: &FixedKernels,
        prep: &Prepared,
        pass: &mut wgpu::ComputePass,
        m: usize,
        hook: Hook,
        slot: u32,
    ) {
        let (mb, bops) = &self.blocks[m];
        let kernels = &prep.kernels[m];
        let h = hook_index(hook);
        for ((_, cb), bo) in mb.blocks().zip(bops) {
            if cb.elements == 0 {
                continue;
            }
            let (x, y) = workgroups(
                cb.elements as u64,
                WG,
                gpu.limits.max_compute_workgroups_per_dimension,
            );
            let (gather, scatter) = bo.ops[h];
            if let Some(op) = gather {
                pass.set_pipeline(&fixed.gather);
                pass.set_bind_group(0, &bo.gather_group, &[]);
                pass.set_bind_group(1, &self.step_bind, &[slot * UNIFORM_SLOT_BYTES as u32]);
                pass.set_bind_group(2, &self.op_bind, &[op * UNIFORM_SLOT_BYTES as u32]);
                pass.dispatch_workgroups(x, y, 1);
            }
            cb.dispatch_in(gpu, kernels, hook, pass);
            if let Some(op) = scatter {
                pass.set_pipeline(&fixed.scatter);
                pass.set_bind_group(0, &bo.gather_group, &[]);
                pass.set_bind_group(1, &self.step_bind, &[slot * UNIFORM_SLOT_BYTES as u32]);
                pass.set_bind_group(2, &self.op_bind, &[op * UNIFORM_SLOT_BYTES as u32]);
                pass.dispatch_workgroups(x, y, 1);
            }
        }
    }
}
