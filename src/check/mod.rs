//! `emsweep check`: read every package under the given paths, build each e-model's cell, and
//! report per e-model what was built (sections and segments per list, mechanisms per location,
//! parameters resolved) and every problem found, going on past bad packages.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::cell::{build, Cell};
use crate::diag::{Diagnostics, Severity};
use crate::morph::{AxonReplacement, SectionList};
use crate::package::{discover, read_package, EModel, ParamValue};

/// What `check` found for one e-model.
#[derive(Clone, Debug)]
pub struct EModelCheck {
    pub label: String,
    /// The built cell's summary text, or None when the cell could not be built.
    pub summary: Option<String>,
}

/// What `check` found for one package.
#[derive(Clone, Debug)]
pub struct PackageCheck {
    pub dir: PathBuf,
    pub emodels: Vec<EModelCheck>,
    /// Every problem of the package and of its e-models' cells, in the order found.
    pub diagnostics: Diagnostics,
}

impl PackageCheck {
    pub fn failed(&self) -> bool {
        self.diagnostics.has_errors()
            || self.emodels.is_empty()
            || self.emodels.iter().any(|e| e.summary.is_none())
    }
}

/// The outcome of `check` over all paths.
#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    pub packages: Vec<PackageCheck>,
    /// Problems with the paths themselves (not a directory, no package found).
    pub diagnostics: Diagnostics,
}

impl CheckReport {
    pub fn failed(&self) -> bool {
        self.diagnostics.has_errors() || self.packages.iter().any(PackageCheck::failed)
    }

    /// Every diagnostic, paths' first, then package by package.
    pub fn all_diagnostics(&self) -> impl Iterator<Item = &crate::diag::Diagnostic> {
        self.diagnostics
            .iter()
            .chain(self.packages.iter().flat_map(|p| p.diagnostics.iter()))
    }
}

/// Check every package under `paths`.
pub fn check_paths(paths: &[PathBuf]) -> CheckReport {
    let mut report = CheckReport::default();
    for root in paths {
        let (dirs, d) = discover(root);
        report.diagnostics.extend(d);
        if dirs.is_empty() && root.is_dir() {
            report.diagnostics.push(crate::diag::Diagnostic::error(
                "no-package",
                root,
                None,
                "no e-model package below this directory",
            ));
        }
        for dir in dirs {
            report.packages.push(check_package(&dir));
        }
    }
    report
}

/// Read one package and build each of its e-models.
pub fn check_package(dir: &Path) -> PackageCheck {
    let read = read_package(dir);
    let mut diagnostics = read.diagnostics.clone();
    let mut emodels = Vec::new();
    // A package with reader errors is not built: its cells would only repeat those errors.
    let build_cells = !read.diagnostics.has_errors();
    for em in &read.emodels {
        let summary = if build_cells {
            let (cell, d) = build(em);
            diagnostics.extend(d);
            cell.map(|c| summarize(em, &c))
        } else {
            None
        };
        emodels.push(EModelCheck {
            label: em.label(),
            summary,
        });
    }
    PackageCheck {
        dir: dir.to_path_buf(),
        emodels,
        diagnostics,
    }
}

fn axon_text(a: AxonReplacement) -> &'static str {
    match a {
        AxonReplacement::None => "kept as in the file",
        AxonReplacement::SscxMyelin => "replaced (2 × 30 µm tapered + 1000 µm myelin)",
        AxonReplacement::Thalamus => "replaced (2 × 30 µm tapered, no myelin)",
        AxonReplacement::BluePyOpt => "replaced (BluePyOpt stub, 2 × 30 µm)",
    }
}

/// Per-list counts like `66: somatic 1, axonal 2, ...` (lists without sections left out).
fn per_list(count: impl Fn(SectionList) -> usize) -> String {
    let mut s = count(SectionList::All).to_string();
    let parts: Vec<String> = SectionList::ALL[1..]
        .iter()
        .map(|&l| (l, count(l)))
        .filter(|&(_, n)| n > 0)
        .map(|(l, n)| format!("{l} {n}"))
        .collect();
    if !parts.is_empty() {
        s.push_str(": ");
        s.push_str(&parts.join(", "));
    }
    s
}

