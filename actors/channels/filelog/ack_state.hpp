#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "actors/channels/filelog/seq_ranges.hpp"

namespace flumen::filelog {

// The file channel's ack state: which event numbers are committed (the
// number below which every event is, and up to max_ack_ranges ranges above
// it), in a small file of its own with two slots written in turn, each
// checksummed and synced. A write torn by a crash damages at most the slot
// being written; the other still holds the state before it. On start the
// valid slot with the higher generation wins.
//
// Slot (little-endian), the first at offset 0, the second at offset 4096
// (another page and sector):
//   "FLUMENAK" | u64 generation | u64 committed | u32 crc32c of the 24
//   bytes before | u32 range count N
//   N x (u64 from | u64 to) | u32 crc32c of generation, N and the ranges
// (Slots of the first format have N = 0 and nothing after.) A range list
// whose checksum fails is ignored and the slot's position kept: fewer
// committed events only means more delivered again.
//
// The file is written whole (8 KiB of zeros) when created, so storing a
// slot never needs a new block: it works on a full disk.

constexpr std::size_t ack_slot_size = 32;
constexpr std::size_t ack_slot_offset[2] = {0, 4096};
constexpr std::size_t ack_file_size = 8192;
/// Ranges a slot holds at most (its 4 KiB).
constexpr std::size_t max_ack_ranges = 250;

struct ack_slot {
  uint64_t generation = 0;
  committed_set committed;
};

std::string encode_ack_slot(const ack_slot& s);
std::optional<ack_slot> decode_ack_slot(std::string_view bytes);

/// The state a file's bytes hold: the valid slot with the higher
/// generation; nothing when neither is valid (a new channel).
std::optional<ack_slot> read_ack_state(std::string_view file);

/// The ack state file of a channel directory, opened (and created) once.
/// Not thread-safe: one writer.
class ack_file {
public:
  /// Opens or creates `path` and writes it out to its full size; throws
  /// std::system_error.
  explicit ack_file(const std::string& path);
  ~ack_file();
  ack_file(const ack_file&) = delete;
  ack_file& operator=(const ack_file&) = delete;

  /// What the file held when opened (nothing for a new or unreadable one).
  std::optional<ack_slot> loaded() const { return loaded_; }

  /// Writes `committed` (its largest max_ack_ranges ranges) with the next
  /// generation to the other slot and syncs it. Throws std::system_error;
  /// after a failed sync the file must not be trusted (the caller reopens
  /// or stops).
  void store(const committed_set& committed);

  const committed_set& committed() const { return current_.committed; }

private:
  int fd_ = -1;
  std::optional<ack_slot> loaded_;
  ack_slot current_;
};

} // namespace flumen::filelog
