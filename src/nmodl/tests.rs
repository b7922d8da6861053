//! Tests of the NMODL front end on small hand-written files: diagnostics, NEURON's semantics
//! (checked numerically with the reference kernel evaluation against formulas written here), and
//! robustness against arbitrary input.

use std::path::Path;

use proptest::prelude::*;

use super::{compile_bytes, compile_source, Compiled, FileKind};
use crate::diag::Severity;
use crate::ir::eval::{run_kernel, Instance, SimValues};
use crate::ir::{dump::dump, Hook, IonVar, Mechanism, Scope, Target};

fn compile(src: &str) -> Compiled {
    compile_source(Path::new("test.mod"), src)
}

fn ok(src: &str) -> Mechanism {
    let c = compile(src);
    let errs: Vec<String> = c
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.render(None))
        .collect();
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    c.mechanism.expect("a mechanism")
}

/// (kind, line, col) of every error.
fn errors(src: &str) -> Vec<(&'static str, u32, u32)> {
    let c = compile(src);
    assert!(c.mechanism.is_none());
    c.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let p = d.pos.unwrap_or(crate::diag::LineCol { line: 0, col: 0 });
            (d.kind, p.line, p.col)
        })
        .collect()
}

fn sim(v: f64) -> SimValues {
    SimValues {
        v_mv: v,
        ..SimValues::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-14 * (1.0 + b.abs())
}

#[test]
fn every_problem_is_reported_with_its_position() {
    let src = "\
NEURON {
    SUFFIX bad
    POINTER p
    USEION ca READ cax
}
PARAMETER { g = 1 }
ASSIGNED { i }
CONSTANT { K = 2 }
INITIAL {
    K = 3
    q = 1
    i = (1 +
}
BREAKPOINT { i = nosuch(1) + exp(1, 2) }
VERBATIM
int x;
ENDVERBATIM
NET_RECEIVE(w) { i = 1 }
KINETIC k { ~ a <-> b (1, 2) }
LINEAR l { ~ a = 1 }
NONLINEAR n { ~ a = 1 }
";
    let e = errors(src);
    let expect: &[(&str, u32, u32)] = &[
        ("nmodl-syntax", 13, 1),
        ("unsupported", 3, 5),
        ("bad-ion-variable", 4, 20),
        ("read-only", 10, 5),
        ("unknown-name", 11, 5),
        ("unknown-name", 14, 18),
        ("arity", 14, 30),
        ("unsupported", 15, 1),
        ("unsupported", 18, 1),
        ("unsupported", 19, 1),
        ("unsupported", 20, 1),
        ("unsupported", 21, 1),
    ];
    for want in expect {
        assert!(e.contains(want), "missing {want:?} in {e:?}");
    }
    // ca has a valence of its own: only the bad variable name is wrong there
    assert!(e.iter().all(|k| k.0 != "ion-valence"), "{e:?}");
    assert_eq!(e.len(), expect.len(), "{e:?}");
    let c = compile(src);
    let unsupported = c.unsupported();
    for w in [
        "POINTER",
        "VERBATIM",
        "NET_RECEIVE",
        "KINETIC",
        "LINEAR",
        "NONLINEAR",
    ] {
        assert!(
            unsupported.iter().any(|u| u == w),
            "{w} not in {unsupported:?}"
        );
    }
    let text = c
        .diagnostics
        .iter()
        .map(|d| d.render(None))
        .collect::<Vec<_>>();
    assert!(
        text.iter().any(|t| t
            == "error[unsupported]: test.mod:15:1: not supported in a density channel: VERBATIM"),
        "{text:?}"
    );
}

#[test]
fn point_processes_get_one_note() {
    let c = compile(
        "NEURON { POINT_PROCESS Syn POINTER rng }\nVERBATIM x ENDVERBATIM\nNET_RECEIVE(w) { }",
    );
    assert_eq!(c.kind, FileKind::PointProcess);
    assert!(c.mechanism.is_none());
    assert_eq!(c.diagnostics.len(), 1);
    let d = c.diagnostics.iter().next().unwrap();
    assert_eq!((d.severity, d.kind), (Severity::Note, "not-density"));
    assert_eq!(d.pos.map(|p| (p.line, p.col)), Some((1, 24)));
    let c = compile("NEURON { ARTIFICIAL_CELL Stim }");
    assert_eq!(c.kind, FileKind::ArtificialCell);
    assert!(!c.diagnostics.has_errors());
}

#[test]
fn a_file_without_suffix_is_an_error() {
    let e = errors("PARAMETER { g = 1 }");
    assert_eq!(e, vec![("missing-suffix", 0, 0)]);
}

const LEAK: &str = "
NEURON { SUFFIX leak NONSPECIFIC_CURRENT i RANGE g, e }
PARAMETER { g = 0.001 (S/cm2) e = -70 (mV) }
ASSIGNED { i (mA/cm2) v (mV) }
BREAKPOINT { i = g*(v - e) }
";

#[test]
fn a_leak_current_and_its_conductance() {
    let m = ok(LEAK);
    let mut inst = Instance::new(&m, sim(-60.0));
    run_kernel(&m, Hook::Current, &mut inst);
    let i = 0.001 * (-60.0 - -70.0);
    assert_eq!(inst.current, i);
    let i1 = 0.001 * ((-60.0 + 0.001) - -70.0);
    assert_eq!(inst.conductance, (i1 - i) / 0.001);
    // a NONSPECIFIC_CURRENT is RANGE in NEURON even when not listed
    assert_eq!(inst.field(&m, "i"), Some(i));
    assert!(m.state.writes.is_empty() && m.init.writes.is_empty());
}

#[test]
fn v_is_a_local_copy_and_equality_is_exact() {
    let m = ok("
NEURON { SUFFIX vc NONSPECIFIC_CURRENT i RANGE g, w }
PARAMETER { g = 1 }
ASSIGNED { i v w }
BREAKPOINT {
    if (v == -32) { v = v + 0.0001 }
    w = v
    v = v + 10
    i = g*(v - 10)
    v = v - 10
}
");
    // no kernel stores into v; the current is computed at v + 10
    let mut inst = Instance::new(&m, sim(-50.0));
    run_kernel(&m, Hook::Current, &mut inst);
    assert_eq!(inst.current, (-50.0 + 10.0) - 10.0);
    assert_eq!(inst.field(&m, "w"), Some(-50.0));
    let mut inst = Instance::new(&m, sim(-32.0));
    run_kernel(&m, Hook::Current, &mut inst);
    assert_eq!(inst.field(&m, "w"), Some(-32.0 + 0.0001));
    // at v = -32.001 the first evaluation (v + 0.001) hits -32 exactly? No: -32.001 + 0.001 is
    // not -32 in binary, so the nudge applies only to exact equality.
    let mut inst = Instance::new(&m, sim(-32.0 - 1e-9));
    run_kernel(&m, Hook::Current, &mut inst);
    assert_eq!(inst.field(&m, "w"), Some(-32.0 - 1e-9));
}

const GATE: &str = "
NEURON { SUFFIX gate USEION k READ ek WRITE ik RANGE gbar, after, before }
PARAMETER { gbar = 0.02 (S/cm2) }
ASSIGNED { ik (mA/cm2) ek (mV) v (mV) minf mtau after before }
STATE { m }
BREAKPOINT { SOLVE states METHOD cnexp  ik = gbar*m*m*(v - ek) }
INITIAL { rates(v) m = minf }
DERIVATIVE states {
    rates(v)
    before = m
    m' = (minf - m)/mtau
    after = m
}
PROCEDURE rates(v (mV)) { LOCAL a
    a = exp(-(v + 40)/10)
    minf = 1/(1 + a)
    mtau = 0.5 + 2*a/(1 + a*a)
}
";

#[test]
fn cnexp_is_the_exponential_update_in_place() {
    let m = ok(GATE);
    let v = -55.0;
    let mut inst = Instance::new(&m, sim(v));
    run_kernel(&m, Hook::Init, &mut inst);
    let a = (-(v + 40.0) / 10.0f64).exp();
    let minf = 1.0 / (1.0 + a);
    assert_eq!(inst.field(&m, "m"), Some(minf));
    // move the voltage and step
    let v2 = -20.0;
    inst.sim.v_mv = v2;
    let m0 = 0.3;
    inst.set_field(&m, "m", m0);
    run_kernel(&m, Hook::State, &mut inst);
    let a = (-(v2 + 40.0) / 10.0f64).exp();
    let minf = 1.0 / (1.0 + a);
    let mtau = 0.5 + 2.0 * a / (1.0 + a * a);
    let dt = inst.sim.dt_ms;
    let expect = m0 + (1.0 - (-dt / mtau).exp()) * (minf - m0);
    let got = inst.field(&m, "m").unwrap();
    assert!(close(got, expect), "{got} vs {expect}");
    // statements before the equation see the old state, after it the new one
    assert_eq!(inst.field(&m, "before"), Some(m0));
    assert_eq!(inst.field(&m, "after"), Some(got));
    // minf and mtau are always computed before use: no storage
    assert!(m.field_id("minf").is_none() && m.field_id("mtau").is_none());
    // the current kernel adds the potassium current to the ion
    inst.set_ion(&m, "k", IonVar::Erev, -90.0);
    run_kernel(&m, Hook::Current, &mut inst);
    let i = 0.02 * got * got * (v2 - -90.0);
    assert_eq!(inst.ion(&m, "k", IonVar::Current), Some(i));
    assert_eq!(inst.current, i);
}

#[test]
fn cnexp_without_the_state_is_euler_and_nonlinear_is_rejected() {
    let m = ok("
NEURON { SUFFIX eu RANGE q }
ASSIGNED { q }
STATE { x }
BREAKPOINT { SOLVE s METHOD cnexp }
DERIVATIVE s { q = 1 - x  x' = q }
");
    let mut inst = Instance::new(&m, sim(0.0));
    inst.set_field(&m, "x", 0.25);
    run_kernel(&m, Hook::State, &mut inst);
    assert_eq!(inst.field(&m, "x"), Some(0.25 + 0.025 * (1.0 - 0.25)));

    let e = errors(
        "
NEURON { SUFFIX nl }
STATE { x }
BREAKPOINT { SOLVE s METHOD cnexp }
DERIVATIVE s { x' = x*x }
",
    );
    assert_eq!(e, vec![("non-linear", 5, 21)]);
    let e = errors(
        "
NEURON { SUFFIX nl }
STATE { x }
BREAKPOINT { SOLVE s METHOD cnexp }
DERIVATIVE s { x' = f(x) - x }
FUNCTION f(a) { f = a }
",
    );
    assert_eq!(e, vec![("non-linear", 5, 21)]);
    let e = errors(
        "
NEURON { SUFFIX nl }
STATE { x }
BREAKPOINT { SOLVE s METHOD cnexp }
DERIVATIVE s { if (x > 1) { x' = -x } else { x' = 1 - exp(x) } }
",
    );
    assert_eq!(e, vec![("non-linear", 5, 51)]);
    // a method we do not integrate
    let e = errors(
        "
NEURON { SUFFIX eu }
STATE { x }
BREAKPOINT { SOLVE s METHOD euler }
DERIVATIVE s { x' = -x }
",
    );
    assert_eq!(e, vec![("unsupported", 4, 29)]);
}

#[test]
fn derivimplicit_is_one_exact_backward_euler_step() {
    let m = ok("
NEURON { SUFFIX di RANGE seen }
ASSIGNED { seen }
STATE { x y }
BREAKPOINT { SOLVE s METHOD derivimplicit }
DERIVATIVE s {
    x' = (1 - x)/3 + y
    y' = -y
    seen = x + y
}
");
    let mut inst = Instance::new(&m, sim(0.0));
    inst.sim.dt_ms = 0.5;
    let (x0, y0) = (0.2, 0.8);
    inst.set_field(&m, "x", x0);
    inst.set_field(&m, "y", y0);
    run_kernel(&m, Hook::State, &mut inst);
    let dt = 0.5;
    // (1 + dt) y1 = y0 ; (1 + dt/3) x1 = x0 + dt (1/3 + y1)
    let y1 = y0 / (1.0 + dt);
    let x1 = (x0 + dt * (1.0 / 3.0 + y1)) / (1.0 + dt / 3.0);
    let (gx, gy) = (inst.field(&m, "x").unwrap(), inst.field(&m, "y").unwrap());
    assert!(close(gy, y1), "{gy} {y1}");
    assert!(close(gx, x1), "{gx} {x1}");
    // residual of the implicit equations is zero to rounding
    assert!((gx - x0 - dt * ((1.0 - gx) / 3.0 + gy)).abs() < 1e-15);
    // the block's other statements ran at the new states
    assert_eq!(inst.field(&m, "seen"), Some(gx + gy));

    let e = errors(
        "
NEURON { SUFFIX cyc }
STATE { x y }
BREAKPOINT { SOLVE s METHOD derivimplicit }
DERIVATIVE s { x' = y  y' = -x }
",
    );
    assert_eq!(e, vec![("unsupported", 4, 20)]);
    let e = errors(
        "
NEURON { SUFFIX nl }
STATE { x }
ASSIGNED { r }
BREAKPOINT { SOLVE s METHOD derivimplicit }
DERIVATIVE s { r = x*x  x' = -r }
",
    );
    assert_eq!(e, vec![("non-linear", 6, 25)]);
}

#[test]
fn conductance_is_neurons_finite_difference() {
    let m = ok("
NEURON { SUFFIX fd NONSPECIFIC_CURRENT i RANGE g }
PARAMETER { g = 0.003 }
ASSIGNED { i }
BREAKPOINT { i = g*(v + 50)*(v + 50)*(v + 50) }
");
    let v = -47.3;
    let mut inst = Instance::new(&m, sim(v));
    run_kernel(&m, Hook::Current, &mut inst);
    let f = |v: f64| 0.003 * (v + 50.0) * (v + 50.0) * (v + 50.0);
    assert_eq!(inst.current, f(v));
    assert_eq!(inst.conductance, (f(v + 0.001) - f(v)) / 0.001);
    // not the analytic derivative
    assert_ne!(inst.conductance, 3.0 * 0.003 * (v + 50.0) * (v + 50.0));
}

#[test]
fn currents_sum_in_neurons_order_and_add_to_their_ions() {
    let m = ok("
NEURON {
    SUFFIX mix
    USEION na READ ena WRITE ina
    USEION k READ ek WRITE ik
    NONSPECIFIC_CURRENT il
}
ASSIGNED { ina ik il ena ek }
BREAKPOINT { ina = 0.1*(v - ena)  ik = 0.2*(v - ek)  il = 0.3*(v + 65) }
");
    let mut inst = Instance::new(&m, sim(-60.0));
    inst.set_ion(&m, "na", IonVar::Erev, 50.0);
    inst.set_ion(&m, "k", IonVar::Erev, -90.0);
    inst.set_ion(&m, "na", IonVar::Current, 1.0); // others' currents are added to
    run_kernel(&m, Hook::Current, &mut inst);
    let (ina, ik, il) = (
        0.1 * (-60.0 - 50.0),
        0.2 * (-60.0 - -90.0),
        0.3 * (-60.0 + 65.0),
    );
    assert_eq!(inst.ion(&m, "na", IonVar::Current), Some(1.0 + ina));
    assert_eq!(inst.ion(&m, "k", IonVar::Current), Some(ik));
    assert_eq!(inst.current, ina + ik + il);
    // ions read: ena ek; written: ina ik
    let na = &m.ions[m.ion_id("na").unwrap().index()];
    assert_eq!(
        (na.reads.clone(), na.writes.clone()),
        (vec![IonVar::Erev], vec![IonVar::Current])
    );
    assert_eq!(na.valence, 1.0);
}

const CADYN: &str = "
NEURON { SUFFIX cad USEION ca READ ica WRITE cai RANGE decay }
UNITS { FARADAY = (faraday) (coulomb) (mM) = (milli/liter) }
PARAMETER { decay = 80 (ms) cainf = 5e-5 (mM) }
ASSIGNED { ica (mA/cm2) diam (um) }
STATE { cai (mM) }
INITIAL { cai = cainf }
BREAKPOINT { SOLVE s METHOD cnexp }
DERIVATIVE s { cai' = -ica*10000/(2*FARADAY*diam) - (cai - cainf)/decay }
";

#[test]
fn a_written_concentration_is_a_state_stored_in_the_ion() {
    let m = ok(CADYN);
    let info = crate::ir::validate(&m).unwrap();
    assert_eq!(info.concentration_ions.len(), 1);
    assert!(info.needs_dt && info.needs_geometry);
    let mut inst = Instance::new(&m, SimValues::default());
    run_kernel(&m, Hook::Init, &mut inst);
    assert_eq!(inst.ion(&m, "ca", IonVar::Inside), Some(5e-5));
    inst.set_ion(&m, "ca", IonVar::Current, -0.001);
    run_kernel(&m, Hook::State, &mut inst);
    let f = 96485.33212331001;
    let (dt, d, c0): (f64, f64, f64) = (0.025, 1.0, 5e-5);
    let a = 0.001 * 10000.0 / (2.0 * f * d) + 5e-5 / 80.0;
    let b: f64 = -1.0 / 80.0;
    let expect = c0 + (1.0 - (dt * b).exp()) * (-a / b - c0);
    let got = inst.ion(&m, "ca", IonVar::Inside).unwrap();
    assert!(close(got, expect), "{got} {expect}");
    // the concentration has no field of its own
    assert!(m.field_id("cai").is_none());
    // cainf is GLOBAL (not RANGE): one value per mechanism
    assert_eq!(
        m.fields[m.field_id("cainf").unwrap().index()].scope,
        Scope::Global
    );
}

#[test]
fn calls_are_inlined_with_arguments_by_value() {
    let m = ok("
NEURON { SUFFIX fn RANGE z, r, s }
ASSIGNED { z r s }
INITIAL {
    z = 2
    p(z)
    r = twice(z) + twice(1)
}
PROCEDURE p(a) { a = a + 1  s = a }
FUNCTION twice(x) { LOCAL y
    y = x
    twice = y + y
}
");
    let mut inst = Instance::new(&m, SimValues::default());
    run_kernel(&m, Hook::Init, &mut inst);
    assert_eq!(inst.field(&m, "z"), Some(2.0));
    assert_eq!(inst.field(&m, "s"), Some(3.0));
    assert_eq!(inst.field(&m, "r"), Some(6.0));
    let e = errors(
        "
NEURON { SUFFIX rec }
ASSIGNED { z }
INITIAL { z = f(1) }
FUNCTION f(x) { f = g(x) }
FUNCTION g(x) { g = f(x) }
",
    );
    assert!(
        e.iter().all(|k| k.0 == "recursion") && !e.is_empty(),
        "{e:?}"
    );
}

#[test]
fn simulator_names_ion_names_and_parameter_defaults() {
    let m = ok("
NEURON { SUFFIX names USEION k WRITE ik RANGE ek, g, r }
PARAMETER { celsius = 36 (degC) ek = -100 (mV) g = 0.123456789 dt (ms) }
ASSIGNED { ik r }
BREAKPOINT { ik = g*(v - ek)  r = celsius + dt }
");
    // celsius and dt are the simulator's; ek (not READ from the ion) is the mechanism's own
    assert!(m.field_id("celsius").is_none() && m.field_id("dt").is_none());
    let ek = &m.fields[m.field_id("ek").unwrap().index()];
    assert_eq!(ek.default, -100.0);
    // NEURON prints parameter defaults with %g
    assert_eq!(m.fields[m.field_id("g").unwrap().index()].default, 0.123457);
    let mut inst = Instance::new(&m, sim(-80.0));
    inst.sim.celsius = 6.3;
    run_kernel(&m, Hook::Current, &mut inst);
    assert_eq!(inst.field(&m, "r"), Some(6.3 + 0.025));
    assert_eq!(inst.current, 0.123457 * (-80.0 - -100.0));
}

#[test]
fn assigned_values_are_kept_only_when_read_before_written() {
    let m = ok("
NEURON { SUFFIX keep GLOBAL tadj RANGE out }
ASSIGNED { tadj tmp out }
STATE { x }
INITIAL { tadj = 3^((celsius - 23)/10)  x = 1 }
BREAKPOINT { SOLVE s METHOD cnexp }
DERIVATIVE s { tmp = 2*tadj  out = tmp  x' = -x/tmp }
");
    let tadj = m.field_id("tadj").map(|f| m.fields[f.index()].scope);
    assert_eq!(tadj, Some(Scope::Instance));
    assert!(m.field_id("tmp").is_none());
    let mut inst = Instance::new(&m, SimValues::default());
    run_kernel(&m, Hook::Init, &mut inst);
    run_kernel(&m, Hook::State, &mut inst);
    let t = 3f64.powf((34.0 - 23.0) / 10.0);
    assert_eq!(inst.field(&m, "out"), Some(2.0 * t));
    // a GLOBAL ASSIGNED read before written can differ from NEURON's shared value: warned
    let c = compile(
        "
NEURON { SUFFIX keep GLOBAL tadj }
ASSIGNED { tadj }
STATE { x }
INITIAL { tadj = 2  x = 1 }
BREAKPOINT { SOLVE s METHOD cnexp }
DERIVATIVE s { x' = -x/tadj }
",
    );
    assert!(c.diagnostics.iter().any(|d| d.kind == "global-assigned"));
}

#[test]
fn unit_constants_and_literals_with_units() {
    let m = ok("
NEURON { SUFFIX u RANGE a, b, c, d, e }
UNITS {
    (mV) = (millivolt)
    FARADAY = (faraday) (coulomb)
    R = (k-mole) (joule/degC)
    PI = (pi) (1)
    KF = (faraday) (kilocoulombs)
}
CONSTANT { RR = 8.314 (volt-coul/degC) }
ASSIGNED { a b c d e }
INITIAL { a = FARADAY  b = R  c = PI  d = 10 (mV) + 0.004(1/mM)  e = RR + KF }
");
    let mut inst = Instance::new(&m, SimValues::default());
    run_kernel(&m, Hook::Init, &mut inst);
    assert_eq!(inst.field(&m, "a"), Some(96485.33212331001));
    assert_eq!(inst.field(&m, "b"), Some(8.31446261815324));
    assert_eq!(inst.field(&m, "c"), Some(std::f64::consts::PI));
    assert_eq!(inst.field(&m, "d"), Some(10.004));
    assert_eq!(
        inst.field(&m, "e"),
        Some(8.314 + 96485.33212331001 / 1000.0)
    );
    let e = errors("NEURON { SUFFIX u }\nUNITS { X = (faraday) (joule) }");
    assert_eq!(e, vec![("unknown-unit", 2, 9)]);
}

#[test]
fn tables_are_recorded_and_computed_exactly() {
    let m = ok("
NEURON { SUFFIX tab RANGE a }
ASSIGNED { a }
INITIAL { rates(v) }
PROCEDURE rates(v) {
    TABLE a DEPEND celsius FROM -100 TO 100 WITH 200
    a = exp(v/10)
}
");
    assert_eq!(m.tables.len(), 1);
    assert_eq!(m.tables[0].in_block, "rates");
    assert_eq!(m.tables[0].with, "200");
    let mut inst = Instance::new(&m, sim(-33.3));
    run_kernel(&m, Hook::Init, &mut inst);
    assert_eq!(inst.field(&m, "a"), Some((-33.3f64 / 10.0).exp()));
    assert!(dump(&m).contains("table in rates [a] depend [celsius]"));
}

#[test]
fn branches_select_and_operators_follow_c() {
    let m = ok("
NEURON { SUFFIX br RANGE a, b, c, d }
ASSIGNED { a b c d }
INITIAL {
    if (v < -70) { a = 1 } else if (v < -60) { a = 2 } else { a = 3 }
    b = -2^2 + 2^3^2
    c = (v > -80 && !(v > -50)) + (0 || v)
    d = (34 - 21)/10
}
");
    for (v, a, c) in [
        (-75.0, 1.0, 2.0),
        (-65.0, 2.0, 2.0),
        (-40.0, 3.0, 1.0),
        (-90.0, 1.0, 1.0),
    ] {
        let mut inst = Instance::new(&m, sim(v));
        run_kernel(&m, Hook::Init, &mut inst);
        assert_eq!(inst.field(&m, "a"), Some(a), "v = {v}");
        assert_eq!(inst.field(&m, "b"), Some(-4.0 + 512.0));
        assert_eq!(inst.field(&m, "c"), Some(c), "v = {v}");
        assert_eq!(inst.field(&m, "d"), Some(1.3));
    }
}

#[test]
fn breakpoint_without_currents_runs_in_the_state_kernel() {
    let m = ok("
NEURON { SUFFIX ttxs USEION ttx WRITE ttxo, ttxi VALENCE 1 RANGE level }
PARAMETER { level = 1e-12 (mM) }
ASSIGNED { ttxo ttxi }
BREAKPOINT { ttxo = level }
INITIAL { ttxo = level  ttxi = 0.015625 }
");
    assert!(m.current.writes.is_empty());
    assert!(m
        .state
        .writes
        .iter()
        .any(|w| matches!(w.target, Target::Ion(_, IonVar::Outside))));
    let mut inst = Instance::new(&m, SimValues::default());
    run_kernel(&m, Hook::Init, &mut inst);
    assert_eq!(inst.ion(&m, "ttx", IonVar::Inside), Some(0.015625));
    let e = errors("NEURON { SUFFIX x USEION foo READ fooi }");
    assert_eq!(e, vec![("ion-valence", 1, 35)]);
}

#[test]
fn a_derivative_block_called_from_initial_takes_its_step() {
    let m = ok("
NEURON { SUFFIX dc RANGE seen }
ASSIGNED { seen }
STATE { x }
INITIAL { x = 1  states()  seen = x }
BREAKPOINT { SOLVE states METHOD cnexp }
DERIVATIVE states { x' = -2*x }
");
    let mut inst = Instance::new(&m, SimValues::default());
    run_kernel(&m, Hook::Init, &mut inst);
    let b: f64 = -2.0;
    let expect = 1.0 + (1.0 - (0.025 * b).exp()) * (-0.0 / b - 1.0);
    assert!(close(inst.field(&m, "seen").unwrap(), expect));
}

#[test]
fn printf_is_ignored_with_a_warning() {
    let c = compile("NEURON { SUFFIX p }\nINITIAL { printf(\"hello %g\", v) }");
    assert!(c.mechanism.is_some());
    assert!(c.diagnostics.iter().any(|d| d.kind == "ignored"));
}

#[test]
fn the_dump_is_deterministic() {
    let a = dump(&ok(GATE));
    let b = dump(&ok(GATE));
    assert_eq!(a, b);
    assert!(a.starts_with("mechanism gate\nion k valence 1.0 read [ek] write [ik]\n"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let c = compile_bytes(Path::new("x.mod"), &bytes);
        if let Some(m) = &c.mechanism {
            prop_assert!(crate::ir::validate(m).is_ok());
        }
    }

    #[test]
    fn token_soup_never_panics(words in proptest::collection::vec(proptest::sample::select(vec![
        "NEURON", "SUFFIX", "s", "{", "}", "(", ")", "x", "'", "=", "+", "-", "*", "/", "^", "<", ">",
        "==", "&&", "||", "!", "if", "else", "STATE", "PARAMETER", "ASSIGNED", "BREAKPOINT",
        "DERIVATIVE", "SOLVE", "METHOD", "cnexp", "derivimplicit", "INITIAL", "PROCEDURE",
        "FUNCTION", "LOCAL", "1", "0.5", "v", "USEION", "ca", "READ", "WRITE", "cai", "ica",
        "NONSPECIFIC_CURRENT", "i", "TABLE", "FROM", "TO", "WITH", "UNITS", "(mV)", ",", "\n",
        "VERBATIM", "ENDVERBATIM", "COMMENT", "ENDCOMMENT", ":", "f", "exp", "RANGE",
    ]), 0..300)) {
        let src = words.join(" ");
        let c = compile_source(Path::new("x.mod"), &src);
        if let Some(m) = &c.mechanism {
            prop_assert!(crate::ir::validate(m).is_ok());
        }
    }

    /// Grammatical files with random channel-like bodies compile to valid IR, and the
    /// reference evaluation of their kernels runs.
    #[test]
    fn generated_channels_compile(
        ops in proptest::collection::vec((0usize..6, -3.0f64..3.0), 1..12),
        method in proptest::sample::select(vec!["cnexp", "derivimplicit"]),
    ) {
        let mut body = String::from("a = 1\n");
        for (k, c) in &ops {
            let line = match k {
                0 => format!("a = a*{c} + v/100\n"),
                1 => format!("if (v > {c}) {{ a = a + 1 }} else {{ a = exp(-a) }}\n"),
                2 => format!("a = f(a, {c})\n"),
                3 => format!("b = a^2 + {c}\n"),
                4 => format!("LOCAL q{k}\nq{k} = a\na = q{k} - {c}\n"),
                _ => format!("a = fabs(a) + sqrt({})\n", c.abs()),
            };
            body.push_str(&line);
        }
        let src = format!("
NEURON {{ SUFFIX gen NONSPECIFIC_CURRENT i RANGE a, b }}
ASSIGNED {{ i a b }}
STATE {{ x }}
INITIAL {{ {body} x = a }}
BREAKPOINT {{ SOLVE s METHOD {method}  i = 0.001*x*(v + 70) }}
DERIVATIVE s {{ {body} x' = (a - x)/(1 + b*b) }}
FUNCTION f(p, q) {{ f = p*q + 1 }}
");
        let c = compile_source(Path::new("gen.mod"), &src);
        let m = c.mechanism.as_ref().expect("generated file compiles");
        let mut inst = Instance::new(m, SimValues::default());
        for hook in Hook::ALL {
            run_kernel(m, hook, &mut inst);
        }
    }
}

#[test]
fn solve_of_a_procedure_and_derivatives_in_branches() {
    let m = ok("
NEURON { SUFFIX sp RANGE n }
ASSIGNED { n }
STATE { x }
BREAKPOINT { SOLVE step }
PROCEDURE step() { n = n + 1 }
");
    let mut inst = Instance::new(&m, SimValues::default());
    run_kernel(&m, Hook::State, &mut inst);
    run_kernel(&m, Hook::State, &mut inst);
    assert_eq!(inst.field(&m, "n"), Some(2.0));

    let m = ok("
NEURON { SUFFIX br2 }
STATE { x }
BREAKPOINT { SOLVE s METHOD cnexp }
DERIVATIVE s { if (v > 0) { x' = -x } else { x' = 1 } }
");
    for (v, x0) in [(10.0, 0.5), (-10.0, 0.5)] {
        let mut inst = Instance::new(&m, sim(v));
        inst.set_field(&m, "x", x0);
        run_kernel(&m, Hook::State, &mut inst);
        let dt: f64 = 0.025;
        let expect = if v > 0.0 {
            x0 + (1.0 - (-dt).exp()) * (0.0 - x0)
        } else {
            x0 + dt
        };
        assert!(close(inst.field(&m, "x").unwrap(), expect));
    }
}

#[test]
fn locals_start_at_zero_and_other_unsupported_constructs() {
    let m = ok("
NEURON { SUFFIX lz RANGE r }
ASSIGNED { r }
INITIAL { LOCAL a  r = a + 1 }
");
    let mut inst = Instance::new(&m, SimValues::default());
    run_kernel(&m, Hook::Init, &mut inst);
    assert_eq!(inst.field(&m, "r"), Some(1.0));
    let c = compile(
        "
NEURON { SUFFIX el ELECTRODE_CURRENT i BBCOREPOINTER r }
ASSIGNED { i x[3] }
INITIAL { while (1) { i = 1 } FROM k = 0 TO 2 { i = 2 } }
FUNCTION_TABLE tab(v)
",
    );
    assert!(c.mechanism.is_none());
    let u = c.unsupported();
    for want in [
        "ELECTRODE_CURRENT",
        "BBCOREPOINTER",
        "array variable `x`",
        "while loop",
        "FROM ... TO loop",
        "FUNCTION_TABLE",
    ] {
        assert!(u.iter().any(|x| x == want), "{want} not in {u:?}");
    }
}
