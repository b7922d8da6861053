//! The NMODL compiler on the real packages: IR snapshots, the table of expected outcomes, and
//! robustness against mutated real files.
//!
//! The .mod files come from the bootstrap cache (they are not ours to commit); the snapshots under
//! `tests/nmodl/snapshots/` are our output. Re-bless them with `EMSWEEP_BLESS=1 cargo test nmodl`.

use std::path::{Path, PathBuf};

use emsweep::diag::Severity;
use emsweep::ir::dump::dump;
use emsweep::nmodl::{compile_bytes, compile_file, Compiled, FileKind};
use proptest::prelude::*;

use crate::common::{real_packages_dir, repo_root};

mod replay;

/// The packages of the outcome table, relative to the packages folder.
const PACKAGES: &[&str] = &[
    "emodelrunner/sscx_sample_dir",
    "emodelrunner/synplas_sample_dir",
    "emodelrunner/thalamus_sample_dir",
    "bluepyemodel/L5PC",
    "bluepyopt/l5pc",
];

/// The packages whose IR is snapshot-tested.
const SNAPSHOT_PACKAGES: &[&str] = &[
    "emodelrunner/sscx_sample_dir",
    "emodelrunner/thalamus_sample_dir",
];

/// The top-level .mod files of a package's `mechanisms/` folder, sorted.
fn mod_files(package: &str) -> Vec<PathBuf> {
    let dir = real_packages_dir().join(package).join("mechanisms");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "mod"))
        .collect();
    out.sort();
    out
}

fn render(c: &Compiled) -> String {
    c.diagnostics
        .iter()
        .map(|d| d.render(None))
        .collect::<Vec<_>>()
        .join("\n")
}

fn snapshot_dir() -> PathBuf {
    repo_root().join("tests/nmodl/snapshots")
}

fn blessing() -> bool {
    std::env::var("EMSWEEP_BLESS").is_ok_and(|v| v == "1")
}

