#!/usr/bin/env python3
"""Reference electrode currents, recorded from NEURON.

One job: build the current clamps of every protocol type of the real packages (and of emsweep's
examples) with the tools' own classes -- EModelRunner's protocol readers, BluePyOpt's stimuli,
BluePyEModel's e-codes -- set their amplitudes the way the tools do, place them on a passive single
compartment, run NEURON 9.0.2 with the fixed step (dt = 0.025 ms) and record `IClamp.i` of every
clamp at every step. The recorded sum over clamps is written, run-length encoded, per protocol.

What is recorded at sample k >= 1 is the current NEURON injected during step k (it evaluates the
clamps at t + dt/2, after playing vectors into their amplitudes at that time); sample 0 is the
value left by finitialize (IClamp's INITIAL sets i = 0).

Amplitudes that the tools take from a search (threshold and holding currents) are set to fixed
values written into each case (`currents`), through the tools' own code paths:
- EModelRunner threshold protocols: `protocol.run(cell_model)` with a stand-in cell model that
  carries the currents (the simulation call underneath is intercepted, the stimuli captured);
- EModelRunner's Rin protocol: `holding_stimulus.step_amplitude = holding` (as the main protocol's
  `create_rin_protocol` does);
- BluePyEModel threshold-based protocols: `protocol.set_dependencies({bpo_holding_current: ..,
  bpo_threshold_current: ..})`, as the evaluator does with the search protocols' responses.

Usage (from the repository root; the packages come from scripts/bootstrap.sh):
    .cache/venv/bin/python tests/reference/stimulus/generate.py            # write all files
    .cache/venv/bin/python tests/reference/stimulus/generate.py --check    # regenerate, compare
"""

import argparse
import copy
import importlib.metadata
import json
import platform
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
GENERATOR = "tests/reference/stimulus/generate.py"
COMMAND = "tests/reference/setup_venv.sh && .cache/venv/bin/python tests/reference/stimulus/generate.py"
LICENCE = (
    "CC-BY-NC-SA 4.0 where a case derives from the Blue Brain Project / EPFL sample packages "
    "(EModelRunner 1.2.5, bluepyemodel 1.0.50, bluepyopt 1.14.26 examples); the synthetic and "
    "examples/ cases are emsweep's own (Apache-2.0); see tests/reference/stimulus/README.md"
)
DT = 0.025
# sample indices at which the recorded t is kept (to check the clock), besides the last one
T_CHECK_EVERY = 4000

# Currents standing in for the searches [nA]. SSCx: what NEURON 9.0.2 finds for the sample
# (spec/PACKAGES.md); the others are made-up values of the right size.
SSCX_CURRENTS = {"holding": -0.0580188, "threshold": 0.1199864}
THALAMUS_CURRENTS = {
    "dep": {"holding": -0.0257312, "threshold": 0.0821733},
    "hyp": {"holding": -0.2134512, "threshold": 0.1567234},
}
BPEM_CURRENTS = {
    # L5PC: the experimental means of its bpo_holding_current / bpo_threshold_current features
    "L5PC": {"holding": -0.02340625027533282, "threshold": 0.179062495008111},
    "simplecell": {"holding": -0.0251, "threshold": 0.2113},
    "two_compartment_swc": {"holding": -0.0113, "threshold": 0.1337},
}

# EModelRunner-style protocol files: (output, package dir below the packages folder or the repo,
# protocol file relative to it, reader)
EMR_FILES = [
    ("emodelrunner_sscx", "packages", "emodelrunner/sscx_sample_dir", [
        "config/protocols/singlestep.json",
        "config/protocols/allsteps.json",
        "config/protocols/RmpRiTau.json",
        "config/protocols/multiprotocols.json",
        "config/protocols/cADpyr_L4PC.json",
    ], "sscx"),
    ("emodelrunner_thalamus", "packages", "emodelrunner/thalamus_sample_dir", [
        "config/protocols/dNAD_ltb_short.json",
    ], "thalamus"),
    ("examples_ball_and_stick_hh", "repo", "examples/ball_and_stick_hh", [
        "config/protocols/ballstick_hh.json",
    ], "sscx"),
    ("bluepyopt_l5pc", "packages", "bluepyopt/l5pc", [
        "config/protocols.json",
    ], "bluepyopt"),
]

