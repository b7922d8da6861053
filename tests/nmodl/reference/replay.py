#!/usr/bin/env python3
"""NEURON 9.0.2 runs of every channel the example e-models use, for the replay test of tests/nmodl.

Each run (RUNS below) is one compartment (L = diam = 10 um, nseg 1) holding one channel, or a
calcium current with the calcium dynamics that read it (and the channels that read cai), plus a
passive leak that only shapes the free voltage. Fixed step dt = 0.025 ms at 34 degC, TABLEs off
(usetable_<suffix> = 0), StochKv3 in deterministic mode. Protocol:
  1. finitialize(V_INIT).
  2. An ideal voltage-clamp staircase: -100 mV to +40 mV in 10 mV steps and back to -100 mV,
     LEVEL_MS per level. Before each step the node voltage is set to the level, and the membrane
     capacitance is made so large (CLAMP_CM) that the step's solve cannot move it: the currents
     and the states of every step see exactly the level (checked below; at 0 mV the solve leaves
     a residue of ~1e-19 mV, which is recorded as it is).
  3. Free dynamics: capacitance back to 1 uF/cm2, no clamp; a current step (IClamp) STIM_DELAY_MS
     after the release for STIM_DUR_MS, then FREE_MS in all.
Recorded: the voltage each step's currents saw and the voltage after each step (every step, run-
length encoded), and at the sampled steps (every STRIDE-th step, every step of the first DENSE
steps after each clamp level change and each stimulus edge, and the initial values as step 0):
every STATE of each channel, every current it declares RANGE that it writes (NONSPECIFIC or ion),
the node's total current of each ion the channels write (unless a single channel writes it and
records it as RANGE: the same number), and the concentrations (with the reversal potential) of
each ion whose concentration a channel writes. "mechanisms" lists the channels in NEURON's
registration order (MechanismType); NEURON calls the concentration writers first in every phase. Floats are written with Python's
repr, which reads back to the same double.

Usage (needs the neuron==9.0.2 wheel and a C compiler for nrnivmodl):
    python replay.py PACKAGES_DIR OUTPUT_DIR
PACKAGES_DIR is the bootstrap's .cache/packages. Each package's files are compiled with nrnivmodl
and run in a separate process. Rerunning gives identical files (compare with diff -r).
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

CELSIUS = 34.0
DT = 0.025
V_INIT = -80.0
LEVELS = [float(v) for v in list(range(-100, 41, 10)) + list(range(30, -101, -10))]
LEVEL_MS = 6.0
CLAMP_CM = 1e20
FREE_MS = 70.0
STIM_DELAY_MS = 10.0
STIM_DUR_MS = 40.0
STIM_NA = 0.02
PAS = {"g_pas": 3e-4, "e_pas": -75.0}
ION_REVERSALS = {"ena": 50.0, "ek": -90.0}
STRIDE = 10
DENSE = 4

SSCX = "emodelrunner/sscx_sample_dir"
SYNPLAS = "emodelrunner/synplas_sample_dir"
THALAMUS = "emodelrunner/thalamus_sample_dir"
BPO = "bluepyopt/l5pc"

# id -> (package or None for NEURON's built-ins, channels to insert and replay, parameters).
# Files of the same name and contents in several packages are run once (see README.md).
RUNS = {
    "sscx_NaTg": (SSCX, ["NaTg"], {"gNaTgbar_NaTg": 0.05}),
    "sscx_Nap_Et2": (SSCX, ["Nap_Et2"], {"gNap_Et2bar_Nap_Et2": 0.002}),
    "sscx_K_Pst": (SSCX, ["K_Pst"], {"gK_Pstbar_K_Pst": 0.01}),
    "sscx_K_Tst": (SSCX, ["K_Tst"], {"gK_Tstbar_K_Tst": 0.01}),
    "sscx_SKv3_1": (SSCX, ["SKv3_1"], {"gSKv3_1bar_SKv3_1": 0.05}),
    "sscx_Ih": (SSCX, ["Ih"], {"gIhbar_Ih": 2e-4}),
    "sscx_Ca_HVA2_CaDynamics_DC0_SK_E2": (
        SSCX,
        ["Ca_HVA2", "CaDynamics_DC0", "SK_E2"],
        {"gCa_HVAbar_Ca_HVA2": 0.002, "gSK_E2bar_SK_E2": 0.01},
    ),
    "sscx_Ca_LVAst_CaDynamics_DC0": (
        SSCX,
        ["Ca_LVAst", "CaDynamics_DC0"],
        {"gCa_LVAstbar_Ca_LVAst": 0.005},
    ),
    "sscx_StochKv3": (SSCX, ["StochKv3"], {"gkbar_StochKv3": 0.0105}),
    "synplas_Ca_HVA2_CaDynamics_DC0": (
        SYNPLAS,
        ["Ca_HVA2", "CaDynamics_DC0"],
        {"gCa_HVAbar_Ca_HVA2": 0.002},
    ),
    "synplas_SKv3_1": (SYNPLAS, ["SKv3_1"], {"gSKv3_1bar_SKv3_1": 0.05}),
    "thalamus_TC_HH": (THALAMUS, ["TC_HH"], {}),
    "thalamus_TC_Nap_Et2": (THALAMUS, ["TC_Nap_Et2"], {"gNap_Et2bar_TC_Nap_Et2": 0.002}),
    "thalamus_TC_iA": (THALAMUS, ["TC_iA"], {}),
    "thalamus_TC_ih_Bud97": (THALAMUS, ["TC_ih_Bud97"], {"gh_max_TC_ih_Bud97": 2e-4}),
    "thalamus_TC_iL_TC_iT_Des98_TC_cad_SK_E2": (
        THALAMUS,
        ["TC_iL", "TC_iT_Des98", "TC_cad", "SK_E2"],
        {"gSK_E2bar_SK_E2": 0.01, "cainf_TC_cad": 1e-4},
    ),
    "bpo_NaTs2_t": (BPO, ["NaTs2_t"], {"gNaTs2_tbar_NaTs2_t": 0.05}),
    "bpo_NaTa_t": (BPO, ["NaTa_t"], {"gNaTa_tbar_NaTa_t": 0.05}),
    "bpo_Nap_Et2": (BPO, ["Nap_Et2"], {"gNap_Et2bar_Nap_Et2": 0.002}),
    "bpo_K_Pst": (BPO, ["K_Pst"], {"gK_Pstbar_K_Pst": 0.01}),
    "bpo_K_Tst": (BPO, ["K_Tst"], {"gK_Tstbar_K_Tst": 0.01}),
    "bpo_SKv3_1": (BPO, ["SKv3_1"], {"gSKv3_1bar_SKv3_1": 0.05}),
    "bpo_Ih": (BPO, ["Ih"], {"gIhbar_Ih": 2e-4}),
    "bpo_Im": (BPO, ["Im"], {"gImbar_Im": 0.002}),
    "bpo_Ca_HVA_CaDynamics_E2_SK_E2": (
        BPO,
        ["Ca_HVA", "CaDynamics_E2", "SK_E2"],
        {"gCa_HVAbar_Ca_HVA": 0.002, "gSK_E2bar_SK_E2": 0.01},
    ),
    "bpo_Ca_LVAst_CaDynamics_E2": (
        BPO,
        ["Ca_LVAst", "CaDynamics_E2"],
        {"gCa_LVAstbar_Ca_LVAst": 0.005},
    ),
    "neuron_hh": (None, ["hh"], {}),
    "neuron_pas": (None, ["pas"], {"g_pas": 3e-4, "e_pas": -75.0}),
}

# What NEURON's own hh and pas write (they have no .mod file to read it from).
BUILTIN_WRITES = {"hh": (["ina", "ik"], ["il"]), "pas": ([], ["i"])}


def neuron_block(path):
    text = open(path, encoding="latin-1").read()
    text = re.sub(r"COMMENT.*?ENDCOMMENT", "", text, flags=re.S)
    text = re.sub(r"VERBATIM.*?ENDVERBATIM", "", text, flags=re.S)
    text = "\n".join(line.split(":")[0] for line in text.splitlines())
    m = re.search(r"\bNEURON\s*\{(.*?)\}", text, flags=re.S)
    return m.group(1)


def names_after(block, keyword):
    """Names of `keyword a, b c` statements up to the next keyword."""
    out = []
    for m in re.finditer(r"\b%s\b((?:\s*,?\s*[a-zA-Z_]\w*)+)" % keyword, block):
        for w in re.findall(r"[a-zA-Z_]\w*", m.group(1)):
            if w.isupper():
                break
            out.append(w)
    return out


def writes_of(path):
    """(ion variables written, nonspecific currents) of a .mod file's NEURON block."""
    block = neuron_block(path)
    written = []
    for stmt in re.findall(r"\bUSEION\b[^\n]*", block):
        m = re.search(r"\bWRITE\b((?:\s*,?\s*[a-zA-Z_]\w*)+)", stmt)
        if m:
            for w in re.findall(r"[a-zA-Z_]\w*", m.group(1)):
                if w.isupper():
                    break
                written.append(w)
    return written, names_after(block, "NONSPECIFIC_CURRENT")


