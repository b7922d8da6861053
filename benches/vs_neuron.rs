//! emsweep side of the emsweep-vs-NEURON benchmark (benches/vs_neuron.sh runs both sides).
//!
//! One job: run the SSCx sample cell (cADpyr_L4UPC) on Step_150 (300 ms, dt 0.025 ms) for the same
//! conductance variants as benches/vs_neuron.py, as one batch on one thread, in f64 and f32; print
//! throughput next to NEURON's (read from the JSON file that script wrote) and check that variant
//! 0 (the published model) spikes at NEURON's times.
//!
//! Environment: `EMSWEEP_PACKAGES` (folder holding `emodelrunner/sscx_sample_dir`; default
//! `.cache/packages`), `VS_NEURON_JSON` (NEURON's results; without it only emsweep is timed),
//! `VS_NEURON_VARIANTS` (default 64).

use std::path::PathBuf;
use std::time::Instant;

use emsweep::backend::cpu::CpuBackend;
use emsweep::backend::run;
use emsweep::backend::Precision;
use emsweep::engine::{
    Batch, CellModel, LaneSpec, LaneStimulus, MechanismLibrary, Probe, Quantity, RunConfig,
};
use emsweep::ir::FieldRole;
use emsweep::package::EModel;
use emsweep::sim::stimulus::{self, LaneCurrents};
use serde_json::Value;

const THRESHOLD_MV: f64 = -20.0;
/// Sanity tolerance on variant 0's spike times against NEURON's: f64 must agree to rounding.
const F64_SPIKE_TOL_MS: f64 = 1e-6;
const F32_SPIKE_TOL_MS: f64 = 0.05;

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn splitmix64(x: u64) -> u64 {
    let mut x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The factor of variant `variant` for the conductances of mechanism `suffix` (1 for variant 0);
/// the same function as `variant_factor` in benches/vs_neuron.py.
fn variant_factor(variant: u64, suffix: &str) -> f64 {
    if variant == 0 {
        return 1.0;
    }
    let x = splitmix64((variant << 32) ^ fnv1a(suffix));
    0.8 + 0.4 * ((x >> 11) as f64 / (1u64 << 53) as f64)
}

fn is_conductance(suffix: &str, field: &str) -> bool {
    (field.starts_with('g') && field.ends_with("bar")) || (suffix == "pas" && field == "g")
}

fn spike_times(v: &[f64], dt_ms: f64) -> Vec<f64> {
    v.windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < THRESHOLD_MV && w[1] >= THRESHOLD_MV)
        .map(|(i, w)| (i as f64 + (THRESHOLD_MV - w[0]) / (w[1] - w[0])) * dt_ms)
        .collect()
}

fn fail(msg: String) -> ! {
    eprintln!("vs_neuron: {msg}");
    std::process::exit(1)
}

fn render(d: &emsweep::diag::Diagnostics) -> String {
    d.iter()
        .map(|x| x.render(None))
        .collect::<Vec<_>>()
        .join("\n")
}

