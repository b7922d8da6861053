#!/usr/bin/env python3
"""Searched currents and scores of EModelRunner's main protocol, run by NEURON 9.0.2.

One job: run the `Main` protocol of EModelRunner 1.2.5's SSCx and thalamus sample packages exactly
as `emodelrunner.run` builds and runs it (resting potential, input resistance, holding-current
search, threshold-current search, then the other protocols at the currents found), and record:
- what the searches found: RMP, Rin, holding and threshold currents (thalamus: `dep` and `hyp`),
  and every step of the searches (each holding current tried with the voltage base it gave, each
  step current tried with whether it spiked), read by wrapping the tool's own methods;
- for every feature of the package's feature file, the value(s) and the score EModelRunner's
  feature objects (`emodelrunner.features.define_efeatures`, BluePyOpt `eFELFeature`) give on the
  responses of that run, and the total.

One change from a plain `emodelrunner.run`, needed to compare like with like (as in
tests/reference/traces): `usetable_<suffix> = 0` for every compiled mechanism with a TABLE, and
`nrnivmodl` under `LC_ALL=C`. The mechanisms are compiled with traces/generate.py's helpers.

Output: `<case>.json` per case (see README.md for the schema).

Usage (from the repository root; the packages come from scripts/bootstrap.sh):
    .cache/venv/bin/python tests/reference/search/generate.py            # write all cases
    .cache/venv/bin/python tests/reference/search/generate.py --check    # regenerate, compare
"""

import argparse
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
GENERATOR = "tests/reference/search/generate.py"
COMMAND = "tests/reference/setup_venv.sh && .cache/venv/bin/python tests/reference/search/generate.py"
LICENCE = (
    "CC-BY-NC-SA 4.0: derived from Blue Brain Project / EPFL sample packages "
    "(EModelRunner 1.2.5 wheel examples/); see tests/reference/search/README.md"
)

CASES = {
    "sscx_cADpyr_L4UPC": {
        "package": "emodelrunner/sscx_sample_dir",
        "config": "config/config_recipe_protocols.ini",
        "kind": "sscx",
    },
    "thalamus_dNAD_ltb": {
        "package": "emodelrunner/thalamus_sample_dir",
        "config": "config/config_recipe_prots_short.ini",
        "kind": "thalamus",
    },
}


