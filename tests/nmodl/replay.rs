//! NEURON's recorded voltage replayed into our mechanism programs (`emit::cpu` + `kernels-cpu`),
//! with every state free, against NEURON 9.0.2 running the same channels
//! (`tests/nmodl/reference/replay.py`, data in `tests/nmodl/reference/replay/`, acceptance
//! criteria in `tests/nmodl/reference/README.md`).
//!
//! The harness follows NEURON's fixed step on one node: `finitialize` (ion concentrations at
//! their defaults, reversal potentials, every INITIAL in NEURON's mechanism order, then the
//! currents once), then per step: reversal potentials of ions whose concentration a channel
//! writes (Nernst), ion currents cleared, every current kernel at the voltage the step's currents
//! saw, then every state kernel at the voltage after the step, in NEURON's mechanism order
//! (`emsweep::ir::neuron_call_order`: concentration writers first).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use emsweep::emit::cpu::{emit, Column, CpuMechanism};
use emsweep::ir::{neuron_call_order, IonVar, Mechanism, SimVar};
use emsweep::nmodl::{builtin::builtin, compile_file};
use kernels_cpu::mechanism::Real;

use crate::common::{real_packages_dir, repo_root};

/// Molar gas constant [J/(K mol)] and Faraday constant [C/mol] as NEURON 9 uses them (2019 SI).
const GAS_CONSTANT: f64 = 8.314_462_618_153_24;
const FARADAY: f64 = 96_485.332_123_310_01;

/// NEURON's Nernst potential [mV] of an ion of valence `z` at `celsius`.
fn nernst(ci: f64, co: f64, z: f64, celsius: f64) -> f64 {
    if z == 0.0 {
        return 0.0;
    }
    if ci <= 0.0 {
        return 1e6;
    }
    if co <= 0.0 {
        return -1e6;
    }
    let ktf_mv = 1000.0 * GAS_CONSTANT * (celsius + 273.15) / FARADAY;
    ktf_mv / z * (co / ci).ln()
}

/// A number of the reference.
fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// Expand a run-length list `[[value, count], ...]` (`null`: the previous step's final voltage).
fn expand(rle: &serde_json::Value) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for pair in rle.as_array().unwrap() {
        let v = pair[0].as_f64();
        let n = pair[1].as_u64().unwrap() as usize;
        out.extend(std::iter::repeat_n(v, n));
    }
    out
}

/// One recorded run.
pub struct Run {
    pub id: String,
    pub package: Option<String>,
    /// (suffix, where our source comes from) in NEURON's order.
    pub mechanisms: Vec<(String, String)>,
    pub parameters: BTreeMap<String, f64>,
    pub celsius: f64,
    pub dt_ms: f64,
    pub v_init_mv: f64,
    pub diam_um: f64,
    pub area_um2: f64,
    pub ion_globals: BTreeMap<String, f64>,
    pub ions_after_init: BTreeMap<String, f64>,
    /// Per step 1..=steps: the voltage the currents saw and the voltage after the step.
    pub v_current: Vec<f64>,
    pub v_state: Vec<f64>,
    /// Steps at which the series were recorded (0: after finitialize).
    pub samples: Vec<usize>,
    pub series: BTreeMap<String, Vec<f64>>,
}

pub fn reference_dir() -> PathBuf {
    repo_root().join("tests/nmodl/reference/replay")
}

pub fn load_runs() -> Vec<Run> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(reference_dir())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load_run(p)).collect()
}

fn load_run(path: &Path) -> Run {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let map = |v: &serde_json::Value| -> BTreeMap<String, f64> {
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, x)| (k.clone(), f(x)))
            .collect()
    };
    let s = &doc["settings"];
    let v_init_mv = f(&s["v_init_mv"]);
    let v_state: Vec<f64> = expand(&doc["v_state"])
        .into_iter()
        .map(|v| v.unwrap())
        .collect();
    let v_current: Vec<f64> = expand(&doc["v_current"])
        .into_iter()
        .enumerate()
        .map(|(k, v)| v.unwrap_or(if k == 0 { v_init_mv } else { v_state[k - 1] }))
        .collect();
    let steps = doc["steps"].as_u64().unwrap() as usize;
    assert_eq!(v_state.len(), steps, "{}", path.display());
    assert_eq!(v_current.len(), steps, "{}", path.display());
    Run {
        id: doc["id"].as_str().unwrap().to_string(),
        package: doc["package"].as_str().map(str::to_string),
        mechanisms: doc["mechanisms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["suffix"].as_str().unwrap().to_string(),
                    m["ours"].as_str().unwrap().to_string(),
                )
            })
            .collect(),
        parameters: map(&doc["parameters"]),
        celsius: f(&s["celsius"]),
        dt_ms: f(&s["dt_ms"]),
        v_init_mv,
        diam_um: f(&s["diam_um"]),
        area_um2: f(&s["area_um2"]),
        ion_globals: map(&doc["ion_globals"]),
        ions_after_init: map(&doc["ions_after_init"]),
        v_current,
        v_state,
        samples: doc["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect(),
        series: doc["series"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_array().unwrap().iter().map(f).collect()))
            .collect(),
    }
}

