#include "actors/sources/spooldir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <re2/re2.h>
#include <spdlog/spdlog.h>

#include "actors/sources/source_options.hpp"
#include "runtime/core/file_lock.hpp"
#include "runtime/flow/source_pump.hpp"

namespace flumen::sources {

namespace {

void check_spool_dir(option_reader& r, const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    r.invalid("spool_dir", "cannot use '" + dir + "': " + std::strerror(errno));
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    r.invalid("spool_dir", "'" + dir + "' is not a directory");
    return;
  }
  // Flume checks the same: done files are renamed or deleted in it.
  if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0)
    r.invalid("spool_dir", "'" + dir + "' must be readable and writable: " +
                               std::strerror(errno));
}

std::string pattern(option_reader& r, std::string_view key, std::string def) {
  auto p = r.str(key, std::move(def));
  RE2 re{p, RE2::Quiet};
  if (!re.ok())
    r.invalid(key, "invalid RE2 pattern '" + p + "': " + re.error());
  return p;
}

std::string header_key(option_reader& r, std::string_view key,
                       std::string def) {
  auto k = r.str(key, std::move(def));
  if (k.empty()) r.invalid(key, "must not be empty");
  return k;
}

} // namespace

/// The options of the `spooldir` source (docs/reference/sources/spooldir.md
/// shows them, generated).
const option_list& spooldir_options() {
  static const option_list table = {
      {.name = "spool_dir",
       .kind = option_kind::string,
       .doc = "the directory to watch; must exist and be readable and "
              "writable (a config error otherwise: "
              "`spooldir_test.parse_requires_an_existing_spool_dir`)"},
      {.name = "file_suffix",
       .kind = option_kind::string,
       .type = "string, not empty",
       .doc = "a done file is renamed to its name + this; names ending with"
              " it are skipped. An existing done name is never overwritten:"
              " the file is logged and not read until that name is free "
              "(`spooldir_test.a_taken_done_name_is_never_overwritten`)"},
      {.name = "delete_policy",
       .kind = option_kind::choice,
       .choices = "never|immediate",
       .doc = "`never` (rename) or `immediate` (delete a done file: "
              "`spooldir_test.delete_policy_immediate_removes_files`)"},
      {.name = "include_pattern",
       .kind = option_kind::string,
       .type = "RE2 pattern",
       .doc = "a file is read only when its whole name matches; `.` matches"
              " any byte of a name, a newline too "
              "(`spooldir_test.a_file_whose_name_holds_a_newline_is_read`)."
              " An invalid pattern is a config error quoting RE2's message "
              "(`spooldir_test.parse_reports_invalid_patterns_with_re2s_"
              "message`)"},
      {.name = "ignore_pattern",
       .kind = option_kind::string,
       .type = "RE2 pattern",
       .doc = "a file whose whole name matches is skipped. Hidden files "
              "(`.name`) and anything but regular files are always skipped "
              "(`spooldir_test.reads_only_the_files_the_patterns_admit`)"},
      {.name = "file_header",
       .kind = option_kind::boolean,
       .doc = "add the file's absolute path as a header"},
      {.name = "file_header_key",
       .kind = option_kind::string,
       .doc = "its name"},
      {.name = "basename_header",
       .kind = option_kind::boolean,
       .doc = "add the file's name as a header"},
      {.name = "basename_header_key",
       .kind = option_kind::string,
       .doc = "its name"},
      {.name = "consume_order",
       .kind = option_kind::choice,
       .choices = "oldest|youngest|random",
       .doc = "by mtime (ties by name), or `random` "
              "(`spooldir_test.consume_order_youngest_reads_the_newest_file_"
              "first`)"},
      {.name = "poll_delay",
       .kind = option_kind::duration,
       .type = "duration > 0",
       .doc = "the wait after a scan that marked no file done"},
      {.name = "deserializer",
       .kind = option_kind::string,
       .type = "`line`",
       .doc = "the only one (Flume's `LINE`)"},
      {.name = "batch_size",
       .kind = option_kind::count,
       .doc = "as [netcat](netcat.md), with Flume's default; a file's last "
              "batch may be smaller"},
      max_line_length_option(
          "as netcat (Flume's LINE deserializer's `maxLineLength`; "
          "`spooldir_test.overlong_lines_follow_the_policy_and_are_counted`)"),
      overlong_policy_option("as netcat"),
      max_inflight_option("as netcat"),
  };
  return table;
}

