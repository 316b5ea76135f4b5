/* Shared between xdp_decap.bpf.c and its loader: the stats map's value layout. */
#pragma once

#include <linux/types.h>

enum eclb_decap_counter {
  ECLB_DECAP_IPIP = 0,      /* IPv4-in-IPv4 decapsulated */
  ECLB_DECAP_IP6IP6 = 1,    /* IPv6-in-IPv6 decapsulated */
  ECLB_DECAP_GUE = 2,       /* GUE (variant 1) decapsulated */
  ECLB_DECAP_PASS = 3,      /* not a tunnel packet: passed to the stack untouched */
  ECLB_DECAP_MALFORMED = 4, /* looked like a tunnel but was cut short or inconsistent: dropped */
  ECLB_DECAP_COUNTERS = 5,
};
