#!/usr/bin/env bash
# The nginx image and eclb, side by side on the same gateways with the same certificate
# and environment.env: agent_client.py must see exactly the same behaviour from both.
# nginx (Debian's, configured like the image by lib/nginx_image.py) holds 10.99.0.101;
# `eclb-control --env-file environment.env`, with cert.crt and certkey.key beside the
# file as in the image, holds the VIP 10.99.0.100.
# Usage: nginx_parity_test.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export ECLB_BIN=$(cd "$1" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "FAIL: needs root (namespaces)"; echo "0 passed, 1 failed"; exit 1; }
export TOPO_PREFIX="eclbn$$-"
source "$here/../lib/topology.sh"
work=$(mktemp -d /dev/shm/eclb-parity-XXXXXX)
cleanup() { topo_down; rm -rf "$work"; }
trap cleanup EXIT
topo_up l7
lb=$(topo_ns lb)
cli=$(topo_ns cli)
NGINX_IP=10.99.0.101
ip netns exec "$lb" ip addr add "$NGINX_IP/24" dev lbn0
passed=0 failed=0
check() {  # NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "PASS: $name"; passed=$((passed + 1)); else echo "FAIL: $name"; failed=$((failed + 1)); fi
}
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; exit $?; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=watchers.test \
  -addext subjectAltName=DNS:watchers.test -keyout "$work/certkey.key" -out "$work/cert.crt" 2>/dev/null
GATEWAYS="10.99.0.21:8080 10.99.0.22:8080 10.99.0.23:8080"
cat > "$work/environment.env" <<ENV
GATEWAY_LIST="$GATEWAYS"
DNS_NAME=watchers.test
ECLB_VIP=$TOPO_VIP
ENV
cat > "$work/base.yaml" <<YAML
tables: { segment: $work/tables }
control: { admin_socket: $work/admin.sock, metrics: "off" }
pools:
  gateways:
    health: { check: websocket, path: /agent, interval_ms: 300, timeout_ms: 250, rise: 1, fall: 2 }
    backends: []
YAML
PYTHONPATH="$here/../lib" /usr/bin/python3 -c "
import sys
from nginx_image import nginx_conf
work, listen, gateways = sys.argv[1:4]
open(f'{work}/nginx.conf', 'w').write(nginx_conf(gateways.split(), 'watchers.test', f'{work}/cert.crt',
                                                 f'{work}/certkey.key', listen, work))
" "$work" "$NGINX_IP" "$GATEWAYS"

for i in 1 2 3; do
  ip netns exec "$(topo_ns gw$i)" /usr/bin/python3 "$here/../lib/ws_gateway.py" --name "vm$i" --lifetime 300 \
    > "$work/gw$i.log" 2>&1 &
done
ip netns exec "$lb" nginx -c "$work/nginx.conf" -g 'daemon off;' > "$work/nginx.log" 2>&1 &
ip netns exec "$lb" "$ECLB_BIN/control/daemon/eclb-control" --env-file "$work/environment.env" \
  --config "$work/base.yaml" > "$work/eclb-control.log" 2>&1 &

ready() {  # ADDRESS: a pinned request through it reaches each gateway
  local i
  for i in 1 2 3; do
    ip netns exec "$cli" curl -s -m 2 --cacert "$work/cert.crt" --resolve "watchers.test:443:$1" \
      "https://watchers.test/vm$i/" | grep -q "\"vm$i\"" || return 1
  done
}
for _ in $(seq 1 75); do ready "$TOPO_VIP" && ready "$NGINX_IP" && break; sleep 0.2; done
check "nginx (like the image) serves all three gateways" ready "$NGINX_IP"
check "eclb-control --env-file with the image's cert.crt/certkey.key serves all three gateways" ready "$TOPO_VIP"

run_client() {
  ip netns exec "$cli" /usr/bin/python3 "$here/agent_client.py" "$1" --name watchers.test --ca "$work/cert.crt" \
    --client "$TOPO_CLIENT_IP"
}
nginx_view=$(run_client "$NGINX_IP" 2>&1)
eclb_view=$(run_client "$TOPO_VIP" 2>&1)
echo "nginx: $nginx_view"
echo "eclb:  $eclb_view"
expected_spread='"spread": ["vm1", "vm2", "vm3"]'
check "the client script ran against nginx and saw every behaviour" grep -qF "$expected_spread" <<<"$nginx_view"
check "eclb behaves exactly like the nginx image for the same client script" [ "$nginx_view" = "$eclb_view" ]
if [ "$failed" -gt 0 ]; then tail -5 "$work/nginx-error.log" "$work/eclb-control.log" 2>/dev/null; fi
finish