#[test]
fn ir_snapshots_match() {
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for package in SNAPSHOT_PACKAGES {
        let short = Path::new(package)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = snapshot_dir().join(&short);
        for path in mod_files(package) {
            let c = compile_file(&path);
            let Some(m) = &c.mechanism else {
                continue;
            };
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let snap = dir.join(format!("{stem}.ir"));
            seen.push(snap.clone());
            let text = dump(m);
            if blessing() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&snap, &text).unwrap();
                continue;
            }
            match std::fs::read_to_string(&snap) {
                Err(_) => problems.push(format!(
                    "{}: no snapshot {} (run with EMSWEEP_BLESS=1 to create it)",
                    path.display(),
                    snap.display()
                )),
                Ok(old) if old != text => {
                    let first = old
                        .lines()
                        .zip(text.lines())
                        .position(|(a, b)| a != b)
                        .unwrap_or(old.lines().count().min(text.lines().count()));
                    problems.push(format!(
                        "{}: IR differs from {} from line {} on:\n  was: {}\n  now: {}",
                        path.display(),
                        snap.display(),
                        first + 1,
                        old.lines().nth(first).unwrap_or("<end>"),
                        text.lines().nth(first).unwrap_or("<end>")
                    ));
                }
                Ok(_) => {}
            }
        }
    }
    // snapshots of files that no longer compile (or were removed) are stale
    for short in ["sscx_sample_dir", "thalamus_sample_dir"] {
        if let Ok(rd) = std::fs::read_dir(snapshot_dir().join(short)) {
            for e in rd.flatten() {
                if !seen.contains(&e.path()) {
                    if blessing() {
                        let _ = std::fs::remove_file(e.path());
                    } else {
                        problems.push(format!("stale snapshot {}", e.path().display()));
                    }
                }
            }
        }
    }
    assert!(seen.len() >= 40, "only {} snapshots", seen.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

struct Expected {
    package: String,
    file: String,
    outcome: String,
    name: String,
    detail: String,
}

fn expected_table() -> Vec<Expected> {
    let path = repo_root().join("tests/nmodl/expected_outcomes.md");
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| package"))
        .map(|l| {
            let cells: Vec<String> = l
                .trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect();
            assert_eq!(cells.len(), 5, "bad row: {l}");
            Expected {
                package: cells[0].clone(),
                file: cells[1].clone(),
                outcome: cells[2].clone(),
                name: cells[3].clone(),
                detail: cells[4].clone(),
            }
        })
        .collect()
}

#[test]
fn expected_outcomes_hold() {
    let table = expected_table();
    let mut problems = Vec::new();
    // every top-level file is listed
    for package in PACKAGES {
        for path in mod_files(package) {
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            if !table
                .iter()
                .any(|e| e.package == *package && e.file == file)
            {
                problems.push(format!("{package}/{file} is not in the table"));
            }
        }
    }
    for e in &table {
        let path = real_packages_dir()
            .join(&e.package)
            .join("mechanisms")
            .join(&e.file);
        let c = compile_file(&path);
        let here = format!("{}/{}", e.package, e.file);
        if c.name.as_deref() != Some(e.name.as_str()) {
            problems.push(format!("{here}: name {:?}, expected {}", c.name, e.name));
        }
        let errors = c
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        match e.outcome.as_str() {
            "compiles" => {
                if c.mechanism.is_none() || errors > 0 || c.kind != FileKind::Density {
                    problems.push(format!("{here}: expected to compile:\n{}", render(&c)));
                }
            }
            "builtin" | "rejected" => {
                let got = c.unsupported();
                let missing: Vec<&str> = e
                    .detail
                    .split(',')
                    .map(str::trim)
                    .filter(|want| !got.iter().any(|g| g.starts_with(want)))
                    .collect();
                if c.mechanism.is_some() || !missing.is_empty() {
                    problems.push(format!(
                        "{here}: expected rejection naming {}; got {:?}",
                        e.detail, got
                    ));
                }
                let stands_in = emsweep::nmodl::builtin::builtin(&e.name)
                    .is_some_and(|b| b.replaces(&c) && b.compile().mechanism.is_some());
                if (e.outcome == "builtin") != stands_in {
                    problems.push(format!(
                        "{here}: a built-in replacement {}",
                        if stands_in {
                            "exists, yet the table says rejected"
                        } else {
                            "is missing"
                        }
                    ));
                }
            }
            "not-density" => {
                let want = match e.detail.as_str() {
                    "POINT_PROCESS" => FileKind::PointProcess,
                    "ARTIFICIAL_CELL" => FileKind::ArtificialCell,
                    other => panic!("bad detail {other}"),
                };
                let only_note = c.diagnostics.len() == 1
                    && c.diagnostics
                        .iter()
                        .all(|d| d.severity == Severity::Note && d.kind == "not-density");
                if c.kind != want || !only_note || c.mechanism.is_some() {
                    problems.push(format!(
                        "{here}: expected a not-density note for a {}:\n{}",
                        e.detail,
                        render(&c)
                    ));
                }
            }
            other => problems.push(format!("{here}: unknown outcome `{other}`")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every .mod file of the packages, once each (by contents), as bytes.
fn corpus() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for package in PACKAGES {
        for path in mod_files(package) {
            let b = std::fs::read(&path).unwrap();
            if !out.contains(&b) {
                out.push(b);
            }
        }
    }
    out
}

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Duplicate(usize, usize),
    Swap(usize, usize),
    Truncate(usize),
}

fn mutate(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let n = b.len().max(1);
        match m {
            Mutation::Delete(at, len) => {
                let s = at % n;
                let e = (s + len % 64).min(b.len());
                if s < e {
                    b.drain(s..e);
                }
            }
            Mutation::Insert(at, bytes) => {
                let s = (at % n).min(b.len());
                b.splice(s..s, bytes.iter().copied());
            }
            Mutation::Duplicate(at, len) => {
                let s = (at % n).min(b.len());
                let e = (s + len % 200).min(b.len());
                let piece = b[s..e].to_vec();
                b.splice(e..e, piece);
            }
            Mutation::Swap(i, j) => {
                if !b.is_empty() {
                    let (i, j) = (i % b.len(), j % b.len());
                    b.swap(i, j);
                }
            }
            Mutation::Truncate(at) => {
                let s = (at % n).min(b.len());
                b.truncate(s);
            }
        }
    }
    b
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let tokens: Vec<&'static [u8]> = vec![
        b"{",
        b"}",
        b"(",
        b")",
        b"'",
        b"=",
        b"^",
        b"-",
        b"COMMENT",
        b"VERBATIM",
        b"ENDVERBATIM",
        b"if",
        b"else",
        b"LOCAL x",
        b"SOLVE states METHOD cnexp",
        b"x' = x*x",
        b"v = v + 1",
        b"PROCEDURE",
        b"FUNCTION f(a) { f = f(a) }",
        b"rates()",
        b"1e308*1e308",
        b"\xff\xfe",
        b"TABLE",
        b"USEION ca READ cai WRITE cai",
        b":",
        b"\n",
    ];
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(a, l)| Mutation::Delete(a, l)),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 0..12)
        )
            .prop_map(|(a, v)| Mutation::Insert(a, v)),
        (any::<usize>(), proptest::sample::select(tokens))
            .prop_map(|(a, t)| Mutation::Insert(a, t.to_vec())),
        (any::<usize>(), any::<usize>()).prop_map(|(a, l)| Mutation::Duplicate(a, l)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Mutated real files never panic the compiler, and what compiles is valid IR.
    #[test]
    fn mutated_real_files_never_panic(
        pick in any::<usize>(),
        muts in proptest::collection::vec(mutation(), 1..6),
    ) {
        thread_local! {
            static CORPUS: Vec<Vec<u8>> = corpus();
        }
        let src = CORPUS.with(|c| c[pick % c.len()].clone());
        let bytes = mutate(src, &muts);
        let c = compile_bytes(Path::new("mutated.mod"), &bytes);
        if let Some(m) = &c.mechanism {
            prop_assert!(emsweep::ir::validate(m).is_ok());
        } else {
            prop_assert!(c.kind != FileKind::Density || c.diagnostics.has_errors());
        }
    }
}

