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

std::string encode_segment_header(uint64_t first_seq, uint64_t skipped,
                                  uint32_t nonce) {
  std::string out(segment_magic, sizeof(segment_magic));
  put<uint32_t>(out, nonce != 0 ? format_version : 2);
  put<uint32_t>(
      out, static_cast<uint32_t>(std::min<uint64_t>(skipped, skipped_unknown)));
  put<uint64_t>(out, first_seq);
  if (nonce != 0) put<uint32_t>(out, nonce);
  put<uint32_t>(out, crc32c(out));
  if (nonce == 0) put<uint32_t>(out, 0);
  return out;
}

std::optional<segment_header> read_segment_header(std::string_view bytes) {
  if (bytes.size() < segment_header_size) return std::nullopt;
  if (std::memcmp(bytes.data(), segment_magic, sizeof(segment_magic)) != 0)
    return std::nullopt;
  segment_header h;
  h.version = get<uint32_t>(bytes.data() + 8);
  // Version 3 has its nonce where the older ones have their checksum.
  auto covered = h.version >= 3 ? std::size_t{28} : std::size_t{24};
  if (get<uint32_t>(bytes.data() + covered) != crc32c(bytes.substr(0, covered)))
    return std::nullopt;
  if (h.version < 1 || h.version > format_version) return std::nullopt;
  h.first_seq = get<uint64_t>(bytes.data() + 16);
  h.skipped =
      h.version == 1 ? skipped_unknown : get<uint32_t>(bytes.data() + 12);
  h.nonce = h.version >= 3 ? get<uint32_t>(bytes.data() + 24) : 0;
  // A version 3 header always has a nonce; 0 would read older records.
  if (h.version >= 3 && h.nonce == 0) return std::nullopt;
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

void append_record(std::string& out, uint64_t seq, const batch& events,
                   uint32_t nonce) {
  auto payload = payload_size(events);
  auto start = out.size();
  out.resize(start + record_header_size + payload);
  write_record(out.data() + start, seq, events, payload, nonce);
}

void write_record(char* base, uint64_t seq, const batch& events,
                  std::size_t payload, uint32_t nonce) {
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
  set(20, crc32c(std::string_view{header, 20}, nonce));
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

record_check check_record(std::string_view rest, scanned_record& rec,
                          uint32_t nonce) {
  if (rest.size() < record_header_size) return record_check::cut_short;
  auto len = get<uint32_t>(rest.data());
  if (get<uint32_t>(rest.data() + 20) != crc32c(rest.substr(0, 20), nonce) ||
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

namespace {

/// Whether a record header of the segment (its nonce, a number from
/// `min_seq` on, a length that fits) starts anywhere in `bytes` from
/// `from` on: damage hides it, where a spare's old contents cannot.
bool finds_a_record(std::string_view bytes, std::size_t from, uint32_t nonce,
                    uint64_t min_seq,
                    const std::function<void(std::size_t)>& on_progress) {
  constexpr std::size_t step = 8 << 20;
  auto next_report = from + step;
  for (auto at = from; at + record_header_size <= bytes.size(); ++at) {
    if (on_progress && at >= next_report) {
      on_progress(at);
      next_report = at + step;
    }
    auto* p = bytes.data() + at;
    auto len = get<uint32_t>(p);
    // Cheap tests first: most offsets fail them.
    if (len > bytes.size() - at - record_header_size ||
        uint64_t{get<uint32_t>(p + 4)} * 8 > len ||
        get<uint64_t>(p + 8) < min_seq)
      continue;
    if (get<uint32_t>(p + 20) == crc32c(p, 20, nonce)) return true;
  }
  return false;
}

} // namespace

scan_result
scan_segment(std::string_view bytes,
             const std::function<void(const scanned_record&)>& on_record,
             const std::function<void(std::size_t)>& on_progress) {
  scan_result r;
  auto header = read_segment_header(bytes);
  if (!header) return r;
  r.header_ok = true;
  r.first_seq = r.end_seq = header->first_seq;
  r.skipped = header->skipped;
  bool v3 = header->version >= 3;
  // Written over a spare: old records may follow the new ones.
  bool over_spare = v3 && written_over_a_spare(header->nonce);
  std::size_t pos = segment_header_size;
  r.good_end = pos;
  // Version 3: records whose payload checksum fails since the last sound
  // one; damage when a sound record follows, else an interrupted append.
  std::vector<scan_result::span> unsure;
  auto corrupt = [&](const scan_result::span& c) {
    ++r.corrupt_records;
    r.corrupt_bytes += c.bytes;
    r.corrupt.push_back(c);
    r.end_seq = std::max(r.end_seq, c.seq + c.count);
  };
  bool cut = false;
  while (pos < bytes.size()) {
    auto rest = bytes.substr(pos);
    scanned_record rec;
    rec.offset = pos;
    auto check = check_record(rest, rec, header->nonce);
    // Numbers only go up in a segment: an older one is a spare's.
    if (v3 &&
        (check == record_check::ok || check == record_check::bad_payload) &&
        rec.seq < r.end_seq)
      check = record_check::bad_header;
    if (check == record_check::cut_short) {
      cut = true;
      if (!over_spare) r.torn_bytes = rest.size(); // a header or payload
      break;                                       // cut short
    }
    if (check == record_check::bad_header) {
      if (over_spare) break;
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
    if (check == record_check::bad_payload) {
      if (over_spare) {
        unsure.push_back({rec.offset, size, rec.seq, rec.count});
        continue;
      }
      r.good_end = pos;
      corrupt({rec.offset, size, rec.seq, rec.count});
      continue;
    }
    for (auto& c : unsure)
      corrupt(c);
    unsure.clear();
    r.good_end = pos;
    ++r.records;
    r.end_seq = std::max(r.end_seq, rec.seq + rec.count);
    if (on_record) on_record(rec);
  }
  if (!over_spare || r.good_end == bytes.size()) return r;
  // What follows the last sound record: damage, an interrupted append or
  // the spare's old contents.
  if (pos == bytes.size() ||
      finds_a_record(bytes, pos + 1, header->nonce, r.end_seq, on_progress)) {
    // Damage: a record of this segment follows, or whole records (not cut
    // short by the end of the file) fail their checksums.
    for (auto& c : unsure)
      corrupt(c);
    r.good_end = pos;
    if (pos < bytes.size()) {
      r.abandoned_at = pos;
      r.abandoned_bytes = bytes.size() - pos;
    }
  } else if (cut || all_zero(bytes.substr(pos))) {
    r.torn_bytes = bytes.size() - r.good_end;
  } else {
    r.stale_bytes = bytes.size() - r.good_end;
  }
  return r;
}

} // namespace flumen::filelog
