//! NEURON's built-in density mechanisms that the packages insert without shipping a `.mod` file,
//! written as NMODL in emsweep's own words and compiled by emsweep's own front end, so that they
//! run through exactly the same kernels (and the same finite-difference conductance) as NEURON's
//! own translations of them.
//!
//! - `pas`: the passive leak `i = g·(v − e)`, defaults g = 0.001 S/cm², e = −70 mV.
//! - `hh`: Hodgkin and Huxley's squid axon channels (sodium `m³h`, potassium `n⁴`, leak), rates
//!   defined at 6.3 °C and scaled by q10 = 3^((celsius − 6.3)/10), with NEURON's defaults and its
//!   way of evaluating the rates at the removable singularities. NEURON tabulates the rates by
//!   default (`usetable_hh = 1`); emsweep computes them exactly, like NEURON with
//!   `usetable_hh = 0`.

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

/// Source of the built-in `hh`.
pub const HH_SOURCE: &str = "
: emsweep built-in: the Hodgkin-Huxley sodium, potassium and leak currents of the squid giant
: axon, membrane potential in the modern convention (rest near -65 mV)
NEURON {
    SUFFIX hh
    USEION na READ ena WRITE ina
    USEION k READ ek WRITE ik
    NONSPECIFIC_CURRENT il
    RANGE gnabar, gkbar, gl, el, gna, gk
    GLOBAL minf, hinf, ninf, mtau, htau, ntau
}
UNITS {
    (mV) = (millivolt)
    (mA) = (milliamp)
    (S) = (siemens)
}
PARAMETER {
    gnabar = 0.12 (S/cm2)
    gkbar = 0.036 (S/cm2)
    gl = 0.0003 (S/cm2)
    el = -54.3 (mV)
}
STATE { m h n }
ASSIGNED {
    v (mV)
    celsius (degC)
    ena (mV)
    ek (mV)
    gna (S/cm2)
    gk (S/cm2)
    ina (mA/cm2)
    ik (mA/cm2)
    il (mA/cm2)
    minf hinf ninf
    mtau (ms) htau (ms) ntau (ms)
}
BREAKPOINT {
    SOLVE gates METHOD cnexp
    gna = gnabar*m*m*m*h
    ina = gna*(v - ena)
    gk = gkbar*n*n*n*n
    ik = gk*(v - ek)
    il = gl*(v - el)
}
INITIAL {
    rates(v)
    m = minf
    h = hinf
    n = ninf
}
DERIVATIVE gates {
    rates(v)
    m' = (minf - m)/mtau
    h' = (hinf - h)/htau
    n' = (ninf - n)/ntau
}
: steady states and time constants of the three gates at membrane potential u
PROCEDURE rates(u (mV)) {
    LOCAL a, b, total, q10
    q10 = 3^((celsius - 6.3)/10)
    : sodium activation
    a = 0.1*efun(-(u + 40), 10)
    b = 4*exp(-(u + 65)/18)
    total = a + b
    mtau = 1/(q10*total)
    minf = a/total
    : sodium inactivation
    a = 0.07*exp(-(u + 65)/20)
    b = 1/(exp(-(u + 35)/10) + 1)
    total = a + b
    htau = 1/(q10*total)
    hinf = a/total
    : potassium activation
    a = 0.01*efun(-(u + 55), 10)
    b = 0.125*exp(-(u + 65)/80)
    total = a + b
    ntau = 1/(q10*total)
    ninf = a/total
}
: x/(exp(x/s) - 1), continued by its first-order expansion where x/s is tiny
FUNCTION efun(x, s) {
    if (fabs(x/s) < 1e-6) {
        efun = s*(1 - x/s/2)
    } else {
        efun = x/(exp(x/s) - 1)
    }
}
";

/// Names of the built-in mechanisms emsweep provides, in NEURON's registration order.
pub const BUILTINS: [&str; 2] = ["pas", "hh"];

/// The compiled built-in `name`, if emsweep provides it.
pub fn compile_builtin(name: &str) -> Option<Compiled> {
    let source = match name {
        "pas" => PAS_SOURCE,
        "hh" => HH_SOURCE,
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

    /// hh at rest: the textbook gates at -65 mV and 6.3 °C, and the resting currents.
    #[test]
    fn hh_has_the_textbook_gates() {
        let c = compile_builtin("hh").unwrap();
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
        inst.set_ion(&m, "na", crate::ir::IonVar::Erev, 50.0);
        inst.set_ion(&m, "k", crate::ir::IonVar::Erev, -77.0);
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
