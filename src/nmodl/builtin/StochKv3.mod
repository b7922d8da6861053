TITLE StochKv3, deterministic mode: emsweep's built-in equivalent

COMMENT
emsweep's own description (Apache-2.0) of what the StochKv3 channel of the
Blue Brain Project packages computes when BluePyOpt inserts it with
deterministic_StochKv3 = 1, which it does unless a package asks for
stochastic channels. The packages' file hides that mode behind VERBATIM
blocks and a BBCOREPOINTER to a random stream (its stochastic mode), which
emsweep does not compile; this file is used in its place.

The channel has two gates, l (opening with depolarisation) and n (closing
with depolarisation: an inactivation despite its name). Each
segment holds a whole number of channels,
    N = floor(eta*area + 0.5),  eta = gkbar/gamma  [channels/um2],
with gamma the single-channel conductance. The open channels are
N*n*l (deterministic: not rounded), each conducting gamma, so the
conductance density is
    gk = N*n*l*gamma/area
which differs from gkbar*n*l by the rounding of N: a small segment loses
or gains up to half a channel. The rates are taken 10 mV to the right of
the membrane potential (a liquid junction correction). The gate values
after each step are those of NEURON's cnexp update, and the open count is
refreshed from them in the state update, so the current of a step uses the
count left by the previous step, as in the original.

The stochastic mode (deterministic = 0: binomial transitions drawn from a
random stream) is not provided, and neither is the parameter
`deterministic`. The original tabulates the rates (TABLE ... DEPEND dt);
they are computed exactly here, which matches NEURON run with
usetable_StochKv3 = 0.
ENDCOMMENT

NEURON {
    SUFFIX StochKv3
    USEION k READ ek WRITE ik
    RANGE gkbar, gamma, gk, ik, eta, N
    RANGE N0L0, N0L1, N1L0, N1L1
    RANGE ninf, ntau, linf, ltau, an, bn, al, bl
    THREADSAFE
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (pS) = (picosiemens)
    (S) = (siemens)
    (um) = (micron)
}

PARAMETER {
    gkbar = 0.01 (S/cm2)   : density of the open-channel conductance
    gamma = 50 (pS)        : conductance of one channel
}

ASSIGNED {
    v (mV)
    area (um2)
    ek (mV)
    ik (mA/cm2)
    gk (S/cm2)
    eta (1/um2)            : channels per um2
    N                      : channels in the segment (a whole number)
    scale_dens (pS/um2)    : conductance one open channel adds per um2
    N0L0                   : channels with n closed, l closed
    N0L1                   : n closed, l open
    N1L0                   : n open, l closed
    N1L1                   : n open, l open (conducting)
    ninf
    ntau (ms)
    linf
    ltau (ms)
    an (/ms)
    bn (/ms)
    al (/ms)
    bl (/ms)
}

STATE {
    n   : closes with depolarisation
    l   : opens with depolarisation
}

INITIAL {
    eta = (gkbar/gamma)*(10000)
    kinetics(v)
    n = ninf
    l = linf
    scale_dens = gamma/area
    N = floor(eta*area + 0.5)
    populations()
}

BREAKPOINT {
    SOLVE gates METHOD cnexp
    gk = (nonnegative(N1L1)*scale_dens)*(0.0001)
    ik = gk*(v - ek)
}

DERIVATIVE gates {
    kinetics(v)
    l' = al - (al + bl)*l
    n' = an - (an + bn)*n
    populations()
}

: split the N channels over the four gate combinations
PROCEDURE populations() {
    N1L1 = n*l*N
    N1L0 = n*(1 - l)*N
    N0L1 = (1 - n)*l*N
    N0L0 = N - N1L1 - N1L0 - N0L1
}

: rate constants at membrane potential vm, shifted by +10 mV
UNITSOFF
PROCEDURE kinetics(vm (mV)) {
    LOCAL vs
    vs = vm + 10
    linf = 1/(1 + exp((-30 - vs)/10))
    ltau = 0.346*exp(-vs/18.272) + 2.09
    ninf = 1/(1 + exp(0.0878*(vs + 55.1)))
    ntau = 2.1*exp(-vs/21.2) + 4.627
    al = linf/ltau
    bl = 1/ltau - al
    an = ninf/ntau
    bn = 1/ntau - an
}
UNITSON

: x where x >= 0, else 0
FUNCTION nonnegative(x) {
    if (x < 0) {
        nonnegative = 0
    } else {
        nonnegative = x
    }
}