spooldir_config parse_spooldir(option_reader& r) {
  option_scope scope{r, spooldir_options()};
  spooldir_config cfg;
  cfg.spool_dir = r.required_str("spool_dir");
  if (!cfg.spool_dir.empty()) check_spool_dir(r, cfg.spool_dir);
  cfg.file_suffix = r.str("file_suffix", cfg.file_suffix);
  // An empty suffix would make every file look done already.
  if (cfg.file_suffix.empty()) r.invalid("file_suffix", "must not be empty");
  auto policy = r.choice("delete_policy", "never", {"never", "immediate"});
  if (policy == "immediate") cfg.delete_policy = spool_delete_policy::immediate;
  cfg.include_pattern = pattern(r, "include_pattern", cfg.include_pattern);
  cfg.ignore_pattern = pattern(r, "ignore_pattern", cfg.ignore_pattern);
  cfg.file_header = r.boolean("file_header", cfg.file_header);
  cfg.file_header_key = header_key(r, "file_header_key", cfg.file_header_key);
  cfg.basename_header = r.boolean("basename_header", cfg.basename_header);
  cfg.basename_header_key =
      header_key(r, "basename_header_key", cfg.basename_header_key);
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  auto deserializer = r.str("deserializer", "line");
  if (deserializer != "line")
    r.invalid("deserializer", "'" + deserializer +
                                  "' is not supported; the only deserializer "
                                  "is 'line' (Flume's LINE)");
  cfg.max_line_length = r.bytes("max_line_length", cfg.max_line_length);
  r.facts().batch_size = cfg.batch_size;
  r.facts().batch_size_stated = r.has("batch_size");
  cfg.policy = parse_overlong_policy(r);
  cfg.poll_delay = r.duration("poll_delay", cfg.poll_delay);
  if (cfg.poll_delay.count() <= 0) {
    r.invalid("poll_delay", "must be more than 0");
    cfg.poll_delay = spooldir_config{}.poll_delay;
  }
  auto order =
      r.choice("consume_order", "oldest", {"oldest", "youngest", "random"});
  if (order == "youngest")
    cfg.consume_order = spool_consume_order::youngest;
  else if (order == "random")
    cfg.consume_order = spool_consume_order::random;
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight);
  return cfg;
}

namespace {

// Which file a name stood for and in which state: a file is read again
// (or marked done later) only as the same one.
struct file_id {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  timespec mtime{};

  explicit file_id(const struct stat& st)
      : dev(st.st_dev), ino(st.st_ino), size(st.st_size), mtime(st.st_mtim) {}

  bool same_file(const file_id& o) const {
    return dev == o.dev && ino == o.ino;
  }
  bool operator==(const file_id& o) const {
    return same_file(o) && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec;
  }
};

bool mtime_less(const timespec& a, const timespec& b) {
  return a.tv_sec != b.tv_sec ? a.tv_sec < b.tv_sec : a.tv_nsec < b.tv_nsec;
}

struct candidate {
  std::string name;
  file_id id;
};

// rename(2) that never replaces `to`: 0 or an errno (EEXIST when taken).
int rename_noreplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(),
                  RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  // A file system without RENAME_NOREPLACE: check first. Racy, but only
  // against someone else writing done names into the spool directory.
  struct stat st {};
  if (::lstat(to.c_str(), &st) == 0) return EEXIST;
  return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
}

std::string errno_text(int err) {
  return std::strerror(err);
}

/// The spool directory's lock file (hidden: never a file to read).
constexpr const char* spool_lock_name = ".flumen.lock";

/// How file name patterns are compiled: `.` matches any byte of a name, a
/// newline too (RE2's default leaves it out, and a file whose name held
/// one matched no pattern: it was skipped without a word).
RE2::Options name_pattern_options() {
  RE2::Options o{RE2::Quiet};
  o.set_dot_nl(true);
  return o;
}

class spool_reader {
public:
  spool_reader(const spooldir_config& cfg, source_pump& pump)
      : cfg_(cfg), pump_(pump),
        include_(cfg.include_pattern, name_pattern_options()),
        ignore_(cfg.ignore_pattern, name_pattern_options()),
        rng_(std::random_device{}()) {
    // Parsing checked both; a config built elsewhere may not have been.
    if (!include_.ok())
      throw std::runtime_error("invalid include_pattern: " + include_.error());
    if (!ignore_.ok())
      throw std::runtime_error("invalid ignore_pattern: " + ignore_.error());
    std::error_code ec;
    auto dir = std::filesystem::absolute(cfg.spool_dir, ec);
    if (ec) dir = cfg.spool_dir;
    dir_ = dir.lexically_normal();
  }

