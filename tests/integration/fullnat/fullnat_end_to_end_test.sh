#!/usr/bin/env bash
# fullnat end to end in namespaces: client, balancer (eclb-dataplane on a veth through
# af_packet, or af_xdp with the steering program on a NIC it shares with the LB host's
# kernel), three completely unconfigured gateways running real TCP servers.
# Usage: fullnat_end_to_end_test.sh BUILD_DIR [af_packet|af_xdp]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export ECLB_BIN=$(cd "$1" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "FAIL: needs root (namespaces)"; echo "0 passed, 1 failed"; exit 1; }
kind=${2:-af_packet}
export TOPO_PREFIX="eclbn$$-"
source "$here/../lib/topology.sh"
trap topo_down EXIT
# No "dsr": the gateways hold no VIP and decapsulate nothing. With af_xdp the LB kernel
# keeps its own address and the VIP on lo ("steer"), as on a VM.
if [ "$kind" = af_xdp ]; then topo_up steer; else topo_up; fi
for i in 1 2 3; do
  ip netns exec "$(topo_ns gw$i)" /usr/bin/python3 "$here/../lib/gateway_server.py" --name "gw$i" --lifetime 300 \
    >/dev/null 2>&1 &
done
ip netns exec "$(topo_ns cli)" /usr/bin/python3 "$here/fullnat_driver.py" --bin "$ECLB_BIN" --lb-netns "$(topo_ns lb)" \
  --port-kind "$kind"
