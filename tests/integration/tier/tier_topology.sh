# A tier of eclb hosts behind a router's ECMP, in network namespaces (source this file):
#
#   <p>cli [cli0 10.97.0.10] ── [rcli 10.97.0.1] <p>rtr [rlb 10.98.0.1] ──┐
#                                 BIRD: one eBGP + BFD session per host     │ <p>sw: br0
#   <p>lbN [lbn0 10.98.0.1N, MAC 02:98:00:00:00:1N]  ───────────────────────┤  (N = 1..4)
#          the kernel (BIRD, eclb-control) and an af_xdp eclb-dataplane
#          (local address 10.98.0.3N) share lbn0 through the XDP steering program
#   <p>gwN [gw0 10.98.0.2N] VIP on lo, eclb-xdp-decap, default via 10.98.0.1 ─┘ (N = 1..3)
#
# The router hashes the 5-tuple (fib_multipath_hash_policy 3, fields 0x0037: the
# source socket's own hash would re-roll on a TCP timeout and hide a blackholed flow;
# ../shared/LAB.md 8). Gateways answer clients directly through the router (DSR). All
# traffic stays inside these namespaces; tier_down kills what runs in them by PID.

TIER_PREFIX=${TIER_PREFIX:-eclbt$$-}
source "$(dirname "${BASH_SOURCE[0]}")/../lib/reap_stale.sh"
TIER_VIP=10.96.0.100
TIER_CLIENT=10.97.0.10
TIER_ROUTER=10.98.0.1

tier_ns() { echo "${TIER_PREFIX}$1"; }

_tier_ns() {  # NAME: a namespace with lo up and the usual sysctls
  local ns; ns=$(tier_ns "$1")
  ip netns add "$ns"
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

_tier_on_switch() {  # NAME IFNAME MAC ADDR/LEN: a port of namespace NAME on the switch
  local ns peer
  ns=$(tier_ns "$1")
  peer="t${RANDOM}${RANDOM}"
  peer=${peer:0:15}
  ip link add "$2" netns "$ns" address "$3" type veth peer name "$peer" netns "$(tier_ns sw)"
  ip netns exec "$ns" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 || true
  ip netns exec "$(tier_ns sw)" ethtool -K "$peer" tx off tso off gso off gro off >/dev/null 2>&1 || true
  ip netns exec "$ns" ip addr add "$4" dev "$2"
  ip netns exec "$ns" ip link set "$2" up
  ip netns exec "$(tier_ns sw)" ip link set "$peer" master br0 up
}

# tier_up HOSTS: the router, the switch, HOSTS balancer namespaces (lb1..), 3 gateways
# (with the VIP on lo and eclb-xdp-decap from $ECLB_BIN) and the client.
tier_up() {
  local hosts=$1 i ns
  reap_stale_namespaces
  _tier_ns sw
  ip netns exec "$(tier_ns sw)" ip link add br0 type bridge stp_state 0 forward_delay 0
  ip netns exec "$(tier_ns sw)" ip link set br0 up
  _tier_ns rtr
  _tier_ns cli
  local rtr cli
  rtr=$(tier_ns rtr)
  cli=$(tier_ns cli)
  ip link add rcli netns "$rtr" type veth peer name cli0 netns "$cli"
  ip netns exec "$rtr" ip addr add 10.97.0.1/24 dev rcli
  ip netns exec "$rtr" ip link set rcli up
  ip netns exec "$cli" ip addr add "$TIER_CLIENT/24" dev cli0
  ip netns exec "$cli" ip link set cli0 up
  ip netns exec "$cli" ip route add default via 10.97.0.1
  for ifname in rcli; do ip netns exec "$rtr" ethtool -K "$ifname" tx off tso off gso off gro off >/dev/null 2>&1 || true; done
  ip netns exec "$cli" ethtool -K cli0 tx off tso off gso off gro off >/dev/null 2>&1 || true
  _tier_on_switch rtr rlb 02:98:00:00:00:01 "$TIER_ROUTER/24"
  ip netns exec "$rtr" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=3 \
    net.ipv4.fib_multipath_hash_fields=0x0037
  for i in $(seq 1 "$hosts"); do tier_add_host "$i"; done
  for i in 1 2 3; do
    _tier_ns "gw$i"
    ns=$(tier_ns "gw$i")
    _tier_on_switch "gw$i" gw0 "02:98:00:00:00:2$i" "10.98.0.2$i/24"
    ip netns exec "$ns" ip route add default via "$TIER_ROUTER"
    ip netns exec "$ns" ip addr add "$TIER_VIP/32" dev lo
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
      net.ipv4.conf.lo.rp_filter=0
    ip netns exec "$ns" "$ECLB_BIN/bpf/eclb-xdp-decap" attach gw0 >/dev/null
  done
}

tier_add_host() {  # N: balancer namespace lbN on the switch
  _tier_ns "lb$1"
  _tier_on_switch "lb$1" lbn0 "02:98:00:00:00:1$1" "10.98.0.1$1/24"
}

tier_down() {
  local name ns pids
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${TIER_PREFIX}"); do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -n "$pids" ] && kill $pids 2>/dev/null
  done
  sleep 0.5
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${TIER_PREFIX}"); do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  true
}
