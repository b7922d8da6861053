#!/usr/bin/env python3
"""Reference voltage traces of whole e-models, simulated by NEURON 9.0.2 through the packages' tools.

One job: build each real e-model cell and its protocols with the tool's own code (EModelRunner for
its sample packages, exactly as `emodelrunner.run` does), run them with NEURON's fixed step, and
store the soma voltage at every step, bit for bit (IEEE-754 doubles), with the stimuli NEURON was
given. SSCx: the protocols with fixed amplitudes. Thalamus: the whole main protocol (holding and
threshold searches included), keeping two of its threshold-based protocols and the currents the
searches found. Synplas: the pair simulation's two cells (fixhp) under a step clamp of ours.

Differences from a plain `emodelrunner.run`, each needed to compare like with like:
- `usetable_<suffix> = 0` for every compiled mechanism that has a TABLE: NEURON then evaluates the
  tabulated functions exactly, as emsweep does;
- `nrnivmodl` runs with `LC_ALL=C`: its `*.mod` glob then lists the files in byte order, which fixes
  the order in which NEURON registers the mechanisms (and so the order of each phase of a step);
- the soma voltage is recorded at every step (BluePyOpt's `CompRecording`) instead of every
  0.1 ms (EModelRunner's `RecordingCustom`), at the same location;
- multiprotocols.json is run without its synapses (`add_synapses = False`); its `Synapses_Netstim`
  protocol is left out, the other protocols do not stimulate synapses.

Output per case: `<case>.json` (provenance, settings, and per trace its protocol, stimuli, sample
count and offset) and `<case>.f64` (every trace, concatenated, little-endian float64).

Each case runs in its own Python process (packages ship different .mod files under the same
SUFFIX; NEURON loads one per process).

Usage (from the repository root; the packages come from scripts/bootstrap.sh):
    .cache/venv/bin/python tests/reference/traces/generate.py            # write all cases
    .cache/venv/bin/python tests/reference/traces/generate.py --check    # regenerate, compare
"""

import argparse
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
GENERATOR = "tests/reference/traces/generate.py"
COMMAND = "tests/reference/setup_venv.sh && .cache/venv/bin/python tests/reference/traces/generate.py"
LICENCE = (
    "CC-BY-NC-SA 4.0: derived from Blue Brain Project / EPFL sample packages "
    "(EModelRunner 1.2.5 and bluepyemodel 1.0.50 wheel examples/); see "
    "tests/reference/traces/README.md"
)
# Spike detection used only for the summary written beside the traces (the tests recompute it).
SPIKE_THRESHOLD_MV = -20.0

