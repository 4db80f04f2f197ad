#include "actors/channels/filelog/log_dir.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "actors/channels/filelog/ack_state.hpp"

namespace flumen::filelog {

namespace fs = std::filesystem;

namespace {

/// The whole file; empty when it cannot be read. Throws on errors other
/// than its absence.
std::string read_file(const std::string& path, bool& exists) {
  exists = false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return {};
    throw std::system_error(errno, std::generic_category(), "open " + path);
  }
  exists = true;
  std::string out;
  char buf[1 << 16];
  for (;;) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto err = errno;
      ::close(fd);
      throw std::system_error(err, std::generic_category(), "read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

/// A segment mapped read-only, so recovery's memory does not grow with
/// max_file_size: pages behind the scan are let go as it goes.
class mapped_file {
public:
  explicit mapped_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return;
      throw std::system_error(errno, std::generic_category(), "open " + path);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      auto err = errno;
      ::close(fd);
      throw std::system_error(err, std::generic_category(), "stat " + path);
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      auto* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        auto err = errno;
        ::close(fd);
        throw std::system_error(err, std::generic_category(), "mmap " + path);
      }
      data_ = static_cast<const char*>(p);
    }
    ::close(fd);
  }
  ~mapped_file() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
  }
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;

  std::string_view bytes() const { return {data_ ? data_ : "", size_}; }

  /// Lets go of the pages before `offset` (they are read again if used).
  void release_before(std::size_t offset) {
    constexpr std::size_t step = 8 << 20;
    auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    auto upto = offset / page * page;
    if (!data_ || upto < released_ + step) return;
    ::madvise(const_cast<char*>(data_) + released_, upto - released_,
              MADV_DONTNEED);
    released_ = upto;
  }

private:
  const char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t released_ = 0;
};

} // namespace

std::string segment_name(uint64_t first_seq) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "log-%020llu.seg",
                static_cast<unsigned long long>(first_seq));
  return buf;
}

std::vector<segment_file> list_segments(const std::string& dir) {
  std::vector<segment_file> out;
  for (auto& entry : fs::directory_iterator{dir}) {
    auto name = entry.path().filename().string();
    if (name.size() != 28 || name.rfind("log-", 0) != 0 ||
        name.substr(24) != ".seg")
      continue;
    uint64_t first = 0;
    auto digits = std::string_view{name}.substr(4, 20);
    auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), first);
    if (ec != std::errc{} || end != digits.data() + digits.size()) continue;
    out.push_back({entry.path().string(), first});
  }
  std::sort(out.begin(), out.end(),
            [](auto& a, auto& b) { return a.first_seq < b.first_seq; });
  return out;
}

const char* to_string(damage::kind k) {
  switch (k) {
  case damage::kind::torn_tail:
    return "torn tail";
  case damage::kind::corrupt_record:
    return "record with a bad checksum";
  case damage::kind::abandoned:
    return "unreadable rest of segment";
  case damage::kind::bad_header:
    return "segment without a valid header";
  }
  return "?";
}

recovery recover(const std::string& dir, bool repair) {
  recovery r;
  bool exists = false;
  auto ack = read_file((fs::path{dir} / "ack").string(), exists);
  if (auto s = read_ack_state(ack)) r.committed = s->committed;
  r.segments = list_segments(dir);
  r.next_seq = r.committed;
  for (std::size_t i = 0; i < r.segments.size(); ++i) {
    auto& seg = r.segments[i];
    mapped_file file{seg.path};
    auto bytes = file.bytes();
    r.bytes_read += bytes.size();
    // Numbers go on past every segment that holds anything, read or not,
    // so a new segment never takes the name of one with contents.
    r.next_seq = std::max(r.next_seq, bytes.size() > segment_header_size
                                          ? seg.first_seq + 1
                                          : seg.first_seq);
    auto scan = scan_segment(bytes, [&](const scanned_record& rec) {
      ++r.records_read;
      file.release_before(rec.offset);
      auto end = rec.seq + rec.count;
      r.next_seq = std::max(r.next_seq, end);
      if (end <= r.committed) return;
      r.pending.push_back({i, rec.offset,
                           record_header_size + rec.payload.size(), rec.seq,
                           rec.count});
      r.pending_events += end - std::max(rec.seq, r.committed);
      r.pending_bytes += record_header_size + rec.payload.size();
    });
    if (!scan.header_ok) {
      r.damages.push_back(
          {damage::kind::bad_header, seg.path, 0, bytes.size()});
      continue;
    }
    for (auto& c : scan.corrupt)
      r.damages.push_back(
          {damage::kind::corrupt_record, seg.path, c.offset, c.bytes});
    if (scan.abandoned_bytes > 0)
      r.damages.push_back({damage::kind::abandoned, seg.path, scan.abandoned_at,
                           scan.abandoned_bytes});
    if (scan.torn_bytes > 0) {
      r.damages.push_back(
          {damage::kind::torn_tail, seg.path, scan.good_end, scan.torn_bytes});
      if (repair &&
          ::truncate(seg.path.c_str(), static_cast<off_t>(scan.good_end)) != 0)
        throw std::system_error(errno, std::generic_category(),
                                "truncate " + seg.path);
    }
  }
  return r;
}

bool read_record(const recovery& r, const record_ref& ref, uint64_t from,
                 batch& out) {
  if (ref.segment >= r.segments.size() || ref.size < record_header_size)
    return false;
  int fd = ::open(r.segments[ref.segment].path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::string bytes(ref.size, '\0');
  auto n =
      ::pread(fd, bytes.data(), bytes.size(), static_cast<off_t>(ref.offset));
  ::close(fd);
  if (n != static_cast<ssize_t>(bytes.size())) return false;
  scanned_record rec;
  batch events;
  if (check_record(bytes, rec) != record_check::ok ||
      rec.payload.size() + record_header_size != bytes.size() ||
      rec.seq != ref.seq || rec.count != ref.count ||
      !decode_events(rec.payload, rec.count, events))
    return false;
  auto skip =
      from > ref.seq ? std::min<uint64_t>(from - ref.seq, ref.count) : 0;
  for (auto i = skip; i < events.size(); ++i)
    out.push_back(std::move(events[i]));
  return true;
}

} // namespace flumen::filelog