  void run();

private:
  enum class outcome { done, skipped, stopped };

  const std::string& name() { return pump_.metrics().name; }
  bool stop_asked() const { return pump_.stopping() || pump_.aborted(); }
  std::string path_of(const std::string& file) const {
    return (dir_ / file).string();
  }
  std::vector<candidate> scan();
  bool eligible(const std::string& file) const;
  outcome consume(const candidate& c);
  outcome read_file(const candidate& c);
  void add_headers(batch& pending, std::size_t from, const std::string& file);
  bool emit_due(batch& pending, bool all);
  bool mark_done(const std::string& file, bool quiet);
  bool hold_lock();
  void fail(const std::string& why);
  void update_state();

  const spooldir_config& cfg_;
  source_pump& pump_;
  RE2 include_;
  RE2 ignore_;
  std::filesystem::path dir_; ///< absolute, for paths and the file header
  std::mt19937 rng_;
  uint64_t last_batch_ = 0; ///< the number of the last batch handed over
  /// Files skipped until they change (changed while read, unreadable).
  std::map<std::string, file_id> failed_;
  /// Files delivered whole that could not be marked done yet.
  std::map<std::string, file_id> unmarked_;
  /// Files not read because their done name exists.
  std::set<std::string> blocked_;
  bool list_failed_ = false;
  bool degraded_ = false;
  /// The directory's lock; taken before reading, again when the directory
  /// was made anew, and waited for while another agent holds it.
  std::unique_ptr<file_lock> lock_;
  bool lock_waiting_ = false;
  std::string lock_error_;
};

void spool_reader::run() {
  spdlog::info("{}: spooling directory {}", name(), dir_.string());
  while (!stop_asked()) {
    bool any = false;
    auto files = scan();
    // Only the holder of the directory's lock reads: two agents on one
    // spool directory would both read every file (a listing failure says
    // enough on its own).
    if (!list_failed_ && hold_lock()) {
      for (auto& c : files) {
        if (stop_asked()) return;
        auto r = consume(c);
        if (r == outcome::stopped) return;
        any = any || r == outcome::done;
      }
    }
    update_state();
    // After a file was done, look again at once: more may be waiting.
    if (!any && !pump_.sleep_for(cfg_.poll_delay)) return;
  }
}

bool spool_reader::hold_lock() {
  if (lock_ && lock_->still_held()) return true;
  lock_.reset();
  auto path = (dir_ / spool_lock_name).string();
  std::string why;
  try {
    auto lock = std::make_unique<file_lock>(path);
    if (lock->held()) {
      lock_ = std::move(lock);
      if (lock_waiting_)
        spdlog::info("{}: took the lock of {}; reading it", name(),
                     dir_.string());
      lock_waiting_ = false;
      return true;
    }
    why = "spool directory " + dir_.string() +
          " is read by another running agent" +
          (lock->holder().empty() ? std::string{}
                                  : " (pid " + lock->holder() + ")") +
          ", which holds " + path +
          "; two agents must not share a spool directory: this source "
          "waits until it is free";
  } catch (const std::system_error& e) {
    why = "cannot lock spool directory " + dir_.string() + ": " + e.what() +
          "; trying again every poll_delay";
  }
  if (!lock_waiting_ || why != lock_error_) fail(why);
  lock_waiting_ = true;
  lock_error_ = why;
  return false;
}

bool spool_reader::eligible(const std::string& file) const {
  if (file.empty() || file[0] == '.') return false;
  if (file.ends_with(cfg_.file_suffix)) return false;
  return RE2::FullMatch(file, include_) && !RE2::FullMatch(file, ignore_);
}

