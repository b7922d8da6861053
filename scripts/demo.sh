#!/usr/bin/env bash
# The main job on the bundled example packages and the downloaded real packages.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$here/scripts/bootstrap.sh"
cache=${EMSWEEP_CACHE:-$here/.cache}
cd "$here"
cargo run --release --locked -- check examples "$cache/packages" "$@"
