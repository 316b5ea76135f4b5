#!/usr/bin/env bash
# The nginx image and eclb, side by side on the same gateways with the same certificate
# and environment.env (lib/side_by_side.sh):
#   - agent_client.py must see the same behaviour from both, row by row
#     (compare_views.py), but for the differences docs/configuration.md documents;
#   - availability: a gateway SIGKILLed under a stream of new requests fails none of
#     them, through nginx and through eclb-control run from environment.env alone (its
#     default TCP check, connect retries and passive health).
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
while IFS= read -r line; do
  case $line in
    PASS:*) passed=$((passed + 1)); echo "$line" ;;
    FAIL:*) failed=$((failed + 1)); echo "$line" ;;
  esac
done < <(/usr/bin/python3 "$here/compare_views.py" "$nginx_view" "$eclb_view")

# --- Availability: gateway vm2 SIGKILLed after 15 of 60 new requests.
stream() {  # ADDRESS: the stream through that front end, killing vm2
  ip netns exec "$cli" /usr/bin/python3 "$here/request_stream.py" "$1" --name watchers.test --ca "$work/cert.crt" \
    --requests 60 --kill-after 15 --kill-pid "${SIDE_BY_SIDE_GATEWAY_PIDS[2]}"
}
spread_ready() {  # ADDRESS: a few unpinned requests reach all three gateways
  local seen="" i
  for i in 1 2 3 4 5 6; do
    seen+=$(ip netns exec "$cli" curl -s -m 2 --cacert "$work/cert.crt" --resolve "watchers.test:443:$1" \
      https://watchers.test/status)
  done
  for i in 1 2 3; do grep -q "\"vm$i\"" <<<"$seen" || return 1; done
}
no_failures() { /usr/bin/python3 -c 'import json, sys; r = json.loads(sys.argv[1]); sys.exit(r["failed"] != [])' "$1"; }
# The truncated 101 above made nginx mark every gateway failed for its fail_timeout
# (it retried the request on each): wait until nginx uses all three again.
for _ in $(seq 1 30); do spread_ready "$NGINX_IP" && break; sleep 0.5; done
nginx_stream=$(stream "$NGINX_IP" 2>&1)
check "nginx: vm2 killed under 60 new requests, none failed ($nginx_stream)" no_failures "$nginx_stream"
side_by_side_gateway 2
for _ in $(seq 1 50); do side_by_side_ready "$NGINX_IP" && break; sleep 0.2; done

# eclb-control from environment.env alone (the image's setup): its own table region,
# admin socket and no metrics, so that it runs beside nothing it would clash with.
kill "$ECLB_CONTROL_PID"; wait "$ECLB_CONTROL_PID" 2>/dev/null
ip netns exec "$lb" "$ECLB_BIN/control/daemon/eclb-control" --env-file "$work/environment.env" \
  --segment "$work/env-tables" --admin-socket "$work/env-admin.sock" --metrics off > "$work/env-control.log" 2>&1 &
for _ in $(seq 1 100); do side_by_side_ready "$TOPO_VIP" && break; sleep 0.2; done
ctl() { "$ECLB_BIN/control/cli/eclbctl" --segment "$work/env-tables" --admin "$work/env-admin.sock" "$@"; }
default_check() {
  ctl --json health | /usr/bin/python3 -c '
import json, sys
health = json.load(sys.stdin)
sys.exit(not (len(health) == 3 and all(b["check"] == "tcp" and b["checks"] > 0 and b["health"] == "up" for b in health)))'
}
for _ in $(seq 1 30); do default_check && break; sleep 0.2; done
check "environment.env alone: every gateway gets the default TCP check" default_check
eclb_stream=$(stream "$TOPO_VIP" 2>&1)
check "eclb (environment.env alone): vm2 killed under 60 new requests, none failed ($eclb_stream)" \
  no_failures "$eclb_stream"
check "the refused connects took vm2 down at once (passive health), logged and published" \
  grep -qE 'health: pool="gateways" backend="vm2" .*up->down check=passive' "$work/env-control.log"
pinned=$(ip netns exec "$cli" curl -s -o /dev/null -w '%{http_code}' -m 5 --cacert "$work/cert.crt" \
  --resolve "watchers.test:443:$TOPO_VIP" https://watchers.test/vm2/x)
check "a pin to the dead vm2 still fails loudly ($pinned), it never moves" [ "$pinned" = 503 ]
side_by_side_gateway 2
# A pin reaches only a gateway that is up: vm2 is back in eclb's tables.
for _ in $(seq 1 50); do side_by_side_ready "$TOPO_VIP" && break; sleep 0.2; done
check "the restarted vm2 is back through eclb (its check passed)" side_by_side_ready "$TOPO_VIP"

if [ "$failed" -gt 0 ]; then tail -5 "$work/nginx-error.log" "$work/eclb-control.log" "$work/env-control.log" 2>/dev/null; fi
finish
