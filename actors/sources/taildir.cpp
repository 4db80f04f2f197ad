#include "actors/sources/taildir.hpp"
#include "actors/sources/taildir_tailer.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <system_error>

#include <caf/actor.hpp>
#include <nlohmann/json.hpp>
#include <re2/re2.h>
#include <spdlog/spdlog.h>

#include "actors/channels/filelog/crc32c.hpp"
#include "actors/sources/source_options.hpp"
#include "runtime/core/file_lock.hpp"
#include "runtime/flow/source_pump.hpp"

namespace flumen::sources {

namespace fs = std::filesystem;

/// The options of the `taildir` source (docs/reference/sources/taildir.md shows
/// them, generated).
const option_list& taildir_options() {
  static const option_list table = {
      {.name = "filegroups",
       .kind = option_kind::mapping,
       .type = "mapping",
       .def = "required",
       .doc = "group name → absolute path with a glob in the file name part"
              " (`app: /var/log/app/*.log`; Flume takes a regex there, "
              "flumen a shell glob, `*` not matching a leading `.`). A "
              "relative path or a glob in the directories is a config error"
              " (`taildir_parse.errors_are_located_and_named`). Files are "
              "followed by inode (see below)"},
      {.name = "positions_file",
       .kind = option_kind::string,
       .doc =
           "where the read position of each file is kept (JSON, Flume's "
           "`{inode, pos, file}` plus the device and a checksum of the "
           "file's first 256 bytes); saved by write and rename, and only"
           " for what the channel accepted. Two sources of one file may "
           "not share one, and its directory must be writable (config "
           "errors). A running source locks it (`FILE.lock`, flock): a "
           "source of another agent on it waits for the lock, `degraded`"
           " and naming the holder's pid, and takes over from the saved "
           "positions when the holder stops "
           "(`taildir_test.a_second_source_on_one_positions_file_waits_for_it`,"
           " `tests/e2e/source_locks.sh`)"},
      {.name = "headers",
       .kind = option_kind::node,
       .type = "mapping",
       .doc = "group name → `{key: value}` set on each event of that group "
              "(Flume's `headers.<group>.<key>`; "
              "`taildir_basics.headers_of_the_group_the_file_and_the_byte_"
              "offset`)"},
      {.name = "file_header",
       .kind = option_kind::boolean,
       .doc = "add the file's path as a header"},
      {.name = "file_header_key",
       .kind = option_kind::string,
       .doc = "its name"},
      {.name = "byte_offset_header",
       .kind = option_kind::boolean,
       .doc = "add the offset of the line's first byte in its file"},
      {.name = "byte_offset_header_key",
       .kind = option_kind::string,
       .doc = "its name"},
      {.name = "skip_to_end",
       .kind = option_kind::boolean,
       .doc = "a file found at the start without a saved position is read "
              "from its end, not its start; files that appear later (a "
              "rotation's new file) are read from their start, as Flume's "
              "`skipToEnd` "
              "(`taildir_basics.skip_to_end_starts_a_new_file_at_its_end`)"},
      {.name = "idle_timeout",
       .kind = option_kind::duration,
       .doc = "a file unchanged for this long is closed (and opened again "
              "when it changes); a file rotated away (no longer matching "
              "its glob) is let go after `min(idle_timeout, 5s)` unchanged "
              "at its end, a deleted one at its end "
              "(`taildir_basics.an_idle_file_is_closed_and_reopened_when_it_"
              "grows`)"},
      {.name = "poll_interval",
       .kind = option_kind::duration,
       .type = "duration > 0",
       .doc = "the globs are listed this often even when inotify is silent;"
              " any inotify event leads to a listing within 20 ms "
              "(`taildir_test.an_event_just_after_a_listing_leads_to_the_next_"
              "one`),"
              " and a file inotify reports under a matching name is opened "
              "at once (see below)"},
      {.name = "multiline",
       .kind = option_kind::node,
       .type = "mapping",
       .doc = "`{start: RE2 pattern, max_lines: 500, timeout: 1s}`: a line "
              "that does not match `start` is joined, after a `\\n`, to the "
              "event before it (stack traces); a joined event is handed "
              "over when the next `start` line comes, at `max_lines` (at "
              "least 2), or after `timeout` without a line "
              "(`taildir_basics.multiline_joins_lines_that_do_not_start_an_"
              "event`)."
              " An invalid pattern is a config error quoting RE2"},
      {.name = "multiline.start",
       .kind = option_kind::string,
       .def = "required with `multiline`",
       .doc = "RE2 pattern of a first line"},
      {.name = "multiline.max_lines",
       .kind = option_kind::count,
       .min = 2,
       .def = "`500`",
       .doc = "lines of one event at most; the next line starts a new one"},
      {.name = "multiline.timeout",
       .kind = option_kind::duration,
       .def = "`1s`",
       .doc = "a pending event is handed over after this without a new first "
              "line"},
      {.name = "batch_size",
       .kind = option_kind::count,
       .doc = "Flume's default; cut to the channels' `transaction_capacity`"
              " when not stated, and at 1 MiB of bodies"},
      max_line_length_option("as [netcat](netcat.md) "
                             "(`taildir_basics.overlong_lines_by_policy`)"),
      overlong_policy_option("as netcat"),
      max_inflight_option("as netcat"),
  };
  return table;
}

taildir_config parse_taildir(option_reader& r) {
  option_scope scope{r, taildir_options()};
  taildir_config cfg;
  cfg.filegroups = r.string_map("filegroups");
  if (!r.has("filegroups"))
    r.invalid("filegroups", "required: group name -> path (e.g. "
                            "`app: /var/log/app/*.log`)");
  for (auto& [group, path] : cfg.filegroups) {
    // Group names appear in log lines ("tailing ... (group app)").
    if (auto why = control_character_in(group); !why.empty())
      r.invalid("filegroups", "group " + why);
    fs::path p{path};
    auto name = p.filename().string();
    if (path.empty() || !p.is_absolute() || name.empty())
      r.invalid("filegroups",
                "group '" + group + "': '" + path +
                    "' must be an absolute path to files (a glob is allowed in "
                    "the file name part)");
    else if (p.parent_path().string().find_first_of("*?[") != std::string::npos)
      r.invalid("filegroups", "group '" + group + "': '" + path +
                                  "': a glob is allowed only in the file name "
                                  "part, not in the directories");
  }
  cfg.positions_file = r.required_str("positions_file");
  if (!cfg.positions_file.empty()) {
    fs::path p{cfg.positions_file};
    r.facts().directory = p.has_parent_path() ? p.parent_path().string() : ".";
    r.facts().state_file = cfg.positions_file;
  }
  if (auto h = r.node("headers"); h.IsDefined()) {
    if (!h.IsMap()) {
      r.invalid("headers", "expected a mapping: group name -> {key: value}");
    } else {
      for (auto it = h.begin(); it != h.end(); ++it) {
        auto group = it->first.as<std::string>();
        option_reader g(it->second, r.path_of("headers") + "." + group,
                        r.file(), r.errors());
        if (r.parsed({"filegroups"}) && !cfg.filegroups.empty() &&
            !cfg.filegroups.count(group))
          r.error("headers", "no file group '" + group + "'");
        if (!it->second.IsMap()) {
          r.invalid("headers", "group '" + group + "': expected a mapping");
          continue;
        }
        for (auto kv = it->second.begin(); kv != it->second.end(); ++kv)
          cfg.headers[group][kv->first.as<std::string>()] =
              g.str(kv->first.as<std::string>());
        g.finish();
      }
    }
  }
  cfg.file_header = r.boolean("file_header", cfg.file_header);
  cfg.file_header_key = r.str("file_header_key", cfg.file_header_key);
  cfg.byte_offset_header =
      r.boolean("byte_offset_header", cfg.byte_offset_header);
  cfg.byte_offset_header_key =
      r.str("byte_offset_header_key", cfg.byte_offset_header_key);
  cfg.skip_to_end = r.boolean("skip_to_end", cfg.skip_to_end);
  cfg.idle_timeout = r.duration("idle_timeout", cfg.idle_timeout);
  cfg.poll_interval = r.duration("poll_interval", cfg.poll_interval);
  if (cfg.poll_interval.count() <= 0) {
    r.invalid("poll_interval", "must be positive");
    cfg.poll_interval = std::chrono::milliseconds{1000};
  }
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.max_line_length = r.bytes("max_line_length", cfg.max_line_length);
  cfg.policy = parse_overlong_policy(r);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight);
  if (auto m = r.node("multiline"); m.IsDefined()) {
    option_reader mr{r, "multiline"};
    if (!m.IsMap()) {
      r.invalid("multiline", "expected a mapping with `start` (a pattern)");
    } else {
      cfg.multiline_start = mr.required_str("start");
      cfg.multiline_max_lines = mr.count("max_lines", cfg.multiline_max_lines);
      cfg.multiline_timeout = mr.duration("timeout", cfg.multiline_timeout);
      if (!cfg.multiline_start.empty()) {
        RE2 re(cfg.multiline_start, RE2::Quiet);
        if (!re.ok())
          mr.invalid("start", "not a valid RE2 pattern: " + re.error());
      }
      mr.finish();
    }
  }
  r.facts().batch_size = cfg.batch_size;
  r.facts().batch_size_stated = r.has("batch_size");
  return cfg;
}

