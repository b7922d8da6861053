#!/usr/bin/env python3
"""Reference cell geometry and parameter placement, read from NEURON.

One job: build each real e-model cell with the tools' own classes (EModelRunner for its sample
packages, BluePyEModel for simplecell), exactly as those tools build it before a simulation, then
read every number back from NEURON (section lengths, nseg, Ra, segment areas, axial resistances,
diameters, path distances from soma(0.5), and the value of each packaged parameter on each segment)
and write one JSON file per case. Nothing is re-derived here: every number comes from a NEURON call.

Each case runs in its own Python process, because the packages ship .mod files that declare the
same SUFFIXes with different contents and NEURON can load only one of them per process, and because
two cases share an e-model (template) name.

Usage (from the repository root; the packages come from scripts/bootstrap.sh):
    .cache/venv/bin/python tests/reference/geometry/generate.py            # write all cases
    .cache/venv/bin/python tests/reference/geometry/generate.py --check    # regenerate, compare
"""

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
GENERATOR = "tests/reference/geometry/generate.py"
COMMAND = "tests/reference/setup_venv.sh && .cache/venv/bin/python tests/reference/geometry/generate.py"
LICENCE = (
    "CC-BY-NC-SA 4.0: derived from Blue Brain Project / EPFL sample packages "
    "(EModelRunner 1.2.5 wheel examples/, bluepyemodel 1.0.50 wheel examples/); "
    "see tests/reference/geometry/README.md"
)
SECTION_LISTS = ["all", "somatic", "axonal", "basal", "apical", "myelinated"]

# name -> how the tools build it. `package` is relative to the packages folder, `config` to the
# package root (EModelRunner resolves every path against the package root: it runs from there).
CASES = {
    "sscx_cADpyr_L4UPC": {
        "tool": "emodelrunner",
        "package": "emodelrunner/sscx_sample_dir",
        "config": "config/config_singlestep.ini",
        "role": "cell",
        "builder": (
            "emodelrunner.create_cells.create_cell_using_config(config); "
            "cell.freeze(emodelrunner.load.get_release_params(config)); "
            "cell.instantiate(bluepyopt.ephys.simulators.NrnSimulator(dt, cvode_active)) "
            "(as emodelrunner.run does)"
        ),
    },
    "thalamus_dNAD_ltb": {
        "tool": "emodelrunner",
        "package": "emodelrunner/thalamus_sample_dir",
        "config": "config/config_recipe_prots_short.ini",
        "role": "cell",
        "builder": (
            "emodelrunner.create_cells.create_cell_using_config(config); "
            "cell.freeze(emodelrunner.load.get_release_params(config)); "
            "cell.instantiate(bluepyopt.ephys.simulators.NrnSimulator(dt, cvode_active)) "
            "(as emodelrunner.run does)"
        ),
    },
    "synplas_cADpyr_L4UPC": {
        "tool": "emodelrunner",
        "package": "emodelrunner/synplas_sample_dir",
        "config": "config/config_1Hz_10ms.ini",
        "role": "postcell",
        "builder": (
            "emodelrunner.create_cells.get_postcell(config, fixhp=True, syn_setup_params) "
            "with synapses; cell.freeze(get_release_params(config)); cell.instantiate(sim) "
            "(as emodelrunner.run_synplas / run_pairsim do; fixhp=True uninserts SK_E2 from "
            "somatic and axonal sections after the parameters are set; synapse point processes "
            "are not recorded here)"
        ),
    },
    "synplas_cADpyr_L4TPC": {
        "tool": "emodelrunner",
        "package": "emodelrunner/synplas_sample_dir",
        "config": "config/config_1Hz_10ms.ini",
        "role": "precell",
        "builder": (
            "emodelrunner.create_cells.get_precell(config, fixhp=True); "
            "cell.freeze(get_release_params(config, precell=True)); cell.instantiate(sim) "
            "(as emodelrunner.run_pairsim does; fixhp=True uninserts SK_E2 from somatic and "
            "axonal sections after the parameters are set)"
        ),
    },
    "bluepyemodel_simplecell": {
        "tool": "bluepyemodel",
        "package": "bluepyemodel/simplecell",
        "config": None,
        "role": "cell",
        "emodel": "simplecell",
        # the metadata the package's notebook (simplecell.ipynb) gives its pipeline
        "etype": "cADpyr",
        "species": "rat",
        "brain_region": "SSCX",
        "builder": (
            "bluepyemodel LocalAccessPoint(emodel='simplecell', etype='cADpyr', species='rat', "
            "brain_region='SSCX', recipes_path='config/recipes.json', "
            "final_path='final.json'); evaluator = bluepyemodel.evaluation.evaluation."
            "get_evaluator_from_access_point(ap); evaluator.cell_model.freeze("
            "ap.get_emodels()[0].parameters); evaluator.cell_model.instantiate(evaluator.sim)"
        ),
    },
}


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
    """Compile the top-level .mod files of mod_dir (never subfolders) in work_dir.

    Returns work_dir, or None when the package has no mechanisms folder (simplecell uses
    NEURON's built-in hh).
    """
    if not mod_dir.is_dir():
        return None
    mods = sorted(p for p in mod_dir.glob("*.mod") if p.is_file())
    src = work_dir / "mod"
    src.mkdir(parents=True)
    for mod in mods:
        shutil.copy2(mod, src / mod.name)
    result = subprocess.run(
        [venv_tool("nrnivmodl"), "mod"],
        cwd=work_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout)
        sys.exit(f"generate.py: nrnivmodl failed in {work_dir}")
    return work_dir


