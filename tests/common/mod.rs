//! Fixture helpers shared by the integration tests.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

use emsweep::engine::{CellModel, LaneStimulus, MechanismLibrary};
use emsweep::package::EModel;
use emsweep::sim::stimulus::{Amplitude, Clamp, StimulusProgram};

use crate::sim::render;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The folder the bootstrap downloads real e-model packages into (`EMSWEEP_CACHE` overrides
/// `<repo>/.cache`). Panics with instructions when the packages are missing: tests never skip.
pub fn real_packages_dir() -> PathBuf {
    let cache = std::env::var_os("EMSWEEP_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache"));
    let dir = cache.join("packages");
    if !dir.join(".complete").exists() {
        panic!(
            "the real e-model packages are missing from {}: run the bootstrap first (bash scripts/bootstrap.sh)",
            dir.display()
        );
    }
    dir
}

/// The e-model `name` of package `package` (below the packages folder) and its cell model.
pub fn load(package: &str, name: &str) -> (EModel, CellModel) {
    load_from(&real_packages_dir().join(package), Some(name))
}

/// The e-model `name` (`None`: the first) of the package in `dir` and its cell model; panics with
/// the diagnostics when it does not read or build.
pub fn load_from(dir: &std::path::Path, name: Option<&str>) -> (EModel, CellModel) {
    let read = emsweep::package::read_package(dir);
    assert!(
        !read.diagnostics.has_errors(),
        "{}",
        render(&read.diagnostics)
    );
    let em = read
        .emodels
        .into_iter()
        .find(|m| name.is_none_or(|n| m.name == n))
        .unwrap_or_else(|| panic!("{name:?} in {}", dir.display()));
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

/// Runs the `emsweep` binary from the repository root; returns its exit code, stdout and stderr.
pub fn emsweep(args: &[&OsStr]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_emsweep"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `tag` names it for people looking at /tmp; a counter keeps concurrent tests apart.
    pub fn new(tag: &str) -> TempDir {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("emsweep-test-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
