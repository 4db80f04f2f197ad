#include "runtime/core/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace flumen {

file_lock::file_lock(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0)
    throw std::system_error(errno, std::generic_category(), "open " + path_);
  if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) {
    held_ = true;
    auto pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) == 0) [[maybe_unused]]
      auto n = ::pwrite(fd_, pid.data(), pid.size(), 0);
    return;
  }
  // The holder may be between its flock and its write: then it says
  // nothing yet, and the caller says "another agent" without a pid.
  char buf[64] = {};
  auto n = ::pread(fd_, buf, sizeof(buf) - 1, 0);
  if (n > 0) holder_.assign(buf, static_cast<std::size_t>(n));
  while (!holder_.empty() && (holder_.back() == '\n' || holder_.back() == ' '))
    holder_.pop_back();
}

bool file_lock::still_held() const {
  struct stat mine {
  }, named{};
  return held_ && ::fstat(fd_, &mine) == 0 && mine.st_nlink > 0 &&
         ::stat(path_.c_str(), &named) == 0 && named.st_dev == mine.st_dev &&
         named.st_ino == mine.st_ino;
}

file_lock::~file_lock() {
  if (fd_ >= 0) ::close(fd_); // releases the lock
}

} // namespace flumen
