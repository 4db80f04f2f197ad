#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "actors/channels/filelog/record.hpp"
#include "actors/channels/filelog/seq_ranges.hpp"

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
  enum class kind {
    torn_tail,      ///< an append cut short (a crash): truncated
    corrupt_record, ///< a record whose payload checksum fails: skipped
    abandoned,      ///< an unreadable rest of a segment: skipped
    bad_header,     ///< a segment without a valid header: skipped
    missing,        ///< records cut off the end of a segment that is
                    ///< not the last (the next one says where it ended)
  };
  kind what;
  std::string path;
  std::size_t offset = 0;
  std::size_t bytes = 0;
  /// Uncommitted events lost with it (as far as the log can tell: the
  /// events of a corrupt record, and those a later segment's header says
  /// were written before it).
  uint64_t events = 0;
};

const char* to_string(damage::kind k);

/// What a directory holds after a crash or a stop: the committed position
/// and the records at or after it, in order, found by reading every
/// segment once.
struct recovery {
  committed_set committed; ///< from the ack state
  std::vector<segment_file> segments;
  std::vector<record_ref> pending; ///< records holding uncommitted events
  uint64_t next_seq = 0;           ///< one past the last event in the log
  std::size_t pending_events = 0;
  std::size_t pending_bytes = 0; ///< their records' sizes on disk
  std::vector<damage> damages;
  uint64_t lost_events = 0; ///< the sum of the damages' events
  std::size_t records_read = 0;
  std::size_t bytes_read = 0;
  /// Segments written over spares: the spares' old contents after their
  /// records (not damage, not read).
  std::size_t stale_bytes = 0;
};

/// Reads `dir` (read-only). `repair`: truncates torn tails, as the channel
/// does on start (other damage is skipped on reading, never rewritten).
recovery recover(const std::string& dir, bool repair);

/// How reading a record again went.
enum class read_status {
  ok,
  damaged,     ///< it no longer reads as written: checksum, length, gone
  unavailable, ///< it could not be read now (EMFILE, ENOMEM, EIO...): try
               ///< again later; `err` says why
};

/// Reads one record's events again (those numbered `from` and later).
read_status read_record(const recovery& r, const record_ref& ref, uint64_t from,
                        batch& out, int* err = nullptr);

} // namespace flumen::filelog