def suffix_of(path):
    return re.search(r"\bSUFFIX\s+(\w+)", neuron_block(path)).group(1)


def package_files(pkgdir, package):
    """SUFFIX -> file name of the package's top-level .mod files."""
    mdir = os.path.join(pkgdir, package, "mechanisms")
    out = {}
    for f in sorted(os.listdir(mdir)):
        if f.endswith(".mod"):
            try:
                out[suffix_of(os.path.join(mdir, f))] = f
            except AttributeError:
                pass  # a point process or artificial cell
    return out


def num(x):
    x = float(x)
    if not math.isfinite(x):
        raise SystemExit("non-finite value recorded: %r" % x)
    return x


def rle(values):
    out = []
    for v in values:
        if out and (out[-1][0] == v or (out[-1][0] is None and v is None)):
            out[-1][1] += 1
        else:
            out.append([v, 1])
    return out


def run_one(run_id, package, channels, params, pkgdir):
    from neuron import h

    if package is None:
        files = {c: None for c in channels}
        writes = {c: BUILTIN_WRITES[c] for c in channels}
    else:
        by_suffix = package_files(pkgdir, package)
        files = {c: by_suffix[c] for c in channels}
        writes = {
            c: writes_of(os.path.join(pkgdir, package, "mechanisms", files[c])) for c in channels
        }

    sec = h.Section(name="soma")
    sec.L = 10.0
    sec.diam = 10.0
    sec.nseg = 1
    sec.cm = 1.0
    inserted = list(channels)
    if "pas" not in channels:
        sec.insert("pas")
    for c in channels:
        sec.insert(c)
    seg = sec(0.5)
    if "pas" not in channels:
        for k, v in PAS.items():
            setattr(seg, k, v)
    for k, v in ION_REVERSALS.items():
        if hasattr(seg, k):
            setattr(seg, k, v)
    for k, v in params.items():
        if not hasattr(seg, k):
            raise SystemExit("%s: no parameter %s" % (run_id, k))
        setattr(seg, k, v)
    for c in channels:
        if hasattr(h, "usetable_" + c):
            setattr(h, "usetable_" + c, 0)
        if hasattr(seg, "deterministic_" + c):
            setattr(seg, "deterministic_" + c, 1)

    # NEURON's order of the channels (the order it calls them within a phase)
    mt = h.MechanismType(0)
    ref = h.ref("")
    order = []
    for i in range(int(mt.count())):
        mt.select(i)
        mt.selected(ref)
        if ref[0] in channels:
            order.append(ref[0])

    series_names = []
    for c in order:
        ms = h.MechanismStandard(c, 3)
        for i in range(int(ms.count())):
            ms.name(ref, i)
            if ref[0].endswith("_" + c):
                series_names.append(ref[0])
        ion_w, nonspecific = writes[c]
        for cur in nonspecific + [w for w in ion_w if w.startswith("i")]:
            if hasattr(seg, cur + "_" + c):
                series_names.append(cur + "_" + c)
    # node totals of ion currents (left out where one channel writes it and records it as RANGE)
    ions = []
    for c in order:
        for w in writes[c][0]:
            if w.startswith("i"):
                writers = [d for d in order if w in writes[d][0]]
                if writers == [c] and w + "_" + c in series_names:
                    continue
                if w not in ions:
                    ions.append(w)
    for c in order:
        for w in writes[c][0]:
            if not w.startswith("i"):
                ion = w[:-1]
                for var in (ion + "i", ion + "o", "e" + ion):
                    if var not in ions:
                        ions.append(var)
    series_names += ions

    stim = h.IClamp(seg)
    level_steps = int(round(LEVEL_MS / DT))
    clamp_steps = level_steps * len(LEVELS)
    free_steps = int(round(FREE_MS / DT))
    stim_on = clamp_steps + int(round(STIM_DELAY_MS / DT))
    stim_off = stim_on + int(round(STIM_DUR_MS / DT))
    stim.delay = stim_on * DT
    stim.dur = (stim_off - stim_on) * DT
    stim.amp = STIM_NA

    h.celsius = CELSIUS
    h.dt = DT
    h.secondorder = 0
    h.CVode().active(0)
    h.finitialize(V_INIT)

    ion_globals = {}
    for ion in ("na", "k", "ca", "ttx"):
        for side in ("i0", "o0"):
            name = "%s%s_%s_ion" % (ion, side, ion)
            if hasattr(h, name):
                ion_globals[name] = num(getattr(h, name))
    ions_after_init = {}
    for ion in ("na", "k", "ca", "ttx"):
        for var in ("e" + ion, ion + "i", ion + "o", "i" + ion):
            if hasattr(seg, var):
                ions_after_init[var] = num(getattr(seg, var))

    total = clamp_steps + free_steps
    changes = {0}
    changes.update(range(1, clamp_steps + 1, level_steps))
    changes.update([clamp_steps + 1, stim_on + 1, stim_off + 1])
    samples = [
        k
        for k in range(total + 1)
        if k % STRIDE == 0 or any(c <= k < c + DENSE for c in changes)
    ]
    sample_set = set(samples)
    series = {n: [] for n in series_names}

    def record():
        for n in series_names:
            series[n].append(num(getattr(seg, n)))

    record()
    v_current, v_state = [], []
    for k in range(1, total + 1):
        if k <= clamp_steps:
            level = LEVELS[(k - 1) // level_steps]
            sec.cm = CLAMP_CM
            seg.v = level
            v_current.append(level)
        else:
            if k == clamp_steps + 1:
                sec.cm = 1.0
            v_current.append(None)
        h.fadvance()
        v = num(seg.v)
        if k <= clamp_steps and level != 0.0 and v != level:
            raise SystemExit("%s: the clamp moved v at step %d: %r" % (run_id, k, v))
        if not -200.0 < v < 200.0:
            raise SystemExit("%s: v ran away at step %d: %r" % (run_id, k, v))
        v_state.append(v)
        if k in sample_set:
            record()

    area_um2 = num(seg.area())
    h.delete_section(sec=sec)
    mechanisms = []
    for c in order:
        mechanisms.append(
            {
                "suffix": c,
                "neuron": "built into NEURON" if files[c] is None else files[c],
                "ours": "builtin:%s" % c
                if files[c] is None or c == "StochKv3"
                else "package:%s" % files[c],
            }
        )
    return {
        "id": run_id,
        "package": package,
        "mechanisms": mechanisms,
        "also_inserted": [] if "pas" in channels else ["pas"],
        "parameters": dict(params, **({} if "pas" in channels else PAS)),
        "settings": {
            "celsius": CELSIUS,
            "dt_ms": DT,
            "v_init_mv": V_INIT,
            "length_um": 10.0,
            "diam_um": 10.0,
            "area_um2": area_um2,
        },
        "ion_globals": ion_globals,
        "ions_after_init": ions_after_init,
        "protocol": {
            "clamp_levels_mv": LEVELS,
            "level_steps": level_steps,
            "clamp_cm_uf_cm2": CLAMP_CM,
            "free_steps": free_steps,
            "stim_on_step": stim_on + 1,
            "stim_off_step": stim_off + 1,
            "stim_na": STIM_NA,
        },
        "steps": total,
        "v_current": rle(v_current),
        "v_state": rle(v_state),
        "samples": samples,
        "series": series,
    }


def worker(libdir, package, pkgdir, out_dir):
    import neuron
    from neuron import h

    if libdir != "-":
        neuron.load_mechanisms(libdir)
    done = []
    for run_id, (pk, channels, params) in RUNS.items():
        if (pk or "-") != package:
            continue
        doc = run_one(run_id, pk, channels, params, pkgdir)
        doc["provenance"] = provenance(neuron.__version__)
        path = os.path.join(out_dir, run_id + ".json")
        with open(path, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
            f.write("\n")
        done.append(run_id)
    print(" ".join(done))


def provenance(version):
    return {
        "generator": "tests/nmodl/reference/replay.py",
        "neuron": version,
        "command": "python tests/nmodl/reference/replay.py .cache/packages "
        "tests/nmodl/reference/replay",
        "licence": "NEURON's output for Blue Brain Project mechanisms (CC-BY-NC-SA 4.0; "
        "see README.md); NEURON's own hh and pas for the neuron_ runs",
    }


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:])
        return
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    pkgdir, out_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    os.makedirs(out_dir, exist_ok=True)
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    packages = []
    for pk, _, _ in RUNS.values():
        if pk not in packages:
            packages.append(pk)
    with tempfile.TemporaryDirectory() as tmp:
        for k, package in enumerate(packages):
            libdir = "-"
            if package is not None:
                libdir = os.path.join(tmp, "p%d" % k)
                os.makedirs(libdir)
                by_suffix = package_files(pkgdir, package)
                needed = sorted(
                    {by_suffix[c] for pk, chans, _ in RUNS.values() if pk == package for c in chans}
                )
                for fname in needed:
                    shutil.copy(os.path.join(pkgdir, package, "mechanisms", fname), libdir)
                subprocess.run(["nrnivmodl", "."], cwd=libdir, env=env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            res = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--worker", libdir,
                 package or "-", pkgdir, out_dir],
                cwd=tmp, check=True, stdout=subprocess.PIPE, env=env,
            )
            print(package or "NEURON built-ins", ":", res.stdout.decode().strip())


if __name__ == "__main__":
    main()
