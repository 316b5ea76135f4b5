// SPDX-License-Identifier: GPL-2.0
/* The steering guard: a tc ingress program that eclb-dataplane attaches for the moment
 * it takes an af_xdp interface over from a run that was killed. Between detaching the
 * stale XDP steering program and the moment the new run's program steers (the PMD loads
 * and attaches it; then its maps are filled), every frame reaches the kernel's stack.
 * The kernel would reset a connection to a VIP address it also holds (an L7 VIP on lo)
 * and answer for nothing else: this drops what the steering maps — the stale program's,
 * reused — say is the dataplane's, so TCP retransmits it into the new run, and passes
 * the rest (ARP and ND too: the kernel answers for its own addresses). Removed as soon as
 * the new program steers. */
#include <linux/pkt_cls.h>

#include "steer_classify.h"

SEC("tc")
int tc_steer_guard(struct __sk_buff *skb) {
  const int class = steer_classify((void *)(long)skb->data, (void *)(long)skb->data_end);
  /* BFD and BGP are held too: no dataplane steers yet, so the host must not claim it forwards. */
  return class == ECLB_STEER_TO_KERNEL || class == ECLB_STEER_TO_DPDK_NEIGHBOUR ? TC_ACT_OK : TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
