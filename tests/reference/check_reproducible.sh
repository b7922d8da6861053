#!/usr/bin/env bash
# Regenerate reference data into a temporary folder and compare it with the committed files (every
# value must be identical; only the Python patch version may differ, as a warning). Exit status 0
# when every folder matches, 1 when any file differs.
#
#   bash tests/reference/check_reproducible.sh [FOLDER...]   # default: geometry stimulus probe traces features search
#
#   EMSWEEP_CACHE      where the packages are (default: <repo>/.cache; scripts/bootstrap.sh fills it)
#   EMSWEEP_REF_VENV   the Python environment (default: <repo>/.cache/venv; made by setup_venv.sh)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${EMSWEEP_CACHE:-$repo/.cache}
venv=${EMSWEEP_REF_VENV:-$repo/.cache/venv}

folders=("$@")
[ ${#folders[@]} -gt 0 ] || folders=(geometry stimulus probe traces features search)
[ -n "${EMSWEEP_REF_VENV:-}" ] || "$here/setup_venv.sh"
status=0
for f in "${folders[@]}"; do
  echo "== $f"
  "$venv/bin/python" "$here/$f/generate.py" --packages "$cache/packages" --check || status=1
done
exit "$status"
