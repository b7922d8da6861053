#!/usr/bin/env bash
# Scale benchmark: N (default 10,000) SSCx parameter sets drawn inside the bounds, under a
# 100 ms fixed-amplitude step, in one `emsweep run` on the CPU backend with soma traces kept at
# every 10th step; prints emsweep's summary (lanes, batches, throughput, failures) and the peak
# resident memory from /usr/bin/time -v, and checks that every lane was scored.
#
# The 100 ms step: a copy of the SSCx sample package whose allsteps.json `Step_150` is shortened
# (delay 20 ms, 70 ms at the same amplitude, over the same holding current, 100 ms in all); its
# features are the package's own (computed on the shorter window). The copy leaves out
# config_singlestep.ini, whose singlestep.json repeats the same Step_150 (it would run twice).
#
# Usage: bash benches/sweep_10k.sh [N]     (needs scripts/bootstrap.sh first; python3, /usr/bin/time)
# Environment: EMSWEEP_PACKAGES (default .cache/packages), OUT (keep the outputs there; default
# a temporary folder, removed at the end), THREADS (default: all cores), PRECISION (f64).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10000}"
EMSWEEP_PACKAGES="${EMSWEEP_PACKAGES:-$PWD/.cache/packages}"
PKG="$EMSWEEP_PACKAGES/emodelrunner/sscx_sample_dir"
# shellcheck source=benches/lib.sh
source benches/lib.sh
bench_out
[ -d "$PKG" ] || { echo "sweep_10k: no package at $PKG (scripts/bootstrap.sh)" >&2; exit 1; }
cargo build --release
sscx_copy "$PKG" "$OUT/pkg"
python3 - "$OUT/pkg/config/protocols/allsteps.json" <<'PY'
import json, sys
path = sys.argv[1]
d = json.load(open(path))
s = d["Step_150"]["stimuli"]
s["step"].update(delay=20.0, duration=70.0, totduration=100.0)
s["holding"].update(duration=100.0, totduration=100.0)
json.dump(d, open(path, "w"), indent=4)
PY
threads=()
[ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")
/usr/bin/time -v -o "$OUT/time.txt" target/release/emsweep run --force "${threads[@]}" \
  --precision "${PRECISION:-f64}" --protocols Step_150 --sample "$N" --seed 1 \
  --record soma --record-every 10 --out "$OUT/run" "$OUT/pkg" 2>"$OUT/stderr.txt" | tee "$OUT/summary.txt"
grep -E "Maximum resident set size|Elapsed \(wall clock\)|User time|System time" "$OUT/time.txt"
if grep -q '^error' "$OUT/stderr.txt"; then
  grep '^error' "$OUT/stderr.txt" | head -5
  echo "sweep_10k: the run reported errors ($OUT/stderr.txt)" >&2
  exit 1
fi
[ -f "$OUT/run/traces.h5" ] || { echo "sweep_10k: no traces.h5" >&2; exit 1; }
ls -l "$OUT/run"
scored=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$OUT/run/scores.json")
echo "scores.json entries: $scored of $N"
[ "$scored" -eq "$N" ]
