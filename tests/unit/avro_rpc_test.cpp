// Avro RPC as Flume's AvroSourceProtocol uses it (runtime/avro/rpc.hpp) and
// Netty's framing and zlib stream (runtime/avro/netty.hpp).
#include "runtime/avro/ip_filter.hpp"
#include "runtime/avro/netty.hpp"
#include "runtime/avro/rpc.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace flumen;
using namespace flumen::avro;

namespace {

std::string hex(const md5_hash& h) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (auto c : h) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
          static_cast<char>(v >> 8), static_cast<char>(v)};
}

} // namespace

// The hashes of Java's Protocol.toString() of Flume's flume.avdl: with
// Avro 1.11's IDL (Flume 1.11) and with Avro 1.7-1.10's (Flume up to 1.10,
// its doc keeping the comment's stars).
TEST(avro_rpc, flume_protocol_hashes) {
  EXPECT_EQ(hex(flume_hash()), "8076c53714e01f6e2c1deb9544e7b1fe");
  EXPECT_EQ(hex(md5_of(flume_legacy_protocol())),
            "86aadae2c45474c0fe93ffd0f2350a65");
  EXPECT_TRUE(flume_protocol_hash(md5_of(flume_legacy_protocol())));
  EXPECT_FALSE(flume_protocol_hash(md5_of("{}")));
  EXPECT_EQ(check_protocol(flume_protocol()), "");
  EXPECT_EQ(check_protocol(flume_legacy_protocol()), "");
}

TEST(avro_rpc, protocols_other_than_flumes_are_told_apart) {
  // avsc's JSON.stringify of the protocol without its doc: the same.
  std::string plain =
      R"({"protocol":"AvroSourceProtocol","namespace":"org.apache.flume.source.avro","types":[{"type":"enum","name":"Status","symbols":["OK","FAILED","UNKNOWN"]},{"type":"record","name":"AvroFlumeEvent","fields":[{"name":"headers","type":{"type":"map","values":"string"}},{"name":"body","type":"bytes"}]}],"messages":{"append":{"request":[{"name":"event","type":"AvroFlumeEvent"}],"response":"Status"},"appendBatch":{"request":[{"name":"events","type":{"type":"array","items":"AvroFlumeEvent"}}],"response":"Status"}}})";
  EXPECT_EQ(check_protocol(plain), "");
  auto body_string = plain;
  body_string.replace(body_string.find(R"("type":"bytes")"), 14,
                      R"("type":"string")");
  EXPECT_NE(check_protocol(body_string), "");
  auto other_name = plain;
  other_name.replace(other_name.find("AvroSourceProtocol"), 18, "Other");
  EXPECT_NE(check_protocol(other_name), "");
  EXPECT_NE(check_protocol("not json"), "");
  EXPECT_NE(check_protocol("[]"), "");
}

TEST(avro_rpc, handshake_records_round_trip) {
  handshake_request req;
  req.client_hash = md5_of("a");
  req.client_protocol = "text";
  req.server_hash = flume_hash();
  req.meta = meta_map{{"k", std::string("\0v", 2)}};
  std::string out;
  writer w{out};
  write_handshake_request(w, req);
  reader r{out};
  auto back = read_handshake_request(r);
  EXPECT_TRUE(r.at_end());
  EXPECT_EQ(back.client_hash, req.client_hash);
  EXPECT_EQ(back.client_protocol, req.client_protocol);
  EXPECT_EQ(back.server_hash, req.server_hash);
  EXPECT_EQ(back.meta, req.meta);
  // clientHash, null protocol (union index 0), serverHash, null meta.
  handshake_request bare;
  std::string small;
  writer ws{small};
  write_handshake_request(ws, bare);
  EXPECT_EQ(small.size(), 16u + 1 + 16 + 1);

  handshake_response res;
  res.match = handshake_match::none;
  res.server_protocol = std::string{flume_protocol()};
  res.server_hash = flume_hash();
  std::string rout;
  writer wr{rout};
  write_handshake_response(wr, res);
  reader rr{rout};
  auto rback = read_handshake_response(rr);
  EXPECT_EQ(rback.match, handshake_match::none);
  EXPECT_EQ(rback.server_protocol, res.server_protocol);
  EXPECT_EQ(rback.server_hash, res.server_hash);
  // BOTH with nothing else: 00 00 00 00.
  std::string both;
  writer wb{both};
  handshake_response both_res;
  both_res.match = handshake_match::both;
  write_handshake_response(wb, both_res);
  EXPECT_EQ(both, std::string(4, '\0'));
}