def run_case(name, packages, mech_dir, out_file):
    """Build one case in a fresh Python process and write its JSON to out_file."""
    scratch = tempfile.mkdtemp(prefix="refgen-cwd-")
    try:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name,
               "--packages", str(packages), "--child-out", str(out_file)]
        if mech_dir is not None:
            cmd += ["--child-mechanisms", str(mech_dir)]
        # cwd is an empty folder: NEURON auto-loads ./x86_64 on import, which must not happen.
        subprocess.run(cmd, cwd=scratch, check=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def generate_all(packages, out_dir, names):
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="refgen-mech-") as tmp:
        compiled = {}
        for name in names:
            package = CASES[name]["package"]
            if package not in compiled:
                work = Path(tmp) / package.replace("/", "_")
                work.mkdir(parents=True)
                compiled[package] = compile_mechanisms(packages / package / "mechanisms", work)
            out_file = out_dir / f"{name}.json"
            run_case(name, packages, compiled[package], out_file)
            print(f"generate.py: wrote {out_file} ({out_file.stat().st_size} bytes)")


def first_differences(a, b, path="", limit=10):
    """Paths where two parsed JSON values differ (exact comparison), at most `limit`."""
    found = []

    def walk(x, y, p):
        if len(found) >= limit:
            return
        if type(x) is not type(y):
            found.append(f"{p}: {x!r} != {y!r}")
        elif isinstance(x, dict):
            for k in sorted(set(x) | set(y)):
                if k not in x or k not in y:
                    found.append(f"{p}/{k}: present in only one file")
                else:
                    walk(x[k], y[k], f"{p}/{k}")
        elif isinstance(x, list):
            if len(x) != len(y):
                found.append(f"{p}: length {len(x)} != {len(y)}")
            for i, (u, v) in enumerate(zip(x, y)):
                walk(u, v, f"{p}[{i}]")
        elif x != y:
            found.append(f"{p}: {x!r} != {y!r}")

    walk(a, b, path)
    return found


def check_all(packages, names):
    """Regenerate into a temporary folder and compare with the committed files.

    Everything must be identical, except the Python patch version in provenance (a warning).
    """
    failed = False
    with tempfile.TemporaryDirectory(prefix="refgen-check-") as tmp:
        generate_all(packages, Path(tmp), names)
        for name in names:
            committed = HERE / f"{name}.json"
            if not committed.exists():
                print(f"check: {name}: no committed file {committed}")
                failed = True
                continue
            old = json.loads(committed.read_text())
            new = json.loads((Path(tmp) / f"{name}.json").read_text())
            old_py = old["provenance"]["versions"].pop("python", None)
            new_py = new["provenance"]["versions"].pop("python", None)
            if old_py != new_py:
                print(f"check: {name}: warning: python {new_py} here, {old_py} in the committed file")
            diffs = first_differences(old, new)
            if diffs:
                failed = True
                print(f"check: {name}: DIFFERS from the committed file:")
                for d in diffs:
                    print(f"  {d}")
            else:
                print(f"check: {name}: identical")
    return 1 if failed else 0


