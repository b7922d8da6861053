#!/usr/bin/env bash
# Regenerate the replay references (replay.py) into a temporary folder and compare them with the
# committed files in replay/, byte for byte. Exit status 0 when every file matches, 1 otherwise.
#
#   EMSWEEP_CACHE      where the packages are (default: <repo>/.cache; scripts/bootstrap.sh fills it)
#   EMSWEEP_REF_VENV   the Python environment (default: <repo>/.cache/venv; made by
#                      tests/reference/setup_venv.sh)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cache=${EMSWEEP_CACHE:-$repo/.cache}
venv=${EMSWEEP_REF_VENV:-$repo/.cache/venv}

"$repo/tests/reference/setup_venv.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$venv/bin/python" "$here/replay.py" "$cache/packages" "$tmp/replay"
if diff -r -q "$here/replay" "$tmp/replay"; then
  echo "check_replay: every file reproduced"
else
  echo "check_replay: the files above differ" >&2
  exit 1
fi
