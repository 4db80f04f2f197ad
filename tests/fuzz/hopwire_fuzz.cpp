// libFuzzer target: the hop wire codec (runtime/hop_wire.hpp). Decoding any
// bytes must never crash, hang or allocate past its bound; a refusal always
// says why, and whatever decodes survives a re-encode unchanged. Built by
// tests/fuzz/run.sh with clang; see tests/README.md.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "runtime/hop_wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flumen::hop;
  constexpr std::size_t max_payload = std::size_t{1} << 20;
  std::string_view in{reinterpret_cast<const char*>(data), size};
  decode_error err;
  auto events = decode(in, max_payload, err);
  if (!events) {
    if (err.what.empty()) std::abort();
    return 0;
  }
  // What decoded encodes to a payload within the bound, and back to itself.
  auto again = encode(*events, codec::none);
  if (again.size() != frame_header_bytes + encoded_size(*events)) std::abort();
  decode_error err2;
  auto back = decode(again, max_payload, err2);
  if (!back || *back != *events) std::abort();
  return 0;
}