# BluePyEModel feature files holding a "protocols" list.
BPEM_FILES = [
    ("bluepyemodel_L5PC", "packages", "bluepyemodel/L5PC", "config/features/L5PC.json", "L5PC"),
    ("bluepyemodel_simplecell", "packages", "bluepyemodel/simplecell",
     "config/features/simplecell.json", "simplecell"),
    ("examples_two_compartment_swc", "repo", "examples/two_compartment_swc",
     "config/features/two_compartment.json", "two_compartment_swc"),
]

# E-codes no real package uses, with made-up numbers (short runs). The protocol name decides the
# e-code, as in BluePyEModel; `stimulus` is passed to the e-code class as is (None = JSON null).
SYN_HOLD = -0.0417
SYN_THRESH = 0.1931
SYNTHETIC_ECODES = [
    ("IDrest_default_perc", "ThresholdBasedProtocol",
     {"delay": 20.0, "duration": 100.0, "totduration": 150.0, "amp": 0.5}),
    ("IDrest_null_perc", "ThresholdBasedProtocol",
     {"delay": 20.0, "duration": 100.0, "totduration": 150.0, "amp": 0.5, "thresh_perc": None}),
    ("IDrest_fixed_noholding", "Protocol",
     {"delay": 20.0125, "duration": 100.0, "totduration": 150.0, "amp": 0.3}),
    ("FirePattern_120", "ThresholdBasedProtocol",
     {"delay": 25.0, "duration": 150.0, "totduration": 200.0, "thresh_perc": 120.0}),
    ("sAHP_rel", "ThresholdBasedProtocol",
     {"delay": 10.0, "tmid": 40.0, "tmid2": 65.0, "toff": 110.0, "totduration": 130.0,
      "thresh_perc": 250.0, "long_amp_rel": 40.0}),
    ("IDhyperpol_fixed", "Protocol",
     {"delay": 10.0, "tmid": 40.0, "tmid2": 65.0, "toff": 110.0, "totduration": 130.0,
      "amp": -0.2, "long_amp": 0.05, "holding_current": -0.01}),
    ("HyperDepol_thr", "ThresholdBasedProtocol",
     {"delay": 15.0, "tmid": 60.0, "toff": 95.0, "totduration": 120.0,
      "thresh_perc": -80.0, "depol_amp": 0.35}),
    ("DeHyperpol_thr", "ThresholdBasedProtocol",
     {"delay": 15.0, "tmid": 60.0, "toff": 95.0, "totduration": 120.0,
      "thresh_perc": -70.0, "amp_rel": 150.0}),
    ("PosCheops_thr", "ThresholdBasedProtocol",
     {"delay": 10.0, "t1": 50.0, "t2": 60.0, "t3": 80.0, "t4": 90.0, "toff": 103.3,
      "totduration": 120.0, "thresh_perc": 300.0, "amp": 0.3, "holding_current": 0.0}),
    ("NegCheops_fixed", "Protocol",
     {"delay": 10.0, "t1": 50.0, "t2": 60.0, "t3": 80.0, "t4": 90.0, "toff": 103.3,
      "totduration": 120.0, "amp": -0.25, "holding_current": 0.0}),
    ("Ramp_thr", "ThresholdBasedProtocol",
     {"delay": 20.0, "duration": 80.0, "totduration": 130.0, "thresh_perc": 150.0}),
    ("APThresh_fixed", "Protocol",
     {"delay": 20.0, "duration": 80.0, "totduration": 130.0, "amp": 0.4,
      "holding_current": -0.03}),
    ("highfreq_comb", "Protocol",
     {"delay": 20.0, "duration": 0.5, "inter_delay": 2.6, "n_steps": 7, "amp": 1.5,
      "totduration": 60.0}),
    ("SpikeRecMultiSpikes_thr", "ThresholdBasedProtocol",
     {"delay": 10.0, "n_spikes": 3, "spike_duration": 3.5, "delta": 2.3, "totduration": 60.0,
      "thresh_perc": 180.0}),
    ("ThresholdAddition_1", "ThresholdBasedProtocol",
     {"delay": 20.0, "duration": 50.0, "totduration": 90.0, "amp": 0.02, "thresh_perc": None}),
    ("SineSpec_thr", "ThresholdBasedProtocol",
     {"delay": 10.0, "duration": 120.0, "totduration": 150.0, "thresh_perc": 60.0}),
    ("bposquarepulse_1", "Protocol",
     {"delay": 20.0, "duration": 60.0, "totduration": 100.0, "amp": 0.2,
      "holding_current": -0.05}),
    ("bposquarepulse_noholding", "Protocol",
     {"delay": 20.0, "duration": 60.0, "totduration": 100.0, "amp": 0.2}),
]

