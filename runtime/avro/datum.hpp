#pragma once

// Avro's binary encoding (Avro specification 1.11, "Binary Encoding") of
// the types Flume's AvroSourceProtocol uses: zig-zag varint longs and
// ints, booleans, strings, bytes, fixed, enums, unions by index, maps and
// arrays in blocks, and the AvroFlumeEvent record {headers: map<string>,
// body: bytes}. The reader checks every length and count against the bytes
// left and against its limits before it allocates anything.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/core/event.hpp"

namespace flumen::avro {

/// Input that is no valid datum, or passes a limit: what and where.
class decode_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Bounds on what a reader makes of untrusted input.
struct limits {
  /// Longest string or bytes value.
  std::size_t max_value_bytes = std::size_t{64} << 20;
  /// Most entries of one map or items of one array, all blocks together.
  std::size_t max_items = 1u << 20;
};

/// Reads Avro's binary encoding from a buffer it does not own.
class reader {
public:
  explicit reader(std::string_view in, limits lim = {}) : in_(in), lim_(lim) {}

  std::size_t remaining() const { return in_.size() - pos_; }
  std::size_t position() const { return pos_; }
  bool at_end() const { return pos_ == in_.size(); }

  /// A zig-zag varint of at most 10 bytes.
  int64_t read_long();
  /// A zig-zag varint of at most 5 bytes within int32's range.
  int32_t read_int();
  bool read_boolean();
  /// Bytes or a string: a length, checked, then the bytes (a view into
  /// the input).
  std::string_view read_bytes();
  std::string read_string() { return std::string{read_bytes()}; }
  /// `n` bytes.
  std::string_view read_fixed(std::size_t n);
  /// An enum's or a union's index, checked against `count`.
  std::size_t read_index(std::size_t count, const char* what);

  /// The item count of the next block of a map or array (0: the end),
  /// each item at least `min_item_bytes` long: checked against the bytes
  /// left and against max_items (with `so_far` items read already). A
  /// negative count's block size is read and checked too.
  std::size_t read_block_count(std::size_t so_far, std::size_t min_item_bytes,
                               const char* what);

  /// A map<string> into `out` (a key seen twice keeps the last value, as
  /// Java's HashMap).
  void read_string_map(header_map& out);
  /// A map<bytes> (call metadata).
  std::vector<std::pair<std::string, std::string>> read_bytes_map();
  /// An AvroFlumeEvent record.
  event read_event();
  /// An array<AvroFlumeEvent>, appended to `out`.
  void read_events(batch& out);

  [[noreturn]] void fail(const std::string& why) const;

private:
  std::string_view in_;
  std::size_t pos_ = 0;
  limits lim_;
};

/// Writes Avro's binary encoding, appending to a string.
class writer {
public:
  explicit writer(std::string& out) : out_(out) {}

  void write_long(int64_t v);
  void write_int(int32_t v) { write_long(v); }
  void write_boolean(bool b) { out_.push_back(b ? '\1' : '\0'); }
  void write_bytes(std::string_view b);
  void write_string(std::string_view s) { write_bytes(s); }
  void write_fixed(std::string_view b) { out_.append(b); }
  void write_string_map(const header_map& m);
  void
  write_bytes_map(const std::vector<std::pair<std::string, std::string>>& m);
  void write_event(const event& e);
  /// An array<AvroFlumeEvent> in one block.
  void write_events(const batch& events, std::size_t first, std::size_t n);

private:
  std::string& out_;
};

/// Zig-zag encoding of a long (spec: "(n << 1) ^ (n >> 63)").
constexpr uint64_t zigzag(int64_t n) {
  return (static_cast<uint64_t>(n) << 1) ^ static_cast<uint64_t>(n >> 63);
}
constexpr int64_t unzigzag(uint64_t z) {
  return static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
}

/// Bytes an event takes encoded as an AvroFlumeEvent.
std::size_t encoded_size(const event& e);

} // namespace flumen::avro
