//! GPU backend against the CPU backend on the same batch.
//!
//! One job: run the SSCx sample cell (cADpyr_L4UPC) on Step_150 at dt 0.025 ms for a batch of
//! lanes (the published parameters with every conductance scaled by a per-lane factor in
//! [0.8, 1.2]) on the CPU backend (f32, all cores) and on the GPU backend (f32, the adapter wgpu
//! chooses: lavapipe on a machine without a GPU), and print wall time, cell·s/s (lanes ×
//! simulated seconds per wall second) and compartment-steps/s (lanes × nodes × steps per wall
//! second), plus the worst spike-time difference between the two.
//!
//! Environment: `EMSWEEP_PACKAGES` (folder holding `emodelrunner/sscx_sample_dir`; default
//! `.cache/packages`), `GPU_BENCH_LANES` (comma-separated batch sizes, default `64,1024`),
//! `GPU_BENCH_TSTOP_MS` (simulated time, default 100), `GPU_BENCH_BACKEND` (`any`, default, or
//! `real`: only a real GPU).

use std::path::PathBuf;
use std::time::Instant;

use emsweep::backend::cpu::CpuBackend;
use emsweep::backend::gpu::{AdapterPolicy, GpuBackend};
use emsweep::backend::run;
use emsweep::backend::{Backend, Precision};
use emsweep::engine::{
    Batch, CellModel, LaneSpec, LaneStimulus, MechanismLibrary, Probe, Quantity, RunConfig,
};
use emsweep::package::EModel;
use emsweep::sim::stimulus::{self, LaneCurrents};

fn fail(msg: String) -> ! {
    eprintln!("gpu_throughput: {msg}");
    std::process::exit(1)
}

