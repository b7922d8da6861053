#!/usr/bin/env bash
# Population benchmark: NEURON 9.0.2 (benches/population_neuron.py, EModelRunner's own classes)
# against `emsweep run` on the same N parameter sets of the SSCx sample e-model (cADpyr_L4UPC,
# Step_150, fixed step), one core each (taskset -c 0), one after the other:
#   1. cargo build --release (before anything is timed);
#   2. emsweep draws the population: N sets uniform within the bounds, seed 11
#      ($OUT/sample/population.csv: label,<final.json keys>...);
#   3. NEURON simulates every row in one process (cell built, run and destroyed per row);
#   4. emsweep runs the population as one batch, f64 then f32 (soma traces into .dat files);
#   5. emsweep runs N packages, one per row (copies of the package with that row's final.json),
#      f64 then f32;
#   6. a table of CPU (user + sys) and wall seconds with speed-ups against NEURON, and the
#      spike times of the population runs (soma, -20 mV upward crossings, interpolated, as
#      NEURON's side computes them) compared with NEURON's per label: f64 must agree within
#      1e-6 ms (the script fails otherwise); f32 is reported (0.05 ms is the usual bar).
#
# What each time covers: NEURON's totals are the row loop inside its process (cell setup +
# simulation + teardown for every row; compiling the mechanisms and Python/NEURON start-up are
# outside, printed apart). emsweep's are its whole process under /usr/bin/time (start-up,
# reading the package(s) and the population, simulation, and writing its outputs, the .dat
# traces of step 4 included).
#
# Usage (repository root or anywhere): bash benches/sweep_vs_neuron.sh [N]   (N = 12 by default)
# Environment: PYTHON (default .cache/venv/bin/python, made by tests/reference/setup_venv.sh),
# EMSWEEP_PACKAGES (default .cache/packages, made by scripts/bootstrap.sh), OUT (a folder to keep
# every output in; default a temporary folder, removed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-12}"
case "$N" in
  '' | *[!0-9]* | 0) echo "usage: $0 [N > 0]" >&2; exit 2 ;;
