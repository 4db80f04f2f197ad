// The hop wire codec (runtime/wire/hop_wire.hpp): round trips for every codec
// and every way a buffer can be refused. No actors.

#include "runtime/wire/hop_wire.hpp"

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zstd.h>

using namespace flumen;
using namespace flumen::hop;

namespace {

constexpr std::size_t one_mb = std::size_t{1} << 20;

const std::vector<codec> all_codecs = {codec::none, codec::lz4, codec::zstd};

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>(v >> (8 * i)));
}

uint32_t get_u32(const std::string& s, std::size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(s[at + i]))
         << (8 * i);
  return v;
}

void set_u32(std::string& s, std::size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    s[at + i] = static_cast<char>(v >> (8 * i));
}

void put_bytes(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

/// A frame made by hand: the header with these fields, then `payload` as is.
std::string frame(uint32_t count, uint32_t raw_size, const std::string& payload,
                  uint8_t c = 0, uint8_t version = wire_version) {
  std::string out = {
      'F', 'H', 'B', static_cast<char>(version), static_cast<char>(c), 0, 0, 0};
  put_u32(out, count);
  put_u32(out, raw_size);
  return out + payload;
}

/// An uncompressed frame whose header matches `payload`'s size.
std::string plain(uint32_t count, const std::string& payload) {
  return frame(count, static_cast<uint32_t>(payload.size()), payload);
}

event make_event(std::string body, header_map headers = {}) {
  event e;
  e.body = std::move(body);
  e.headers = std::move(headers);
  return e;
}

batch sample_batch() {
  return {make_event("hello", {{"host", "web-1"}, {"timestamp", "1700000000"}}),
          make_event(""), make_event("a longer body, repeated a bit, a bit")};
}

/// `buffer` decoded: must succeed.
batch decoded(const std::string& buffer, std::size_t max = 64 * one_mb) {
  decode_error err;
  auto out = decode(buffer, max, err);
  EXPECT_TRUE(out.has_value()) << err.what;
  return out.value_or(batch{});
}

/// `buffer` refused: nullopt, a reason, and the kind asked for.
decode_error refusal(const std::string& buffer,
                     decode_error::kind_t kind = decode_error::malformed,
                     std::size_t max = 64 * one_mb) {
  decode_error err;
  auto out = decode(buffer, max, err);
  EXPECT_FALSE(out.has_value());
  EXPECT_FALSE(err.what.empty());
  EXPECT_EQ(err.kind, kind) << err.what;
  return err;
}

std::string name_of(const testing::TestParamInfo<codec>& info) {
  return to_string(info.param);
}

class hop_wire_round_trip : public testing::TestWithParam<codec> {};

} // namespace

// -- codec names --------------------------------------------------------------

TEST(hop_wire, parses_codec_names) {
  EXPECT_EQ(parse_codec("none"), codec::none);
  EXPECT_EQ(parse_codec("lz4"), codec::lz4);
  EXPECT_EQ(parse_codec("zstd"), codec::zstd);
  EXPECT_EQ(parse_codec("gzip"), std::nullopt);
  EXPECT_EQ(parse_codec(""), std::nullopt);
  EXPECT_EQ(parse_codec("LZ4"), std::nullopt);
  for (auto c : all_codecs)
    EXPECT_EQ(parse_codec(to_string(c)), c);
}

// -- round trips --------------------------------------------------------------

TEST_P(hop_wire_round_trip, empty_batch) {
  auto buf = encode(batch{}, GetParam());
  EXPECT_EQ(static_cast<uint8_t>(buf[4]), static_cast<uint8_t>(GetParam()));
  EXPECT_EQ(get_u32(buf, 8), 0u);
  EXPECT_EQ(get_u32(buf, 12), 0u);
  EXPECT_EQ(decoded(buf), batch{});
}

TEST_P(hop_wire_round_trip, empty_bodies) {
  batch b = {make_event(""), make_event(""), make_event("", {{"k", ""}})};
  auto buf = encode(b, GetParam());
  EXPECT_EQ(decoded(buf), b);
}

TEST_P(hop_wire_round_trip, headers_and_bodies) {
  auto b = sample_batch();
  EXPECT_EQ(decoded(encode(b, GetParam())), b);
}