/// A number of the reference file (non-finite values are written as strings there).
fn ref_num(v: &serde_json::Value) -> f64 {
    match v {
        serde_json::Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        serde_json::Value::String(s) => match s.as_str() {
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            _ => f64::NAN,
        },
        _ => f64::NAN,
    }
}

/// Relative deviation of `got` from NEURON's `want` (0 when both are NaN or equal).
fn deviation(got: f64, want: f64) -> f64 {
    if got == want || (got.is_nan() && want.is_nan()) {
        return 0.0;
    }
    (got - want).abs() / want.abs().max(1e-300)
}

/// Our kernels, run through the reference evaluation, against NEURON 9.0.2 running the same .mod
/// files (tests/nmodl/reference: data, generator and provenance). Every RANGE variable and every
/// ion variable a mechanism writes is compared after finitialize and after each of three steps.
#[test]
fn kernels_match_neuron() {
    use emsweep::ir::eval::{run_kernel, Instance, SimValues};
    use emsweep::ir::{Hook, IonVar};

    let path = repo_root().join("tests/nmodl/reference/neuron_kernels.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 90);
    let mut problems = Vec::new();
    let mut worst = (0.0f64, String::new());
    let mut compared = 0usize;
    let mut inexact: Vec<String> = Vec::new();
    for case in cases {
        let package = case["package"].as_str().unwrap();
        let file = case["file"].as_str().unwrap();
        let c = compile_file(
            &real_packages_dir()
                .join(package)
                .join("mechanisms")
                .join(file),
        );
        let m = c
            .mechanism
            .as_ref()
            .unwrap_or_else(|| panic!("{file}: {}", render(&c)));
        let sim = SimValues {
            v_mv: ref_num(&case["v_init"]),
            t_ms: 0.0,
            dt_ms: 0.025,
            celsius: 34.0,
            diam_um: ref_num(&case["diam"]),
            area_um2: ref_num(&case["area"]),
        };
        let mut inst = Instance::new(m, sim);
        let ion_var = |name: &str| {
            m.ions.iter().find_map(|ion| {
                [
                    IonVar::Erev,
                    IonVar::Inside,
                    IonVar::Outside,
                    IonVar::Current,
                ]
                .into_iter()
                .find(|v| v.nmodl_name(&ion.name) == name)
                .map(|v| (ion.name.clone(), v, ion.writes.contains(&v)))
            })
        };
        for (name, v) in case["init"]["ions"].as_object().unwrap() {
            if let Some((ion, var, _)) = ion_var(name) {
                if var != IonVar::Current {
                    inst.set_ion(m, &ion, var, ref_num(v));
                }
            }
        }
        let mut check = |inst: &Instance, snap: &serde_json::Value, stage: &str| {
            for (name, v) in snap["values"].as_object().unwrap() {
                let want = ref_num(v);
                match inst.field(m, name) {
                    None => problems.push(format!("{file}: RANGE `{name}` has no field")),
                    Some(got) => {
                        compared += 1;
                        let d = deviation(got, want);
                        if d > 0.0 && !inexact.iter().any(|f| f == file) {
                            inexact.push(file.to_string());
                        }
                        if d > worst.0 {
                            worst = (
                                d,
                                format!(
                                    "{file} v_init {} {stage} {name}: {got} vs {want}",
                                    sim.v_mv
                                ),
                            );
                        }
                        if d > 1e-12 {
                            problems.push(format!(
                                "{file} (v_init {}) {stage}: {name} = {got}, NEURON {want}",
                                sim.v_mv
                            ));
                        }
                    }
                }
            }
            for (name, v) in snap["ions"].as_object().unwrap() {
                if let Some((ion, var, written)) = ion_var(name) {
                    if !written {
                        continue;
                    }
                    let want = ref_num(v);
                    let got = inst.ion(m, &ion, var).unwrap();
                    compared += 1;
                    let d = deviation(got, want);
                    if d > 0.0 && !inexact.iter().any(|f| f == file) {
                        inexact.push(file.to_string());
                    }
                    if d > worst.0 {
                        worst = (
                            d,
                            format!("{file} v_init {} {stage} {name}: {got} vs {want}", sim.v_mv),
                        );
                    }
                    if d > 1e-12 {
                        problems.push(format!(
                            "{file} (v_init {}) {stage}: {name} = {got}, NEURON {want}",
                            sim.v_mv
                        ));
                    }
                }
            }
        };
        let zero_currents = |inst: &mut Instance| {
            for i in inst.ions.iter_mut() {
                i[3] = 0.0;
            }
            inst.current = 0.0;
            inst.conductance = 0.0;
        };
        // finitialize: INITIAL, then the currents once at v_init
        run_kernel(m, Hook::Init, &mut inst);
        zero_currents(&mut inst);
        run_kernel(m, Hook::Current, &mut inst);
        check(&inst, &case["init"], "init");
        for (k, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            zero_currents(&mut inst);
            inst.sim.v_mv = ref_num(&step["v_before"]);
            run_kernel(m, Hook::Current, &mut inst);
            inst.sim.v_mv = ref_num(&step["v_after"]);
            run_kernel(m, Hook::State, &mut inst);
            check(&inst, step, &format!("step {}", k + 1));
        }
    }
    eprintln!(
        "compared {compared} values; largest relative deviation {:e} ({}); not bit-identical: {inexact:?}",
        worst.0, worst.1
    );
    assert!(compared > 2000, "{compared}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The CPU programs of every compiled real mechanism give bit-identical f64 results to the
/// reference evaluation, over a range of voltages and states.
#[test]
fn cpu_programs_match_reference_on_real_files() {
    use emsweep::emit::cpu::{emit, Column};
    use emsweep::ir::eval::{run_kernel, Instance, SimValues};
    use emsweep::ir::{FieldRole, Hook, IonVar, SimVar};

    let mut checked = 0;
    for package in PACKAGES {
        for path in mod_files(package) {
            let c = compile_file(&path);
            let Some(m) = &c.mechanism else { continue };
            let cm = emit(m);
            let n = 181;
            let make = |k: usize| {
                let mut inst = Instance::new(
                    m,
                    SimValues {
                        v_mv: -100.0 + k as f64 * (140.0 / (n - 1) as f64),
                        diam_um: 1.5,
                        area_um2: 120.0,
                        ..SimValues::default()
                    },
                );
                for (f, field) in m.fields.iter().enumerate() {
                    if field.role == FieldRole::State {
                        inst.fields[f] = (k % 7) as f64 / 7.0;
                    }
                }
                for (i, ion) in m.ions.iter().enumerate() {
                    inst.ions[i] = [
                        if ion.name == "k" { -90.0 } else { 50.0 },
                        1e-4 * (1 + k % 3) as f64,
                        2.0,
                        -1e-3 * (k % 4) as f64,
                    ];
                }
                inst
            };
            let mut insts: Vec<Instance> = (0..n).map(make).collect();
            for hook in [
                Hook::Init,
                Hook::Current,
                Hook::State,
                Hook::Current,
                Hook::State,
            ] {
                let value = |inst: &Instance, col: &Column| match *col {
                    Column::Field(f) => inst.fields[f.index()],
                    Column::Ion(i, v) => {
                        inst.ions[i.index()][match v {
                            IonVar::Erev => 0,
                            IonVar::Inside => 1,
                            IonVar::Outside => 2,
                            IonVar::Current => 3,
                        }]
                    }
                    Column::Sim(s) => match s {
                        SimVar::V => inst.sim.v_mv,
                        SimVar::T => inst.sim.t_ms,
                        SimVar::Dt => inst.sim.dt_ms,
                        SimVar::Celsius => inst.sim.celsius,
                        SimVar::Diam => inst.sim.diam_um,
                        SimVar::Area => inst.sim.area_um2,
                    },
                    Column::Current => inst.current,
                    Column::Conductance => inst.conductance,
                };
                let mut cols: Vec<Vec<f64>> = cm
                    .columns
                    .iter()
                    .map(|col| insts.iter().map(|i| value(i, col)).collect())
                    .collect();
                let mut refs: Vec<&mut [f64]> = cols.iter_mut().map(|c| c.as_mut_slice()).collect();
                cm.program(hook).run(&mut refs).unwrap();
                for inst in insts.iter_mut() {
                    run_kernel(m, hook, inst);
                }
                for (c, col) in cm.columns.iter().enumerate() {
                    for (i, inst) in insts.iter().enumerate() {
                        let (want, got) = (value(inst, col), cols[c][i]);
                        assert!(
                            want.to_bits() == got.to_bits() || (want.is_nan() && got.is_nan()),
                            "{}: {hook:?} {col:?} instance {i}: program {got}, reference {want}",
                            path.display()
                        );
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 80, "{checked}");
}
