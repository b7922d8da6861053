//! Packages: discover e-model packages under a directory tree and read their JSON/INI dialects
//! into [`EModel`]s (parameters, distributions, mechanisms per location, protocols, features),
//! reporting every problem with its file, line, column and kind, and going on past it.
//!
//! Three layouts are recognised (see `spec/PACKAGES.md`):
//! - EModelRunner / e-model-packager: `config/*.ini` ([`Dialect::EModelRunner`]);
//! - BluePyEModel's examples: `config/recipes.json` ([`Dialect::BluePyEModel`]);
//! - BluePyOpt's example: `config/parameters.json` + `config/mechanisms.json`
//!   ([`Dialect::BluePyOpt`]).
//!
//! [`resolve_parameters`] then gives the value of every parameter on every segment of a
//! discretised cell, as BluePyOpt would set it.

mod bpem;
mod bpo;
pub mod discover;
mod emr;
mod features;
pub(crate) mod fields;
pub mod formula;
pub mod ini;
pub mod json;
mod model;
pub mod mods;
mod params;
mod protocols;
pub mod resolve;

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics};

pub use discover::discover;
pub use model::*;
pub use protocols::ecode_for;
pub use resolve::{resolve_parameters, ResolvedParameters};

/// Which layout a directory has, if it is a package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    EModelRunner,
    BluePyEModel,
    BluePyOpt,
}

/// The layout of `dir`, or None when it is not a package.
pub fn layout_of(dir: &Path) -> Option<Layout> {
    if !emr::config_files(dir).is_empty() {
        Some(Layout::EModelRunner)
    } else if dir.join(bpem::RECIPES).is_file() {
        Some(Layout::BluePyEModel)
    } else if dir.join(bpo::PARAMETERS).is_file() && dir.join(bpo::MECHANISMS).is_file() {
        Some(Layout::BluePyOpt)
    } else {
        None
    }
}

/// What reading one package gave: its e-models and every problem found.
#[derive(Clone, Debug)]
pub struct PackageRead {
    pub dir: PathBuf,
    pub layout: Option<Layout>,
    pub emodels: Vec<EModel>,
    pub diagnostics: Diagnostics,
}

impl PackageRead {
    /// Whether the package failed (an error was found): its e-models should not be run.
    pub fn failed(&self) -> bool {
        self.diagnostics.has_errors() || self.emodels.is_empty()
    }
}

/// Read the package in `dir`.
pub fn read_package(dir: &Path) -> PackageRead {
    let mut diags = Diagnostics::new();
    let layout = layout_of(dir);
    let emodels = match layout {
        Some(Layout::EModelRunner) => emr::read(dir, &mut diags),
        Some(Layout::BluePyEModel) => bpem::read(dir, &mut diags),
        Some(Layout::BluePyOpt) => bpo::read(dir, &mut diags),
        None => {
            diags.push(Diagnostic::error(
                "not-a-package",
                dir,
                None,
                "no config/*.ini, config/recipes.json or config/parameters.json + config/mechanisms.json",
            ));
            Vec::new()
        }
    };
    if layout.is_some() && emodels.is_empty() && !diags.has_errors() {
        diags.push(Diagnostic::error(
            "no-emodel",
            dir,
            None,
            "the package describes no e-model",
        ));
    }
    // a file shared by several e-models is checked once per e-model: report each problem once
    let mut unique = Diagnostics::new();
    let mut seen: Vec<Diagnostic> = Vec::new();
    for d in diags {
        if !seen.contains(&d) {
            seen.push(d.clone());
            unique.push(d);
        }
    }
    PackageRead {
        dir: dir.to_path_buf(),
        layout,
        emodels,
        diagnostics: unique,
    }
}

