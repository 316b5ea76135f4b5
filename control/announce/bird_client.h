// BirdClient: BIRD 2's control socket, the protocol birdc speaks. Each reply line starts
// with a 4-digit code; "DDDD-" continues a reply, "DDDD " ends it, a leading space
// continues the previous line; 8xxx and 9xxx are errors. One short connection per
// command, with a timeout: BIRD serves many clients, and eclb-control must never hang
// on it. Blocking, for the control thread's rare calls (a change of what is announced,
// an operator's query).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace eclb::ctl {

struct BirdLine {
  int code = 0;
  std::string text;
};

// A row of `show protocols`.
struct BirdProtocol {
  std::string name, proto, table, state, since, info;
};

// A row of `show bfd sessions`.
struct BirdBfdSession {
  std::string address, interface, state, since;
};

class BirdClient {
 public:
  BirdClient(std::string socket_path, std::chrono::milliseconds timeout)
      : socket_path_(std::move(socket_path)), timeout_(timeout) {}

  // `configure`: BIRD re-reads its config (and the include eclb-control wrote). The
  // error names BIRD's complaint.
  Result<void> configure() const;
  Result<std::vector<BirdProtocol>> protocols() const;
  Result<std::vector<BirdBfdSession>> bfd_sessions() const;

  // One command's reply lines (the greeting read and dropped); an error for a reply
  // code of 8xxx/9xxx.
  Result<std::vector<BirdLine>> command(std::string_view line) const;

  // Reply parsing, exposed for the tests: the lines of a buffer that holds a whole
  // reply, and whether it does.
  static bool complete(std::string_view buffer);
  static std::vector<BirdLine> parse(std::string_view buffer);

 private:
  std::string socket_path_;
  std::chrono::milliseconds timeout_;
};

}  // namespace eclb::ctl