std::chrono::milliseconds
taildir_wait(std::chrono::steady_clock::time_point now,
             std::chrono::steady_clock::time_point last_scan, bool pending,
             std::chrono::milliseconds poll_interval) {
  if (!pending) return poll_interval;
  auto due = last_scan + taildir_scan_spacing;
  if (due <= now) return std::chrono::milliseconds{0};
  // Rounded up: poll() takes whole milliseconds, and waking early only
  // loops once more.
  auto left = std::chrono::ceil<std::chrono::milliseconds>(due - now);
  return std::min(left, poll_interval);
}

namespace taildir_detail {

void tailer::run() {
  // Its directory may not exist yet (validation checked it can be made).
  std::error_code ec;
  auto dir = fs::path{cfg_.positions_file}.parent_path();
  if (!dir.empty()) fs::create_directories(dir, ec);
  // Two agents on one positions file would both read every file and
  // overwrite each other's positions: only the holder of its lock reads;
  // another waits for it, `degraded` and saying who holds it.
  auto lock = take_lock();
  if (!lock) return; // stopped while waiting
  load_positions();
  watch_directories();
  auto next_scan = time_->now();
  auto last_scan = time_point{};
  auto next_timeouts = time_->now();
  for (;;) {
    if (pump_.stopping() || pump_.aborted()) break;
    // inotify fires on every append too: a new file is looked for at
    // most every 20 ms, and every poll_interval whatever it says. A file
    // that appears is opened at once (drain_inotify), listed or not.
    if (drain_inotify()) events_ = true;
    auto now = time_->now();
    if ((events_ && now - last_scan >= scan_spacing) || now >= next_scan) {
      events_ = false;
      scan();
      last_scan = now;
      next_scan = now + cfg_.poll_interval;
    }
    bool progress = read_all();
    if (pump_.aborted()) return;
    if (!progress || now >= next_timeouts) {
      timeouts();
      next_timeouts = now + std::chrono::milliseconds{100};
    }
    if (!progress) flush();
    save_positions();
    if (progress) continue;
    pollfd p[2] = {{pump_.wake_fd(), POLLIN, 0}, {inotify_, POLLIN, 0}};
    now = time_->now();
    auto wait = taildir_wait(now, last_scan, events_, cfg_.poll_interval);
    if (start_) wait = std::min(wait, cfg_.multiline_timeout);
    time_->poll(p, inotify_ >= 0 ? 2 : 1, now + wait);
  }
  // A stop: what was read is handed over (a partial line and a joined
  // event being built are not: their position is kept before them, so
  // the next start reads them again, whole); then the positions of what
  // the channel accepted are saved.
  flush();
  if (last_number_ != 0) pump_.wait_accepted(last_number_);
  save_positions();
}

bool tailer::read_all() {
  bool progress = false;
  char buf[1 << 16];
  for (auto& [id, f] : files_) {
    if (f.fd < 0) continue;
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) continue;
    auto size = static_cast<uint64_t>(st.st_size);
    if (size < f.pos || (f.head_len > 0 && size < f.head_len) ||
        !same_head(f)) {
      // copytruncate (or the file rewritten in place): read it again
      // from its start.
      spdlog::info("{}: {} was truncated or rewritten (size {}, read to "
                   "offset {}); reading it from the start",
                   m_.name, f.path, size, f.pos);
      auto was = f.safe();
      auto head_len = f.head_len, head_crc = f.head_crc;
      reset(f);
      find_copy(f.path, f.group, f.id, was, head_len, head_crc);
    }
    std::size_t budget = 1 << 20;
    while (budget > 0 && f.pos < size) {
      auto want = static_cast<std::size_t>(
          std::min<uint64_t>({sizeof(buf), size - f.pos, budget}));
      auto n = ::pread(f.fd, buf, want, static_cast<off_t>(f.pos));
      if (n <= 0) break;
      // The last feed may have waited for the window: a file truncated
      // (and written again) meanwhile gave these bytes from its new
      // contents; the next pass finds the truncation.
      if (!same_head(f)) break;
      // Before the lines are handed on, so their positions carry it.
      update_head(f, f.pos + static_cast<uint64_t>(n));
      feed(f, buf, static_cast<std::size_t>(n));
      budget -= static_cast<std::size_t>(n);
      progress = true;
      f.last_change = time_->now();
      if (pump_.aborted()) return progress;
    }
  }
  return progress;
}