# EModelRunner / BluePyOpt style clamps with edges where floating-point time matters: delays and
# ends that fall on or next to a step's midpoint t + dt/2, and a ramp starting there.
SYNTHETIC_PULSES = [
    ("edges_steps", {"type": "StepProtocol", "stimuli": {
        "step": [
            {"delay": 10.0125, "amp": 0.3, "duration": 0.05, "totduration": 30.0},
            {"delay": 0.1125, "amp": 0.7, "duration": 0.1, "totduration": 30.0},
            {"delay": 20.0, "amp": -0.2, "duration": 0.0125, "totduration": 30.0},
            {"delay": 25.00625, "amp": 0.11, "duration": 1.0, "totduration": 30.0},
        ],
        "holding": {"delay": 0.0125, "amp": -0.015, "duration": 29.9625, "totduration": 30.0}}}),
    ("edges_ramp", {"type": "RampProtocol", "stimuli": {
        "ramp": {"ramp_delay": 5.0125, "ramp_amplitude_start": 0.05, "ramp_amplitude_end": 0.4,
                 "ramp_duration": 2.5, "totduration": 12.0},
        "holding": {"delay": 0.0, "amp": -0.02, "duration": 12.0, "totduration": 12.0}}}),
    ("edges_untyped", {"stimuli": [
        {"delay": 1.0125, "amp": 0.4, "duration": 3.3, "totduration": 8.0},
        {"delay": 0.0, "amp": -0.01, "duration": 7.9875, "totduration": 8.0}]}),
]


# --------------------------------------------------------------------------------------------
# NEURON side
# --------------------------------------------------------------------------------------------

def neuron_setup():
    from neuron import h

    h.load_file("stdrun.hoc")
    h(
        """
begintemplate StimulusReferenceCell
public soma, somatic, all
create soma[1]
objref somatic, all
proc init() {
    soma[0] { L = 20 diam = 20 insert pas }
    somatic = new SectionList()
    soma[0] somatic.append()
    all = new SectionList()
    soma[0] all.append()
}
endtemplate StimulusReferenceCell
"""
    )
    return h


