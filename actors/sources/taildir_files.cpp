// The taildir reader's side that finds files: the positions file and its
// lock, inotify and listings, files renamed or deleted while read or while
// the agent was down, copytruncate, descriptors.

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
#include "runtime/core/file_lock.hpp"
#include "runtime/flow/source_pump.hpp"

namespace flumen::sources::taildir_detail {

std::unique_ptr<file_lock> tailer::take_lock() {
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

void tailer::load_positions() {
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

void tailer::save_positions() {
  // Aborted (its source was killed): the source is not waiting for this
  // reader, and a new one may already save to the same file; two writers
  // of one temporary file could rename a mix of both. What it read since
  // its last save is read again after a restart (duplicates, never loss).
  if (pump_.aborted()) return;
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

void tailer::warn_once(const std::string& what) {
  if (!warned_) spdlog::error("{}: {}; positions are not saved", m_.name, what);
  warned_ = true;
}

void tailer::touch(const tailed& f) {
  touched_[f.id] = position{f.path, f.safe(), f.head_len, f.head_crc, false};
}

void tailer::watch_directories() {
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

std::string tailer::group_of(const std::string& dir,
                             const std::string& name) const {
  for (auto& [group, glob] : cfg_.filegroups) {
    fs::path g{glob};
    if (g.parent_path().string() == dir &&
        ::fnmatch(g.filename().string().c_str(), name.c_str(), FNM_PERIOD) == 0)
      return group;
  }
  return {};
}

bool tailer::drain_inotify() {
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

void tailer::scan() {
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

void tailer::follow_closed(tailed& f) {
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
    spdlog::info("{}: {} was renamed to {} while closed; following it", m_.name,
                 f.path, found);
  f.path = found;
  if (static_cast<uint64_t>(st.st_size) != f.pos) reopen(f);
}

void tailer::find_rotated_while_down(const std::set<file_id>& seen) {
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

void tailer::find_copy(const std::string& path, const std::string& group,
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

void tailer::track(file_id id, const std::string& path,
                   const std::string& group, const struct stat& st,
                   bool matched, std::optional<uint64_t> start_at) {
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
  spdlog::info("{}: tailing {} (group {}) from offset {}", m_.name, path, group,
               start);
  files_.emplace(id, std::move(f));
}

void tailer::update_head(tailed& f, uint64_t upto) {
  if (f.head_len >= head_bytes || f.fd < 0) return;
  auto len = static_cast<uint32_t>(std::min<uint64_t>(head_bytes, upto));
  if (len <= f.head_len) return;
  if (auto h = head_of(f.fd, len)) {
    f.head_len = len;
    f.head_crc = *h;
  }
}

int tailer::open_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0 || (errno != EMFILE && errno != ENFILE)) return fd;
  if (close_files_at_end() == 0) {
    errno = EMFILE;
    return -1;
  }
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

std::size_t tailer::close_files_at_end() {
  std::size_t closed = 0;
  for (auto& [_, g] : files_) {
    struct stat st {};
    if (g.fd >= 0 && g.matched && ::fstat(g.fd, &st) == 0 && st.st_nlink > 0 &&
        static_cast<uint64_t>(st.st_size) == g.pos) {
      close_fd(g);
      ++closed;
    }
  }
  return closed;
}

void tailer::reopen(tailed& f) {
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

void tailer::close_fd(tailed& f) {
  if (f.fd < 0) return;
  ::close(f.fd);
  f.fd = -1;
  --open_files_;
  m_.connections_open.store(open_files_, std::memory_order_relaxed);
}

} // namespace flumen::sources::taildir_detail
