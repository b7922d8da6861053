#!/usr/bin/env python3
"""NEURON 9.0.2 side of the population benchmark (benches/sweep_vs_neuron.sh runs it).

One job: simulate one EModelRunner SSCx e-model (default cADpyr_L4UPC of the SSCx sample) for
every parameter set of a population CSV, one row after another in one process, with
EModelRunner's own classes, and write one JSON file with each row's spike times and timings.

Per row, in order:
- setup: `create_cell_using_config(config)` (the cell model EModelRunner's builder makes), then,
  inside the protocol's `run(..., isolate=False)`, `cell.freeze(row values)`,
  `cell.instantiate(sim)` (morphology, axon replacement, mechanisms, parameters) and the
  protocol's stimuli and recordings;
- simulate: `NrnSimulator.run` (the protocol's total duration, the package's fixed step dt from
  [Sim], CVODE off);
- teardown: the protocol's and the cell's `destroy`, `unfreeze` (the row ends with no section
  left in NEURON; checked).
Wall time (`time.perf_counter`) and process CPU time (`time.process_time`) are taken for each
phase; `setup_s`/`simulate_s` are wall seconds, `cpu_s` the row's CPU seconds (all phases).
The protocol itself (read from the package's protocol file) is built once, before the rows, as
are the config and NEURON's start-up (`startup_s`, outside the totals); compiling the mechanisms
is `compile_s`, also outside the totals. `total_wall_s`/`total_cpu_s`: from the first row's start
to the last row's end.

As in benches/vs_neuron.py and tests/reference/traces/generate.py, mechanisms are compiled with
`LC_ALL=C nrnivmodl`, every TABLE is switched off (`usetable_<suffix> = 0`) and the soma voltage
is recorded at every step (BluePyOpt's CompRecording at EModelRunner's recording location), so
that row values equal to final.json's give vs_neuron.py's variant 0 exactly. Spikes: upward
crossings of -20 mV, linearly interpolated between steps (vs_neuron.spike_times).

POPULATION_CSV: header `label,<param>,<param>,...` with the keys exactly as final.json writes
them (`gNaTgbar_NaTg.axonal`, `g_pas.all`, `constant.distribution_decay`, ...), one parameter set
per row; every free parameter of the e-model must appear, no other column. Values outside the
parameter file's bounds are refused, as BluePyOpt refuses them (`--ignore-bounds` to allow).

Usage:
    population_neuron.py PACKAGE_DIR POPULATION_CSV OUT_JSON [--protocol Step_150]
                         [--emodel cADpyr_L4UPC] [--config config/config_singlestep.ini]
    population_neuron.py --write-packages PACKAGE_DIR POPULATION_CSV DEST [--emodel ...]
        copies PACKAGE_DIR to DEST/row_<k> for each row k (0-based, CSV order) with the
        e-model's `params` in final.json replaced by the row's values (every other key of
        final.json kept as it is; values equal to the published ones give the published file
        byte for byte). Nothing else is written under DEST.
"""

import argparse
import configparser
import csv
import importlib.metadata
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vs_neuron import spike_times, tabled_suffixes  # noqa: E402  (same detection, same tables)

FIXED_AMPLITUDE_TYPES = ("StepProtocol", "RampProtocol")


def die(message):
    sys.exit(f"population_neuron.py: {message}")


def read_population(path):
    """[(label, {key: float})] in CSV order, and the keys in column order."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    rows = [r for r in rows if r and any(cell.strip() for cell in r)]
    if not rows:
        die(f"{path}: empty")
    header = [h.strip() for h in rows[0]]
    if header[0] != "label":
        die(f"{path}: the first column must be `label`, not {header[0]!r}")
    keys = header[1:]
    if len(set(keys)) != len(keys):
        die(f"{path}: repeated column in the header")
    population = []
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            die(f"{path}:{n}: {len(row)} fields, the header has {len(header)}")
        try:
            values = {k: float(v) for k, v in zip(keys, row[1:])}
        except ValueError as e:
            die(f"{path}:{n}: {e}")
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            die(f"{path}:{n}: non-finite value for {bad}")
        population.append((row[0].strip(), values))
    if not population:
        die(f"{path}: no rows")
    labels = [label for label, _ in population]
    if len(set(labels)) != len(labels):
        die(f"{path}: repeated labels")
    return population, keys


def plain_config(package, config_rel):
    """The package's .ini read as EModelRunner reads it (ConfigParser, basic interpolation)."""
    config = configparser.ConfigParser()
    if not config.read(package / config_rel, encoding="utf-8"):
        die(f"cannot read {package / config_rel}")
    return config