# name -> package and runs. Each run: an EModelRunner config, the protocols to run (None: all of
# the config's protocol file), and whether synapses are added (None: as the config says).
CASES = {
    "sscx_cADpyr_L4UPC": {
        "tool": "emodelrunner",
        "package": "emodelrunner/sscx_sample_dir",
        "runs": [
            # Step_150 here is the same protocol as config_singlestep.ini's only one.
            {"config": "config/config_allsteps.ini", "protocols": None, "add_synapses": None},
            {"config": "config/config_factsheets.ini", "protocols": None, "add_synapses": None},
            {
                "config": "config/config_multiprotocols.ini",
                "protocols": ["Ramp", "MultiStepProtocolNoHolding"],
                "add_synapses": False,
            },
        ],
        "builder": (
            "emodelrunner.load.load_config(config); create_cell_using_config(config); "
            "get_release_params(config); NrnSimulator(dt, cvode_active) from [Sim]; "
            "ProtocolBuilder.using_sscx_protocols(add_synapses, config.prot_args(), cell); "
            "protocol.run(cell_model=cell, param_values=release_params, sim=sim, "
            "isolate=False) for each chosen protocol (as emodelrunner.run does)"
        ),
    },
    "bluepyemodel_simplecell": {
        "tool": "bluepyemodel",
        "package": "bluepyemodel/simplecell",
        "emodel": "simplecell",
        # the metadata the package's notebook (simplecell.ipynb) gives its pipeline
        "etype": "cADpyr",
        "species": "rat",
        "brain_region": "SSCX",
        "dt": 0.025,
        "builder": (
            "bluepyemodel LocalAccessPoint(emodel='simplecell', etype='cADpyr', species='rat', "
            "brain_region='SSCX', recipes_path='config/recipes.json', final_path='final.json'); "
            "evaluator = get_evaluator_from_access_point(ap); for each protocol of "
            "evaluator.fitness_protocols['main_protocol'].protocols (sorted by name), with "
            "protocol.cvode_active = False: protocol.run(cell_model=evaluator.cell_model, "
            "param_values=ap.get_emodels()[0].parameters, sim=NrnSimulator(dt=0.025, "
            "cvode_active=False), isolate=False)"
        ),
    },
}
CASES["thalamus_dNAD_ltb"] = {
    "tool": "emodelrunner_thalamus",
    "package": "emodelrunner/thalamus_sample_dir",
    "config": "config/config_recipe_prots_short.ini",
    # the main protocol's own threshold-based protocols stored (each 100 ms)
    "keep": ["Step_200", "Step_200_hyp"],
    "builder": (
        "emodelrunner.load.load_config(config); create_cell_using_config(config); "
        "get_release_params(config); NrnSimulator(dt, cvode_active) from [Sim]; "
        "ProtocolBuilder.using_thalamus_protocols(add_synapses, config.prot_args(), cell)"
        ".get_ephys_protocols().run(cell_model=cell, param_values=release_params, sim=sim, "
        "isolate=False) (as emodelrunner.run does: RMP, Rin/holding-current searches, "
        "threshold searches, then the other protocols at the currents found)"
    ),
}
CASES["synplas_pair"] = {
    "tool": "emodelrunner_synplas",
    "package": "emodelrunner/synplas_sample_dir",
    "config": "config/config_1Hz_10ms.ini",
    "dt": 0.025,
    # our own stimulus (synplas configs have no current-clamp protocol): one step at soma[0](0.5)
    "step": {"delay_ms": 20.0, "duration_ms": 250.0, "amp_na": 0.5, "total_duration_ms": 300.0},
    "builder": (
        "postcell: emodelrunner.create_cells.create_cell(unoptimized_params_path, emodel, "
        "add_synapses=False, create_morphology(config.synplas_morph_args()), gid, fixhp=True, "
        "v_init, celsius) (get_postcell of run_pairsim without its synapses); precell: "
        "get_precell(config, fixhp=True); params get_release_params(config[, precell=True]); "
        "a bluepyopt SweepProtocol with one NrnSquarePulse at soma[0](0.5) and a CompRecording "
        "there, run by NrnSimulator(dt=0.025, cvode_active=False), isolate=False"
    ),
}

# NEURON's own mechanisms with a TABLE (hh.mod's rates)
BUILTIN_TABLED = ["hh"]


# --------------------------------------------------------------------------------------------
# Parent process: compile mechanisms, run one child per case, write or compare the files.
# --------------------------------------------------------------------------------------------


