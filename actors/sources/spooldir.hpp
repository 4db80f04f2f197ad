#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "actors/sources/line_splitter.hpp"
#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"
#include "runtime/core/clock.hpp"

namespace flumen::sources {

/// What becomes of a file once every event of it was accepted.
enum class spool_delete_policy {
  never,     ///< renamed to its name + `file_suffix`
  immediate, ///< unlinked
};

/// Which eligible file is read next.
enum class spool_consume_order {
  oldest,   ///< smallest mtime first, ties by name
  youngest, ///< largest mtime first, ties by name
  random,   ///< any order
};

/// Options of the `spooldir` source (Flume's spooling directory source):
/// one event per line of each file dropped into `spool_dir`.
struct spooldir_config {
  std::string spool_dir;                  ///< required; an existing directory
  std::string file_suffix = ".COMPLETED"; ///< appended to a done file's name
  spool_delete_policy delete_policy = spool_delete_policy::never;
  std::string include_pattern = "^.*$"; ///< RE2; must match the whole name
  std::string ignore_pattern = "^$";    ///< RE2; a whole-name match skips it
  bool file_header = false;             ///< add the file's absolute path
  std::string file_header_key = "file";
  bool basename_header = false; ///< add the file's name
  std::string basename_header_key = "basename";
  std::size_t batch_size = 100;
  std::size_t max_line_length = 2048; ///< Flume's LINE deserializer
  overlong_policy policy = overlong_policy::truncate;
  std::chrono::milliseconds poll_delay{500}; ///< between directory scans
  spool_consume_order consume_order = spool_consume_order::oldest;
  std::size_t max_inflight = 4;
  /// Where the reader waits (not an option: a test gives a manual clock);
  /// null: the real one.
  std::shared_ptr<flumen::clock> time;
};

/// Its options (runtime/config/options.hpp).
const option_list& spooldir_options();

/// Reads the `spooldir` options; errors go to the reader, located. Unlike
/// most parse functions this one looks at the file system: `spool_dir` must
/// be an existing directory flumen can read and write, and both patterns
/// must compile (an invalid one is an error that quotes RE2's message).
spooldir_config parse_spooldir(option_reader& r);

/// Watches `spool_dir` and reads its files one at a time, in
/// `consume_order`. A file is eligible when it is a regular file (symlinks
/// followed), its name does not start with '.', does not end with
/// `file_suffix`, matches `include_pattern` and does not match
/// `ignore_pattern` (whole-name matches). Lines are cut as by the other line
/// sources (a last line without its newline is an event too); batches hold
/// at most `batch_size` events, the file's last batch may hold fewer. Files
/// must not change once dropped into the directory.
///
/// A file is marked done (renamed to name + `file_suffix`, or unlinked with
/// `delete_policy: immediate`) only once every batch of it was accepted
/// downstream. Delivery is at least once: the source keeps no position, so
/// a file that was not marked done (a stop or a crash in the middle of it)
/// is read again from its beginning on the next start, and what was
/// accepted of it before comes again.
///
/// Errors never stop the source; each is logged naming the file, the file
/// is left as it is and the source's state is `degraded` with the reason
/// until no file is in error any more:
/// - a file whose size or mtime changed while it was read is not marked
///   done and is skipped until its size or mtime changes again (then read
///   again from its beginning);
/// - a file whose name + `file_suffix` exists already is not read (a done
///   file is never overwritten) until that name is free;
/// - a file that was delivered but could not be renamed or unlinked is
///   marked done when that succeeds on a later scan, without reading it
///   again (unless it changed meanwhile).
///
/// On a graceful stop the source emits what it has read and returns; the
/// file it was reading is not marked done. Between scans that find nothing
/// to read it waits `poll_delay`.
caf::actor spawn_spooldir(caf::actor_system& sys, const spooldir_config& cfg,
                          const wiring& w);

} // namespace flumen::sources
