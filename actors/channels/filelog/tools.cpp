#include "actors/channels/filelog/tools.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "actors/channels/filelog/ack_state.hpp"
#include "actors/channels/filelog/log_dir.hpp"

namespace flumen::filelog {

namespace fs = std::filesystem;

dir_lock::dir_lock(const std::string& dir)
    : file_lock((fs::path{dir} / "lock").string()) {}

opened_directory open_directory(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec)
      throw std::runtime_error("cannot create channel directory " + dir + ": " +
                               ec.message());
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec)
      throw std::runtime_error("cannot set mode 0700 on " + dir + ": " +
                               ec.message());
  } else if (!fs::is_directory(dir, ec)) {
    throw std::runtime_error("channel directory " + dir +
                             " exists and is not a directory");
  }
  opened_directory out;
  try {
    out.lock = std::make_unique<dir_lock>(dir);
  } catch (const std::system_error& e) {
    throw std::runtime_error("cannot lock channel directory " + dir + ": " +
                             e.what());
  }
  if (!out.lock->held())
    throw std::runtime_error(
        "channel directory " + dir + " is held by another running agent" +
        (out.lock->holder().empty() ? std::string{}
                                    : " (pid " + out.lock->holder() + ")") +
        "; two agents must not share a file channel");
  try {
    out.recovered = recover(dir, true);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot read channel directory " + dir + ": " +
                             e.what());
  }
  return out;
}

namespace {

/// A file channel's directory: an ack file or a segment in it, or nothing
/// at all (a channel that never ran). Anything else is refused before it
/// is touched (no lock is left in it).
bool channel_dir(const std::string& dir, std::ostream& err) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    err << "flumen channel: " << dir << ": not a directory"
        << (ec ? " (" + ec.message() + ")" : std::string{}) << '\n';
    return false;
  }
  try {
    if (fs::is_empty(dir) || fs::exists(fs::path{dir} / "ack", ec) ||
        !list_segments(dir).empty())
      return true;
  } catch (const std::exception& e) {
    err << "flumen channel: " << dir << ": " << e.what() << '\n';
    return false;
  }
  err << "flumen channel: " << dir
      << ": not a file channel's directory (no ack file, no segments)\n";
  return false;
}

void print_damage(const recovery& r, std::ostream& out) {
  if (r.damages.empty()) {
    out << "damage: none\n";
    return;
  }
  out << "damage: " << r.damages.size() << '\n';
  for (auto& d : r.damages) {
    out << "  " << to_string(d.what) << ": " << d.path << " at offset "
        << d.offset << ", " << d.bytes << " bytes";
    if (d.events > 0) out << ", " << d.events << " uncommitted events lost";
    out << '\n';
  }
  if (r.lost_events > 0)
    out << "lost: " << r.lost_events << " uncommitted events\n";
}

} // namespace

int inspect_directory(const std::string& dir, std::ostream& out,
                      std::ostream& err) {
  if (!channel_dir(dir, err)) return 2;
  recovery r;
  try {
    r = recover(dir, false);
  } catch (const std::exception& e) {
    err << "flumen channel inspect: " << e.what() << '\n';
    return 2;
  }
  out << "directory: " << dir << '\n';
  std::vector<std::uintmax_t> sizes;
  std::uintmax_t bytes = 0;
  for (auto& s : r.segments) {
    std::error_code ec;
    auto size = fs::file_size(s.path, ec);
    sizes.push_back(ec ? 0 : size);
    bytes += sizes.back();
  }
  out << "segments: " << r.segments.size() << " (" << bytes << " bytes)\n";
  for (std::size_t i = 0; i < r.segments.size(); ++i)
    out << "  " << fs::path{r.segments[i].path}.filename().string()
        << ": first event " << r.segments[i].first_seq << ", " << sizes[i]
        << " bytes\n";
  if (r.stale_bytes > 0)
    out << "  of which " << r.stale_bytes
        << " bytes are old contents of the spares they were written over\n";
  // Spares: delivered segments kept for the next ones to be written over.
  std::size_t spares = 0;
  std::uintmax_t spare_bytes = 0;
  std::error_code list_error;
  for (auto& entry : fs::directory_iterator{dir, list_error}) {
    auto name = entry.path().filename().string();
    std::error_code ec;
    if (name.rfind("spare-", 0) != 0 || !entry.is_regular_file(ec)) continue;
    ++spares;
    auto size = entry.file_size(ec);
    spare_bytes += ec ? 0 : size;
  }
  out << "spares: " << spares << " (" << spare_bytes << " bytes)\n";
  out << "records: " << r.records_read << " readable\n";
  out << "committed: events below " << r.committed.below;
  if (!r.committed.ranges.empty()) {
    uint64_t above = 0;
    for (auto& range : r.committed.ranges)
      above += range.size();
    out << ", and " << above << " in " << r.committed.ranges.size()
        << " ranges above";
  }
  out << '\n';
  out << "next event number: " << r.next_seq << '\n';
  out << "uncommitted: " << r.pending_events << " events in "
      << r.pending.size() << " records (" << r.pending_bytes << " bytes)\n";
  if (!r.pending.empty()) {
    auto& first = r.pending.front();
    auto oldest = std::max(first.seq, r.committed.below);
    out << "oldest uncommitted event: " << oldest << " in "
        << r.segments[first.segment].path << " at offset " << first.offset
        << '\n';
  }
  print_damage(r, out);
  return 0;
}

int verify_directory(const std::string& dir, bool repair, std::ostream& out,
                     std::ostream& err) {
  if (!channel_dir(dir, err)) return 2;
  try {
    std::unique_ptr<dir_lock> lock;
    // An empty directory has nothing to repair: it is left as it is.
    if (repair && !fs::is_empty(dir)) {
      lock = std::make_unique<dir_lock>(dir);
      if (!lock->held()) {
        err << "flumen channel verify --repair: refused: " << dir
            << " is held by a running agent"
            << (lock->holder().empty() ? std::string{}
                                       : " (pid " + lock->holder() + ")")
            << "; stop it first, or verify without --repair (read-only)\n";
        return 2;
      }
    }
    auto r = recover(dir, repair);
    // Every record whose checksums hold is decoded too.
    std::size_t unreadable = 0;
    for (auto& ref : r.pending) {
      batch events;
      if (read_record(r, ref, 0, events) != read_status::ok) ++unreadable;
    }
    out << "directory: " << dir << '\n';
    out << "records: " << r.records_read << " readable, " << r.pending.size()
        << " uncommitted\n";
    print_damage(r, out);
    std::size_t remaining = unreadable;
    for (auto& d : r.damages) {
      // A repair truncates a torn tail; events lost with it stay lost.
      if (repair && d.what == damage::kind::torn_tail && d.events == 0) {
        out << "repaired: truncated " << d.path << " to " << d.offset
            << " bytes\n";
        continue;
      }
      ++remaining;
    }
    if (unreadable > 0) out << unreadable << " records did not decode\n";
    out << (remaining == 0 ? "ok\n" : "damaged\n");
    return remaining == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    err << "flumen channel verify: " << e.what() << '\n';
    return 2;
  }
}

} // namespace flumen::filelog
