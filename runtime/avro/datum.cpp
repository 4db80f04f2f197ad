#include "runtime/avro/datum.hpp"

#include <limits>

namespace flumen::avro {

void reader::fail(const std::string& why) const {
  throw decode_error(why + " (at byte " + std::to_string(pos_) + ")");
}

int64_t reader::read_long() {
  uint64_t z = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (pos_ == in_.size()) fail("truncated varint");
    auto b = static_cast<uint8_t>(in_[pos_++]);
    if (shift == 63 && (b & 0x7e) != 0) fail("varint beyond 64 bits");
    z |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return unzigzag(z);
  }
  fail("varint longer than 10 bytes");
}

int32_t reader::read_int() {
  auto start = pos_;
  auto v = read_long();
  if (pos_ - start > 5 || v < std::numeric_limits<int32_t>::min() ||
      v > std::numeric_limits<int32_t>::max())
    fail("int out of range");
  return static_cast<int32_t>(v);
}

bool reader::read_boolean() {
  if (pos_ == in_.size()) fail("truncated boolean");
  auto b = static_cast<uint8_t>(in_[pos_++]);
  if (b > 1) fail("boolean neither 0 nor 1");
  return b == 1;
}

std::string_view reader::read_bytes() {
  auto n = read_long();
  if (n < 0) fail("negative length " + std::to_string(n));
  auto len = static_cast<uint64_t>(n);
  if (len > remaining())
    fail("length " + std::to_string(len) + " beyond the " +
         std::to_string(remaining()) + " bytes left");
  if (len > lim_.max_value_bytes)
    fail("value of " + std::to_string(len) + " bytes, more than " +
         std::to_string(lim_.max_value_bytes));
  auto v = in_.substr(pos_, len);
  pos_ += len;
  return v;
}

std::string_view reader::read_fixed(std::size_t n) {
  if (n > remaining()) fail("truncated fixed");
  auto v = in_.substr(pos_, n);
  pos_ += n;
  return v;
}

std::size_t reader::read_index(std::size_t count, const char* what) {
  auto i = read_long();
  if (i < 0 || static_cast<uint64_t>(i) >= count)
    fail(std::string{what} + " index " + std::to_string(i) + " out of range");
  return static_cast<std::size_t>(i);
}

std::size_t reader::read_block_count(std::size_t so_far,
                                     std::size_t min_item_bytes,
                                     const char* what) {
  auto n = read_long();
  if (n == 0) return 0;
  if (n < 0) {
    if (n == std::numeric_limits<int64_t>::min()) fail("block count overflow");
    n = -n;
    auto size = read_long(); // the block's bytes; checked, then unused
    if (size < 0 || static_cast<uint64_t>(size) > remaining())
      fail(std::string{what} + " block size beyond the input");
  }
  auto count = static_cast<uint64_t>(n);
  if (count > remaining() / min_item_bytes)
    fail(std::string{what} + " of " + std::to_string(count) +
         " items cannot fit in the " + std::to_string(remaining()) +
         " bytes left");
  if (count > lim_.max_items - std::min(so_far, lim_.max_items))
    fail(std::string{what} + " of more than " + std::to_string(lim_.max_items) +
         " items");
  return static_cast<std::size_t>(count);
}

void reader::read_string_map(header_map& out) {
  std::size_t total = 0;
  while (auto n = read_block_count(total, 2, "map")) {
    out.reserve(out.size() + n);
    for (std::size_t i = 0; i < n; ++i) {
      auto k = read_bytes();
      auto v = read_bytes();
      out.insert_or_assign(std::string{k}, std::string{v});
    }
    total += n;
  }
}

std::vector<std::pair<std::string, std::string>> reader::read_bytes_map() {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t total = 0;
  while (auto n = read_block_count(total, 2, "map")) {
    out.reserve(out.size() + n);
    for (std::size_t i = 0; i < n; ++i) {
      auto k = read_bytes();
      auto v = read_bytes();
      out.emplace_back(std::string{k}, std::string{v});
    }
    total += n;
  }
  return out;
}

event reader::read_event() {
  event e;
  read_string_map(e.headers);
  e.body = std::string{read_bytes()};
  return e;
}

void reader::read_events(batch& out) {
  std::size_t total = 0;
  // An AvroFlumeEvent is at least 2 bytes: an empty map and empty bytes.
  while (auto n = read_block_count(total, 2, "array")) {
    out.reserve(out.size() + n);
    for (std::size_t i = 0; i < n; ++i)
      out.push_back(read_event());
    total += n;
  }
}

void writer::write_long(int64_t v) {
  auto z = zigzag(v);
  while (z >= 0x80) {
    out_.push_back(static_cast<char>((z & 0x7f) | 0x80));
    z >>= 7;
  }
  out_.push_back(static_cast<char>(z));
}

void writer::write_bytes(std::string_view b) {
  write_long(static_cast<int64_t>(b.size()));
  out_.append(b);
}

void writer::write_string_map(const header_map& m) {
  if (!m.empty()) {
    write_long(static_cast<int64_t>(m.size()));
    for (auto& [k, v] : m) {
      write_string(k);
      write_string(v);
    }
  }
  write_long(0);
}

void writer::write_bytes_map(
    const std::vector<std::pair<std::string, std::string>>& m) {
  if (!m.empty()) {
    write_long(static_cast<int64_t>(m.size()));
    for (auto& [k, v] : m) {
      write_string(k);
      write_bytes(v);
    }
  }
  write_long(0);
}

void writer::write_event(const event& e) {
  write_string_map(e.headers);
  write_bytes(e.body);
}

void writer::write_events(const batch& events, std::size_t first,
                          std::size_t n) {
  if (n > 0) {
    write_long(static_cast<int64_t>(n));
    for (std::size_t i = first; i < first + n; ++i)
      write_event(events[i]);
  }
  write_long(0);
}

namespace {
std::size_t varint_size(uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80)
    v >>= 7, ++n;
  return n;
}
std::size_t bytes_size(std::size_t n) {
  return varint_size(zigzag(static_cast<int64_t>(n))) + n;
}
} // namespace

std::size_t encoded_size(const event& e) {
  std::size_t n = bytes_size(e.body.size()) + 1;
  if (!e.headers.empty()) {
    n += varint_size(zigzag(static_cast<int64_t>(e.headers.size())));
    for (auto& [k, v] : e.headers)
      n += bytes_size(k.size()) + bytes_size(v.size());
  }
  return n;
}

} // namespace flumen::avro
