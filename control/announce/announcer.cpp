// Announcement decisions carried out through BIRD (see announcer.h).
#include "control/announce/announcer.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "common/log.h"

namespace eclb::ctl {
namespace {

constexpr std::chrono::milliseconds kBirdTimeout{2000};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Writes `text` to `path` through a temporary file and rename: BIRD never reads half.
Result<void> write_atomically(const std::string& path, const std::string& text) {
  const std::string temporary = fmt::format("{}.tmp.{}", path, getpid());
  FILE* file = std::fopen(temporary.c_str(), "w");
  if (file == nullptr) return make_error("cannot write {}: {}", temporary, std::strerror(errno));
  const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  const bool synced = std::fflush(file) == 0 && fsync(fileno(file)) == 0;
  std::fclose(file);
  if (!written || !synced || std::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(temporary.c_str());
    return make_error("cannot write {}: {}", path, why);
  }
  return success();
}

}  // namespace

Announcer::Announcer(const AnnounceConfig& config) : config_(config), bird_(config.bird_socket, kBirdTimeout) {
  if (!enabled()) return;
  // A previous run's decision stands until this one's evaluation says otherwise.
  told_ = parse_include(read_file(config_.include_path));
  for (const IpAddress& address : told_) {
    log::info("announce", "address={} adopted from {}", address.to_string(), config_.include_path);
  }
}

void Announcer::configure(const AnnounceConfig& config) {
  const bool moved = config.bird_socket != config_.bird_socket || config.include_path != config_.include_path;
  config_ = config;
  bird_ = BirdClient(config.bird_socket, kBirdTimeout);
  if (moved) pushed_once_ = false;  // tell the (new) BIRD at the next evaluation
}

void Announcer::withdraw(const std::string& vip) {
  if (vip.empty()) withdrawn_all_ = true;
  else withdrawn_.insert(vip);
}

void Announcer::announce(const std::string& vip) {
  if (vip.empty()) {
    withdrawn_all_ = false;
    withdrawn_.clear();
  } else {
    withdrawn_.erase(vip);
  }
}

void Announcer::evaluate(AnnounceInputs inputs) {
  if (!enabled()) return;
  inputs.withdrawn_all = withdrawn_all_;
  inputs.withdrawn = withdrawn_;
  inputs.min_up = config_.min_up;
  inputs.heartbeat_timeout_ms = config_.heartbeat_timeout_ms;
  for (const IpAddress& address : told_) inputs.announced.insert(address.to_string());
  const std::vector<AddressVerdict> verdicts = decide_announcements(inputs);

  std::set<IpAddress> wanted;
  for (const AddressVerdict& verdict : verdicts) {
    if (verdict.announce) wanted.insert(verdict.address);
  }
  if (wanted != told_ || !pushed_once_) {
    if (auto pushed = push(wanted); !pushed) {
      if (pushed.error().message != bird_error_) log::error("announce", "{}", pushed.error().message);
      bird_error_ = pushed.error().message;
    } else {
      if (!bird_error_.empty()) log::info("announce", "BIRD takes the announcements again");
      bird_error_.clear();
      pushed_once_ = true;
      told_ = wanted;
    }
  }

  // The state as shown: each address with what BIRD was told and since when.
  const auto now = std::chrono::system_clock::now();
  std::map<IpAddress, AddressState> previous;
  for (AddressState& state : state_) previous.emplace(state.verdict.address, std::move(state));
  state_.clear();
  for (const AddressVerdict& verdict : verdicts) {
    AddressState state;
    state.verdict = verdict;
    state.announced = told_.contains(verdict.address);
    const auto before = previous.find(verdict.address);
    const bool changed = before == previous.end() || before->second.announced != state.announced;
    state.since = changed ? now : before->second.since;
    if (changed && (before != previous.end() || state.announced)) {
      log::info("announce", "address={} {} reason=\"{}\"", verdict.address.to_string(),
                state.announced ? "announced" : "withdrawn", verdict.reason);
    }
    state_.push_back(std::move(state));
  }
}

Result<void> Announcer::push(const std::set<IpAddress>& announced) {
  if (auto written = write_atomically(config_.include_path, render_include(announced)); !written) return written;
  return bird_.configure();
}

std::string Announcer::render_include(const std::set<IpAddress>& announced) {
  std::string v4, v6;
  for (const IpAddress& address : announced) {
    (address.is_v6() ? v6 : v4) += fmt::format("  route {}/{} blackhole;\n", address.to_string(), address.is_v6() ? 128 : 32);
  }
  return fmt::format(
      "# Written by eclb-control: the VIP addresses this host announces now. Do not edit;\n"
      "# include it from bird.conf and export protocols eclb_vips4 / eclb_vips6 to the routers.\n"
      "protocol static eclb_vips4 {{\n  ipv4;\n{}}}\n"
      "protocol static eclb_vips6 {{\n  ipv6;\n{}}}\n",
      v4, v6);
}

std::set<IpAddress> Announcer::parse_include(const std::string& text) {
  std::set<IpAddress> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const size_t route = line.find("route ");
    if (route == std::string::npos) continue;
    const size_t start = route + 6;
    const size_t slash = line.find('/', start);
    if (slash == std::string::npos) continue;
    if (auto address = IpAddress::parse(line.substr(start, slash - start)); address) out.insert(*address);
  }
  return out;
}

}  // namespace eclb::ctl
