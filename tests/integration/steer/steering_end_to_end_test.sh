#!/usr/bin/env bash
# XDP steering end to end (see steering_driver.py): eclb-dataplane on af_xdp with the
# steering program shares the LB namespace's NIC with its kernel, which serves host
# traffic and eclb-control's L7 proxy on the same VIP address.
# Usage: steering_end_to_end_test.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export ECLB_BIN=$(cd "$1" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "FAIL: needs root (namespaces)"; echo "0 passed, 1 failed"; exit 1; }
export TOPO_PREFIX="eclbs$$-"
source "$here/../lib/topology.sh"
trap topo_down EXIT
topo_up steer
for i in 1 2 3; do
  ip netns exec "$(topo_ns gw$i)" /usr/bin/python3 "$here/../lib/ws_gateway.py" --name "vm$i" --lifetime 300 \
    >/dev/null 2>&1 &
done
ip netns exec "$(topo_ns cli)" /usr/bin/python3 "$here/steering_driver.py" --bin "$ECLB_BIN" --lb-netns "$(topo_ns lb)"
