#include "actors/channels/filelog/ack_state.hpp"

#include <fcntl.h>
#include <unistd.h>

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

} // namespace

std::string encode_ack_slot(const ack_slot& s) {
  std::string out(ack_slot_size, '\0');
  std::memcpy(out.data(), ack_magic, 8);
  std::memcpy(out.data() + 8, &s.generation, 8);
  std::memcpy(out.data() + 16, &s.committed, 8);
  auto crc = crc32c(out.data(), 24);
  std::memcpy(out.data() + 24, &crc, 4);
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
  std::memcpy(&s.committed, bytes.data() + 16, 8);
  return s;
}

std::optional<ack_slot> read_ack_state(std::string_view file) {
  std::optional<ack_slot> best;
  for (auto offset : ack_slot_offset) {
    if (file.size() < offset + ack_slot_size) continue;
    auto s = decode_ack_slot(file.substr(offset, ack_slot_size));
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
}

ack_file::~ack_file() {
  if (fd_ >= 0) ::close(fd_);
}

void ack_file::store(uint64_t committed) {
  ack_slot next{current_.generation + 1, committed};
  auto bytes = encode_ack_slot(next);
  auto offset = ack_slot_offset[next.generation % 2];
  auto n =
      ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
  if (n != static_cast<ssize_t>(bytes.size())) {
    if (n >= 0) errno = EIO;
    fail("write ack state");
  }
  if (::fdatasync(fd_) != 0) fail("sync ack state");
  current_ = next;
}

} // namespace flumen::filelog