esac
PYTHON="${PYTHON:-.cache/venv/bin/python}"
EMSWEEP_PACKAGES="${EMSWEEP_PACKAGES:-$PWD/.cache/packages}"
PKG="$EMSWEEP_PACKAGES/emodelrunner/sscx_sample_dir"
EMODEL=cADpyr_L4UPC
PROTOCOL=Step_150
EMSWEEP=target/release/emsweep
# shellcheck source=benches/lib.sh
source benches/lib.sh
bench_out
[ -d "$PKG" ] || { echo "sweep_vs_neuron: no package at $PKG (scripts/bootstrap.sh)" >&2; exit 1; }
[ -x "$PYTHON" ] || { echo "sweep_vs_neuron: no $PYTHON (tests/reference/setup_venv.sh)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "sweep_vs_neuron: /usr/bin/time is needed (apt-get install time)" >&2; exit 1; }
export OMP_NUM_THREADS=1 RAYON_NUM_THREADS=1

say() { printf 'sweep_vs_neuron: %s\n' "$*" >&2; }

# step NAME CMD...: CMD's output into $OUT/NAME.log, shown if CMD fails
step() {
  local name=$1
  shift
  if ! "$@" >"$OUT/$name.log" 2>&1; then
    say "$name failed ($OUT/$name.log):"
    cat "$OUT/$name.log" >&2
    exit 1
  fi
}

# timed NAME CMD...: step NAME under /usr/bin/time; "wall user sys" (seconds) into $OUT/NAME.time
timed() {
  local name=$1
  shift
  step "$name" /usr/bin/time -f '%e %U %S' -o "$OUT/$name.time" "$@"
}

# 1. build first, so that compiling overlaps nothing that is timed
cargo build --release

# the package without its duplicate Step_150 (benches/lib.sh)
sscx_copy "$PKG" "$OUT/package"
PKG="$OUT/package"

# 2. the population
say "drawing $N parameter sets (seed 11)..."
step sample "$EMSWEEP" run --protocols "$PROTOCOL" --sample "$N" --seed 11 --emodel "$EMODEL" \
  --record none --out "$OUT/sample" "$PKG"
POP="$OUT/sample/population.csv"
[ -f "$POP" ] || { say "emsweep wrote no $POP"; exit 1; }
rows=$(($(grep -c . "$POP" || true) - 1))
[ "$rows" -eq "$N" ] || { say "$POP has $rows rows, expected $N"; exit 1; }

# 3. NEURON, every row in one process
say "NEURON: $N rows (one process, core 0)..."
step neuron taskset -c 0 "$PYTHON" benches/population_neuron.py "$PKG" "$POP" "$OUT/neuron.json" \
  --protocol "$PROTOCOL" --emodel "$EMODEL"

# 4. emsweep, the population as one batch
for precision in f64 f32; do
  bits=${precision#f}
  say "emsweep: population of $N, $precision (one thread, core 0)..."
  timed "pop$bits" taskset -c 0 "$EMSWEEP" run --threads 1 --precision "$precision" \
    --protocols "$PROTOCOL" --population "$POP" --emodel "$EMODEL" --record soma \
    --dat-dir "$OUT/dat$bits" --out "$OUT/pop$bits" "$PKG"
done

# 5. emsweep, N packages (row_K: the package with row K's values in its final.json)
step packages "$PYTHON" benches/population_neuron.py --write-packages "$PKG" "$POP" "$OUT/pkgs" \
  --emodel "$EMODEL"
for precision in f64 f32; do
  bits=${precision#f}
  say "emsweep: $N packages, $precision (one thread, core 0)..."
  timed "pkg$bits" taskset -c 0 "$EMSWEEP" run --threads 1 --precision "$precision" \
    --protocols "$PROTOCOL" --record soma --out "$OUT/pkg$bits" "$OUT/pkgs"
done

# 6. the table and the spike-time check
"$PYTHON" - "$OUT" "$N" "$EMODEL" "$PROTOCOL" <<'EOF'
import glob
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, "benches")
from vs_neuron import spike_times  # the crossings NEURON's side uses

out, n, emodel, protocol = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
neuron = json.loads((out / "neuron.json").read_text())
dt = neuron["dt_ms"]


def times(name):
    # /usr/bin/time writes "Command exited with non-zero status" first when a command fails
    last = (out / f"{name}.time").read_text().strip().splitlines()[-1]
    wall, user, system = (float(x) for x in last.split())
    return user + system, wall


runs = [("NEURON (setup + simulate)", (neuron["total_cpu_s"], neuron["total_wall_s"]))]
runs += [(f"emsweep population {p}", times(f"pop{p[1:]}")) for p in ("f64", "f32")]
runs += [(f"emsweep {n} packages {p}", times(f"pkg{p[1:]}")) for p in ("f64", "f32")]
ref_cpu, ref_wall = runs[0][1]
print()
print(f"{n} x {emodel} {protocol} ({neuron['compartments']} compartments, {neuron['steps']} steps "
      f"of {dt} ms), one core each; NEURON {neuron['neuron_version']}, "
      f"EModelRunner {neuron['emodelrunner_version']}")
print()
print("| run                          |  CPU [s] | wall [s] | vs NEURON (CPU) | vs NEURON (wall) |")
print("|------------------------------|---------:|---------:|----------------:|-----------------:|")


def ratio(ref, x):  # /usr/bin/time counts in 0.01 s
    return f"{ref / x:.2f}" if x > 0 else "-"


for name, (cpu, wall) in runs:
    print(f"| {name:<28} | {cpu:8.3f} | {wall:8.3f} | {ratio(ref_cpu, cpu):>15} "
          f"| {ratio(ref_wall, wall):>16} |")
setup = sum(r["setup_s"] for r in neuron["rows"])
print()
print(f"NEURON apart: simulate only {neuron['simulate_cpu_s']:.3f} s CPU / "
      f"{neuron['simulate_wall_s']:.3f} s wall, setup {setup:.3f} s wall (all rows); "
      f"start-up {neuron['startup_s']:.2f} s and compiling {neuron['compile_s']:.1f} s outside "
      f"its totals. emsweep: whole processes (outputs written included).")


def check(dat_dir):
    """Worst spike-time difference against NEURON over the rows, and the problems found."""
    worst, problems = 0.0, []
    for row in neuron["rows"]:
        label = row["label"]
        found = sorted(glob.glob(str(dat_dir / f"{glob.escape(emodel)}.{glob.escape(label)}."
                                           f"{glob.escape(protocol)}.*.dat")))
        if len(found) > 1:
            found = [f for f in found if ".soma" in Path(f).name] or found
        if len(found) != 1:
            problems.append(f"{label}: {len(found)} .dat files")
            continue
        data = np.loadtxt(found[0], ndmin=2)
        t, v = data[:, 0], data[:, 1]
        drift = float(np.max(np.abs(t - np.arange(len(t)) * dt)))
        if len(t) != neuron["steps"] + 1 or drift > 1e-6:
            problems.append(f"{label}: {len(t)} samples, |t - i dt| up to {drift:g} ms")
            continue
        ours, theirs = spike_times(v.tolist(), dt), row["spike_times_ms"]
        if len(ours) != len(theirs):
            problems.append(f"{label}: {len(ours)} spikes, NEURON {len(theirs)}")
            continue
        worst = max([worst] + [abs(a - b) for a, b in zip(ours, theirs)])
    return worst, problems


failed = False
print()
for precision, bar, strict in (("f64", 1e-6, True), ("f32", 0.05, False)):
    worst, problems = check(out / f"dat{precision[1:]}")
    good = not problems and worst < bar
    verdict = "ok" if good else ("FAILED" if strict else "over the bar")
    print(f"spike times, population {precision}: worst |emsweep - NEURON| = {worst:.3e} ms over "
          f"the {n - len(problems)} of {n} rows that have NEURON's spike count and samples "
          f"(bar {bar:g} ms): {verdict}")
    for p in problems:
        print(f"  {p}")
    failed |= strict and not good
summary = {"rows": n, "runs": {name: {"cpu_s": c, "wall_s": w} for name, (c, w) in runs}}
(out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
sys.exit(1 if failed else 0)
EOF
