/* SPDX-License-Identifier: GPL-2.0 */
/* Which packets of a NIC shared with the host are eclb-dataplane's: the classification
 * of the XDP steering program (xdp_steer.bpf.c), shared with the tc guard that holds the
 * dataplane's traffic while a restarted dataplane takes the interface over
 * (tc_steer_guard.bpf.c), with the two maps it reads (one definition, so the guard can
 * reuse the maps of a steering program). steer_classify() returns an enum
 * eclb_steer_counter: ECLB_STEER_TO_KERNEL, or which kind of dataplane traffic it is. */
#pragma once

#include <linux/bpf.h>
#include <linux/icmpv6.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xdp_steer_maps.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, struct eclb_steer_l4_key);
  __type(value, __u32);
} eclb_l4_vips SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, struct eclb_steer_address_key);
  __type(value, __u32); /* eclb_steer_address_flags */
} eclb_dp_addrs SEC(".maps");

struct arp_ipv4 {
  __be16 hardware;
  __be16 protocol;
  __u8 hardware_length;
  __u8 protocol_length;
  __be16 operation;
  __u8 sender_mac[6];
  __u8 sender_ip[4];
  __u8 target_mac[6];
  __u8 target_ip[4];
};

static __always_inline __u32 address_flags(const void *address, __u32 bytes, __u8 family) {
  struct eclb_steer_address_key key = {};
  __builtin_memcpy(key.address, address, 16);
  if (bytes == 4) __builtin_memset(key.address + 4, 0, 12);
  key.family = family;
  __u32 *flags = bpf_map_lookup_elem(&eclb_dp_addrs, &key);
  return flags ? *flags : 0;
}

static __always_inline int is_l4_vip(const void *address, __u32 bytes, __u8 family, __u8 protocol, __u16 port_be) {
  struct eclb_steer_l4_key key = {};
  __builtin_memcpy(key.address, address, 16);
  if (bytes == 4) __builtin_memset(key.address + 4, 0, 12);
  key.port_be = port_be;
  key.family = family;
  key.protocol = protocol;
  return bpf_map_lookup_elem(&eclb_l4_vips, &key) != 0;
}

/* TCP/UDP/ICMP to `dst` (already bounds-checked for 16 bytes of reading). */
static __always_inline int steer_ip(void *l4, void *data_end, const void *dst, __u32 bytes, __u8 family,
                                    __u8 protocol, int fragment) {
  const __u32 flags = address_flags(dst, bytes, family);
  if (flags & ECLB_STEER_ADDRESS_LOCAL) return ECLB_STEER_TO_DPDK_LOCAL;
  if (!flags && !fragment && (protocol == IPPROTO_UDP || protocol == IPPROTO_TCP)) {
    /* The host's: its routing sessions (BFD, BGP) are told apart. */
    if (l4 + 4 > data_end) return ECLB_STEER_TO_KERNEL;
    const __u16 source = bpf_ntohs(*(__u16 *)l4);
    const __u16 port = bpf_ntohs(*(__u16 *)(l4 + 2));
    const int routing = protocol == IPPROTO_UDP ? port == 3784 || port == 4784 : port == 179 || source == 179;
    return routing ? ECLB_STEER_TO_KERNEL_ROUTING : ECLB_STEER_TO_KERNEL;
  }
  if (!(flags & ECLB_STEER_ADDRESS_VIP) || fragment) return ECLB_STEER_TO_KERNEL;
  if (protocol == IPPROTO_TCP || protocol == IPPROTO_UDP) {
    if (l4 + 4 > data_end) return ECLB_STEER_TO_KERNEL;
    const __u16 port_be = *(__u16 *)(l4 + 2);
    return is_l4_vip(dst, bytes, family, protocol, port_be) ? ECLB_STEER_TO_DPDK_L4 : ECLB_STEER_TO_KERNEL;
  }
  if (protocol == IPPROTO_ICMP || protocol == IPPROTO_ICMPV6) return ECLB_STEER_TO_DPDK_ICMP;
  return ECLB_STEER_TO_KERNEL;
}

