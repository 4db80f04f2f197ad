#include <arpa/inet.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "actors/interceptors/host.hpp"
#include "actors/interceptors/static.hpp"
#include "actors/interceptors/timestamp.hpp"
#include "runtime/core/event.hpp"
#include "tests/unit/events.hpp"

using namespace flumen;
using namespace flumen::interceptors;
using flumen::test::header;

namespace {

batch two_events() {
  using flumen::test::make_event;
  return {make_event("a"), make_event("b", {{"timestamp", "1"},
                                            {"host", "h"},
                                            {"key", "old"},
                                            {"when", "2"}})};
}

/// Runs `parse` over YAML text as interceptor `i1` of source `r1`.
template <class Config, class Parse>
Config parse(Parse fn, const std::string& yaml, error_list& errors) {
  auto node = YAML::Load(yaml);
  option_reader r{node, "agents.a1.sources.r1.interceptors.i1", "t.yaml",
                  errors};
  auto cfg = fn(r);
  r.finish();
  return cfg;
}

} // namespace

// -- timestamp
// -----------------------------------------------------------------

TEST(timestamp, sets_the_injected_clocks_time_on_every_event) {
  timestamp_config cfg;
  int64_t now = 1700000000123;
  cfg.clock = [&] { return now; };
  auto ts = make_timestamp(cfg);
  auto events = two_events();
  ts->apply(events);
  EXPECT_EQ(header(events[0], "timestamp"), "1700000000123");
  EXPECT_EQ(header(events[1], "timestamp"), "1700000000123")
      << "preserve_existing is false by default";
  now = 5;
  ts->apply(events);
  EXPECT_EQ(header(events[0], "timestamp"), "5");
}

TEST(timestamp, preserve_existing_keeps_a_header_already_set) {
  timestamp_config cfg;
  cfg.clock = [] { return int64_t{42}; };
  cfg.preserve_existing = true;
  auto events = two_events();
  make_timestamp(cfg)->apply(events);
  EXPECT_EQ(header(events[0], "timestamp"), "42");
  EXPECT_EQ(header(events[1], "timestamp"), "1");
}

TEST(timestamp, writes_a_custom_header) {
  timestamp_config cfg;
  cfg.clock = [] { return int64_t{42}; };
  cfg.header_name = "when";
  auto events = two_events();
  make_timestamp(cfg)->apply(events);
  EXPECT_EQ(header(events[0], "when"), "42");
  EXPECT_EQ(header(events[0], "timestamp"), "<none>");
  EXPECT_EQ(header(events[1], "when"), "42");
  EXPECT_EQ(header(events[1], "timestamp"), "1");
}

TEST(timestamp, uses_the_system_clock_by_default) {
  auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  batch events{event{}};
  make_timestamp(timestamp_config{})->apply(events);
  auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  auto got = std::stoll(header(events[0], "timestamp"));
  EXPECT_GE(got, before);
  EXPECT_LE(got, after);
}