/// A number as short as it reads exactly: plain in [1e-3, 1e6), scientific outside.
fn num(v: f64) -> String {
    if v == 0.0 || (1e-3..1e6).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// The human-readable description of a built cell.
pub fn summarize(em: &EModel, cell: &Cell) -> String {
    let disc = &cell.disc;
    let rel = |p: &Path| {
        p.strip_prefix(&em.package_dir)
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  morphology   {} (axon {})",
        rel(&em.morphology),
        axon_text(em.axon)
    );
    let _ = writeln!(
        out,
        "  settings     celsius {} °C, v_init {} mV, dt {} ms",
        em.celsius, em.v_init_mv, em.dt_ms
    );
    let _ = writeln!(
        out,
        "  sections     {}",
        per_list(|l| disc.sections_in(l).count())
    );
    let _ = writeln!(
        out,
        "  segments     {}",
        per_list(|l| disc
            .sections_in(l)
            .map(|s| disc.sections[s.index()].nseg as usize)
            .sum())
    );
    let _ = writeln!(
        out,
        "  area         {:.3} µm² (somatic {:.3} µm²)",
        cell.area_um2(SectionList::All),
        cell.area_um2(SectionList::Somatic)
    );
    // Mechanisms per base list, from what was actually inserted.
    let mut mechs: Vec<String> = Vec::new();
    for &list in &SectionList::ALL[1..] {
        let mut set: Vec<&str> = Vec::new();
        for s in disc.sections_in(list) {
            for m in &cell.params.section_mechanisms[s.index()] {
                if !set.contains(&m.as_str()) {
                    set.push(m);
                }
            }
        }
        if !set.is_empty() {
            mechs.push(format!("{list}: {}", set.join(" ")));
        }
    }
    let _ = writeln!(
        out,
        "  mechanisms   {}",
        if mechs.is_empty() {
            "none".to_string()
        } else {
            mechs.join("; ")
        }
    );
    let free = em
        .parameters
        .iter()
        .filter(|p| matches!(p.value, ParamValue::Free { .. }))
        .count();
    let from = em
        .final_values
        .as_ref()
        .map(|o| format!(", values from {}", rel(&o.file)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  parameters   {} ({} free{}), resolved per segment:",
        em.parameters.len(),
        free,
        from
    );
    let width = cell.params.range.keys().map(|k| k.len()).max().unwrap_or(0);
    for (name, values) in &cell.params.range {
        let set: Vec<f64> = values.iter().filter_map(|v| *v).collect();
        if set.is_empty() {
            continue;
        }
        let (lo, hi) = set
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let range = if lo == hi {
            num(lo)
        } else {
            format!("{} .. {}", num(lo), num(hi))
        };
        let _ = writeln!(
            out,
            "    {name:<width$}  {:>4} segments  {range}",
            set.len()
        );
    }
    for (name, value) in &cell.params.globals {
        let _ = writeln!(out, "    {name:<width$}  global         {}", num(*value));
    }
    let n_protocols: usize = em.protocol_sets.iter().map(|s| s.protocols.len()).sum();
    let mut files: BTreeMap<String, usize> = BTreeMap::new();
    for s in &em.protocol_sets {
        files.insert(rel(&s.file), s.protocols.len());
    }
    let file_list: Vec<String> = files.iter().map(|(f, n)| format!("{f} ({n})")).collect();
    let _ = writeln!(
        out,
        "  protocols    {n_protocols} in {}",
        file_list.join(", ")
    );
    let _ = writeln!(out, "  features     {}", em.features.len());
    let _ = writeln!(out, "  mod files    {}", em.mod_files.len());
    out
}

/// Render the whole report as `emsweep check` prints it.
pub fn render(report: &CheckReport) -> String {
    let mut out = String::new();
    for d in report.diagnostics.iter() {
        let _ = writeln!(out, "{}", d.render(None));
    }
    for p in &report.packages {
        let _ = writeln!(out, "package {}", p.dir.display());
        for e in &p.emodels {
            match &e.summary {
                Some(s) => {
                    let _ = writeln!(out, "e-model {} — built", e.label);
                    out.push_str(s);
                }
                None => {
                    let _ = writeln!(
                        out,
                        "e-model {} — not built (see the errors below)",
                        e.label
                    );
                }
            }
        }
        for d in p.diagnostics.iter() {
            let _ = writeln!(out, "{}", d.render(None));
        }
        let _ = writeln!(out);
    }
    let n_em: usize = report.packages.iter().map(|p| p.emodels.len()).sum();
    let built: usize = report
        .packages
        .iter()
        .flat_map(|p| &p.emodels)
        .filter(|e| e.summary.is_some())
        .count();
    let count = |s: Severity| report.all_diagnostics().filter(|d| d.severity == s).count();
    let failed_pk = report.packages.iter().filter(|p| p.failed()).count();
    let _ = writeln!(
        out,
        "checked {} packages ({} failed), {} e-models ({} built, {} failed); {} errors, {} warnings, {} notes",
        report.packages.len(),
        failed_pk,
        n_em,
        built,
        n_em - built,
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Note)
    );
    out
}