TEST_P(hop_wire_round_trip, binary_bodies_with_nul_bytes) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i)
    all_bytes.push_back(static_cast<char>(i));
  std::string nuls(100, '\0');
  std::string key("k\0ey", 4);
  std::string value("\0v\xff", 3);
  batch b = {make_event(all_bytes), make_event(nuls, {{key, value}}),
             make_event(std::string("\0", 1))};
  auto out = decoded(encode(b, GetParam()));
  ASSERT_EQ(out, b);
  EXPECT_EQ(out[0].body.size(), 256u);
  EXPECT_EQ(out[1].body, nuls);
  EXPECT_EQ(out[1].headers.begin()->first, key);
  EXPECT_EQ(out[1].headers.begin()->second, value);
}

TEST_P(hop_wire_round_trip, many_headers) {
  header_map h;
  for (int i = 0; i < 1000; ++i)
    h.insert_or_assign("header-" + std::to_string(i), std::to_string(i * i));
  batch b = {make_event("x", h), make_event("y", h)};
  auto out = decoded(encode(b, GetParam()));
  ASSERT_EQ(out, b);
  EXPECT_EQ(out[1].headers.size(), 1000u);
}

TEST_P(hop_wire_round_trip, many_events) {
  batch b;
  for (int i = 0; i < 5000; ++i)
    b.push_back(make_event("event " + std::to_string(i), {{"i", "v"}}));
  EXPECT_EQ(decoded(encode(b, GetParam())), b);
}

TEST_P(hop_wire_round_trip, one_megabyte_body) {
  std::string body(one_mb, '\0');
  for (std::size_t i = 0; i < body.size(); ++i)
    body[i] = static_cast<char>((i * 2654435761u) >> 13);
  batch b = {make_event(body, {{"size", "1MB"}})};
  auto buf = encode(b, GetParam());
  EXPECT_EQ(decoded(buf, 2 * one_mb), b);
  // The bound is on the decoded size, so exactly that is enough ...
  EXPECT_EQ(decoded(buf, event_bytes(b)), b);
  // ... and one byte less is not.
  refusal(buf, decode_error::too_large, event_bytes(b) - 1);
}

TEST_P(hop_wire_round_trip, header_states_the_payload_size) {
  auto b = sample_batch();
  auto buf = encode(b, GetParam());
  ASSERT_GE(buf.size(), frame_header_bytes);
  EXPECT_EQ(buf.substr(0, 3), "FHB");
  EXPECT_EQ(static_cast<uint8_t>(buf[3]), wire_version);
  EXPECT_EQ(get_u32(buf, 8), b.size());
  EXPECT_EQ(get_u32(buf, 12), encoded_size(b));
  if (GetParam() == codec::none) {
    EXPECT_EQ(buf.size(), frame_header_bytes + encoded_size(b));
  }
  std::size_t sum = 0;
  for (const auto& e : b)
    sum += encoded_size(e);
  EXPECT_EQ(sum, encoded_size(b));
}

TEST_P(hop_wire_round_trip, compression_shrinks_repetitive_payloads) {
  batch b = {make_event(std::string(100000, 'a'))};
  auto buf = encode(b, GetParam());
  if (GetParam() == codec::none) {
    EXPECT_EQ(buf.size(), frame_header_bytes + encoded_size(b));
  } else {
    EXPECT_LT(buf.size(), 10000u);
  }
  EXPECT_EQ(decoded(buf), b);
}

/// Every prefix of a valid buffer is refused, with a reason.
TEST_P(hop_wire_round_trip, every_truncation_is_refused) {
  auto buf = encode(sample_batch(), GetParam());
  for (std::size_t n = 0; n < buf.size(); ++n) {
    SCOPED_TRACE(n);
    decode_error err;
    EXPECT_FALSE(decode(std::string_view(buf).substr(0, n), one_mb, err));
    EXPECT_FALSE(err.what.empty());
  }
}