def traces_helpers():
    """compile_mechanisms / tabled_suffixes / BUILTIN_TABLED of tests/reference/traces/generate.py."""
    spec = importlib.util.spec_from_file_location("traces_generate", HERE.parent / "traces" / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def num(x):
    """A JSON-safe number (None for a missing one, a string for a non-finite one)."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return repr(x)
    return x


def versions():
    import neuron

    return {
        "neuron": neuron.__version__,
        "EModelRunner": importlib.metadata.version("EModelRunner"),
        "bluepyopt": importlib.metadata.version("bluepyopt"),
        "efel": importlib.metadata.version("efel"),
        "numpy": importlib.metadata.version("numpy"),
        "python": platform.python_version(),
    }


# --------------------------------------------------------------------------------------------
# Child process: one case.
# --------------------------------------------------------------------------------------------


def record_search(trail, rinhold, thdetect, variant):
    """Wrap the tool's search methods (on the instances) so that every step is recorded."""
    orig_search_holdi = rinhold.search_holdi
    orig_voltage_base = rinhold.voltage_base
    orig_detect = thdetect.detect_spike
    entry = trail.setdefault(variant, {"holding_steps": [], "threshold_steps": []})

    def search_holdi(cell_model, param_values, sim, holding_voltage, rin_noholding, rmp):
        entry["target_voltage_mv"] = num(holding_voltage)
        entry["rin_noholding_mohm"] = num(rin_noholding)
        entry["rmp_mv"] = num(rmp)
        return orig_search_holdi(cell_model, param_values, sim, holding_voltage, rin_noholding, rmp)

    def voltage_base(current, cell_model, param_values, sim=None):
        vb = orig_voltage_base(current, cell_model, param_values, sim=sim)
        entry["holding_steps"].append({"current_na": num(current), "voltage_base_mv": num(vb)})
        return vb

    def detect_spike(cell_model, param_values, sim=None, step_current=None, holdi=None, short=False):
        spiked = orig_detect(cell_model, param_values, sim=sim, step_current=step_current,
                             holdi=holdi, short=short)
        entry["threshold_steps"].append(
            {"current_na": num(step_current), "short": bool(short), "spiked": bool(spiked)})
        return spiked

    rinhold.search_holdi = search_holdi
    rinhold.voltage_base = voltage_base
    thdetect.detect_spike = detect_spike
    # max_threshold_current / search_max_threshold_current: the upper bound of the short pulses
    name = "max_threshold_current" if hasattr(thdetect, "max_threshold_current") else "search_max_threshold_current"
    orig_max = getattr(thdetect, name)

    def max_threshold(rin=None):
        value = orig_max(rin=rin)
        entry["max_threshold_current_na"] = num(value)
        entry["rin_mohm"] = num(rin)
        entry["max_threshold_voltage_mv"] = num(thdetect.max_threshold_voltage)
        entry["short_steps"] = int(thdetect.short_steps)
        return value

    setattr(thdetect, name, max_threshold)


def feature_records(efeatures, responses):
    """Value(s) and score of every feature object, in the feature file's order."""
    import efel

    out = []
    for name, feat in efeatures.items():
        values = None
        bpo = feat.efel_feature_name.startswith("bpo_")
        trace = None if bpo else feat._construct_efel_trace(responses)
        if trace is not None:
            feat._setup_efel()
            raw = efel.get_feature_values([trace], [feat.efel_feature_name], raise_warnings=False)[0]
            arr = raw[feat.efel_feature_name]
            values = None if arr is None else [num(v) for v in list(arr)]
            efel.reset()
        mean_value = None if bpo else feat.calculate_feature(responses)
        score = feat.calculate_score(responses)
        bpo_value = bpo_score = None
        if bpo:
            # the current the search found (the response `<mtype>.<bpo name>`), and the score
            # BluePyEModel would give it: |I - mean| / std
            found = [v for k, v in responses.items() if k.split(".")[-1] == feat.efel_feature_name]
            if len(found) == 1 and found[0] is not None:
                bpo_value = float(found[0])
                bpo_score = abs(bpo_value - feat.exp_mean) / feat.exp_std
        parts = name.split(".")
        out.append({
            "name": ".".join(parts[1:]),
            "protocol": parts[1],
            "recording": ".".join(parts[2:-1]),
            "efel_feature_name": feat.efel_feature_name,
            "mean": num(feat.exp_mean),
            "std": num(feat.exp_std),
            "threshold": num(feat.threshold),
            "strict_stiminterval": (feat.int_settings or {}).get("strict_stiminterval"),
            "stim_start": num(feat.stim_start),
            "stim_end": num(feat.stim_end),
            "stimulus_current": num(feat.stimulus_current),
            "values": values,
            "value": None if mean_value is None else num(mean_value),
            "score": num(score),
            "bpo_value": num(bpo_value),
            "bpo_score": num(bpo_score),
            # EModelRunner has no response named like the bpo_* features' recordings: the
            # objects score them 250; they are not part of the package's total.
            "in_total": not bpo,
        })
    return out


def child_main(name, packages, mech_dir, out_file, keep_tables):
    import neuron
    from neuron import h
    from bluepyopt import ephys
    from emodelrunner.create_cells import create_cell_using_config
    from emodelrunner.features import define_efeatures
    from emodelrunner.load import get_release_params, load_config
    from emodelrunner.protocols.create_protocols import ProtocolBuilder

    helpers = traces_helpers()
    case = CASES[name]
    if not neuron.load_mechanisms(str(mech_dir)):
        raise RuntimeError(f"could not load mechanisms compiled in {mech_dir}")
    package_dir = packages / case["package"]
    no_tables = helpers.BUILTIN_TABLED + helpers.tabled_suffixes(package_dir / "mechanisms")
    if keep_tables:
        no_tables = []
    for suffix in no_tables:
        setattr(h, f"usetable_{suffix}", 0)
    os.chdir(package_dir)

    config = load_config(config_path=case["config"])
    cell = create_cell_using_config(config)
    release_params = get_release_params(config)
    dt = config.getfloat("Sim", "dt")
    if config.getboolean("Sim", "cvode_active"):
        raise ValueError("the references are fixed-step runs")
    sim = ephys.simulators.NrnSimulator(dt=dt, cvode_active=False)
    add_synapses = config.getboolean("Synapses", "add_synapses")
    prot_args = config.prot_args()
    if case["kind"] == "sscx":
        builder = ProtocolBuilder.using_sscx_protocols(add_synapses, prot_args, cell)
    else:
        builder = ProtocolBuilder.using_thalamus_protocols(add_synapses, prot_args, cell)
    sequence = builder.get_ephys_protocols()
    mains = [p for p in sequence.protocols if p.name == "Main"]
    if len(mains) != 1:
        raise RuntimeError(f"no Main protocol among {[p.name for p in sequence.protocols]}")
    main = mains[0]

    trail = {}
    if case["kind"] == "sscx":
        record_search(trail, main.rinhold_protocol, main.thdetect_protocol, "")
        variants = [""]
    else:
        variants = []
        if getattr(main, "rinhold_protocol_dep", None) is not None:
            record_search(trail, main.rinhold_protocol_dep, main.thdetect_protocol_dep, "dep")
            variants.append("dep")
        record_search(trail, main.rinhold_protocol_hyp, main.thdetect_protocol_hyp, "hyp")
        variants.append("hyp")

    responses = sequence.run(cell_model=cell, param_values=release_params, sim=sim, isolate=False)

    prefix = prot_args.mtype
    efeatures = define_efeatures(main, prot_args.features_path, prefix)
    searches = []
    for v in variants:
        suffix = f"_{v}" if v else ""
        rin_name = f"Rin{suffix}"
        rin_feature = efeatures[f"{prefix}.{rin_name}.soma.v.ohmic_input_resistance_vb_ssse"]
        t = trail[v]
        searches.append({
            "variant": v,
            "rin_protocol": rin_name,
            "target_voltage_mv": t.get("target_voltage_mv"),
            "rin_noholding_mohm": t.get("rin_noholding_mohm"),
            "holding_current_na": num(responses.get(f"{prefix}.bpo_holding_current{suffix}")),
            # the Rin protocol at the holding current, with the package's Rin feature
            "rin_mohm": num(rin_feature.calculate_feature(responses)),
            "rin_used_by_threshold_search_mohm": t.get("rin_mohm"),
            "max_threshold_voltage_mv": t.get("max_threshold_voltage_mv"),
            "max_threshold_current_na": t.get("max_threshold_current_na"),
            "short_steps": t.get("short_steps"),
            "threshold_current_na": num(responses.get(f"{prefix}.bpo_threshold_current{suffix}")),
            "holding_steps": t["holding_steps"],
            "threshold_steps": t["threshold_steps"],
        })
    rmp = main.rmp_efeature.calculate_feature(responses)
    features = feature_records(efeatures, responses)
    in_total = [f for f in features if f["in_total"]]
    total = sum(float(f["score"]) for f in in_total)

    header = {
        "provenance": {
            "generator": GENERATOR,
            "command": COMMAND,
            "versions": versions(),
            "package": case["package"],
            "config": case["config"],
            "builder": (
                "emodelrunner.load.load_config(config); create_cell_using_config(config); "
                "get_release_params(config); NrnSimulator(dt, cvode_active=False); "
                f"ProtocolBuilder.using_{case['kind']}_protocols(add_synapses, config.prot_args(), cell)"
                ".get_ephys_protocols().run(cell_model=cell, param_values=release_params, sim=sim, "
                "isolate=False); features: emodelrunner.features.define_efeatures(Main, "
                "features_path, mtype), each object's calculate_feature / calculate_score on the "
                "responses, values from efel.get_feature_values after the object's _setup_efel"
            ),
            "usetable_off": no_tables,
            "nrnivmodl": "LC_ALL=C nrnivmodl mod (the package's top-level .mod files)",
            "licence": LICENCE,
        },
        "emodel": config.get("Cell", "emodel"),
        "dt_ms": dt,
        "rmp_feature": main.rmp_efeature.efel_feature_name,
        "rmp_mv": num(rmp),
        "searches": searches,
        "features": features,
        "total_score": total,
        "features_in_total": len(in_total),
        # the total with the bpo_* features scored as BluePyEModel scores them
        "total_score_with_bpo": total + sum(float(f["bpo_score"]) for f in features
                                            if f["bpo_score"] is not None),
    }
    Path(out_file).write_text(json.dumps(header, indent=1, allow_nan=False) + "\n")


# --------------------------------------------------------------------------------------------
# Parent process.
# --------------------------------------------------------------------------------------------


def generate_all(packages, out_dir, names, keep_tables=False):
    helpers = traces_helpers()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="refgen-search-") as tmp:
        for name in names:
            work = Path(tmp) / name
            work.mkdir(parents=True)
            mech_dir = helpers.compile_mechanisms(packages / CASES[name]["package"] / "mechanisms", work)
            out = out_dir / f"{name}.json"
            scratch = Path(tmp) / f"{name}-cwd"
            scratch.mkdir()
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name,
                   "--packages", str(packages), "--child-mechanisms", str(mech_dir),
                   "--child-out", str(out)] + (["--keep-tables"] if keep_tables else [])
            # cwd is an empty folder: NEURON auto-loads ./x86_64 on import, which must not happen.
            subprocess.run(cmd, cwd=scratch, check=True)
            print(f"generate.py: wrote {out}")


