#!/usr/bin/env bash
# A tier of eclb hosts behind a router's ECMP, announced by BIRD with BFD, in network
# namespaces (tier_topology.sh, tier_driver.py). Usage: tier_end_to_end_test.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export ECLB_BIN=$(cd "$1" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "FAIL: needs root (namespaces, XDP)"; echo "0 passed, 1 failed"; exit 1; }
command -v bird >/dev/null || { echo "FAIL: bird (Debian bird2) is not installed: scripts/setup.sh"; echo "0 passed, 1 failed"; exit 1; }
export TIER_PREFIX="eclbt$$-"
source "$here/tier_topology.sh"
trap tier_down EXIT
tier_up 4
ip netns exec "$(tier_ns cli)" /usr/bin/python3 "$here/tier_driver.py" --bin "$ECLB_BIN" --prefix "$TIER_PREFIX" \
  --hosts 3 --spare 1 "${@:2}"
