//! The GPU backend (`backend::gpu::GpuBackend`) on a real Vulkan adapter (lavapipe on machines
//! without a GPU; these tests never skip) against the CPU backend in the same precision (f32):
//! the SSCx sample on its fixed-amplitude protocols, the thalamus sample at the currents
//! EModelRunner's searches found, and the synplas pair cells. Criteria (../shared VALIDATION,
//! gpu-f32 against cpu-f32): equal spike counts, spike times within 0.05 ms, |ΔV| before the
//! first spike within 1e-2 mV.

use std::sync::OnceLock;

use emsweep::backend::cpu::CpuBackend;
use emsweep::backend::gpu::{AdapterPolicy, GpuBackend, VULKAN_PACKAGES};
use emsweep::backend::{Backend, Precision};
use emsweep::engine::{
    run, Batch, CellModel, LaneSpec, LaneStimulus, MechanismLibrary, Probe, Quantity, RunConfig,
    RunOutput,
};
use emsweep::package::EModel;
use emsweep::sim::stimulus::{self, Amplitude, Clamp, LaneCurrents, StimulusProgram};

use crate::common::real_packages_dir;
use crate::sim::{compare, reference, render};

/// gpu-f32 against cpu-f32 (spec/VALIDATION.md's backend tolerances).
pub const GPU_SPIKE_TIME_TOL_MS: f64 = 0.05;
pub const GPU_PRE_SPIKE_DV_TOL_MV: f64 = 1e-2;

/// The GPU backend shared by the tests (any adapter: lavapipe counts).
pub fn gpu_backend() -> &'static GpuBackend {
    static B: OnceLock<Result<GpuBackend, String>> = OnceLock::new();
    match B.get_or_init(|| GpuBackend::new(AdapterPolicy::Any).map_err(|e| e.to_string())) {
        Ok(b) => b,
        Err(e) => panic!(
            "the GPU tests need a Vulkan adapter and found none ({e}). On a machine without a \
             GPU install Mesa's lavapipe: apt-get install {VULKAN_PACKAGES}"
        ),
    }
}

/// The e-model `name` of package `package` (below the packages folder) and its cell model.
pub fn load(package: &str, name: &str) -> (EModel, CellModel) {
    let read = emsweep::package::read_package(&real_packages_dir().join(package));
    assert!(
        !read.diagnostics.has_errors(),
        "{}",
        render(&read.diagnostics)
    );
    let em = read
        .emodels
        .into_iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} in {package}"));
    let (cell, d) = emsweep::cell::build(&em);
    assert!(!d.has_errors(), "{}", render(&d));
    let (lib, d) = MechanismLibrary::for_emodel(&em);
    assert!(!d.has_errors(), "{}", render(&d));
    let (model, d) = CellModel::new(&cell.unwrap(), &lib, em.celsius, em.v_init_mv);
    assert!(!d.has_errors(), "{}", render(&d));
    (em, model.unwrap())
}

/// Square clamps `(delay, duration, amp)` at the soma for one lane.
pub fn squares(model: &CellModel, clamps: &[(f64, f64, f64)]) -> LaneStimulus {
    let program = StimulusProgram {
        protocol: "test".into(),
        lanes: 1,
        tstop_ms: clamps.iter().map(|c| c.0 + c.1).fold(0.0, f64::max),
        clamps: clamps
            .iter()
            .enumerate()
            .map(|(k, &(delay_ms, duration_ms, amp_na))| Clamp {
                label: format!("clamp {k}"),
                delay_ms,
                stop_ms: delay_ms + duration_ms,
                amplitude: Amplitude::Fixed(vec![amp_na]),
            })
            .collect(),
    };
    LaneStimulus::lanes_of(program, model.soma_node).remove(0)
}

