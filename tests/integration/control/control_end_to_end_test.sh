#!/usr/bin/env bash
# eclb-control end to end in namespaces (see control_driver.py). eclb-control runs in the
# client namespace, which reaches the gateways for its health checks.
# Usage: control_end_to_end_test.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export ECLB_BIN=$(cd "$1" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "FAIL: needs root (namespaces)"; echo "0 passed, 1 failed"; exit 1; }
export TOPO_PREFIX="eclbc$$-"
source "$here/../lib/topology.sh"
trap topo_down EXIT
topo_up
ip netns exec "$(topo_ns cli)" /usr/bin/python3 "$here/control_driver.py" --bin "$ECLB_BIN" --lb-netns "$(topo_ns lb)" \
  --gw-netns "$(topo_ns gw1)" "$(topo_ns gw2)" "$(topo_ns gw3)"
