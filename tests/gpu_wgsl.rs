//! The WGSL emitter on the real packages, without a device: every mechanism that compiles gives a
//! module that naga parses and validates, with the CPU emitter's columns; emission is
//! deterministic; the WGSL of a few channels is snapshot-tested.
//!
//! Snapshots live in `src/emit/wgsl/snapshots/`; re-bless them with
//! `EMSWEEP_BLESS=1 cargo test gpu_wgsl`.

use std::path::{Path, PathBuf};

use emsweep::backend::gpu::shader::{entry_points, validate_wgsl};
use emsweep::emit::{cpu, wgsl};
use emsweep::ir::{Hook, Mechanism};
use emsweep::nmodl::compile_file;

use crate::common::{real_packages_dir, repo_root};

/// Every top-level .mod file of every package's `mechanisms/` folder (real packages, then the
/// bundled examples), sorted, one per distinct content.
pub fn all_mod_files() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let root = real_packages_dir();
    for family in sorted_dirs(&root) {
        for package in sorted_dirs(&family) {
            dirs.push(package.join("mechanisms"));
        }
    }
    for package in sorted_dirs(&repo_root().join("examples")) {
        dirs.push(package.join("mechanisms"));
    }
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "mod"))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            if !seen.contains(&bytes) {
                seen.push(bytes);
                out.push(f);
            }
        }
    }
    out
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The mechanism of a .mod file that must compile.
pub fn mechanism(path: &Path) -> Mechanism {
    let c = compile_file(path);
    c.mechanism.unwrap_or_else(|| {
        panic!(
            "{} does not compile: {:?}",
            path.display(),
            c.diagnostics.into_vec()
        )
    })
}

/// The path of a real or example mechanism used by the GPU tests.
pub fn mechanism_path(which: &str) -> PathBuf {
    match which {
        "hh" => repo_root().join("examples/ball_and_stick_hh/mechanisms/hh.mod"),
        name => real_packages_dir()
            .join("emodelrunner/sscx_sample_dir/mechanisms")
            .join(format!("{name}.mod")),
    }
}

/// The channels whose WGSL is snapshot-tested and run on the device.
pub const CHANNELS: &[&str] = &["NaTg", "K_Pst", "SKv3_1", "Ih", "CaDynamics_DC0", "hh"];

#[test]
fn every_real_mechanism_gives_valid_wgsl() {
    let files = all_mod_files();
    let mut validated = Vec::new();
    let mut problems = Vec::new();
    for path in &files {
        let c = compile_file(path);
        let Some(m) = &c.mechanism else {
            continue;
        };
        let here = path.display().to_string();
        if let Err(e) = emsweep::ir::validate(m) {
            problems.push(format!("{here}: invalid IR {e:?}"));
            continue;
        }
        let w = wgsl::emit(m);
        if let Err(e) = validate_wgsl(&w.source) {
            problems.push(format!("{here}: naga rejects the WGSL:\n{e}\n{}", w.source));
            continue;
        }
        // one entry point per kernel that writes something, named after its hook
        let want: Vec<String> = Hook::ALL
            .iter()
            .filter(|h| !m.kernel(**h).writes.is_empty())
            .map(|h| h.name().to_string())
            .collect();
        let got = entry_points(&w.source).unwrap();
        if got != want {
            problems.push(format!("{here}: entry points {got:?}, expected {want:?}"));
        }
        if wgsl::emit(m) != w {
            problems.push(format!("{here}: two emissions differ"));
        }
        if w.columns != cpu::emit(m).columns || w.columns.len() < m.fields.len() {
            problems.push(format!("{here}: columns differ from the CPU emitter's"));
        }
        if w.source.contains("f64") {
            problems.push(format!("{here}: f64 in the WGSL"));
        }
        validated.push(m.name.clone());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    // 16 distinct compiling channels in the real packages plus hh and pas from the examples
    assert!(
        validated.len() >= 18,
        "only {} mechanisms validated: {validated:?}",
        validated.len()
    );
    eprintln!(
        "naga validated the WGSL of {} mechanisms: {}",
        validated.len(),
        validated.join(" ")
    );
}

fn snapshot_dir() -> PathBuf {
    repo_root().join("src/emit/wgsl/snapshots")
}

fn blessing() -> bool {
    std::env::var("EMSWEEP_BLESS").is_ok_and(|v| v == "1")
}

#[test]
fn wgsl_snapshots_match() {
    let mut problems = Vec::new();
    for name in CHANNELS {
        let m = mechanism(&mechanism_path(name));
        let text = wgsl::emit(&m).source;
        let snap = snapshot_dir().join(format!("{name}.wgsl"));
        if blessing() {
            std::fs::create_dir_all(snapshot_dir()).unwrap();
            std::fs::write(&snap, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&snap) {
            Err(_) => problems.push(format!(
                "no snapshot {} (run with EMSWEEP_BLESS=1 to create it)",
                snap.display()
            )),
            Ok(old) if old != text => {
                let first = old
                    .lines()
                    .zip(text.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(old.lines().count().min(text.lines().count()));
                problems.push(format!(
                    "{name}: WGSL differs from {} from line {} on:\n  was: {}\n  now: {}",
                    snap.display(),
                    first + 1,
                    old.lines().nth(first).unwrap_or("<end>"),
                    text.lines().nth(first).unwrap_or("<end>")
                ));
            }
            Ok(_) => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Names that collide with WGSL keywords and built-ins are renamed, and the module still
/// validates (a hand-written channel whose fields are called `select`, `fn`, `state`, `loop`).
#[test]
fn awkward_names_are_renamed() {
    let src = "
NEURON {
    SUFFIX awkward
    NONSPECIFIC_CURRENT i
    RANGE select, fn, state, loop
}
PARAMETER { select = 0.001 (S/cm2) fn = -70 (mV) loop = 2 }
ASSIGNED { i (mA/cm2) }
STATE { state }
INITIAL { state = 0.5 }
BREAKPOINT {
    SOLVE s METHOD cnexp
    i = select*state^3*(v - fn)
}
DERIVATIVE s { state' = (1 - state)/loop - state*0.1 }
";
    let c = emsweep::nmodl::compile_source(Path::new("awkward.mod"), src);
    let m = c
        .mechanism
        .unwrap_or_else(|| panic!("{:?}", c.diagnostics.into_vec()));
    let w = wgsl::emit(&m);
    validate_wgsl(&w.source).unwrap_or_else(|e| panic!("{e}\n{}", w.source));
    assert!(
        w.source.contains("let select_1 = ld(col_select, e);"),
        "{}",
        w.source
    );
    assert!(w.source.contains("let fn_1 = "), "{}", w.source);
    assert!(w.source.contains("let loop_1 = "), "{}", w.source);
    assert!(w.source.contains("let state_1 = "), "{}", w.source);
    assert!(w.source.contains("nm_pow("), "{}", w.source);
}
