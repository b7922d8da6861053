//! emsweep's built-in mechanisms: NMODL sources of our own, shipped inside the binary and compiled
//! by the same front end as a package's files.
//!
//! - `pas` and `hh` are built into NEURON: an e-model may insert them without shipping a `.mod`
//!   file (BluePyEModel's `simplecell`). Ours reproduce NEURON's `passive.mod` and `hh.mod` (hh with
//!   its rate table off, `usetable_hh = 0`); they are the same files as the example packages'.
//! - `StochKv3` stands in for the Blue Brain Project channel of that name, whose file emsweep
//!   rejects (VERBATIM, BBCOREPOINTER: its stochastic mode). The built-in computes its deterministic
//!   mode, the one BluePyOpt selects (`deterministic_StochKv3 = 1`) unless a package asks for
//!   stochastic channels: the channel count of a segment is `floor(gkbar/gamma*1e4*area + 0.5)` and
//!   the conductance is that count times the open fraction `n*l` times `gamma/area`. See the
//!   source's COMMENT for the details.

use std::path::Path;

use super::{compile_source, Compiled};

/// Why emsweep provides a built-in of this name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinRole {
    /// NEURON has it built in: an e-model may use it without a `.mod` file.
    Neuron,
    /// It replaces a package's file that emsweep cannot compile.
    Replacement,
}

/// One built-in mechanism.
#[derive(Clone, Copy, Debug)]
pub struct Builtin {
    /// The SUFFIX.
    pub name: &'static str,
    pub role: BuiltinRole,
    /// The NMODL source.
    pub source: &'static str,
    /// One line saying what it is, for reports.
    pub summary: &'static str,
}

/// Every built-in, by name.
pub const BUILTINS: [Builtin; 3] = [
    Builtin {
        name: "pas",
        role: BuiltinRole::Neuron,
        source: include_str!("builtin/pas.mod"),
        summary: "NEURON's passive leak",
    },
    Builtin {
        name: "hh",
        role: BuiltinRole::Neuron,
        source: include_str!("builtin/hh.mod"),
        summary: "NEURON's Hodgkin-Huxley channels (rates computed exactly, as usetable_hh = 0)",
    },
    Builtin {
        name: "StochKv3",
        role: BuiltinRole::Replacement,
        source: include_str!("builtin/StochKv3.mod"),
        summary: "StochKv3 in deterministic mode (channel count rounded from the segment area)",
    },
];

/// The built-in called `name`, if any.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

impl Builtin {
    /// The path diagnostics of the built-in name: `<builtin>/NAME.mod`.
    pub fn display_path(&self) -> String {
        format!("<builtin>/{}.mod", self.name)
    }

    /// Compile the built-in (it always compiles: a test says so).
    pub fn compile(&self) -> Compiled {
        compile_source(Path::new(&self.display_path()), self.source)
    }

    /// Whether this built-in stands in for `file`, a package's file of the same name that did not
    /// compile: only a replacement does, and only when every error is about constructs outside
    /// the subset (a syntax error or an unknown name in the file is the package's problem).
    pub fn replaces(&self, file: &Compiled) -> bool {
        self.role == BuiltinRole::Replacement
            && file.name.as_deref() == Some(self.name)
            && file.mechanism.is_none()
            && file
                .diagnostics
                .iter()
                .filter(|d| d.severity == crate::diag::Severity::Error)
                .all(|d| d.kind == "unsupported")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::eval::{run_kernel, Instance, SimValues};
    use crate::ir::{Hook, IonVar};

    #[test]
    fn every_builtin_compiles_cleanly_under_its_name() {
        for b in &BUILTINS {
            let c = b.compile();
            assert!(
                c.diagnostics.is_empty(),
                "{}: {:?}",
                b.name,
                c.diagnostics.into_vec()
            );
            let m = c.mechanism.expect("compiled");
            assert_eq!(m.name, b.name);
            assert!(builtin(b.name).is_some());
        }
        assert!(builtin("NaTg").is_none());
    }

    /// The deterministic StochKv3 against its formulas written out by hand: the channel count is
    /// rounded from the area, the conductance is count * n * l * gamma / area.
    #[test]
    fn stochkv3_rounds_the_channel_count_from_the_area() {
        let m = builtin("StochKv3").unwrap().compile().mechanism.unwrap();
        let v = -62.5;
        let area_um2 = 31.7;
        let mut inst = Instance::new(
            &m,
            SimValues {
                v_mv: v,
                area_um2,
                ..SimValues::default()
            },
        );
        inst.set_field(&m, "gkbar", 0.0123);
        inst.set_ion(&m, "k", IonVar::Erev, -90.0);
        run_kernel(&m, Hook::Init, &mut inst);
        // gkbar/gamma*1e4 = 2.46 channels/um2; 2.46*31.7 = 77.982 -> 78 channels
        let n_channels = inst.field(&m, "N").unwrap();
        assert_eq!(n_channels, 78.0);
        let vs = v + 10.0;
        let ninf = 1.0 / (1.0 + (0.0878 * (vs + 55.1)).exp());
        let linf = 1.0 / (1.0 + ((-30.0 - vs) / 10.0).exp());
        assert!((inst.field(&m, "n").unwrap() - ninf).abs() < 1e-15);
        assert!((inst.field(&m, "l").unwrap() - linf).abs() < 1e-15);
        run_kernel(&m, Hook::Current, &mut inst);
        let gk = 78.0 * ninf * linf * 50.0 / area_um2 * 1e-4;
        let got = inst.field(&m, "gk").unwrap();
        assert!((got - gk).abs() <= 1e-14 * gk, "{got} vs {gk}");
        // not gkbar * n * l: the count is rounded
        assert!((got - 0.0123 * ninf * linf).abs() > 1e-4 * gk);
        let ik = inst.ion(&m, "k", IonVar::Current).unwrap();
        assert!((ik - gk * (v + 90.0)).abs() <= 1e-14 * ik.abs());
        // the state update refreshes the open count from the new gates
        inst.sim.v_mv = 0.0;
        run_kernel(&m, Hook::State, &mut inst);
        let (n, l) = (inst.field(&m, "n").unwrap(), inst.field(&m, "l").unwrap());
        assert!(n < ninf && l > linf, "at 0 mV n closes and l opens");
        let open = inst.field(&m, "N1L1").unwrap();
        assert!((open - n * l * 78.0).abs() <= 1e-13 * open);
        let total: f64 = ["N0L0", "N0L1", "N1L0", "N1L1"]
            .iter()
            .map(|f| inst.field(&m, f).unwrap())
            .sum();
        assert!((total - 78.0).abs() < 1e-12);
    }

    #[test]
    fn only_a_replacement_stands_in_for_an_unsupported_file() {
        let stoch = builtin("StochKv3").unwrap();
        let bad = compile_source(
            Path::new("StochKv3.mod"),
            "NEURON { SUFFIX StochKv3 USEION k READ ek WRITE ik BBCOREPOINTER rng }\nASSIGNED { ik ek }\nBREAKPOINT { ik = 0 }\n",
        );
        assert!(bad.mechanism.is_none());
        assert!(stoch.replaces(&bad));
        let syntax = compile_source(
            Path::new("StochKv3.mod"),
            "NEURON { SUFFIX StochKv3 }\nBREAKPOINT { x = = 1 }\n",
        );
        assert!(!stoch.replaces(&syntax));
        let other = compile_source(
            Path::new("Other.mod"),
            "NEURON { SUFFIX Other BBCOREPOINTER rng }\n",
        );
        assert!(!stoch.replaces(&other));
        assert!(!builtin("hh").unwrap().replaces(&bad));
    }

    #[test]
    fn builtin_hh_and_pas_are_the_example_packages_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for example in ["ball_and_stick_hh", "two_compartment_swc"] {
            for name in ["hh", "pas"] {
                let path = root
                    .join("examples")
                    .join(example)
                    .join("mechanisms")
                    .join(format!("{name}.mod"));
                let text = std::fs::read_to_string(&path).unwrap();
                assert_eq!(text, builtin(name).unwrap().source, "{}", path.display());
            }
        }
    }

