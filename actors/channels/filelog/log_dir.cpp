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
#include <optional>
#include <system_error>
#include <utility>

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
    // Only files: a directory (or anything else) named like a segment is
    // not one, and must not stop the channel from starting.
    std::error_code type_error;
    if (!entry.is_regular_file(type_error)) continue;
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
  case damage::kind::missing:
    return "records missing from the end of a segment";
  }
  return "?";
}

recovery recover(const std::string& dir, bool repair) {
  recovery r;
  bool exists = false;
  auto ack = read_file((fs::path{dir} / "ack").string(), exists);
  if (auto s = read_ack_state(ack)) r.committed = s->committed;
  r.segments = list_segments(dir);
  // Numbers the ack state names are never used again, even when every
  // segment that held them is gone.
  r.next_seq = r.committed.end();
  std::vector<scan_result> scans;
  scans.reserve(r.segments.size());
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
    scans.push_back(scan_segment(
        bytes,
        [&](const scanned_record& rec) {
          ++r.records_read;
          file.release_before(rec.offset);
          auto end = rec.seq + rec.count;
          r.next_seq = std::max(r.next_seq, end);
          auto open = r.committed.open_in(rec.seq, end);
          if (open == 0) return;
          r.pending.push_back({i, rec.offset,
                               record_header_size + rec.payload.size(), rec.seq,
                               rec.count});
          r.pending_events += open;
          r.pending_bytes += record_header_size + rec.payload.size();
        },
        [&](std::size_t offset) { file.release_before(offset); }));
    auto& scan = scans.back();
    r.stale_bytes += scan.stale_bytes;
    if (scan.torn_bytes > 0 && repair &&
        ::truncate(seg.path.c_str(), static_cast<off_t>(scan.good_end)) != 0)
      throw std::system_error(errno, std::generic_category(),
                              "truncate " + seg.path);
  }
  for (std::size_t i = 0; i < r.segments.size(); ++i) {
    auto& seg = r.segments[i];
    auto& scan = scans[i];
    // Where the segment's acknowledged records ended, when the next
    // segment's header says (a failed append's numbers are not counted):
    // what is short of it was cut off.
    std::optional<uint64_t> end;
    if (i + 1 < r.segments.size() && scans[i + 1].header_ok &&
        scans[i + 1].skipped != skipped_unknown &&
        r.segments[i + 1].first_seq >= scans[i + 1].skipped)
      end = r.segments[i + 1].first_seq - scans[i + 1].skipped;
    auto short_by = [&](uint64_t from) {
      return end && *end > from ? r.committed.open_in(from, *end) : 0;
    };
    auto add = [&](damage::kind k, std::size_t offset, std::size_t bytes,
                   uint64_t events) {
      r.damages.push_back({k, seg.path, offset, bytes, events});
      r.lost_events += events;
    };
    if (!scan.header_ok) {
      std::error_code ec;
      auto size = fs::file_size(seg.path, ec);
      add(damage::kind::bad_header, 0, ec ? 0 : size, short_by(seg.first_seq));
      continue;
    }
    for (auto& c : scan.corrupt)
      add(damage::kind::corrupt_record, c.offset, c.bytes,
          r.committed.open_in(c.seq, c.seq + c.count));
    auto cut = short_by(scan.end_seq);
    if (scan.abandoned_bytes > 0)
      add(damage::kind::abandoned, scan.abandoned_at, scan.abandoned_bytes,
          std::exchange(cut, 0));
    if (scan.torn_bytes > 0)
      add(damage::kind::torn_tail, scan.good_end, scan.torn_bytes,
          std::exchange(cut, 0));
    if (cut > 0) add(damage::kind::missing, scan.good_end, 0, cut);
  }
  return r;
}

read_status read_record(const recovery& r, const record_ref& ref, uint64_t from,
                        batch& out, int* err) {
  auto unavailable = [&](int e) {
    if (err) *err = e;
    return read_status::unavailable;
  };
  if (ref.segment >= r.segments.size() || ref.size < record_header_size)
    return read_status::damaged;
  int fd = ::open(r.segments[ref.segment].path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    // Gone is damage (someone deleted it); anything else may pass.
    if (errno == ENOENT) return read_status::damaged;
    return unavailable(errno);
  }
  // The segment's header first: its nonce checks the record's header.
  std::string bytes;
  try {
    bytes.resize(std::max(ref.size, segment_header_size));
  } catch (const std::bad_alloc&) {
    ::close(fd);
    return unavailable(ENOMEM);
  }
  auto read_at = [&](std::size_t offset, std::size_t n) -> std::optional<int> {
    std::size_t got = 0;
    while (got < n) {
      auto r = ::pread(fd, bytes.data() + got, n - got,
                       static_cast<off_t>(offset + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return errno;
      if (r == 0) return std::nullopt; // shorter than when it was read: cut
      got += static_cast<std::size_t>(r);
    }
    return 0;
  };
  auto got = read_at(0, segment_header_size);
  std::optional<segment_header> header;
  if (got && *got == 0) {
    header = read_segment_header(
        std::string_view{bytes}.substr(0, segment_header_size));
    if (header) got = read_at(ref.offset, ref.size);
  }
  ::close(fd);
  if (got && *got != 0) return unavailable(*got);
  if (!got || !header) return read_status::damaged;
  bytes.resize(ref.size);
  scanned_record rec;
  batch events;
  if (check_record(bytes, rec, header->nonce) != record_check::ok ||
      rec.payload.size() + record_header_size != bytes.size() ||
      rec.seq != ref.seq || rec.count != ref.count ||
      !decode_events(rec.payload, rec.count, events))
    return read_status::damaged;
  auto skip =
      from > ref.seq ? std::min<uint64_t>(from - ref.seq, ref.count) : 0;
  for (auto i = skip; i < events.size(); ++i)
    out.push_back(std::move(events[i]));
  return read_status::ok;
}

} // namespace flumen::filelog
