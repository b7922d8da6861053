//! The broken-input corpus: each case under `tests/fixtures/broken/` overlays one or two broken
//! files on a minimal valid package (`_base`). Its `expected.txt` states, written by hand, the
//! diagnostics `check` must give: one line `severity kind file:line:col` per error and warning
//! (notes are not listed), in order. No case may panic, and every case must fail the package.

use crate::common::repo_root;
use std::path::{Path, PathBuf};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else if entry.file_name() != "expected.txt" {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A fresh temporary directory for one case (removed on drop).
struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn assemble(case: &Path) -> TempDir {
    let dir = std::env::temp_dir().join(format!(
        "emsweep-broken-{}-{}",
        std::process::id(),
        case.file_name().unwrap().to_string_lossy()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    copy_tree(&case.parent().unwrap().join("_base"), &dir);
    copy_tree(case, &dir);
    TempDir(dir)
}

/// `severity kind file:line:col` for every error and warning, paths relative to the package.
fn actual_lines(pkg: &Path) -> (Vec<String>, bool) {
    let check = emsweep::check::check_package(pkg);
    let lines = check
        .diagnostics
        .iter()
        .filter(|d| d.severity != emsweep::diag::Severity::Note)
        .map(|d| format!("{} {} {}", d.severity, d.kind, d.location(Some(pkg))))
        .collect();
    (lines, check.failed())
}

fn cases() -> Vec<PathBuf> {
    let root = repo_root().join("tests/fixtures/broken");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    v.sort();
    v
}

#[test]
fn base_package_is_valid() {
    let dir = repo_root().join("tests/fixtures/broken/_base");
    let (lines, failed) = actual_lines(&dir);
    assert!(
        lines.is_empty() && !failed,
        "the base package must check clean: {lines:#?}"
    );
}

#[test]
fn every_broken_input_gets_its_expected_diagnostics() {
    let cases = cases();
    assert!(cases.len() >= 20, "the corpus holds {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let tmp = assemble(case);
        let (lines, failed) = actual_lines(&tmp.0);
        let expected: Vec<String> = std::fs::read_to_string(case.join("expected.txt"))
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        if !failed {
            failures.push(format!("{name}: the package did not fail"));
        }
        if lines != expected {
            failures.push(format!(
                "{name}:\n  expected {expected:#?}\n  actual   {lines:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
