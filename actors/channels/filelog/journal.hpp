#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "actors/channels/filelog/ack_state.hpp"
#include "actors/channels/filelog/log_dir.hpp"
#include "actors/channels/filelog/log_writer.hpp"
#include "runtime/core/event.hpp"

namespace flumen::filelog {

/// When an accepted put is on disk.
enum class fsync_policy {
  batch,    ///< synced before it is answered; puts waiting meanwhile share
            ///< the next sync (group commit)
  interval, ///< answered once written, synced every fsync_interval
  never,    ///< answered once written; the kernel syncs when it likes
};

struct journal_options {
  std::string dir;
  std::size_t max_file_size = 64 << 20;
  fsync_policy fsync = fsync_policy::batch;
  std::chrono::milliseconds fsync_interval{1000};
  /// Puts are held (not refused) while the file system has less free space
  /// than this; 0: no check.
  uint64_t min_free_space = 0;
  /// How free space is measured (statvfs of `dir` unless set: tests).
  std::function<uint64_t()> free_space{};
  /// Who writes it, in log lines (`a1.channels.c1`); the directory when
  /// empty.
  std::string name{};
  /// Called (on the journal's thread) when puts start being held for want
  /// of space, with the reason, and with "" when they go on again.
  std::function<void(const std::string&)> on_space{};
  /// A wholly committed current segment at least this large is closed and
  /// deleted (whatever its size when space is short), so delivered events
  /// do not keep their disk until max_file_size is reached.
  std::size_t free_committed_segment_at = 1 << 20;
};

/// The file channel's writer: one thread that appends a record per put,
/// syncs per the policy, stores the committed position in the ack state,
/// and deletes segments whose every event is committed. Blocking file work
/// stays off CAF's scheduler (shared/DESIGN.md).
class journal {
public:
  /// How often at most the committed position is stored (each store is a
  /// synced write).
  static constexpr std::chrono::milliseconds commit_store_interval{100};

  struct result {
    std::error_code error; ///< set: the put is not in the log
    uint64_t seq = 0;      ///< the number of its first event
    /// Numbers the put used from `seq` on: its events' when it was
    /// appended; when it failed, those the failed append took (never used
    /// again: the channel counts them done).
    uint64_t taken = 0;
    std::string segment; ///< where its record is
    std::size_t offset = 0;
    std::size_t size = 0; ///< the record's bytes, header included
  };
  /// Runs on the journal's thread; gets the events back.
  using callback = std::function<void(result, batch&&)>;

  /// Starts after `existing` (oldest first, as recover() lists them), with
  /// the next record numbered `next_seq`. Throws std::system_error when
  /// the first segment or the ack state cannot be opened.
  journal(journal_options opts, std::vector<segment_file> existing,
          uint64_t next_seq);
  /// Writes and syncs what is queued, stores the last committed position,
  /// and stops the thread.
  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  /// Queues a put; `done` is called once it is in the log (per policy) or
  /// failed. Thread-safe.
  void append(batch events, callback done);

  /// What is committed (a position and ranges above it); stored (synced)
  /// within commit_store_interval, and segments wholly committed are
  /// deleted then. The position never goes back. Thread-safe.
  void commit(committed_set committed);

  /// Everything below `committed` is committed.
  void commit_below(uint64_t committed) {
    commit(committed_set{committed, {}});
  }

  struct counters {
    uint64_t appends = 0;
    uint64_t syncs = 0;
    uint64_t failed = 0;
    uint64_t segments_deleted = 0;
    uint64_t committed_stored = 0;
    /// Puts are held: free space is below min_free_space.
    bool waiting_for_space = false;
  };
  counters stats() const;

private:
  /// The component's name for log lines, or "file channel".
  std::string who() const {
    return opts_.name.empty() ? std::string{"file channel"} : opts_.name;
  }
  struct pending {
    batch events;
    callback done;
  };
  void run();
  /// False at a stop while space is still short.
  bool wait_for_space();
  /// Free bytes in the directory's file system (or the test's hook).
  uint64_t free_bytes() const;
  void store_committed(const committed_set& committed);
  /// Deletes segments wholly in `committed` (the current one too, closed
  /// first, when it is large enough or space is short).
  void free_committed(const committed_set& committed);
  void set_space_short(bool short_now, const std::string& why);

  journal_options opts_;
  std::vector<segment_file> segments_; ///< oldest first, the current last
  log_writer writer_;
  ack_file ack_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<pending> queue_;
  committed_set committed_;
  committed_set stored_;
  bool space_short_ = false;
  bool stopping_ = false;
  counters stats_;
  std::chrono::steady_clock::time_point last_sync_;
  std::chrono::steady_clock::time_point last_store_{};
  bool idle_ = false; ///< the thread waits with no deadline
  bool unsynced_ = false;
  std::thread thread_;
};

} // namespace flumen::filelog