fn load() -> (EModel, CellModel) {
    let packages = std::env::var_os("EMSWEEP_PACKAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".cache/packages"));
    let read = emsweep::package::read_package(&packages.join("emodelrunner/sscx_sample_dir"));
    if read.diagnostics.has_errors() {
        fail(format!("{:?}", read.diagnostics));
    }
    let em = read
        .emodels
        .into_iter()
        .find(|m| m.name == "cADpyr_L4UPC")
        .unwrap_or_else(|| fail("no cADpyr_L4UPC".into()));
    let (cell, d) = emsweep::cell::build(&em);
    let cell = cell.unwrap_or_else(|| fail(format!("{d:?}")));
    let (lib, d) = MechanismLibrary::for_emodel(&em);
    if d.has_errors() {
        fail(format!("{d:?}"));
    }
    let (model, d) = CellModel::new(&cell, &lib, em.celsius, em.v_init_mv);
    (em, model.unwrap_or_else(|| fail(format!("{d:?}"))))
}

/// `lanes` lanes of Step_150 with conductances scaled per lane (lane 0 unscaled).
fn lanes(em: &EModel, model: &CellModel, n: usize) -> Vec<LaneSpec> {
    let p = em
        .protocols()
        .find(|p| p.name == "Step_150")
        .unwrap_or_else(|| fail("no Step_150".into()));
    let program = stimulus::build(p, &vec![LaneCurrents::default(); n])
        .unwrap_or_else(|d| fail(d.render(None)));
    let stimuli = LaneStimulus::lanes_of(program, model.soma_node);
    let base = model.own_lane().unwrap_or_else(|d| fail(format!("{d:?}")));
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    stimuli
        .into_iter()
        .enumerate()
        .map(|(lane, st)| {
            let mut values = base.clone();
            if lane > 0 {
                for (m, pm) in model.mechanisms.iter().enumerate() {
                    for (f, field) in pm.ir.fields.iter().enumerate() {
                        if field.name.starts_with('g') && field.name.ends_with("bar") {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            let k = 0.8 + 0.4 * ((x >> 11) as f64 / (1u64 << 53) as f64);
                            values.fields[m][f].iter_mut().for_each(|g| *g *= k);
                        }
                    }
                }
            }
            LaneSpec {
                values,
                stimulus: Some(st),
            }
        })
        .collect()
}

fn spike_times(v: &[f64], dt_ms: f64) -> Vec<f64> {
    let t: Vec<f64> = (0..v.len()).map(|k| k as f64 * dt_ms).collect();
    emsweep::features::spike_times_ms(&t, v, emsweep::features::COMPARISON_THRESHOLD_MV)
}

fn main() {
    let (em, model) = load();
    let tstop_ms: f64 = std::env::var("GPU_BENCH_TSTOP_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100.0);
    let sizes: Vec<usize> = std::env::var("GPU_BENCH_LANES")
        .unwrap_or_else(|_| "64,1024".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let policy = match std::env::var("GPU_BENCH_BACKEND").as_deref() {
        Ok("real") => AdapterPolicy::RealGpu,
        _ => AdapterPolicy::Any,
    };
    let gpu = GpuBackend::new(policy).unwrap_or_else(|e| fail(e.to_string()));
    let cpu = CpuBackend::new(Precision::F32);
    let steps = RunConfig::steps_for(tstop_ms, em.dt_ms);
    let nodes = model.node_count();
    println!(
        "SSCx cADpyr_L4UPC, {nodes} nodes, {} mechanisms, Step_150 for {tstop_ms} ms ({steps} steps), soma v recorded every step",
        model.mechanisms.len()
    );
    println!("GPU adapter: {}", gpu.adapter());
    // the roofline's inputs, counted from the schedule and the kernels the backend runs
    let schedule = emsweep::engine::Schedule::fixed_step(&model);
    let traffic = emsweep::backend::gpu::traffic::step_traffic(&model, &schedule, 2, 1);
    println!("per lane and step (f32):");
    println!("| phase | bytes | flops | dispatches |");
    println!("|---|---:|---:|---:|");
    for l in &traffic.lines {
        println!(
            "| {} | {:.0} | {:.0} | {} |",
            l.what, l.bytes, l.flops, l.dispatches
        );
    }
    let (b, f) = (
        traffic.bytes_per_compartment_step(),
        traffic.flops_per_compartment_step(),
    );
    println!(
        "total per step: {:.0} bytes, {:.0} flops, {} dispatches; per compartment-step ({nodes} nodes): {b:.1} bytes, {f:.1} flops (intensity {:.2} flop/byte)",
        traffic.bytes(),
        traffic.flops(),
        traffic.dispatches(),
        f / b
    );
    println!(
        "bandwidth bound at 3 TB/s: {:.3e} compartment-steps/s = {:.0} cell·s/s of this cell",
        3e12 / b,
        3e12 / b / (nodes as f64 * 1000.0 / em.dt_ms)
    );
    println!("CPU: {} threads", rayon::current_num_threads());
    println!(
        "| lanes | backend | wall [s] | cell·s/s | comp-steps/s | worst spike Δt vs cpu-f32 [ms] |"
    );
    println!("|---:|---|---:|---:|---:|---:|");
    for &n in &sizes {
        let batch = Batch {
            model: &model,
            lanes: lanes(&em, &model, n),
        };
        let config = RunConfig {
            dt_ms: em.dt_ms,
            steps,
            record_every: 1,
            probes: vec![Probe {
                node: model.soma_node,
                quantity: Quantity::V,
            }],
            spike_detector: None,
        };
        let mut reference: Option<Vec<Vec<f64>>> = None;
        for backend in [&cpu as &dyn Backend, &gpu as &dyn Backend] {
            // warm-up (pipelines compiled, caches filled) on a short run
            let warm = RunConfig {
                steps: 10,
                ..config.clone()
            };
            run(backend, &batch, &warm).unwrap_or_else(|d| fail(format!("{d:?}")));
            let t = Instant::now();
            let out = run(backend, &batch, &config).unwrap_or_else(|d| fail(format!("{d:?}")));
            let wall = t.elapsed().as_secs_f64();
            let traces: Vec<Vec<f64>> = out.lanes.iter().map(|l| l.traces[0].clone()).collect();
            let worst = match &reference {
                None => {
                    reference = Some(traces);
                    "-".to_string()
                }
                Some(r) => {
                    let mut worst = 0.0f64;
                    for (a, b) in r.iter().zip(&traces) {
                        let (sa, sb) = (spike_times(a, em.dt_ms), spike_times(b, em.dt_ms));
                        if sa.len() != sb.len() {
                            worst = f64::INFINITY;
                        }
                        for (x, y) in sa.iter().zip(&sb) {
                            worst = worst.max((x - y).abs());
                        }
                    }
                    format!("{worst:.2e}")
                }
            };
            let cell_s = n as f64 * tstop_ms / 1000.0 / wall;
            let comp = (n * nodes * steps) as f64 / wall;
            println!(
                "| {n} | {} | {wall:.2} | {cell_s:.3} | {comp:.3e} | {worst} |",
                backend.name()
            );
        }
    }
}
