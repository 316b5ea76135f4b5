// SPDX-License-Identifier: GPL-2.0
/* Gateway-side decapsulation of eclb DSR traffic in XDP, for gateways whose kernel has no
 * ipip / ip6tnl / fou devices: IPv4-in-IPv4 (protocol 4), IPv6-in-IPv6 (next header 41) and
 * GUE variant 1 (inner IP right after a UDP header to gue_port). The outer IP (and UDP)
 * header is removed and the inner packet goes up the stack as if received directly, so
 * the gateway answers the client from the VIP (which it holds on lo).
 * Frames with a VLAN tag, IP options on the outer header or IPv6 extension headers are
 * passed untouched. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xdp_decap_maps.h"

/* UDP destination port of GUE, host order; set by the loader before load. */
const volatile __u16 gue_port = 6080;

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, ECLB_DECAP_COUNTERS);
  __type(key, __u32);
  __type(value, __u64);
} decap_stats SEC(".maps");

static __always_inline int count(__u32 counter, int verdict) {
  __u64 *value = bpf_map_lookup_elem(&decap_stats, &counter);
  if (value) *value += 1;
  return verdict;
}

/* Removes `outer` bytes after the Ethernet header and sets the new ethertype. */
static __always_inline int strip(struct xdp_md *ctx, __u32 outer, __u16 inner_proto, __u32 counter) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr eth;
  if (data + sizeof(eth) > data_end) return count(ECLB_DECAP_MALFORMED, XDP_DROP);
  __builtin_memcpy(&eth, data, sizeof(eth));
  if (bpf_xdp_adjust_head(ctx, (int)outer)) return count(ECLB_DECAP_MALFORMED, XDP_DROP);
  data = (void *)(long)ctx->data;
  data_end = (void *)(long)ctx->data_end;
  if (data + sizeof(eth) > data_end) return count(ECLB_DECAP_MALFORMED, XDP_DROP);
  eth.h_proto = bpf_htons(inner_proto);
  __builtin_memcpy(data, &eth, sizeof(eth));
  return count(counter, XDP_PASS);
}

/* GUE variant 1: the first nibble of the payload is the inner IP version. */
static __always_inline int gue_inner(void *payload, void *data_end, __u16 *proto) {
  if (payload + 1 > data_end) return -1;
  __u8 version = *(__u8 *)payload >> 4;
  if (version == 4) *proto = ETH_P_IP;
  else if (version == 6) *proto = ETH_P_IPV6;
  else return -1;
  return 0;
}

SEC("xdp")
int xdp_decap(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return count(ECLB_DECAP_PASS, XDP_PASS);
  __u16 proto = 0;

  if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end || ip->ihl != 5) return count(ECLB_DECAP_PASS, XDP_PASS);
    if (ip->frag_off & bpf_htons(0x3FFF)) return count(ECLB_DECAP_PASS, XDP_PASS);
    if (ip->protocol == IPPROTO_IPIP) {
      struct iphdr *inner = (void *)(ip + 1);
      if ((void *)(inner + 1) > data_end || inner->version != 4) return count(ECLB_DECAP_MALFORMED, XDP_DROP);
      return strip(ctx, sizeof(*ip), ETH_P_IP, ECLB_DECAP_IPIP);
    }
    if (ip->protocol == IPPROTO_UDP) {
      struct udphdr *udp = (void *)(ip + 1);
      if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(gue_port)) return count(ECLB_DECAP_PASS, XDP_PASS);
      if (gue_inner(udp + 1, data_end, &proto)) return count(ECLB_DECAP_MALFORMED, XDP_DROP);
      return strip(ctx, sizeof(*ip) + sizeof(*udp), proto, ECLB_DECAP_GUE);
    }
    return count(ECLB_DECAP_PASS, XDP_PASS);
  }

  if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr *ip6 = (void *)(eth + 1);
    if ((void *)(ip6 + 1) > data_end) return count(ECLB_DECAP_PASS, XDP_PASS);
    if (ip6->nexthdr == IPPROTO_IPV6) {
      struct ipv6hdr *inner = (void *)(ip6 + 1);
      if ((void *)(inner + 1) > data_end || inner->version != 6) return count(ECLB_DECAP_MALFORMED, XDP_DROP);
      return strip(ctx, sizeof(*ip6), ETH_P_IPV6, ECLB_DECAP_IP6IP6);
    }
    if (ip6->nexthdr == IPPROTO_UDP) {
      struct udphdr *udp = (void *)(ip6 + 1);
      if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(gue_port)) return count(ECLB_DECAP_PASS, XDP_PASS);
      if (gue_inner(udp + 1, data_end, &proto)) return count(ECLB_DECAP_MALFORMED, XDP_DROP);
      return strip(ctx, sizeof(*ip6) + sizeof(*udp), proto, ECLB_DECAP_GUE);
    }
  }
  return count(ECLB_DECAP_PASS, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