def record_stimuli(h, sim, stimuli, tstop):
    """Instantiate `stimuli` on a fresh passive compartment, run, return (t, summed i, count)."""
    cell = h.StimulusReferenceCell()
    before = h.List("IClamp").count()
    if before != 0:
        raise RuntimeError(f"{before} IClamps left over from an earlier case")
    for stim in stimuli:
        stim.instantiate(sim=sim, icell=cell)
    clamps = h.List("IClamp")
    recs = []
    for k in range(int(clamps.count())):
        vec = h.Vector()
        vec.record(clamps.o(k)._ref_i)
        recs.append(vec)
    t_vec = h.Vector()
    t_vec.record(h._ref_t)
    sim.run(tstop)
    t = list(t_vec)
    total = [0.0] * len(t)
    for vec in recs:
        values = list(vec)
        if len(values) != len(t):
            raise RuntimeError("a clamp recording has a different length")
        for i, v in enumerate(values):
            total[i] += v
    n_clamps = len(recs)
    for stim in stimuli:
        stim.destroy(sim=sim)
    del recs, t_vec, clamps, cell
    return t, total, n_clamps


def encode(t, total):
    runs = []
    for k, v in enumerate(total):
        if not runs or runs[-1][1] != v:
            runs.append([k, v])
    checks = [[k, t[k]] for k in range(0, len(t), T_CHECK_EVERY)]
    if checks[-1][0] != len(t) - 1:
        checks.append([len(t) - 1, t[-1]])
    return {"n_samples": len(t), "t_checks": checks, "i_runs": runs}


# --------------------------------------------------------------------------------------------
# Tools side: building the stimuli
# --------------------------------------------------------------------------------------------

class StandInCell:
    """What the protocols' run methods read from a cell model: the searched currents."""

    def __init__(self, currents):
        self.mechanisms = []
        if "dep" in currents:
            self.holding_current_dep = currents["dep"]["holding"]
            self.threshold_current_dep = currents["dep"]["threshold"]
            self.holding_current_hyp = currents["hyp"]["holding"]
            self.threshold_current_hyp = currents["hyp"]["threshold"]
        else:
            self.holding_current = currents["holding"]
            self.threshold_current = currents["threshold"]


class Captured(Exception):
    pass


def capture_run(protocol, cell):
    """Run `protocol.run(cell)` up to the point where BluePyOpt would simulate; the protocol's
    own code has set its stimuli's amplitudes by then."""
    from bluepyopt import ephys

    original = ephys.protocols.SweepProtocol.run

    def intercept(self, *args, **kwargs):
        raise Captured()

    ephys.protocols.SweepProtocol.run = intercept
    try:
        protocol.run(cell_model=cell, param_values={}, sim=None)
    except Captured:
        pass
    finally:
        ephys.protocols.SweepProtocol.run = original


def emr_protocols(path, reader):
    """The protocols EModelRunner's reader builds from one protocol file, in file order, with
    the currents each threshold protocol uses (None when it uses none)."""
    from bluepyopt import ephys
    from emodelrunner.locations import SOMA_LOC
    from emodelrunner.protocols import sscx_protocols, thalamus_protocols
    from emodelrunner.protocols.reader import ProtocolParser

    definitions = ProtocolParser.load_protocol_json(path)
    out = []
    for name, definition in definitions.items():
        kind = definition.get("type")
        if reader == "bluepyopt" or kind is None:
            # EModelRunner's reader and BluePyOpt's example build untyped protocols alike
            stimuli = [
                ephys.stimuli.NrnSquarePulse(
                    step_amplitude=s["amp"], step_delay=s["delay"], step_duration=s["duration"],
                    location=SOMA_LOC, total_duration=s["totduration"])
                for s in definition["stimuli"]
            ]
            protocol = ephys.protocols.SweepProtocol(name=name, stimuli=stimuli, recordings=[])
            out.append((name, protocol, None))
            continue
        if kind not in ("StepProtocol", "StepThresholdProtocol", "RampProtocol",
                        "RampThresholdProtocol"):
            continue  # main protocol parts and synaptic protocols: not current clamps of their own
        parser = ProtocolParser()
        module = thalamus_protocols if reader == "thalamus" else sscx_protocols
        parser._parse_step_and_ramp(definition, name, module, [], None)
        protocol = parser.protocols_dict[name]
        currents = None
        if kind.endswith("ThresholdProtocol"):
            if reader == "thalamus":
                variant = "hyp" if name.endswith("_hyp") else "dep"
                capture_run(protocol, StandInCell(THALAMUS_CURRENTS))
                currents = THALAMUS_CURRENTS[variant]
            else:
                capture_run(protocol, StandInCell(SSCX_CURRENTS))
                currents = SSCX_CURRENTS
        elif getattr(protocol, "holding_stimulus", None) is not None and \
                protocol.holding_stimulus.step_amplitude is None:
            # the Rin protocol: the main protocol sets the searched holding current
            table = THALAMUS_CURRENTS["hyp" if name.endswith("_hyp") else "dep"] \
                if reader == "thalamus" else SSCX_CURRENTS
            protocol.holding_stimulus.step_amplitude = table["holding"]
            currents = {"holding": table["holding"], "threshold": None}
        out.append((name, protocol, currents))
    return out