TEST(timestamp, parse_reads_options) {
  error_list errors;
  auto def = parse<timestamp_config>(parse_timestamp, "{}", errors);
  EXPECT_EQ(def.header_name, "timestamp");
  EXPECT_FALSE(def.preserve_existing);
  auto cfg = parse<timestamp_config>(
      parse_timestamp, "header_name: ts\npreserve_existing: true\n", errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(cfg.header_name, "ts");
  EXPECT_TRUE(cfg.preserve_existing);
}

TEST(timestamp, parse_rejects_an_empty_header) {
  error_list errors;
  parse<timestamp_config>(parse_timestamp, "type: x\nheader_name: ''\n",
                          errors);
  ASSERT_EQ(errors.size(), 2u); // `type` is read by the topology loader
  EXPECT_EQ(errors[0].to_string(),
            "t.yaml:2:14: agents.a1.sources.r1.interceptors.i1.header_name: "
            "must "
            "not be empty");
}

// -- host
// ------------------------------------------------------------------------

TEST(host, sets_the_ip_address_by_default) {
  auto events = two_events();
  make_host(host_config{})->apply(events);
  auto ip = header(events[0], "host");
  in_addr addr{};
  EXPECT_EQ(::inet_pton(AF_INET, ip.c_str(), &addr), 1) << ip;
  EXPECT_EQ(ip, local_host(true));
  EXPECT_EQ(header(events[1], "host"), ip) << "overwritten by default";
}

TEST(host, sets_the_hostname_when_asked) {
  char name[256] = {};
  ASSERT_EQ(::gethostname(name, sizeof(name) - 1), 0);
  host_config cfg;
  cfg.use_ip = false;
  cfg.host_header = "origin";
  auto events = two_events();
  make_host(cfg)->apply(events);
  EXPECT_EQ(header(events[0], "origin"), name);
  EXPECT_EQ(header(events[1], "host"), "h") << "other header untouched";
  EXPECT_EQ(local_host(false), name);
}

TEST(host, preserve_existing_keeps_a_header_already_set) {
  host_config cfg;
  cfg.preserve_existing = true;
  auto events = two_events();
  make_host(cfg)->apply(events);
  EXPECT_EQ(header(events[0], "host"), local_host(true));
  EXPECT_EQ(header(events[1], "host"), "h");
}

TEST(host, parse_reads_options_and_rejects_an_empty_header) {
  error_list errors;
  auto def = parse<host_config>(parse_host, "{}", errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(def.host_header, "host");
  EXPECT_TRUE(def.use_ip);
  EXPECT_FALSE(def.preserve_existing);
  auto cfg = parse<host_config>(
      parse_host, "host_header: h\nuse_ip: false\npreserve_existing: true\n",
      errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(cfg.host_header, "h");
  EXPECT_FALSE(cfg.use_ip);
  EXPECT_TRUE(cfg.preserve_existing);
  parse<host_config>(parse_host, "host_header: ''\nuse_ip: maybe\n", errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].path, "agents.a1.sources.r1.interceptors.i1.use_ip");
  EXPECT_EQ(errors[0].message, "expected true or false");
  EXPECT_EQ(errors[1].to_string(),
            "t.yaml:1:14: agents.a1.sources.r1.interceptors.i1.host_header: "
            "must "
            "not be empty");
}

// -- static
// ------------------------------------------------------------------------

TEST(static_header, sets_key_and_value_preserving_existing_by_default) {
  static_config cfg;
  cfg.key = "key";
  cfg.value = "new";
  auto events = two_events();
  make_static(cfg)->apply(events);
  EXPECT_EQ(header(events[0], "key"), "new");
  EXPECT_EQ(header(events[1], "key"), "old");
}

TEST(static_header, overwrites_without_preserve_existing) {
  static_config cfg;
  cfg.key = "key";
  cfg.value = "new";
  cfg.preserve_existing = false;
  auto events = two_events();
  make_static(cfg)->apply(events);
  EXPECT_EQ(header(events[0], "key"), "new");
  EXPECT_EQ(header(events[1], "key"), "new");
  EXPECT_EQ(header(events[1], "host"), "h");
}

TEST(static_header, parse_reads_options_and_rejects_an_empty_key) {
  error_list errors;
  auto def = parse<static_config>(parse_static, "{}", errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(def.key, "key");
  EXPECT_EQ(def.value, "value");
  EXPECT_TRUE(def.preserve_existing);
  auto cfg = parse<static_config>(
      parse_static, "key: dc\nvalue: eu-1\npreserve_existing: false\n", errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(cfg.key, "dc");
  EXPECT_EQ(cfg.value, "eu-1");
  EXPECT_FALSE(cfg.preserve_existing);
  parse<static_config>(parse_static, "key: ''\nvalu: x\n", errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].to_string(),
            "t.yaml:1:6: agents.a1.sources.r1.interceptors.i1.key: must not "
            "be empty");
  EXPECT_EQ(errors[1].message, "unknown key 'valu' (did you mean 'value'?)");
}
