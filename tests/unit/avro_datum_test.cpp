// Avro's binary encoding (runtime/avro/datum.hpp), with the examples of the
// Avro specification 1.11, "Binary Encoding".
#include "runtime/avro/datum.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

using namespace flumen;
using namespace flumen::avro;

namespace {

std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

std::string long_bytes(int64_t v) {
  std::string out;
  writer{out}.write_long(v);
  return out;
}

} // namespace

// The specification's table: 0 -> 00, -1 -> 01, 1 -> 02, -2 -> 03,
// 2 -> 04, ..., -64 -> 7f, 64 -> 80 01.
TEST(avro_datum, zigzag_values_of_the_specification) {
  const std::pair<int64_t, const char*> table[] = {
      {0, "00"}, {-1, "01"},  {1, "02"},   {-2, "03"},
      {2, "04"}, {-64, "7f"}, {64, "8001"}};
  for (auto& [v, h] : table) {
    EXPECT_EQ(hex(long_bytes(v)), h) << v;
    auto b = long_bytes(v);
    reader r{b};
    EXPECT_EQ(r.read_long(), v);
    EXPECT_TRUE(r.at_end());
  }
}

TEST(avro_datum, longs_round_trip_at_the_edges) {
  for (int64_t v : {std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max(), int64_t{-8193},
                    int64_t{1} << 40}) {
    auto b = long_bytes(v);
    EXPECT_LE(b.size(), 10u);
    reader r{b};
    EXPECT_EQ(r.read_long(), v);
  }
  EXPECT_EQ(long_bytes(std::numeric_limits<int64_t>::min()).size(), 10u);
}

TEST(avro_datum, bad_varints_are_refused) {
  // Eleven continuation bytes; a tenth byte with bits beyond 64; cut short.
  EXPECT_THROW(reader{std::string(11, '\x80')}.read_long(), decode_error);
  EXPECT_THROW(reader{std::string(9, '\xff') + "\x7f"}.read_long(),
               decode_error);
  EXPECT_THROW(reader{"\x80"}.read_long(), decode_error);
  // An int beyond int32.
  EXPECT_THROW(reader{long_bytes(int64_t{1} << 31)}.read_int(), decode_error);
  EXPECT_EQ(reader{long_bytes(-(int64_t{1} << 31))}.read_int(),
            std::numeric_limits<int32_t>::min());
}

// The specification: the string "foo" is 06 66 6f 6f.
TEST(avro_datum, string_foo_of_the_specification) {
  std::string out;
  writer{out}.write_string("foo");
  EXPECT_EQ(hex(out), "06666f6f");
  reader r{out};
  EXPECT_EQ(r.read_string(), "foo");
}

// The specification: an array of the longs 3 and 27 is 04 06 36 00; a
// block may also carry a negative count and its size in bytes.
TEST(avro_datum, array_blocks_of_the_specification) {
  const std::string in{"\x04\x06\x36\x00", 4};
  reader r{in};
  std::size_t items = 0;
  std::vector<int64_t> got;
  while (auto n = r.read_block_count(items, 1, "array")) {
    for (std::size_t i = 0; i < n; ++i)
      got.push_back(r.read_long());
    items += n;
  }
  EXPECT_EQ(got, (std::vector<int64_t>{3, 27}));
  // -2 items in 2 bytes: 03 04 06 36 00.
  const std::string negative{"\x03\x04\x06\x36\x00", 5};
  reader neg{negative};
  EXPECT_EQ(neg.read_block_count(0, 1, "array"), 2u);
}

TEST(avro_datum, lengths_are_checked_before_allocation) {
  // A bytes length beyond the input, a negative one, one over the limit.
  EXPECT_THROW(reader{long_bytes(1000) + "abc"}.read_bytes(), decode_error);
  EXPECT_THROW(reader{long_bytes(-1)}.read_bytes(), decode_error);
  limits lim;
  lim.max_value_bytes = 2;
  EXPECT_THROW((reader{long_bytes(3) + "abc", lim}.read_bytes()), decode_error);
  // An array of 2^40 events announced in a few bytes.
  batch b;
  EXPECT_THROW(reader{long_bytes(int64_t{1} << 40)}.read_events(b),
               decode_error);
  // A map whose count would fit the bytes but not max_items.
  lim = {};
  lim.max_items = 2;
  header_map h;
  auto three = long_bytes(3) + std::string(6, '\0') + '\0';
  reader r{three, lim};
  EXPECT_THROW(r.read_string_map(h), decode_error);
  // The most negative count.
  EXPECT_THROW(
      reader{long_bytes(std::numeric_limits<int64_t>::min())}.read_events(b),
      decode_error);
  // A boolean that is not 0 or 1; an enum index out of range.
  EXPECT_THROW(reader{"\x02"}.read_boolean(), decode_error);
  EXPECT_THROW(reader{long_bytes(3)}.read_index(3, "Status"), decode_error);
}

TEST(avro_datum, flume_events_round_trip) {
  batch in;
  in.push_back(event{{{"host", "a"}, {"timestamp", "1"}}, "hello"});
  in.push_back(event{{}, std::string("\0\xff", 2)});
  std::string out;
  writer w{out};
  w.write_events(in, 0, in.size());
  reader r{out};
  batch back;
  r.read_events(back);
  EXPECT_TRUE(r.at_end());
  EXPECT_EQ(back, in);
  for (auto& e : in) {
    std::string one;
    writer{one}.write_event(e);
    EXPECT_EQ(encoded_size(e), one.size());
  }
  // {headers: {}, body: "x"}: 00 02 78.
  std::string x;
  writer{x}.write_event(event{{}, "x"});
  EXPECT_EQ(hex(x), "000278");
}