bool tailer::same_head(tailed& f) {
  if (f.head_len == 0) return true;
  auto h = head_of(f.fd, f.head_len);
  return h && *h == f.head_crc;
}

void tailer::reset(tailed& f) {
  f.pos = f.line_start = 0;
  f.carry.clear();
  f.overflow = f.split = false;
  f.joined.reset();
  f.joined_lines = 0;
  f.head_len = f.head_crc = 0;
  touch(f);
}

void tailer::feed(tailed& f, const char* data, std::size_t n) {
  auto base = f.pos;
  std::size_t i = 0;
  while (i < n) {
    auto* nl = static_cast<const char*>(std::memchr(data + i, '\n', n - i));
    auto take = nl ? static_cast<std::size_t>(nl - (data + i)) : n - i;
    auto max = cfg_.max_line_length;
    if (!f.overflow) {
      if (f.carry.size() + take <= max) {
        f.carry.append(data + i, take);
      } else if (cfg_.policy == overlong_policy::split) {
        auto room = max - f.carry.size();
        f.carry.append(data + i, room);
        i += room;
        // The position moves past the piece before it is handed on, so
        // the batch that holds it records where the next piece begins.
        auto start = f.line_start;
        auto body = std::move(f.carry);
        f.carry.clear();
        f.split = true;
        f.line_start = base + i;
        line(f, std::move(body), start);
        continue;
      } else {
        f.carry.append(data + i, max - f.carry.size());
        f.overflow = true;
      }
    }
    if (!nl) {
      i = n;
      break;
    }
    i += take + 1;
    end_line(f, base + i);
  }
  f.pos = base + n;
}

