#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/event.hpp"

namespace flumen::filelog {

/// Appends records to a channel directory's segments: a new segment at
/// start and whenever the current one would pass `max_file_size`, records
/// numbered on from `next_seq`. Not thread-safe: one writer.
///
/// Durability: a segment closed by a roll is kept open until the next
/// sync(), which syncs it (and every other one written since the last
/// sync) before the current one, so a sync makes every append before it
/// durable, however many segments they went to.
///
/// Errors (shared/STACK-NOTES.md): after a failed write the segment is
/// sealed (never written again; what was written before is still synced
/// by the next sync); after a failed sync it is closed and never synced
/// again (the kernel may have dropped its dirty pages). The next append
/// opens a new segment, and the numbers of the failed record are not used
/// again: the new segment's header says how many were skipped, so that
/// recovery can tell them from records lost to damage.
///
/// Spares: a delivered segment may be kept (recycle()) as `spare-<its
/// first number>.seg`, at most `max_spares`, and a new segment is written
/// over a spare when there is one: the kernel's CPU per byte synced is
/// about half that of growing a new file (record.hpp, version 3). The
/// new header is written and synced in the spare before it takes the
/// segment's name, so a crash leaves either a spare or a segment with its
/// header.
class log_writer {
public:
  /// Spares kept at most: the one the next roll takes, and one more for a
  /// sink a segment behind.
  static constexpr std::size_t max_spares = 2;

  /// Throws std::system_error when the first segment cannot be created.
  /// Takes the spares `dir` holds.
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
  /// std::system_error; the record's numbers are then skipped (but
  /// EFBIG: a record larger than a segment may hold; no number is taken).
  appended append(const batch& events);

  /// Makes every append so far durable (fdatasync of each segment written
  /// since the last sync). Throws std::system_error (after trying every
  /// segment); a segment whose sync failed is closed.
  void sync();

  /// Closes the segments that rolls left open for sync() without syncing
  /// them (`fsync: never`: the kernel writes them when it likes).
  void drop_unsynced();

  /// Segments closed by a roll or a failure and not synced yet.
  std::size_t unsynced_segments() const { return retired_.size(); }

  /// Closes the current segment (all of it committed, so nothing of it is
  /// needed) so it can be deleted; the next append starts a new one.
  /// Returns its path, or nothing when there is no current segment or it
  /// holds no record.
  std::optional<std::string> close_committed();

  /// Keeps a delivered segment (no longer listed anywhere) as a spare;
  /// false when there are enough or it could not be renamed (then delete
  /// it).
  bool recycle(const std::string& path);

  /// Deletes every spare (the disk is short of space); how many.
  std::size_t drop_spares();

  std::size_t spares() const { return spares_.size(); }

  /// One past the last number used.
  uint64_t next_seq() const { return next_seq_; }

  /// Bytes written to the current segment, its header included (0: none
  /// open).
  std::size_t segment_bytes() const { return fd_ >= 0 ? size_ : 0; }

  /// The current segment's first number (meaningful while one is open).
  uint64_t segment_first_seq() const { return first_seq_; }

  const std::string& segment() const { return path_; }

private:
  struct open_file {
    int fd = -1;
    std::string path;
  };
  void open_segment();
  /// Opens a spare as the segment at path_ with `header`; -1 when there is
  /// none or it failed (the spare is deleted then).
  int take_spare(const std::string& header);
  /// Moves the current segment to those synced by the next sync().
  void retire();

  std::string dir_;
  std::size_t max_file_size_;
  uint64_t next_seq_;
  int fd_ = -1;
  std::string path_;
  uint64_t first_seq_ = 0;
  uint32_t nonce_ = 0; ///< the current segment's
  std::size_t size_ = 0;
  bool dirty_ = false;
  /// Numbers taken by failed appends since the last record written.
  uint64_t skipped_ = 0;
  /// Every number below it was synced (as far as the current segment goes).
  uint64_t synced_below_ = 0;
  std::vector<open_file> retired_;
  /// Paths of the spares, the one to take next last.
  std::vector<std::string> spares_;
  /// The record being written: `buf_size_` bytes of `buf_` (grown, never
  /// zero-filled).
  std::unique_ptr<char[]> buf_;
  std::size_t buf_capacity_ = 0;
  std::size_t buf_size_ = 0;
};

/// Syncs a directory's entries (after a file was created or removed).
void sync_directory(const std::string& dir);

} // namespace flumen::filelog
