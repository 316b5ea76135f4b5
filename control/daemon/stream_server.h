// StreamServer: a tiny request/response server on the EventLoop, for the admin socket
// (Unix, one JSON line in, one out) and the metrics endpoint (TCP, one HTTP GET). Each
// connection sends one request ending in `delimiter`; the handler's answer is written
// back (however long, without blocking the loop) and the connection closed. Requests
// larger than the limit, or idle past the timeout, are dropped.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "common/ip_address.h"
#include "common/result.h"
#include "control/event/event_loop.h"

namespace eclb::ctl {

class StreamServer {
 public:
  using Handler = std::function<std::string(const std::string& request)>;

  StreamServer(EventLoop& loop, std::string delimiter, Handler handler, size_t max_request = 65536);
  ~StreamServer();

  // A Unix socket at `path` with mode 0600 (its directory is created 0700 if missing);
  // with `group`, mode 0660 and that group (a missing directory: 0750, that group).
  // A stale socket file is replaced, a live one (another eclb-control) is an error.
  Result<void> listen_unix(const std::string& path, std::optional<gid_t> group = std::nullopt);
  Result<void> listen_tcp(const Endpoint& endpoint);
  uint64_t requests() const noexcept { return requests_; }

 private:
  struct Client {
    std::string in;
    std::string out;
    size_t written = 0;
    EventLoop::TimerId timer = 0;
  };

  Result<void> start(int fd);
  void accept_clients();
  void on_client(int fd, uint32_t events);
  void drop(int fd);

  EventLoop& loop_;
  std::string delimiter_;
  Handler handler_;
  size_t max_request_;
  int listen_fd_ = -1;
  std::string unix_path_;
  std::map<int, Client> clients_;
  uint64_t requests_ = 0;
};

}  // namespace eclb::ctl
