#!/usr/bin/env bash
# L4 benchmark: eclb-dataplane (fullnat and dsr-ipip on net_af_xdp) beside nftables DNAT,
# HAProxy (mode tcp), nginx stream and a direct run, with wrk (Connection: close and
# keep-alive) and iperf3 both ways, in the namespaces of tests/integration/lib/topology.sh, which
# this script creates and removes. Installs the load tools and the other balancers (bench
# only: the test command never needs them). Writes $OUT/l4-*.json and .png.
# Usage: l4_bench.sh BUILD_DIR [OUT] [l4_bench.py options]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export ECLB_BIN=$(cd "$1" && pwd)
out=${2:-/tmp/eclb-results}
shift; [ $# -gt 0 ] && shift
mkdir -p "$out"
out=$(cd "$out" && pwd)

packages=(wrk iperf3 haproxy libnginx-mod-stream nginx-light)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "l4 bench: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Run only inside the benchmark's namespaces: no system service may start (101: not now).
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; own_policy=1; fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$own_policy" = 1 ] && rm -f "$policy"
fi
for service in haproxy iperf3 nginx; do
  if command -v systemctl >/dev/null && systemctl is-enabled "$service" >/dev/null 2>&1; then
    systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
done

export TOPO_PREFIX="eclbl4$$-"
source "$here/../../tests/integration/lib/topology.sh"
# The namespaces, and the eclb contenders' flow table in hugepages, go however the run ends.
trap 'topo_down; rm -f "/dev/hugepages/${TOPO_PREFIX}flows"' EXIT
topo_up
# The bridge is the lab's switch: no netfilter on frames it forwards (br_netfilter's
# default in a new namespace), which cost every contender about a quarter of its bulk rate.
ip netns exec "$(topo_ns sw)" sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
  net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0
# The usual settings of a load generator and of a proxy's outgoing side: the whole port
# range, and ports in TIME_WAIT reused (timestamps keep that safe). Without them the
# client spent its CPU searching for a free port after the proxies' runs.
for ns in cli lb; do
  ip netns exec "$(topo_ns $ns)" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
done
cd "$here"
ip netns exec "$(topo_ns cli)" /usr/bin/python3 l4_bench.py --bin "$ECLB_BIN" --prefix "$TOPO_PREFIX" --out "$out" "$@"
