//! NEURON's built-in density mechanisms that the packages insert without shipping a `.mod` file,
//! written as NMODL in emsweep's own words and compiled by emsweep's own front end, so that they
//! run through exactly the same kernels (and the same finite-difference conductance) as NEURON's
//! own translations of them.
//!
//! - `pas`: the passive leak `i = g·(v − e)`, defaults g = 0.001 S/cm², e = −70 mV.

use std::path::Path;

use crate::nmodl::{compile_source, Compiled};

/// Source of the built-in `pas`.
pub const PAS_SOURCE: &str = "
: emsweep built-in: a leak current proportional to the distance from its reversal potential
NEURON {
    SUFFIX pas
    NONSPECIFIC_CURRENT i
    RANGE g, e
}
UNITS {
    (mV) = (millivolt)
    (mA) = (milliamp)
    (S) = (siemens)
}
PARAMETER {
    g = 0.001 (S/cm2)
    e = -70 (mV)
}
ASSIGNED {
    v (mV)
    i (mA/cm2)
}
BREAKPOINT {
    i = g*(v - e)
}
";

/// Names of the built-in mechanisms emsweep provides, in NEURON's registration order.
pub const BUILTINS: [&str; 1] = ["pas"];

/// The compiled built-in `name`, if emsweep provides it.
pub fn compile_builtin(name: &str) -> Option<Compiled> {
    let source = match name {
        "pas" => PAS_SOURCE,
        _ => return None,
    };
    Some(compile_source(
        Path::new(&format!("<built-in {name}>")),
        source,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::eval::{run_kernel, Instance, SimValues};
    use crate::ir::Hook;

    #[test]
    fn pas_is_a_leak_with_neurons_defaults() {
        let c = compile_builtin("pas").unwrap();
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
        assert!(compile_builtin("hh_unknown").is_none());
    }
}