# --------------------------------------------------------------------------------------------
# Child process: build one cell with the tools, read it from NEURON.
# --------------------------------------------------------------------------------------------


def build_emodelrunner(case, h):
    """Build the cell through EModelRunner's own functions; cwd must be the package root."""
    from bluepyopt import ephys
    from emodelrunner.create_cells import create_cell_using_config, get_postcell, get_precell
    from emodelrunner.load import get_release_params, get_syn_setup_params, load_config

    config = load_config(config_path=case["config"])
    role = case["role"]
    if role == "cell":
        cell = create_cell_using_config(config)
        release_params = get_release_params(config)
        emodel = config.get("Cell", "emodel")
        sim = ephys.simulators.NrnSimulator(
            dt=config.getfloat("Sim", "dt"),
            cvode_active=config.getboolean("Sim", "cvode_active"),
        )
    elif role == "postcell":
        # the same call as emodelrunner.run_synplas.run / run_pairsim.run (fixhp defaults True)
        syn_setup_params = get_syn_setup_params(
            "synapses/syn_extra_params.json",
            "synapses/cpre_cpost.json",
            config.get("Paths", "synplas_fit_params_path"),
            config.getint("Cell", "gid"),
            config.getboolean("SynapsePlasticity", "invivo"),
        )
        cell = get_postcell(config, fixhp=True, syn_setup_params=syn_setup_params)
        release_params = get_release_params(config)
        emodel = config.get("Cell", "emodel")
        sim = ephys.simulators.NrnSimulator(cvode_active=True)
    elif role == "precell":
        cell = get_precell(config, fixhp=True)
        release_params = get_release_params(config, precell=True)
        emodel = config.get("Cell", "precell_emodel")
        sim = ephys.simulators.NrnSimulator(cvode_active=True)
    else:
        raise ValueError(role)

    cell.freeze(release_params)
    cell.instantiate(sim=sim)
    return cell, emodel


def build_bluepyemodel(case, h):
    """Build the cell through BluePyEModel's access point and evaluator; cwd = package root."""
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
    cell = evaluator.cell_model
    cell.freeze(emodels[0].parameters)
    cell.instantiate(sim=evaluator.sim)
    return cell, case["emodel"]


def short_name(sec):
    """Section name without the cell template prefix ('cADpyr_L4UPC[0].soma[0]' -> 'soma[0]')."""
    name = sec.name()
    return name.split(".", 1)[1] if "." in name else name


def packaged_parameter_names(cell):
    """Names of the per-section/per-segment parameters that the package's parameter file sets."""
    from bluepyopt.ephys.parameters import NrnRangeParameter, NrnSectionParameter

    names = set()
    for param in cell.params.values():
        if isinstance(param, (NrnSectionParameter, NrnRangeParameter)):
            names.add(param.param_name)
    return sorted(names)


def segment_value(seg, name):
    """The value of `name` on seg, or None when the segment has no such attribute."""
    try:
        return float(getattr(seg, name))
    except (AttributeError, NameError, LookupError, TypeError, RuntimeError, ValueError):
        return None


def neuron_defaults(h, cell, names):
    """NEURON's own value of each name on a fresh section holding every mechanism of the cell.

    A scratch section gets every density mechanism that the model inserts anywhere (so every ion
    they use is present too); the value NEURON gives each name there, before anything is set, is
    its default. The scratch section is deleted afterwards.
    """
    suffixes = sorted({m.suffix for m in cell.mechanisms if hasattr(m, "suffix")})
    scratch = h.Section(name="refgen_defaults_scratch")
    for suffix in suffixes:
        scratch.insert(suffix)
    seg = scratch(0.5)
    defaults = {}
    for name in names:
        value = segment_value(seg, name)
        if value is not None:
            defaults[name] = value
    h.delete_section(sec=scratch)
    return defaults