/// `base/rel` without `.` components (`L5PC/./morphologies/x.asc` → `L5PC/morphologies/x.asc`).
pub(crate) fn join_clean(base: &Path, rel: &str) -> PathBuf {
    base.join(rel)
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// NEURON's values when a package sets no `celsius` / `v_init`.
const NEURON_DEFAULT_CELSIUS: f64 = 6.3;
const NEURON_DEFAULT_V_INIT_MV: f64 = -65.0;

/// `celsius` and `v_init` from the global parameters (NEURON's defaults, with a warning, when
/// absent).
pub(crate) fn globals_of(
    params: &[Parameter],
    origin: &Origin,
    diags: &mut Diagnostics,
) -> (f64, f64) {
    let get = |name: &str| {
        params
            .iter()
            .rev()
            .find(|p| p.name == name && matches!(p.target, ParamTarget::Global))
            .and_then(|p| p.value.value())
            .map(formula::PyNum::to_f64)
    };
    let celsius = get("celsius").unwrap_or_else(|| {
        diags.push(origin.warning(
            "no-celsius",
            format!("no global `celsius`: NEURON's default {NEURON_DEFAULT_CELSIUS} °C applies"),
        ));
        NEURON_DEFAULT_CELSIUS
    });
    let v_init = get("v_init").unwrap_or_else(|| {
        diags.push(origin.warning(
            "no-v-init",
            format!("no global `v_init`: NEURON's default {NEURON_DEFAULT_V_INIT_MV} mV applies"),
        ));
        NEURON_DEFAULT_V_INIT_MV
    });
    (celsius, v_init)
}

/// Checks every dialect shares, once the e-model is assembled: the mechanism directory and its
/// `.mod` files, mechanisms that no `.mod` file declares, distribution parameters without a
/// parameter, free parameters without a value.
pub(crate) fn finish_emodel(em: &mut EModel, mech_dir: &Path, diags: &mut Diagnostics) {
    if mech_dir.is_dir() {
        em.mechanism_dir = Some(mech_dir.to_path_buf());
        em.mod_files = mods::mod_files(mech_dir);
    }
    let declared = mods::declared_names(&em.mod_files);
    for (i, (name, file)) in declared.iter().enumerate() {
        if let Some((_, other)) = declared[..i].iter().find(|(n, _)| n == name) {
            diags.push(Diagnostic::error(
                "duplicate-mechanism",
                file,
                None,
                format!(
                    "`{name}` is also declared by {}: nrnivmodl cannot build both",
                    other.display()
                ),
            ));
        }
    }
    let mut reported: Vec<&str> = Vec::new();
    for m in &em.mechanisms {
        let known = mods::BUILTIN_MECHANISMS.contains(&m.suffix.as_str())
            || declared.iter().any(|(n, _)| *n == m.suffix);
        if !known && !reported.contains(&m.suffix.as_str()) {
            reported.push(&m.suffix);
            let d = m.origin.error(
                "unknown-mechanism",
                format!("mechanism `{}` is neither built into NEURON nor declared by a .mod file of the package", m.suffix),
            );
            diags.push(match &em.mechanism_dir {
                Some(dir) => d.with_note(format!("looked in {}", dir.display())),
                None => d.with_note("the package has no mechanisms/ directory"),
            });
        }
    }
    for p in &em.parameters {
        let ParamTarget::Range { distribution, .. } = &p.target else {
            continue;
        };
        let Some(dist) = em.distribution(distribution) else {
            continue;
        };
        for name in &dist.param_names {
            let set = em.parameters.iter().any(|q| {
                q.name == *name
                    && matches!(&q.target, ParamTarget::DistributionParam { distribution: d } if d == distribution)
            });
            if !set {
                diags.push(p.origin.error(
                    "missing-parameter",
                    format!("`{}` uses distribution `{distribution}`, whose parameter `{name}` is never set (BluePyOpt: uninitialised)", p.name),
                ));
            }
        }
    }
    // After an error (an unreadable final.json, say) the missing values are a consequence.
    if em.final_values.is_none() && !diags.has_errors() {
        let free: Vec<&str> = em
            .free_without_value()
            .iter()
            .map(|p| p.key.as_str())
            .collect();
        if !free.is_empty() {
            let first = em.free_without_value()[0].origin.clone();
            diags.push(first.warning(
                "no-final-values",
                format!(
                    "e-model `{}` has {} free parameters and no optimised values (only bounds): {}",
                    em.label(),
                    free.len(),
                    free.join(", ")
                ),
            ));
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
