//! `emsweep check`: read every package under the given paths, build each e-model's cell, compile
//! the channels it uses, and report per e-model what was built (sections and segments per list,
//! mechanisms per location, parameters resolved, channels compiled) and every problem found,
//! going on past bad packages.
//!
//! Only the channels an e-model uses must compile: a used channel whose file does not compile is
//! an error; synapses and spike sources (POINT_PROCESS, ARTIFICIAL_CELL files), files no e-model
//! uses and a file replaced by an emsweep built-in (StochKv3) are notes saying why they are left
//! out. A channel no file declares is reported by the package reader (`unknown-mechanism`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::cell::{build, Cell};
use crate::diag::{Diagnostics, Severity};
use crate::morph::{AxonReplacement, SectionList};
use crate::nmodl::resolve::{resolve, Provider, Resolved};
use crate::nmodl::FileKind;
use crate::package::{discover, read_package, EModel, ParamValue};

/// What `check` found for one e-model.
#[derive(Clone, Debug)]
pub struct EModelCheck {
    pub label: String,
    /// The built cell's summary text, or None when the cell could not be built.
    pub summary: Option<String>,
    /// One line on the channels it uses (how many compile, which are built in, which fail).
    pub channels: String,
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
    let (channels, mech_diags) = check_mechanisms(&read.emodels);
    for (em, channels) in read.emodels.iter().zip(channels) {
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
            channels,
        });
    }
    diagnostics.extend(mech_diags);
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

/// Compile the channels of `emodels` (one package's), e-models sharing a set of `.mod` files
/// together. Returns each e-model's channels line and the diagnostics: the used channels'
/// problems and a note for every file left out, with the reason.
pub fn check_mechanisms(emodels: &[EModel]) -> (Vec<String>, Diagnostics) {
    let mut lines = vec![String::new(); emodels.len()];
    let mut diags = Diagnostics::new();
    let mut done = vec![false; emodels.len()];
    for first in 0..emodels.len() {
        if done[first] {
            continue;
        }
        let group: Vec<usize> = (first..emodels.len())
            .filter(|&i| emodels[i].mod_files == emodels[first].mod_files)
            .collect();
        let mut used: Vec<String> = Vec::new();
        for &i in &group {
            done[i] = true;
            for m in &emodels[i].mechanisms {
                if !used.contains(&m.suffix) {
                    used.push(m.suffix.clone());
                }
            }
        }
        let r = resolve(&used, &emodels[first].mod_files);
        let users = |suffix: &str| -> String {
            let names: Vec<String> = group
                .iter()
                .filter(|&&i| emodels[i].mechanisms.iter().any(|m| m.suffix == suffix))
                .map(|&i| format!("`{}`", emodels[i].label()))
                .collect();
            format!(
                "used by e-model{} {}",
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            )
        };
        used_diagnostics(&r, emodels, &group, &users, &mut diags);
        unused_diagnostics(&r, emodels[first].mechanism_dir.as_deref(), &mut diags);
        for &i in &group {
            lines[i] = channels_line(&r, &emodels[i]);
        }
    }
    (lines, diags)
}

/// The position of the first error of a compiled file.
fn first_error(c: &crate::nmodl::Compiled) -> Option<&crate::diag::Diagnostic> {
    c.diagnostics.iter().find(|d| d.severity == Severity::Error)
}

fn used_diagnostics(
    r: &Resolved,
    emodels: &[EModel],
    group: &[usize],
    users: &dyn Fn(&str) -> String,
    diags: &mut Diagnostics,
) {
    let origin = |suffix: &str| {
        group.iter().find_map(|&i| {
            emodels[i]
                .mechanisms
                .iter()
                .find(|m| m.suffix == suffix)
                .map(|m| m.origin.clone())
        })
    };
    for u in &r.used {
        match u.provider {
            Provider::File(i) => {
                for d in r.files[i].diagnostics.iter() {
                    diags.push(d.clone());
                }
            }
            Provider::Builtin(_) | Provider::Missing => {}
            Provider::Replaced { file, builtin } => {
                let c = &r.files[file];
                let (b, _) = &r.builtins[builtin];
                diags.push(
                    crate::diag::Diagnostic::note(
                        "builtin-replacement",
                        &c.path,
                        first_error(c).and_then(|d| d.pos),
                        format!(
                            "`{}` is outside emsweep's NMODL subset ({}); emsweep's built-in {} is used instead",
                            u.suffix,
                            c.unsupported().join(", "),
                            b.summary
                        ),
                    )
                    .with_note(users(&u.suffix)),
                );
            }
            Provider::Failed(i) => {
                let c = &r.files[i];
                if c.kind != FileKind::Density {
                    if let Some(o) = origin(&u.suffix) {
                        diags.push(
                            o.error(
                                "not-a-channel",
                                format!(
                                    "`{}` is not a density channel ({} declares a {}): it cannot be inserted into sections",
                                    u.suffix,
                                    c.path.display(),
                                    if c.kind == FileKind::PointProcess {
                                        "POINT_PROCESS"
                                    } else {
                                        "ARTIFICIAL_CELL"
                                    }
                                ),
                            ),
                        );
                    }
                    continue;
                }
                let why = format!(
                    "`{}` is {}: the channels an e-model uses must compile",
                    u.suffix,
                    users(&u.suffix)
                );
                for d in c.diagnostics.iter() {
                    let d = d.clone();
                    diags.push(if d.severity == Severity::Error {
                        d.with_note(why.clone())
                    } else {
                        d
                    });
                }
            }
            Provider::NeuronOnly => {
                if let Some(o) = origin(&u.suffix) {
                    diags.push(o.error(
                        "unsupported-builtin",
                        format!(
                            "`{}` is built into NEURON, but emsweep does not provide it",
                            u.suffix
                        ),
                    ));
                }
            }
        }
    }
}

