#include "actors/sinks/file_roll.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <caf/actor.hpp>

#include "actors/sinks/logger.hpp"
#include "actors/sinks/sync_sink.hpp"

namespace flumen::sinks {

/// The options of the `file_roll` sink (docs/reference/sinks/file_roll.md shows
/// them, generated).
const option_list& file_roll_options() {
  static const option_list table = {
      {.name = "directory",
       .kind = option_kind::string,
       .doc = "created if missing; files are named `<prefix><ms since "
              "epoch>-<n>`. One that could never be written (a path under a"
              " regular file, a directory without write permission) is a "
              "config error"},
      {.name = "roll_interval",
       .kind = option_kind::duration,
       .doc = "a new file after this; `0`: never "
              "(`sink_test.file_roll_rolls_after_roll_interval`)"},
      {.name = "format",
       .kind = option_kind::choice,
       .choices = "line|header_and_body",
       .doc = "`line` (the body) or `header_and_body` (`{k=v, ...} body`), "
              "one event per line "
              "(`sink_test.file_roll_writes_every_event_as_a_line`, "
              "`sink_test.file_roll_writes_headers_and_body`)"},
      {.name = "prefix",
       .kind = option_kind::string,
       .doc = "file name prefix"},
      {.name = "batch_size",
       .kind = option_kind::count,
       .doc = "events per take"},
      {.name = "sync",
       .kind = option_kind::boolean,
       .doc = "fsync before each commit"},
  };
  return table;
}

file_roll_config parse_file_roll(option_reader& r) {
  option_scope scope{r, file_roll_options()};
  file_roll_config cfg;
  cfg.directory = r.required_str("directory");
  r.facts().directory = cfg.directory;
  cfg.roll_interval = r.duration("roll_interval", cfg.roll_interval);
  cfg.format = r.choice("format", cfg.format, {"line", "header_and_body"});
  cfg.prefix = r.str("prefix", cfg.prefix);
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  r.facts().batch_size = cfg.batch_size;
  r.facts().batch_size_stated = r.has("batch_size");
  cfg.sync = r.boolean("sync", cfg.sync);
  return cfg;
}

namespace {

// Owns the current output file; rolls it by time.
class roller {
public:
  explicit roller(file_roll_config cfg) : cfg_(std::move(cfg)) {}
  ~roller() { close(); }

  std::optional<std::string> write(const batch& events) {
    using clock = std::chrono::steady_clock;
    auto now = clock::now();
    if (fd_ >= 0 && cfg_.roll_interval.count() > 0 &&
        now - opened_ >= cfg_.roll_interval)
      close();
    if (fd_ < 0) {
      if (auto err = open()) return err;
      opened_ = now;
    }
    buf_.clear();
    for (auto& e : events) {
      if (cfg_.format == "line")
        buf_ += e.body;
      else
        buf_ += describe(e, SIZE_MAX);
      buf_ += '\n';
    }
    // A failed batch leaves the file as it was before it: no torn line, and
    // the retry writes the batch once.
    struct stat before {};
    if (::fstat(fd_, &before) != 0)
      return "stat " + path_ + ": " + std::strerror(errno);
    const char* p = buf_.data();
    auto left = buf_.size();
    while (left > 0) {
      auto n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        auto why = "write " + path_ + ": " + std::strerror(errno);
        undo(before.st_size);
        return why;
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    if (cfg_.sync && ::fsync(fd_) != 0) {
      auto why = "fsync " + path_ + ": " + std::strerror(errno);
      // Never fsync a descriptor again after it failed (the kernel may have
      // dropped the pages): cut the batch off and start a new file.
      undo(before.st_size);
      if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
      }
      return why;
    }
    return {};
  }

  /// Cuts the file back to `size`; closes it when that fails too, so the
  /// next batch starts a fresh file rather than append after a torn line.
  void undo(off_t size) {
    if (::ftruncate(fd_, size) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  void close() {
    if (fd_ >= 0) {
      ::fsync(fd_);
      ::close(fd_);
      fd_ = -1;
    }
  }

private:
  std::optional<std::string> open() {
    std::error_code ec;
    std::filesystem::create_directories(cfg_.directory, ec);
    if (ec) return "cannot create " + cfg_.directory + ": " + ec.message();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    path_ = cfg_.directory + "/" + cfg_.prefix + std::to_string(ms) + "-" +
            std::to_string(++seq_);
    fd_ =
        ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) return "open " + path_ + ": " + std::strerror(errno);
    return {};
  }

  file_roll_config cfg_;
  int fd_ = -1;
  std::string path_;
  std::string buf_;
  uint64_t seq_ = 0;
  std::chrono::steady_clock::time_point opened_;
};

} // namespace

caf::actor spawn_file_roll(caf::actor_system& sys, const file_roll_config& cfg,
                           const wiring& w) {
  auto files = std::make_shared<roller>(cfg);
  return spawn_sync_sink(
      sys, [files](const batch& events) { return files->write(events); }, w,
      cfg.batch_size, [files] { files->close(); });
}

} // namespace flumen::sinks
