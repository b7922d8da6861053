//! The mechanisms an e-model needs, compiled once: NMODL → IR → CPU programs, in NEURON's
//! registration order (built-ins first, then the package's `.mod` files in the order `nrnivmodl`
//! compiles them: file names sorted byte by byte, as its `*.mod` glob lists them under `LC_ALL=C`).
//! Which file or built-in provides each mechanism is `nmodl::resolve`'s decision (StochKv3's
//! built-in stands in for its file).

use std::path::PathBuf;

use crate::diag::{Diagnostic, Diagnostics};
use crate::emit::cpu::{emit, CpuMechanism};
use crate::ir::Mechanism;
use crate::package::EModel;

use crate::nmodl::builtin::BUILTINS;
use crate::nmodl::resolve::{resolve, Provider};

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
        let mut needed: Vec<String> = Vec::new();
        for m in &em.mechanisms {
            if !needed.contains(&m.suffix) {
                needed.push(m.suffix.clone());
            }
        }
        let resolved = resolve(&needed, &em.mod_files);
        // (registration rank, mechanism): built-ins register before every .mod file.
        let mut ranked: Vec<(usize, LibraryMechanism)> = Vec::new();
        for u in &resolved.used {
            let origin = em.mechanisms.iter().find(|m| m.suffix == u.suffix);
            let (file, pos) = origin.map_or((em.package_dir.clone(), None), |m| {
                (m.origin.file.clone(), m.origin.pos)
            });
            let (rank, from) = match u.provider {
                Provider::Builtin(b) => {
                    let name = resolved.builtins[b].0.name;
                    (
                        BUILTINS.iter().position(|x| x.name == name).unwrap_or(0),
                        Origin::Builtin,
                    )
                }
                Provider::File(i) | Provider::Replaced { file: i, .. } => (
                    BUILTINS.len() + i,
                    Origin::File {
                        rank: i,
                        path: em.mod_files[i].clone(),
                    },
                ),
                Provider::Failed(i) => {
                    diags.extend(resolved.files[i].diagnostics.clone());
                    diags.push(
                        Diagnostic::error(
                            "mechanism-not-compiled",
                            file,
                            pos,
                            format!(
                                "e-model `{}` inserts `{}`, which emsweep cannot compile",
                                em.label(),
                                u.suffix
                            ),
                        )
                        .with_note(format!("from {}", em.mod_files[i].display())),
                    );
                    continue;
                }
                Provider::NeuronOnly | Provider::Missing => {
                    diags.push(Diagnostic::error(
                        "unknown-mechanism",
                        file,
                        pos,
                        format!("no built-in or .mod file provides mechanism `{}`", u.suffix),
                    ));
                    continue;
                }
            };
            let ir = resolved
                .mechanism(&u.suffix)
                .expect("a compiled provider has a mechanism")
                .clone();
            ranked.push((
                rank,
                LibraryMechanism {
                    suffix: u.suffix.clone(),
                    origin: from,
                    cpu: emit(&ir),
                    ir,
                },
            ));
        }
        ranked.sort_by_key(|(rank, _)| *rank);
        let mechanisms = ranked.into_iter().map(|(_, m)| m).collect();
        (MechanismLibrary { mechanisms }, diags)
    }

    /// The mechanism with SUFFIX `suffix`.
    pub fn get(&self, suffix: &str) -> Option<&LibraryMechanism> {
        self.mechanisms.iter().find(|m| m.suffix == suffix)
    }
}