// Java's Responder.handshake: a known client is BOTH when it guessed the
// server's hash, CLIENT (with the server's text) when not; an unknown one
// without its text is NONE, and known once it sent a compatible text.
TEST(avro_rpc, handshake_table_answers_as_javas_responder) {
  handshake_table t;
  bool est = false;
  std::string why;
  handshake_request known{flume_hash(), std::nullopt, flume_hash(), {}};
  auto a = t.answer(known, est, why);
  EXPECT_EQ(a.match, handshake_match::both);
  EXPECT_TRUE(est);
  EXPECT_FALSE(a.server_protocol);

  handshake_request other_server{flume_hash(), std::nullopt, md5_of("x"), {}};
  a = t.answer(other_server, est, why);
  EXPECT_EQ(a.match, handshake_match::client);
  EXPECT_TRUE(est);
  EXPECT_EQ(a.server_hash, flume_hash());

  auto plain_hash = md5_of("some other text of the protocol");
  handshake_request unknown{plain_hash, std::nullopt, plain_hash, {}};
  a = t.answer(unknown, est, why);
  EXPECT_EQ(a.match, handshake_match::none);
  EXPECT_FALSE(est);
  EXPECT_EQ(a.server_protocol, std::string{flume_protocol()});

  unknown.client_protocol = std::string{flume_legacy_protocol()};
  a = t.answer(unknown, est, why);
  EXPECT_EQ(a.match, handshake_match::client);
  EXPECT_TRUE(est);
  // Learned: the next connection needs no text.
  unknown.client_protocol.reset();
  a = t.answer(unknown, est, why);
  EXPECT_EQ(a.match, handshake_match::client);

  handshake_request wrong{md5_of("w"), std::string{"{}"}, flume_hash(), {}};
  a = t.answer(wrong, est, why);
  EXPECT_EQ(a.match, handshake_match::none);
  EXPECT_FALSE(est);
  EXPECT_NE(why, "");
}

TEST(avro_rpc, calls_and_responses_round_trip) {
  batch events{event{{{"h", "v"}}, "one"}, event{{}, "two"}};
  std::string out;
  writer w{out};
  write_call(w, message::append_batch, events, 0, 2);
  reader r{out};
  auto c = read_call(r);
  EXPECT_EQ(c.msg, message::append_batch);
  EXPECT_EQ(c.events, events);
  out.clear();
  write_call(w, message::append, events, 1, 1);
  reader r1{out};
  c = read_call(r1);
  EXPECT_EQ(c.msg, message::append);
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].body, "two");
  out.clear();
  write_call(w, message::ping, events, 0, 0);
  reader rp{out};
  EXPECT_EQ(read_call(rp).msg, message::ping);
  // An unknown message name.
  std::string bad;
  writer wb{bad};
  wb.write_bytes_map({});
  wb.write_string("drop");
  reader rb{bad};
  EXPECT_THROW(read_call(rb), decode_error);

  std::string res;
  writer wr{res};
  write_status_response(wr, status::failed);
  // Empty metadata, no error, FAILED (index 1): 00 00 02.
  EXPECT_EQ(res, std::string("\0\0\x02", 3));
  reader rr{res};
  auto back = read_call_response(rr);
  EXPECT_FALSE(back.error);
  EXPECT_EQ(back.result, status::failed);
  res.clear();
  write_error_response(wr, "boom");
  reader re{res};
  back = read_call_response(re);
  EXPECT_TRUE(back.error);
  EXPECT_EQ(back.error_text, "boom");
}

TEST(avro_netty, messages_split_in_frames_are_joined) {
  std::string payload(20000, 'x');
  payload[0] = 'a';
  payload.back() = 'z';
  std::string wire;
  netty_encode(wire, 7, payload);
  // 20000 bytes in 8 KiB frames: 3 frames.
  EXPECT_EQ(wire.substr(0, 8), be32(7) + be32(3));
  netty_encode(wire, 8, "tail");
  // Whole, then byte by byte: the same two messages.
  for (std::size_t step : {wire.size(), std::size_t{1}, std::size_t{4097}}) {
    netty_decoder d;
    std::vector<netty_message> got;
    std::string_view in = wire;
    while (!in.empty()) {
      auto piece = in.substr(0, step);
      auto used = d.feed(piece);
      in.remove_prefix(used);
      if (d.ready()) got.push_back(d.take());
      ASSERT_FALSE(d.failed());
    }
    ASSERT_EQ(got.size(), 2u) << step;
    EXPECT_EQ(got[0].serial, 7);
    EXPECT_EQ(got[0].payload, payload);
    EXPECT_EQ(got[1].serial, 8);
    EXPECT_EQ(got[1].payload, "tail");
    EXPECT_FALSE(d.in_message());
  }
}

