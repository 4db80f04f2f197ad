#pragma once

// How a batch crosses a hop (DESIGN.md, "Across processes and machines"):
// one contiguous, length-prefixed buffer per batch, optionally compressed,
// so the middleman copies one string instead of serializing every header
// and body field by field. No CAF here: the codec is fuzzed on its own.
//
//   offset  size  field
//   0       4     magic "FHB" and the wire version (1)
//   4       1     codec: 0 none, 1 lz4, 2 zstd
//   5       3     zero
//   8       4     event count (little endian, like every number here)
//   12      4     payload bytes before compression
//   16      ...   payload, compressed by the codec:
//                 per event: u32 header count, per header u32 key length,
//                 key, u32 value length, value; then u32 body length, body

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/event.hpp"

namespace flumen::hop {

/// The version of the hop protocol: the batch layout above and the message
/// set of runtime/hop.hpp. A peer speaking another one is refused on hello.
constexpr uint32_t wire_version = 1;

/// Bytes before the payload.
constexpr std::size_t frame_header_bytes = 16;

enum class codec : uint8_t { none = 0, lz4 = 1, zstd = 2 };

/// `none`, `lz4`, `zstd`; nullopt for anything else.
std::optional<codec> parse_codec(std::string_view name);
const char* to_string(codec c);

/// The batch as one buffer.
std::string encode(const batch& events, codec c = codec::none);

/// The payload size `encode` would give before compression (what the
/// receiver bounds by max_batch_bytes).
std::size_t encoded_size(const batch& events);
/// One event's share of it.
std::size_t encoded_size(const event& e);

/// Why a buffer was refused; `decode` fills it.
struct decode_error {
  enum kind_t { malformed, too_large, version } kind = malformed;
  std::string what;
};

/// The batch in `buffer`, or nullopt with `err` set. Refuses a buffer whose
/// payload exceeds `max_payload_bytes` (checked on the header, before
/// anything is decompressed or allocated; a compressed payload must be able
/// to hold the size it claims) and any buffer that does not decode to whole
/// events: never reads out of bounds, never throws. (Headers with one key
/// twice keep the last value.)
std::optional<batch> decode(std::string_view buffer,
                            std::size_t max_payload_bytes, decode_error& err);

} // namespace flumen::hop
