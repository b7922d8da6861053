#!/usr/bin/env bash
# Bootstrap: install what emsweep needs on Debian 12 and download the real e-model packages.
# Idempotent: a second run installs and downloads nothing. Both README commands call it.
#
#   EMSWEEP_CACHE   where downloads and unpacked packages go (default: <repo>/.cache)
#
# The packages are CC-BY-NC-SA 4.0 (Blue Brain Project / EPFL): we download them, never commit them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${EMSWEEP_CACHE:-$here/.cache}
say() { printf 'bootstrap: %s\n' "$*" >&2; }

# --- system packages ---------------------------------------------------------------------------
# chromium: tests/report.rs opens report.html in it (headless)
debs=(ca-certificates curl unzip pkg-config libhdf5-dev mesa-vulkan-drivers libvulkan1 chromium)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- real e-model packages -----------------------------------------------------------------------
# name | url | sha256 | what to unpack (archive-relative folder) -> packages/<dest>
pkgdir=$cache/packages
if [ -f "$pkgdir/.complete" ]; then
  exit 0
fi
mkdir -p "$cache/downloads"
fetch() { # url sha256 file
  local url=$1 sum=$2 file=$cache/downloads/$3
  if [ ! -f "$file" ] || ! echo "$sum  $file" | sha256sum -c --status; then
    say "downloading $3"
    curl -fsSL --retry 3 -o "$file.part" "$url"
    mv "$file.part" "$file"
  fi
  if ! echo "$sum  $file" | sha256sum -c --status; then
    say "checksum mismatch for $file (expected $sum)"; rm -f "$file"; exit 1
  fi
}
fetch https://files.pythonhosted.org/packages/77/a0/3f441612a59d9cac203e47ab252857b791fce6fe3038b34351eae2328d84/EModelRunner-1.2.5-py3-none-any.whl \
  018f7a41ca597eed28c29caecab99f6ae3a56c825554409d996526af7f6543bd EModelRunner-1.2.5-py3-none-any.whl
fetch https://files.pythonhosted.org/packages/65/c3/c29d7c65d007852026b2b738f381b1a2ff475a19202c9253ade67b60926f/bluepyemodel-1.0.50-py3-none-any.whl \
  31edcf0b62aaf4304744a3b6ae59ab3536022f71cc837c1c996db7b2bbab53a4 bluepyemodel-1.0.50-py3-none-any.whl
fetch https://files.pythonhosted.org/packages/cb/ba/87e339c239fe18bc3520f62eee62b43c1f7dd5c2d128f86ffa5b6c7b44ca/bluepyopt-1.14.26.tar.gz \
  105a0e810c2cb49b96f5ea38d9faa88614d67e046a19699699bf2b85c4d7b37b bluepyopt-1.14.26.tar.gz

tmp=$(mktemp -d "$cache/unpack.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rm -rf "$pkgdir"
mkdir -p "$pkgdir/emodelrunner" "$pkgdir/bluepyemodel" "$pkgdir/bluepyopt"
unzip -q "$cache/downloads/EModelRunner-1.2.5-py3-none-any.whl" 'examples/*' -d "$tmp/emr"
mv "$tmp/emr/examples/"{sscx_sample_dir,thalamus_sample_dir,synplas_sample_dir} "$pkgdir/emodelrunner/"
unzip -q "$cache/downloads/bluepyemodel-1.0.50-py3-none-any.whl" 'examples/L5PC/*' 'examples/simplecell/*' -d "$tmp/bpem"
mv "$tmp/bpem/examples/"{L5PC,simplecell} "$pkgdir/bluepyemodel/"
tar -xzf "$cache/downloads/bluepyopt-1.14.26.tar.gz" -C "$tmp" bluepyopt-1.14.26/examples/l5pc
mv "$tmp/bluepyopt-1.14.26/examples/l5pc" "$pkgdir/bluepyopt/"
cat > "$pkgdir/README" <<TXT
Real e-model packages, downloaded by scripts/bootstrap.sh from the Python package registry:
  emodelrunner/  EModelRunner 1.2.5 wheel, examples/ (CC-BY-NC-SA 4.0, Blue Brain Project / EPFL)
  bluepyemodel/  bluepyemodel 1.0.50 wheel, examples/L5PC and examples/simplecell (CC-BY-NC-SA 4.0)
  bluepyopt/     bluepyopt 1.14.26 sdist, examples/l5pc (LGPL-3.0 / see its LICENSE files)
Not part of emsweep; do not commit.
TXT
touch "$pkgdir/.complete"
say "packages ready in $pkgdir"
