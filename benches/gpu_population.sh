#!/usr/bin/env bash
# GPU population benchmark: the cost of one lane on the GPU backend alone and inside an N-lane
# population (default 1000), and the N lanes checked against the CPU backend in f32.
#
# What runs: the bundled ball-and-stick example (examples/ball_and_stick_hh, our own hh/pas
# mechanisms) under its `Step_300` protocol (300 ms, dt 0.025 ms), parameter sets drawn inside
# its bounds (`--sample`, seed 3), soma traces kept, on whatever Vulkan adapter wgpu finds
# (Mesa's lavapipe on a machine without a GPU):
#   1. `emsweep run --backend gpu --sample 1`     one lane alone;
#   2. `emsweep run --backend gpu --sample N`     N lanes (the planner packs them into batches);
#   3. `emsweep compare --backends cpu,gpu --precision f32 --sample N`: every lane of gpu-f32
#      against cpu-f32 (equal spike counts, spike times within 0.05 ms); exits 1 beyond them.
# Each of 1 and 2 is timed whole (process start to outputs written) with /usr/bin/time; the
# per-lane cost is wall time / lanes, and the ratio is one lane's cost over the population's.
#
# Usage: bash benches/gpu_population.sh [N]   (needs scripts/bootstrap.sh first; /usr/bin/time)
# Environment: OUT (keep the outputs there; default a temporary folder, removed at the end),
# PROTOCOL (default Step_300).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000}"
PROTOCOL="${PROTOCOL:-Step_300}"
# shellcheck source=benches/lib.sh
source benches/lib.sh
bench_out
cargo build --release
PKG=examples/ball_and_stick_hh
bin=target/release/emsweep
timed() { # name, then the command
  local name="$1"
  shift
  /usr/bin/time -f "%e %U %S %M" -o "$OUT/$name.time" "$@" | tee "$OUT/$name.txt"
}
timed one $bin run --force --backend gpu --protocols "$PROTOCOL" --sample 1 --seed 3 \
  --record soma --out "$OUT/one" "$PKG"
timed many $bin run --force --backend gpu --protocols "$PROTOCOL" --sample "$N" --seed 3 \
  --record soma --out "$OUT/many" "$PKG"
adapter=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['versions'].get('gpu adapter', r['backend']))" "$OUT/many/run.json")
read -r w1 u1 s1 m1 <"$OUT/one.time"
read -r wn un sn mn <"$OUT/many.time"
echo
echo "adapter: $adapter; $PROTOCOL of $PKG"
echo "| run | lanes | wall [s] | per lane [s] | peak RSS [MiB] |"
echo "|---|---:|---:|---:|---:|"
printf "| gpu, one lane | 1 | %.2f | %.4f | %d |\n" "$w1" "$w1" $((m1 / 1024))
printf "| gpu, population | %d | %.2f | %.4f | %d |\n" "$N" "$wn" "$(awk "BEGIN{print $wn / $N}")" $((mn / 1024))
printf "per-lane cost: %.1fx lower in the population\n" "$(awk "BEGIN{print $w1 * $N / $wn}")"
echo
timed compare $bin compare --force --backends cpu,gpu --precision f32 --protocols "$PROTOCOL" \
  --sample "$N" --seed 3 --record soma --out "$OUT/compare" "$PKG"
