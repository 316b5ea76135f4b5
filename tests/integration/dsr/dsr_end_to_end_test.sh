#!/usr/bin/env bash
# DSR end to end in namespaces: client, balancer (eclb-dataplane on a veth), three
# gateways running real TCP servers and decapsulating with XDP. Runs IPIP over af_packet
# and GUE over af_xdp. Usage: dsr_end_to_end_test.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export ECLB_BIN=$(cd "$1" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "FAIL: needs root (namespaces, XDP)"; echo "0 passed, 1 failed"; exit 1; }
export TOPO_PREFIX="eclbd$$-"
source "$here/../lib/topology.sh"
trap topo_down EXIT
status=0
for run in "dsr-ipip af_packet" "dsr-gue af_xdp"; do
  set -- $run
  echo "== $1 through $2"
  topo_down
  topo_up dsr
  for i in 1 2 3; do
    ip netns exec "$(topo_ns gw$i)" /usr/bin/python3 "$here/../lib/gateway_server.py" --name "gw$i" --lifetime 300 \
      >/dev/null 2>&1 &
  done
  ip netns exec "$(topo_ns cli)" /usr/bin/python3 "$here/dsr_driver.py" --bin "$ECLB_BIN" --lb-netns "$(topo_ns lb)" \
    --mode "$1" --pmd "$2" || status=1
done
exit $status
