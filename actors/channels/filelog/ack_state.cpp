#include "actors/channels/filelog/ack_state.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "actors/channels/filelog/crc32c.hpp"

namespace flumen::filelog {

namespace {

constexpr char ack_magic[8] = {'F', 'L', 'U', 'M', 'E', 'N', 'A', 'K'};

[[noreturn]] void fail(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

/// Binds a slot's range list to its generation: a torn write that left
/// an older list behind a newer header fails it.
uint32_t extension_crc(uint64_t generation, uint32_t n, std::string_view list) {
  std::string buf(12, '\0');
  std::memcpy(buf.data(), &generation, 8);
  std::memcpy(buf.data() + 8, &n, 4);
  buf.append(list);
  return crc32c(buf);
}

} // namespace

std::string encode_ack_slot(const ack_slot& s) {
  auto& ranges = s.committed.ranges;
  auto n = static_cast<uint32_t>(std::min(ranges.size(), max_ack_ranges));
  std::string out(ack_slot_size + (n > 0 ? n * 16 + 4 : 0), '\0');
  std::memcpy(out.data(), ack_magic, 8);
  std::memcpy(out.data() + 8, &s.generation, 8);
  std::memcpy(out.data() + 16, &s.committed.below, 8);
  auto crc = crc32c(out.data(), 24);
  std::memcpy(out.data() + 24, &crc, 4);
  std::memcpy(out.data() + 28, &n, 4);
  if (n == 0) return out;
  for (uint32_t i = 0; i < n; ++i) {
    std::memcpy(out.data() + ack_slot_size + i * 16, &ranges[i].from, 8);
    std::memcpy(out.data() + ack_slot_size + i * 16 + 8, &ranges[i].to, 8);
  }
  auto ext = extension_crc(s.generation, n,
                           std::string_view{out}.substr(ack_slot_size, n * 16));
  std::memcpy(out.data() + ack_slot_size + n * 16, &ext, 4);
  return out;
}

std::optional<ack_slot> decode_ack_slot(std::string_view bytes) {
  if (bytes.size() < ack_slot_size) return std::nullopt;
  if (std::memcmp(bytes.data(), ack_magic, 8) != 0) return std::nullopt;
  uint32_t crc;
  std::memcpy(&crc, bytes.data() + 24, 4);
  if (crc != crc32c(bytes.data(), 24)) return std::nullopt;
  ack_slot s;
  std::memcpy(&s.generation, bytes.data() + 8, 8);
  std::memcpy(&s.committed.below, bytes.data() + 16, 8);
  uint32_t n;
  std::memcpy(&n, bytes.data() + 28, 4);
  // The ranges are an addition: kept only when whole and sound.
  if (n == 0 || n > max_ack_ranges ||
      bytes.size() < ack_slot_size + std::size_t{n} * 16 + 4)
    return s;
  auto list = bytes.substr(ack_slot_size, std::size_t{n} * 16);
  uint32_t ext;
  std::memcpy(&ext, bytes.data() + ack_slot_size + std::size_t{n} * 16, 4);
  if (ext != extension_crc(s.generation, n, list)) return s;
  std::vector<seq_range> ranges(n);
  auto prev = s.committed.below;
  for (uint32_t i = 0; i < n; ++i) {
    std::memcpy(&ranges[i].from, list.data() + i * 16, 8);
    std::memcpy(&ranges[i].to, list.data() + i * 16 + 8, 8);
    if (ranges[i].from <= prev || ranges[i].to <= ranges[i].from) return s;
    prev = ranges[i].to;
  }
  s.committed.ranges = std::move(ranges);
  return s;
}

std::optional<ack_slot> read_ack_state(std::string_view file) {
  std::optional<ack_slot> best;
  for (auto offset : ack_slot_offset) {
    if (file.size() < offset + ack_slot_size) continue;
    auto s = decode_ack_slot(file.substr(offset, 4096));
    if (s && (!best || s->generation > best->generation)) best = s;
  }
  return best;
}

ack_file::ack_file(const std::string& path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) fail("open " + path);
  std::string bytes(ack_file_size, '\0');
  auto n = ::pread(fd_, bytes.data(), bytes.size(), 0);
  if (n < 0) {
    auto err = errno;
    ::close(fd_);
    errno = err;
    fail("read " + path);
  }
  bytes.resize(static_cast<std::size_t>(n));
  loaded_ = read_ack_state(bytes);
  if (loaded_) current_ = *loaded_;
  if (bytes.size() < ack_file_size) {
    // Written out whole (zeros where nothing was), so that a slot's write
    // never needs a block: a full disk must not stop commits being stored.
    std::string zeros(ack_file_size - bytes.size(), '\0');
    auto w = ::pwrite(fd_, zeros.data(), zeros.size(),
                      static_cast<off_t>(bytes.size()));
    int err = 0;
    if (w != static_cast<ssize_t>(zeros.size()))
      err = w < 0 ? errno : ENOSPC;
    else if (::fdatasync(fd_) != 0)
      err = errno;
    if (err != 0) {
      ::close(fd_);
      errno = err;
      fail("write " + path);
    }
  }
}

ack_file::~ack_file() {
  if (fd_ >= 0) ::close(fd_);
}

void ack_file::store(const committed_set& committed) {
  ack_slot next{current_.generation + 1, committed.largest(max_ack_ranges)};
  auto bytes = encode_ack_slot(next);
  auto offset = ack_slot_offset[next.generation % 2];
  auto n =
      ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
  if (n != static_cast<ssize_t>(bytes.size())) {
    if (n >= 0) errno = EIO;
    fail("write ack state");
  }
  if (::fdatasync(fd_) != 0) fail("sync ack state");
  current_ = std::move(next);
}

} // namespace flumen::filelog
