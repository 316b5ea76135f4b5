#!/usr/bin/env bash
# Configures (once) and builds a meson build directory.
# Usage: scripts/build.sh BUILD_DIR [meson setup options...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: build.sh BUILD_DIR [meson options]}
shift
if [ -f "$dir/build.ninja" ]; then
  meson setup --reconfigure "$dir" "$@" >/dev/null
else
  meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir"