/// The source file of a run's mechanism: `package:<file>` or `builtin:<name>`.
pub fn source_path(run: &Run, ours: &str) -> Option<PathBuf> {
    let file = ours.strip_prefix("package:")?;
    Some(
        real_packages_dir()
            .join(run.package.as_ref()?)
            .join("mechanisms")
            .join(file),
    )
}

/// Compile a run's mechanism from our source.
pub fn compile_ours(run: &Run, suffix: &str, ours: &str) -> Mechanism {
    let c = match ours.strip_prefix("builtin:") {
        Some(name) => builtin(name)
            .unwrap_or_else(|| panic!("{}: no built-in {name}", run.id))
            .compile(),
        None => compile_file(&source_path(run, ours).unwrap()),
    };
    let m = c.mechanism.unwrap_or_else(|| {
        panic!(
            "{}: {ours} does not compile: {:?}",
            run.id,
            c.diagnostics.into_vec()
        )
    });
    assert_eq!(m.name, suffix, "{}", run.id);
    m
}

/// One ion species at the node.
struct NodeIon<T> {
    name: String,
    valence: f64,
    /// Whether some mechanism writes a concentration (then the reversal potential follows
    /// Nernst every step).
    conc_written: bool,
    /// erev, inside, outside, current
    values: [T; 4],
}

fn slot(var: IonVar) -> usize {
    match var {
        IonVar::Erev => 0,
        IonVar::Inside => 1,
        IonVar::Outside => 2,
        IonVar::Current => 3,
    }
}

/// One mechanism instance: its programs and its columns (one lane).
struct Lane<T> {
    m: Mechanism,
    cm: CpuMechanism,
    cols: Vec<Vec<T>>,
    /// Node ion index of each of the mechanism's ions.
    ion_index: Vec<usize>,
}

#[derive(Clone, Copy)]
struct Sim {
    v_mv: f64,
    t_ms: f64,
}

/// Our values of the recorded series at the sample steps.
pub type Replayed = BTreeMap<String, Vec<f64>>;

