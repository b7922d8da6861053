#!/usr/bin/env python3
"""Score references: what BluePyOpt (as EModelRunner builds its features) and BluePyEModel score
for the target features of real packages on the traces of tests/reference/features.

Feature objects are built by the tools' own code (EModelRunner's `features.get_feature`,
BluePyEModel's `EFeatureConfiguration` and `define_efeature`) around stand-in protocols that carry
only the window, duration and step amplitude of the trace assigned to them, then scored with the
objects' own `calculate_score`. Totals, per-protocol sums and validation verdicts use BluePyOpt's
`SingletonWeightObjective` / `ObjectivesCalculator` and BluePyEModel's validation functions.

Usage: generate.py [--packages DIR] [--out FILE]
"""
import argparse
import json
import math
import pathlib
import platform
import sys
import types
from importlib.metadata import version

import bluepyemodel
import bluepyopt
import efel
import emodelrunner
import numpy
from bluepyemodel.evaluation.efeature_configuration import EFeatureConfiguration
from bluepyemodel.evaluation.evaluator import define_efeature
from bluepyemodel.validation import validation_functions
from bluepyopt.ephys.objectives import SingletonWeightObjective
from bluepyopt.ephys.objectivescalculators import ObjectivesCalculator
from emodelrunner.features import get_feature

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
FEATURES = REPO / "tests/reference/features"
TRACE_FILES = ["traces.json", "packages/sscx_cADpyr_L4UPC.json"]


def load_traces():
    out = {}
    for rel in TRACE_FILES:
        for tr in json.loads((FEATURES / rel).read_text())["traces"]:
            v = numpy.array(tr["v"], dtype=float)
            if tr.get("dt") is not None:
                t = numpy.arange(len(v)) * tr["dt"]
            else:
                t = numpy.array(tr["t"], dtype=float)
            out[tr["name"]] = dict(file=rel, t=t, v=v, stim_start=tr["stim_start"],
                                   stim_end=tr["stim_end"], amp=tr["stimulus_current"])
    return out


def num(x):
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    return x


# --- EModelRunner (legacy dialect) -------------------------------------------------------------
# protocol -> recording -> trace (None: no trace recorded, scores 250)
SSCX_ASSIGN = {
    "Step_140": {"soma.v": "sscx_step_low"},
    "Step_200": {"soma.v": "sscx_step_high"},
    "Step_280": {"soma.v": None},
    "APWaveform_360": {"soma.v": "sscx_apwaveform"},
    "Rin": {"soma.v": "sscx_rin"},
    "RMP": {"soma.v": "hh_rest"},
    "IV_-100": {"soma.v": "sscx_hyper_sag"},
    "SpikeRec_all": {"soma.v": "sscx_spikerec"},
    "bAP": {"soma.v": "sscx_bap_soma", "dend1.v": "sscx_bap_dend", "dend2.v": None,
            "ca_prox_apic.cai": "sscx_bap_cai", "ca_prox_basal.cai": None,
            "ca_soma.cai": "sscx_bap_cai", "ca_ais.cai": None},
}


def stand_in(trace, name):
    """A protocol with what EModelRunner / BluePyEModel read from it."""
    p = types.SimpleNamespace(name=name)
    if trace is not None:
        p.stim_start = trace["stim_start"]
        p.stim_end = trace["stim_end"]
        p.total_duration = float(trace["t"][-1])
        p.step_amplitude = trace["amp"]
    return p


def sscx_case(packages, traces):
    path = packages / "emodelrunner/sscx_sample_dir/config/features/cADpyr_L4PC.json"
    defs = json.loads(path.read_text())
    defs.pop("__comment", None)
    # an uncapped case: the first two Step_200 features again with a 10^4 times tighter std
    defs["Step_200"]["soma.v"] += [dict(c, val=[c["val"][0], c["val"][1] / 1e4])
                                   for c in defs["Step_200"]["soma.v"][:2]]
    records = []
    for prot, recs in defs.items():
        for rec, configs in recs.items():
            tname = SSCX_ASSIGN.get(prot, {}).get(rec)
            trace = traces[tname] if tname else None
            # the bAP window ends at the end of the trace: EModelRunner reads total_duration
            main = {prot: stand_in(trace, prot)} if trace else {prot: types.SimpleNamespace()}
            for cfg in configs:
                name, feat = get_feature(cfg, main, prot, rec, "")
                responses = {}
                if trace is not None:
                    responses[feat.recording_names[""]] = {"time": trace["t"], "voltage": trace["v"]}
                score = float(feat.calculate_score(responses))
                settings = dict(feat.int_settings or {})
                records.append(dict(
                    name=f"{prot}.{rec}.{feat.efel_feature_name}", protocol=prot, recording=rec,
                    efel_feature_name=feat.efel_feature_name, mean=feat.exp_mean, std=feat.exp_std,
                    threshold=feat.threshold, efel_settings=settings, weight=1.0,
                    trace=None if trace is None else {"file": trace["file"], "name": tname},
                    stim_start=feat.stim_start, stim_end=feat.stim_end,
                    stimulus_current=feat.stimulus_current, score=num(score),
                ))
    return finish("emodelrunner/sscx_sample_dir", "config/features/cADpyr_L4PC.json",
                  "EModelRunner", records, None)


# --- BluePyEModel ------------------------------------------------------------------------------
def bpem_trace_for(protocol, i):
    p = protocol.lower()
    if p.startswith("idrest"):
        return ["hh_regular", "hh_strong", "hh_adapting", None][i % 4]
    if p.startswith("iv"):
        return ["hh_hyper_weak", "hh_hyper_rebound"][i % 2]
    if p.startswith("apwaveform"):
        return "hh_short_window"
    if p.startswith("sahp"):
        return None
    if p.startswith("rmp") or p.startswith("rin") or p.startswith("search"):
        return ["hh_rest", "hh_subthreshold"][i % 2]
    return None