def check_all(packages, names):
    """Regenerate into a temporary folder; every value must be identical (the Python patch
    version may differ, as a warning)."""
    failed = False
    with tempfile.TemporaryDirectory(prefix="refgen-search-check-") as tmp:
        generate_all(packages, Path(tmp), names)
        for name in names:
            old = json.loads((HERE / f"{name}.json").read_text())
            new = json.loads((Path(tmp) / f"{name}.json").read_text())
            old_py = old["provenance"]["versions"].pop("python", None)
            new_py = new["provenance"]["versions"].pop("python", None)
            if old_py != new_py:
                print(f"check: {name}: warning: python {new_py} here, {old_py} in the committed file")
            if old != new:
                print(f"check: {name}: DIFFERS")
                failed = True
            else:
                print(f"check: {name}: identical")
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=Path, default=REPO / ".cache" / "packages",
                        help="unpacked packages (scripts/bootstrap.sh); default <repo>/.cache/packages")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: beside this script)")
    parser.add_argument("--case", action="append", choices=sorted(CASES),
                        help="only this case (repeatable); default all")
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temporary folder and compare with the committed files")
    parser.add_argument("--keep-tables", action="store_true",
                        help="leave NEURON's TABLEs on (a plain EModelRunner run; not the committed data)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-mechanisms", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    packages = args.packages.resolve()
    if args.child:
        child_main(args.child, packages, args.child_mechanisms, args.child_out, args.keep_tables)
        return 0
    if not packages.is_dir():
        sys.exit(f"generate.py: no packages at {packages}; run scripts/bootstrap.sh first")
    names = args.case or list(CASES)
    if args.check:
        return check_all(packages, names)
    generate_all(packages, args.out.resolve(), names, args.keep_tables)
    return 0


if __name__ == "__main__":
    sys.exit(main())
