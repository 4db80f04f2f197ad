#include "actors/channels/filelog/journal.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include <spdlog/spdlog.h>

namespace flumen::filelog {

journal::journal(journal_options opts, std::vector<segment_file> existing,
                 uint64_t next_seq)
    : opts_(std::move(opts)), segments_(std::move(existing)),
      writer_(opts_.dir, opts_.max_file_size, next_seq),
      ack_((std::filesystem::path{opts_.dir} / "ack").string()) {
  // The writer's first segment may reuse the name of an empty one.
  if (segments_.empty() || segments_.back().path != writer_.segment())
    segments_.push_back({writer_.segment(), next_seq});
  committed_ = stored_ = ack_.committed();
  last_sync_ = std::chrono::steady_clock::now();
  thread_ = std::thread{[this] { run(); }};
}

namespace {

uint64_t statvfs_free(const std::string& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return UINT64_MAX; // no reason to hold
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

} // namespace

bool journal::wait_for_space() {
  if (opts_.min_free_space == 0) return true;
  auto free = [&] {
    return opts_.free_space ? opts_.free_space() : statvfs_free(opts_.dir);
  };
  bool logged = false;
  while (free() < opts_.min_free_space) {
    uint64_t committed = 0;
    {
      std::unique_lock guard{mtx_};
      if (stopping_) return false;
      stats_.waiting_for_space = true;
      if (!logged) {
        spdlog::warn("{} ({}): less than {} bytes free; puts are "
                     "held until there is room",
                     who(), opts_.dir, opts_.min_free_space);
        logged = true;
      }
      // Woken by commits (which delete segments and free space), a stop, or
      // every 250 ms to look again.
      cv_.wait_for(guard, std::chrono::milliseconds{250},
                   [&] { return stopping_ || committed_ != stored_; });
      committed = committed_;
    }
    if (committed != stored_) store_committed(committed);
  }
  std::lock_guard guard{mtx_};
  if (stats_.waiting_for_space)
    spdlog::info("{} ({}): free space is back; puts go on", who(), opts_.dir);
  stats_.waiting_for_space = false;
  return true;
}

journal::~journal() {
  {
    std::lock_guard guard{mtx_};
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void journal::append(batch events, callback done) {
  {
    std::lock_guard guard{mtx_};
    queue_.push_back({std::move(events), std::move(done)});
  }
  cv_.notify_one();
}

void journal::commit_below(uint64_t committed) {
  // No wake-up: the thread stores the position within
  // commit_store_interval (a synced write per commit cost more than the
  // appends; a position stored late only means duplicates after a crash).
  bool wake = false;
  {
    std::lock_guard guard{mtx_};
    if (committed > committed_) committed_ = committed;
    // Unless it sleeps with no deadline: then it needs one.
    wake = idle_;
  }
  if (wake) cv_.notify_one();
}

journal::counters journal::stats() const {
  std::lock_guard guard{mtx_};
  return stats_;
}

void journal::store_committed(uint64_t committed) {
  try {
    ack_.store(committed);
  } catch (const std::system_error& e) {
    // Not stored: a restart delivers those events again (at least once).
    spdlog::warn("{} ({}): cannot store the committed position: {}", who(),
                 opts_.dir, e.what());
    return;
  }
  stored_ = committed;
  std::size_t deleted = 0;
  // A segment is wholly committed once the next one starts at or below
  // the committed position; the current one is never deleted.
  while (segments_.size() >= 2 && segments_[1].first_seq <= committed) {
    if (::unlink(segments_.front().path.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("{} ({}): cannot delete {}: {}", who(), opts_.dir,
                   segments_.front().path, std::strerror(errno));
      break;
    }
    segments_.erase(segments_.begin());
    ++deleted;
  }
  if (deleted > 0) {
    try {
      sync_directory(opts_.dir);
    } catch (const std::system_error&) {
      // The files are gone either way; a crash may bring one back, and
      // recovery skips what is committed.
    }
  }
  std::lock_guard guard{mtx_};
  ++stats_.committed_stored;
  stats_.segments_deleted += deleted;
}

void journal::run() {
  using clock = std::chrono::steady_clock;
  for (;;) {
    std::deque<pending> group;
    uint64_t committed = 0;
    bool stopping = false;
    {
      std::unique_lock guard{mtx_};
      auto ready = [&] { return stopping_ || !queue_.empty(); };
      // Woken by puts and a stop; by the clock for an interval sync and
      // for storing the committed position.
      std::optional<clock::time_point> until;
      if (opts_.fsync == fsync_policy::interval && unsynced_)
        until = last_sync_ + opts_.fsync_interval;
      if (committed_ != stored_) {
        auto store_at = last_store_ + commit_store_interval;
        until = until ? std::min(*until, store_at) : store_at;
      }
      if (until) {
        cv_.wait_until(guard, *until, ready);
      } else {
        idle_ = true;
        cv_.wait(guard, [&] { return ready() || committed_ != stored_; });
        idle_ = false;
        // A commit woke it: store within the interval, not at once, so a
        // stream of commits makes one synced write per interval.
        if (!ready() && committed_ != stored_)
          cv_.wait_until(guard, last_store_ + commit_store_interval, ready);
      }
      committed = committed_;
      stopping = stopping_;
    }
    // Puts stay queued (held: their senders wait) while space is short; at
    // a stop they fail instead, so their senders know.
    std::error_code no_space;
    if (!wait_for_space())
      no_space = std::make_error_code(std::errc::no_space_on_device);
    {
      std::lock_guard guard{mtx_};
      group.swap(queue_);
      stopping = stopping_;
    }
    std::vector<result> results(group.size());
    for (std::size_t i = 0; i < group.size(); ++i) {
      if (no_space) {
        results[i].error = no_space;
        continue;
      }
      try {
        auto a = writer_.append(group[i].events);
        results[i].seq = a.seq;
        results[i].segment = a.segment;
        results[i].offset = a.offset;
        results[i].size = a.size;
        if (segments_.back().path != a.segment)
          segments_.push_back({a.segment, a.segment_first_seq});
        unsynced_ = true;
      } catch (const std::system_error& e) {
        results[i].error = e.code();
      }
    }
    auto now = clock::now();
    bool sync_now = unsynced_ &&
                    (opts_.fsync == fsync_policy::batch ||
                     (opts_.fsync == fsync_policy::interval &&
                      (now - last_sync_ >= opts_.fsync_interval || stopping)) ||
                     stopping);
    if (sync_now) {
      try {
        writer_.sync();
        std::lock_guard guard{mtx_};
        ++stats_.syncs;
      } catch (const std::system_error& e) {
        // The segment is sealed. Under `batch` the puts of this group are
        // not durable: they fail (whatever reached the disk is delivered
        // again after a restart: at least once).
        if (opts_.fsync == fsync_policy::batch)
          for (auto& r : results)
            if (!r.error) r.error = e.code();
        spdlog::warn("{} ({}): sync failed: {}", who(), opts_.dir, e.what());
      }
      unsynced_ = false;
      last_sync_ = now;
    }
    {
      std::lock_guard guard{mtx_};
      for (auto& r : results)
        ++(r.error ? stats_.failed : stats_.appends);
    }
    for (std::size_t i = 0; i < group.size(); ++i)
      if (group[i].done) group[i].done(results[i], std::move(group[i].events));
    if (committed != stored_ &&
        (stopping || clock::now() >= last_store_ + commit_store_interval)) {
      store_committed(committed);
      last_store_ = clock::now();
    }
    if (stopping) {
      // One attempt at the committed position at a stop, not a loop.
      std::lock_guard guard{mtx_};
      if (queue_.empty()) return;
    }
  }
}

} // namespace flumen::filelog
