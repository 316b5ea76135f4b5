#!/usr/bin/env bash
# The demo: installs what is needed, builds, and runs eclb in network namespaces — a
# client, eclb-dataplane on a veth (af_xdp), three EC gateways running real TCP servers
# that decapsulate eclb's tunnel with XDP — then prints what happened: where each
# connection went, the Maglev table, the flows, and what moved when a gateway left.
# Run as root on Debian 12: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "building (release) ..."
scripts/build.sh build-release --buildtype=release -Dtests=disabled -Dbench=disabled >/dev/null
export ECLB_BIN=$PWD/build-release
export TOPO_PREFIX="eclb-demo-"
source tests/integration/lib/topology.sh
work=$(mktemp -d /dev/shm/eclb-demo.XXXXXX)
cleanup() { topo_down; kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work" /dev/hugepages/eclb-demo-flows; }
trap cleanup EXIT
topo_down

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "network namespaces: client 10.99.0.10, balancer (no kernel IP), gateways 10.99.0.21-23 (VIP on lo, XDP decap)"
topo_up dsr
for i in 1 2 3; do
  ip netns exec "$(topo_ns gw$i)" /usr/bin/python3 tests/integration/lib/gateway_server.py --name "gw$i" --lifetime 600 \
    >/dev/null 2>&1 &
done
cat > "$work/eclb.yaml" <<YAML
tables: { segment: $work/tables, max_vips: 16, max_backends: 256, max_table_slots: 1048576 }
pools:
  gateways:
    backends:
      - { name: gw1, address: 10.99.0.21, port: 8080 }
      - { name: gw2, address: 10.99.0.22, port: 8080 }
      - { name: gw3, address: 10.99.0.23, port: 8080 }
vips:
  - { name: watchers, address: 10.99.0.100, port: 8080, mode: dsr-ipip, pool: gateways }
dataplane:
  flows_per_worker: 65536
  flows_path: /dev/hugepages/eclb-demo-flows
  stats_path: $work/stats
  ports:
    - { id: 0, ipv4: 10.99.0.2/24 }
YAML
ln -s /dev/hugepages/eclb-demo-flows "$work/flows"
sed -n '/^pools/,$p' "$work/eclb.yaml"

step "eclb-control publishes the Maglev tables; eclb-dataplane forwards (DPDK, net_af_xdp on the balancer's veth)"
"$ECLB_BIN/control/daemon/eclb-control" --config "$work/eclb.yaml" > "$work/control.log" 2>&1 &
control=$!
ip netns exec "$(topo_ns lb)" "$ECLB_BIN/dataplane/eclb-dataplane" -l 0,1 --no-pci --in-memory --log-level='lib.*:error' \
  --vdev=net_af_xdp0,iface=lbn0,start_queue=0,queue_count=1 -- --config "$work/eclb.yaml" > "$work/dataplane.log" 2>&1 &
for _ in $(seq 1 100); do grep -q "resolved port=0 address=10.99.0.23" "$work/dataplane.log" 2>/dev/null && break; sleep 0.1; done
grep -E "info (control|publish|dp\.)" "$work/control.log" "$work/dataplane.log" | sed 's/^[^:]*://' | cut -c1-140
ip netns exec "$(topo_ns cli)" ping -c 1 -W 2 10.99.0.100 >/dev/null && echo "the VIP answers ping (and ARP) from eclb-dataplane"

ip netns exec "$(topo_ns cli)" /usr/bin/python3 scripts/demo_client.py --bin "$ECLB_BIN" --work "$work" --control-pid "$control"
step "done: namespaces and processes are cleaned up"