std::vector<candidate> spool_reader::scan() {
  std::vector<candidate> out;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) {
    auto err = errno;
    if (!list_failed_)
      fail("cannot list " + dir_.string() + ": " + errno_text(err) +
           "; trying again every poll_delay");
    list_failed_ = true;
    return out;
  }
  if (list_failed_)
    spdlog::info("{}: can list {} again", name(), dir_.string());
  list_failed_ = false;
  while (auto* entry = ::readdir(d)) {
    std::string file = entry->d_name;
    if (!eligible(file)) continue;
    struct stat st {};
    // Symlinks followed: a link to a regular file is read (and the link is
    // what gets renamed).
    if (::fstatat(::dirfd(d), file.c_str(), &st, 0) != 0 ||
        !S_ISREG(st.st_mode))
      continue;
    out.push_back({std::move(file), file_id{st}});
  }
  ::closedir(d);
  // Errors about files that are gone are over.
  std::set<std::string_view> names;
  if (!failed_.empty() || !unmarked_.empty() || !blocked_.empty())
    for (auto& c : out)
      names.insert(c.name);
  auto listed = [&](const std::string& file) { return names.contains(file); };
  std::erase_if(failed_, [&](const auto& kv) { return !listed(kv.first); });
  std::erase_if(unmarked_, [&](const auto& kv) { return !listed(kv.first); });
  std::erase_if(blocked_, [&](const auto& file) { return !listed(file); });
  switch (cfg_.consume_order) {
  case spool_consume_order::oldest:
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      if (mtime_less(a.id.mtime, b.id.mtime)) return true;
      if (mtime_less(b.id.mtime, a.id.mtime)) return false;
      return a.name < b.name;
    });
    break;
  case spool_consume_order::youngest:
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      if (mtime_less(b.id.mtime, a.id.mtime)) return true;
      if (mtime_less(a.id.mtime, b.id.mtime)) return false;
      return a.name < b.name;
    });
    break;
  case spool_consume_order::random:
    std::shuffle(out.begin(), out.end(), rng_);
    break;
  }
  return out;
}

spool_reader::outcome spool_reader::consume(const candidate& c) {
  if (auto i = failed_.find(c.name); i != failed_.end()) {
    if (i->second == c.id) return outcome::skipped;
    spdlog::info("{}: {} changed since its error; reading it again", name(),
                 path_of(c.name));
    failed_.erase(i);
  }
  if (auto i = unmarked_.find(c.name); i != unmarked_.end()) {
    if (i->second == c.id) {
      if (!mark_done(c.name, true)) return outcome::skipped;
      unmarked_.erase(i);
      return outcome::done;
    }
    // Not the file that was delivered any more: a new one, read it.
    unmarked_.erase(i);
  }
  if (cfg_.delete_policy == spool_delete_policy::never) {
    auto done_name = path_of(c.name + cfg_.file_suffix);
    struct stat st {};
    if (::lstat(done_name.c_str(), &st) == 0) {
      // Checked before reading: its events are not sent for nothing.
      if (blocked_.insert(c.name).second)
        fail(path_of(c.name) + " is not read: " + done_name +
             " exists already and is never overwritten; the file is left "
             "as it is until that name is free");
      return outcome::skipped;
    }
    if (blocked_.erase(c.name) > 0)
      spdlog::info("{}: {} is free now; reading {}", name(), done_name,
                   path_of(c.name));
  }
  return read_file(c);
}

spool_reader::outcome spool_reader::read_file(const candidate& c) {
  auto path = path_of(c.name);
  // O_NONBLOCK: should the name be a FIFO by now, open must not wait for a
  // writer (it changes nothing for a regular file).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    auto err = errno;
    if (err == ENOENT) return outcome::skipped; // gone since the scan
    failed_.insert_or_assign(c.name, c.id);
    fail("cannot open " + path + ": " + errno_text(err) +
         "; skipped until it changes");
    return outcome::skipped;
  }
  struct stat at_open {};
  if (::fstat(fd, &at_open) != 0 || !S_ISREG(at_open.st_mode)) {
    ::close(fd);
    return outcome::skipped; // replaced since the scan: the next scan sees
  }
  file_id opened{at_open};
  line_splitter lines{cfg_.max_line_length, cfg_.policy};
  batch pending;
  uint64_t bytes_read = 0;
  int read_error = 0;
  char buf[65536];
  for (;;) {
    if (stop_asked()) {
      // At least once: not marked done, read again from the start next
      // time. The lines read are handed over all the same; a piece of a
      // line is not a line (it comes whole with the re-read).
      ::close(fd);
      emit_due(pending, true);
      spdlog::info("{}: stopping in the middle of {}; it is read again from "
                   "its beginning on the next start",
                   name(), path);
      return outcome::stopped;
    }
    auto n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) read_error = errno;
    if (n <= 0) break;
    bytes_read += static_cast<uint64_t>(n);
    auto before = pending.size();
    lines.feed(buf, static_cast<std::size_t>(n), pending);
    add_headers(pending, before, c.name);
    count_overlong(lines, pump_.metrics());
    if (!emit_due(pending, false)) {
      ::close(fd);
      return outcome::stopped;
    }
  }
  auto before = pending.size();
  lines.finish(pending);
  add_headers(pending, before, c.name);
  count_overlong(lines, pump_.metrics());
  struct stat after_fd {};
  ::fstat(fd, &after_fd);
  ::close(fd);
  if (!emit_due(pending, true)) return outcome::stopped;
  if (read_error != 0) {
    failed_.insert_or_assign(c.name, file_id{after_fd});
    fail("cannot read " + path + ": " + errno_text(read_error) +
         "; not marked done, skipped until it changes");
    return outcome::skipped;
  }
  struct stat at_path {};
  if (::stat(path.c_str(), &at_path) != 0 ||
      !file_id{at_path}.same_file(opened)) {
    // Moved away or replaced: the name no longer stands for what was read,
    // so there is nothing to mark done (a new file there is read anew).
    // Logged, but no lasting error: there is nothing left to skip.
    spdlog::error("{}: {} was moved or replaced while it was read; not "
                  "marked done",
                  name(), path);
    return outcome::skipped;
  }
  file_id now{at_path};
  if (!(file_id{after_fd} == opened) || !(now == opened) ||
      bytes_read != static_cast<uint64_t>(opened.size)) {
    failed_.insert_or_assign(c.name, now);
    fail(fmt::format("{} changed while it was read (size {} -> {}, {} bytes "
                     "read): files must not change once in the spool "
                     "directory; not marked done, skipped until it changes "
                     "again",
                     path, opened.size, now.size, bytes_read));
    return outcome::skipped;
  }
  // Done only once every event of it was accepted downstream.
  if (!pump_.wait_accepted(last_batch_)) return outcome::stopped;
  if (!mark_done(c.name, false)) {
    unmarked_.insert_or_assign(c.name, now);
    return outcome::skipped;
  }
  return outcome::done;
}