fn load() -> (EModel, CellModel) {
    let packages = std::env::var_os("EMSWEEP_PACKAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".cache/packages"));
    let read = emsweep::package::read_package(&packages.join("emodelrunner/sscx_sample_dir"));
    if read.diagnostics.has_errors() {
        fail(render(&read.diagnostics));
    }
    let em = read
        .emodels
        .into_iter()
        .find(|m| m.name == "cADpyr_L4UPC")
        .unwrap_or_else(|| fail("cADpyr_L4UPC not in the SSCx package".into()));
    let (cell, d) = emsweep::cell::build(&em);
    let cell = cell.unwrap_or_else(|| fail(render(&d)));
    let (lib, d) = MechanismLibrary::for_emodel(&em);
    if d.has_errors() {
        fail(render(&d));
    }
    let (model, d) = CellModel::new(&cell, &lib, em.celsius, em.v_init_mv);
    let model = model.unwrap_or_else(|| fail(render(&d)));
    (em, model)
}

/// Step_150's clamps (step and holding, in NEURON's order) at the soma, one lane per variant,
/// made by the stimulus layer from the package's own protocol.
fn step_150(em: &EModel, model: &CellModel, lanes: usize) -> (Vec<LaneStimulus>, f64) {
    let p = em
        .protocols()
        .find(|p| p.name == "Step_150")
        .unwrap_or_else(|| fail("no Step_150 protocol".into()));
    let program = stimulus::build(p, &vec![LaneCurrents::default(); lanes])
        .unwrap_or_else(|d| fail(d.render(None)));
    let tstop_ms = program.tstop_ms;
    (LaneStimulus::lanes_of(program, model.soma_node), tstop_ms)
}

struct Timing {
    label: &'static str,
    wall_s: f64,
    cpu_s: f64,
}

/// CPU time of this process so far [s] (Linux `CLOCK_PROCESS_CPUTIME_ID`; NaN elsewhere). On a
/// shared machine it leaves out the time other jobs held the core, unlike the wall clock.
fn process_cpu_s() -> f64 {
    #[cfg(target_os = "linux")]
    {
        #[repr(C)]
        struct Timespec {
            sec: i64,
            nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
        }
        const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
        let mut ts = Timespec { sec: 0, nsec: 0 };
        // SAFETY: `ts` is a valid timespec (64-bit Linux layout) for the call to fill
        if unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) } == 0 {
            return ts.sec as f64 + ts.nsec as f64 * 1e-9;
        }
    }
    f64::NAN
}