TEST(avro_netty, bounds_are_checked_before_allocation) {
  frame_limits lim;
  lim.max_frames = 4;
  lim.max_frame_bytes = 100;
  lim.max_message_bytes = 150;
  auto refused = [&](const std::string& wire) {
    netty_decoder d{lim};
    d.feed(wire);
    return d.failed() ? d.error() : std::string{};
  };
  // A frame count of 2^31 (negative as an int32), 0, 5, and 2^31 - 1.
  EXPECT_NE(refused(be32(1) + be32(0x80000000u)), "");
  EXPECT_NE(refused(be32(1) + be32(0)), "");
  EXPECT_NE(refused(be32(1) + be32(5)), "");
  EXPECT_NE(refused(be32(1) + be32(0x7fffffffu)), "");
  // A frame over max_frame_bytes, a negative length, frames together over
  // max_message_bytes: each refused at its length, before its bytes.
  EXPECT_NE(refused(be32(1) + be32(1) + be32(101)), "");
  EXPECT_NE(refused(be32(1) + be32(1) + be32(0xffffffffu)), "");
  EXPECT_NE(
      refused(be32(1) + be32(2) + be32(100) + std::string(100, 'x') + be32(51)),
      "");
  EXPECT_EQ(
      refused(be32(1) + be32(2) + be32(100) + std::string(100, 'x') + be32(50)),
      "");
  // Empty frames: a message of them is an empty payload.
  netty_decoder d{lim};
  d.feed(be32(3) + be32(2) + be32(0) + be32(0));
  ASSERT_TRUE(d.ready());
  EXPECT_EQ(d.take().payload, "");
}

TEST(avro_netty, zlib_streams_round_trip_and_inflate_in_bounded_steps) {
  deflater def{6};
  inflater inf;
  std::string wire;
  def.deflate("first message", wire);
  def.deflate(std::string(100000, 'a'), wire);
  std::string out;
  std::string_view in = wire;
  while (!in.empty())
    ASSERT_TRUE(inf.inflate(in, out, 4096)) << inf.error();
  EXPECT_EQ(out, "first message" + std::string(100000, 'a'));
  // A bomb: 64 MB of zeros in ~64 KB; each call gives at most 4096 bytes.
  deflater bomb_def{9};
  std::string bomb;
  std::string zeros(1 << 20, '\0');
  for (int i = 0; i < 64; ++i)
    bomb_def.deflate(zeros, bomb);
  EXPECT_LT(bomb.size(), 100000u);
  inflater bomb_inf;
  std::string_view b = bomb;
  std::string piece;
  ASSERT_TRUE(bomb_inf.inflate(b, piece, 4096));
  EXPECT_EQ(piece.size(), 4096u);
  EXPECT_FALSE(b.empty());
  // Garbage is refused.
  inflater bad;
  std::string_view junk = "this is not zlib";
  std::string sink;
  EXPECT_FALSE(bad.inflate(junk, sink, 4096));
}

TEST(avro_ip_filter, first_matching_rule_wins_and_no_match_allows) {
  std::string why;
  std::vector<ip_rule> rules;
  for (auto text :
       {"deny:10.1.0.0/16", "allow:10.0.0.0/8", "allow:::1", "deny:*"}) {
    auto r = parse_ip_rule(text, why);
    ASSERT_TRUE(r) << text << ": " << why;
    rules.push_back(*r);
  }
  ip_filter f{rules};
  EXPECT_FALSE(f.allows("10.1.2.3"));
  EXPECT_TRUE(f.allows("10.2.2.3"));
  EXPECT_TRUE(f.allows("::ffff:10.2.2.3")); // IPv4-mapped: as IPv4
  EXPECT_TRUE(f.allows("::1"));
  EXPECT_FALSE(f.allows("192.168.1.1"));
  EXPECT_FALSE(f.allows("::2"));
  EXPECT_TRUE(ip_filter{}.allows("192.168.1.1"));
  // Without a catch-all, an address no rule matches is allowed.
  ip_filter open{{*parse_ip_rule("deny:127.0.0.2", why)}};
  EXPECT_TRUE(open.allows("127.0.0.1"));
  EXPECT_FALSE(open.allows("127.0.0.2"));
  for (auto bad : {"permit:1.2.3.4", "allow:1.2.3", "allow:10.0.0.0/33",
                   "deny:::1/129", "allow:", "deny:1.2.3.4/x"})
    EXPECT_FALSE(parse_ip_rule(bad, why)) << bad;
}
