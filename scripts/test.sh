#!/usr/bin/env bash
# The whole test suite: bootstrap (idempotent), then every test of the workspace.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$here/scripts/bootstrap.sh"
cd "$here"
cargo test --workspace --locked "$@"
