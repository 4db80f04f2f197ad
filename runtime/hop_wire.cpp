#include "runtime/hop_wire.hpp"

#include <cstring>

#include <lz4.h>
#include <zstd.h>

namespace flumen::hop {

namespace {

constexpr char magic[3] = {'F', 'H', 'B'};

void put_u32(std::string& out, uint32_t v) {
  char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8),
               static_cast<char>(v >> 16), static_cast<char>(v >> 24)};
  out.append(b, 4);
}

uint32_t get_u32(const char* p) {
  auto u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | static_cast<uint32_t>(u[1]) << 8 |
         static_cast<uint32_t>(u[2]) << 16 | static_cast<uint32_t>(u[3]) << 24;
}

void put_bytes(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

void write_payload(std::string& out, const batch& events) {
  for (const auto& e : events) {
    put_u32(out, static_cast<uint32_t>(e.headers.size()));
    for (const auto& [k, v] : e.headers) {
      put_bytes(out, k);
      put_bytes(out, v);
    }
    put_bytes(out, e.body);
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

bool read_payload(std::string_view payload, uint32_t count, batch& out,
                  decode_error& err) {
  // Every event takes 8 bytes at least: a count can't promise more.
  if (count > payload.size() / 8) {
    err = {decode_error::malformed, "event count larger than the payload"};
    return false;
  }
  out.reserve(count);
  reader r{payload};
  for (uint32_t i = 0; i < count; ++i) {
    auto& e = out.emplace_back();
    uint32_t headers = 0;
    if (!r.u32(headers) || headers > r.left() / 8) {
      err = {decode_error::malformed, "truncated event"};
      return false;
    }
    e.headers.reserve(headers);
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

std::string encode(const batch& events, codec c) {
  std::string raw;
  auto raw_size = encoded_size(events);
  raw.reserve(frame_header_bytes + raw_size);
  raw.append(magic, 3);
  raw.push_back(static_cast<char>(wire_version));
  raw.push_back(static_cast<char>(c));
  raw.append(3, '\0');
  put_u32(raw, static_cast<uint32_t>(events.size()));
  put_u32(raw, static_cast<uint32_t>(raw_size));
  if (c == codec::none) {
    write_payload(raw, events);
    return raw;
  }
  std::string payload;
  payload.reserve(raw_size);
  write_payload(payload, events);
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

std::optional<batch> decode(std::string_view buffer,
                            std::size_t max_payload_bytes, decode_error& err) {
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
  auto count = get_u32(buffer.data() + 8);
  auto raw_size = get_u32(buffer.data() + 12);
  if (raw_size > max_payload_bytes) {
    err = {decode_error::too_large, "batch of " + std::to_string(raw_size) +
                                        " bytes, more than max_batch_bytes " +
                                        std::to_string(max_payload_bytes)};
    return std::nullopt;
  }
  auto body = buffer.substr(frame_header_bytes);
  batch out;
  if (static_cast<codec>(c) == codec::none) {
    if (body.size() != raw_size) {
      err = {decode_error::malformed, "payload size differs from its header"};
      return std::nullopt;
    }
    if (!read_payload(body, count, out, err)) return std::nullopt;
    return out;
  }
  // What the header claims must be what the compressed bytes can hold
  // before anything is allocated: a 20-byte buffer claiming max_batch_bytes
  // must not cost max_batch_bytes of memory.
  if (static_cast<codec>(c) == codec::lz4 &&
      raw_size / 255 > body.size()) { // lz4 expands at most ~255 times
    err = {decode_error::malformed,
           "lz4 payload smaller than its claimed size"};
    return std::nullopt;
  }
  if (static_cast<codec>(c) == codec::zstd &&
      ZSTD_getFrameContentSize(body.data(), body.size()) != raw_size) {
    err = {decode_error::malformed, "zstd frame size differs from its header"};
    return std::nullopt;
  }
  std::string payload(raw_size, '\0');
  if (static_cast<codec>(c) == codec::lz4) {
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
  if (!read_payload(payload, count, out, err)) return std::nullopt;
  return out;
}

} // namespace flumen::hop
