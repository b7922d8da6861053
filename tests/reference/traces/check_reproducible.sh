#!/usr/bin/env bash
# Regenerate the reference traces into a temporary folder and compare them with the committed
# files (raw traces byte for byte, headers equal; only the Python patch version may differ, as a
# warning). Exit status 0 when they match, 1 when any file differs.
#
#   EMSWEEP_CACHE      where the packages are (default: <repo>/.cache; scripts/bootstrap.sh fills it)
#   EMSWEEP_REF_VENV   the Python environment (default: <repo>/.cache/venv; made by ../setup_venv.sh)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cache=${EMSWEEP_CACHE:-$repo/.cache}
venv=${EMSWEEP_REF_VENV:-$repo/.cache/venv}

"$repo/tests/reference/setup_venv.sh"
exec "$venv/bin/python" "$here/generate.py" --packages "$cache/packages" --check "$@"
