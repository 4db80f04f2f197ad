#include "actors/channels/filelog/log_writer.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
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

/// The largest record buffer kept for the next append.
constexpr std::size_t kept_buffer = 16 << 20;

/// A segment's nonce: random, never 0.
uint32_t new_nonce(uint64_t seq) {
  uint32_t n = 0;
  if (::getrandom(&n, sizeof(n), GRND_NONBLOCK) != sizeof(n)) {
    // No entropy yet (early boot): the clock and the number still tell
    // this segment's records from a spare's older ones.
    auto t = static_cast<uint64_t>(
        std::chrono::steady_clock::now().time_since_epoch().count());
    n = static_cast<uint32_t>(t ^ (t >> 32) ^ seq ^ (seq >> 32));
  }
  return n != 0 ? n : 1;
}

bool is_spare_name(const std::string& name) {
  return name.size() == 30 && name.rfind("spare-", 0) == 0 &&
         name.substr(26) == ".seg";
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
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator{dir_, ec}) {
    std::error_code type_error;
    auto name = entry.path().filename().string();
    // A file of its own, not a link to one elsewhere.
    if (!is_spare_name(name) || entry.symlink_status(type_error).type() !=
                                    std::filesystem::file_type::regular)
      continue;
    if (spares_.size() < max_spares)
      spares_.push_back(entry.path().string());
    else
      ::unlink(entry.path().c_str());
  }
  open_segment();
}

log_writer::~log_writer() {
  drop_unsynced();
  if (fd_ >= 0) ::close(fd_);
}

int log_writer::take_spare(const std::string& header) {
  while (!spares_.empty()) {
    auto spare = spares_.back();
    int fd = ::open(spare.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOMEM))
      return -1; // kept: that passes
    spares_.pop_back();
    if (fd < 0) {
      ::unlink(spare.c_str()); // gone, or not one to write over
      continue;
    }
    // Not one much larger than a segment (max_file_size was smaller when
    // it was kept): its old contents would all be searched at a recovery.
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<std::size_t>(st.st_size) > 2 * max_file_size_) {
      ::close(fd);
      ::unlink(spare.c_str());
      continue;
    }
    // Its new header, synced, before it takes the name: a segment never
    // has an old one.
    int err = write_all(fd, header.data(), header.size());
    if (err == 0 && ::fdatasync(fd) != 0) err = errno;
    bool renamed = false;
    if (err == 0) {
      if (::rename(spare.c_str(), path_.c_str()) == 0)
        renamed = true;
      else
        err = errno;
    }
    if (err == 0) {
      try {
        sync_directory(dir_);
      } catch (const std::system_error& e) {
        err = e.code().value();
      }
    }
    if (err == 0) return fd;
    ::close(fd);
    ::unlink(renamed ? path_.c_str() : spare.c_str());
  }
  return -1;
}

bool log_writer::recycle(const std::string& path) {
  if (spares_.size() >= max_spares) return false;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 ||
      static_cast<std::size_t>(st.st_size) > 2 * max_file_size_)
    return false;
  auto name = std::filesystem::path{path}.filename().string();
  if (name.size() != 28 || name.rfind("log-", 0) != 0) return false;
  auto spare =
      (std::filesystem::path{dir_} / ("spare-" + name.substr(4))).string();
  if (::rename(path.c_str(), spare.c_str()) != 0) return false;
  spares_.push_back(std::move(spare)); // the newest, likely in the page cache
  return true;
}

std::size_t log_writer::drop_spares() {
  std::size_t n = 0;
  for (auto& spare : spares_)
    n += ::unlink(spare.c_str()) == 0 ? 1 : 0;
  spares_.clear();
  return n;
}

