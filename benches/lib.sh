# Shared by the benchmark scripts (sourced, not run).

# bench_out: OUT as an absolute folder: the one given in $OUT (made if missing, kept), else a
# temporary one removed when the script exits.
bench_out() {
  if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    OUT="$(cd "$OUT" && pwd)"
  else
    OUT="$(mktemp -d)"
    trap 'rm -rf "$OUT"' EXIT
  fi
}

# sscx_copy FROM TO: a copy of the SSCx sample package without config_singlestep.ini, whose
# singlestep.json repeats Step_150 (as `Step_150@singlestep`, which `--protocols Step_150` selects
# too), so that each lane runs the protocol once, as NEURON's side does.
sscx_copy() {
  rm -rf "$2"
  cp -r "$1" "$2"
  rm -f "$2/config/config_singlestep.ini"
}
