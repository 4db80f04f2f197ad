#pragma once

#include <memory>
#include <ostream>
#include <string>

#include "actors/channels/filelog/log_dir.hpp"
#include "runtime/core/file_lock.hpp"

namespace flumen::filelog {

/// The lock a channel directory's owner holds (`DIR/lock`, flock): one
/// agent per directory, and no repair while one runs. Creates the lock file
/// (0600) if needed; throws std::system_error when it cannot.
class dir_lock : public file_lock {
public:
  explicit dir_lock(const std::string& dir);
};

/// A channel directory opened by its agent: created if needed (mode 0700,
/// parents too), its lock held for as long as this lives, and what it
/// holds recovered (torn tails truncated).
struct opened_directory {
  std::unique_ptr<dir_lock> lock;
  recovery recovered;
};

/// Throws std::runtime_error with a message that names the directory (and
/// the pid holding it, when another agent does).
opened_directory open_directory(const std::string& dir);

/// `flumen channel inspect DIR`: segments, records, bytes, the committed
/// position, the oldest uncommitted event and damage, read-only. Returns
/// the exit code: 0, or 2 when DIR cannot be read.
int inspect_directory(const std::string& dir, std::ostream& out,
                      std::ostream& err);

/// `flumen channel verify DIR [--repair]`: reads every record and says
/// what is damaged. Exit code 0 when everything reads back, 1 when damage
/// was found (after --repair: damage that remains; torn tails are
/// truncated, as the channel does on start, and corrupt records are left
/// for it to skip), 2 when DIR cannot be read or --repair is refused
/// because an agent holds the directory.
int verify_directory(const std::string& dir, bool repair, std::ostream& out,
                     std::ostream& err);

} // namespace flumen::filelog
