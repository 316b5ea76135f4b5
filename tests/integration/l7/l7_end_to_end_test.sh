#!/usr/bin/env bash
# eclb-control's L7 proxy end to end in namespaces (see l7_driver.py): eclb-control in
# the LB namespace holding the VIP, three WebSocket gateways, clients in their own.
# Usage: l7_end_to_end_test.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export ECLB_BIN=$(cd "$1" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "FAIL: needs root (namespaces)"; echo "0 passed, 1 failed"; exit 1; }
export TOPO_PREFIX="eclbl$$-"
source "$here/../lib/topology.sh"
trap topo_down EXIT
topo_up l7
ip netns exec "$(topo_ns cli)" /usr/bin/python3 "$here/l7_driver.py" --bin "$ECLB_BIN" --lb-netns "$(topo_ns lb)" \
  --gw-netns "$(topo_ns gw1)" "$(topo_ns gw2)" "$(topo_ns gw3)"
