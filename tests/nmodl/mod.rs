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

#[test]
#[ignore]
fn debug_print_all() {
    for package in PACKAGES {
        for path in mod_files(package) {
            let c = compile_file(&path);
            if !c.diagnostics.is_empty() {
                println!("== {}\n{}", path.display(), render(&c));
            }
        }
    }
}
