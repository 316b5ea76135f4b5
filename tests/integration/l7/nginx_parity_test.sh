#!/usr/bin/env bash
# The nginx image and eclb, side by side on the same gateways with the same certificate
# and environment.env (lib/side_by_side.sh): agent_client.py must see exactly the same
# behaviour from both.
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
passed=0 failed=0
check() {  # NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "PASS: $name"; passed=$((passed + 1)); else echo "FAIL: $name"; failed=$((failed + 1)); fi
}
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; exit $?; }

source "$here/../lib/side_by_side.sh"
side_by_side_up "$work"
check "nginx (like the image) serves all three gateways" side_by_side_ready "$NGINX_IP"
check "eclb-control --env-file with the image's cert.crt/certkey.key serves all three gateways" \
  side_by_side_ready "$TOPO_VIP"

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
