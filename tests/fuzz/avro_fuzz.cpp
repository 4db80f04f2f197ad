// libFuzzer target: Flume's Avro RPC as the avro source reads it
// (runtime/avro/). The input's first byte picks the small limits and the
// path: Netty framing fed in pieces (sizes from the input), optionally
// through the zlib inflater, each message read as a handshake and a call.
// Nothing may crash, hang or allocate past its bound; a refusal always
// says why; a message never passes its limits; what a call decodes
// encodes back to a call that decodes to the same events. Built by
// tests/fuzz/run.sh with clang; see tests/README.md.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/avro/netty.hpp"
#include "runtime/avro/rpc.hpp"

namespace {

using namespace flumen;
using namespace flumen::avro;

void check_call(std::string_view payload, bool handshake) {
  limits lim;
  lim.max_value_bytes = 1024;
  lim.max_items = 64;
  reader r{payload, lim};
  try {
    if (handshake) {
      auto h = read_handshake_request(r);
      handshake_table t;
      bool established = false;
      std::string why;
      t.answer(h, established, why);
    }
    auto c = read_call(r);
    if (c.events.size() > lim.max_items) std::abort();
    std::string again;
    writer w{again};
    write_call(w, c.msg, c.events, 0, c.events.size());
    reader back{again, lim};
    auto c2 = read_call(back);
    if (c2.msg != c.msg || c2.events != c.events || !back.at_end())
      std::abort();
  } catch (const decode_error& e) {
    if (std::string_view{e.what()}.empty()) std::abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  bool zlib = data[0] & 1;
  bool handshake = data[0] & 2;
  std::size_t piece = 1 + data[1] % 64;
  frame_limits fl;
  fl.max_frames = 8;
  fl.max_frame_bytes = 512;
  fl.max_message_bytes = 1024;
  std::string_view in{reinterpret_cast<const char*>(data) + 2, size - 2};
  netty_decoder dec{fl};
  inflater inf;
  std::string plain;
  std::size_t inflated_total = 0;
  while (!in.empty() || !plain.empty()) {
    if (plain.empty()) {
      auto chunk = in.substr(0, piece);
      if (zlib) {
        std::string_view z = chunk;
        if (!inf.inflate(z, plain, 256)) {
          if (inf.error().empty()) std::abort();
          return 0;
        }
        if (plain.size() > 256) std::abort();
        inflated_total += plain.size();
        in.remove_prefix(chunk.size() - z.size());
        if (plain.empty() && z.size() == chunk.size()) break; // stuck
      } else {
        plain.assign(chunk);
        in.remove_prefix(chunk.size());
      }
    }
    auto used = dec.feed(plain);
    plain.erase(0, used);
    if (dec.failed()) {
      if (dec.error().empty()) std::abort();
      return 0;
    }
    if (dec.ready()) {
      auto m = dec.take();
      if (m.payload.size() > fl.max_message_bytes) std::abort();
      check_call(m.payload, handshake);
    } else if (used == 0 && !plain.empty()) {
      std::abort(); // a decoder that takes nothing while not ready
    }
  }
  (void)inflated_total;
  return 0;
}
