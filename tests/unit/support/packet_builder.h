// PacketBuilder: small synthetic frames for fast-path tests (Ethernet, optional VLAN,
// IPv4/IPv6, TCP/UDP/ICMP) with correct lengths and checksums, built by hand so tests
// do not depend on the code under test.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace eclb::test {

inline uint16_t inet_checksum(const uint8_t* data, size_t length, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < length; i += 2) sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (length & 1) sum += static_cast<uint32_t>(data[length - 1] << 8);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

struct FrameSpec {
  std::string src = "198.51.100.1";
  std::string dst = "10.0.0.100";
  uint8_t protocol = 6;
  uint16_t src_port = 40000;
  uint16_t dst_port = 80;
  uint8_t tcp_flags = 0x02;  // SYN
  std::vector<uint8_t> payload;
  int vlan = -1;
  bool dont_fragment = true;
  uint8_t icmp_type = 8;
  std::vector<uint8_t> tcp_options;  // padded with end-of-options to a multiple of 4
};

// TCP options: `leading` NOPs, then MSS `mss` (odd NOP counts put it across checksum words).
inline std::vector<uint8_t> mss_option(uint16_t mss, int leading = 0) {
  std::vector<uint8_t> options(static_cast<size_t>(leading), 1);
  options.insert(options.end(), {2, 4, static_cast<uint8_t>(mss >> 8), static_cast<uint8_t>(mss)});
  return options;
}

inline void put16(std::vector<uint8_t>& out, uint16_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value));
}

// An Ethernet frame carrying the IPv4 or IPv6 packet described by `spec`.
inline std::vector<uint8_t> build_frame(const FrameSpec& spec) {
  const bool v6 = spec.src.find(':') != std::string::npos;
  std::vector<uint8_t> frame{0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x10};
  if (spec.vlan >= 0) {
    put16(frame, 0x8100);
    put16(frame, static_cast<uint16_t>(spec.vlan));
  }
  put16(frame, v6 ? 0x86DD : 0x0800);
  std::vector<uint8_t> l4;
  if (spec.protocol == 6) {
    put16(l4, spec.src_port);
    put16(l4, spec.dst_port);
    for (uint8_t b : {0, 0, 3, 0xE8, 0, 0, 0, 0}) l4.push_back(b);
    std::vector<uint8_t> options = spec.tcp_options;
    while (options.size() % 4) options.push_back(0);
    l4.push_back(static_cast<uint8_t>((20 + options.size()) / 4 << 4));
    l4.push_back(spec.tcp_flags);
    for (uint8_t b : {0x20, 0, 0, 0, 0, 0}) l4.push_back(b);
    l4.insert(l4.end(), options.begin(), options.end());
  } else if (spec.protocol == 17) {
    put16(l4, spec.src_port);
    put16(l4, spec.dst_port);
    put16(l4, static_cast<uint16_t>(8 + spec.payload.size()));
    put16(l4, 0);
  } else {
    l4 = {spec.icmp_type, 0, 0, 0, 0, 1, 0, 1};
  }
  l4.insert(l4.end(), spec.payload.begin(), spec.payload.end());
  uint8_t src[16] = {}, dst[16] = {};
  inet_pton(v6 ? AF_INET6 : AF_INET, spec.src.c_str(), src);
  inet_pton(v6 ? AF_INET6 : AF_INET, spec.dst.c_str(), dst);
  const size_t address_bytes = v6 ? 16 : 4;
  // L4 checksum over the pseudo-header (ICMPv4: none).
  uint32_t pseudo = 0;
  if (spec.protocol != 1) {
    for (size_t i = 0; i < address_bytes; i += 2) pseudo += (src[i] << 8 | src[i + 1]) + (dst[i] << 8 | dst[i + 1]);
    pseudo += spec.protocol + static_cast<uint32_t>(l4.size());
  }
  const size_t checksum_at = spec.protocol == 6 ? 16 : spec.protocol == 17 ? 6 : 2;
  const uint16_t checksum = inet_checksum(l4.data(), l4.size(), pseudo);
  l4[checksum_at] = static_cast<uint8_t>(checksum >> 8);
  l4[checksum_at + 1] = static_cast<uint8_t>(checksum);
  if (v6) {
    for (uint8_t b : {0x60, 0, 0, 0}) frame.push_back(b);
    put16(frame, static_cast<uint16_t>(l4.size()));
    frame.push_back(spec.protocol);
    frame.push_back(61);
    frame.insert(frame.end(), src, src + 16);
    frame.insert(frame.end(), dst, dst + 16);
  } else {
    std::vector<uint8_t> ip{0x45, 0};
    put16(ip, static_cast<uint16_t>(20 + l4.size()));
    put16(ip, 7);
    put16(ip, spec.dont_fragment ? 0x4000 : 0);
    ip.push_back(61);
    ip.push_back(spec.protocol);
    put16(ip, 0);
    ip.insert(ip.end(), src, src + 4);
    ip.insert(ip.end(), dst, dst + 4);
    const uint16_t ip_checksum = inet_checksum(ip.data(), ip.size());
    ip[10] = static_cast<uint8_t>(ip_checksum >> 8);
    ip[11] = static_cast<uint8_t>(ip_checksum);
    frame.insert(frame.end(), ip.begin(), ip.end());
  }
  frame.insert(frame.end(), l4.begin(), l4.end());
  return frame;
}

}  // namespace eclb::test
