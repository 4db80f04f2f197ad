#include "actors/channels/filelog/log_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "actors/channels/filelog/log_dir.hpp"
#include "actors/channels/filelog/record.hpp"

namespace flumen::filelog {

namespace {

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

/// Writes all of `data`; the errno of the failure otherwise.
int write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    auto w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    if (w == 0) return EIO;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return 0;
}

} // namespace

void sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(errno, "open " + dir);
  auto rc = ::fsync(fd);
  auto err = errno;
  ::close(fd);
  if (rc != 0) fail(err, "sync " + dir);
}

log_writer::log_writer(std::string dir, std::size_t max_file_size,
                       uint64_t next_seq)
    : dir_(std::move(dir)), max_file_size_(max_file_size), next_seq_(next_seq) {
  open_segment();
}

log_writer::~log_writer() {
  if (fd_ >= 0) ::close(fd_);
}

void log_writer::open_segment() {
  path_ = (std::filesystem::path{dir_} / segment_name(next_seq_)).string();
  // A segment of that number may exist: one that failed before its first
  // record (numbers are never reused once a record took them).
  int fd =
      ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail(errno, "create " + path_);
  auto header = encode_segment_header(next_seq_);
  if (auto err = write_all(fd, header.data(), header.size()); err != 0) {
    ::close(fd);
    fail(err, "write " + path_);
  }
  if (::fdatasync(fd) != 0) {
    auto err = errno;
    ::close(fd);
    fail(err, "sync " + path_);
  }
  sync_directory(dir_);
  fd_ = fd;
  first_seq_ = next_seq_;
  size_ = header.size();
  dirty_ = false;
}

void log_writer::seal() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

log_writer::appended log_writer::append(const batch& events) {
  buf_.clear();
  append_record(buf_, next_seq_, events);
  auto seq = next_seq_;
  // The numbers are taken whatever happens next.
  next_seq_ += events.size();
  if (fd_ >= 0 && size_ > segment_header_size &&
      size_ + buf_.size() > max_file_size_)
    seal();
  if (fd_ < 0) {
    // A new segment starts at this record's number.
    next_seq_ = seq;
    open_segment();
    next_seq_ = seq + events.size();
  }
  if (auto err = write_all(fd_, buf_.data(), buf_.size()); err != 0) {
    seal();
    fail(err, "write " + path_);
  }
  appended a{path_, first_seq_, size_, buf_.size(), seq};
  size_ += buf_.size();
  dirty_ = true;
  return a;
}

void log_writer::sync() {
  if (fd_ < 0 || !dirty_) return;
  if (::fdatasync(fd_) != 0) {
    auto err = errno;
    seal();
    fail(err, "sync " + path_);
  }
  dirty_ = false;
}

} // namespace flumen::filelog
