// How the http source's handlers turn bodies into events (pure: no
// sockets, no actors).

#include "actors/sources/http_body.hpp"

#include <gtest/gtest.h>

using namespace flumen;
using namespace flumen::sources;

namespace {

http_decoded json(std::string_view body, std::string_view ct = "",
                  std::size_t max_events = 100) {
  return decode_http_body(http_handler::json, body, ct, max_events);
}

} // namespace

TEST(http_body, json_events_with_headers_and_bodies_as_flume) {
  auto d = json(R"([{"headers": {"a": "1", "b": "x"}, "body": "first"},
                    {"body": "second"}, {"headers": {}}])");
  ASSERT_EQ(d.status, 200) << d.error;
  ASSERT_EQ(d.events.size(), 3u);
  EXPECT_EQ(d.events[0].body, "first");
  EXPECT_EQ(d.events[0].headers, (header_map{{"a", "1"}, {"b", "x"}}));
  EXPECT_EQ(d.events[1].body, "second");
  EXPECT_TRUE(d.events[1].headers.empty());
  EXPECT_EQ(d.events[2].body, "") << "no body: an empty one";
}

TEST(http_body, json_takes_numbers_and_booleans_as_text_and_skips_other_keys) {
  // As Gson reads a Map<String, String> and a JSONEvent: scalars as their
  // text, keys it does not know let pass however deep.
  auto d = json(R"([{"id": {"x": [1, {"y": 2}]}, "headers": {"n": 12,
                    "f": 1.50, "t": true, "z": null}, "body": "b",
                    "more": [[]]}])");
  ASSERT_EQ(d.status, 200) << d.error;
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].headers,
            (header_map{{"n", "12"}, {"f", "1.50"}, {"t", "true"}}));
  EXPECT_EQ(d.events[0].body, "b");
}

TEST(http_body, an_empty_array_is_no_events) {
  auto d = json("[]");
  EXPECT_EQ(d.status, 200);
  EXPECT_TRUE(d.events.empty());
}

TEST(http_body, malformed_or_misshapen_json_is_400_with_the_reason) {
  struct bad {
    const char* body;
    const char* says;
  };
  for (auto [body, says] : {
           bad{R"([{"body": "x"})", "malformed JSON"},
           bad{"", "malformed JSON"},
           bad{R"({"body": "x"})", "expected a JSON array"},
           bad{R"("x")", "expected a JSON array"},
           bad{R"([1])", "event 1 is not an object"},
           bad{R"([[]])", "event 1 is an array"},
           bad{R"([{"headers": "x"}])",
               "'headers' of event 1 must be an object"},
           bad{R"([{"headers": {"a": {}}}])", "header 'a' of event 1"},
           bad{R"([{"headers": {"a": []}}])", "header 'a' of event 1"},
           bad{R"([{"body": {}}])", "'body' of event 1 must be a string"},
           bad{R"([{"body": []}])", "'body' of event 1 must be a string"},
           bad{R"([{"headers": {"a": "1", "a": "2"}}])",
               "duplicate header 'a'"},
           bad{R"([{"body": "\xff"}])", "malformed JSON"},
       }) {
    auto d = json(body);
    EXPECT_EQ(d.status, 400) << body;
    EXPECT_NE(d.error.find(says), std::string::npos) << body << ": " << d.error;
    EXPECT_TRUE(d.error.size() < 300) << d.error;
  }
}

TEST(http_body, more_events_than_max_events_is_413) {
  auto d = json(R"([{}, {}, {}])", "", 2);
  EXPECT_EQ(d.status, 413);
  EXPECT_NE(d.error.find("max_events (2)"), std::string::npos) << d.error;
  auto l = decode_http_body(http_handler::lines, "a\nb\nc", "", 2);
  EXPECT_EQ(l.status, 413);
  EXPECT_TRUE(l.events.empty());
  EXPECT_EQ(decode_http_body(http_handler::lines, "a\nb\n", "", 2).status, 200)
      << "a last LF ends the last line, it starts none";
}

TEST(http_body, too_many_headers_in_one_event_is_400) {
  std::string body = R"([{"headers": {)";
  for (std::size_t i = 0; i <= http_max_headers; ++i)
    body += (i ? "," : "") + ("\"h" + std::to_string(i) + "\": \"v\"");
  body += "}}]";
  auto d = json(body);
  EXPECT_EQ(d.status, 400);
  EXPECT_NE(d.error.find("more than 128 headers"), std::string::npos)
      << d.error;
}

TEST(http_body, charset_comes_from_the_content_type) {
  EXPECT_EQ(http_charset("application/json"), "");
  EXPECT_EQ(http_charset("application/json; charset=UTF-8"), "utf-8");
  EXPECT_EQ(http_charset("application/json;charset=\"utf-16\""), "utf-16");
  EXPECT_EQ(http_charset("text/plain; format=x; Charset=UTF-32 ; q=1"),
            "utf-32");
  auto d = json(R"([{"body": "x"}])", "application/json; charset=latin1");
  EXPECT_EQ(d.status, 400);
  EXPECT_NE(d.error.find("unsupported charset 'latin1'"), std::string::npos)
      << d.error;
}

TEST(http_body, utf16_bodies_are_read_and_written_as_java_does) {
  // `[{"body":"é"}]` in UTF-16 with a byte order mark, little endian.
  std::string in = "\xFF\xFE";
  for (char16_t c : std::u16string{u"[{\"body\":\"\u00e9\"}]"}) {
    in += static_cast<char>(c & 0xFF);
    in += static_cast<char>(c >> 8);
  }
  auto d = json(in, "application/json; charset=UTF-16");
  ASSERT_EQ(d.status, 200) << d.error;
  ASSERT_EQ(d.events.size(), 1u);
  // String.getBytes("UTF-16"): a big-endian byte order mark, big endian.
  EXPECT_EQ(d.events[0].body, std::string("\xFE\xFF\x00\xE9", 4));
  auto d32 = json(std::string("\0\0\0[\0\0\0]", 8),
                  "application/json; charset=utf-32");
  EXPECT_EQ(d32.status, 200) << d32.error;
  auto bad = json("\xFF\xFE[", "application/json; charset=utf-16");
  EXPECT_EQ(bad.status, 400);
}

TEST(http_body, lines_are_events_and_a_cr_before_lf_goes) {
  auto d = decode_http_body(http_handler::lines, "a\r\n\nb\nc", "", 100);
  ASSERT_EQ(d.status, 200);
  ASSERT_EQ(d.events.size(), 4u);
  EXPECT_EQ(d.events[0].body, "a");
  EXPECT_EQ(d.events[1].body, "") << "an empty line is an empty event";
  EXPECT_EQ(d.events[2].body, "b");
  EXPECT_EQ(d.events[3].body, "c") << "the last line needs no LF";
  EXPECT_TRUE(
      decode_http_body(http_handler::lines, "", "", 100).events.empty());
}

TEST(http_body, body_is_one_event_whatever_it_holds) {
  auto d = decode_http_body(http_handler::body, std::string("x\n\0y", 4),
                            "application/json; charset=latin1", 100);
  ASSERT_EQ(d.status, 200);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].body, std::string("x\n\0y", 4));
}