def bpem_protocol(name, protocol_type, stimulus, currents):
    """A BluePyEModel protocol built by its evaluator, with the dependencies set."""
    from bluepyemodel.evaluation.evaluator import define_protocol
    from bluepyemodel.evaluation.protocol_configuration import ProtocolConfiguration

    config = ProtocolConfiguration(
        name=name,
        stimuli=[copy.deepcopy(stimulus)],
        recordings_from_config=[{"type": "CompRecording", "name": f"{name}.soma.v",
                                 "location": "soma", "variable": "v"}],
        protocol_type=protocol_type,
    )
    protocol = define_protocol(config, dt=DT)
    used = None
    if protocol_type != "Protocol":
        ok = protocol.set_dependencies({
            "bpo_holding_current": currents["holding"],
            "bpo_threshold_current": currents["threshold"],
            "bpo_holding_current_noholding": 0.0,
            "bpo_threshold_current_noholding": currents["threshold"],
        })
        if not ok:
            raise RuntimeError(f"{name}: dependencies not set")
        used = {"holding": protocol.stimulus.holding_current,
                "threshold": protocol.stimulus.threshold_current}
    return protocol, used


def make_sim():
    from bluepyopt import ephys

    return ephys.simulators.NrnSimulator(dt=DT, cvode_active=False)


def case_record(h, sim, protocol, extra):
    t, total, n = record_stimuli(h, sim, protocol.stimuli, protocol.total_duration)
    case = dict(extra)
    case["tstop"] = float(protocol.total_duration)
    case["clamps"] = n
    case.update(encode(t, total))
    return case


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------

def versions():
    import neuron

    return {
        "neuron": neuron.__version__,
        "EModelRunner": importlib.metadata.version("EModelRunner"),
        "bluepyopt": importlib.metadata.version("bluepyopt"),
        "bluepyemodel": importlib.metadata.version("bluepyemodel"),
        "python": platform.python_version(),
    }


def document(cases, source, package=None, root=None):
    return {
        "provenance": {
            "generator": GENERATOR,
            "command": COMMAND,
            "versions": versions(),
            "source": source,
            "licence": LICENCE,
            "cell": "one passive compartment (L = diam = 20 um, pas), soma[0](0.5)",
            "run": "bluepyopt NrnSimulator(dt=0.025, cvode_active=False).run(tstop): h.run()",
            "encoding": "i_runs: [k, i]: the summed IClamp.i [nA] is i from sample k until the "
                        "next run; t_checks: [k, t] recorded t [ms] at some samples",
        },
        "package": package,
        "root": root,
        "dt": DT,
        "cases": cases,
    }


