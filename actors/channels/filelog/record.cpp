#include "actors/channels/filelog/record.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "actors/channels/filelog/crc32c.hpp"

namespace flumen::filelog {

static_assert(std::endian::native == std::endian::little,
              "the log is written in the host's byte order: little-endian");

namespace {

constexpr char segment_magic[8] = {'F', 'L', 'U', 'M', 'E', 'N', 'L', 'G'};

template <class T>
void put(std::string& out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

template <class T>
T get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

/// Reads a length-prefixed string at `pos`; false when it runs past `end`.
bool get_bytes(std::string_view in, std::size_t& pos, std::string_view& s) {
  if (in.size() - pos < 4) return false;
  auto n = get<uint32_t>(in.data() + pos);
  pos += 4;
  if (in.size() - pos < n) return false;
  s = in.substr(pos, n);
  pos += n;
  return true;
}

bool all_zero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == 0; });
}

} // namespace

std::string encode_segment_header(uint64_t first_seq, uint64_t skipped) {
  std::string out(segment_magic, sizeof(segment_magic));
  put<uint32_t>(out, format_version);
  put<uint32_t>(
      out, static_cast<uint32_t>(std::min<uint64_t>(skipped, skipped_unknown)));
  put<uint64_t>(out, first_seq);
  put<uint32_t>(out, crc32c(out));
  put<uint32_t>(out, 0);
  return out;
}

std::optional<segment_header> read_segment_header(std::string_view bytes) {
  if (bytes.size() < segment_header_size) return std::nullopt;
  if (std::memcmp(bytes.data(), segment_magic, sizeof(segment_magic)) != 0)
    return std::nullopt;
  if (get<uint32_t>(bytes.data() + 24) != crc32c(bytes.substr(0, 24)))
    return std::nullopt;
  auto version = get<uint32_t>(bytes.data() + 8);
  if (version != 1 && version != format_version) return std::nullopt;
  segment_header h;
  h.first_seq = get<uint64_t>(bytes.data() + 16);
  h.skipped = version == 1 ? skipped_unknown : get<uint32_t>(bytes.data() + 12);
  return h;
}

std::size_t payload_size(const batch& events) {
  std::size_t n = 0;
  for (auto& e : events) {
    n += 8 + e.body.size();
    for (auto& [k, v] : e.headers)
      n += 8 + k.size() + v.size();
  }
  return n;
}

void append_record(std::string& out, uint64_t seq, const batch& events) {
  auto payload = payload_size(events);
  auto start = out.size();
  out.resize(start + record_header_size + payload);
  write_record(out.data() + start, seq, events, payload);
}

void write_record(char* base, uint64_t seq, const batch& events,
                  std::size_t payload) {
  // Written through a pointer into memory sized once: appended to a string
  // field by field, the capacity checks and the string's zero fill cost the
  // journal's thread about 5 % (bench/README.md, part 13, tenth pass).
  char* p = base + record_header_size;
  auto write_u32 = [&](uint32_t v) {
    std::memcpy(p, &v, 4);
    p += 4;
  };
  auto write_bytes = [&](std::string_view b) {
    write_u32(static_cast<uint32_t>(b.size()));
    if (!b.empty()) std::memcpy(p, b.data(), b.size());
    p += b.size();
  };
  for (auto& e : events) {
    write_bytes(e.body);
    write_u32(static_cast<uint32_t>(e.headers.size()));
    for (auto& [k, v] : e.headers) {
      write_bytes(k);
      write_bytes(v);
    }
  }
  auto body = std::string_view{base + record_header_size, payload};
  char header[record_header_size];
  auto set = [&](std::size_t at, auto v) {
    std::memcpy(header + at, &v, sizeof(v));
  };
  set(0, static_cast<uint32_t>(payload));
  set(4, static_cast<uint32_t>(events.size()));
  set(8, seq);
  set(16, crc32c(body));
  set(20, crc32c(std::string_view{header, 20}));
  std::memcpy(base, header, record_header_size);
}

bool decode_events(std::string_view payload, uint32_t count, batch& out) {
  auto before = out.size();
  std::size_t pos = 0;
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view body;
    if (!get_bytes(payload, pos, body) || payload.size() - pos < 4) {
      out.resize(before);
      return false;
    }
    auto headers = get<uint32_t>(payload.data() + pos);
    pos += 4;
    // Each header takes 8 bytes at least: a count beyond what is left is
    // damage, not a reason to reserve gigabytes.
    if (headers > (payload.size() - pos) / 8) {
      out.resize(before);
      return false;
    }
    auto& e = out.emplace_back();
    e.body.assign(body);
    e.headers.reserve(headers);
    for (uint32_t h = 0; h < headers; ++h) {
      std::string_view k, v;
      if (!get_bytes(payload, pos, k) || !get_bytes(payload, pos, v)) {
        out.resize(before);
        return false;
      }
      e.headers.insert_or_assign(std::string{k}, std::string{v});
    }
  }
  if (pos != payload.size()) {
    out.resize(before);
    return false;
  }
  return true;
}

record_check check_record(std::string_view rest, scanned_record& rec) {
  if (rest.size() < record_header_size) return record_check::cut_short;
  auto len = get<uint32_t>(rest.data());
  if (get<uint32_t>(rest.data() + 20) != crc32c(rest.substr(0, 20)) ||
      len > max_record_payload)
    return record_check::bad_header;
  if (rest.size() - record_header_size < len) return record_check::cut_short;
  rec.count = get<uint32_t>(rest.data() + 4);
  rec.seq = get<uint64_t>(rest.data() + 8);
  rec.payload = rest.substr(record_header_size, len);
  if (get<uint32_t>(rest.data() + 16) != crc32c(rec.payload))
    return record_check::bad_payload;
  return record_check::ok;
}

scan_result
scan_segment(std::string_view bytes,
             const std::function<void(const scanned_record&)>& on_record) {
  scan_result r;
  auto header = read_segment_header(bytes);
  if (!header) return r;
  r.header_ok = true;
  r.first_seq = r.end_seq = header->first_seq;
  r.skipped = header->skipped;
  std::size_t pos = segment_header_size;
  r.good_end = pos;
  while (pos < bytes.size()) {
    auto rest = bytes.substr(pos);
    scanned_record rec;
    rec.offset = pos;
    auto check = check_record(rest, rec);
    if (check == record_check::cut_short) {
      r.torn_bytes = rest.size(); // a header or payload cut short
      break;
    }
    if (check == record_check::bad_header) {
      if (all_zero(rest)) {
        r.torn_bytes = rest.size(); // appended length, never the data
      } else {
        r.abandoned_at = pos;
        r.abandoned_bytes = rest.size();
      }
      break;
    }
    auto size = record_header_size + rec.payload.size();
    pos += size;
    r.good_end = pos;
    if (check == record_check::bad_payload) {
      ++r.corrupt_records;
      r.corrupt_bytes += size;
      r.corrupt.push_back({rec.offset, size, rec.seq, rec.count});
      r.end_seq = std::max(r.end_seq, rec.seq + rec.count);
      continue;
    }
    ++r.records;
    r.end_seq = std::max(r.end_seq, rec.seq + rec.count);
    if (on_record) on_record(rec);
  }
  return r;
}

} // namespace flumen::filelog
