//! The mechanisms an e-model needs, compiled once: NMODL → IR → CPU programs, in NEURON's
//! registration order (built-ins first, then the package's `.mod` files in the order `nrnivmodl`
//! compiles them: file names sorted byte by byte, as its `*.mod` glob lists them under `LC_ALL=C`).

use std::path::PathBuf;

use crate::diag::{Diagnostic, Diagnostics};
use crate::emit::cpu::{emit, CpuMechanism};
use crate::ir::Mechanism;
use crate::package::mods::declared_names;
use crate::package::EModel;

use super::builtin::{compile_builtin, BUILTINS};

/// Where a mechanism comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// One of NEURON's own mechanisms, provided by emsweep (`pas`).
    Builtin,
    /// The `k`-th `.mod` file NEURON registers, at `path`.
    File { rank: usize, path: PathBuf },
}

/// One compiled density mechanism.
#[derive(Clone, Debug)]
pub struct LibraryMechanism {
    pub suffix: String,
    pub origin: Origin,
    pub ir: Mechanism,
    pub cpu: CpuMechanism,
}

impl LibraryMechanism {
    /// Whether the mechanism writes an ion concentration (NEURON then orders it before the
    /// other mechanisms of each phase and treats that concentration as a state).
    pub fn writes_concentration(&self) -> bool {
        self.ir.ions.iter().any(|i| i.writes_concentration())
    }
}

/// The compiled mechanisms of one e-model, in NEURON's registration order.
#[derive(Clone, Debug, Default)]
pub struct MechanismLibrary {
    pub mechanisms: Vec<LibraryMechanism>,
}

impl MechanismLibrary {
    /// Compile every mechanism `em` inserts: built-ins from emsweep's sources, the others from
    /// the package's `.mod` files. Files no insertion needs are not compiled. A needed mechanism
    /// that is missing or does not compile is an error (with the compiler's diagnostics).
    pub fn for_emodel(em: &EModel) -> (MechanismLibrary, Diagnostics) {
        let mut diags = Diagnostics::new();
        let mut needed: Vec<&str> = Vec::new();
        for m in &em.mechanisms {
            if !needed.contains(&m.suffix.as_str()) {
                needed.push(&m.suffix);
            }
        }
        let mut mechanisms = Vec::new();
        for name in BUILTINS {
            if needed.contains(&name) {
                if let Some(c) = compile_builtin(name) {
                    match c.mechanism {
                        Some(ir) => mechanisms.push(LibraryMechanism {
                            suffix: name.to_string(),
                            origin: Origin::Builtin,
                            cpu: emit(&ir),
                            ir,
                        }),
                        None => diags.extend(c.diagnostics),
                    }
                }
            }
        }
        let declared = declared_names(&em.mod_files);
        for (rank, path) in em.mod_files.iter().enumerate() {
            let Some((name, _)) = declared.iter().find(|(_, p)| p == path) else {
                continue;
            };
            if !needed.contains(&name.as_str()) || BUILTINS.contains(&name.as_str()) {
                continue;
            }
            let c = crate::nmodl::compile_file(path);
            match c.mechanism {
                Some(ir) => mechanisms.push(LibraryMechanism {
                    suffix: name.clone(),
                    origin: Origin::File {
                        rank,
                        path: path.clone(),
                    },
                    cpu: emit(&ir),
                    ir,
                }),
                None => {
                    let origin = em
                        .mechanisms
                        .iter()
                        .find(|m| m.suffix == *name)
                        .map(|m| m.origin.clone());
                    diags.extend(c.diagnostics);
                    let mut d = Diagnostic::error(
                        "mechanism-not-compiled",
                        origin.as_ref().map_or(path.clone(), |o| o.file.clone()),
                        origin.as_ref().and_then(|o| o.pos),
                        format!(
                            "e-model `{}` inserts `{name}`, which emsweep cannot compile",
                            em.label()
                        ),
                    );
                    d = d.with_note(format!("from {}", path.display()));
                    diags.push(d);
                }
            }
        }
        for name in &needed {
            let found = mechanisms
                .iter()
                .any(|m: &LibraryMechanism| m.suffix == *name)
                || (declared.iter().any(|(n, _)| n == name) && diags.has_errors());
            if !found {
                let origin = em.mechanisms.iter().find(|m| m.suffix == *name);
                let (file, pos) = origin.map_or((em.package_dir.clone(), None), |m| {
                    (m.origin.file.clone(), m.origin.pos)
                });
                diags.push(Diagnostic::error(
                    "unknown-mechanism",
                    file,
                    pos,
                    format!("no built-in or .mod file provides mechanism `{name}`"),
                ));
            }
        }
        (MechanismLibrary { mechanisms }, diags)
    }

    /// The mechanism with SUFFIX `suffix`.
    pub fn get(&self, suffix: &str) -> Option<&LibraryMechanism> {
        self.mechanisms.iter().find(|m| m.suffix == suffix)
    }
}
