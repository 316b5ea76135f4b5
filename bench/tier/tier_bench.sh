#!/usr/bin/env bash
# Tier benchmark: new DSR connections per second through a tier of 1, 2 and 3 announcing
# eclb hosts behind a BIRD router's ECMP, in one run, in the namespaces of
# tests/integration/tier (tier_topology.sh, tier_lab.py), which this script creates and
# removes. Writes $OUT/tier_bench.json. Usage: tier_bench.sh BUILD_DIR [OUT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export ECLB_BIN=$(cd "$1" && pwd)
out=${2:-/tmp/eclb-results}
mkdir -p "$out"
tier="$here/../../tests/integration/tier"
export TIER_PREFIX="eclbtb$$-"
source "$tier/tier_topology.sh"
trap tier_down EXIT
tier_up 3
ip netns exec "$(tier_ns cli)" /usr/bin/python3 "$here/tier_bench.py" --bin "$ECLB_BIN" --prefix "$TIER_PREFIX" \
  --out "$out/tier_bench.json"
