// Every option that is a size in bytes takes the same units, read by
// option_reader::bytes: `max_line_length: 150MB` was refused ("expected an
// integer") while `byte_capacity: 150MB` was taken.

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "actors/channels/file.hpp"
#include "actors/channels/memory.hpp"
#include "actors/sinks/kafka.hpp"
#include "actors/sinks/logger.hpp"
#include "actors/sources/exec.hpp"
#include "actors/sources/hop.hpp"
#include "actors/sources/netcat.hpp"
#include "actors/sources/seq.hpp"
#include "actors/sources/spooldir.hpp"
#include "actors/sources/stdin.hpp"
#include "actors/sources/taildir.hpp"

using namespace flumen;

namespace {

/// One size option of one component type, and how to read it back.
struct size_option {
  std::string type;
  std::string key;
  std::function<std::size_t(option_reader&)> parse;
  /// A value in its range, a whole number of MiB.
  std::size_t sample = 64u << 20;
};

std::vector<size_option> every_size_option() {
  using namespace flumen::sources;
  using namespace flumen::sinks;
  using namespace flumen::channels;
  return {
      {"netcat", "max_line_length",
       [](option_reader& r) { return parse_netcat(r).max_line_length; }},
      {"stdin", "max_line_length",
       [](option_reader& r) { return parse_stdin(r).max_line_length; }},
      {"exec", "max_line_length",
       [](option_reader& r) { return parse_exec(r).max_line_length; }},
      {"taildir", "max_line_length",
       [](option_reader& r) { return parse_taildir(r).max_line_length; }},
      {"spooldir", "max_line_length",
       [](option_reader& r) { return parse_spooldir(r).max_line_length; }},
      {"seq", "body_size",
       [](option_reader& r) { return parse_seq(r).body_size; }},
      {"hop", "max_batch_bytes",
       [](option_reader& r) { return parse_hop_source(r).max_batch_bytes; }},
      {"logger", "max_body_bytes",
       [](option_reader& r) { return parse_logger(r).max_body_bytes; }},
      {"kafka", "max_inflight_bytes",
       [](option_reader& r) { return parse_kafka(r).max_inflight_bytes; }},
      {"memory", "byte_capacity",
       [](option_reader& r) { return parse_memory(r).byte_capacity; }},
      {"file", "byte_capacity",
       [](option_reader& r) { return parse_file(r).byte_capacity; },
       128u << 20}, // at least twice max_file_size
      {"file", "max_file_size",
       [](option_reader& r) { return parse_file(r).max_file_size; }},
      {"file", "min_free_space",
       [](option_reader& r) { return parse_file(r).min_free_space; }},
  };
}

/// Parses `{key: value}` as options of `o`'s type: the value read, and the
/// errors about `key` (other keys' errors, such as missing required ones,
/// are not this test's).
std::pair<std::size_t, std::vector<std::string>>
parse_one(const size_option& o, const std::string& value) {
  auto node = YAML::Load(o.key + ": " + value);
  error_list errors;
  option_reader r{node, "agents.a1.x." + o.type, "t.yaml", errors};
  auto got = o.parse(r);
  std::vector<std::string> mine;
  for (auto& e : errors)
    if (e.path == r.path_of(o.key)) mine.push_back(e.to_string());
  return {got, mine};
}

} // namespace

TEST(size_options, every_size_option_takes_units) {
  for (auto& o : every_size_option()) {
    SCOPED_TRACE(o.type + "." + o.key);
    auto mib = std::to_string(o.sample >> 20);
    for (auto text :
         {std::to_string(o.sample), std::to_string(o.sample >> 10) + "KB",
          mib + "MB", mib + "m", mib + "MiB"}) {
      auto [got, errors] = parse_one(o, text);
      EXPECT_EQ(errors, std::vector<std::string>{}) << text;
      EXPECT_EQ(got, o.sample) << text;
    }
    auto [_, errors] = parse_one(o, "12 parsecs");
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].find("t.yaml:1:"), std::string::npos) << errors[0];
    EXPECT_NE(errors[0].find("expected a size like 512, 64KB, 16MB or 1GB"),
              std::string::npos)
        << errors[0];
  }
}

TEST(size_options, the_line_sources_take_150MB_lines) {
  for (auto& o : every_size_option())
    if (o.key == "max_line_length") {
      SCOPED_TRACE(o.type);
      auto [got, errors] = parse_one(o, "150MB");
      EXPECT_EQ(errors, std::vector<std::string>{});
      EXPECT_EQ(got, 150u << 20);
    }
}

TEST(size_options, ranges_are_checked_in_bytes) {
  for (auto& o : every_size_option()) {
    if (o.key == "max_line_length") {
      SCOPED_TRACE(o.type);
      auto [_, errors] = parse_one(o, "0");
      EXPECT_EQ(errors, std::vector<std::string>{
                            "t.yaml:1:18: agents.a1.x." + o.type +
                            ".max_line_length: must be at least 1"});
    }
  }
  size_option seq{"seq", "body_size", [](option_reader& r) {
                    return sources::parse_seq(r).body_size;
                  }};
  EXPECT_EQ(parse_one(seq, "64MB").first, 64u << 20);
  EXPECT_EQ(parse_one(seq, "65MB").second,
            std::vector<std::string>{"t.yaml:1:12: agents.a1.x.seq.body_size: "
                                     "must be at most 67108864"});
  EXPECT_EQ(parse_one(seq, "0").second, std::vector<std::string>{});
}

// A line source cannot be set to make an event a file channel could not
// write as one record (at most 1 GiB): max_line_length stops at 256MB, a
// located error beyond.
TEST(size_options, max_line_length_stops_at_256MB) {
  for (auto& o : every_size_option()) {
    if (o.key != "max_line_length") continue;
    auto [ok, none] = parse_one(o, "256MB");
    EXPECT_TRUE(none.empty()) << o.type;
    EXPECT_EQ(ok, std::size_t{256} << 20) << o.type;
    auto [got, errors] = parse_one(o, "2GB");
    ASSERT_EQ(errors.size(), 1u) << o.type;
    EXPECT_NE(errors[0].find("t.yaml:1:"), std::string::npos) << errors[0];
    EXPECT_NE(errors[0].find("must be at most"), std::string::npos)
        << errors[0];
  }
}