def venv_tool(name):
    """A tool installed next to this interpreter (nrnivmodl of the neuron wheel)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        sys.exit(f"generate.py: {name} not found next to {sys.executable} nor on PATH")
    return found


def compile_mechanisms(mod_dir, work_dir):
    """Compile the top-level .mod files of mod_dir (never subfolders) in work_dir, in byte order.

    Returns None when the package has no mechanisms folder (simplecell uses NEURON's own hh)."""
    if not mod_dir.is_dir():
        return None
    mods = sorted(p for p in mod_dir.glob("*.mod") if p.is_file())
    src = work_dir / "mod"
    src.mkdir(parents=True)
    for mod in mods:
        shutil.copy2(mod, src / mod.name)
    env = dict(os.environ, LC_ALL="C")
    result = subprocess.run(
        [venv_tool("nrnivmodl"), "mod"],
        cwd=work_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout)
        sys.exit(f"generate.py: nrnivmodl failed in {work_dir}")
    return work_dir


def tabled_suffixes(mod_dir):
    """SUFFIX of every top-level .mod file with a TABLE statement outside comments."""
    out = []
    if not mod_dir.is_dir():
        return out
    for mod in sorted(p for p in mod_dir.glob("*.mod") if p.is_file()):
        text = mod.read_bytes().decode("latin-1")
        text = re.sub(r"(?ms)^\s*COMMENT\b.*?^\s*ENDCOMMENT\b", "", text)
        code = "\n".join(line.split(":", 1)[0] for line in text.splitlines())
        suffix = re.search(r"\bSUFFIX\s+(\w+)", code)
        if suffix and re.search(r"\bTABLE\b", code):
            out.append(suffix.group(1))
    return out


def run_case(name, packages, mech_dir, raw_file, header_file):
    scratch = tempfile.mkdtemp(prefix="refgen-cwd-")
    try:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name,
               "--packages", str(packages),
               "--child-raw", str(raw_file), "--child-header", str(header_file)]
        if mech_dir is not None:
            cmd += ["--child-mechanisms", str(mech_dir)]
        # cwd is an empty folder: NEURON auto-loads ./x86_64 on import, which must not happen.
        subprocess.run(cmd, cwd=scratch, check=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def generate_all(packages, out_dir, names):
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="refgen-mech-") as tmp:
        for name in names:
            package = CASES[name]["package"]
            work = Path(tmp) / name
            work.mkdir(parents=True)
            mech_dir = compile_mechanisms(packages / package / "mechanisms", work)
            raw, header = out_dir / f"{name}.f64", out_dir / f"{name}.json"
            run_case(name, packages, mech_dir, raw, header)
            print(f"generate.py: wrote {header} and {raw} ({raw.stat().st_size} bytes)")


def check_all(packages, names):
    """Regenerate into a temporary folder; the raw traces must be identical byte for byte and the
    headers equal except for the Python patch version (a warning)."""
    failed = False
    with tempfile.TemporaryDirectory(prefix="refgen-check-") as tmp:
        generate_all(packages, Path(tmp), names)
        for name in names:
            old_raw, new_raw = HERE / f"{name}.f64", Path(tmp) / f"{name}.f64"
            if not old_raw.exists() or old_raw.read_bytes() != new_raw.read_bytes():
                print(f"check: {name}: raw traces DIFFER (or are missing)")
                failed = True
            old = json.loads((HERE / f"{name}.json").read_text())
            new = json.loads((Path(tmp) / f"{name}.json").read_text())
            old_py = old["provenance"]["versions"].pop("python", None)
            new_py = new["provenance"]["versions"].pop("python", None)
            if old_py != new_py:
                print(f"check: {name}: warning: python {new_py} here, {old_py} in the committed file")
            if old != new:
                print(f"check: {name}: header DIFFERS")
                failed = True
            elif not failed:
                print(f"check: {name}: identical")
    return 1 if failed else 0


# --------------------------------------------------------------------------------------------
# Child process: build the cell and protocols with EModelRunner, run, write.
# --------------------------------------------------------------------------------------------


def stimulus_record(stim):
    """What one BluePyOpt stimulus gives NEURON (one IClamp each, in instantiation order)."""
    from bluepyopt.ephys.stimuli import NrnRampPulse, NrnSquarePulse

    if isinstance(stim, NrnSquarePulse):
        return {
            "kind": "square",
            "delay_ms": float(stim.step_delay),
            "duration_ms": float(stim.step_duration),
            "amp_na": float(stim.step_amplitude),
            "total_duration_ms": float(stim.total_duration),
            "location": "soma[0](0.5)",
        }
    if isinstance(stim, NrnRampPulse):
        return {
            "kind": "ramp",
            "delay_ms": float(stim.ramp_delay),
            "duration_ms": float(stim.ramp_duration),
            "amp_start_na": float(stim.ramp_amplitude_start),
            "amp_end_na": float(stim.ramp_amplitude_end),
            "total_duration_ms": float(stim.total_duration),
            "location": "soma[0](0.5)",
            # BluePyOpt plays this envelope into IClamp.amp (Vector.play, continuous)
            "envelope": [[float(t), float(a)] for t, a in stim.envelope()],
        }
    played = getattr(stim, "played_snapshot", None)
    if played is not None:
        # a BluePyEModel e-code: one IClamp whose amp is played from two vectors
        return {
            "kind": "played",
            "ecode": type(stim).__name__,
            "iclamp_del_ms": played["del"],
            "iclamp_dur_ms": played["dur"],
            "points": played["points"],
            "delay_ms": float(stim.delay),
            "duration_ms": float(stim.duration),
            "amp_na": float(stim.amplitude),
            "holding_na": float(stim.holding_current or 0.0),
            "total_duration_ms": float(stim.total_duration),
            "location": "soma[0](0.5)",
        }
    raise TypeError(f"unsupported stimulus {type(stim).__name__}")


