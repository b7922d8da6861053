#!/usr/bin/env python3
"""NEURON 9.0.2 side of the emsweep-vs-NEURON benchmark (benches/vs_neuron.sh runs it).

One job: simulate the SSCx sample cell (cADpyr_L4UPC, EModelRunner's own classes) on its Step_150
protocol (300 ms, dt 0.025 ms, fixed step) for N conductance variants, one after another in one
process on one core, time it, and write one JSON file with the timings and every variant's spike
times (soma, -20 mV upward crossings, linearly interpolated between steps).

Variants: variant 0 is the published model; variant k > 0 multiplies every conductance parameter
(`g*bar_<suffix>` and `g_pas`) of mechanism <suffix> by a factor in [0.8, 1.2] drawn from
`variant_factor(k, suffix)` (splitmix64 of k and the FNV-1a hash of the suffix), the same function
benches/vs_neuron.rs uses. As in tests/reference/traces/generate.py, TABLEs are switched off
(`usetable_<suffix> = 0`) and mechanisms are compiled with LC_ALL=C, so that NEURON and emsweep
do the same arithmetic.

Usage: vs_neuron.py PACKAGE_DIR OUT_JSON [--variants N]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THRESHOLD_MV = -20.0
MASK = (1 << 64) - 1


def fnv1a(text):
    h = 0xCBF29CE484222325
    for byte in text.encode():
        h = ((h ^ byte) * 0x100000001B3) & MASK
    return h


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def variant_factor(variant, suffix):
    if variant == 0:
        return 1.0
    x = splitmix64(((variant << 32) ^ fnv1a(suffix)) & MASK)
    return 0.8 + 0.4 * ((x >> 11) / float(1 << 53))


CONDUCTANCE = re.compile(r"^(?:g\w*bar_(\w+)|g_(pas))\.")


def scaled(params, variant):
    out = {}
    for name, value in params.items():
        m = CONDUCTANCE.match(name)
        if m:
            value = value * variant_factor(variant, m.group(1) or m.group(2))
        out[name] = value
    return out


def spike_times(volt, dt):
    out = []
    for i in range(1, len(volt)):
        if volt[i - 1] < THRESHOLD_MV <= volt[i]:
            out.append((i - 1 + (THRESHOLD_MV - volt[i - 1]) / (volt[i] - volt[i - 1])) * dt)
    return out


def tabled_suffixes(mod_dir):
    out = []
    for mod in sorted(mod_dir.glob("*.mod")):
        text = mod.read_bytes().decode("latin-1")
        text = re.sub(r"(?ms)^\s*COMMENT\b.*?^\s*ENDCOMMENT\b", "", text)
        code = "\n".join(line.split(":", 1)[0] for line in text.splitlines())
        suffix = re.search(r"\bSUFFIX\s+(\w+)", code)
        if suffix and re.search(r"\bTABLE\b", code):
            out.append(suffix.group(1))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("package", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--variants", type=int, default=64)
    args = ap.parse_args()
    package = args.package.resolve()
    out_path = args.out.resolve()

    work = Path(tempfile.mkdtemp(prefix="vs-neuron-"))
    try:
        (work / "mod").mkdir()
        for mod in sorted(package.glob("mechanisms/*.mod")):
            shutil.copy2(mod, work / "mod" / mod.name)
        nrnivmodl = Path(sys.executable).parent / "nrnivmodl"
        subprocess.run([str(nrnivmodl), "mod"], cwd=work, env=dict(os.environ, LC_ALL="C"),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        os.chdir(package)  # EModelRunner's configs use paths relative to the package

        import neuron
        from neuron import h

        if not neuron.load_mechanisms(str(work)):
            sys.exit("vs_neuron.py: could not load the compiled mechanisms")
        for suffix in tabled_suffixes(package / "mechanisms"):
            setattr(h, f"usetable_{suffix}", 0)

        from bluepyopt import ephys
        from bluepyopt.ephys.recordings import CompRecording
        from emodelrunner.create_cells import create_cell_using_config
        from emodelrunner.load import get_release_params, load_config
        from emodelrunner.protocols.create_protocols import ProtocolBuilder

        config = load_config(config_path="config/config_singlestep.ini")
        cell = create_cell_using_config(config)
        release = get_release_params(config)
        # the optimisation's bounds do not apply to benchmark variants (a factor may leave them)
        for param in cell.params.values():
            param.bounds = None
        dt = config.getfloat("Sim", "dt")
        sim = ephys.simulators.NrnSimulator(dt=dt, cvode_active=False)
        builder = ProtocolBuilder.using_sscx_protocols(False, config.prot_args(), cell)
        protocol = [p for p in builder.get_ephys_protocols().protocols if p.name == "Step_150"][0]
        # one sample per step (EModelRunner's own recording samples every 0.1 ms)
        protocol.recordings = [CompRecording(name=r.name, location=r.location, variable=r.variable)
                               for r in protocol.recordings]

        sim_seconds = [0.0]
        sim_cpu_seconds = [0.0]
        compartments = [0]
        plain_run = sim.run

        def timed_run(*a, **k):
            compartments[0] = sum(sec.nseg for sec in h.allsec())
            t0, c0 = time.perf_counter(), time.process_time()
            result = plain_run(*a, **k)
            sim_seconds[0] += time.perf_counter() - t0
            sim_cpu_seconds[0] += time.process_time() - c0
            return result

        sim.run = timed_run
        spikes = []
        start = time.perf_counter()
        for variant in range(args.variants):
            responses = protocol.run(cell_model=cell, param_values=scaled(release, variant),
                                     sim=sim, isolate=False)
            key = [k for k in responses if k.endswith("Step_150.soma.v")][0]
            spikes.append(spike_times(list(responses[key]["voltage"]), dt))
        total = time.perf_counter() - start
        result = {
            "neuron": neuron.__version__,
            "variants": args.variants,
            "tstop_ms": float(protocol.total_duration),
            "dt_ms": dt,
            "compartments": compartments[0],
            "wall_total_s": total,
            "wall_sim_s": sim_seconds[0],
            "cpu_sim_s": sim_cpu_seconds[0],
            "spike_times_ms": spikes,
        }
        out_path.write_text(json.dumps(result))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
