#!/usr/bin/env python3
"""Reference recording locations: where NEURON reads each recording of a protocol.

One job: build each real e-model cell exactly as tests/reference/geometry/generate.py does (the
tools' own builders, one process per cell), instantiate the tools' location classes for every
extra recording the packages define and for a grid of made-up ones, and write which section, x,
segment and node NEURON picks. The classes: EModelRunner's `get_extra_recording_location`
(`somadistance` -> BluePyOpt NrnSomaDistanceCompLocation, `somadistanceapic` ->
NrnSecSomaDistanceCompLocation on `apic[apical_point_isec]`, `nrnseclistcomp` ->
NrnSeclistCompLocation) and BluePyEModel's `define_location` (its `somadistanceapic` is
NrnTrunkSomaDistanceCompLocation with direction 'radial'; CompRecording `ais` is axonal[0](0.5)).

What is read back for a location `seg = loc.instantiate(sim, icell)`:
  section   seg.sec.name() without the template prefix
  x         seg.x (the position asked for, e.g. comp_x)
  v_node    which node `seg._ref_v` reads: "segment <k>" (the k-th segment of the section), or
            "start" (the node the section's 0-end joins) / "end" (its zero-area 1-end node); found
            by writing a marker through seg.v and looking where it landed
  segment   the segment whose mechanism variables seg reads (k), found the same way through seg.cm
  error     the exception's class name when the tool finds no location (then the rest is null)

Usage (from the repository root):
    .cache/venv/bin/python tests/reference/probe/generate.py            # write all cases
    .cache/venv/bin/python tests/reference/probe/generate.py --check    # regenerate, compare
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
GENERATOR = "tests/reference/probe/generate.py"
COMMAND = "tests/reference/setup_venv.sh && .cache/venv/bin/python tests/reference/probe/generate.py"


def load_geometry_generator():
    spec = importlib.util.spec_from_file_location(
        "geometry_generate", REPO / "tests/reference/geometry/generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEOMETRY = load_geometry_generator()

# The cells (geometry cases) and the protocol files whose extra recordings they run with.
CASES = {
    "sscx_cADpyr_L4UPC": {
        "protocol_files": ["config/protocols/multiprotocols.json",
                           "config/protocols/cADpyr_L4PC.json"],
        "apical_point_isec": 22,
    },
    "thalamus_dNAD_ltb": {"protocol_files": [], "apical_point_isec": None},
    "synplas_cADpyr_L4UPC": {"protocol_files": [], "apical_point_isec": None},
    "synplas_cADpyr_L4TPC": {"protocol_files": [], "apical_point_isec": None},
    # emsweep's own example, built with NEURON's built-in hh and pas (its mechanisms/ folder
    # holds look-alikes under the same SUFFIXes, which NEURON refuses to load)
    "examples_ball_and_stick_hh": {
        "protocol_files": ["config/protocols/ballstick_hh.json"],
        "apical_point_isec": None,
        "geometry": {
            "tool": "emodelrunner",
            "package": "examples/ball_and_stick_hh",
            "config": "config/config.ini",
            "role": "cell",
            "builder": "emodelrunner.create_cells.create_cell_using_config(config) as for SSCx, "
                       "with NEURON's built-in hh and pas",
        },
        "root": "repo",
    },
}


def geometry_case(name):
    return CASES[name].get("geometry") or GEOMETRY.CASES[name]


def case_root(name, packages):
    return REPO if CASES[name].get("root") == "repo" else packages

LISTS = ["all", "somatic", "axonal", "basal", "apical", "myelinated"]
ARRAYS = ["soma", "axon", "dend", "apic", "myelin"]
DISTANCES = [0.0, 5.0, 50.0, 91.0, 208.0, 400.0, 1000.0]


def synthetic_recordings(apical_isecs):
    """Made-up recordings covering every location type on every list."""
    recs = []
    for seclist in LISTS:
        for d in DISTANCES:
            recs.append({"type": "somadistance", "somadistance": d, "seclist_name": seclist})
    for isec in apical_isecs:
        for d in [0.0, 20.0, 50.0, 91.0, 208.0, 10000.0]:
            recs.append({"type": "somadistanceapic", "somadistance": d, "seclist_name": "apical",
                         "apical_point_isec": isec})
    for d in [50.0, 208.0, 600.0]:
        recs.append({"type": "bluepyemodel_somadistanceapic", "somadistance": d,
                     "seclist_name": "apical"})
    for seclist in ARRAYS + LISTS:
        for index in [0, 1, 7]:
            for x in [0.0, 0.3, 0.5, 1.0]:
                recs.append({"type": "nrnseclistcomp", "seclist_name": seclist,
                             "sec_index": index, "comp_x": x})
    recs.append({"type": "bluepyemodel_ais"})
    return recs


def short_name(sec):
    name = sec.name()
    return name.split(".", 1)[1] if "." in name else name


def where(h, seg):
    """(v_node, segment) that seg reads, found with markers (then restored)."""
    sec = seg.sec
    segs = list(sec)
    # v: write a marker through seg, see which node holds it
    saved = [s.v for s in segs]
    saved_start = sec(0).v
    saved_end = sec(1).v
    marker = 12345.678
    seg.v = marker
    v_node = None
    for k, s in enumerate(segs):
        if s.v == marker:
            v_node = f"segment {k}"
    if v_node is None:
        if sec(1).v == marker:
            v_node = "end"
        elif sec(0).v == marker:
            v_node = "start"
    for s, v in zip(segs, saved):
        s.v = v
    sec(0).v = saved_start
    sec(1).v = saved_end
    # mechanism variables: the same through cm
    saved = [s.cm for s in segs]
    seg.cm = marker
    segment = None
    for k, s in enumerate(segs):
        if s.cm == marker:
            segment = k
    for s, c in zip(segs, saved):
        s.cm = c
    return v_node, segment


def location_for(rec, case):
    from bluepyopt.ephys.locations import NrnTrunkSomaDistanceCompLocation
    from bluepyemodel.evaluation.evaluator import define_location
    from emodelrunner.protocols.protocols_func import get_extra_recording_location

    kind = rec["type"]
    if kind == "bluepyemodel_somadistanceapic":
        definition = dict(rec, type="somadistanceapic", name="probe")
        loc = define_location(definition)
        assert isinstance(loc, NrnTrunkSomaDistanceCompLocation)
        return loc
    if kind == "bluepyemodel_ais":
        return define_location({"type": "CompRecording", "location": "ais", "name": "ais"})
    isec = rec.get("apical_point_isec", case["apical_point_isec"])
    definition = dict(rec, name="probe")
    return get_extra_recording_location(definition, -1 if isec is None else isec)


ARRAY_LIST = {"soma": "somatic", "axon": "axonal", "dend": "basal", "apic": "apical",
              "myelin": "myelinated"}


def read_location(h, sim, icell, rec, case):
    # A template's section array that holds no section (the thalamus cell has no apic) makes
    # NEURON abort the process when it is iterated: recorded as an error without asking.
    array = rec.get("seclist_name")
    if rec["type"] == "somadistanceapic":
        array = {"somatic": "soma", "apical": "apic", "axonal": "axon",
                 "myelinated": "myelin"}.get(array, array)
    if array in ARRAY_LIST and rec["type"] != "somadistance" and \
            len(list(getattr(icell, ARRAY_LIST[array]))) == 0:
        return {"error": "EmptySectionArray"}
    try:
        loc = location_for(rec, case)
        seg = loc.instantiate(sim=sim, icell=icell)
    except Exception as e:  # the tools signal "no such location" with exceptions
        return {"error": type(e).__name__}
    v_node, segment = where(h, seg)
    return {"section": short_name(seg.sec), "x": float(seg.x), "v_node": v_node,
            "segment": segment}


def make_config_paths(config):
    """EModelRunner's config check wants every path of [Paths] to exist (templates, output
    folder, synapse folders) although building a cell reads none of them: create empty
    stand-ins in the package copy until the check passes."""
    import re
    from emodelrunner.load import load_config
    from schema import SchemaError

    for _ in range(40):
        try:
            load_config(config_path=config)
            return
        except SchemaError as e:
            found = re.findall(r"<lambda>\('([^']+)'\) should evaluate to True", str(e))
            if not found:
                raise
            path = Path(found[-1])
            if path.suffix:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
            else:
                path.mkdir(parents=True, exist_ok=True)
    raise RuntimeError("the config check still fails")


def child_main(name, packages, mech_dir, out_file):
    import neuron
    from neuron import h

    geo = geometry_case(name)
    case = CASES[name]
    if mech_dir is not None:
        if not neuron.load_mechanisms(str(mech_dir)):
            raise RuntimeError(f"could not load mechanisms compiled in {mech_dir}")
    root = case_root(name, packages) / geo["package"]
    if case.get("root") == "repo":
        # EModelRunner's config check wants the output folder to exist: run from a copy.
        import shutil
        copy = Path(tempfile.mkdtemp(prefix="probegen-pkg-")) / "package"
        shutil.copytree(root, copy)
        root = copy
        os.chdir(root)
        make_config_paths(geo["config"])
    os.chdir(root)
    cell, emodel = GEOMETRY.build_emodelrunner(geo, h)
    from bluepyopt import ephys
    sim = ephys.simulators.NrnSimulator(dt=0.025, cvode_active=False)
    icell = cell.icell

    results = []
    for rel in case["protocol_files"]:
        protocols = json.loads((root / rel).read_text())
        for pname, definition in protocols.items():
            if not isinstance(definition, dict):
                continue
            for rec in definition.get("extra_recordings", []):
                entry = {"file": rel, "protocol": pname, "recording": rec}
                entry.update(read_location(h, sim, icell, rec, case))
                results.append(entry)
    apical_count = len(list(icell.apical)) if hasattr(icell, "apical") else 0
    isecs = sorted({i for i in [case["apical_point_isec"], 0, 3, apical_count - 1]
                    if i is not None and 0 <= i < apical_count})
    for rec in synthetic_recordings(isecs):
        if os.environ.get("PROBE_DEBUG"):
            print(rec, flush=True)
        entry = {"file": None, "protocol": None, "recording": rec}
        entry.update(read_location(h, sim, icell, rec, case))
        results.append(entry)

    document = {
        "provenance": {
            "generator": GENERATOR,
            "command": COMMAND,
            "versions": GEOMETRY.versions(),
            "package": geo["package"],
            "config": geo["config"],
            "builder": geo["builder"],
            "licence": GEOMETRY.LICENCE if case.get("root") != "repo"
            else "Apache-2.0 (emsweep's own example)",
        },
        "emodel": emodel,
        "apical_point_isec": case["apical_point_isec"],
        "locations": results,
    }
    Path(out_file).write_text(GEOMETRY.dump(document))
    if case.get("root") == "repo":
        import shutil
        os.chdir(packages)
        shutil.rmtree(root.parent, ignore_errors=True)


def run_all(packages, out_dir):
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="probegen-") as tmp:
        compiled = {}
        for name in CASES:
            package = geometry_case(name)["package"]
            if CASES[name].get("root") == "repo":
                compiled[package] = None
            elif package not in compiled:
                work = Path(tmp) / package.replace("/", "_")
                work.mkdir(parents=True)
                compiled[package] = GEOMETRY.compile_mechanisms(packages / package / "mechanisms",
                                                                work)
            scratch = tempfile.mkdtemp(prefix="probegen-cwd-", dir=tmp)
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name,
                   "--packages", str(packages), "--child-out", str(out_dir / f"{name}.json")]
            if compiled[package] is not None:
                cmd += ["--child-mechanisms", str(compiled[package])]
            subprocess.run(cmd, cwd=scratch, check=True)
            print(f"generate.py: wrote {out_dir / (name + '.json')}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=Path, default=REPO / ".cache" / "packages")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    parser.add_argument("--child-mechanisms", help=argparse.SUPPRESS)
    args = parser.parse_args()
    packages = args.packages.resolve()
    if args.child:
        child_main(args.child, packages, args.child_mechanisms, args.child_out)
        return 0
    if not packages.is_dir():
        sys.exit(f"generate.py: no packages at {packages}; run scripts/bootstrap.sh first")
    if args.check:
        with tempfile.TemporaryDirectory(prefix="probegen-check-") as tmp:
            run_all(packages, Path(tmp))
            failed = False
            for name in CASES:
                old = json.loads((HERE / f"{name}.json").read_text())
                new = json.loads((Path(tmp) / f"{name}.json").read_text())
                old["provenance"]["versions"].pop("python", None)
                new["provenance"]["versions"].pop("python", None)
                diffs = GEOMETRY.first_differences(old, new)
                print(f"check: {name}: {'identical' if not diffs else 'DIFFERS: ' + '; '.join(diffs)}")
                failed |= bool(diffs)
        return 1 if failed else 0
    run_all(packages, args.out.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
