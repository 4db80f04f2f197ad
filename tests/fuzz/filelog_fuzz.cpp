// libFuzzer target: the file channel's log format. Reading a segment (a
// torn, flipped or hostile one) and decoding a record's payload must never
// crash, hang or allocate without bound: damage is counted, never trusted.
// Built by tests/fuzz/run.sh with clang; see tests/README.md.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "actors/channels/filelog/record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flumen::filelog;
  std::string_view in{reinterpret_cast<const char*>(data), size};
  std::size_t n = 0;
  // The input as records after a valid segment header: framing, torn
  // tails, implausible lengths (checksums keep most inputs from decoding).
  auto segment = encode_segment_header(0) + std::string{in};
  auto r = scan_segment(segment, [&](const scanned_record& rec) {
    flumen::batch events;
    if (decode_events(rec.payload, rec.count, events)) n += events.size();
  });
  n += r.records + r.corrupt_records + r.torn_bytes + r.abandoned_bytes;
  // The same after a version 3 header (a nonce; the rest may be a spare's
  // old contents, which the scan searches for this segment's records).
  auto v3 = encode_segment_header(0, 0, 0x5eed) + std::string{in};
  auto r3 = scan_segment(v3, [&](const scanned_record& rec) {
    flumen::batch events;
    if (decode_events(rec.payload, rec.count, events)) n += events.size();
  });
  n += r3.records + r3.corrupt_records + r3.torn_bytes + r3.abandoned_bytes +
       r3.stale_bytes;
  // The input as a payload, past the checksums: its first byte the count.
  if (!in.empty()) {
    flumen::batch events;
    if (decode_events(in.substr(1), static_cast<uint8_t>(in[0]), events))
      for (auto& e : events)
        n += e.body.size() + e.headers.size();
  }
  // And as a segment of its own (its header checked too).
  n += scan_segment(in).records;
  return n == SIZE_MAX; // keep the work observable
}