void tailer::end_line(tailed& f, uint64_t next) {
  bool drop = f.overflow && cfg_.policy == overlong_policy::drop;
  if (drop) {
    if (m_.events_dropped.fetch_add(1, std::memory_order_relaxed) == 0)
      spdlog::warn("{}: dropped a line longer than max_line_length ({} "
                   "bytes); every such line is counted in events_dropped",
                   m_.name, cfg_.max_line_length);
    f.carry.clear();
  } else {
    if (!f.overflow && !f.carry.empty() && f.carry.back() == '\r')
      f.carry.pop_back();
    if (f.overflow &&
        m_.events_truncated.fetch_add(1, std::memory_order_relaxed) == 0)
      spdlog::warn("{}: truncated a line longer than max_line_length ({} "
                   "bytes); every such line is counted in events_truncated",
                   m_.name, cfg_.max_line_length);
  }
  // The position moves past the line before it is handed on (see feed).
  auto start = f.line_start;
  auto body = std::move(f.carry);
  f.carry.clear();
  bool empty_piece = f.split && body.empty();
  f.overflow = f.split = false;
  f.line_start = next;
  // A split line's last piece may be empty: no event of its own.
  if (!drop && !empty_piece) line(f, std::move(body), start);
  touch(f);
}

void tailer::line(tailed& f, std::string&& body, uint64_t offset) {
  f.last_line = time_->now();
  if (!start_) {
    add(f, make(f, std::move(body), offset));
    return;
  }
  if (f.joined && f.joined_lines < cfg_.multiline_max_lines &&
      !RE2::PartialMatch(body, *start_)) {
    f.joined->body += '\n';
    f.joined->body += body;
    ++f.joined_lines;
    return;
  }
  // The new joined event is in place before the old one is handed on:
  // the position recorded with it stops at the new one's first line.
  auto old = std::move(f.joined);
  f.joined = make(f, std::move(body), offset);
  f.joined_start = offset;
  f.joined_lines = 1;
  if (old) add(f, std::move(*old));
}

