#!/usr/bin/env bash
# The main job: simulate the bundled example packages with their own protocols and the standard
# templates (`emsweep run --protocols package,step,ramp`: threshold searches, traces.h5, .dat files,
# run.json, scores.json, features.csv and report.html under $EMSWEEP_OUT, default ./emsweep-out),
# then read and build every downloaded real package (`emsweep check`). Extra arguments go to
# `check`. Exits with the worse of the two codes.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$here/scripts/bootstrap.sh"
cache=${EMSWEEP_CACHE:-$here/.cache}
out=${EMSWEEP_OUT:-$here/emsweep-out}
cd "$here"
cargo build --release --locked
bin="$here/target/release/emsweep"
status=0
echo "== emsweep run examples (out: $out)"
"$bin" run --force --protocols package,step,ramp --out "$out" --dat-dir "$out/dat" examples || status=$?
echo "== emsweep check examples $cache/packages"
"$bin" check examples "$cache/packages" "$@" || { c=$?; [ "$c" -gt "$status" ] && status=$c; }
exit "$status"