def snapshot_played_stimuli(protocol):
    """Keep what each played stimulus gave NEURON (its IClamp and vectors), which its destroy()
    drops at the end of the run."""
    for stim in protocol.stimuli:
        if not hasattr(stim, "current_vec"):
            continue
        original = stim.destroy

        def destroy(sim=None, stim=stim, original=original):
            stim.played_snapshot = {
                "del": float(getattr(stim.iclamp, "del")),
                "dur": float(stim.iclamp.dur),
                "points": [[float(t), float(i)]
                           for t, i in zip(stim.time_vec, stim.current_vec)],
            }
            original(sim)

        stim.destroy = destroy


def every_step_recordings(protocol):
    """Replace EModelRunner's recordings (one sample per 0.1 ms) by BluePyOpt's plain
    CompRecording at the same place (one sample per step)."""
    from bluepyopt.ephys.recordings import CompRecording

    protocol.recordings = [
        CompRecording(name=r.name, location=r.location, variable=r.variable)
        for r in protocol.recordings
    ]


def spike_times(time, volt, threshold):
    """Upward crossings of threshold, linearly interpolated (summary only)."""
    out = []
    for i in range(1, len(volt)):
        if volt[i - 1] < threshold <= volt[i]:
            f = (threshold - volt[i - 1]) / (volt[i] - volt[i - 1])
            out.append(time[i - 1] + f * (time[i] - time[i - 1]))
    return out


def versions():
    import neuron

    return {
        "neuron": neuron.__version__,
        "EModelRunner": importlib.metadata.version("EModelRunner"),
        "bluepyopt": importlib.metadata.version("bluepyopt"),
        "bluepyemodel": importlib.metadata.version("bluepyemodel"),
        "numpy": importlib.metadata.version("numpy"),
        "python": platform.python_version(),
    }


def emodelrunner_runs(case):
    """(protocol, run description, cell, params, sim) for each protocol of an EModelRunner case;
    cwd must be the package root."""
    from bluepyopt import ephys
    from emodelrunner.configuration.configparser import PackageType
    from emodelrunner.create_cells import create_cell_using_config
    from emodelrunner.load import get_release_params, load_config
    from emodelrunner.protocols.create_protocols import ProtocolBuilder

    for run in case["runs"]:
        config = load_config(config_path=run["config"])
        if config.package_type != PackageType.sscx:
            raise ValueError("only SSCx packages are handled here")
        cell = create_cell_using_config(config)
        release_params = get_release_params(config)
        dt = config.getfloat("Sim", "dt")
        cvode_active = config.getboolean("Sim", "cvode_active")
        if cvode_active:
            raise ValueError(f"{run['config']}: the references are fixed-step runs")
        sim = ephys.simulators.NrnSimulator(dt=dt, cvode_active=cvode_active)
        add_synapses = run["add_synapses"]
        if add_synapses is None:
            add_synapses = config.getboolean("Synapses", "add_synapses")
        builder = ProtocolBuilder.using_sscx_protocols(add_synapses, config.prot_args(), cell)
        sequence = builder.get_ephys_protocols()
        chosen = [p for p in sequence.protocols
                  if run["protocols"] is None or p.name in run["protocols"]]
        if run["protocols"] is not None and len(chosen) != len(run["protocols"]):
            raise RuntimeError(f"{run['config']}: protocols {run['protocols']} not all found")
        for protocol in chosen:
            every_step_recordings(protocol)
            described = {"config": run["config"], "add_synapses": bool(add_synapses)}
            yield protocol, described, cell, release_params, sim, config.get("Cell", "emodel")