BPO_VALUES = {"bpo_holding_current": -0.05, "bpo_threshold_current": 0.3}


def bpem_case(packages, traces, emodel):
    pkg = packages / "bluepyemodel" / emodel
    recipe = json.loads((pkg / "config/recipes.json").read_text())[emodel]
    settings = recipe.get("pipeline_settings", {})
    global_settings = settings.get("efel_settings") or {"interp_step": 0.025, "strict_stiminterval": True}
    defs = json.loads((pkg / recipe["features"]).read_text())["efeatures"]
    # capped cases: the first two features again with a 10^4 times tighter std
    defs += [dict(d, original_std=d["original_std"] / 1e4,
                  efeature_name=(d.get("efeature_name") or d["efel_feature_name"]) + "_tight")
             for d in defs[:2]]
    records, objectives = [], []
    seen = {}
    for d in defs:
        d = dict(d)
        tstd = d.pop("threshold_efeature_std", None)
        dstd = d.pop("default_std_value", 1e-3)
        cfg = EFeatureConfiguration(**d, threshold_efeature_std=tstd, default_std_value=dstd)
        i = seen.get(cfg.protocol_name, len(seen))
        seen[cfg.protocol_name] = i
        tname = bpem_trace_for(cfg.protocol_name, i)
        trace = traces[tname] if tname else None
        protocol = None
        if trace is not None:
            protocol = types.SimpleNamespace(
                name=cfg.protocol_name, amplitude=trace["amp"],
                stim_start=lambda tr=trace: tr["stim_start"], stim_end=lambda tr=trace: tr["stim_end"],
                total_duration=float(trace["t"][-1]))
        feat = define_efeature(cfg, protocol, global_settings)
        responses = dict(BPO_VALUES)
        if trace is not None:
            responses[feat.recording_names[""]] = {"time": trace["t"], "voltage": trace["v"]}
        objective = SingletonWeightObjective(feat.name, feat, feat.weight)
        objectives.append(objective)
        raw = float(feat.calculate_score(responses))
        merged = {**(feat.double_settings or {}), **(feat.int_settings or {}), **(feat.string_settings or {})}
        records.append(dict(
            name=feat.name, protocol=cfg.protocol_name, recording=cfg.recording_name,
            efel_feature_name=feat.efel_feature_name, mean=feat.exp_mean, std=feat.exp_std,
            threshold=feat.threshold, efel_settings=merged, weight=feat.weight,
            trace=None if trace is None else {"file": trace["file"], "name": tname},
            stim_start=feat.stim_start if not callable(feat.stim_start) else feat.stim_start(),
            stim_end=feat.stim_end if not callable(feat.stim_end) else feat.stim_end(),
            stimulus_current=feat.stimulus_current, score=num(raw), _responses=responses,
        ))
    # the tools' weighted scores, fitness and validation on the same responses
    calc = ObjectivesCalculator(objectives)
    all_responses = {}
    for r in records:
        all_responses.update(r.pop("_responses"))
    weighted = calc.calculate_scores(all_responses)
    model = types.SimpleNamespace(scores=dict(weighted), scores_validation={})
    threshold = float(settings.get("validation_threshold", 5.0))
    validation = {
        "threshold": threshold,
        "max_score": num(float(numpy.max(list(weighted.values())))),
        "mean_score": num(float(numpy.mean(list(weighted.values())))),
        "passes_max": bool(validation_functions.validate_max_score(model, threshold)),
        "passes_mean": bool(validation_functions.validate_mean_score(model, threshold)),
        "passes_mean_at_100": bool(validation_functions.validate_mean_score(model, 100.0)),
    }
    for r in records:
        r["weighted"] = num(float(weighted[r["name"]]))
    out = finish(f"bluepyemodel/{emodel}", recipe["features"], "BluePyEModel", records, validation,
                 fitness=sum(list(weighted.values())))
    out["bpo_values"] = BPO_VALUES
    return out


def finish(package, features_file, rule, records, validation, fitness=None):
    protocols = {}
    total = 0
    for r in records:
        s = float(r.get("weighted", r["score"]))
        total += s
        protocols.setdefault(r["protocol"], 0.0)
        protocols[r["protocol"]] += s
    out = dict(package=package, features_file=features_file, rule=rule, features=records,
               protocols=[{"protocol": p, "score": num(s)} for p, s in protocols.items()],
               total=num(float(total if fitness is None else fitness)))
    if validation is not None:
        out["validation"] = validation
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", default=str(REPO / ".cache/packages"))
    ap.add_argument("--out", default=str(HERE / "scores.json"))
    args = ap.parse_args()
    packages = pathlib.Path(args.packages)
    traces = load_traces()
    cases = [sscx_case(packages, traces), bpem_case(packages, traces, "L5PC"),
             bpem_case(packages, traces, "simplecell")]
    doc = {
        "provenance": {
            "generator": "tests/reference/scores/generate.py",
            "command": " ".join(["generate.py"] + sys.argv[1:]),
            "versions": {"python": platform.python_version(),
                         **{m: version(m) for m in ("efel", "bluepyopt", "bluepyemodel",
                                                    "EModelRunner", "numpy")}},
            "traces": "tests/reference/features (" + ", ".join(TRACE_FILES) + ")",
            "licence": "feature definitions derived from CC-BY-NC-SA 4.0 packages (see README.md)",
        },
        "cases": cases,
    }
    pathlib.Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    for c in cases:
        n250 = sum(1 for r in c["features"] if r["score"] == 250.0)
        print(c["package"], len(c["features"]), "features, total", c["total"], ",", n250, "at 250")


if __name__ == "__main__":
    main()