void log_writer::open_segment() {
  path_ = (std::filesystem::path{dir_} / segment_name(next_seq_)).string();
  // The nonce's lowest bit says whether it is written over a spare.
  auto nonce = new_nonce(next_seq_) & ~uint32_t{1};
  if (nonce == 0) nonce = 2;
  auto header = encode_segment_header(next_seq_, skipped_, nonce | 1);
  if (int fd = take_spare(header); fd >= 0) {
    nonce |= 1;
    fd_ = fd;
    first_seq_ = next_seq_;
    nonce_ = nonce;
    size_ = header.size();
    dirty_ = false;
    return;
  }
  // A segment of that number may exist: one that failed before its first
  // record (numbers are never reused once a record took them).
  int fd =
      ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail(errno, "create " + path_);
  header = encode_segment_header(next_seq_, skipped_, nonce);
  int err = write_all(fd, header.data(), header.size());
  if (err == 0 && ::fdatasync(fd) != 0) err = errno;
  if (err == 0) {
    try {
      sync_directory(dir_);
    } catch (const std::system_error& e) {
      err = e.code().value();
    }
  }
  if (err != 0) {
    // Not a segment: no file is left behind (a full disk retried for an
    // hour must not leave thousands).
    ::close(fd);
    ::unlink(path_.c_str());
    fail(err, "create " + path_);
  }
  fd_ = fd;
  first_seq_ = next_seq_;
  nonce_ = nonce;
  size_ = header.size();
  dirty_ = false;
}

void log_writer::retire() {
  if (fd_ < 0) return;
  if (dirty_)
    retired_.push_back({fd_, path_});
  else
    ::close(fd_);
  fd_ = -1;
}

log_writer::appended log_writer::append(const batch& events) {
  auto payload = payload_size(events);
  if (payload > max_record_payload)
    fail(EFBIG, "a record of " + std::to_string(events.size()) +
                    " events over " + std::to_string(max_record_payload) +
                    " bytes");
  buf_size_ = record_header_size + payload;
  if (buf_size_ > buf_capacity_) {
    buf_capacity_ = std::max(buf_size_, 2 * buf_capacity_);
    buf_ = std::make_unique_for_overwrite<char[]>(buf_capacity_);
  }
  auto seq = next_seq_;
  // The numbers are taken whatever happens next.
  next_seq_ += events.size();
  if (fd_ >= 0 && size_ > segment_header_size &&
      size_ + buf_size_ > max_file_size_)
    retire();
  if (fd_ < 0) {
    // A new segment starts at this record's number.
    next_seq_ = seq;
    try {
      open_segment();
    } catch (const std::system_error&) {
      next_seq_ = seq + events.size();
      skipped_ += events.size();
      throw;
    }
    next_seq_ = seq + events.size();
  }
  // Encoded for the segment it goes to: a roll changes the nonce.
  write_record(buf_.get(), seq, events, payload, nonce_);
  if (auto err = write_all(fd_, buf_.get(), buf_size_); err != 0) {
    // Sealed; what it held before this record is synced by the next sync.
    retire();
    skipped_ += events.size();
    fail(err, "write " + path_);
  }
  appended a{path_, first_seq_, size_, buf_size_, seq};
  size_ += buf_size_;
  // A record of a few huge events does not keep its memory.
  if (buf_capacity_ > kept_buffer) {
    buf_.reset();
    buf_capacity_ = 0;
  }
  dirty_ = true;
  skipped_ = 0;
  return a;
}

void log_writer::sync() {
  int first_err = 0;
  std::string what;
  for (auto& f : retired_) {
    if (::fdatasync(f.fd) != 0 && first_err == 0) {
      first_err = errno;
      what = "sync " + f.path;
    }
    ::close(f.fd);
  }
  retired_.clear();
  if (fd_ >= 0 && dirty_) {
    if (::fdatasync(fd_) != 0) {
      if (first_err == 0) {
        first_err = errno;
        what = "sync " + path_;
      }
      ::close(fd_);
      fd_ = -1;
      // Its records since the last sync are not acknowledged (their puts
      // fail and are written again): the next segment says so.
      skipped_ += next_seq_ - std::max(synced_below_, first_seq_);
    } else {
      dirty_ = false;
    }
  }
  if (first_err == 0) synced_below_ = next_seq_;
  if (first_err != 0) fail(first_err, what);
}

void log_writer::drop_unsynced() {
  for (auto& f : retired_)
    ::close(f.fd);
  retired_.clear();
}

std::optional<std::string> log_writer::close_committed() {
  if (fd_ < 0 || size_ <= segment_header_size) return std::nullopt;
  ::close(fd_);
  fd_ = -1;
  dirty_ = false;
  return path_;
}

} // namespace flumen::filelog