def bluepyemodel_runs(case):
    """The same for a BluePyEModel case: its evaluator's protocols, run with the fixed step."""
    from bluepyopt import ephys
    from bluepyemodel.access_point.local import LocalAccessPoint
    from bluepyemodel.evaluation.evaluation import get_evaluator_from_access_point

    access_point = LocalAccessPoint(
        emodel=case["emodel"],
        emodel_dir=".",
        etype=case["etype"],
        species=case["species"],
        brain_region=case["brain_region"],
        recipes_path="config/recipes.json",
        final_path="final.json",
    )
    evaluator = get_evaluator_from_access_point(access_point)
    emodels = access_point.get_emodels()
    if len(emodels) != 1:
        raise RuntimeError(f"expected one optimised e-model in final.json, found {len(emodels)}")
    sim = ephys.simulators.NrnSimulator(dt=case["dt"], cvode_active=False)
    runner = evaluator.fitness_protocols["main_protocol"]
    for name in sorted(runner.protocols):
        protocol = runner.protocols[name]
        protocol.cvode_active = False
        described = {"config": "config/recipes.json", "add_synapses": False,
                     "evaluator_cvode_active": bool(evaluator.sim.cvode_active)}
        yield (protocol, described, evaluator.cell_model, emodels[0].parameters, sim,
               case["emodel"])


def thalamus_runs(case):
    """The thalamus package's main protocol run as `emodelrunner.run` runs it; the soma voltage of
    the chosen threshold-based protocols at every step, with the currents the searches found."""
    from bluepyopt import ephys
    from emodelrunner.configuration.configparser import PackageType
    from emodelrunner.create_cells import create_cell_using_config
    from emodelrunner.load import get_release_params, load_config
    from emodelrunner.protocols.create_protocols import ProtocolBuilder

    config = load_config(config_path=case["config"])
    if config.package_type != PackageType.thalamus:
        raise ValueError("not a thalamus package")
    cell = create_cell_using_config(config)
    release_params = get_release_params(config)
    dt = config.getfloat("Sim", "dt")
    if config.getboolean("Sim", "cvode_active"):
        raise ValueError("the references are fixed-step runs")
    sim = ephys.simulators.NrnSimulator(dt=dt, cvode_active=False)
    add_synapses = config.getboolean("Synapses", "add_synapses")
    builder = ProtocolBuilder.using_thalamus_protocols(add_synapses, config.prot_args(), cell)
    sequence = builder.get_ephys_protocols()
    mains = [p for p in sequence.protocols if p.name == "Main"]
    if len(mains) != 1:
        raise RuntimeError(f"no Main protocol among {[p.name for p in sequence.protocols]}")
    main = mains[0]
    kept = {p.name: p for p in main.other_protocols if p.name in case["keep"]}
    if sorted(kept) != sorted(case["keep"]):
        raise RuntimeError(f"protocols {case['keep']} not all among Main's other protocols")
    for protocol in kept.values():
        every_step_recordings(protocol)
    # The main protocol runs each of its protocols in a forked process (isolate defaults to
    # True there), which inherits the tables switched off above.
    responses = sequence.run(cell_model=cell, param_values=release_params, sim=sim,
                             isolate=False)
    # NEURON's settings in those processes: the cell's globals once instantiated, the
    # simulator's step (NrnSimulator.run sets dt and CVODE).
    from neuron import h

    cell.freeze(release_params)
    cell.instantiate(sim=sim)
    settings = {"celsius": float(h.celsius), "v_init": float(h.v_init), "dt": float(sim.dt),
                "secondorder": int(h.secondorder), "cvode_active": int(sim.cvode_active)}
    cell.destroy(sim=sim)
    cell.unfreeze(release_params.keys())
    currents = {
        "holding_current_dep_na": float(cell.holding_current_dep),
        "holding_current_hyp_na": float(cell.holding_current_hyp),
        "threshold_current_dep_na": float(cell.threshold_current_dep),
        "threshold_current_hyp_na": float(cell.threshold_current_hyp),
    }
    for name in case["keep"]:
        protocol = kept[name]
        described = {"config": case["config"], "add_synapses": bool(add_synapses),
                     "search": currents,
                     "thresh_perc": float(protocol.thresh_perc),
                     "uses_hyp_currents": name.endswith("_hyp"),
                     "settings": settings}
        yield protocol, described, responses, sim, config.get("Cell", "emodel")