fn main() {
    let variants: u64 = std::env::var("VS_NEURON_VARIANTS")
        .ok()
        .map(|s| {
            s.parse()
                .unwrap_or_else(|_| fail(format!("bad VS_NEURON_VARIANTS {s}")))
        })
        .unwrap_or(64);
    let (em, model) = load();
    let (stimuli, tstop_ms) = step_150(&em, &model, variants as usize);
    let dt_ms = em.dt_ms;
    let base = model.own_lane().unwrap_or_else(|d| fail(render(&d)));
    let lanes: Vec<LaneSpec> = (0..variants)
        .map(|k| {
            let mut values = base.clone();
            for (m, pm) in model.mechanisms.iter().enumerate() {
                let factor = variant_factor(k, &pm.suffix);
                for (f, field) in pm.ir.fields.iter().enumerate() {
                    if field.role == FieldRole::Parameter && is_conductance(&pm.suffix, &field.name)
                    {
                        values.fields[m][f].iter_mut().for_each(|x| *x *= factor);
                    }
                }
            }
            LaneSpec {
                values,
                stimulus: Some(stimuli[k as usize].clone()),
            }
        })
        .collect();
    let batch = Batch {
        model: &model,
        lanes,
    };
    let config = RunConfig {
        dt_ms,
        steps: RunConfig::steps_for(tstop_ms, dt_ms),
        record_every: 1,
        probes: vec![Probe {
            node: model.soma_node,
            quantity: Quantity::V,
        }],
        spike_detector: None,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap_or_else(|e| fail(format!("thread pool: {e}")));
    let neuron: Option<Value> = std::env::var_os("VS_NEURON_JSON").map(|p| {
        serde_json::from_str(
            &std::fs::read_to_string(&p)
                .unwrap_or_else(|e| fail(format!("{}: {e}", PathBuf::from(&p).display()))),
        )
        .unwrap_or_else(|e| fail(format!("NEURON results: {e}")))
    });
    let neuron_spikes: Option<Vec<Vec<f64>>> = neuron.as_ref().map(|n| {
        n["spike_times_ms"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| {
                        s.as_array()
                            .map(|t| t.iter().filter_map(Value::as_f64).collect())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default()
    });
    let compartments = model.segment_node.len();
    let mut timings = Vec::new();
    let mut ok = true;
    for (label, precision, tol) in [
        ("emsweep f64", Precision::F64, F64_SPIKE_TOL_MS),
        ("emsweep f32", Precision::F32, F32_SPIKE_TOL_MS),
    ] {
        let start = Instant::now();
        let cpu_start = process_cpu_s();
        let out = pool
            .install(|| run(&CpuBackend::new(precision), &batch, &config))
            .unwrap_or_else(|d| fail(render(&d)));
        let wall_s = start.elapsed().as_secs_f64();
        let cpu_s = process_cpu_s() - cpu_start;
        timings.push(Timing {
            label,
            wall_s,
            cpu_s,
        });
        // a digest of every recorded sample's bits, to compare builds for bit-identity
        let digest = out
            .lanes
            .iter()
            .flat_map(|l| l.traces.iter().flatten())
            .fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
                (h ^ x.to_bits()).wrapping_mul(0x0000_0100_0000_01b3)
            });
        println!("{label}: trace digest {digest:016x}");
        let spikes: Vec<Vec<f64>> = out
            .lanes
            .iter()
            .map(|l| spike_times(&l.traces[0], dt_ms))
            .collect();
        if let Some(theirs) = &neuron_spikes {
            if theirs.len() != spikes.len() {
                fail(format!(
                    "NEURON ran {} variants, emsweep {}",
                    theirs.len(),
                    spikes.len()
                ));
            }
            let worst = |a: &[f64], b: &[f64]| {
                if a.len() != b.len() {
                    f64::INFINITY
                } else {
                    a.iter()
                        .zip(b)
                        .map(|(x, y)| (x - y).abs())
                        .fold(0.0, f64::max)
                }
            };
            let d0 = worst(&spikes[0], &theirs[0]);
            let same_count = spikes
                .iter()
                .zip(theirs)
                .filter(|(a, b)| a.len() == b.len())
                .count();
            let worst_all = spikes
                .iter()
                .zip(theirs)
                .filter(|(a, b)| a.len() == b.len())
                .map(|(a, b)| worst(a, b))
                .fold(0.0, f64::max);
            let pass = d0 <= tol && !theirs[0].is_empty();
            ok &= pass;
            println!(
                "{label}: variant 0 {} spikes, max |dt| vs NEURON {d0:.3e} ms ({}); all variants: \
                 same spike count in {same_count}/{}, max |dt| among those {worst_all:.3e} ms",
                spikes[0].len(),
                if pass { "ok" } else { "MISMATCH" },
                spikes.len()
            );
        }
    }
    let sim_s = tstop_ms / 1000.0;
    let steps = config.steps as f64;
    let row = |label: &str, wall_s: f64, comps: f64, base: Option<f64>| {
        let cells_per_s = variants as f64 * sim_s / wall_s;
        let cs = variants as f64 * comps * steps / wall_s;
        let ratio = base.map_or(String::from("1.00"), |b| format!("{:.2}", cells_per_s / b));
        println!("{label:<22} {wall_s:>9.2} {cells_per_s:>14.4} {cs:>14.3e} {ratio:>10}",);
        cells_per_s
    };
    println!(
        "{variants} variants x {tstop_ms} ms (dt {dt_ms} ms, {} steps), {compartments} compartments, one core",
        config.steps
    );
    println!(
        "{:<22} {:>9} {:>14} {:>14} {:>10}",
        "", "wall [s]", "cell*s/s", "comp-steps/s", "vs NEURON"
    );
    // ratios are against NEURON's simulation time only (its cell building is not counted)
    let neuron_run = neuron.as_ref().map(|n| {
        let comps = n["compartments"].as_f64().unwrap_or(f64::NAN);
        let total = n["wall_total_s"].as_f64().unwrap_or(f64::NAN);
        let sim = n["wall_sim_s"].as_f64().unwrap_or(f64::NAN);
        let base = row("NEURON (run only)", sim, comps, None);
        row("NEURON (incl. setup)", total, comps, Some(base));
        base
    });
    for t in &timings {
        row(t.label, t.wall_s, compartments as f64, neuron_run);
    }
    // the same by CPU time (robust when other jobs share the core)
    println!(
        "{:<22} {:>9} {:>14} {:>14} {:>10}",
        "", "cpu [s]", "cell*s/s", "comp-steps/s", "vs NEURON"
    );
    let neuron_cpu = neuron.as_ref().map(|n| {
        let comps = n["compartments"].as_f64().unwrap_or(f64::NAN);
        let sim = n["cpu_sim_s"].as_f64().unwrap_or(f64::NAN);
        row("NEURON (run only)", sim, comps, None)
    });
    for t in &timings {
        row(t.label, t.cpu_s, compartments as f64, neuron_cpu);
    }
    if !ok {
        fail("variant 0 does not spike as in NEURON".into());
    }
}