def choose_config(package, protocol, emodel, config_rel=None):
    """The config to run `protocol` from: the one given, else config/config_singlestep.ini, else
    the first config/*.ini (byte order) of an sscx package without synapses whose protocol file
    has `protocol` with a fixed amplitude (StepProtocol / RampProtocol)."""
    if config_rel is not None:
        candidates = [Path(config_rel)]
    else:
        others = sorted(p.relative_to(package) for p in (package / "config").glob("*.ini"))
        first = Path("config/config_singlestep.ini")
        candidates = ([first] if first in others else []) + [p for p in others if p != first]
    refused = []
    for rel in candidates:
        config = plain_config(package, rel)
        try:
            kind = config.get("Package", "type")
            synapses = config.getboolean("Synapses", "add_synapses")
            prot_path = config.get("Paths", "prot_path")
            cell_emodel = config.get("Cell", "emodel")
        except (configparser.Error, ValueError) as e:
            refused.append(f"{rel}: {e}")
            continue
        if kind != "sscx" or synapses:
            refused.append(f"{rel}: type {kind}, add_synapses {synapses}")
            continue
        if cell_emodel != emodel:
            refused.append(f"{rel}: e-model {cell_emodel}")
            continue
        prots = json.loads((package / prot_path).read_text(encoding="utf-8"))
        if protocol not in prots:
            refused.append(f"{rel}: no {protocol} in {prot_path}")
            continue
        if prots[protocol].get("type") not in FIXED_AMPLITUDE_TYPES:
            refused.append(f"{rel}: {protocol} is a {prots[protocol].get('type')}")
            continue
        return rel
    die(f"no config of {package} runs {protocol} of {emodel} with a fixed amplitude:\n  "
        + "\n  ".join(refused))


def final_json_paths(package, emodel):
    """Every distinct final.json (params_path) the package's configs for `emodel` point to."""
    out = []
    for ini in sorted((package / "config").glob("*.ini")):
        config = plain_config(package, ini.relative_to(package))
        try:
            if config.get("Cell", "emodel") != emodel:
                continue
            path = (package / config.get("Paths", "params_path")).resolve()
        except configparser.Error:
            continue
        if path not in out:
            out.append(path)
    if not out:
        die(f"no config of {package} names e-model {emodel}")
    return out


def write_packages(package, population_csv, dest, emodel):
    package = package.resolve()
    population, keys = read_population(population_csv)
    finals = final_json_paths(package, emodel)
    for final in finals:
        if not final.is_relative_to(package):
            die(f"{final} is outside the package; cannot rewrite it in a copy")
    dest.mkdir(parents=True, exist_ok=True)
    for k, (label, values) in enumerate(population):
        target = dest / f"row_{k}"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(package, target, symlinks=True)
        for final in finals:
            copy = target / final.relative_to(package)
            data = json.loads(copy.read_text(encoding="utf-8"))
            if emodel not in data:
                die(f"{final}: no e-model {emodel} (keys {list(data)})")
            old = data[emodel]["params"]
            if set(old) != set(keys):
                die(f"{population_csv}: columns differ from {final}'s params: "
                    f"missing {sorted(set(old) - set(keys))}, unknown {sorted(set(keys) - set(old))}")
            # same key order as the published file; json writes floats with repr (round trip)
            data[emodel]["params"] = {name: values[name] for name in old}
            ending = "\n" if copy.read_bytes().endswith(b"\n") else ""
            copy.unlink()  # a symlink copied as a link must not be written through
            # indent 4 and the original's ending: row values equal to the published ones give
            # the published file byte for byte (the SSCx sample's final.json)
            copy.write_text(json.dumps(data, indent=4) + ending, encoding="utf-8")
        print(f"population_neuron.py: {target}: row {k} ({label})")
    print(f"population_neuron.py: wrote {len(population)} packages under {dest}")


