#include "actors/sources/taildir.hpp"

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
#include "runtime/core/file_lock.hpp"
#include "runtime/flow/source_pump.hpp"

namespace flumen::sources {

namespace fs = std::filesystem;

taildir_config parse_taildir(option_reader& r) {
  taildir_config cfg;
  cfg.filegroups = r.string_map("filegroups");
  if (!r.has("filegroups"))
    r.error("filegroups", "required: group name -> path (e.g. "
                          "`app: /var/log/app/*.log`)");
  for (auto& [group, path] : cfg.filegroups) {
    // Group names appear in log lines ("tailing ... (group app)").
    if (auto why = control_character_in(group); !why.empty())
      r.error("filegroups", "group " + why);
    fs::path p{path};
    auto name = p.filename().string();
    if (path.empty() || !p.is_absolute() || name.empty())
      r.error("filegroups",
              "group '" + group + "': '" + path +
                  "' must be an absolute path to files (a glob is allowed in "
                  "the file name part)");
    else if (p.parent_path().string().find_first_of("*?[") != std::string::npos)
      r.error("filegroups", "group '" + group + "': '" + path +
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
      r.error("headers", "expected a mapping: group name -> {key: value}");
    } else {
      for (auto it = h.begin(); it != h.end(); ++it) {
        auto group = it->first.as<std::string>();
        option_reader g(it->second, r.path_of("headers") + "." + group,
                        r.file(), r.errors());
        if (!cfg.filegroups.empty() && !cfg.filegroups.count(group))
          r.error("headers", "no file group '" + group + "'");
        if (!it->second.IsMap()) {
          r.error("headers", "group '" + group + "': expected a mapping");
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
    r.error("poll_interval", "must be positive");
    cfg.poll_interval = std::chrono::milliseconds{1000};
  }
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.max_line_length =
      r.bytes("max_line_length", cfg.max_line_length, 1, max_event_length);
  cfg.policy = parse_overlong_policy(r);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight, 1, 1024);
  if (auto m = r.node("multiline"); m.IsDefined()) {
    option_reader mr(m, r.path_of("multiline"), r.file(), r.errors());
    if (!m.IsMap()) {
      r.error("multiline", "expected a mapping with `start` (a pattern)");
    } else {
      cfg.multiline_start = mr.required_str("start");
      cfg.multiline_max_lines =
          mr.count("max_lines", cfg.multiline_max_lines, 2);
      cfg.multiline_timeout = mr.duration("timeout", cfg.multiline_timeout);
      if (!cfg.multiline_start.empty()) {
        RE2 re(cfg.multiline_start, RE2::Quiet);
        if (!re.ok())
          mr.error("start", "not a valid RE2 pattern: " + re.error());
      }
      mr.finish();
    }
  }
  r.facts().batch_size = cfg.batch_size;
  r.facts().batch_size_stated = r.has("batch_size");
  r.facts().max_event_bytes =
      cfg.multiline_start.empty()
          ? cfg.max_line_length
          : cfg.max_line_length * cfg.multiline_max_lines;
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

namespace {

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
std::optional<uint32_t> head_of(int fd, uint32_t len) {
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

  void run() {
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

private:
  // -- positions -------------------------------------------------------------

  /// The positions file's lock (`FILE.lock`), waited for while another
  /// agent holds it (retried every poll_interval); nullptr when the source
  /// was stopped meanwhile.
  std::unique_ptr<file_lock> take_lock() {
    std::string last;
    for (;;) {
      std::string why;
      try {
        auto lock = std::make_unique<file_lock>(cfg_.positions_file + ".lock");
        if (lock->held()) {
          if (!last.empty()) {
            spdlog::info("{}: took the lock of {}; reading", m_.name,
                         cfg_.positions_file);
            m_.set_state(component_state::running);
          }
          return lock;
        }
        why = "positions file " + cfg_.positions_file +
              " is used by another running agent" +
              (lock->holder().empty() ? std::string{}
                                      : " (pid " + lock->holder() + ")") +
              ", which holds " + lock->path() +
              "; two agents must not share a positions file: this source "
              "waits until it is free";
      } catch (const std::system_error& e) {
        why = "cannot lock positions file " + cfg_.positions_file + ": " +
              e.what() + "; trying again every poll_interval";
      }
      if (why != last) {
        spdlog::error("{}: {}", m_.name, why);
        m_.set_state(component_state::degraded, why);
        last = why;
      }
      if (!pump_.sleep_for(cfg_.poll_interval)) return nullptr;
    }
  }

  void load_positions() {
    std::ifstream in{cfg_.positions_file};
    if (!in) return;
    try {
      auto j = nlohmann::json::parse(in);
      for (auto& e : j) {
        file_id id{static_cast<dev_t>(e.value("dev", uint64_t{0})),
                   static_cast<ino_t>(e.at("inode").get<uint64_t>())};
        position p;
        p.path = e.at("file").get<std::string>();
        p.pos = e.at("pos").get<uint64_t>();
        p.head_len = e.value("head_len", uint32_t{0});
        p.head_crc = e.value("head_crc", uint32_t{0});
        saved_[id] = p;
      }
      accepted_ = saved_;
      spdlog::info("{}: {} file positions read from {}", m_.name, saved_.size(),
                   cfg_.positions_file);
    } catch (const std::exception& e) {
      // Not fatal: files are read from their start (at least once).
      spdlog::error("{}: positions file {} is unreadable ({}); files are "
                    "read from the start",
                    m_.name, cfg_.positions_file, e.what());
      saved_.clear();
    }
  }

  void save_positions() {
    auto below = pump_.accepted_below();
    if (below == saved_below_ && !dirty_) return;
    bool changed = dirty_;
    while (!snapshots_.empty() && snapshots_.front().first < below) {
      for (auto& [id, p] : snapshots_.front().second)
        if (p.gone)
          accepted_.erase(id);
        else
          accepted_[id] = p;
      snapshots_.pop_front();
      changed = true;
    }
    saved_below_ = below;
    dirty_ = false;
    if (!changed) return;
    nlohmann::json j = nlohmann::json::array();
    for (auto& [id, p] : accepted_)
      j.push_back({{"inode", static_cast<uint64_t>(id.ino)},
                   {"dev", static_cast<uint64_t>(id.dev)},
                   {"pos", p.pos},
                   {"file", p.path},
                   {"head_len", p.head_len},
                   {"head_crc", p.head_crc}});
    auto tmp = cfg_.positions_file + ".tmp";
    {
      std::ofstream out{tmp, std::ios::trunc};
      out << j.dump() << '\n';
      out.flush();
      if (!out) {
        warn_once("cannot write " + tmp + ": " + std::strerror(errno));
        return;
      }
    }
    if (::rename(tmp.c_str(), cfg_.positions_file.c_str()) != 0)
      warn_once("cannot rename " + tmp + ": " + std::strerror(errno));
  }

  void warn_once(const std::string& what) {
    if (!warned_)
      spdlog::error("{}: {}; positions are not saved", m_.name, what);
    warned_ = true;
  }

  /// Records where `f` stands for the batch being built.
  void touch(const tailed& f) {
    touched_[f.id] = position{f.path, f.safe(), f.head_len, f.head_crc, false};
  }

  // -- finding files ----------------------------------------------------------

  void watch_directories() {
    inotify_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_ < 0) {
      spdlog::warn("{}: inotify unavailable ({}); listing files every {} ms",
                   m_.name, std::strerror(errno), cfg_.poll_interval.count());
      return;
    }
    std::set<std::string> dirs;
    for (auto& [_, path] : cfg_.filegroups)
      dirs.insert(fs::path{path}.parent_path().string());
    for (auto& d : dirs) {
      int wd = ::inotify_add_watch(inotify_, d.c_str(),
                                   IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
                                       IN_MODIFY | IN_DELETE | IN_CLOSE_WRITE |
                                       IN_ATTRIB);
      if (wd < 0)
        spdlog::warn("{}: cannot watch {} ({}); it is listed every {} ms",
                     m_.name, d, std::strerror(errno),
                     cfg_.poll_interval.count());
      else
        watched_[wd] = d;
    }
  }

  /// The group whose glob `name` in directory `dir` matches (the first,
  /// as a listing takes it); empty when none.
  std::string group_of(const std::string& dir, const std::string& name) const {
    for (auto& [group, glob] : cfg_.filegroups) {
      fs::path g{glob};
      if (g.parent_path().string() == dir &&
          ::fnmatch(g.filename().string().c_str(), name.c_str(), FNM_PERIOD) ==
              0)
        return group;
    }
    return {};
  }

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
  bool drain_inotify() {
    if (inotify_ < 0) return false;
    bool any = false;
    std::vector<appeared> news;
    std::map<uint32_t, file_id> moving; // closed files being renamed
    alignas(inotify_event) char buf[8192];
    for (;;) {
      auto n = ::read(inotify_, buf, sizeof(buf));
      if (n <= 0) break;
      any = true;
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        p += sizeof(inotify_event) + ev->len;
        if (ev->mask & IN_Q_OVERFLOW) {
          // Events were lost: the listing still finds what is there, but
          // a file renamed away meanwhile may never be seen.
          if (!warned_overflow_)
            spdlog::warn("{}: inotify's queue overflowed (more than "
                         "fs.inotify.max_queued_events events while the "
                         "source waited); a file created and renamed out of "
                         "its glob meanwhile may be missed",
                         m_.name);
          warned_overflow_ = true;
          continue;
        }
        auto w = watched_.find(ev->wd);
        if (w == watched_.end() || ev->len == 0 || (ev->mask & IN_ISDIR))
          continue;
        std::string name{ev->name}; // NUL-padded
        auto path = w->second + "/" + name;
        if (ev->mask & IN_MOVED_FROM) {
          for (auto& a : news)
            if (a.cookie == 0 && a.path == path) a.cookie = ev->cookie;
          for (auto& [id, f] : files_)
            if (f.fd < 0 && f.path == path) moving[ev->cookie] = id;
        } else if (ev->mask & IN_MOVED_TO) {
          bool followed = false;
          for (auto& a : news)
            if (a.cookie != 0 && a.cookie == ev->cookie) {
              a.path = path;
              a.cookie = 0;
              followed = true;
            }
          if (auto m = moving.find(ev->cookie); m != moving.end()) {
            if (auto f = files_.find(m->second); f != files_.end())
              f->second.path = path;
            moving.erase(m);
          }
          if (!followed)
            if (auto g = group_of(w->second, name); !g.empty())
              news.push_back({path, g, 0});
        } else if (ev->mask & IN_CREATE) {
          if (auto g = group_of(w->second, name); !g.empty())
            news.push_back({path, g, 0});
        } else if (ev->mask & IN_DELETE) {
          std::erase_if(news, [&](const appeared& a) {
            return a.cookie == 0 && a.path == path;
          });
        }
      }
    }
    // The first listing, which comes next, takes every file there is (and
    // knows which were there at the start, for skip_to_end).
    if (first_scan_) return any;
    for (auto& a : news) {
      if (a.cookie != 0) continue; // renamed out of the watched directories
      struct stat st {};
      if (::stat(a.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      file_id id{st.st_dev, st.st_ino};
      if (files_.count(id)) continue;
      auto slash = a.path.rfind('/');
      bool matched =
          !group_of(a.path.substr(0, slash), a.path.substr(slash + 1)).empty();
      if (!matched)
        spdlog::info("{}: {} appeared and was renamed before it was read; "
                     "reading it",
                     m_.name, a.path);
      track(id, a.path, a.group, st, matched);
    }
    return any;
  }

  /// Lists every group's glob; new files are tailed, files no longer
  /// listed are marked (still read to their end by descriptor).
  void scan() {
    std::set<file_id> seen;
    bool complete = true; // every listing read to its end
    for (auto& [group, glob] : cfg_.filegroups) {
      fs::path g{glob};
      auto dir = g.parent_path().string();
      auto pattern = g.filename().string();
      std::error_code ec;
      fs::directory_iterator it{dir, ec};
      if (ec && (ec.value() == EMFILE || ec.value() == ENFILE) &&
          close_files_at_end() > 0) {
        ec.clear();
        it = fs::directory_iterator{dir, ec};
      }
      if (ec) {
        complete = false;
        if (warned_open_.insert(dir).second)
          spdlog::warn("{}: cannot list {}: {}", m_.name, dir, ec.message());
        continue;
      }
      warned_open_.erase(dir);
      for (fs::directory_iterator end; !ec && it != end; it.increment(ec)) {
        auto name = it->path().filename().string();
        if (::fnmatch(pattern.c_str(), name.c_str(), FNM_PERIOD) != 0) continue;
        auto path = it->path().string();
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        file_id id{st.st_dev, st.st_ino};
        if (seen.count(id)) continue; // in two groups: the first one has it
        seen.insert(id);
        auto f = files_.find(id);
        if (f == files_.end()) {
          track(id, path, group, st, true);
        } else {
          f->second.path = path;
          f->second.matched = true;
          if (f->second.fd < 0 &&
              static_cast<uint64_t>(st.st_size) != f->second.pos)
            reopen(f->second);
        }
      }
      if (ec) complete = false;
    }
    // A listing cut short (out of descriptors, a directory gone) says
    // nothing about what was rotated away.
    if (complete)
      for (auto& [id, f] : files_)
        if (!seen.count(id)) {
          if (f.matched && f.fd < 0) follow_closed(f);
          f.matched = false;
        }
    if (first_scan_) {
      first_scan_ = false;
      find_rotated_while_down(seen);
    }
  }

  /// A closed file (idle, or closed for want of descriptors) that its
  /// glob no longer lists was renamed or deleted: found by its inode (at
  /// the name inotify saw it renamed to, or in its directory), it is
  /// opened again when it holds more than was read.
  void follow_closed(tailed& f) {
    struct stat st {};
    auto same = [&](const std::string& p) {
      return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
             file_id{st.st_dev, st.st_ino} == f.id;
    };
    std::string found;
    if (same(f.path)) {
      found = f.path;
    } else {
      std::error_code ec;
      for (fs::directory_iterator it{fs::path{f.path}.parent_path(), ec}, end;
           !ec && it != end; it.increment(ec))
        if (auto p = it->path().string(); same(p)) {
          found = p;
          break;
        }
    }
    if (found.empty()) return; // deleted, or moved to another directory
    if (found != f.path)
      spdlog::info("{}: {} was renamed to {} while closed; following it",
                   m_.name, f.path, found);
    f.path = found;
    if (static_cast<uint64_t>(st.st_size) != f.pos) reopen(f);
  }

  /// A file saved in the positions but not listed now may have been
  /// rotated (renamed) while the agent was down: found by its inode in its
  /// directory, its rest is read before it is let go.
  void find_rotated_while_down(const std::set<file_id>& seen) {
    // A copy: track() erases the entry it takes up from saved_.
    auto saved = saved_;
    for (auto& [id, p] : saved) {
      if (seen.count(id) || files_.count(id)) continue;
      auto dir = fs::path{p.path}.parent_path();
      std::error_code ec;
      for (fs::directory_iterator it{dir, ec}, end; !ec && it != end;
           it.increment(ec)) {
        struct stat st {};
        auto path = it->path().string();
        if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (file_id{st.st_dev, st.st_ino} != id) continue;
        std::string group;
        for (auto& [g, glob] : cfg_.filegroups)
          if (fs::path{glob}.parent_path() == dir) group = g;
        if (group.empty()) break;
        if (static_cast<uint64_t>(st.st_size) == p.pos) {
          // Read to its end before: nothing to do but forget it.
          touched_[id] = position{path, p.pos, p.head_len, p.head_crc, true};
          break;
        }
        spdlog::info("{}: {} was renamed to {} while the agent was down; "
                     "reading its rest",
                     m_.name, p.path, path);
        track(id, path, group, st, false);
        break;
      }
    }
  }

  /// After a copytruncate, lines not read yet are only in the copy
  /// (logrotate's `copytruncate`): it is found in the same directory by the
  /// checksum of its first bytes, and its rest is read from where the
  /// original stood; then it is let go like a rotated file.
  void find_copy(const std::string& path, const std::string& group,
                 file_id original, uint64_t pos, uint32_t head_len,
                 uint32_t head_crc) {
    if (head_len == 0 || pos == 0) return;
    auto dir = fs::path{path}.parent_path();
    std::error_code ec;
    for (fs::directory_iterator it{dir, ec}, end; !ec && it != end;
         it.increment(ec)) {
      auto p = it->path().string();
      struct stat st {};
      if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      file_id id{st.st_dev, st.st_ino};
      if (id == original || files_.count(id) ||
          static_cast<uint64_t>(st.st_size) <= pos)
        continue; // (a copy no longer than what was read holds nothing new)
      int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      auto head = head_of(fd, head_len);
      ::close(fd);
      if (!head || *head != head_crc) continue;
      spdlog::info("{}: {} was copied to {} and truncated; reading the copy "
                   "from offset {}",
                   m_.name, path, p, pos);
      track(id, p, group, st, false, pos);
      return;
    }
  }

  void track(file_id id, const std::string& path, const std::string& group,
             const struct stat& st, bool matched,
             std::optional<uint64_t> start_at = std::nullopt) {
    int fd = open_file(path);
    if (fd < 0) {
      // Tried again at the next listing.
      if (warned_open_.insert(path).second)
        spdlog::warn("{}: cannot open {}: {}", m_.name, path,
                     std::strerror(errno));
      return;
    }
    warned_open_.erase(path);
    tailed f;
    f.id = id;
    f.path = path;
    f.group = group;
    f.fd = fd;
    f.matched = matched;
    f.last_change = time_->now();
    auto size = static_cast<uint64_t>(st.st_size);
    // skip_to_end is for the files there at the start (Flume's skipToEnd):
    // one that appears later (a rotation's new file) is read from its start.
    uint64_t start = cfg_.skip_to_end && first_scan_ ? size : 0;
    if (auto s = saved_.find(id); s != saved_.end()) {
      auto saved = s->second;
      saved_.erase(s);
      auto head = head_of(fd, saved.head_len);
      if (start_at) {
        start = *start_at;
      } else if (saved.pos <= size && head && *head == saved.head_crc) {
        start = saved.pos;
      } else {
        spdlog::info("{}: {} is not the file its saved position was for "
                     "(truncated, or other contents); reading it from the "
                     "start",
                     m_.name, path);
        start = 0;
        find_copy(path, group, id, saved.pos, saved.head_len, saved.head_crc);
      }
    } else if (start_at) {
      start = *start_at;
    }
    f.pos = f.line_start = start;
    update_head(f, start);
    ++open_files_;
    m_.connections_open.store(open_files_, std::memory_order_relaxed);
    spdlog::info("{}: tailing {} (group {}) from offset {}", m_.name, path,
                 group, start);
    files_.emplace(id, std::move(f));
  }

  /// Remembers the checksum of the file's first bytes (up to `upto`).
  void update_head(tailed& f, uint64_t upto) {
    if (f.head_len >= head_bytes || f.fd < 0) return;
    auto len = static_cast<uint32_t>(std::min<uint64_t>(head_bytes, upto));
    if (len <= f.head_len) return;
    if (auto h = head_of(f.fd, len)) {
      f.head_len = len;
      f.head_crc = *h;
    }
  }

  /// Opens a file; out of descriptors, it first closes every file read to
  /// its end (opened again when it grows), so a directory of more files
  /// than descriptors is still read, a share at a time.
  int open_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0 || (errno != EMFILE && errno != ENFILE)) return fd;
    if (close_files_at_end() == 0) {
      errno = EMFILE;
      return -1;
    }
    return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }

  /// Closes every open file read to its end; returns how many.
  std::size_t close_files_at_end() {
    std::size_t closed = 0;
    for (auto& [_, g] : files_) {
      struct stat st {};
      if (g.fd >= 0 && g.matched && ::fstat(g.fd, &st) == 0 &&
          st.st_nlink > 0 && static_cast<uint64_t>(st.st_size) == g.pos) {
        close_fd(g);
        ++closed;
      }
    }
    return closed;
  }

  void reopen(tailed& f) {
    int fd = open_file(f.path);
    if (fd < 0) return;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || file_id{st.st_dev, st.st_ino} != f.id) {
      ::close(fd);
      return;
    }
    f.fd = fd;
    f.last_change = time_->now();
    ++open_files_;
    m_.connections_open.store(open_files_, std::memory_order_relaxed);
  }

  void close_fd(tailed& f) {
    if (f.fd < 0) return;
    ::close(f.fd);
    f.fd = -1;
    --open_files_;
    m_.connections_open.store(open_files_, std::memory_order_relaxed);
  }

  // -- reading ---------------------------------------------------------------

  /// One pass over every open file, at most 1 MiB from each. True when
  /// anything was read.
  bool read_all() {
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

  bool same_head(tailed& f) {
    if (f.head_len == 0) return true;
    auto h = head_of(f.fd, f.head_len);
    return h && *h == f.head_crc;
  }

  void reset(tailed& f) {
    f.pos = f.line_start = 0;
    f.carry.clear();
    f.overflow = f.split = false;
    f.joined.reset();
    f.joined_lines = 0;
    f.head_len = f.head_crc = 0;
    touch(f);
  }

  void feed(tailed& f, const char* data, std::size_t n) {
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

  /// A newline: the line ends; the next begins at `next`.
  void end_line(tailed& f, uint64_t next) {
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

  /// A whole line (or piece) at `offset`: an event, or part of a joined one.
  void line(tailed& f, std::string&& body, uint64_t offset) {
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

  /// Hands over `f`'s joined event (its last line came long enough ago, or
  /// the file is let go).
  void release_joined(tailed& f) {
    if (!f.joined) return;
    auto e = std::move(*f.joined);
    f.joined.reset();
    f.joined_lines = 0;
    add(f, std::move(e));
  }

  event make(const tailed& f, std::string&& body, uint64_t offset) {
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

  void add(tailed& f, event&& e) {
    batch_bytes_ += e.body.size();
    batch_.push_back(std::move(e));
    touch(f);
    if (batch_.size() >= cfg_.batch_size || batch_bytes_ >= max_batch_bytes)
      flush();
  }

  void flush() {
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

  /// Joined events whose last line is old are handed over; idle files are
  /// closed, and rotated or deleted ones at their end are let go.
  void timeouts() {
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

} // namespace

caf::actor spawn_taildir(caf::actor_system& sys, const taildir_config& config,
                         const wiring& w) {
  auto cfg = adapt_batch(config, w);
  auto reader = [cfg](source_pump& pump) {
    tailer t{cfg, pump};
    t.run();
  };
  return spawn_source(sys, reader, w.downstream, w.metrics, cfg.max_inflight,
                      cfg.time);
}

} // namespace flumen::sources
