#pragma once

// The taildir source's reader (actors/sources/taildir.cpp runs it): the
// files it follows and where it stands in each. Its methods are split by
// concern: taildir_files.cpp finds files and keeps the positions file,
// taildir.cpp reads lines. Internal to the taildir source.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <re2/re2.h>

#include "actors/channels/filelog/crc32c.hpp"
#include "actors/sources/taildir.hpp"
#include "runtime/core/file_lock.hpp"
#include "runtime/flow/source_pump.hpp"

namespace flumen::sources::taildir_detail {

namespace fs = std::filesystem;

using time_point = flumen::clock::time_point;
constexpr auto scan_spacing = taildir_scan_spacing;

struct file_id {
  dev_t dev = 0;
  ino_t ino = 0;
  auto operator<=>(const file_id&) const = default;
};

/// What the positions file holds for one file.
struct position {
  std::string path;
  uint64_t pos = 0;
  /// A checksum of the file's first `head_len` bytes: a new file that got
  /// a deleted one's inode is told apart by its contents.
  uint32_t head_len = 0;
  uint32_t head_crc = 0;
  bool gone = false; ///< a tombstone: the file is no longer tailed
};

constexpr uint32_t head_bytes = 256;
constexpr std::chrono::milliseconds rotated_grace{5000};

struct tailed {
  file_id id;
  std::string path;
  std::string group;
  int fd = -1;
  uint64_t pos = 0;        ///< read up to here
  uint64_t line_start = 0; ///< where the line being read began
  std::string carry;       ///< its bytes so far
  bool overflow = false;   ///< it passed max_line_length
  bool split = false;      ///< pieces of it were handed over (split)
  // A joined event being built (multiline).
  std::optional<event> joined;
  uint64_t joined_start = 0;
  std::size_t joined_lines = 0;
  time_point last_line{};
  time_point last_change{};
  bool matched = true; ///< its path matches the group's glob
  uint32_t head_len = 0;
  uint32_t head_crc = 0;

  /// Below this offset, every line is in a batch handed over.
  uint64_t safe() const { return joined ? joined_start : line_start; }
};

/// CRC-32C of a file's first `len` bytes; nullopt when it has fewer.
inline std::optional<uint32_t> head_of(int fd, uint32_t len) {
  if (len == 0) return 0;
  std::string buf(len, '\0');
  auto n = ::pread(fd, buf.data(), len, 0);
  if (n != static_cast<ssize_t>(len)) return std::nullopt;
  return filelog::crc32c(buf);
}

class tailer {
public:
  tailer(const taildir_config& cfg, source_pump& pump)
      : cfg_(cfg), time_(cfg.time ? cfg.time : real_clock()), pump_(pump),
        m_(pump.metrics()) {
    if (!cfg.multiline_start.empty())
      start_ = std::make_unique<RE2>(cfg.multiline_start);
  }

  ~tailer() {
    for (auto& [_, f] : files_)
      if (f.fd >= 0) ::close(f.fd);
    if (inotify_ >= 0) ::close(inotify_);
  }

  /// Reads until the source stops: finds files, reads them, hands
  /// over batches, saves positions.
  void run();

private:
  // -- positions -------------------------------------------------------------

  /// The positions file's lock (`FILE.lock`), waited for while another
  /// agent holds it (retried every poll_interval); nullptr when the source
  /// was stopped meanwhile.
  std::unique_ptr<file_lock> take_lock();

  void load_positions();

  void save_positions();

  void warn_once(const std::string& what);

  /// Records where `f` stands for the batch being built.
  void touch(const tailed& f);

  // -- finding files ----------------------------------------------------------

  void watch_directories();

  /// The group whose glob `name` in directory `dir` matches (the first,
  /// as a listing takes it); empty when none.
  std::string group_of(const std::string& dir, const std::string& name) const;

  /// A name that appeared in a watched directory and matched a glob, not
  /// yet opened: followed through renames until it is.
  struct appeared {
    std::string path;
    std::string group;
    uint32_t cookie = 0; ///< being renamed (IN_MOVED_FROM seen)
  };

