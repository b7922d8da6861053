#!/usr/bin/env python3
"""Reference values of density mechanisms as NEURON 9.0.2 computes them, for tests/nmodl.

For every .mod file listed in FILES, in a one-segment soma (L = diam = 10 um) holding that
mechanism alone, at 34 degC with dt = 0.025 ms and the fixed-step integrator: finitialize(v_init),
then three fadvance() steps. After initialisation and after each step it records the mechanism's
RANGE variables (parameters, assigned, states), the values of the ions it uses at the node, and
the membrane potential before and after the step. TABLEs are switched off (usetable_<suffix> = 0),
as emsweep evaluates the tabulated functions exactly.

Usage (needs the neuron==9.0.2 wheel and a C++ compiler for nrnivmodl):
    python neuron_kernels.py PACKAGES_DIR OUTPUT.json
where PACKAGES_DIR is the bootstrap's .cache/packages. Each package is compiled and run in its own
process (packages hold different files with the same SUFFIX).
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

FILES = {
    "emodelrunner/sscx_sample_dir": [
        "CaDynamics_DC0.mod", "Ca_HVA2.mod", "Ca_LVAst.mod", "Ih.mod", "K_Pst.mod", "K_Tst.mod",
        "KdShu2007.mod", "NaTg.mod", "Nap_Et2.mod", "SK_E2.mod", "SKv3_1.mod",
    ],
    "emodelrunner/thalamus_sample_dir": [
        "Ca_HVA.mod", "TC_HH.mod", "TC_ITGHK.mod", "TC_ITGHK_Ama14.mod", "TC_ITGHK_Des98.mod",
        "TC_Ih.mod", "TC_Ih_Bud97.mod", "TC_KCa_bk.mod", "TC_Kir2_2.mod", "TC_Kleak.mod",
        "TC_NaP.mod", "TC_Naleak.mod", "TC_Nap_Et2.mod", "TC_cadecay.mod", "TC_iA.mod",
        "TC_iA_old.mod", "TC_iL.mod", "TC_ic.mod", "TC_ih2.mod", "TC_kahp.mod",
        "TC_kir_Con15.mod", "ican.mod",
    ],
    "emodelrunner/synplas_sample_dir": ["TTXDynamicsSwitch.mod", "KdShu2007.mod", "SKv3_1.mod"],
    "bluepyemodel/L5PC": ["NaTg2.mod", "SK_E2.mod"],
    "bluepyopt/l5pc": [
        "CaDynamics_E2.mod", "Ca_HVA.mod", "Im.mod", "NaTa_t.mod", "NaTs2_t.mod", "Nap_Et2.mod",
        "SK_E2.mod", "SKv3_1.mod", "K_Pst.mod",
    ],
}
V_INITS = [-65.0, -30.0]
STEPS = 3
CELSIUS = 34.0
DT = 0.025


def finite(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def suffix_and_ions(path):
    text = open(path, encoding="latin-1").read()
    text = re.sub(r"COMMENT.*?ENDCOMMENT", "", text, flags=re.S)
    text = "\n".join(line.split(":")[0] for line in text.splitlines())
    suffix = re.search(r"\bSUFFIX\s+(\w+)", text).group(1)
    ions = sorted(set(re.findall(r"\bUSEION\s+(\w+)", text)))
    return suffix, ions


def worker(libdir, package, pkgdir):
    from neuron import h
    import neuron

    neuron.load_mechanisms(libdir)
    h.celsius = CELSIUS
    h.dt = DT
    cases = []
    for fname in FILES[package]:
        path = os.path.join(pkgdir, package, "mechanisms", fname)
        suffix, ions = suffix_and_ions(path)
        names = []
        for vartype in (1, 2, 3):
            ms = h.MechanismStandard(suffix, vartype)
            for i in range(int(ms.count())):
                ref = h.ref("")
                ms.name(ref, i)
                names.append(ref[0])
        for v_init in V_INITS:
            sec = h.Section(name="soma")
            sec.L = 10.0
            sec.diam = 10.0
            sec.nseg = 1
            sec.insert(suffix)
            if hasattr(h, "usetable_" + suffix):
                setattr(h, "usetable_" + suffix, 0)
            seg = sec(0.5)

            def snapshot():
                values = {}
                for full in names:
                    short = full[: -(len(suffix) + 1)] if full.endswith("_" + suffix) else full
                    values[short] = finite(getattr(seg, full))
                ion_values = {}
                for ion in ions:
                    for var in ("e" + ion, ion + "i", ion + "o", "i" + ion):
                        if hasattr(seg, var):
                            ion_values[var] = finite(getattr(seg, var))
                return values, ion_values

            h.finitialize(v_init)
            values, ion_values = snapshot()
            record = {
                "package": package,
                "file": fname,
                "suffix": suffix,
                "v_init": v_init,
                "diam": seg.diam,
                "area": seg.area(),
                "init": {"v": finite(seg.v), "values": values, "ions": ion_values},
                "steps": [],
            }
            for _ in range(STEPS):
                v_before = seg.v
                h.fadvance()
                values, ion_values = snapshot()
                record["steps"].append(
                    {
                        "v_before": finite(v_before),
                        "v_after": finite(seg.v),
                        "values": values,
                        "ions": ion_values,
                    }
                )
            cases.append(record)
            h.delete_section(sec=sec)
    json.dump(cases, sys.stdout)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    pkgdir, out = os.path.abspath(sys.argv[1]), sys.argv[2]
    bindir = os.path.dirname(sys.executable)
    import neuron

    all_cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, package in enumerate(FILES):
            build = os.path.join(tmp, "p%d" % k)
            os.makedirs(build)
            for fname in FILES[package]:
                shutil.copy(os.path.join(pkgdir, package, "mechanisms", fname), build)
            env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
            subprocess.run(["nrnivmodl", "."], cwd=build, env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            res = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--worker", build, package, pkgdir],
                cwd=tmp, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )
            all_cases.extend(json.loads(res.stdout))
    doc = {
        "provenance": {
            "generator": "tests/nmodl/reference/neuron_kernels.py",
            "neuron": neuron.__version__,
            "command": "python tests/nmodl/reference/neuron_kernels.py .cache/packages "
            "tests/nmodl/reference/neuron_kernels.json",
            "setup": "one-segment soma L = diam = 10 um, one mechanism, celsius %g, dt %g, "
            "finitialize(v_init) then %d fadvance(), usetable off" % (CELSIUS, DT, STEPS),
        },
        "cases": all_cases,
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
