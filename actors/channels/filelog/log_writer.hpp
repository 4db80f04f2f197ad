#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/event.hpp"

namespace flumen::filelog {

/// Appends records to a channel directory's segments: a new segment at
/// start and whenever the current one would pass `max_file_size`, records
/// numbered on from `next_seq`. Not thread-safe: one writer.
///
/// Errors (shared/STACK-NOTES.md): after a failed write or sync the
/// segment is sealed and never written or synced again (the kernel may
/// have dropped its dirty pages); the next append opens a new segment, and
/// the numbers of the failed record are not used again, so a record that
/// reached the disk anyway is read back under its own numbers (delivered,
/// at least once) and never confused with a later one.
class log_writer {
public:
  /// Throws std::system_error when the first segment cannot be created.
  log_writer(std::string dir, std::size_t max_file_size, uint64_t next_seq);
  ~log_writer();
  log_writer(const log_writer&) = delete;
  log_writer& operator=(const log_writer&) = delete;

  struct appended {
    std::string segment; ///< its file
    uint64_t segment_first_seq = 0;
    std::size_t offset = 0;
    std::size_t size = 0;
    uint64_t seq = 0; ///< the first event's number
  };

  /// Writes one record holding `events` (not synced). Throws
  /// std::system_error; the record's numbers are then skipped.
  appended append(const batch& events);

  /// Makes every append so far durable (fdatasync). Throws
  /// std::system_error; the segment is sealed.
  void sync();

  /// One past the last number used.
  uint64_t next_seq() const { return next_seq_; }

  /// Bytes written to the current segment, its header included.
  std::size_t segment_bytes() const { return size_; }

  const std::string& segment() const { return path_; }

private:
  void open_segment();
  void seal();

  std::string dir_;
  std::size_t max_file_size_;
  uint64_t next_seq_;
  int fd_ = -1;
  std::string path_;
  uint64_t first_seq_ = 0;
  std::size_t size_ = 0;
  bool dirty_ = false;
  std::string buf_;
};

/// Syncs a directory's entries (after a file was created or removed).
void sync_directory(const std::string& dir);

} // namespace flumen::filelog