def compile_mechanisms(package, work):
    (work / "mod").mkdir()
    for mod in sorted(package.glob("mechanisms/*.mod")):
        shutil.copy2(mod, work / "mod" / mod.name)
    nrnivmodl = Path(sys.executable).parent / "nrnivmodl"
    if not nrnivmodl.exists():
        nrnivmodl = shutil.which("nrnivmodl") or die("nrnivmodl not found")
    result = subprocess.run([str(nrnivmodl), "mod"], cwd=work, env=dict(os.environ, LC_ALL="C"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout)
        die(f"nrnivmodl failed in {work}")


def run_population(args):
    package = args.package.resolve()
    population_csv = args.population.resolve()
    out_path = args.out.resolve()
    population, keys = read_population(population_csv)
    config_rel = choose_config(package, args.protocol, args.emodel, args.config)
    # the columns checked before compiling (again below against EModelRunner's own reading)
    published = plain_config(package, config_rel).get("Paths", "params_path")
    published = json.loads((package / published).read_text(encoding="utf-8"))
    if args.emodel not in published:
        die(f"{package}: final.json has no e-model {args.emodel} (keys {list(published)})")
    published = published[args.emodel]["params"]
    if set(published) != set(keys):
        die(f"{population_csv}: columns must be the free parameters of {args.emodel} "
            f"(final.json's params): missing {sorted(set(published) - set(keys))}, "
            f"unknown {sorted(set(keys) - set(published))}")

    work = Path(tempfile.mkdtemp(prefix="population-neuron-"))
    try:
        t0 = time.perf_counter()
        compile_mechanisms(package, work)
        compile_s = time.perf_counter() - t0

        startup_t0 = time.perf_counter()
        # EModelRunner's configs use paths relative to the package; no x86_64 folder there, so
        # importing neuron loads nothing by itself
        os.chdir(package)
        import neuron
        from neuron import h

        if not neuron.load_mechanisms(str(work)):
            die("could not load the compiled mechanisms")
        no_tables = tabled_suffixes(package / "mechanisms")
        for suffix in no_tables:
            setattr(h, f"usetable_{suffix}", 0)

        from bluepyopt import ephys
        from bluepyopt.ephys.recordings import CompRecording
        from emodelrunner.create_cells import create_cell_using_config
        from emodelrunner.load import get_release_params, load_config
        from emodelrunner.protocols.create_protocols import ProtocolBuilder

        config = load_config(config_path=str(config_rel))
        release = get_release_params(config)
        missing = sorted(set(release) - set(keys))
        unknown = sorted(set(keys) - set(release))
        if missing or unknown:
            die(f"{population_csv}: columns must be the free parameters of {args.emodel} "
                f"(final.json's params): missing {missing}, unknown {unknown}")
        if config.getboolean("Sim", "cvode_active"):
            print("population_neuron.py: note: the config asks for CVODE; running fixed-step",
                  file=sys.stderr)
        dt = config.getfloat("Sim", "dt")
        sim = ephys.simulators.NrnSimulator(dt=dt, cvode_active=False)
        # the protocols do not depend on the cell without synapses: built once
        builder = ProtocolBuilder.using_sscx_protocols(False, config.prot_args(), None)
        chosen = [p for p in builder.get_ephys_protocols().protocols if p.name == args.protocol]
        if len(chosen) != 1:
            die(f"{config_rel}: {len(chosen)} protocols named {args.protocol}")
        protocol = chosen[0]
        protocol.cvode_active = False
        # one sample per step (EModelRunner's own recording samples every 0.1 ms)
        protocol.recordings = [CompRecording(name=r.name, location=r.location, variable=r.variable)
                               for r in protocol.recordings]
        soma_keys = [r.name for r in protocol.recordings if r.name.endswith(f"{args.protocol}.soma.v")]
        if len(soma_keys) != 1:
            die(f"{args.protocol}: no single soma.v recording among "
                f"{[r.name for r in protocol.recordings]}")
        soma_key = soma_keys[0]
        tstop = float(protocol.total_duration)
        steps = round(tstop / dt)
        startup_s = time.perf_counter() - startup_t0

        # phase marks inside protocol.run: sim.run is the boundary between setup and teardown
        marks = {}
        compartments = [0]
        plain_run = sim.run

        def timed_run(*a, **k):
            compartments[0] = sum(sec.nseg for sec in h.allsec())
            marks["run0"] = (time.perf_counter(), time.process_time())
            try:
                return plain_run(*a, **k)
            finally:
                marks["run1"] = (time.perf_counter(), time.process_time())

        sim.run = timed_run

        out_rows = []
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for label, values in population:
            marks.clear()
            r0 = (time.perf_counter(), time.process_time())
            cell = create_cell_using_config(config)
            if args.ignore_bounds:
                for param in cell.params.values():
                    param.bounds = None
            # in the published order (final.json's), as EModelRunner passes release params
            param_values = {name: values[name] for name in release}
            try:
                responses = protocol.run(cell_model=cell, param_values=param_values, sim=sim,
                                         isolate=False)
            except Exception as e:  # BluePyOpt wraps the cause (bounds, NEURON errors)
                cause = e.__cause__ or e
                die(f"row {label!r}: {type(cause).__name__}: {cause}")
            r1 = (time.perf_counter(), time.process_time())
            del cell
            left = sum(1 for _ in h.allsec())
            if left:
                die(f"row {label!r}: {left} sections left in NEURON after destroy")
            if "run0" not in marks or "run1" not in marks:
                die(f"row {label!r}: the protocol did not run the simulator")
            resp = responses.get(soma_key)
            if resp is None:
                die(f"row {label!r}: the simulation failed (BluePyOpt returned no response)")
            volt = [float(v) for v in resp["voltage"]]
            tvec = [float(t) for t in resp["time"]]
            if len(volt) != steps + 1 or abs(tvec[-1] - steps * dt) > 1e-6:
                die(f"row {label!r}: {len(volt)} samples to t = {tvec[-1]}, expected one per "
                    f"step ({steps + 1} to {steps * dt})")
            run0, run1 = marks["run0"], marks["run1"]
            out_rows.append({
                "label": label,
                "spike_times_ms": spike_times(volt, dt),
                "setup_s": run0[0] - r0[0],
                "simulate_s": run1[0] - run0[0],
                "cpu_s": r1[1] - r0[1],
                # beyond the brief's fields: the rest of the split
                "teardown_s": r1[0] - run1[0],
                "wall_s": r1[0] - r0[0],
                "setup_cpu_s": run0[1] - r0[1],
                "simulate_cpu_s": run1[1] - run0[1],
                "teardown_cpu_s": r1[1] - run1[1],
            })
        total_wall_s = time.perf_counter() - wall0
        total_cpu_s = time.process_time() - cpu0

        result = {
            "neuron_version": neuron.__version__,
            "emodelrunner_version": importlib.metadata.version("EModelRunner"),
            "protocol": args.protocol,
            "rows": out_rows,
            "total_wall_s": total_wall_s,
            "total_cpu_s": total_cpu_s,
            "compile_s": compile_s,
            # provenance and settings
            "emodel": args.emodel,
            "package": str(package),
            "population_csv": str(population_csv),
            "config": str(config_rel),
            "dt_ms": dt,
            "tstop_ms": tstop,
            "steps": steps,
            "compartments": compartments[0],
            "usetable_off": no_tables,
            "threshold_mv": -20.0,
            "startup_s": startup_s,
            "simulate_wall_s": sum(r["simulate_s"] for r in out_rows),
            "simulate_cpu_s": sum(r["simulate_cpu_s"] for r in out_rows),
            "bluepyopt_version": importlib.metadata.version("bluepyopt"),
            "python": sys.version.split()[0],
        }
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"population_neuron.py: {len(out_rows)} rows of {args.emodel} {args.protocol} "
              f"({compartments[0]} compartments, {steps} steps): {total_wall_s:.3f} s wall, "
              f"{total_cpu_s:.3f} s CPU (compile {compile_s:.1f} s apart) -> {out_path}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write-packages", action="store_true",
                    help="write one package per row under the third argument instead")
    ap.add_argument("package", type=Path, help="the package directory (e.g. sscx_sample_dir)")
    ap.add_argument("population", type=Path, help="population CSV")
    ap.add_argument("out", type=Path, help="output JSON (or DEST with --write-packages)")
    ap.add_argument("--protocol", default="Step_150")
    ap.add_argument("--emodel", default="cADpyr_L4UPC")
    ap.add_argument("--config", help="the package's .ini to use, relative to the package "
                    "(default: config_singlestep.ini, else the first that has the protocol)")
    ap.add_argument("--ignore-bounds", action="store_true",
                    help="accept values outside the parameter file's bounds")
    args = ap.parse_args()
    if args.write_packages:
        write_packages(args.package, args.population, args.out.resolve(), args.emodel)
    else:
        run_population(args)


if __name__ == "__main__":
    main()
