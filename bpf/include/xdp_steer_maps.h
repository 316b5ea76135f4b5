/* Shared between xdp_steer.bpf.c, eclb-dataplane (which fills the maps) and the tests:
 * key layouts and counters of the steering program. Addresses are 16 bytes, IPv4 in the
 * first 4 with the rest zero, as in the table region. Map names are part of the
 * contract: eclb-dataplane finds the maps by name on the program its af_xdp port loaded. */
#pragma once

#include <linux/types.h>

#define ECLB_STEER_L4_MAP "eclb_l4_vips"
#define ECLB_STEER_ADDRESS_MAP "eclb_dp_addrs"
#define ECLB_STEER_COUNTER_MAP "eclb_steer_cnt"

/* An L4 VIP: TCP or UDP to this address and port goes to DPDK. */
struct eclb_steer_l4_key {
  __u8 address[16];
  __u16 port_be;
  __u8 family;   /* 4 or 6 */
  __u8 protocol; /* IPPROTO_TCP or IPPROTO_UDP */
};

/* An address the dataplane answers for. */
struct eclb_steer_address_key {
  __u8 address[16];
  __u8 family;
  __u8 pad[3];
};

enum eclb_steer_address_flags {
  /* The dataplane's own address or a fullnat source address: every packet to it. */
  ECLB_STEER_ADDRESS_LOCAL = 1,
  /* An L4 VIP's address: ARP/ND for it, ICMP to it, and the L4 VIPs of eclb_l4_vips.
   * Anything else to it (an L7 VIP on another port, ssh) stays with the kernel. */
  ECLB_STEER_ADDRESS_VIP = 2,
};

enum eclb_steer_counter {
  ECLB_STEER_TO_DPDK_L4 = 0,        /* TCP/UDP to an L4 VIP */
  ECLB_STEER_TO_DPDK_LOCAL = 1,     /* anything to a local / fullnat address */
  ECLB_STEER_TO_DPDK_NEIGHBOUR = 2, /* ARP or ND about a dataplane address */
  ECLB_STEER_TO_DPDK_ICMP = 3,      /* ICMP / ICMPv6 to a VIP address */
  ECLB_STEER_TO_KERNEL = 4,         /* everything else */
  /* The host's routing sessions with its router: BFD control (UDP 3784 single hop, 4784
   * multihop) and BGP (TCP port 179 either way) to a host address. The kernel's (BIRD's),
   * but only while the dataplane holds the queue's AF_XDP socket: a dead dataplane takes
   * BFD down, so the router routes around the host, and BGP cannot come back (BIRD
   * re-establishes BGP without waiting for BFD) until a dataplane runs again. */
  ECLB_STEER_TO_KERNEL_ROUTING = 5,
  ECLB_STEER_ROUTING_DROPPED = 6,   /* of those, dropped: no dataplane on the queue */
  ECLB_STEER_COUNTERS = 7,
};