def dump(doc):
    """JSON with one case per line block and one run per line: readable diffs."""
    lines = ["{", f'  "provenance": {json.dumps(doc["provenance"])},',
             f'  "package": {json.dumps(doc["package"])},', f'  "root": {json.dumps(doc["root"])},',
             f'  "dt": {doc["dt"]},', '  "cases": [']
    for ci, case in enumerate(doc["cases"]):
        head = {k: v for k, v in case.items() if k != "i_runs"}
        lines.append("    {")
        for k, v in head.items():
            lines.append(f"      {json.dumps(k)}: {json.dumps(v, allow_nan=False)},")
        lines.append('      "i_runs": [')
        runs = case["i_runs"]
        for ri, run in enumerate(runs):
            comma = "," if ri + 1 < len(runs) else ""
            lines.append(f"        {json.dumps(run, allow_nan=False)}{comma}")
        lines.append("      ]")
        lines.append("    }" + ("," if ci + 1 < len(doc["cases"]) else ""))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def build_all(packages):
    """Every output file: {name: document}."""
    h = neuron_setup()
    sim = make_sim()
    docs = {}
    for out, base, pkg, files, reader in EMR_FILES:
        root = (packages if base == "packages" else REPO) / pkg
        cases = []
        for rel in files:
            for name, protocol, currents in emr_protocols(root / rel, reader):
                cases.append(case_record(h, sim, protocol, {
                    "name": name, "file": rel, "reader": reader, "currents": currents}))
        docs[out] = document(cases, f"{pkg} ({'packages' if base == 'packages' else 'emsweep'})",
                             pkg, base)
    for out, base, pkg, rel, key in BPEM_FILES:
        root = (packages if base == "packages" else REPO) / pkg
        definitions = json.loads((root / rel).read_text())["protocols"]
        cases = []
        for p in definitions:
            ptype = p.get("protocol_type", "ThresholdBasedProtocol")
            protocol, used = bpem_protocol(p["name"], ptype, p["stimuli"][0], BPEM_CURRENTS[key])
            cases.append(case_record(h, sim, protocol, {
                "name": p["name"], "file": rel, "protocol_type": ptype, "currents": used}))
        docs[out] = document(cases, f"{pkg} ({'packages' if base == 'packages' else 'emsweep'})",
                             pkg, base)
    cases = []
    for name, ptype, stim in SYNTHETIC_ECODES:
        protocol, used = bpem_protocol(name, ptype, stim,
                                       {"holding": SYN_HOLD, "threshold": SYN_THRESH})
        cases.append(case_record(h, sim, protocol, {
            "name": name, "protocol_type": ptype, "stimulus": stim, "currents": used}))
    with tempfile.TemporaryDirectory() as tmp:
        for name, definition in SYNTHETIC_PULSES:
            path = Path(tmp) / f"{name}.json"
            path.write_text(json.dumps({name: definition}))
            for pname, protocol, currents in emr_protocols(path, "sscx"):
                cases.append(case_record(h, sim, protocol, {
                    "name": pname, "definition": definition, "currents": currents}))
    docs["synthetic"] = document(cases, "emsweep's own made-up protocols")
    return docs


def first_difference(a, b, path=""):
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}/{k}: present in only one"
            d = first_difference(a[k], b[k], f"{path}/{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=Path, default=REPO / ".cache" / "packages")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--check", action="store_true",
                        help="regenerate in memory and compare with the committed files")
    args = parser.parse_args()
    packages = args.packages.resolve()
    if not packages.is_dir():
        sys.exit(f"generate.py: no packages at {packages}; run scripts/bootstrap.sh first")
    docs = build_all(packages)
    if args.check:
        failed = False
        for name, doc in docs.items():
            committed = json.loads((HERE / f"{name}.json").read_text())
            new = json.loads(dump(doc))
            committed["provenance"]["versions"].pop("python", None)
            new["provenance"]["versions"].pop("python", None)
            diff = first_difference(committed, new)
            print(f"check: {name}: {'identical' if diff is None else 'DIFFERS: ' + diff}")
            failed |= diff is not None
        return 1 if failed else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, doc in docs.items():
        path = args.out / f"{name}.json"
        path.write_text(dump(doc))
        print(f"generate.py: wrote {path} ({path.stat().st_size} bytes, {len(doc['cases'])} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
