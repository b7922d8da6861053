TITLE hh: Hodgkin-Huxley sodium, potassium and leak currents

COMMENT
Squid giant axon kinetics (Hodgkin & Huxley 1952), in today's sign
convention: v is inside minus outside in mV, and the resting potential of
the squid fit is moved to about -65 mV.

The rate constants below hold at 6.3 degC. At any other temperature every
rate is multiplied by 3^((celsius - 6.3)/10), so the time constants shrink
by that factor while the steady states stay the same.

Part of the emsweep example packages (Apache-2.0). It is meant to behave
exactly like the hh mechanism built into NEURON when that one's rate table
is switched off (usetable_hh = 0). NEURON will not load a file whose SUFFIX
repeats a built-in name, so under NEURON use the built-in hh instead.
ENDCOMMENT

NEURON {
    SUFFIX hh
    USEION na READ ena WRITE ina
    USEION k READ ek WRITE ik
    NONSPECIFIC_CURRENT il
    RANGE gnabar, gkbar, gl, el, gna, gk
    RANGE minf, hinf, ninf, mtau, htau, ntau
    THREADSAFE
}

UNITS {
    (mV) = (millivolt)
    (mA) = (milliamp)
    (S) = (siemens)
}

PARAMETER {
    : peak conductances and the leak
    gnabar = 0.12 (S/cm2) <0,1e9>
    gkbar = 0.036 (S/cm2) <0,1e9>
    gl = 0.0003 (S/cm2) <0,1e9>
    el = -54.3 (mV)
}

STATE {
    m  : sodium activation
    h  : sodium inactivation
    n  : potassium activation
}

ASSIGNED {
    v (mV)
    celsius (degC)
    ena (mV)
    ek (mV)
    ina (mA/cm2)
    ik (mA/cm2)
    il (mA/cm2)
    gna (S/cm2)
    gk (S/cm2)
    minf
    hinf
    ninf
    mtau (ms)
    htau (ms)
    ntau (ms)
}

INITIAL {
    : start every gate at its steady state for the initial voltage
    steady(v)
    m = minf
    h = hinf
    n = ninf
}

BREAKPOINT {
    SOLVE gating METHOD cnexp
    gna = gnabar*m*m*m*h
    gk = gkbar*n*n*n*n
    ina = gna*(v - ena)
    ik = gk*(v - ek)
    il = gl*(v - el)
}

DERIVATIVE gating {
    steady(v)
    m' = (minf - m)/mtau
    h' = (hinf - h)/htau
    n' = (ninf - n)/ntau
}

UNITSOFF

: Fill minf..ntau for membrane potential vm (mV) at the current temperature.
: Each gate relaxes to a/(a + b) with time constant 1/(phi*(a + b)).
PROCEDURE steady(vm (mV)) {
    LOCAL phi, a, b
    phi = 3^((celsius - 6.3)/10)

    a = alpha_m(vm)
    b = beta_m(vm)
    minf = a/(a + b)
    mtau = 1/(phi*(a + b))

    a = alpha_h(vm)
    b = beta_h(vm)
    hinf = a/(a + b)
    htau = 1/(phi*(a + b))

    a = alpha_n(vm)
    b = beta_n(vm)
    ninf = a/(a + b)
    ntau = 1/(phi*(a + b))
}

: opening and closing rates at 6.3 degC, in 1/ms, for vm in mV
FUNCTION alpha_m(vm) {
    alpha_m = 0.1*vtrap(-(vm + 40), 10)
}

FUNCTION beta_m(vm) {
    beta_m = 4*exp(-(vm + 65)/18)
}

FUNCTION alpha_h(vm) {
    alpha_h = 0.07*exp(-(vm + 65)/20)
}

FUNCTION beta_h(vm) {
    beta_h = 1/(exp(-(vm + 35)/10) + 1)
}

FUNCTION alpha_n(vm) {
    alpha_n = 0.01*vtrap(-(vm + 55), 10)
}

FUNCTION beta_n(vm) {
    beta_n = 0.125*exp(-(vm + 65)/80)
}

: x/(exp(x/y) - 1), which tends to y as x goes to 0. Close to that removable
: singularity (|x/y| below 1e-6) use its first-order expansion y*(1 - x/(2y)).
FUNCTION vtrap(x, y) {
    LOCAL r
    r = x/y
    if (fabs(r) < 1e-6) {
        vtrap = y*(1 - r/2)
    } else {
        vtrap = x/(exp(r) - 1)
    }
}

UNITSON