void tailer::release_joined(tailed& f) {
  if (!f.joined) return;
  auto e = std::move(*f.joined);
  f.joined.reset();
  f.joined_lines = 0;
  add(f, std::move(e));
}

event tailer::make(const tailed& f, std::string&& body, uint64_t offset) {
  event e;
  e.body = std::move(body);
  if (auto h = cfg_.headers.find(f.group); h != cfg_.headers.end())
    for (auto& [k, v] : h->second)
      e.headers.insert_or_assign(k, v);
  if (cfg_.file_header)
    e.headers.insert_or_assign(cfg_.file_header_key, f.path);
  if (cfg_.byte_offset_header)
    e.headers.insert_or_assign(cfg_.byte_offset_header_key,
                               std::to_string(offset));
  return e;
}

void tailer::add(tailed& f, event&& e) {
  batch_bytes_ += e.body.size();
  batch_.push_back(std::move(e));
  touch(f);
  if (batch_.size() >= cfg_.batch_size || batch_bytes_ >= max_batch_bytes)
    flush();
}

void tailer::flush() {
  if (batch_.empty()) {
    // Positions that moved without an event (a tombstone, a reset): with
    // the last batch, which is accepted before they count.
    if (!touched_.empty()) {
      snapshots_.emplace_back(last_number_, std::move(touched_));
      touched_.clear();
      dirty_ = true;
    }
    return;
  }
  auto n = pump_.emit_numbered(std::move(batch_));
  batch_.clear();
  batch_bytes_ = 0;
  if (n == 0) return; // torn down: counted as undelivered by the pump
  last_number_ = n;
  snapshots_.emplace_back(n, std::move(touched_));
  touched_.clear();
  // A reader held back by the window gets back to its loop (which saves)
  // only after a long read (up to 1 MiB a file): what was accepted while
  // it waited is saved here, at most every 100 ms.
  if (auto now = time_->now();
      now - last_save_ >= std::chrono::milliseconds{100}) {
    last_save_ = now;
    save_positions();
  }
}

void tailer::timeouts() {
  auto now = time_->now();
  for (auto it = files_.begin(); it != files_.end();) {
    auto& f = it->second;
    if (f.joined && now - f.last_line >= cfg_.multiline_timeout)
      release_joined(f);
    // A file rotated away is written only until its writer reopens its
    // log: it is let go sooner than an idle one.
    bool idle = now - f.last_change >=
                (f.matched ? cfg_.idle_timeout
                           : std::min(cfg_.idle_timeout, rotated_grace));
    struct stat st {};
    bool known = f.fd >= 0 && ::fstat(f.fd, &st) == 0;
    bool deleted = known && st.st_nlink == 0;
    bool at_end =
        f.fd < 0 || (known && static_cast<uint64_t>(st.st_size) == f.pos);
    if ((deleted || !f.matched) && at_end && (idle || deleted)) {
      // Nobody writes it any more: its last line, even without a newline,
      // is an event; then it is forgotten.
      if (!f.carry.empty()) {
        auto body = std::move(f.carry);
        auto start = f.line_start;
        f.carry.clear();
        f.line_start = f.pos;
        line(f, std::move(body), start);
      }
      release_joined(f);
      f.line_start = f.pos;
      touch(f);
      spdlog::info("{}: done with {} ({})", m_.name, f.path,
                   deleted ? "deleted" : "rotated away");
      close_fd(f);
      touched_[f.id].gone = true;
      it = files_.erase(it);
      continue;
    }
    if (idle && f.fd >= 0 && at_end) close_fd(f);
    ++it;
  }
}

} // namespace taildir_detail

using taildir_detail::tailer;

caf::actor spawn_taildir(caf::actor_system& sys, const taildir_config& config,
                         const wiring& w) {
  auto cfg = adapt_batch(config, w);
  // Beside a source's families (metrics.hpp): the files it holds open.
  w.metrics->expose("connections_open");
  auto reader = [cfg](source_pump& pump) {
    tailer t{cfg, pump};
    t.run();
  };
  return spawn_source(sys, reader, w.downstream, w.metrics, cfg.max_inflight,
                      cfg.time);
}

} // namespace flumen::sources
