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

void journal::set_space_short(bool short_now, const std::string& why) {
  if (short_now == space_short_) return;
  space_short_ = short_now;
  if (opts_.on_space) opts_.on_space(short_now ? why : std::string{});
}

uint64_t journal::free_bytes() const {
  return opts_.free_space ? opts_.free_space() : statvfs_free(opts_.dir);
}

bool journal::wait_for_space() {
  if (opts_.min_free_space == 0) return true;
  auto free = [&] { return free_bytes(); };
  bool logged = false;
  for (;;) {
    auto now_free = free();
    if (now_free >= opts_.min_free_space) break;
    auto why = "less than " + std::to_string(opts_.min_free_space) +
               " bytes free in " + opts_.dir + " (" + std::to_string(now_free) +
               "); puts are held until there is room";
    {
      std::lock_guard guard{mtx_};
      if (stopping_) return false;
      stats_.waiting_for_space = true;
    }
    if (!logged) {
      spdlog::warn("{}: {}", who(), why);
      logged = true;
    }
    set_space_short(true, why);
    // What is committed frees its segments now, the current one too.
    committed_set committed;
    {
      std::unique_lock guard{mtx_};
      committed = committed_;
    }
    if (committed != stored_)
      store_committed(committed);
    else
      free_committed(committed);
    if (free() >= opts_.min_free_space) break;
    std::unique_lock guard{mtx_};
    // Woken by commits (which free space), a stop, or every 250 ms to look
    // again.
    cv_.wait_for(guard, std::chrono::milliseconds{250},
                 [&] { return stopping_ || committed_ != stored_; });
  }
  bool was = false;
  {
    std::lock_guard guard{mtx_};
    was = stats_.waiting_for_space;
    stats_.waiting_for_space = false;
  }
  if (was)
    spdlog::info("{} ({}): free space is back; puts go on", who(), opts_.dir);
  set_space_short(false, {});
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

void journal::commit(committed_set committed) {
  // No wake-up: the thread stores the position within
  // commit_store_interval (a synced write per commit cost more than the
  // appends; a position stored late only means duplicates after a crash).
  bool wake = false;
  {
    std::lock_guard guard{mtx_};
    if (committed.below >= committed_.below) committed_ = std::move(committed);
    // Unless it sleeps with no deadline: then it needs one.
    wake = idle_;
  }
  if (wake) cv_.notify_one();
}

journal::counters journal::stats() const {
  std::lock_guard guard{mtx_};
  return stats_;
}

void journal::store_committed(const committed_set& committed) {
  try {
    ack_.store(committed);
  } catch (const std::system_error& e) {
    // Not stored: a restart delivers those events again (at least once).
    spdlog::warn("{} ({}): cannot store the committed position: {}", who(),
                 opts_.dir, e.what());
    return;
  }
  stored_ = committed;
  free_committed(committed);
  std::lock_guard guard{mtx_};
  ++stats_.committed_stored;
}

void journal::free_committed(const committed_set& committed) {
  std::size_t deleted = 0;
  // Spares are kept only while the disk has room for two more segments
  // beyond min_free_space (each holds a segment's disk); otherwise, and
  // when space is short, they go (a small disk would fill up with them).
  bool roomy = !space_short_ &&
               free_bytes() >= opts_.min_free_space + 2 * opts_.max_file_size;
  bool dropped = !roomy && writer_.drop_spares() > 0;
  auto remove = [&](const std::string& path) {
    // Kept as a spare while there is room: the next roll writes over it.
    if (roomy && writer_.recycle(path)) {
      ++deleted;
      return true;
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("{} ({}): cannot delete {}: {}", who(), opts_.dir, path,
                   std::strerror(errno));
      return false;
    }
    ++deleted;
    return true;
  };
  // The current segment, when all of it is committed and it is worth its
  // disk: closed (nothing in it is needed) and deleted; the next put
  // starts a new one. Without this, a small disk whose one segment was all
  // delivered stayed full.
  bool current_open = writer_.segment_bytes() > 0;
  if (current_open &&
      (space_short_ ||
       writer_.segment_bytes() >= opts_.free_committed_segment_at) &&
      committed.covers(writer_.segment_first_seq(), writer_.next_seq())) {
    if (auto path = writer_.close_committed()) current_open = false;
  }
  // Any other segment whose numbers, up to the next one's first (or the
  // writer's next number for the last), are all committed.
  for (std::size_t i = 0; i < segments_.size();) {
    bool last = i + 1 == segments_.size();
    if (last && current_open && segments_[i].path == writer_.segment()) break;
    auto to = last ? writer_.next_seq() : segments_[i + 1].first_seq;
    if (committed.covers(segments_[i].first_seq, to) &&
        remove(segments_[i].path)) {
      segments_.erase(segments_.begin() + static_cast<long>(i));
      continue;
    }
    ++i;
  }
  if (deleted > 0 || dropped) {
    try {
      sync_directory(opts_.dir);
    } catch (const std::system_error&) {
      // The files are gone either way; a crash may bring one back, and
      // recovery skips what is committed.
    }
    std::lock_guard guard{mtx_};
    stats_.segments_deleted += deleted;
  }
}

void journal::run() {
  using clock = std::chrono::steady_clock;
  // What a previous run committed and did not get to delete.
  free_committed(stored_);
  for (;;) {
    std::deque<pending> group;
    committed_set committed;
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
      committed = committed_;
    }
    std::vector<result> results(group.size());
    bool full = false;
    for (std::size_t i = 0; i < group.size(); ++i) {
      auto& r = results[i];
      if (no_space) {
        r.error = no_space;
        continue;
      }
      auto before = writer_.next_seq();
      try {
        auto a = writer_.append(group[i].events);
        r.seq = a.seq;
        r.taken = group[i].events.size();
        r.segment = a.segment;
        r.offset = a.offset;
        r.size = a.size;
        if (segments_.empty() || segments_.back().path != a.segment)
          segments_.push_back({a.segment, a.segment_first_seq});
        unsynced_ = true;
      } catch (const std::system_error& e) {
        r.error = e.code();
        r.seq = before;
        r.taken = writer_.next_seq() - before;
        full = full || e.code() == std::errc::no_space_on_device;
      }
    }
    auto now = clock::now();
    // A roll leaves segments to sync: under `interval` a few at most wait
    // for the clock; under `never` none is synced.
    bool sync_now =
        unsynced_ && (opts_.fsync == fsync_policy::batch ||
                      (opts_.fsync == fsync_policy::interval &&
                       (now - last_sync_ >= opts_.fsync_interval || stopping ||
                        writer_.unsynced_segments() >= 16)) ||
                      stopping);
    if (opts_.fsync == fsync_policy::never && !stopping)
      writer_.drop_unsynced();
    if (sync_now) {
      try {
        writer_.sync();
        std::lock_guard guard{mtx_};
        ++stats_.syncs;
      } catch (const std::system_error& e) {
        // Under `batch` the puts of this group are not durable: they fail
        // (whatever reached the disk is delivered again after a restart:
        // at least once).
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
    // A full disk (even with min_free_space 0): what is committed gives
    // its space back, the current segment's too, before the next attempt.
    if (full) set_space_short(true, "the disk is full (" + opts_.dir + ")");
    if (committed != stored_ &&
        (stopping || full ||
         clock::now() >= last_store_ + commit_store_interval)) {
      store_committed(committed);
      last_store_ = clock::now();
    } else if (full) {
      free_committed(committed);
    }
    if (!full && !results.empty() && opts_.min_free_space == 0)
      set_space_short(false, {});
    if (stopping) {
      // One attempt at the committed position at a stop, not a loop.
      std::lock_guard guard{mtx_};
      if (queue_.empty()) return;
    }
  }
}

} // namespace flumen::filelog