  /// Reads what inotify queued; true when it said anything happened. A
  /// file that appears under a name its glob matches (created, or renamed
  /// to it) is opened at once, at whatever name its renames since gave it:
  /// a file written in one go and renamed out of the glob before the next
  /// listing is read all the same. A closed file (idle, or closed for want
  /// of descriptors) that is renamed is followed to its new name.
  bool drain_inotify();

  /// Lists every group's glob; new files are tailed, files no longer
  /// listed are marked (still read to their end by descriptor).
  void scan();

  /// A closed file (idle, or closed for want of descriptors) that its
  /// glob no longer lists was renamed or deleted: found by its inode (at
  /// the name inotify saw it renamed to, or in its directory), it is
  /// opened again when it holds more than was read.
  void follow_closed(tailed& f);

  /// A file saved in the positions but not listed now may have been
  /// rotated (renamed) while the agent was down: found by its inode in its
  /// directory, its rest is read before it is let go.
  void find_rotated_while_down(const std::set<file_id>& seen);

  /// After a copytruncate, lines not read yet are only in the copy
  /// (logrotate's `copytruncate`): it is found in the same directory by the
  /// checksum of its first bytes, and its rest is read from where the
  /// original stood; then it is let go like a rotated file.
  void find_copy(const std::string& path, const std::string& group,
                 file_id original, uint64_t pos, uint32_t head_len,
                 uint32_t head_crc);

  void track(file_id id, const std::string& path, const std::string& group,
             const struct stat& st, bool matched,
             std::optional<uint64_t> start_at = std::nullopt);

  /// Remembers the checksum of the file's first bytes (up to `upto`).
  void update_head(tailed& f, uint64_t upto);

  /// Opens a file; out of descriptors, it first closes every file read to
  /// its end (opened again when it grows), so a directory of more files
  /// than descriptors is still read, a share at a time.
  int open_file(const std::string& path);

  /// Closes every open file read to its end; returns how many.
  std::size_t close_files_at_end();

  void reopen(tailed& f);

  void close_fd(tailed& f);

  // -- reading ---------------------------------------------------------------

  /// One pass over every open file, at most 1 MiB from each. True when
  /// anything was read.
  bool read_all();

  bool same_head(tailed& f);

  void reset(tailed& f);

  void feed(tailed& f, const char* data, std::size_t n);

  /// A newline: the line ends; the next begins at `next`.
  void end_line(tailed& f, uint64_t next);

  /// A whole line (or piece) at `offset`: an event, or part of a joined one.
  void line(tailed& f, std::string&& body, uint64_t offset);

  /// Hands over `f`'s joined event (its last line came long enough ago, or
  /// the file is let go).
  void release_joined(tailed& f);

  event make(const tailed& f, std::string&& body, uint64_t offset);

  void add(tailed& f, event&& e);

  void flush();

  /// Joined events whose last line is old are handed over; idle files are
  /// closed, and rotated or deleted ones at their end are let go.
  void timeouts();

  const taildir_config& cfg_;
  std::shared_ptr<flumen::clock> time_;
  source_pump& pump_;
  component_metrics& m_;
  std::unique_ptr<RE2> start_;
  std::map<file_id, tailed> files_;
  std::map<file_id, position> saved_;    ///< read at start, not yet tailed
  std::map<file_id, position> accepted_; ///< what the positions file holds
  std::map<file_id, position> touched_;  ///< moved in the batch being built
  std::deque<std::pair<uint64_t, std::map<file_id, position>>> snapshots_;
  batch batch_;
  std::size_t batch_bytes_ = 0;
  uint64_t last_number_ = 0;
  uint64_t saved_below_ = 1;
  bool dirty_ = false;
  bool warned_ = false;
  bool first_scan_ = true;
  time_point last_save_{};            ///< the last save from flush()
  bool events_ = false;               ///< inotify spoke since the last listing
  std::set<std::string> warned_open_; ///< files that could not be opened
  int inotify_ = -1;
  std::map<int, std::string> watched_; ///< inotify watch -> directory
  bool warned_overflow_ = false;
  uint64_t open_files_ = 0;
};

} // namespace flumen::sources::taildir_detail
