// Outer header construction for dsr-ipip and dsr-gue.
#include "dataplane/fastpath/encap.h"

namespace eclb::dp {

bool encapsulate(rte_mbuf* m, const PacketView& view, abi::ForwardMode mode, const TunnelParams& params) noexcept {
  if (m->nb_segs != 1) return false;
  const bool ipv6 = view.key.family == abi::AddressFamily::kIpv6;
  const bool gue = mode == abi::ForwardMode::kDsrGue;
  if (ipv6) return gue ? encapsulate_as<true, true>(m, view, params) : encapsulate_as<true, false>(m, view, params);
  return gue ? encapsulate_as<false, true>(m, view, params) : encapsulate_as<false, false>(m, view, params);
}

}  // namespace eclb::dp
