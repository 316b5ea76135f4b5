# The nginx image and eclb side by side in an "l7" topology (source after topology.sh and
# topo_up l7), for the parity test and the L7 benchmark: the same certificate,
# environment.env and gateways. nginx (Debian's, configured like the image by
# nginx_image.py) holds 10.99.0.101; `eclb-control --env-file environment.env` with
# cert.crt and certkey.key beside the file holds the VIP 10.99.0.100.
#
# side_by_side_up WORK [PINNING]: PINNING is a command prefix for both front ends (the
# benchmark gives each `taskset -c 1`). Sets NGINX_IP and ECLB_CONTROL_PID; returns
# non-zero when either front end does not serve all three gateways within 20 s.
# side_by_side_ready ADDRESS: a pinned request through ADDRESS reaches each gateway.
# side_by_side_gateway I: (re)starts gateway vmI; its pid is SIDE_BY_SIDE_GATEWAY_PIDS[I].

SIDE_BY_SIDE_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$SIDE_BY_SIDE_LIB/certificate.sh"
NGINX_IP=10.99.0.101
SIDE_BY_SIDE_GATEWAYS="10.99.0.21:8080 10.99.0.22:8080 10.99.0.23:8080"

side_by_side_ready() {
  local i
  for i in 1 2 3; do
    ip netns exec "$(topo_ns cli)" curl -s -m 2 --cacert "$SIDE_BY_SIDE_WORK/cert.crt" \
      --resolve "watchers.test:443:$1" "https://watchers.test/vm$i/" | grep -q "\"vm$i\"" || return 1
  done
}

declare -a SIDE_BY_SIDE_GATEWAY_PIDS
side_by_side_gateway() {
  # ip netns exec execs the command: $! is the gateway itself.
  ip netns exec "$(topo_ns "gw$1")" /usr/bin/python3 "$SIDE_BY_SIDE_LIB/ws_gateway.py" --name "vm$1" \
    --lifetime 1800 >> "$SIDE_BY_SIDE_WORK/gw$1.log" 2>&1 &
  SIDE_BY_SIDE_GATEWAY_PIDS[$1]=$!
}

side_by_side_up() {
  SIDE_BY_SIDE_WORK=$1
  local work=$1 pin=${2:-} lb i
  lb=$(topo_ns lb)
  ip netns exec "$lb" ip addr add "$NGINX_IP/24" dev lbn0
  image_certificate "$work" watchers.test
  printf 'GATEWAY_LIST="%s"\nDNS_NAME=watchers.test\nECLB_VIP=%s\n' "$SIDE_BY_SIDE_GATEWAYS" "$TOPO_VIP" \
    > "$work/environment.env"
  cat > "$work/base.yaml" <<YAML
tables: { segment: $work/tables }
control: { admin_socket: $work/admin.sock, metrics: "off" }
pools:
  gateways:
    health: { check: websocket, path: /agent, interval_ms: 1000, timeout_ms: 500, rise: 1, fall: 3 }
    backends: []
YAML
  PYTHONPATH="$SIDE_BY_SIDE_LIB" /usr/bin/python3 -c "
import sys
from nginx_image import nginx_conf
work, listen, gateways = sys.argv[1:4]
open(f'{work}/nginx.conf', 'w').write(nginx_conf(gateways.split(), 'watchers.test', f'{work}/cert.crt',
                                                 f'{work}/certkey.key', listen, work, workers=1))
" "$work" "$NGINX_IP" "$SIDE_BY_SIDE_GATEWAYS"
  for i in 1 2 3; do side_by_side_gateway "$i"; done
  # shellcheck disable=SC2086
  ip netns exec "$lb" $pin nginx -c "$work/nginx.conf" -g 'daemon off;' > "$work/nginx.log" 2>&1 &
  # shellcheck disable=SC2086
  ip netns exec "$lb" $pin "$ECLB_BIN/control/daemon/eclb-control" --env-file "$work/environment.env" \
    --config "$work/base.yaml" > "$work/eclb-control.log" 2>&1 &
  ECLB_CONTROL_PID=$!
  for _ in $(seq 1 100); do side_by_side_ready "$TOPO_VIP" && side_by_side_ready "$NGINX_IP" && return 0; sleep 0.2; done
  return 1
}
