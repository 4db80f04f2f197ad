#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "actors/sources/line_splitter.hpp"
#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"
#include "runtime/core/clock.hpp"

namespace flumen::sources {

/// Options of the `taildir` source (Flume's TAILDIR; README, "taildir").
struct taildir_config {
  /// Group name -> path with a glob in its file name part
  /// (`/var/log/app/*.log`).
  std::map<std::string, std::string> filegroups;
  std::string positions_file;
  /// Group name -> headers set on every event of that group.
  std::map<std::string, std::map<std::string, std::string>> headers;
  bool file_header = false;
  std::string file_header_key = "file";
  bool byte_offset_header = false;
  std::string byte_offset_header_key = "byteoffset";
  bool skip_to_end = false;
  /// A file that did not change for this long is closed (reopened when it
  /// changes); a rotated or deleted one is let go.
  std::chrono::milliseconds idle_timeout{120000};
  /// How often the globs are listed again when inotify is silent.
  std::chrono::milliseconds poll_interval{1000};
  std::size_t batch_size = 100;
  std::size_t max_line_length = 65536;
  overlong_policy policy = overlong_policy::truncate;
  std::size_t max_inflight = 4;
  /// `multiline.start`: an RE2 pattern; a line that does not match it is
  /// joined (with '\n') to the event before it. Empty: every line is one
  /// event.
  std::string multiline_start;
  std::size_t multiline_max_lines = 500;
  /// A joined event is handed over when no line came for this long.
  std::chrono::milliseconds multiline_timeout{1000};
  /// Where the reader reads the time and waits (not an option: a test
  /// gives a manual clock); null: the real one.
  std::shared_ptr<flumen::clock> time;
};

/// Its options (runtime/config/options.hpp).
const option_list& taildir_options();

taildir_config parse_taildir(option_reader& r);

/// The least time between two listings of the globs that inotify asked for
/// (it fires on every append too).
inline constexpr std::chrono::milliseconds taildir_scan_spacing{20};

/// How long the taildir reader may sleep in poll() before it must list the
/// globs: `poll_interval`, or, while an event it already read waits for its
/// listing (`pending`), until `taildir_scan_spacing` after the last one.
/// poll() does not wake for events already read, so without this an event
/// that came just after a listing waited a whole poll_interval (and a file
/// created then and renamed away meanwhile was never read). Pure.
std::chrono::milliseconds
taildir_wait(std::chrono::steady_clock::time_point now,
             std::chrono::steady_clock::time_point last_scan, bool pending,
             std::chrono::milliseconds poll_interval);

/// Tails the files of each group by inode: rename+create and copytruncate
/// rotation, deleted files read to their end, new files found by inotify
/// (and by listing every poll_interval). Positions are saved (write and
/// rename) only for what the channel accepted.
caf::actor spawn_taildir(caf::actor_system& sys, const taildir_config& cfg,
                         const wiring& w);

} // namespace flumen::sources
