// SPDX-License-Identifier: GPL-2.0
/* XDP steering for eclb-dataplane's net_af_xdp ports (loaded by the PMD:
 * --vdev net_af_xdp0,iface=eth0,xdp_prog=xdp_steer.bpf.o). On a plain VM the NIC is
 * shared with the host: only what the dataplane serves goes to its AF_XDP socket;
 * everything else (ssh, the host's own traffic, health-check replies, TLS-offload VIPs
 * served by eclb-control through the kernel) stays in the kernel stack.
 *
 * To DPDK: TCP/UDP to an L4 VIP (address, port, protocol in eclb_l4_vips); anything to a
 * dataplane-local or fullnat address; ARP requests and neighbour solicitations for either
 * kind of address, and the replies to the dataplane's own (sent from its local address);
 * ICMP to a VIP address (echo, and "too big" errors quoting VIP flows). BFD and BGP to the
 * host pass only while a dataplane holds the queue. Fragments of VIP traffic
 * stay in the kernel (the dataplane drops them anyway; see the README). Frames this
 * program cannot parse go to the kernel, which is where they went before eclb.
 * eclb-dataplane fills the maps from every table generation. */
#include "steer_classify.h"

/* The verdicts when no AF_XDP socket is bound to the receiving queue: the dataplane was
 * killed and has not taken the interface over yet (a clean stop detaches the program).
 * Its traffic is dropped meanwhile, so TCP retransmits into the restarted dataplane:
 * passed to the kernel, a connection to a VIP the kernel also holds (on lo, for an L7
 * VIP) would be reset, and a fullnat reply to an address it holds too. ARP and ND still
 * pass: the kernel answers for the addresses it holds itself, with the same MAC.
 * Tests set both to XDP_TX to see which packets the program steers. */
volatile __u32 steer_fallback = XDP_DROP;
volatile __u32 neighbour_fallback = XDP_PASS;

struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u32);
} xsks_map SEC(".maps"); /* the name the af_xdp PMD fills */

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, ECLB_STEER_COUNTERS);
  __type(key, __u32);
  __type(value, __u64);
} eclb_steer_cnt SEC(".maps");

SEC("xdp")
int xdp_steer(struct xdp_md *ctx) {
  const __u32 class = steer_classify((void *)(long)ctx->data, (void *)(long)ctx->data_end);
  __u64 *count = bpf_map_lookup_elem(&eclb_steer_cnt, &class);
  if (count) *count += 1;
  if (class == ECLB_STEER_TO_KERNEL) return XDP_PASS;
  if (class == ECLB_STEER_TO_KERNEL_ROUTING) {
    /* BFD and BGP say "this host forwards" to the router: true only while a dataplane
     * holds this queue's socket (a killed one's socket leaves the map with it). Without,
     * the router's BFD session times out and it routes around the host, even when
     * eclb-control, which would withdraw the VIPs, is dead too; and BGP, which BIRD
     * would re-establish without waiting for BFD, stays down. */
    const __u32 queue = ctx->rx_queue_index;
    if (bpf_map_lookup_elem(&xsks_map, &queue)) return XDP_PASS;
    const __u32 dropped = ECLB_STEER_ROUTING_DROPPED;
    __u64 *drops = bpf_map_lookup_elem(&eclb_steer_cnt, &dropped);
    if (drops) *drops += 1;
    return XDP_DROP;
  }
  const __u32 fallback = class == ECLB_STEER_TO_DPDK_NEIGHBOUR ? neighbour_fallback : steer_fallback;
  return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, fallback);
}

char LICENSE[] SEC("license") = "GPL";
