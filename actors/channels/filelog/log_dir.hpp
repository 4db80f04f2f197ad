#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "actors/channels/filelog/record.hpp"

namespace flumen::filelog {

// A channel directory: segments `log-<first sequence number, 20 digits>.seg`
// in order of their numbers, and the ack state `ack` (ack_state.hpp).

/// The file name of the segment whose first record is numbered `first_seq`.
std::string segment_name(uint64_t first_seq);

struct segment_file {
  std::string path;
  uint64_t first_seq = 0; ///< from its name
};

/// The directory's segments, oldest first (names that are not segments are
/// ignored). Throws std::filesystem::filesystem_error.
std::vector<segment_file> list_segments(const std::string& dir);

/// Where a record is, to read it again.
struct record_ref {
  std::size_t segment = 0; ///< index into recovery::segments
  std::size_t offset = 0;
  std::size_t size = 0; ///< header and payload
  uint64_t seq = 0;
  uint32_t count = 0;
};

/// Damage found while reading a directory, for the log and the metrics.
struct damage {
  enum class kind { torn_tail, corrupt_record, abandoned, bad_header };
  kind what;
  std::string path;
  std::size_t offset = 0;
  std::size_t bytes = 0;
};

const char* to_string(damage::kind k);

/// What a directory holds after a crash or a stop: the committed position
/// and the records at or after it, in order, found by reading every
/// segment once.
struct recovery {
  uint64_t committed = 0;
  std::vector<segment_file> segments;
  std::vector<record_ref> pending; ///< records holding events >= committed
  uint64_t next_seq = 0;           ///< one past the last event in the log
  std::size_t pending_events = 0;
  std::size_t pending_bytes = 0; ///< their records' sizes on disk
  std::vector<damage> damages;
  std::size_t records_read = 0;
  std::size_t bytes_read = 0;
};

/// Reads `dir` (read-only). `repair`: truncates torn tails, as the channel
/// does on start (other damage is skipped on reading, never rewritten).
recovery recover(const std::string& dir, bool repair);

/// Reads one record's events again (those numbered `from` and later).
/// False when it no longer reads as written.
bool read_record(const recovery& r, const record_ref& ref, uint64_t from,
                 batch& out);

} // namespace flumen::filelog
