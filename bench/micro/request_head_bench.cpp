// The request head parser of the L7 proxy (control/l7/http_message.h) fed the way a slow
// or hostile client sends it: a 16 KB head in 1-byte, 64-byte and whole pieces. Each
// iteration parses one whole head; the figure to watch is that the 1-byte case costs
// about the whole-head case times the per-call overhead, not quadratically more (the
// parser before this one re-parsed the head from its start on every read).
#include <benchmark/benchmark.h>

#include <string>

#include "control/l7/http_message.h"

namespace {

const std::string& head_of_16k() {
  static const std::string head = "GET /vm2/agent HTTP/1.1\r\nHost: watchers.example.com\r\nX-Filler: " +
                                  std::string(16000, 'x') + "\r\n\r\n";
  return head;
}

void BM_RequestHeadInPieces(benchmark::State& state) {
  const std::string& head = head_of_16k();
  const size_t piece = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    eclb::ctl::RequestParser parser(16384 + 256);
    for (size_t at = 0; at < head.size() && parser.state() == eclb::ctl::RequestParser::State::kHead; at += piece) {
      parser.feed(std::string_view(head).substr(at, piece));
    }
    if (parser.state() != eclb::ctl::RequestParser::State::kComplete) state.SkipWithError("head not parsed");
    benchmark::DoNotOptimize(parser.head().target.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * head.size()));
}
BENCHMARK(BM_RequestHeadInPieces)->Arg(1)->Arg(64)->Arg(16384 + 256)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
