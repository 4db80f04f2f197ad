#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/event.hpp"

namespace flumen::filelog {

// The file channel's log (issue "part 5"; shared/DESIGN.md, "Durable file
// channel"): segment files of framed records, one record per accepted put.
// Everything is little-endian.
//
// Segment header, 32 bytes:
//   "FLUMENLG" | u32 version (3) | u32 skipped | u64 first sequence
//   number | u32 nonce | u32 crc32c of the 28 bytes before
// (versions 1 and 2: "FLUMENLG" | u32 version | u32 skipped | u64 first
// sequence number | u32 crc32c of the 24 bytes before | u32 0).
// `skipped`: how many numbers just below the first one were taken by
// appends that failed (never acknowledged); the segment before this one
// holds records up to first - skipped, so a shortfall there is damage, not
// a failure (0xffffffff: not known). Version 1 segments have no such field
// (it reads as not known).
// Record, a 24-byte header and its payload:
//   u32 payload length | u32 event count | u64 sequence number of its first
//   event | u32 crc32c of the payload | u32 crc32c of the 20 bytes before,
//   continued from the segment's nonce (0 in versions 1 and 2)
// Payload, per event:
//   u32 body length | body | u32 header count |
//   per header: u32 key length | key | u32 value length | value
//
// Two checksums, so a damaged length is never trusted: a record whose
// header checksum fails ends what can be read of its segment; one whose
// payload checksum fails is skipped by its (checked) length.
//
// Version 3 lets a segment be written over a spare file, a delivered
// segment kept for reuse (log_writer.hpp): writing over a file's blocks
// costs the kernel half the CPU of growing a new file (no block
// allocation, no journal commit per fdatasync). The spare's old records
// are left after the new ones. Each segment has a random nonce that its
// records' header checksums continue from, and its numbers only go up, so
// an old record never reads as one of this segment's: what can be read
// ends at the first record that does not hold. The nonce's lowest bit says
// whether the segment was written over a spare. A new file is read as
// before. In one written over a spare, the rest after the last sound
// record is damage only when a record of this segment can still be found
// in it (a damaged header in the middle), or when whole records that fail
// their checksums end exactly at the end of the file; otherwise it is an
// interrupted append (zeros, or a record cut short by the end of the
// file: torn, as before; or a record whose payload fails, followed by the
// spare's old contents) or the spare's old contents (`stale_bytes`, not
// damage).
constexpr std::size_t segment_header_size = 32;
constexpr std::size_t record_header_size = 24;
constexpr uint32_t format_version = 3;
/// `skipped` not known (version 1, or too many to say).
constexpr uint32_t skipped_unknown = 0xffffffff;

/// The most payload bytes one record may claim; more is implausible.
constexpr std::size_t max_record_payload = std::size_t{1} << 30;

/// A segment's header: its first number and how many numbers below it
/// failed appends took.
struct segment_header {
  uint64_t first_seq = 0;
  uint32_t skipped = skipped_unknown;
  uint32_t version = format_version;
  /// What its records' header checksums continue from (0 before
  /// version 3).
  uint32_t nonce = 0;
};

/// Whether a version 3 segment was written over a spare (its nonce's
/// lowest bit): only then may old records follow its own.
inline bool written_over_a_spare(uint32_t nonce) {
  return (nonce & 1) != 0;
}

/// A version 3 header; with `nonce` 0, a version 2 one (for tests of the
/// older format, which every reader still reads).
std::string encode_segment_header(uint64_t first_seq, uint64_t skipped = 0,
                                  uint32_t nonce = 0);

/// The header, when `bytes` starts with a valid one.
std::optional<segment_header> read_segment_header(std::string_view bytes);

/// The first sequence number, when `bytes` starts with a valid header.
inline std::optional<uint64_t> decode_segment_header(std::string_view bytes) {
  auto h = read_segment_header(bytes);
  return h ? std::optional<uint64_t>{h->first_seq} : std::nullopt;
}

/// Appends one record holding `events`, numbered from `seq`, for a
/// segment whose nonce is `nonce`.
void append_record(std::string& out, uint64_t seq, const batch& events,
                   uint32_t nonce = 0);
/// Writes that record at `out`, which has room for its record_header_size
/// + `payload` bytes (`payload`: the events' payload_size).
void write_record(char* out, uint64_t seq, const batch& events,
                  std::size_t payload, uint32_t nonce = 0);

/// The payload's size for `events` (what append_record adds, less the
/// header).
std::size_t payload_size(const batch& events);

/// Appends the events of a payload to `out`; false (and `out` as it was)
/// when the payload does not hold exactly `count` well-formed events.
bool decode_events(std::string_view payload, uint32_t count, batch& out);

struct scanned_record {
  std::size_t offset = 0; ///< of its header, from the segment's start
  uint64_t seq = 0;
  uint32_t count = 0;
  std::string_view payload;
};

/// What one record at the start of `rest` is.
enum class record_check {
  ok,          ///< both checksums hold
  cut_short,   ///< `rest` ends inside its header or payload
  bad_header,  ///< header checksum or an implausible length: untrusted
  bad_payload, ///< header sound, payload checksum fails
};

/// Checks the record at the start of `rest`, of a segment whose nonce is
/// `nonce`; fills `rec` (but its offset) when the header holds (ok,
/// bad_payload).
record_check check_record(std::string_view rest, scanned_record& rec,
                          uint32_t nonce = 0);

/// What reading a segment found besides its records.
struct scan_result {
  bool header_ok = false; ///< false: nothing of it can be read
  uint64_t first_seq = 0;
  uint32_t skipped = skipped_unknown; ///< from its header
  /// One past the last number of its last readable record (first_seq
  /// when it has none).
  uint64_t end_seq = 0;
  std::size_t records = 0;
  /// Where the readable part ends: after the last record that could be
  /// read or skipped; what follows is a torn tail or abandoned.
  std::size_t good_end = 0;
  /// An interrupted append: a record cut short by the end of the file, or
  /// zeros to the end. The channel truncates it.
  std::size_t torn_bytes = 0;
  /// Complete records whose payload checksum failed (or whose payload did
  /// not parse): skipped and counted, with their events.
  std::size_t corrupt_records = 0;
  std::size_t corrupt_bytes = 0;
  /// A record header that fails its checksum (or claims an implausible
  /// length) with more than zeros after it: the rest of the segment cannot
  /// be framed and is abandoned.
  std::size_t abandoned_bytes = 0;
  std::size_t abandoned_at = 0;
  /// Version 3: a spare's old contents after the last record (not
  /// damage; the file is left as it is).
  std::size_t stale_bytes = 0;
  /// Where each corrupt record is and its size, for the log.
  struct span {
    std::size_t offset = 0;
    std::size_t bytes = 0;
    uint64_t seq = 0; ///< its events' numbers, from its (sound) header
    uint32_t count = 0;
  };
  std::vector<span> corrupt;
};

/// Reads a whole segment, calling `on_record` for every record whose
/// checksums hold, in order, and `on_progress` with how far it has read
/// (every few MB of a version 3 segment's rest, which it searches).
scan_result
scan_segment(std::string_view bytes,
             const std::function<void(const scanned_record&)>& on_record = {},
             const std::function<void(std::size_t)>& on_progress = {});

} // namespace flumen::filelog