/// Replay `run` in precision `T`; `registered` in NEURON's registration order.
pub fn replay<T: Real>(run: &Run, registered: &[Mechanism]) -> Replayed {
    let order = neuron_call_order(&registered.iter().collect::<Vec<_>>());
    let mechs: Vec<&Mechanism> = order.iter().map(|&i| &registered[i]).collect();
    // the node's ions, in first-use order
    let mut ions: Vec<NodeIon<T>> = Vec::new();
    for m in &mechs {
        for ion in &m.ions {
            let at = match ions.iter().position(|i| i.name == ion.name) {
                Some(at) => at,
                None => {
                    ions.push(NodeIon {
                        name: ion.name.clone(),
                        valence: ion.valence,
                        conc_written: false,
                        values: [T::ZERO; 4],
                    });
                    ions.len() - 1
                }
            };
            ions[at].conc_written |= ion.writes_concentration();
        }
    }
    for ion in ions.iter_mut() {
        let n = &ion.name;
        let after = |var: IonVar| {
            *run.ions_after_init
                .get(&var.nmodl_name(n))
                .unwrap_or_else(|| panic!("{}: NEURON recorded no {}", run.id, var.nmodl_name(n)))
        };
        let (e, ci, co) = if ion.conc_written {
            let ci = run.ion_globals[&format!("{n}i0_{n}_ion")];
            let co = run.ion_globals[&format!("{n}o0_{n}_ion")];
            (nernst(ci, co, ion.valence, run.celsius), ci, co)
        } else {
            (
                after(IonVar::Erev),
                after(IonVar::Inside),
                after(IonVar::Outside),
            )
        };
        ion.values = [T::from_f64(e), T::from_f64(ci), T::from_f64(co), T::ZERO];
    }
    let mut lanes: Vec<Lane<T>> = mechs
        .iter()
        .map(|m| {
            let cm = emit(m);
            let mut cols: Vec<Vec<T>> = cm
                .columns
                .iter()
                .map(|c| match *c {
                    Column::Field(fid) => vec![T::from_f64(m.fields[fid.index()].default)],
                    _ => vec![T::ZERO],
                })
                .collect();
            for (name, value) in &run.parameters {
                let Some(field) = name.strip_suffix(&format!("_{}", m.name)) else {
                    continue;
                };
                let fid = m
                    .field_id(field)
                    .unwrap_or_else(|| panic!("{}: {} has no field {field}", run.id, m.name));
                let c = cm.column(Column::Field(fid)).unwrap();
                cols[c][0] = T::from_f64(*value);
            }
            let ion_index = m
                .ions
                .iter()
                .map(|i| ions.iter().position(|n| n.name == i.name).unwrap())
                .collect();
            Lane {
                m: (*m).clone(),
                cm,
                cols,
                ion_index,
            }
        })
        .collect();

    let run_kernel = |lane: &mut Lane<T>, ions: &mut [NodeIon<T>], which: usize, sim: Sim| {
        for (c, col) in lane.cm.columns.iter().enumerate() {
            let value = match *col {
                Column::Field(_) => continue,
                Column::Ion(i, var) => ions[lane.ion_index[i.index()]].values[slot(var)],
                Column::Sim(s) => T::from_f64(match s {
                    SimVar::V => sim.v_mv,
                    SimVar::T => sim.t_ms,
                    SimVar::Dt => run.dt_ms,
                    SimVar::Celsius => run.celsius,
                    SimVar::Diam => run.diam_um,
                    SimVar::Area => run.area_um2,
                }),
                Column::Current | Column::Conductance => T::ZERO,
            };
            lane.cols[c][0] = value;
        }
        let program = match which {
            0 => &lane.cm.init,
            1 => &lane.cm.current,
            _ => &lane.cm.state,
        };
        let mut refs: Vec<&mut [T]> = lane.cols.iter_mut().map(|c| c.as_mut_slice()).collect();
        program.run(&mut refs).unwrap();
        for (c, col) in lane.cm.columns.iter().enumerate() {
            if let Column::Ion(i, var) = *col {
                if lane.m.ions[i.index()].writes.contains(&var) {
                    ions[lane.ion_index[i.index()]].values[slot(var)] = lane.cols[c][0];
                }
            }
        }
    };
    let ion_update = |ions: &mut [NodeIon<T>]| {
        for ion in ions.iter_mut() {
            if ion.conc_written {
                // in the working precision, as a GPU would
                let ktf = T::from_f64(1000.0 * GAS_CONSTANT * (run.celsius + 273.15) / FARADAY);
                let (ci, co) = (ion.values[1], ion.values[2]);
                ion.values[0] = if ci <= T::ZERO {
                    T::from_f64(1e6)
                } else if co <= T::ZERO {
                    T::from_f64(-1e6)
                } else {
                    ktf / T::from_f64(ion.valence) * (co / ci).ln()
                };
            }
            ion.values[3] = T::ZERO;
        }
    };

    let mut out: Replayed = run
        .series
        .keys()
        .map(|k| (k.clone(), Vec::with_capacity(run.samples.len())))
        .collect();
    let record = |out: &mut Replayed, lanes: &[Lane<T>], ions: &[NodeIon<T>]| {
        for (name, values) in out.iter_mut() {
            let ion_value = ions.iter().find_map(|ion| {
                [
                    IonVar::Erev,
                    IonVar::Inside,
                    IonVar::Outside,
                    IonVar::Current,
                ]
                .into_iter()
                .find(|v| v.nmodl_name(&ion.name) == *name)
                .map(|v| ion.values[slot(v)])
            });
            let value = ion_value.or_else(|| {
                lanes.iter().find_map(|lane| {
                    let field = name.strip_suffix(&format!("_{}", lane.m.name))?;
                    let fid = lane.m.field_id(field)?;
                    Some(lane.cols[lane.cm.column(Column::Field(fid))?][0])
                })
            });
            values.push(value.map_or(f64::NAN, |x| x.to_f64()));
        }
    };

    // finitialize
    let mut sim = Sim {
        v_mv: run.v_init_mv,
        t_ms: 0.0,
    };
    for lane in lanes.iter_mut() {
        run_kernel(lane, &mut ions, 0, sim);
    }
    ion_update(&mut ions);
    for lane in lanes.iter_mut() {
        run_kernel(lane, &mut ions, 1, sim);
    }
    let mut next_sample = 0;
    if run.samples.first() == Some(&0) {
        record(&mut out, &lanes, &ions);
        next_sample = 1;
    }
    let mut t_ms = 0.0f64;
    for k in 1..=run.v_state.len() {
        t_ms += 0.5 * run.dt_ms;
        sim.t_ms = t_ms;
        sim.v_mv = run.v_current[k - 1];
        ion_update(&mut ions);
        for lane in lanes.iter_mut() {
            run_kernel(lane, &mut ions, 1, sim);
        }
        t_ms += 0.5 * run.dt_ms;
        sim.t_ms = t_ms;
        sim.v_mv = run.v_state[k - 1];
        for lane in lanes.iter_mut() {
            run_kernel(lane, &mut ions, 2, sim);
        }
        if run.samples.get(next_sample) == Some(&k) {
            record(&mut out, &lanes, &ions);
            next_sample += 1;
        }
    }
    out
}

