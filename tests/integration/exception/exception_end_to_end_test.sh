#!/usr/bin/env bash
# The exception path end to end (see exception_driver.py): eclb-dataplane owns the LB's
# NIC entirely (af_packet on lbn0, whose kernel side is muted, standing in for a vfio
# NIC); a net_tap port gives the LB's kernel its interface back.
# Usage: exception_end_to_end_test.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export ECLB_BIN=$(cd "$1" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "FAIL: needs root (namespaces)"; echo "0 passed, 1 failed"; exit 1; }
export TOPO_PREFIX="eclbx$$-"
source "$here/../lib/topology.sh"
trap topo_down EXIT
topo_up
for i in 1 2 3; do
  ip netns exec "$(topo_ns gw$i)" /usr/bin/python3 "$here/../lib/ws_gateway.py" --name "vm$i" --lifetime 300 \
    >/dev/null 2>&1 &
done
ip netns exec "$(topo_ns cli)" /usr/bin/python3 "$here/exception_driver.py" --bin "$ECLB_BIN" --lb-netns "$(topo_ns lb)"
