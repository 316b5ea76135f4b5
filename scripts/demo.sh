#!/usr/bin/env bash
# The demo: installs what is needed, builds, and runs the whole system in network
# namespaces from an environment.env like the nginx image's — eclb-control (WebSocket
# health checks), eclb-dataplane (fullnat, DPDK net_af_xdp on the balancer's veth), three
# unconfigured EC gateways serving WebSocket, and real WebSocket clients — then prints
# how connections spread, a gateway dying, and the eclbctl view; then the same
# environment.env with the image's certificate: TLS offload, pins and the redirect.
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
# The demo's exit status is its own: cleaning up (killing what is left) must not change it.
cleanup() {
  local status=$?
  set +e
  topo_down
  kill $(jobs -p) 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work" /dev/hugepages/eclb-demo-flows
  exit "$status"
}
trap cleanup EXIT
topo_down

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "network namespaces: client 10.99.0.10, balancer (no kernel IP), gateways vm1-vm3 at 10.99.0.21-23:8080"
topo_up
for i in 1 2 3; do
  (ip netns exec "$(topo_ns gw$i)" /usr/bin/python3 tests/integration/lib/ws_gateway.py --name "vm$i" --lifetime 600 \
    >/dev/null 2>&1 &)
done
cat > "$work/environment.env" <<ENV
GATEWAY_LIST="10.99.0.21:8080 10.99.0.22:8080 10.99.0.23:8080"
DNS_NAME=watchers.demo.test
ECLB_VIP=10.99.0.100
ENV
cat > "$work/eclb.yaml" <<YAML
tables: { segment: $work/tables }
control: { admin_socket: $work/admin.sock, metrics: 127.0.0.1:9469 }
pools:
  gateways:
    health: { check: websocket, path: /agent, interval_ms: 500, timeout_ms: 300, rise: 2, fall: 2 }
    backends: []
dataplane:
  flows_per_worker: 65536
  flows_path: /dev/hugepages/eclb-demo-flows
  stats_path: $work/stats
  ports:
    - { id: 0, ipv4: 10.99.0.2/24 }
YAML
ln -s /dev/hugepages/eclb-demo-flows "$work/flows"
echo "environment.env (as the nginx image had it; ECLB_VIP names the balancer's address):"
sed 's/^/  /' "$work/environment.env"
echo "eclb.yaml (what the env file does not say):"
sed 's/^/  /' "$work/eclb.yaml"

step "eclb-control --env-file environment.env --config eclb.yaml; eclb-dataplane on net_af_xdp"
ip netns exec "$(topo_ns cli)" "$ECLB_BIN/control/daemon/eclb-control" --env-file "$work/environment.env" \
  --config "$work/eclb.yaml" > "$work/control.log" 2>&1 &
ip netns exec "$(topo_ns lb)" "$ECLB_BIN/dataplane/eclb-dataplane" -l 0,1 --no-pci --in-memory --log-level='lib.*:error' \
  --vdev=net_af_xdp0,iface=lbn0,start_queue=0,queue_count=1 -- --config "$work/eclb.yaml" > "$work/dataplane.log" 2>&1 &
for _ in $(seq 1 100); do grep -q "forwarding workers" "$work/dataplane.log" 2>/dev/null && break; sleep 0.1; done
sleep 1.5
grep -hE "info (control|publish|dp\.runtime: (forwarding|flow region))" "$work/control.log" "$work/dataplane.log" | cut -c25-170

ip netns exec "$(topo_ns cli)" /usr/bin/python3 scripts/demo_client.py --bin "$ECLB_BIN" --work "$work" \
  --gw2-netns "$(topo_ns gw2)"

step "TLS offload like the nginx image: the same environment.env with cert.crt and certkey.key beside it"
topo_down
topo_up l7  # this time the balancer's kernel holds the VIP: eclb-control terminates TLS there
for i in 1 2 3; do
  (ip netns exec "$(topo_ns gw$i)" /usr/bin/python3 tests/integration/lib/ws_gateway.py --name "vm$i" --lifetime 600 \
    >/dev/null 2>&1 &)
done
tls=$work/tls
mkdir -p "$tls"
cp "$work/environment.env" "$tls/"
source tests/integration/lib/certificate.sh
image_certificate "$tls" watchers.demo.test
cat > "$tls/eclb.yaml" <<YAML
tables: { segment: $tls/tables }
control: { admin_socket: $tls/admin.sock, metrics: "10.99.0.100:9469" }
pools:
  gateways:
    health: { check: websocket, path: /agent, interval_ms: 500, timeout_ms: 300, rise: 1, fall: 2 }
    backends: []
YAML
ls "$tls" | sed 's/^/  /'
ip netns exec "$(topo_ns lb)" "$ECLB_BIN/control/daemon/eclb-control" --env-file "$tls/environment.env" \
  --config "$tls/eclb.yaml" > "$tls/control.log" 2>&1 &
for _ in $(seq 1 50); do
  ip netns exec "$(topo_ns cli)" curl -s -m 1 --cacert "$tls/cert.crt" --resolve watchers.demo.test:443:10.99.0.100 \
    https://watchers.demo.test/vm3/ | grep -q vm3 && break
  sleep 0.2
done
grep -h "info l7" "$tls/control.log" | cut -c25-170
ip netns exec "$(topo_ns cli)" /usr/bin/python3 scripts/demo_l7.py --bin "$ECLB_BIN" --work "$tls"
step "done: namespaces and processes are cleaned up"
