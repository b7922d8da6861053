#!/usr/bin/env python3
"""A small optimisation driven through `emsweep run --population`, generation by generation.

The optimiser is an elitist random search (standard library only): generation 0 is drawn by
`emsweep run --sample`; every later generation keeps the best quarter of the previous one (by
total score, read from its scores.json) and fills the rest with mutated copies of them (Gaussian
steps of 10 % of each parameter's range, clipped to its bounds, which run.json lists). Each
generation is one `emsweep run` call: all its candidates are lanes of one batch.

Usage (repository root, after `cargo build --release`):
    python3 examples/optimise/random_search.py PACKAGE_DIR --emodel NAME \
        [--protocols Step_150] [--generations 4] [--size 16] [--seed 1] [--out optimise-out]
"""

import argparse
import json
import math
import os
import random
import subprocess
import sys

EMSWEEP = os.environ.get("EMSWEEP", "target/release/emsweep")


def run(args):
    print("$ emsweep " + " ".join(args), flush=True)
    done = subprocess.run([EMSWEEP] + args, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"emsweep failed ({done.returncode}):\n{done.stderr}")
    return done


def score_of(entry):
    s = entry.get("score")
    return float("inf") if not isinstance(s, (int, float)) or math.isnan(s) else s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("package")
    ap.add_argument("--emodel", required=True)
    ap.add_argument("--protocols", default="package")
    ap.add_argument("--generations", type=int, default=4)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="optimise-out")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    common = ["--protocols", a.protocols, "--emodel", a.emodel, "--record", "none"]
    best = None
    for g in range(a.generations):
        out = os.path.join(a.out, f"gen{g}")
        if g == 0:
            run(["run", "--sample", str(a.size), "--seed", str(a.seed), "--out", out]
                + common + [a.package])
        else:
            prev = os.path.join(a.out, f"gen{g - 1}")
            scores = json.load(open(os.path.join(prev, "scores.json")))
            bounds = {
                p["key"]: (p["lower"], p["upper"])
                for e in json.load(open(os.path.join(prev, "run.json")))["emodels"]
                for p in e.get("free_parameters", [])
            }
            ranked = sorted(scores.items(), key=lambda kv: score_of(kv[1]))
            elites = ranked[: max(1, a.size // 4)]
            population = {}
            for label, entry in elites:
                population[label] = {"params": entry["params"]}
            k = 0
            while len(population) < a.size:
                _, parent = elites[k % len(elites)]
                child = {}
                for key, value in parent["params"].items():
                    lo, hi = bounds[key]
                    child[key] = min(hi, max(lo, value + rng.gauss(0.0, 0.1 * (hi - lo))))
                population[f"g{g}_{k}"] = {"params": child}
                k += 1
            os.makedirs(out, exist_ok=True)
            pop_file = os.path.join(out, "candidates.json")
            json.dump(population, open(pop_file, "w"), indent=1)
            run(["run", "--population", pop_file, "--out", out] + common + [a.package])
        scores = json.load(open(os.path.join(out, "scores.json")))
        label, entry = min(scores.items(), key=lambda kv: score_of(kv[1]))
        best = (label, score_of(entry))
        print(f"generation {g}: {len(scores)} candidates, best {label} score {best[1]:.4f}",
              flush=True)
    print(f"best: {best[0]} (score {best[1]:.4f}); its parameters are in "
          f"{os.path.join(a.out, f'gen{a.generations - 1}', 'scores.json')}")


if __name__ == "__main__":
    main()