def synplas_runs(case):
    """The synplas pair's two cells, built as run_pairsim builds them (fixhp), each under our
    step current clamp."""
    from bluepyopt import ephys
    from emodelrunner.configuration.configparser import PackageType
    from emodelrunner.create_cells import create_cell, get_precell
    from emodelrunner.load import get_release_params, load_config
    from emodelrunner.morphology import create_morphology

    config = load_config(config_path=case["config"])
    if config.package_type != PackageType.synplas:
        raise ValueError("not a synplas package")
    post = create_cell(
        config.get("Paths", "unoptimized_params_path"),
        config.get("Cell", "emodel"),
        False,
        create_morphology(config.synplas_morph_args(), config.package_type),
        config.getint("Cell", "gid"),
        fixhp=True,
        v_init=config.getfloat("Cell", "v_init"),
        celsius=config.getfloat("Cell", "celsius"),
    )
    pre = get_precell(config, fixhp=True)
    sim = ephys.simulators.NrnSimulator(dt=case["dt"], cvode_active=False)
    step = case["step"]
    for role, cell, emodel, params in [
        ("postcell", post, config.get("Cell", "emodel"), get_release_params(config)),
        ("precell", pre, config.get("Cell", "precell_emodel"),
         get_release_params(config, precell=True)),
    ]:
        soma = ephys.locations.NrnSeclistCompLocation(
            name="soma", seclist_name="somatic", sec_index=0, comp_x=0.5)
        stim = ephys.stimuli.NrnSquarePulse(
            step_amplitude=step["amp_na"], step_delay=step["delay_ms"],
            step_duration=step["duration_ms"], total_duration=step["total_duration_ms"],
            location=soma)
        rec = ephys.recordings.CompRecording(
            name=f"{emodel}.Step.soma.v", location=soma, variable="v")
        protocol = ephys.protocols.SweepProtocol(
            name=f"{emodel}.Step", stimuli=[stim], recordings=[rec], cvode_active=False)
        described = {"config": case["config"], "add_synapses": False, "cell": role,
                     "emodel": emodel, "fixhp": True}
        responses = protocol.run(cell_model=cell, param_values=params, sim=sim, isolate=False)
        yield protocol, described, responses, sim, emodel


