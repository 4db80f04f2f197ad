#pragma once

#include <string>

namespace flumen {

/// An exclusive lock on a file (flock), taken without waiting, that says
/// who holds it: the holder writes its process id into the file. One agent
/// per spool directory and per taildir positions file (a second one would
/// read everything again); the file channel's directory lock
/// (filelog::dir_lock) is one.
class file_lock {
public:
  /// Tries to take the lock on `path`, creating the file (0600) if needed;
  /// held() says whether it did. Throws std::system_error when the file
  /// can't be opened or created.
  explicit file_lock(std::string path);
  ~file_lock();
  file_lock(const file_lock&) = delete;
  file_lock& operator=(const file_lock&) = delete;

  bool held() const { return held_; }
  /// Held, and `path` still names the locked file (a directory removed and
  /// made again has a new lock file, which nobody holds).
  bool still_held() const;
  /// Who holds it, as the holder wrote it (its process id), when not us.
  const std::string& holder() const { return holder_; }
  const std::string& path() const { return path_; }

private:
  std::string path_;
  int fd_ = -1;
  bool held_ = false;
  std::string holder_;
};

} // namespace flumen