fn unused_diagnostics(r: &Resolved, mech_dir: Option<&Path>, diags: &mut Diagnostics) {
    let mut compiled: Vec<String> = Vec::new();
    for i in r.unused_files() {
        let c = &r.files[i];
        let file = c
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = c.name.clone().unwrap_or_else(|| file.clone());
        match c.kind {
            FileKind::PointProcess | FileKind::ArtificialCell => {
                for d in c.diagnostics.iter() {
                    diags.push(d.clone());
                }
            }
            _ if c.mechanism.is_some() => compiled.push(format!("{name} ({file})")),
            _ => {
                let unsupported = c.unsupported();
                let what = if unsupported.is_empty() {
                    first_error(c)
                        .map(|d| d.message.clone())
                        .unwrap_or_else(|| "errors".to_string())
                } else {
                    unsupported.join(", ")
                };
                let stand_in = crate::nmodl::builtin::builtin(&name)
                    .filter(|b| b.replaces(c))
                    .map(|b| format!(" (emsweep's built-in {} would stand in)", b.summary))
                    .unwrap_or_default();
                diags.push(crate::diag::Diagnostic::note(
                    "unused-mechanism",
                    &c.path,
                    first_error(c).and_then(|d| d.pos),
                    format!(
                        "`{name}` does not compile ({what}), but no e-model uses it: skipped{stand_in}"
                    ),
                ));
            }
        }
    }
    if !compiled.is_empty() {
        let at = mech_dir
            .map(Path::to_path_buf)
            .or_else(|| r.files.first().map(|c| c.path.clone()))
            .unwrap_or_default();
        diags.push(crate::diag::Diagnostic::note(
            "unused-mechanism",
            at,
            None,
            format!(
                "{} compiled but used by no e-model (variants; not simulated): {}",
                if compiled.len() == 1 {
                    "one channel"
                } else {
                    "channels"
                },
                compiled.join(", ")
            ),
        ));
    }
}

/// `12: 11 compile, built in: pas` and the like.
fn channels_line(r: &Resolved, em: &EModel) -> String {
    let mut names: Vec<&str> = Vec::new();
    for m in &em.mechanisms {
        if !names.contains(&m.suffix.as_str()) {
            names.push(&m.suffix);
        }
    }
    let provider = |s: &str| r.used.iter().find(|u| u.suffix == s).map(|u| u.provider);
    let pick = |f: &dyn Fn(Provider) -> bool| -> Vec<&str> {
        names
            .iter()
            .copied()
            .filter(|s| provider(s).is_some_and(f))
            .collect()
    };
    let from_files = pick(&|p| matches!(p, Provider::File(_))).len();
    let builtin = pick(&|p| matches!(p, Provider::Builtin(_)));
    let replaced = pick(&|p| matches!(p, Provider::Replaced { .. }));
    let failing = pick(&|p| matches!(p, Provider::Failed(_) | Provider::NeuronOnly));
    let missing = pick(&|p| matches!(p, Provider::Missing));
    let mut parts = vec![format!("{from_files} compiled from the package")];
    for (label, list) in [
        ("built in", &builtin),
        ("replaced by a built-in", &replaced),
        ("do not compile", &failing),
        ("missing", &missing),
    ] {
        if !list.is_empty() {
            parts.push(format!("{label}: {}", list.join(" ")));
        }
    }
    format!("{}: {}", names.len(), parts.join("; "))
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
                    let _ = writeln!(out, "  channels     {}", e.channels);
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