def child_main(name, packages, mech_dir, raw_file, header_file):
    import numpy as np
    import neuron
    from neuron import h

    case = CASES[name]
    if mech_dir is not None and not neuron.load_mechanisms(str(mech_dir)):
        raise RuntimeError(f"could not load mechanisms compiled in {mech_dir}")
    package_dir = packages / case["package"]
    no_tables = BUILTIN_TABLED + tabled_suffixes(package_dir / "mechanisms")
    for suffix in no_tables:
        setattr(h, f"usetable_{suffix}", 0)
    os.chdir(package_dir)

    def run_each(runs):
        for protocol, described, cell, params, sim, emodel in runs:
            snapshot_played_stimuli(protocol)
            responses = protocol.run(cell_model=cell, param_values=params, sim=sim,
                                     isolate=False)
            yield protocol, described, responses, sim, emodel

    runs = {
        "emodelrunner": lambda: run_each(emodelrunner_runs(case)),
        "bluepyemodel": lambda: run_each(bluepyemodel_runs(case)),
        "emodelrunner_thalamus": lambda: thalamus_runs(case),
        "emodelrunner_synplas": lambda: synplas_runs(case),
    }[case["tool"]]()
    traces, chunks, offset = [], [], 0
    settings, emodel = None, None
    emodels = []
    for protocol, described, responses, sim, emodel in runs:
        dt = sim.dt
        emodels.append(emodel)
        keys = [k for k in responses if k.endswith(f"{protocol.name}.soma.v")]
        if len(keys) != 1:
            raise RuntimeError(f"{protocol.name}: soma recording not found in {sorted(responses)}")
        key = keys[0]
        resp = responses[key]
        time = np.asarray(resp["time"], dtype=np.float64)
        volt = np.asarray(resp["voltage"], dtype=np.float64)
        n = len(volt)
        drift = float(np.max(np.abs(time - np.arange(n) * dt)))
        # t accumulates two half steps per step, so it drifts from i*dt by rounding
        if len(time) != n or drift > 1e-6:
            raise RuntimeError(f"{key}: not one sample per fixed step (drift {drift})")
        run_settings = described.pop("settings", None) or {
            "celsius": float(h.celsius), "v_init": float(h.v_init),
            "dt": float(h.dt), "secondorder": int(h.secondorder),
            "cvode_active": int(h.cvode.active())}
        if settings is None:
            settings = run_settings
        elif settings != run_settings:
            raise RuntimeError(f"settings changed between runs: {settings} vs {run_settings}")
        chunks.append(volt.astype("<f8").tobytes())
        traces.append({
            "protocol": protocol.name,
            **described,
            "recording": key,
            "location": "soma[0](0.5)",
            "tstop_ms": float(protocol.total_duration),
            "samples": n,
            "offset": offset,
            "stimuli": [stimulus_record(s) for s in protocol.stimuli],
            "spikes_at_minus20mV_ms": spike_times(time, volt, SPIKE_THRESHOLD_MV),
            "t_last_ms": float(time[-1]),
            "v_first_mv": float(volt[0]),
            "v_last_mv": float(volt[-1]),
        })
        offset += n
    raw = b"".join(chunks)
    Path(raw_file).write_bytes(raw)
    header = {
        "provenance": {
            "generator": GENERATOR,
            "command": COMMAND,
            "versions": versions(),
            "package": case["package"],
            "builder": case["builder"],
            "usetable_off": no_tables,
            "nrnivmodl": (None if mech_dir is None else
                          "LC_ALL=C nrnivmodl mod (the package's top-level .mod files)"),
            "licence": LICENCE,
        },
        "format": "little-endian IEEE-754 float64, traces concatenated; trace k holds "
                  "`samples` values from element `offset`: v [mV] at t = i*dt, i = 0..samples-1",
        "raw_file": Path(raw_file).name,
        "raw_sha256": hashlib.sha256(raw).hexdigest(),
        "emodel": emodel if len(set(emodels)) == 1 else sorted(set(emodels)),
        "settings": settings,
        "traces": traces,
    }
    Path(header_file).write_text(json.dumps(header, indent=1, allow_nan=False) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=Path, default=REPO / ".cache" / "packages",
                        help="unpacked packages (scripts/bootstrap.sh); default <repo>/.cache/packages")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: beside this script)")
    parser.add_argument("--case", action="append", choices=sorted(CASES),
                        help="only this case (repeatable); default all")
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temporary folder and compare with the committed files")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-mechanisms", help=argparse.SUPPRESS)
    parser.add_argument("--child-raw", help=argparse.SUPPRESS)
    parser.add_argument("--child-header", help=argparse.SUPPRESS)
    args = parser.parse_args()
    packages = args.packages.resolve()

    if args.child:
        child_main(args.child, packages, args.child_mechanisms, args.child_raw, args.child_header)
        return 0
    if not packages.is_dir():
        sys.exit(f"generate.py: no packages at {packages}; run scripts/bootstrap.sh first")
    names = args.case or list(CASES)
    if args.check:
        return check_all(packages, names)
    generate_all(packages, args.out.resolve(), names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
