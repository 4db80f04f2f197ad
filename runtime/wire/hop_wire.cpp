#include "runtime/wire/hop_wire.hpp"

#include <cstring>

#include "runtime/libs/lz4.hpp"
#include "runtime/libs/zstd.hpp"

namespace flumen::hop {

namespace {

constexpr char magic[3] = {'F', 'H', 'B'};

/// Writes `v` little-endian at `p`; returns the byte after it.
char* write_u32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v);
  p[1] = static_cast<char>(v >> 8);
  p[2] = static_cast<char>(v >> 16);
  p[3] = static_cast<char>(v >> 24);
  return p + 4;
}

void put_u32(std::string& out, uint32_t v) {
  char b[4];
  write_u32(b, v);
  out.append(b, 4);
}

uint32_t get_u32(const char* p) {
  auto u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | static_cast<uint32_t>(u[1]) << 8 |
         static_cast<uint32_t>(u[2]) << 16 | static_cast<uint32_t>(u[3]) << 24;
}

char* write_bytes(char* p, std::string_view s) {
  p = write_u32(p, static_cast<uint32_t>(s.size()));
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

/// Appends the payload of `events`, `raw_size` bytes (their encoded_size),
/// into memory sized once: appending field by field cost the edge agent
/// of the hop bench 4 % of its CPU (bench/README.md, part 13).
void write_payload(std::string& out, std::span<const event> events,
                   std::size_t raw_size) {
  auto at = out.size();
  out.resize(at + raw_size);
  char* p = out.data() + at;
  for (const auto& e : events) {
    p = write_u32(p, static_cast<uint32_t>(e.headers.size()));
    for (const auto& [k, v] : e.headers) {
      p = write_bytes(p, k);
      p = write_bytes(p, v);
    }
    p = write_bytes(p, e.body);
  }
}

/// Reads the payload; false when it is not exactly `count` events.
class reader {
public:
  explicit reader(std::string_view in) : in_(in) {}

  bool u32(uint32_t& v) {
    if (in_.size() - pos_ < 4) return false;
    v = get_u32(in_.data() + pos_);
    pos_ += 4;
    return true;
  }

  bool bytes(std::string& s) {
    uint32_t n = 0;
    if (!u32(n) || in_.size() - pos_ < n) return false;
    s.assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }

  bool done() const { return pos_ == in_.size(); }
  std::size_t left() const { return in_.size() - pos_; }

private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

/// Reads the payload into `out`; false (with `err`) when it is not exactly
/// `count` events or its decoded size would pass `max_event_bytes`: the
/// header's share (payload plus decoded_overhead per event) was checked by
/// the caller, each event's headers add theirs before they are allocated.
bool read_payload(std::string_view payload, uint32_t count,
                  std::size_t max_event_bytes, batch& out, decode_error& err) {
  // Every event takes 8 bytes at least: a count can't promise more (checked
  // on the header too; kept here for the payload actually decompressed).
  if (count > payload.size() / 8) {
    err = {decode_error::malformed, "event count larger than the payload"};
    return false;
  }
  auto decoded = payload.size() + decoded_overhead * std::size_t{count};
  out.reserve(count);
  reader r{payload};
  for (uint32_t i = 0; i < count; ++i) {
    auto& e = out.emplace_back();
    uint32_t headers = 0;
    if (!r.u32(headers) || headers > r.left() / 8) {
      err = {decode_error::malformed, "truncated event"};
      return false;
    }
    decoded += decoded_overhead * std::size_t{headers};
    if (decoded > max_event_bytes) {
      err = {decode_error::too_large,
             "batch of more than " + std::to_string(max_event_bytes) +
                 " bytes decoded (max_batch_bytes): event " +
                 std::to_string(i) + " has " + std::to_string(headers) +
                 " headers"};
      return false;
    }
    if (headers != 0) e.headers.reserve(headers);
    for (uint32_t h = 0; h < headers; ++h) {
      std::string k;
      std::string v;
      if (!r.bytes(k) || !r.bytes(v)) {
        err = {decode_error::malformed, "truncated header"};
        return false;
      }
      e.headers.insert_or_assign(std::move(k), std::move(v));
    }
    if (!r.bytes(e.body)) {
      err = {decode_error::malformed, "truncated body"};
      return false;
    }
  }
  if (!r.done()) {
    err = {decode_error::malformed, "bytes after the last event"};
    return false;
  }
  return true;
}

} // namespace

std::optional<codec> parse_codec(std::string_view name) {
  if (name == "none") return codec::none;
  if (name == "lz4") return codec::lz4;
  if (name == "zstd") return codec::zstd;
  return std::nullopt;
}

const char* to_string(codec c) {
  switch (c) {
  case codec::none:
    return "none";
  case codec::lz4:
    return "lz4";
  case codec::zstd:
    return "zstd";
  }
  return "unknown";
}

std::size_t encoded_size(const event& e) {
  std::size_t n = 8 + e.body.size();
  for (const auto& [k, v] : e.headers)
    n += 8 + k.size() + v.size();
  return n;
}

std::size_t encoded_size(const batch& events) {
  std::size_t n = 0;
  for (const auto& e : events)
    n += encoded_size(e);
  return n;
}

std::string encode(std::span<const event> events, codec c) {
  std::string raw;
  std::size_t raw_size = 0;
  for (const auto& e : events)
    raw_size += encoded_size(e);
  raw.reserve(frame_header_bytes + raw_size);
  raw.append(magic, 3);
  raw.push_back(static_cast<char>(wire_version));
  raw.push_back(static_cast<char>(c));
  raw.append(3, '\0');
  put_u32(raw, static_cast<uint32_t>(events.size()));
  put_u32(raw, static_cast<uint32_t>(raw_size));
  if (c == codec::none) {
    write_payload(raw, events, raw_size);
    return raw;
  }
  std::string payload;
  write_payload(payload, events, raw_size);
  std::string out = raw.substr(0, frame_header_bytes);
  if (c == codec::lz4) {
    auto bound = LZ4_compressBound(static_cast<int>(payload.size()));
    out.resize(frame_header_bytes + static_cast<std::size_t>(bound));
    auto n =
        LZ4_compress_default(payload.data(), out.data() + frame_header_bytes,
                             static_cast<int>(payload.size()), bound);
    out.resize(frame_header_bytes + static_cast<std::size_t>(n));
  } else {
    auto bound = ZSTD_compressBound(payload.size());
    out.resize(frame_header_bytes + bound);
    auto n = ZSTD_compress(out.data() + frame_header_bytes, bound,
                           payload.data(), payload.size(), 1);
    out.resize(frame_header_bytes + n);
  }
  return out;
}

std::optional<frame_info> peek(std::string_view buffer, decode_error& err) {
  if (buffer.size() < frame_header_bytes ||
      std::memcmp(buffer.data(), magic, 3) != 0) {
    err = {decode_error::malformed, "not a flumen hop batch"};
    return std::nullopt;
  }
  if (static_cast<uint8_t>(buffer[3]) != wire_version) {
    err = {decode_error::version,
           "batch of wire version " +
               std::to_string(static_cast<uint8_t>(buffer[3])) +
               ", this agent speaks " + std::to_string(wire_version)};
    return std::nullopt;
  }
  auto c = static_cast<uint8_t>(buffer[4]);
  if (c > 2 || buffer[5] != 0 || buffer[6] != 0 || buffer[7] != 0) {
    err = {decode_error::malformed, "unknown codec or flags"};
    return std::nullopt;
  }
  frame_info f;
  f.compression = static_cast<codec>(c);
  f.count = get_u32(buffer.data() + 8);
  f.payload_bytes = get_u32(buffer.data() + 12);
  // Every event takes 8 bytes at least: a count the payload can't hold is
  // a lie, whatever the bound.
  if (f.count > f.payload_bytes / 8) {
    err = {decode_error::malformed, "event count larger than the payload"};
    return std::nullopt;
  }
  return f;
}

std::optional<batch> decode(std::string_view buffer,
                            std::size_t max_event_bytes, decode_error& err) {
  auto f = peek(buffer, err);
  if (!f) return std::nullopt;
  auto count = f->count;
  auto raw_size = f->payload_bytes;
  // The decoded size the header promises at least, before anything is
  // decompressed or allocated: 2 KB of zstd once declared 64 MiB of empty
  // events, 8.4 million of them, 451 MiB decoded.
  if (f->least_event_bytes() > max_event_bytes) {
    err = {decode_error::too_large,
           "batch of " + std::to_string(count) + " events, " +
               std::to_string(raw_size) + " bytes (" +
               std::to_string(f->least_event_bytes()) +
               " decoded), more than max_batch_bytes " +
               std::to_string(max_event_bytes)};
    return std::nullopt;
  }
  auto body = buffer.substr(frame_header_bytes);
  batch out;
  if (f->compression == codec::none) {
    if (body.size() != raw_size) {
      err = {decode_error::malformed, "payload size differs from its header"};
      return std::nullopt;
    }
    if (!read_payload(body, count, max_event_bytes, out, err))
      return std::nullopt;
    return out;
  }
  // What the header claims must be what the compressed bytes can hold
  // before anything is allocated: a 20-byte buffer claiming max_batch_bytes
  // must not cost max_batch_bytes of memory.
  if (f->compression == codec::lz4 &&
      raw_size / 255 > body.size()) { // lz4 expands at most ~255 times
    err = {decode_error::malformed,
           "lz4 payload smaller than its claimed size"};
    return std::nullopt;
  }
  if (f->compression == codec::zstd &&
      ZSTD_getFrameContentSize(body.data(), body.size()) != raw_size) {
    err = {decode_error::malformed, "zstd frame size differs from its header"};
    return std::nullopt;
  }
  std::string payload(raw_size, '\0');
  if (f->compression == codec::lz4) {
    if (body.size() > static_cast<std::size_t>(INT32_MAX)) {
      err = {decode_error::malformed, "lz4 block too large"};
      return std::nullopt;
    }
    auto n = LZ4_decompress_safe(body.data(), payload.data(),
                                 static_cast<int>(body.size()),
                                 static_cast<int>(raw_size));
    if (n < 0 || static_cast<uint32_t>(n) != raw_size) {
      err = {decode_error::malformed, "corrupt lz4 payload"};
      return std::nullopt;
    }
  } else {
    auto n =
        ZSTD_decompress(payload.data(), raw_size, body.data(), body.size());
    if (ZSTD_isError(n) || n != raw_size) {
      err = {decode_error::malformed, "corrupt zstd payload"};
      return std::nullopt;
    }
  }
  if (!read_payload(payload, count, max_event_bytes, out, err))
    return std::nullopt;
  return out;
}

std::vector<piece> cut(std::span<const event> events, cut_limits limits,
                       std::vector<std::size_t>& oversized) {
  std::vector<piece> out;
  std::size_t begin = 0;
  std::size_t decoded = 0;
  std::size_t encoded = 0;
  auto close = [&](std::size_t end) {
    if (end > begin) out.push_back({begin, end, decoded, encoded});
    decoded = 0;
    encoded = 0;
  };
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto d = event_bytes(events[i]);
    auto n = encoded_size(events[i]);
    if (d > limits.max_event_bytes) {
      close(i);
      begin = i + 1;
      oversized.push_back(i);
      continue;
    }
    if (i > begin && (decoded + d > limits.max_event_bytes ||
                      encoded + n > limits.max_encoded_bytes)) {
      close(i);
      begin = i;
    }
    decoded += d;
    encoded += n;
  }
  close(events.size());
  return out;
}

} // namespace flumen::hop