/// The f32 replay's largest error on a series, relative to the series' largest magnitude
/// (measured: 4.5e-5, SK_E2's z next to a calcium current).
const F32_BOUND: f64 = 1e-4;

/// Series whose f32 error is larger for a known reason, with their own bound. NaTs2_t steps its
/// voltage by 1e-4 mV off the removable singularity of its h rates at -60 mV, a clamp level; in
/// f32 that step is resolved to ~2 %, so h relaxes to a steady state off by ~1e-3 (measured
/// 8.9e-4) while the clamp holds -60 mV.
const F32_EXCEPTIONS: [(&str, &str, f64); 1] = [("bpo_NaTs2_t", "h_NaTs2_t", 1.5e-3)];

/// `|got - want| <= rtol*|want| + atol`.
fn within(got: f64, want: f64, rtol: f64, atol: f64) -> bool {
    (got - want).abs() <= rtol * want.abs() + atol
}

/// Every recorded value of every run, replayed in f64: within 1e-9 relative + 1e-12 absolute of
/// NEURON's (in the quantity's own unit). In f32 each series' largest error relative to its
/// largest magnitude is measured and bounded.
#[test]
fn replayed_channels_match_neuron() {
    let runs = load_runs();
    assert!(runs.len() >= 28, "only {} runs", runs.len());
    let mut problems: Vec<String> = Vec::new();
    let mut compared = 0usize;
    let mut worst64 = (0.0f64, String::new());
    let mut worst32 = (0.0f64, String::new());
    let (mut inexact, mut worst_rel) = (0usize, 0.0f64);
    let mut inexact_runs: Vec<&str> = Vec::new();
    for run in &runs {
        let mechs: Vec<Mechanism> = run
            .mechanisms
            .iter()
            .map(|(s, o)| compile_ours(run, s, o))
            .collect();
        let ours64 = replay::<f64>(run, &mechs);
        let ours32 = replay::<f32>(run, &mechs);
        for (name, want) in &run.series {
            assert_eq!(want.len(), run.samples.len(), "{} {name}", run.id);
            let got = &ours64[name];
            assert_eq!(got.len(), want.len(), "{} {name}: samples replayed", run.id);
            let scale = want.iter().fold(0.0f64, |a, x| a.max(x.abs()));
            let mut first_bad = None;
            for (j, (&g, &w)) in got.iter().zip(want).enumerate() {
                compared += 1;
                if g.to_bits() != w.to_bits() {
                    inexact += 1;
                    if !inexact_runs.contains(&run.id.as_str()) {
                        inexact_runs.push(&run.id);
                    }
                    worst_rel = worst_rel.max((g - w).abs() / w.abs());
                }
                let excess = (g - w).abs() / (1e-9 * w.abs() + 1e-12);
                if excess > worst64.0 {
                    worst64 = (
                        excess,
                        format!("{} {name} step {}: {g:e} vs {w:e}", run.id, run.samples[j]),
                    );
                }
                if !within(g, w, 1e-9, 1e-12) && first_bad.is_none() {
                    first_bad = Some(j);
                }
            }
            if let Some(j) = first_bad {
                problems.push(format!(
                    "{} {name}: first off at step {} (t = {} ms): ours {:e}, NEURON {:e}",
                    run.id,
                    run.samples[j],
                    run.samples[j] as f64 * run.dt_ms,
                    got[j],
                    want[j]
                ));
            }
            if scale > 0.0 {
                let err32 = ours32[name]
                    .iter()
                    .zip(want)
                    .fold(0.0f64, |a, (g, w)| a.max((g - w).abs()))
                    / scale;
                let bound = F32_EXCEPTIONS
                    .iter()
                    .find(|(id, series, _)| *id == run.id && series == name)
                    .map_or(F32_BOUND, |e| e.2);
                if err32.is_nan() || err32 > bound {
                    problems.push(format!(
                        "{} {name}: f32 error {err32:.3e} of the largest magnitude, bound {bound:e}",
                        run.id
                    ));
                }
                if (err32.is_nan() || err32 > worst32.0) && bound == F32_BOUND {
                    worst32 = (err32, format!("{} {name}", run.id));
                }
            }
        }
    }
    eprintln!(
        "replay: {} runs, {compared} values, {inexact} not bit-identical (largest relative deviation {worst_rel:.2e}, in {inexact_runs:?}); \
         f64 worst |Δ|/(1e-9|ref| + 1e-12) = {:.3e} ({}); f32 worst max|Δ|/max|ref| outside the exceptions = {:.3e} ({})",
        runs.len(),
        worst64.0,
        worst64.1,
        worst32.0,
        worst32.1
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(compared > 100_000, "{compared}");
}

/// The bytes of our source of a run's mechanism.
fn source_bytes(run: &Run, ours: &str) -> Vec<u8> {
    match ours.strip_prefix("builtin:") {
        Some(name) => builtin(name).unwrap().source.as_bytes().to_vec(),
        None => std::fs::read(source_path(run, ours).unwrap()).unwrap(),
    }
}

/// Every channel an example e-model inserts (the real packages' and our examples'), as the file
/// that e-model would compile (or our built-in when it ships none), is one of the replayed runs'.
#[test]
fn replay_runs_cover_every_channel_the_example_emodels_use() {
    use emsweep::package::{mods, read_package};

    let runs = load_runs();
    let covered: Vec<(String, Vec<u8>)> = runs
        .iter()
        .flat_map(|run| {
            run.mechanisms
                .iter()
                .map(|(s, o)| (s.clone(), source_bytes(run, o)))
        })
        .collect();
    let pk = real_packages_dir();
    let dirs = [
        repo_root().join("examples/ball_and_stick_hh"),
        repo_root().join("examples/two_compartment_swc"),
        pk.join("emodelrunner/sscx_sample_dir"),
        pk.join("emodelrunner/synplas_sample_dir"),
        pk.join("emodelrunner/thalamus_sample_dir"),
        pk.join("bluepyemodel/L5PC"),
        pk.join("bluepyemodel/simplecell"),
        pk.join("bluepyopt/l5pc"),
    ];
    let mut missing = Vec::new();
    let mut checked = 0;
    for dir in &dirs {
        let read = read_package(dir);
        assert!(!read.emodels.is_empty(), "{}", dir.display());
        for em in &read.emodels {
            let declared = mods::declared_names(&em.mod_files);
            for m in &em.mechanisms {
                let bytes = match declared.iter().find(|(n, _)| *n == m.suffix) {
                    Some((_, file)) => std::fs::read(file).unwrap(),
                    None => builtin(&m.suffix)
                        .unwrap_or_else(|| panic!("{}: no source for {}", dir.display(), m.suffix))
                        .source
                        .as_bytes()
                        .to_vec(),
                };
                checked += 1;
                if !covered.iter().any(|(s, b)| *s == m.suffix && *b == bytes) {
                    missing.push(format!("{} {}: {}", dir.display(), em.label(), m.suffix));
                }
            }
        }
    }
    missing.dedup();
    assert!(checked > 100, "{checked}");
    assert!(missing.is_empty(), "not replayed:\n{}", missing.join("\n"));
}
