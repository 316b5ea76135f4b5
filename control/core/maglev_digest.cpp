// SHA-256 (OpenSSL EVP) over a canonical serialization of a Maglev table.
#include "control/core/maglev_digest.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "control/core/maglev_table.h"

namespace eclb::ctl {
namespace {

void append_u32(std::vector<uint8_t>& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

}  // namespace

std::string maglev_digest(std::span<const Endpoint> members, std::span<const uint32_t> slots) {
  std::vector<uint8_t> used(members.size(), 0);
  for (const uint32_t slot : slots) {
    if (slot < members.size()) used[slot] = 1;
  }
  std::vector<std::pair<MaglevKey, uint32_t>> ranked;  // (identity, member index)
  for (uint32_t i = 0; i < members.size(); ++i) {
    if (used[i]) ranked.emplace_back(maglev_key(members[i]), i);
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<uint32_t> rank_of(members.size(), 0xFFFFFFFFu);
  for (uint32_t r = 0; r < ranked.size(); ++r) rank_of[ranked[r].second] = r;

  static constexpr char kTag[] = "eclb-maglev-digest-v1";
  std::vector<uint8_t> data(kTag, kTag + sizeof kTag);  // includes the NUL
  data.reserve(data.size() + 8 + ranked.size() * sizeof(MaglevKey) + slots.size() * 4);
  append_u32(data, static_cast<uint32_t>(slots.size()));
  append_u32(data, static_cast<uint32_t>(ranked.size()));
  for (const auto& [key, index] : ranked) data.insert(data.end(), key.begin(), key.end());
  for (const uint32_t slot : slots) append_u32(data, slot < members.size() ? rank_of[slot] : 0xFFFFFFFFu);

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex = "sha256:";
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

}  // namespace eclb::ctl