    #[test]
    fn pas_is_a_leak_with_neurons_defaults() {
        let c = builtin("pas").unwrap().compile();
        let m = c.mechanism.expect("pas compiles");
        assert_eq!(m.name, "pas");
        let mut inst = Instance::new(
            &m,
            SimValues {
                v_mv: -60.0,
                ..SimValues::default()
            },
        );
        assert_eq!(inst.field(&m, "g"), Some(0.001));
        assert_eq!(inst.field(&m, "e"), Some(-70.0));
        run_kernel(&m, Hook::Current, &mut inst);
        assert!((inst.current - 0.001 * 10.0).abs() < 1e-15);
        assert!((inst.conductance - 0.001).abs() < 1e-9);
        assert!(builtin("hh_unknown").is_none());
    }

    /// hh at rest: the textbook gates at -65 mV and 6.3 °C, and the resting currents.
    #[test]
    fn hh_has_the_textbook_gates() {
        let c = builtin("hh").unwrap().compile();
        let m = c
            .mechanism
            .unwrap_or_else(|| panic!("{:?}", c.diagnostics.into_vec()));
        assert_eq!(m.name, "hh");
        let mut inst = Instance::new(
            &m,
            SimValues {
                v_mv: -65.0,
                celsius: 6.3,
                ..SimValues::default()
            },
        );
        inst.set_ion(&m, "na", IonVar::Erev, 50.0);
        inst.set_ion(&m, "k", IonVar::Erev, -77.0);
        run_kernel(&m, Hook::Init, &mut inst);
        let f = |n: &str| inst.field(&m, n).unwrap();
        // alpha_m = 0.1*25/(e^2.5 - 1), beta_m = 4; alpha_h = 0.07, beta_h = 1/(e^3 + 1);
        // alpha_n = 0.01*10/(e - 1), beta_n = 0.125
        let am = 2.5 / (2.5f64.exp() - 1.0);
        let bh = 1.0 / (3.0f64.exp() + 1.0);
        let an = 0.1 / (1f64.exp() - 1.0);
        assert!((f("m") - am / (am + 4.0)).abs() < 1e-15);
        assert!((f("h") - 0.07 / (0.07 + bh)).abs() < 1e-15);
        assert!((f("n") - an / (an + 0.125)).abs() < 1e-15);
        let ina = 0.12 * f("m").powi(3) * f("h") * (-115.0);
        let ik = 0.036 * f("n").powi(4) * 12.0;
        run_kernel(&m, Hook::Current, &mut inst);
        let il = 0.0003 * (-65.0 + 54.3);
        assert!((inst.current - (ina + ik + il)).abs() < 1e-12);
        // the singular points of efun: v = -40 and v = -55 give the limits
        for (v, gate) in [(-40.0, "m"), (-55.0, "n")] {
            let mut at = Instance::new(
                &m,
                SimValues {
                    v_mv: v,
                    celsius: 6.3,
                    ..SimValues::default()
                },
            );
            run_kernel(&m, Hook::Init, &mut at);
            assert!(at.field(&m, gate).unwrap().is_finite());
        }
    }
}