/// Runs `lanes` for `tstop_ms` on `backend`, recording the soma voltage every step.
pub fn run_on(
    backend: &dyn Backend,
    model: &CellModel,
    lanes: Vec<LaneSpec>,
    tstop_ms: f64,
    dt_ms: f64,
) -> RunOutput {
    let batch = Batch { model, lanes };
    let config = RunConfig {
        dt_ms,
        steps: RunConfig::steps_for(tstop_ms, dt_ms),
        record_every: 1,
        probes: vec![Probe {
            node: model.soma_node,
            quantity: Quantity::V,
        }],
    };
    run(backend, &batch, &config).unwrap_or_else(|d| panic!("{}", render(&d)))
}

/// gpu-f32 against cpu-f32 lane by lane; returns the spike count of each lane.
pub fn assert_backends_agree(
    label: &str,
    model: &CellModel,
    lanes: Vec<LaneSpec>,
    names: &[String],
    tstop_ms: f64,
    dt_ms: f64,
) -> Vec<usize> {
    let t0 = std::time::Instant::now();
    let cpu = run_on(
        &CpuBackend::new(Precision::F32),
        model,
        lanes.clone(),
        tstop_ms,
        dt_ms,
    );
    let t1 = std::time::Instant::now();
    let gpu = run_on(gpu_backend(), model, lanes, tstop_ms, dt_ms);
    eprintln!(
        "{label}: cpu-f32 {:.2} s, gpu-f32 {:.2} s ({})",
        (t1 - t0).as_secs_f64(),
        t1.elapsed().as_secs_f64(),
        gpu_backend().adapter()
    );
    let mut counts = Vec::new();
    for ((g, c), name) in gpu.lanes.iter().zip(&cpu.lanes).zip(names) {
        assert!(
            c.failure.is_none() && g.failure.is_none(),
            "{label} {name}: failed"
        );
        let cmp = compare(&g.traces[0], &c.traces[0], dt_ms);
        eprintln!(
            "{label} {name}: {} spikes (cpu {}), worst spike Δt {:e} ms, pre-spike |ΔV| {:e} mV",
            cmp.spikes_ours, cmp.spikes_ref, cmp.worst_spike_dt_ms, cmp.worst_pre_spike_dv_mv
        );
        assert_eq!(
            cmp.spikes_ours, cmp.spikes_ref,
            "{label} {name}: spike counts"
        );
        assert!(
            cmp.worst_spike_dt_ms <= GPU_SPIKE_TIME_TOL_MS,
            "{label} {name}: spike times differ by {} ms",
            cmp.worst_spike_dt_ms
        );
        assert!(
            cmp.worst_pre_spike_dv_mv <= GPU_PRE_SPIKE_DV_TOL_MV,
            "{label} {name}: |ΔV| before the first spike up to {} mV",
            cmp.worst_pre_spike_dv_mv
        );
        counts.push(cmp.spikes_ours);
    }
    counts
}

/// The SSCx sample cell on its fixed-amplitude 300 ms protocols (one batch), shortened to
/// `SSCX_TSTOP_MS`.
#[test]
fn sscx_gpu_matches_cpu_f32() {
    let (em, model) = load("emodelrunner/sscx_sample_dir", "cADpyr_L4UPC");
    let (_, refs) = reference("sscx_cADpyr_L4UPC");
    let mut lanes = Vec::new();
    let mut names = Vec::new();
    for r in refs.iter().filter(|r| r.tstop_ms == 300.0) {
        let p = em.protocols().find(|p| p.name == r.protocol).unwrap();
        let program = stimulus::build(p, &[LaneCurrents::default()])
            .unwrap_or_else(|d| panic!("{}", d.render(None)));
        lanes.push(LaneSpec {
            values: model.own_lane().unwrap(),
            stimulus: Some(LaneStimulus::lanes_of(program, model.soma_node).remove(0)),
        });
        names.push(r.protocol.clone());
    }
    let tstop: f64 = std::env::var("SSCX_TSTOP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100.0);
    let counts = assert_backends_agree("sscx", &model, lanes, &names, tstop, em.dt_ms);
    assert!(counts.iter().any(|&c| c > 0), "some protocol fires");
}