/// Any single byte changed: a batch or a refusal with a reason, no crash
/// (the sanitizers and the fuzzer check the rest).
TEST_P(hop_wire_round_trip, flipped_bytes_never_crash) {
  auto buf = encode(sample_batch(), GetParam());
  for (std::size_t i = 0; i < buf.size(); ++i) {
    for (unsigned char x : {0x01, 0x80, 0xff}) {
      auto bad = buf;
      bad[i] = static_cast<char>(bad[i] ^ x);
      decode_error err;
      if (!decode(bad, one_mb, err)) {
        SCOPED_TRACE(i);
        EXPECT_FALSE(err.what.empty());
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(codecs, hop_wire_round_trip,
                         testing::ValuesIn(all_codecs), name_of);

// -- refusals: the frame header -----------------------------------------------

TEST(hop_wire_refuses, short_buffer) {
  refusal("");
  refusal("FHB");
  auto buf = encode(batch{}, codec::none);
  ASSERT_EQ(buf.size(), frame_header_bytes);
  refusal(buf.substr(0, frame_header_bytes - 1));
}

TEST(hop_wire_refuses, wrong_magic) {
  auto buf = encode(sample_batch());
  for (std::size_t i = 0; i < 3; ++i) {
    auto bad = buf;
    bad[i] = 'X';
    refusal(bad);
  }
  refusal(std::string(64, '\0'));
}

TEST(hop_wire_refuses, other_wire_version) {
  for (uint8_t v : {0, 1, 3, 255}) {
    auto buf = encode(sample_batch());
    buf[3] = static_cast<char>(v);
    auto err = refusal(buf, decode_error::version);
    EXPECT_NE(err.what.find(std::to_string(v)), std::string::npos) << err.what;
  }
}

TEST(hop_wire_refuses, unknown_codec_byte) {
  for (uint8_t c : {3, 4, 0x80, 0xff}) {
    auto buf = encode(sample_batch());
    buf[4] = static_cast<char>(c);
    refusal(buf);
  }
}

TEST(hop_wire_refuses, nonzero_reserved_bytes) {
  for (std::size_t i = 5; i < 8; ++i) {
    auto buf = encode(sample_batch());
    buf[i] = 1;
    refusal(buf);
  }
}

TEST(hop_wire_refuses, payload_over_the_maximum) {
  auto b = sample_batch();
  for (auto c : all_codecs) {
    auto buf = encode(b, c);
    auto err = refusal(buf, decode_error::too_large, encoded_size(b) - 1);
    EXPECT_NE(err.what.find(std::to_string(encoded_size(b))), std::string::npos)
        << err.what;
  }
  // The header alone decides: no payload needed.
  refusal(frame(1, 4096, ""), decode_error::too_large, 1024);
}

/// max_batch_bytes bounds the decoded size (event_bytes: the payload plus
/// 56 bytes per event and per header), which the sender cuts by too.
TEST(hop_wire_refuses, decoded_size_over_the_maximum) {
  auto b = sample_batch();
  ASSERT_EQ(event_bytes(b),
            encoded_size(b) + decoded_overhead * (b.size() + 2)); // 2 headers
  for (auto c : all_codecs) {
    auto buf = encode(b, c);
    EXPECT_EQ(decoded(buf, event_bytes(b)), b) << to_string(c);
    refusal(buf, decode_error::too_large, event_bytes(b) - 1);
    // Within the payload bound, over the decoded one: refused from the
    // header (3 events' share) ...
    auto err = refusal(buf, decode_error::too_large,
                       encoded_size(b) + decoded_overhead * 3 - 1);
    EXPECT_NE(err.what.find("decoded"), std::string::npos) << err.what;
    // ... or at the event whose headers pass it.
    err = refusal(buf, decode_error::too_large,
                  encoded_size(b) + decoded_overhead * 4);
    EXPECT_NE(err.what.find("headers"), std::string::npos) << err.what;
  }
}

/// Issue 17, item 6: 2 KB of zstd declared 8.4 million empty events (64 MiB
/// of payload, the old default max_batch_bytes); decoding them took 451 MiB.
/// Now refused from the header, before anything is decompressed.
TEST(hop_wire_refuses, a_compressed_batch_of_empty_events_by_its_decoded_size) {
  constexpr uint32_t count = 8'388'600;
  std::string payload(std::size_t{count} * 8, '\0'); // count and length 0
  std::string z(ZSTD_compressBound(payload.size()), '\0');
  auto n =
      ZSTD_compress(z.data(), z.size(), payload.data(), payload.size(), 19);
  ASSERT_FALSE(ZSTD_isError(n));
  z.resize(n);
  EXPECT_LT(z.size(), 4096u);
  auto buf = frame(count, static_cast<uint32_t>(payload.size()), z, 2);
  payload.clear();
  payload.shrink_to_fit();
  decode_error err;
  auto f = peek(buf, err);
  ASSERT_TRUE(f) << err.what;
  EXPECT_EQ(f->count, count);
  EXPECT_EQ(f->least_event_bytes(), std::size_t{count} * event_overhead);
  auto start = std::chrono::steady_clock::now();
  err = refusal(buf, decode_error::too_large, 64 * one_mb);
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(50))
      << "refused from the header, nothing decompressed";
  EXPECT_NE(err.what.find("8388600 events"), std::string::npos) << err.what;
  // With room for its decoded size it is a valid batch (just large).
  auto out = decode(buf, std::size_t{count} * event_overhead, err);
  ASSERT_TRUE(out) << err.what;
  EXPECT_EQ(out->size(), count);
}

/// One event with 100,000 empty headers: 800 KB of payload, 7 MB decoded.
/// The header can't tell (one event); its header count can, before any
/// header is read.
TEST(hop_wire_refuses, an_event_whose_headers_pass_the_decoded_bound) {
  std::string p;
  put_u32(p, 100'000);
  for (int i = 0; i < 100'000; ++i) {
    put_bytes(p, "");
    put_bytes(p, "");
  }
  put_bytes(p, "body");
  auto err = refusal(plain(1, p), decode_error::too_large, one_mb);
  EXPECT_NE(err.what.find("100000 headers"), std::string::npos) << err.what;
  // Within the bound it decodes (one key, set 100,000 times).
  auto out = decoded(plain(1, p), 8 * one_mb);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].headers.size(), 1u);
}

// -- peek ---------------------------------------------------------------------

TEST(hop_wire, peek_reads_the_header_only) {
  auto b = sample_batch();
  for (auto c : all_codecs) {
    auto buf = encode(b, c);
    decode_error err;
    auto f = peek(std::string_view(buf).substr(0, frame_header_bytes), err);
    ASSERT_TRUE(f) << err.what;
    EXPECT_EQ(f->compression, c);
    EXPECT_EQ(f->count, b.size());
    EXPECT_EQ(f->payload_bytes, encoded_size(b));
    EXPECT_EQ(f->least_event_bytes(), event_bytes(b) - 2 * decoded_overhead);
  }
  decode_error err;
  EXPECT_FALSE(peek("FHB", err));
  EXPECT_FALSE(peek(frame(3, 16, ""), err)); // 3 events can't fit 16 bytes
  EXPECT_EQ(err.kind, decode_error::malformed);
  EXPECT_TRUE(peek(frame(2, 16, ""), err));
}

// -- cut ----------------------------------------------------------------------

TEST(hop_wire, cut_keeps_every_piece_within_both_limits) {
  batch b;
  for (int i = 0; i < 1000; ++i)
    b.push_back(make_event(std::string(static_cast<std::size_t>(i % 97), 'x'),
                           {{"k", std::to_string(i)}}));
  for (cut_limits l :
       {cut_limits{4096, 1u << 30}, cut_limits{1u << 30, 1000},
        cut_limits{3000, 2000}, cut_limits{1u << 30, 1u << 30}}) {
    std::vector<std::size_t> oversized;
    auto pieces = cut(b, l, oversized);
    EXPECT_TRUE(oversized.empty());
    std::size_t next = 0;
    for (auto& p : pieces) {
      ASSERT_EQ(p.begin, next);
      ASSERT_LT(p.begin, p.end);
      std::span<const event> s{b.data() + p.begin, p.end - p.begin};
      std::size_t d = 0;
      std::size_t n = 0;
      for (auto& e : s) {
        d += event_bytes(e);
        n += encoded_size(e);
      }
      EXPECT_TRUE(s.size() == 1 ||
                  (d <= l.max_event_bytes && n <= l.max_encoded_bytes));
      // A piece ends only where the next event would not have fitted.
      if (p.end < b.size()) {
        EXPECT_TRUE(d + event_bytes(b[p.end]) > l.max_event_bytes ||
                    n + encoded_size(b[p.end]) > l.max_encoded_bytes);
      }
      next = p.end;
    }
    EXPECT_EQ(next, b.size());
  }
}

TEST(hop_wire, cut_sets_aside_an_event_over_the_decoded_bound) {
  batch b = {make_event("a"), make_event(std::string(5000, 'b')),
             make_event("c"), make_event(std::string(5000, 'd'))};
  std::vector<std::size_t> oversized;
  // An event over the encoded (link) bound alone is a piece of its own.
  auto pieces = cut(b, {1u << 20, 100}, oversized);
  EXPECT_EQ(pieces, (std::vector<piece>{{0, 1}, {1, 2}, {2, 3}, {3, 4}}));
  EXPECT_TRUE(oversized.empty());
  pieces = cut(b, {4096, 1u << 20}, oversized);
  EXPECT_EQ(pieces, (std::vector<piece>{{0, 1}, {2, 3}}));
  EXPECT_EQ(oversized, (std::vector<std::size_t>{1, 3}));
}

/// A header claiming 4 GB is refused from the header: nothing is
/// decompressed or allocated, so it is instant.
TEST(hop_wire_refuses, four_gigabyte_claim_without_decompressing) {
  for (auto c : all_codecs) {
    auto buf = encode(sample_batch(), c);
    set_u32(buf, 12, 0xffffffffu);
    auto start = std::chrono::steady_clock::now();
    auto err = refusal(buf, decode_error::too_large, one_mb);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, std::chrono::milliseconds(50)) << to_string(c);
    EXPECT_NE(err.what.find("4294967295"), std::string::npos) << err.what;
  }
  // A real zstd frame of 4 GB of zeros (a few hundred KB compressed would
  // be needed; a lying header is enough): refused before its body is read.
  auto bomb = frame(1, 0xffffffffu, std::string(1000, '\0'), 2);
  refusal(bomb, decode_error::too_large, one_mb);
}

// -- refusals: the payload ----------------------------------------------------

TEST(hop_wire_refuses, count_larger_than_the_payload) {
  // Every event takes 8 bytes at least.
  std::string one_event;
  put_u32(one_event, 0);
  put_bytes(one_event, "");
  ASSERT_EQ(decoded(plain(1, one_event)).size(), 1u);
  refusal(plain(2, one_event));
  refusal(plain(0xffffffffu, one_event));
  refusal(plain(1, ""));
  // And compressed: the count is checked against the decompressed payload.
  auto buf = encode({make_event("")}, codec::zstd);
  set_u32(buf, 8, 1000000);
  refusal(buf);
}

TEST(hop_wire_refuses, count_smaller_than_the_payload) {
  auto buf = encode(sample_batch());
  set_u32(buf, 8, 2);
  auto err = refusal(buf);
  EXPECT_NE(err.what.find("after"), std::string::npos) << err.what;
  set_u32(buf, 8, 0);
  refusal(buf);
}

TEST(hop_wire_refuses, truncated_event) {
  // Two events promised; the second has not even its header count.
  std::string p;
  put_u32(p, 0);
  put_bytes(p, "abcde");
  p.append(3, '\0');
  ASSERT_EQ(p.size(), 16u);
  auto err = refusal(plain(2, p));
  EXPECT_NE(err.what.find("truncated event"), std::string::npos) << err.what;
  // A header count the payload cannot hold.
  std::string q;
  put_u32(q, 1000);
  put_u32(q, 0);
  err = refusal(plain(1, q));
  EXPECT_NE(err.what.find("truncated event"), std::string::npos) << err.what;
  std::string r;
  put_u32(r, 0xffffffffu);
  r.append(64, '\0');
  refusal(plain(1, r));
}

TEST(hop_wire_refuses, truncated_header) {
  // One header whose key claims 100 bytes and has 4.
  std::string p;
  put_u32(p, 1);
  put_u32(p, 100);
  p += "abcd";
  auto err = refusal(plain(1, p));
  EXPECT_NE(err.what.find("truncated header"), std::string::npos) << err.what;
  // The key complete, the value cut.
  std::string q;
  put_u32(q, 1);
  put_bytes(q, "key");
  put_u32(q, 50);
  q += "val";
  err = refusal(plain(1, q));
  EXPECT_NE(err.what.find("truncated header"), std::string::npos) << err.what;
  // A length of 4 GB.
  std::string r;
  put_u32(r, 1);
  put_u32(r, 0xffffffffu);
  r.append(16, 'x');
  refusal(plain(1, r));
}

TEST(hop_wire_refuses, truncated_body) {
  std::string p;
  put_u32(p, 0);
  put_u32(p, 100);
  p += "abc";
  auto err = refusal(plain(1, p));
  EXPECT_NE(err.what.find("truncated body"), std::string::npos) << err.what;
  // The body length itself cut.
  std::string q;
  put_u32(q, 1);
  put_bytes(q, "k");
  put_bytes(q, "v");
  q += "\x05\x00";
  refusal(plain(1, q));
  // A body of 4 GB.
  std::string r;
  put_u32(r, 0);
  put_u32(r, 0xffffffffu);
  r += "body";
  refusal(plain(1, r));
}

TEST(hop_wire_refuses, trailing_bytes) {
  for (auto c : all_codecs) {
    SCOPED_TRACE(to_string(c));
    // After the buffer, the header unchanged.
    auto buf = encode(sample_batch(), c);
    refusal(buf + "x");
    refusal(buf + std::string(1, '\0'));
  }
  // Inside the payload, the header counting them: bytes after the last
  // event.
  std::string p;
  put_u32(p, 0);
  put_bytes(p, "body");
  p += "junk";
  auto err = refusal(plain(1, p));
  EXPECT_NE(err.what.find("after the last event"), std::string::npos)
      << err.what;
}

TEST(hop_wire_refuses, raw_size_disagreeing_with_the_payload) {
  auto b = sample_batch();
  auto size = static_cast<uint32_t>(encoded_size(b));
  for (auto c : all_codecs) {
    SCOPED_TRACE(to_string(c));
    for (uint32_t claimed : {0u, 1u, size - 1, size + 1, size * 2}) {
      auto buf = encode(b, c);
      set_u32(buf, 12, claimed);
      refusal(buf);
    }
  }
  // Uncompressed: the payload shorter or longer than stated.
  auto buf = encode(b);
  refusal(buf.substr(0, buf.size() - 1));
  auto err = refusal(frame(3, size + 10, buf.substr(frame_header_bytes)));
  EXPECT_NE(err.what.find("differs"), std::string::npos) << err.what;
}

TEST(hop_wire_refuses, corrupt_lz4_payload) {
  auto b = sample_batch();
  auto size = static_cast<uint32_t>(encoded_size(b));
  // Not lz4 at all: a match offset pointing before the output.
  refusal(frame(3, size, std::string(40, '\xff'), 1));
  refusal(frame(3, size, "", 1));
  refusal(frame(0, 0, "", 1));
  refusal(frame(3, size, std::string(size, '\0'), 1));
  // A valid block cut short.
  auto buf = encode(b, codec::lz4);
  refusal(buf.substr(0, buf.size() - 3));
  auto err = refusal(buf.substr(0, frame_header_bytes + 2));
  EXPECT_NE(err.what.find("lz4"), std::string::npos) << err.what;
  // A zstd payload labelled lz4.
  auto z = encode(b, codec::zstd);
  z[4] = 1;
  refusal(z);
}

TEST(hop_wire_refuses, corrupt_zstd_payload) {
  auto b = sample_batch();
  auto size = static_cast<uint32_t>(encoded_size(b));
  refusal(frame(3, size, std::string(40, '\xff'), 2));
  refusal(frame(3, size, "", 2));
  auto buf = encode(b, codec::zstd);
  auto err = refusal(buf.substr(0, buf.size() - 3));
  EXPECT_NE(err.what.find("zstd"), std::string::npos) << err.what;
  // The frame's magic broken.
  auto bad = buf;
  bad[frame_header_bytes] ^= 0x01;
  refusal(bad);
  // An lz4 payload labelled zstd.
  auto l = encode(b, codec::lz4);
  l[4] = 2;
  refusal(l);
  // An uncompressed payload labelled zstd.
  auto n = encode(b);
  n[4] = 2;
  refusal(n);
}

/// A refusal overwrites what an earlier one said, and a success after it is
/// unaffected.
TEST(hop_wire_refuses, the_error_is_reused_safely) {
  decode_error err;
  EXPECT_FALSE(decode("nope", one_mb, err));
  EXPECT_FALSE(err.what.empty());
  auto buf = encode(sample_batch());
  buf[3] = 9;
  EXPECT_FALSE(decode(buf, one_mb, err));
  EXPECT_EQ(err.kind, decode_error::version);
  auto ok = decode(encode(sample_batch()), one_mb, err);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, sample_batch());
}