static __always_inline int steer_classify(void *data, void *data_end) {
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return ECLB_STEER_TO_KERNEL;
  void *l3 = eth + 1;
  __u16 proto = bpf_ntohs(eth->h_proto);
  if (proto == ETH_P_8021Q || proto == ETH_P_8021AD) { /* one VLAN tag */
    if (l3 + 4 > data_end) return ECLB_STEER_TO_KERNEL;
    proto = bpf_ntohs(*(__be16 *)(l3 + 2));
    l3 += 4;
  }

  if (proto == ETH_P_ARP) {
    struct arp_ipv4 *arp = l3;
    if ((void *)(arp + 1) > data_end) return ECLB_STEER_TO_KERNEL;
    if (arp->protocol != bpf_htons(ETH_P_IP) || arp->hardware_length != 6 || arp->protocol_length != 4) {
      return ECLB_STEER_TO_KERNEL;
    }
    /* Requests for any dataplane address; replies only to the dataplane's own requests,
     * which it sends from its local address. A reply to a VIP address answers the kernel
     * (a host holding an L7 VIP on lo asks from it): it must reach the kernel. */
    __u8 target[16] = {};
    __builtin_memcpy(target, arp->target_ip, 4);
    const __u32 flags = address_flags(target, 4, 4);
    const __u32 wanted = arp->operation == bpf_htons(1) ? (ECLB_STEER_ADDRESS_LOCAL | ECLB_STEER_ADDRESS_VIP)
                                                        : ECLB_STEER_ADDRESS_LOCAL;
    return (flags & wanted) ? ECLB_STEER_TO_DPDK_NEIGHBOUR : ECLB_STEER_TO_KERNEL;
  }

  if (proto == ETH_P_IP) {
    struct iphdr *ip = l3;
    if ((void *)(ip + 1) > data_end || ip->version != 4 || ip->ihl < 5) return ECLB_STEER_TO_KERNEL;
    void *l4 = l3 + ip->ihl * 4;
    if (l4 > data_end) return ECLB_STEER_TO_KERNEL;
    __u8 dst[16] = {};
    __builtin_memcpy(dst, &ip->daddr, 4);
    const int fragment = (bpf_ntohs(ip->frag_off) & 0x3fff) != 0; /* MF or an offset */
    return steer_ip(l4, data_end, dst, 4, 4, ip->protocol, fragment);
  }

  if (proto == ETH_P_IPV6) {
    struct ipv6hdr *ip6 = l3;
    if ((void *)(ip6 + 1) > data_end || ip6->version != 6) return ECLB_STEER_TO_KERNEL;
    __u8 next = ip6->nexthdr;
    void *l4 = ip6 + 1;
    int fragment = 0;
#pragma unroll
    for (int i = 0; i < 3; ++i) { /* hop-by-hop, routing, destination options, fragment */
      if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && next != IPPROTO_DSTOPTS && next != IPPROTO_FRAGMENT) break;
      if (l4 + 8 > data_end) return ECLB_STEER_TO_KERNEL;
      const __u8 header = next;
      next = *(__u8 *)l4;
      fragment |= header == IPPROTO_FRAGMENT;
      l4 += header == IPPROTO_FRAGMENT ? 8 : (*(__u8 *)(l4 + 1) + 1) * 8;
    }
    if (next == IPPROTO_ICMPV6) {
      struct icmp6hdr *icmp = l4;
      if ((void *)(icmp + 1) > data_end) return ECLB_STEER_TO_KERNEL;
      if (icmp->icmp6_type == 135) { /* neighbour solicitation: for a dataplane address? */
        __u8 *target = (void *)(icmp + 1); /* after 4 reserved bytes, which icmp6hdr covers */
        if ((void *)(target + 16) > data_end) return ECLB_STEER_TO_KERNEL;
        __u8 copy[16];
        __builtin_memcpy(copy, target, 16);
        return address_flags(copy, 16, 6) ? ECLB_STEER_TO_DPDK_NEIGHBOUR : ECLB_STEER_TO_KERNEL;
      }
      if (icmp->icmp6_type == 136) { /* advertisement: an answer to whoever solicited */
        __u8 dst[16];
        __builtin_memcpy(dst, &ip6->daddr, 16);
        return (address_flags(dst, 16, 6) & ECLB_STEER_ADDRESS_LOCAL) ? ECLB_STEER_TO_DPDK_NEIGHBOUR
                                                                        : ECLB_STEER_TO_KERNEL;
      }
    }
    __u8 dst[16];
    __builtin_memcpy(dst, &ip6->daddr, 16);
    return steer_ip(l4, data_end, dst, 16, 6, next, fragment);
  }
  return ECLB_STEER_TO_KERNEL;
}

