# Network-namespace topology for eclb integration tests and the demo (source this file).
#
#   <p>cli  [cli0  10.99.0.10]   ─┐
#   <p>lb   [lbn0  no kernel IP]  ─┼─ <p>sw: br0     VIP 10.99.0.100 (answered by eclb-dataplane,
#                                 │                  or with "l7" by the lb kernel for eclb-control)
#   <p>gw1  [gw0   10.99.0.21]   ─┤
#   <p>gw2  [gw0   10.99.0.22]   ─┤
#   <p>gw3  [gw0   10.99.0.23]   ─┘
#
# Every namespace name starts with $TOPO_PREFIX (default "eclb-$$-"), so parallel runs
# never collide and teardown removes exactly what setup made. Checksum offloads are off on
# every veth (DPDK on a veth sees partial checksums otherwise; ../shared/LAB.md 3.2); the
# LB namespace's kernel is kept silent with an nftables netdev ingress drop.
# All traffic stays inside these namespaces.

TOPO_PREFIX=${TOPO_PREFIX:-eclb-$$-}
source "$(dirname "${BASH_SOURCE[0]}")/reap_stale.sh"
TOPO_VIP=10.99.0.100
TOPO_LB_IP=10.99.0.2
TOPO_LB_HOST_IP=10.99.0.3  # "steer": the LB host's own address (kernel)
TOPO_LB_MAC=02:99:00:00:00:02
TOPO_CLIENT_IP=10.99.0.10
TOPO_GATEWAYS=${TOPO_GATEWAYS:-3}

topo_ns() { echo "${TOPO_PREFIX}$1"; }

_topo_port() {  # NS IFNAME MAC [ADDR/LEN]
  local ns; ns=$(topo_ns "$1")
  local peer="s${RANDOM}${RANDOM}"
  peer=${peer:0:15}
  ip netns add "$ns"
  ip link add "$2" netns "$ns" address "$3" type veth peer name "$peer" netns "$(topo_ns sw)"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
    net.ipv4.ip_forward=0 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 || true
  ip netns exec "$(topo_ns sw)" ethtool -K "$peer" tx off tso off gso off gro off >/dev/null 2>&1 || true
  if [ -n "${4:-}" ]; then ip netns exec "$ns" ip addr add "$4" dev "$2"; fi
  ip netns exec "$ns" ip link set "$2" up
  ip netns exec "$(topo_ns sw)" ip link set "$peer" master br0 up
}

# topo_up [dsr|l7|steer]: with "dsr", gateways hold the VIP on lo and decapsulate with
# XDP (eclb-xdp-decap from $ECLB_BIN/bpf must exist); with "l7", the LB namespace's
# kernel holds the VIP (no dataplane: eclb-control's L7 proxy answers it); with "steer",
# the LB kernel has 10.99.0.3 and the VIP on lo, sharing lbn0 with an af_xdp dataplane.
topo_up() {
  local mode=${1:-}
  reap_stale_namespaces
  local sw; sw=$(topo_ns sw)
  ip netns add "$sw"
  ip netns exec "$sw" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip netns exec "$sw" ip link add br0 type bridge stp_state 0 forward_delay 0
  ip netns exec "$sw" ip link set br0 up
  _topo_port cli cli0 02:99:00:00:00:10 "$TOPO_CLIENT_IP/24"
  _topo_port lb lbn0 "$TOPO_LB_MAC"
  local lb; lb=$(topo_ns lb)
  if [ "$mode" = l7 ]; then
    # The L7 proxy of eclb-control serves the VIP through the kernel's own stack.
    ip netns exec "$lb" ip addr add "$TOPO_VIP/24" dev lbn0
  elif [ "$mode" = steer ]; then
    # A VM's NIC shared by host and dataplane: the kernel has its own address and holds
    # the VIP for the L7 proxy; the XDP steering program decides who gets what.
    ip netns exec "$lb" ip addr add "$TOPO_LB_HOST_IP/24" dev lbn0
    ip netns exec "$lb" ip addr add "$TOPO_VIP/32" dev lo
  else
    ip netns exec "$lb" nft add table netdev lbguard
    ip netns exec "$lb" nft add chain netdev lbguard ingress \
      "{ type filter hook ingress device lbn0 priority 0; policy drop; }"
  fi
  local i
  for i in $(seq 1 "$TOPO_GATEWAYS"); do
    _topo_port "gw$i" gw0 "02:99:00:00:00:2$i" "10.99.0.2$i/24"
    if [ "$mode" = dsr ]; then
      local gw; gw=$(topo_ns "gw$i")
      ip netns exec "$gw" ip addr add "$TOPO_VIP/32" dev lo
      ip netns exec "$gw" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
        net.ipv4.conf.lo.rp_filter=0
      ip netns exec "$gw" "$ECLB_BIN/bpf/eclb-xdp-decap" attach gw0 >/dev/null
    fi
  done
}

# Kills every process in the topology's namespaces (by PID, never by name), then deletes them.
topo_down() {
  local ns name pids
  for name in cli lb $(seq -f 'gw%g' 1 "$TOPO_GATEWAYS") sw; do
    ns=$(topo_ns "$name")
    ip netns list 2>/dev/null | grep -q "^$ns\b" || continue
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -n "$pids" ] && kill $pids 2>/dev/null
    for _ in $(seq 1 25); do
      [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
      sleep 0.2
    done
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  true
}