void spool_reader::add_headers(batch& pending, std::size_t from,
                               const std::string& file) {
  if (!cfg_.file_header && !cfg_.basename_header) return;
  auto path = cfg_.file_header ? path_of(file) : std::string{};
  for (auto i = from; i < pending.size(); ++i) {
    auto& h = pending[i].headers;
    if (cfg_.file_header) h.insert_or_assign(cfg_.file_header_key, path);
    if (cfg_.basename_header)
      h.insert_or_assign(cfg_.basename_header_key, file);
  }
}

// Full batches (all: the rest too), numbered: the last number tells when the
// whole file was accepted.
bool spool_reader::emit_due(batch& pending, bool all) {
  return emit_batches(pending, cfg_.batch_size, pump_, all, &last_batch_);
}

bool spool_reader::mark_done(const std::string& file, bool quiet) {
  auto path = path_of(file);
  if (cfg_.delete_policy == spool_delete_policy::immediate) {
    if (::unlink(path.c_str()) == 0) {
      spdlog::info("{}: {} done, deleted", name(), path);
      return true;
    }
    auto err = errno;
    if (!quiet)
      fail("cannot delete " + path + " (delivered): " + errno_text(err) +
           "; trying again every scan");
    return false;
  }
  auto done_name = path_of(file + cfg_.file_suffix);
  auto err = rename_noreplace(path, done_name);
  if (err == 0) {
    spdlog::info("{}: {} done, renamed to {}", name(), path, done_name);
    return true;
  }
  if (!quiet) {
    if (err == EEXIST)
      fail("cannot rename " + path + " (delivered): " + done_name +
           " exists already and is never overwritten; trying again every "
           "scan");
    else
      fail("cannot rename " + path + " (delivered) to " + done_name + ": " +
           errno_text(err) + "; trying again every scan");
  }
  return false;
}

void spool_reader::fail(const std::string& why) {
  spdlog::error("{}: {}", name(), why);
  pump_.metrics().set_state(component_state::degraded, why);
  degraded_ = true;
}

void spool_reader::update_state() {
  if (!degraded_ || list_failed_ || lock_waiting_ || !failed_.empty() ||
      !unmarked_.empty() || !blocked_.empty())
    return;
  degraded_ = false;
  spdlog::info("{}: no file is in error any more", name());
  pump_.metrics().set_state(component_state::running);
}

} // namespace

caf::actor spawn_spooldir(caf::actor_system& sys, const spooldir_config& config,
                          const wiring& w) {
  auto cfg = adapt_batch(config, w);
  auto reader = [cfg](source_pump& pump) { spool_reader{cfg, pump}.run(); };
  return spawn_source(sys, reader, w.downstream, w.metrics, cfg.max_inflight,
                      cfg.time);
}

} // namespace flumen::sources