def read_cell(h, cell):
    """Read sections, segments and parameter values of the instantiated cell from NEURON."""
    icell = cell.icell
    membership = {}
    for list_name in SECTION_LISTS:
        seclist = getattr(icell, list_name, None)
        if seclist is None:
            continue
        for sec in seclist:
            membership.setdefault(sec.name(), []).append(list_name)

    soma_mid = icell.soma[0](0.5)
    param_names = packaged_parameter_names(cell)
    sections, segments = [], []
    counts = {"sections": {k: 0 for k in SECTION_LISTS}, "segments": {k: 0 for k in SECTION_LISTS}}
    for sec in icell.all:
        parent = sec.parentseg()
        mechs = sorted(sec.psection()["density_mechs"].keys())
        lists = membership.get(sec.name(), [])
        sections.append({
            "name": short_name(sec),
            "lists": lists,
            "nseg": int(sec.nseg),
            "L": float(sec.L),
            "Ra": float(sec.Ra),
            "parent": None if parent is None else short_name(parent.sec),
            "parent_x": None if parent is None else float(parent.x),
            "mechanisms": mechs,
        })
        for list_name in lists:
            counts["sections"][list_name] += 1
            counts["segments"][list_name] += int(sec.nseg)
        for seg in sec:
            params = {}
            for name in param_names:
                value = segment_value(seg, name)
                if value is not None:
                    params[name] = value
            segments.append({
                "section": short_name(sec),
                "x": float(seg.x),
                "area": float(seg.area()),
                "ri": float(seg.ri()),
                "diam": float(seg.diam),
                "distance": float(h.distance(soma_mid, seg)),
                "params": params,
            })
    defaults = neuron_defaults(h, cell, param_names)
    return sections, segments, defaults, counts


def versions():
    import neuron

    return {
        "neuron": neuron.__version__,
        "EModelRunner": importlib.metadata.version("EModelRunner"),
        "bluepyopt": importlib.metadata.version("bluepyopt"),
        "bluepyemodel": importlib.metadata.version("bluepyemodel"),
        "python": platform.python_version(),
    }


def dump(document):
    """JSON with one section or segment per line: small, and diffs stay readable."""
    lines = ["{"]
    keys = list(document)
    for i, key in enumerate(keys):
        comma = "," if i + 1 < len(keys) else ""
        value = document[key]
        if isinstance(value, list):
            lines.append(f"  {json.dumps(key)}: [")
            for j, item in enumerate(value):
                item_comma = "," if j + 1 < len(value) else ""
                lines.append("    " + json.dumps(item, allow_nan=False) + item_comma)
            lines.append("  ]" + comma)
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, allow_nan=False)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def child_main(name, packages, mech_dir, out_file):
    case = CASES[name]
    import neuron
    from neuron import h

    if mech_dir is not None:
        if not neuron.load_mechanisms(str(mech_dir)):
            raise RuntimeError(f"could not load mechanisms compiled in {mech_dir}")
    # The tools resolve every path against the package root, as their run scripts do.
    os.chdir(packages / case["package"])
    if case["tool"] == "emodelrunner":
        cell, emodel = build_emodelrunner(case, h)
    else:
        cell, emodel = build_bluepyemodel(case, h)

    sections, segments, defaults, counts = read_cell(h, cell)
    document = {
        "provenance": {
            "generator": GENERATOR,
            "command": COMMAND,
            "versions": versions(),
            "package": case["package"],
            "config": case["config"],
            "builder": case["builder"],
            "licence": LICENCE,
        },
        "emodel": emodel,
        "celsius": float(h.celsius),
        "v_init": float(h.v_init),
        "sections": sections,
        "segments": segments,
        "defaults": defaults,
        "counts": counts,
    }
    Path(out_file).write_text(dump(document))


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
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    parser.add_argument("--child-mechanisms", help=argparse.SUPPRESS)
    args = parser.parse_args()
    packages = args.packages.resolve()

    if args.child:
        child_main(args.child, packages, args.child_mechanisms, args.child_out)
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
