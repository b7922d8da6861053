//! What `emsweep mech check` reports on a list of `.mod` files: every diagnostic of each file,
//! one line per file saying what became of it, and a count.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::builtin::builtin;
use super::{compile_file, Compiled, FileKind};
use crate::diag::Severity;
use crate::ir::FieldRole;

/// The compiled files, in the order given.
#[derive(Clone, Debug)]
pub struct FilesReport {
    pub files: Vec<Compiled>,
}

impl FilesReport {
    /// Whether any file has an error.
    pub fn failed(&self) -> bool {
        self.files.iter().any(|c| c.diagnostics.has_errors())
    }
}

/// Compile each of `paths`.
pub fn check_files(paths: &[PathBuf]) -> FilesReport {
    FilesReport {
        files: paths.iter().map(|p| compile_file(p)).collect(),
    }
}

/// One line saying what a file became.
pub fn outcome_line(c: &Compiled) -> String {
    let name = c.name.as_deref().unwrap_or("?");
    let errors = c.diagnostics.error_count();
    match (&c.mechanism, c.kind) {
        (Some(m), _) => {
            let count = |r: FieldRole| m.fields.iter().filter(|f| f.role == r).count();
            let ions: Vec<&str> = m.ions.iter().map(|i| i.name.as_str()).collect();
            format!(
                "{}: density mechanism `{}` compiles ({} parameters, {} states{})",
                c.path.display(),
                m.name,
                count(FieldRole::Parameter),
                count(FieldRole::State),
                if ions.is_empty() {
                    String::new()
                } else {
                    format!(", ions {}", ions.join(" "))
                }
            )
        }
        (None, FileKind::PointProcess | FileKind::ArtificialCell) if errors == 0 => format!(
            "{}: `{name}` is not a density channel (skipped)",
            c.path.display()
        ),
        (None, _) => {
            let stand_in = builtin(name)
                .filter(|b| b.replaces(c))
                .map(|b| format!("; emsweep's built-in {} stands in for it", b.summary))
                .unwrap_or_default();
            format!(
                "{}: `{name}` does not compile ({errors} error{}){stand_in}",
                c.path.display(),
                if errors == 1 { "" } else { "s" }
            )
        }
    }
}

/// The report as `emsweep mech check` prints it.
pub fn render(report: &FilesReport) -> String {
    let mut out = String::new();
    for c in &report.files {
        for d in c.diagnostics.iter() {
            let _ = writeln!(out, "{}", d.render(None));
        }
        let _ = writeln!(out, "{}", outcome_line(c));
    }
    let compiled = report
        .files
        .iter()
        .filter(|c| c.mechanism.is_some())
        .count();
    let failed = report
        .files
        .iter()
        .filter(|c| c.diagnostics.has_errors())
        .count();
    let count = |s: Severity| {
        report
            .files
            .iter()
            .flat_map(|c| c.diagnostics.iter())
            .filter(|d| d.severity == s)
            .count()
    };
    let _ = writeln!(
        out,
        "checked {} files: {compiled} compiled, {} not density channels, {failed} failed; {} errors, {} warnings, {} notes",
        report.files.len(),
        report.files.len() - compiled - failed,
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Note)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_gets_its_line_and_the_count_adds_up() {
        let dir = std::env::temp_dir().join(format!("emsweep-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let files = vec![
            write(
                "k.mod",
                "NEURON { SUFFIX kx USEION k READ ek WRITE ik RANGE g }\nPARAMETER { g = 1e-3 }\nSTATE { n }\nASSIGNED { v ek ik }\nINITIAL { n = 0 }\nBREAKPOINT { SOLVE s METHOD cnexp ik = g*n*(v - ek) }\nDERIVATIVE s { n' = (1 - n)/5 }\n",
            ),
            write("syn.mod", "NEURON { POINT_PROCESS syn }\n"),
            write(
                "StochKv3.mod",
                "NEURON { SUFFIX StochKv3 USEION k READ ek WRITE ik BBCOREPOINTER rng }\nASSIGNED { ik ek }\nBREAKPOINT { ik = 0 }\n",
            ),
            write("bad.mod", "NEURON { SUFFIX bad }\nBREAKPOINT { x = }\n"),
            dir.join("absent.mod"),
        ];
        let r = check_files(&files);
        assert!(r.failed());
        let text = render(&r);
        assert!(
            text.contains(
                "k.mod: density mechanism `kx` compiles (1 parameters, 1 states, ions k)"
            ),
            "{text}"
        );
        assert!(
            text.contains("syn.mod: `syn` is not a density channel (skipped)"),
            "{text}"
        );
        assert!(
            text.contains("StochKv3.mod: `StochKv3` does not compile (1 error); emsweep's built-in StochKv3 in deterministic mode"),
            "{text}"
        );
        assert!(text.contains("error[unsupported]"), "{text}");
        assert!(text.contains("bad.mod: `bad` does not compile"), "{text}");
        assert!(
            text.contains("absent.mod: `?` does not compile (1 error)"),
            "{text}"
        );
        assert!(
            text.contains("checked 5 files: 1 compiled, 1 not density channels, 3 failed;"),
            "{text}"
        );
        assert!(!check_files(&files[..2]).failed());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
