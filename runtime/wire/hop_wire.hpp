#pragma once

// How a batch crosses a hop (DESIGN.md, "Across processes and machines"):
// one contiguous, length-prefixed buffer per batch, optionally compressed,
// so the middleman copies one string instead of serializing every header
// and body field by field. No CAF here: the codec is fuzzed on its own.
//
//   offset  size  field
//   0       4     magic "FHB" and the wire version (2)
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
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/event.hpp"

namespace flumen::hop {

/// The version of the hop protocol: the batch layout above and the message
/// set of runtime/dist/hop.hpp. A peer speaking another one is refused on
/// hello. 2: a hop names its batch by the number of its first event (1: by
/// batch number), the hello may state the sender's lowest unsettled number, and
/// `max_batch_bytes` bounds a batch's decoded size (1: its payload).
constexpr uint32_t wire_version = 2;

/// What one event and each of its headers take once decoded beyond their
/// encoded bytes (event.hpp's event_overhead less the 8 bytes of lengths
/// the encoding spends on each): a batch's decoded size (`event_bytes`) is
/// its payload plus this per event and per header.
constexpr std::size_t decoded_overhead = event_overhead - 8;

/// A receiver holds at most this many times its max_batch_bytes of one
/// sender's batches unanswered (decoded, waiting for its channels), and a
/// sender keeps at most that much unanswered.
constexpr std::size_t sender_window_batches = 4;

/// Bytes before the payload.
constexpr std::size_t frame_header_bytes = 16;

enum class codec : uint8_t { none = 0, lz4 = 1, zstd = 2 };

/// `none`, `lz4`, `zstd`; nullopt for anything else.
std::optional<codec> parse_codec(std::string_view name);
const char* to_string(codec c);

/// The batch as one buffer.
std::string encode(std::span<const event> events, codec c = codec::none);
inline std::string encode(const batch& events, codec c = codec::none) {
  return encode(std::span<const event>{events}, c);
}

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

/// A batch's frame header.
struct frame_info {
  codec compression = codec::none;
  uint32_t count = 0;         ///< events
  uint32_t payload_bytes = 0; ///< before compression
  /// The least the batch takes decoded: its payload plus decoded_overhead
  /// per event (headers add theirs as they are read).
  std::size_t least_event_bytes() const {
    return payload_bytes + decoded_overhead * std::size_t{count};
  }
};

/// The header of `buffer`, checked (magic, version, codec, and an event
/// count the payload can hold: 8 bytes per event at least), or nullopt with
/// `err` set. Reads 16 bytes, allocates nothing.
std::optional<frame_info> peek(std::string_view buffer, decode_error& err);

/// The batch in `buffer`, or nullopt with `err` set. Refuses a buffer whose
/// batch would take more than `max_event_bytes` once decoded (event_bytes,
/// event.hpp), checked before anything is allocated: from the header
/// (payload plus decoded_overhead per event) before anything is
/// decompressed, then from each event's header count before its headers
/// are read; so what decoding allocates stays within about twice
/// `max_event_bytes` (the decompressed payload and the events). A
/// compressed payload must be able to hold the size it claims. Refuses any
/// buffer that does not decode to whole events: never reads out of bounds,
/// never throws. (Headers with one key twice keep the last value.)
std::optional<batch> decode(std::string_view buffer,
                            std::size_t max_event_bytes, decode_error& err);

/// Bounds of one piece of a batch cut for the wire.
struct cut_limits {
  std::size_t max_event_bytes = 0;   ///< decoded size (the receiver's bound)
  std::size_t max_encoded_bytes = 0; ///< payload (what crosses the link)
};

/// A piece of a batch: events [begin, end), and their sizes.
struct piece {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t event_bytes = 0;   ///< decoded
  std::size_t encoded_bytes = 0; ///< payload
  friend bool operator==(const piece& a, const piece& b) {
    return a.begin == b.begin && a.end == b.end;
  }
};

/// Cuts `events` into consecutive pieces, each within both `limits` or a
/// single event. An event over `limits.max_event_bytes` on its own is no
/// piece: its index goes to `oversized` (the receiver would refuse it).
std::vector<piece> cut(std::span<const event> events, cut_limits limits,
                       std::vector<std::size_t>& oversized);

} // namespace flumen::hop
