// libFuzzer target: the hop wire codec (runtime/wire/hop_wire.hpp). Decoding
// any bytes must never crash, hang or allocate past its bound; a refusal always
// says why; what decodes takes no more than the bound decoded (event_bytes:
// a 2 KB zstd frame once declared 8.4 million empty events), agrees with the
// header `peek` reads, survives a re-encode unchanged, and cuts into pieces
// that cover it in order within their limits. Built by tests/fuzz/run.sh
// with clang; see tests/README.md.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "runtime/wire/hop_wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flumen;
  using namespace flumen::hop;
  // Small, so an input of a few KB can pass it (4 KB of empty headers take
  // 32 KB decoded).
  constexpr std::size_t max_decoded = 8192;
  std::string_view in{reinterpret_cast<const char*>(data), size};
  decode_error err;
  auto events = decode(in, max_decoded, err);
  if (!events) {
    if (err.what.empty()) std::abort();
    return 0;
  }
  if (event_bytes(*events) > max_decoded) std::abort();
  decode_error perr;
  auto f = peek(in, perr);
  if (!f || f->count != events->size() || f->least_event_bytes() > max_decoded)
    std::abort();
  // What decoded encodes to a payload within the bound, and back to itself.
  auto again = encode(*events, codec::none);
  if (again.size() != frame_header_bytes + encoded_size(*events)) std::abort();
  decode_error err2;
  auto back = decode(again, max_decoded, err2);
  if (!back || *back != *events) std::abort();
  // Cut with limits from the input's first bytes: pieces in order, covering
  // every event not set aside, each within both limits or a single event.
  cut_limits limits{64 + data[0] * 16u, 16 + data[1] * 8u};
  std::vector<std::size_t> oversized;
  auto pieces = cut(*events, limits, oversized);
  std::size_t next = 0;
  std::size_t o = 0;
  for (auto& p : pieces) {
    while (o < oversized.size() && oversized[o] == next) {
      ++next;
      ++o;
    }
    if (p.begin != next || p.end <= p.begin) std::abort();
    std::span<const event> s{events->data() + p.begin, p.end - p.begin};
    if (event_bytes(batch(s.begin(), s.end())) != p.event_bytes) std::abort();
    if (s.size() > 1 && (p.event_bytes > limits.max_event_bytes ||
                         p.encoded_bytes > limits.max_encoded_bytes))
      std::abort();
    next = p.end;
  }
  while (o < oversized.size() && oversized[o] == next) {
    ++next;
    ++o;
  }
  if (next != events->size() || o != oversized.size()) std::abort();
  return 0;
}
