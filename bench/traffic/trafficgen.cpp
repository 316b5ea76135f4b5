// eclb-trafficgen: a DPDK load generator for the traffic harness (run_traffic.py). It
// sends 64-byte frames on one port (memif to eclb-dataplane or to dpdk-testpmd) as fast
// as its core allows, receives what comes back, and prints one JSON line of counters
// per second. Scenarios: `established` (ACKs over N distinct flows, visited in a
// scattered order), `synflood` (SYNs from random sources), `junk` (to a non-VIP
// address), `fullnat` (established flows to a fullnat VIP; the generator also plays the
// backends: every translated packet it receives is reflected as the backend's reply, and
// replies translated back to VIP -> client count as round trips). With several queues the
// generator spreads packets the way a NIC would: Toeplitz with abi::kRssKey over the
// tuple, queue = hash % queues (memif has no RSS of its own). Bounded: stops after
// --seconds. With --hold it then keeps the link up, without touching the rings, until
// the peer has gone (or a signal, or the hold time): the DPDK 22.11 memif PMD unmaps
// the rings when its peer disconnects, even under a worker polling them, so the peer
// (eclb-dataplane, testpmd) must stop first.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_thash.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstring>
#include <fmt/format.h>

#include "abi/rss.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

uint16_t ip_checksum(const uint8_t* header) {
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += static_cast<uint32_t>(header[i] << 8 | header[i + 1]);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

struct Template {
  uint8_t bytes[60];
};

// Ethernet / IPv4 / TCP, 54 bytes + 6 bytes of padding: a 64-byte frame on the wire, to
// 02:00:00:00:00:02 (give the peer's memif port that MAC: mac=02:00:00:00:00:02).
Template make_template(uint32_t dst_ip, uint8_t tcp_flags) {
  Template t{};
  uint8_t* f = t.bytes;
  const uint8_t dst_mac[6] = {0x02, 0, 0, 0, 0, 0x02}, src_mac[6] = {0x02, 0, 0, 0, 0, 0x10};
  std::memcpy(f, dst_mac, 6);
  std::memcpy(f + 6, src_mac, 6);
  f[12] = 0x08;
  uint8_t* ip = f + 14;
  ip[0] = 0x45;
  ip[3] = 40;
  ip[6] = 0x40;
  ip[8] = 64;
  ip[9] = 6;
  ip[16] = static_cast<uint8_t>(dst_ip >> 24);
  ip[17] = static_cast<uint8_t>(dst_ip >> 16);
  ip[18] = static_cast<uint8_t>(dst_ip >> 8);
  ip[19] = static_cast<uint8_t>(dst_ip);
  uint8_t* tcp = ip + 20;
  tcp[2] = 0;
  tcp[3] = 80;
  tcp[12] = 0x50;
  tcp[13] = tcp_flags;
  tcp[14] = 0x20;
  return t;
}

inline void fill(rte_mbuf* m, const Template& t, uint32_t src_ip, uint16_t src_port) {
  uint8_t* f = rte_pktmbuf_mtod(m, uint8_t*);
  std::memcpy(f, t.bytes, sizeof t.bytes);
  uint8_t* ip = f + 14;
  ip[12] = static_cast<uint8_t>(src_ip >> 24);
  ip[13] = static_cast<uint8_t>(src_ip >> 16);
  ip[14] = static_cast<uint8_t>(src_ip >> 8);
  ip[15] = static_cast<uint8_t>(src_ip);
  const uint16_t checksum = ip_checksum(ip);
  ip[10] = static_cast<uint8_t>(checksum >> 8);
  ip[11] = static_cast<uint8_t>(checksum);
  ip[20] = static_cast<uint8_t>(src_port >> 8);
  ip[21] = static_cast<uint8_t>(src_port);
  m->data_len = m->pkt_len = sizeof t.bytes;
}

inline uint32_t load32(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }

// The queue a NIC with eclb's RSS key would deliver this IPv4 TCP frame to.
uint16_t rss_queue(const uint8_t* frame, uint16_t queues) {
  if (queues <= 1) return 0;
  const uint8_t* ip = frame + 14;
  rte_ipv4_tuple tuple{};
  tuple.src_addr = load32(ip + 12);
  tuple.dst_addr = load32(ip + 16);
  tuple.sport = static_cast<uint16_t>(ip[20] << 8 | ip[21]);
  tuple.dport = static_cast<uint16_t>(ip[22] << 8 | ip[23]);
  const uint32_t hash = rte_softrss(reinterpret_cast<uint32_t*>(&tuple), RTE_THASH_V4_L4_LEN, eclb::abi::kRssKey);
  return static_cast<uint16_t>(hash % queues);
}

// Turns a translated client packet (local -> backend) into the backend's reply, sent
// back to the MAC it came from.
void reflect(uint8_t* frame) {
  uint8_t mac[6];
  std::memcpy(mac, frame, 6);
  std::memcpy(frame, frame + 6, 6);
  std::memcpy(frame + 6, mac, 6);
  uint8_t* ip = frame + 14;
  uint8_t address[4];
  std::memcpy(address, ip + 12, 4);
  std::memcpy(ip + 12, ip + 16, 4);
  std::memcpy(ip + 16, address, 4);
  uint8_t port[2];
  std::memcpy(port, ip + 20, 2);
  std::memcpy(ip + 20, ip + 22, 2);
  std::memcpy(ip + 22, port, 2);
  ip[10] = ip[11] = 0;
  const uint16_t checksum = ip_checksum(ip);
  ip[10] = static_cast<uint8_t>(checksum >> 8);
  ip[11] = static_cast<uint8_t>(checksum);
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const int consumed = rte_eal_init(argc, argv);
  if (consumed < 0) {
    fmt::print(stderr, "eclb-trafficgen: EAL init failed: {}\n", rte_strerror(rte_errno));
    return 1;
  }
  argc -= consumed;
  argv += consumed;
  CLI::App app{"eclb-trafficgen"};
  std::string scenario = "established";
  uint32_t flows = 1u << 20;
  double seconds = 10;
  uint16_t queues = 1;
  double hold_s = 0;
  app.add_option("--scenario", scenario)->check(CLI::IsMember({"established", "synflood", "junk", "fullnat"}));
  app.add_option("--flows", flows, "distinct flows of the established scenario")->check(CLI::Range(1u, 1u << 24));
  app.add_option("--seconds", seconds, "run time")->check(CLI::Range(0.5, 600.0));
  app.add_option("--queues", queues, "queue pairs (match the dataplane's workers on memif)")->check(CLI::Range(1, 16));
  app.add_option("--hold", hold_s,
                 "after the report, keep the link up until the peer disconnects (at most this long)")
      ->check(CLI::Range(0.0, 600.0));
  argv[0] = const_cast<char*>("eclb-trafficgen");
  CLI11_PARSE(app, argc, argv);

  rte_mempool* pool = rte_pktmbuf_pool_create("gen_pool", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
  rte_eth_conf conf{};
  bool ok = pool != nullptr && rte_eth_dev_count_avail() >= 1 && rte_eth_dev_configure(0, queues, queues, &conf) == 0;
  for (uint16_t q = 0; ok && q < queues; ++q) {
    ok = rte_eth_rx_queue_setup(0, q, 1024, rte_socket_id(), nullptr, pool) == 0 &&
         rte_eth_tx_queue_setup(0, q, 1024, rte_socket_id(), nullptr) == 0;
  }
  if (!ok || rte_eth_dev_start(0) != 0) {
    fmt::print(stderr, "eclb-trafficgen: port setup failed\n");
    return 1;
  }
  // memif needs its peer connected before traffic flows: wait for the link.
  for (int i = 0; i < 300 && !g_stop; ++i) {
    rte_eth_link link{};
    rte_eth_link_get_nowait(0, &link);
    if (link.link_status == RTE_ETH_LINK_UP) break;
    rte_delay_ms(100);
  }

  const bool junk = scenario == "junk";
  const Template tmpl = make_template(junk ? 0x0AC80001u : 0x0A000064u, scenario == "synflood" ? 0x02 : 0x10);
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t end = rte_rdtsc() + static_cast<uint64_t>(seconds * static_cast<double>(hz));
  uint64_t next_report = rte_rdtsc() + hz;
  uint64_t sent = 0, received = 0, last_sent = 0, last_received = 0, failed_alloc = 0;
  uint64_t reflected = 0, completed = 0, last_completed = 0;
  // Frames offered to the port and those it refused (its ring full): a receiver that
  // keeps up refuses none, so the generator set the pace; refusals mean the receiver did.
  uint64_t offered = 0, last_offered = 0;
  const bool fullnat = scenario == "fullnat";
  // Established flows are visited with a stride coprime to their count: every flow once
  // per round, in an order that scatters them over the balancer's flow table.
  const uint32_t stride = 2654435761u % flows | 1u;
  uint32_t flow = 0;
  uint64_t random = 0x9E3779B97F4A7C15ULL;
  rte_mbuf* burst[32];
  rte_mbuf* back[64];
  rte_mbuf* replies[16][64];  // per queue (--queues is at most 16)
  uint16_t reply_count[16] = {};
  uint16_t queue = 0;  // bursts go round-robin over the queues (memif has no RSS)
  while (!g_stop) {
    queue = static_cast<uint16_t>((queue + 1) % queues);
    const uint64_t now = rte_rdtsc();
    if (now >= end) break;
    if (rte_pktmbuf_alloc_bulk(pool, burst, 32) != 0) {
      ++failed_alloc;
    } else {
      offered += 32;
      for (auto* m : burst) {
        uint32_t src_ip;
        uint16_t src_port;
        if (scenario == "established" || fullnat) {
          flow = (flow + stride) % flows;
          src_ip = 0x64400000u | (flow >> 6);  // 100.64.0.0/10
          src_port = static_cast<uint16_t>(10000 + (flow & 63));
        } else {
          random ^= random << 13;
          random ^= random >> 7;
          random ^= random << 17;
          src_ip = 0x64400000u | static_cast<uint32_t>(random & 0x3FFFFF);
          src_port = static_cast<uint16_t>(1024 + (random >> 40) % 60000);
        }
        fill(m, tmpl, src_ip, src_port);
      }
      if (fullnat && queues > 1) {
        // Sender-side RSS: each packet on the queue the NIC would pick.
        for (auto* m : burst) {
          const uint16_t q = rss_queue(rte_pktmbuf_mtod(m, uint8_t*), queues);
          if (rte_eth_tx_burst(0, q, &m, 1) == 1) ++sent;
          else rte_pktmbuf_free(m);
        }
      } else {
        const uint16_t tx = rte_eth_tx_burst(0, queue, burst, 32);
        if (tx < 32) rte_pktmbuf_free_bulk(burst + tx, 32 - tx);
        sent += tx;
      }
    }
    const uint16_t rx = rte_eth_rx_burst(0, queue, back, 64);
    received += rx;
    if (fullnat) {
      // Replies leave in one burst per queue: a TX call per packet made the generator,
      // not the balancer, the limit of this scenario.
      for (uint16_t i = 0; i < rx; ++i) {
        uint8_t* frame = rte_pktmbuf_mtod(back[i], uint8_t*);
        if (frame[14 + 16] == 100) {  // to a client (100.64.0.0/10): a round trip completed
          ++completed;
          rte_pktmbuf_free(back[i]);
          continue;
        }
        reflect(frame);  // to a backend: answer as the backend
        const uint16_t q = rss_queue(frame, queues);
        replies[q][reply_count[q]++] = back[i];
      }
      for (uint16_t q = 0; q < queues; ++q) {
        if (reply_count[q] == 0) continue;
        const uint16_t tx = rte_eth_tx_burst(0, q, replies[q], reply_count[q]);
        reflected += tx;
        if (tx < reply_count[q]) rte_pktmbuf_free_bulk(replies[q] + tx, reply_count[q] - tx);
        reply_count[q] = 0;
      }
    } else if (rx != 0) {
      rte_pktmbuf_free_bulk(back, rx);
    }
    if (now >= next_report) {
      fmt::print("{{\"sent_pps\": {}, \"offered_pps\": {}, \"received_pps\": {}, \"round_trips_pps\": {}, "
                 "\"sent\": {}, \"offered\": {}, \"received\": {}, \"reflected\": {}, \"round_trips\": {}}}\n",
                 sent - last_sent, offered - last_offered, received - last_received, completed - last_completed, sent,
                 offered, received, reflected, completed);
      std::fflush(stdout);
      last_sent = sent;
      last_offered = offered;
      last_received = received;
      last_completed = completed;
      next_report += hz;
    }
  }
  // Stop sending, then keep receiving for a moment: what is still in flight is counted.
  // Going quiet does not make a disconnect safe for the peer (its idle RX polling crashes
  // too when the rings are unmapped); --hold below does.
  const uint64_t drain_end = rte_rdtsc() + hz / 3;
  while (rte_rdtsc() < drain_end) {
    for (uint16_t q = 0; q < queues; ++q) {
      const uint16_t rx = rte_eth_rx_burst(0, q, back, 64);
      for (uint16_t i = 0; i < rx; ++i) completed += fullnat && rte_pktmbuf_mtod(back[i], uint8_t*)[14 + 16] == 100;
      if (rx != 0) rte_pktmbuf_free_bulk(back, rx);
      received += rx;
    }
  }
  fmt::print(stderr, "eclb-trafficgen: sent {} received {} reflected {} round trips {} (alloc failures {})\n", sent,
             received, reflected, completed, failed_alloc);
  if (hold_s > 0) {
    // Idle and connected: the peer may now stop its workers and disconnect. Only the
    // link state is read (the PMD's own flag), never the rings.
    fmt::print(stderr, "eclb-trafficgen: holding the link until the peer disconnects (at most {} s)\n", hold_s);
    const uint64_t hold_end = rte_rdtsc() + static_cast<uint64_t>(hold_s * static_cast<double>(hz));
    while (!g_stop && rte_rdtsc() < hold_end) {
      rte_eth_link link{};
      rte_eth_link_get_nowait(0, &link);
      if (link.link_status != RTE_ETH_LINK_UP) break;
      rte_delay_us_sleep(10000);
    }
  }
  rte_eth_dev_stop(0);
  rte_eth_dev_close(0);
  rte_eal_cleanup();
  return 0;
}
