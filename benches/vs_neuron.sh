#!/usr/bin/env bash
# Side-by-side benchmark: NEURON 9.0.2 (benches/vs_neuron.py) and emsweep's CPU back end
# (benches/vs_neuron.rs, f64 and f32) on the SSCx sample, Step_150, the same conductance variants,
# one core each. Prints cells x simulated seconds per wall second and compartment-steps per second.
#
# Usage (repository root): bash benches/vs_neuron.sh [VARIANTS]
# Environment: PYTHON (default .cache/venv/bin/python, made by tests/reference/setup_venv.sh),
# EMSWEEP_PACKAGES (default .cache/packages, made by scripts/bootstrap.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
VARIANTS="${1:-64}"
PYTHON="${PYTHON:-.cache/venv/bin/python}"
export EMSWEEP_PACKAGES="${EMSWEEP_PACKAGES:-$PWD/.cache/packages}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
# build first, so that compiling does not overlap the NEURON run
cargo bench --bench vs_neuron --no-run
echo "NEURON: $VARIANTS variants (one process, one core)..."
OMP_NUM_THREADS=1 taskset -c 0 "$PYTHON" benches/vs_neuron.py \
    "$EMSWEEP_PACKAGES/emodelrunner/sscx_sample_dir" "$OUT/neuron.json" --variants "$VARIANTS" \
    > "$OUT/neuron.log" 2>&1 || { cat "$OUT/neuron.log"; exit 1; }
echo "emsweep: $VARIANTS variants (RAYON_NUM_THREADS=1)..."
RAYON_NUM_THREADS=1 VS_NEURON_JSON="$OUT/neuron.json" VS_NEURON_VARIANTS="$VARIANTS" \
    taskset -c 0 cargo bench --bench vs_neuron
