//! Which compiled mechanism provides each channel a cell uses: the `.mod` file that declares its
//! SUFFIX, an emsweep built-in when the cell uses one of NEURON's built-ins without shipping a
//! file, or the built-in replacement of a file outside the subset (StochKv3). Every file is
//! compiled once, used or not, so that a caller can report on unused files too; only the files
//! of used mechanisms have to compile.

use std::path::PathBuf;

use super::builtin::{builtin, Builtin};
use super::{compile_file, Compiled, FileKind};
use crate::ir::Mechanism;

/// NEURON's built-in density mechanisms that emsweep does not provide.
pub const NEURON_ONLY: [&str; 2] = ["fastpas", "extracellular"];

/// Where a used mechanism comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// `files[i]` declares it and compiles.
    File(usize),
    /// No file declares it: NEURON has it built in, and so does emsweep (`builtins[i]`).
    Builtin(usize),
    /// `files[file]` declares it but is outside the subset; `builtins[builtin]` stands in.
    Replaced { file: usize, builtin: usize },
    /// `files[i]` declares it and does not compile (or is not a density mechanism).
    Failed(usize),
    /// No file declares it and NEURON has it built in, but emsweep does not provide it.
    NeuronOnly,
    /// No file declares it and nothing provides it (the package reader reports this as
    /// `unknown-mechanism`).
    Missing,
}

/// One used mechanism.
#[derive(Clone, Debug)]
pub struct Use {
    pub suffix: String,
    pub provider: Provider,
}

/// The outcome of [`resolve`].
#[derive(Clone, Debug)]
pub struct Resolved {
    /// Every file given, compiled, in the order given.
    pub files: Vec<Compiled>,
    /// The built-ins compiled for the used mechanisms.
    pub builtins: Vec<(&'static Builtin, Compiled)>,
    /// Each used suffix once, in the order given.
    pub used: Vec<Use>,
}

impl Resolved {
    /// The IR of used mechanism `suffix`, if it has one.
    pub fn mechanism(&self, suffix: &str) -> Option<&Mechanism> {
        let u = self.used.iter().find(|u| u.suffix == suffix)?;
        match u.provider {
            Provider::File(i) => self.files[i].mechanism.as_ref(),
            Provider::Builtin(b) | Provider::Replaced { builtin: b, .. } => {
                self.builtins[b].1.mechanism.as_ref()
            }
            Provider::Failed(_) | Provider::NeuronOnly | Provider::Missing => None,
        }
    }

    /// Whether any used mechanism lacks a compiled mechanism.
    pub fn has_failures(&self) -> bool {
        self.used
            .iter()
            .any(|u| self.mechanism(&u.suffix).is_none())
    }

    /// Indices of the files that provide no used mechanism.
    pub fn unused_files(&self) -> Vec<usize> {
        (0..self.files.len())
            .filter(|&i| {
                !self.used.iter().any(|u| {
                    matches!(u.provider, Provider::File(f) | Provider::Failed(f) | Provider::Replaced { file: f, .. } if f == i)
                })
            })
            .collect()
    }
}

/// Compile `files` and find the provider of each name in `used` (duplicates are kept once).
/// When two files declare one name, the first provides it (the package reader reports the
/// clash).
pub fn resolve(used: &[String], files: &[PathBuf]) -> Resolved {
    let files: Vec<Compiled> = files.iter().map(|p| compile_file(p)).collect();
    let mut builtins: Vec<(&'static Builtin, Compiled)> = Vec::new();
    let mut uses: Vec<Use> = Vec::new();
    for suffix in used {
        if uses.iter().any(|u| u.suffix == *suffix) {
            continue;
        }
        let mut builtin_index =
            |b: &'static Builtin| match builtins.iter().position(|(x, _)| x.name == b.name) {
                Some(i) => i,
                None => {
                    builtins.push((b, b.compile()));
                    builtins.len() - 1
                }
            };
        let declared = files
            .iter()
            .position(|c| c.name.as_deref() == Some(suffix.as_str()));
        let provider = match declared {
            Some(i) if files[i].mechanism.is_some() && files[i].kind == FileKind::Density => {
                Provider::File(i)
            }
            Some(i) => match builtin(suffix) {
                Some(b) if b.replaces(&files[i]) => Provider::Replaced {
                    file: i,
                    builtin: builtin_index(b),
                },
                _ => Provider::Failed(i),
            },
            None => match builtin(suffix) {
                Some(b) if b.role == super::builtin::BuiltinRole::Neuron => {
                    Provider::Builtin(builtin_index(b))
                }
                _ if NEURON_ONLY.contains(&suffix.as_str()) => Provider::NeuronOnly,
                _ => Provider::Missing,
            },
        };
        uses.push(Use {
            suffix: suffix.clone(),
            provider,
        });
    }
    Resolved {
        files,
        builtins,
        used: uses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn each_used_name_finds_its_provider() {
        let dir = std::env::temp_dir().join(format!("emsweep-resolve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let good = write(
            &dir,
            "leak.mod",
            "NEURON { SUFFIX leak NONSPECIFIC_CURRENT i RANGE g }\nPARAMETER { g = 1e-4 }\nASSIGNED { i v }\nBREAKPOINT { i = g*v }\n",
        );
        let bad = write(
            &dir,
            "bad.mod",
            "NEURON { SUFFIX bad NONSPECIFIC_CURRENT i }\nASSIGNED { i v }\nBREAKPOINT { i = nosuch(v) }\n",
        );
        let stoch = write(
            &dir,
            "StochKv3.mod",
            "NEURON { SUFFIX StochKv3 USEION k READ ek WRITE ik BBCOREPOINTER rng }\nASSIGNED { ik ek }\nBREAKPOINT { ik = 0 }\n",
        );
        let syn = write(&dir, "syn.mod", "NEURON { POINT_PROCESS syn }\n");
        let unused = write(
            &dir,
            "unused.mod",
            "NEURON { SUFFIX unused }\nVERBATIM\nENDVERBATIM\n",
        );
        let used: Vec<String> = [
            "leak", "bad", "StochKv3", "pas", "fastpas", "nowhere", "leak", "syn",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let r = resolve(&used, &[good, bad, stoch, syn, unused]);
        let providers: Vec<(&str, Provider)> = r
            .used
            .iter()
            .map(|u| (u.suffix.as_str(), u.provider))
            .collect();
        assert_eq!(
            providers,
            vec![
                ("leak", Provider::File(0)),
                ("bad", Provider::Failed(1)),
                (
                    "StochKv3",
                    Provider::Replaced {
                        file: 2,
                        builtin: 0
                    }
                ),
                ("pas", Provider::Builtin(1)),
                ("fastpas", Provider::NeuronOnly),
                ("nowhere", Provider::Missing),
                ("syn", Provider::Failed(3)),
            ]
        );
        assert_eq!(r.mechanism("StochKv3").unwrap().name, "StochKv3");
        assert_eq!(r.mechanism("pas").unwrap().name, "pas");
        assert!(r.mechanism("bad").is_none() && r.mechanism("syn").is_none());
        assert!(r.has_failures());
        assert_eq!(r.unused_files(), vec![4]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
