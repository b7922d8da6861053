#!/usr/bin/env bash
# Create the Python environment of the reference generators (tests/reference/requirements.txt).
# Idempotent: when the environment already matches requirements.txt it does nothing.
#
#   EMSWEEP_REF_VENV   where the environment goes (default: <repo>/.cache/venv, git-ignored)
#   PYTHON             the interpreter to build it from (default: python3; needs Python 3.11+)
#
# The generators compile .mod files with nrnivmodl, which needs a C compiler and make
# (Debian: apt-get install build-essential).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv=${EMSWEEP_REF_VENV:-$repo/.cache/venv}
python=${PYTHON:-python3}
req=$here/requirements.txt
say() { printf 'setup_venv: %s\n' "$*" >&2; }

want=$(sha256sum "$req" | cut -d' ' -f1)
stamp=$venv/.emsweep-requirements.sha256
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  say "$python is $("$python" --version 2>&1); the pinned packages need Python 3.11 or newer (set PYTHON)"
  exit 1
fi
for tool in cc make; do
  command -v "$tool" >/dev/null || say "warning: $tool not found; nrnivmodl will fail (install build-essential)"
done

if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv with $("$python" --version 2>&1)"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
fi
say "installing $req"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
"$venv/bin/python" -c 'import neuron, emodelrunner, bluepyopt, bluepyemodel, efel' 2>/dev/null
echo "$want" > "$stamp"
say "ready: $venv"
