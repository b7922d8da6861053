TITLE pas: passive leak current

COMMENT
A linear leak, i = g*(v - e), with no ion attached: the current is
non-specific. Part of the emsweep example packages (Apache-2.0). It behaves
like the pas mechanism built into NEURON, which NEURON will not let a .mod
file redefine, so under NEURON use the built-in pas instead.
ENDCOMMENT

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
    g = 0.001 (S/cm2) <0,1e9>  : leak conductance
    e = -70 (mV)               : leak reversal potential
}

ASSIGNED {
    v (mV)
    i (mA/cm2)
}

BREAKPOINT {
    i = g*(v - e)
}
