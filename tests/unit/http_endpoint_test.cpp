// The HTTP endpoint's bodies: Prometheus text checked by a strict parser of
// the format (0.0.4), Flume's JSON shape, health and readiness.

#include "runtime/http_endpoint.hpp"
#include "runtime/log.hpp"

#include <spdlog/spdlog.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace flumen;

namespace {

/// Checks `text` against the Prometheus text format, strictly: every
/// sample's family has one HELP and one TYPE line before its samples, a
/// family's samples are contiguous, names and labels are well formed, label
/// values are escaped, values are numbers, counters end in `_total`, no
/// series appears twice, and the text ends with a newline. Fills `samples`
/// ("name{labels}" -> value); adds a failure per problem.
void parse_prometheus(const std::string& text,
                      std::map<std::string, double>& samples) {
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  static const std::regex name_re{"[a-zA-Z_:][a-zA-Z0-9_:]*"};
  static const std::regex help_re{"# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)"};
  static const std::regex type_re{
      "# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|"
      "untyped)"};
  static const std::regex sample_re{
      "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{([^}]*)\\})? ([^ ]+)"};
  static const std::regex label_re{
      "([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\\\n]|\\\\[\\\\\"n])*)\""};
  std::map<std::string, std::string> types;
  std::set<std::string> helps;
  std::set<std::string> finished; // families whose samples ended
  std::string current;
  std::istringstream in{text};
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::smatch m;
    if (std::regex_match(line, m, help_re)) {
      EXPECT_TRUE(helps.insert(m[1]).second) << "second HELP, line " << n;
      continue;
    }
    if (std::regex_match(line, m, type_re)) {
      EXPECT_TRUE(types.emplace(m[1], m[2]).second) << "second TYPE " << n;
      EXPECT_TRUE(helps.count(m[1])) << "TYPE before HELP, line " << n;
      if (m[2] == "counter")
        EXPECT_TRUE(std::string{m[1]}.ends_with("_total"))
            << "counter not ending in _total: " << line;
      continue;
    }
    ASSERT_FALSE(line.starts_with("#")) << "bad comment line " << n << ": "
                                        << line;
    ASSERT_TRUE(std::regex_match(line, m, sample_re))
        << "not a sample, line " << n << ": " << line;
    std::string name = m[1];
    EXPECT_TRUE(types.count(name)) << "sample without TYPE: " << line;
    if (name != current) {
      EXPECT_FALSE(finished.count(name)) << "family split: " << name;
      if (!current.empty()) finished.insert(current);
      current = name;
    }
    // Labels: name="value" pairs separated by commas, nothing else.
    std::string labels = m[3];
    std::set<std::string> label_names;
    auto rest = labels;
    while (!rest.empty()) {
      std::smatch lm;
      ASSERT_TRUE(std::regex_search(rest, lm, label_re,
                                    std::regex_constants::match_continuous))
          << "bad labels: " << labels;
      EXPECT_TRUE(label_names.insert(lm[1]).second) << "label twice";
      rest = lm.suffix();
      if (!rest.empty()) {
        ASSERT_EQ(rest.front(), ',') << "bad labels: " << labels;
        rest.erase(0, 1);
      }
    }
    std::size_t used = 0;
    double v = 0;
    ASSERT_NO_THROW(v = std::stod(m[4], &used)) << line;
    EXPECT_EQ(used, std::string{m[4]}.size()) << "bad value: " << line;
    auto key = name + "{" + labels + "}";
    EXPECT_TRUE(samples.emplace(key, v).second) << "series twice: " << key;
  }
}

class http_bodies : public ::testing::Test {
protected:
  void SetUp() override {
    auto src = reg.get("a1.sources.r1", "source", "netcat");
    src->events_received = 10;
    src->events_accepted = 9;
    src->set_state(component_state::running);
    auto ch = reg.get("a1.channels.c1", "channel", "memory");
    ch->events_put = 9;
    ch->channel_size = 5;
    ch->channel_capacity = 20;
    ch->set_state(component_state::running);
    auto k = reg.get("a1.sinks.k1#2", "sink", "kafka");
    k->events_taken = 4;
    k->events_committed = 4;
    k->set_state(component_state::running);
    // Another agent's component is not this agent's.
    reg.get("a2.sinks.x", "sink", "null");
  }
  metrics_registry reg;
};

} // namespace

TEST_F(http_bodies, prometheus_text_is_strictly_well_formed) {
  process_stats p{123456, 7, 1.5};
  auto text = prometheus_text("a1", reg, p);
  std::map<std::string, double> s;
  parse_prometheus(text, s);
  EXPECT_EQ((s["flumen_events_received_total{agent=\"a1\",component=\"r1\","
               "kind=\"source\",type=\"netcat\"}"]),
            10);
  EXPECT_EQ((s["flumen_channel_size{agent=\"a1\",component=\"c1\",kind="
               "\"channel\",type=\"memory\"}"]),
            5);
  EXPECT_EQ((s["flumen_events_committed_total{agent=\"a1\",component=\"k1#"
               "2\",kind=\"sink\",type=\"kafka\"}"]),
            4);
  EXPECT_EQ((s["flumen_component_state{agent=\"a1\",component=\"k1#2\",kind="
               "\"sink\",type=\"kafka\",state=\"running\"}"]),
            1);
  EXPECT_EQ((s["flumen_component_state{agent=\"a1\",component=\"k1#2\",kind="
               "\"sink\",type=\"kafka\",state=\"failed\"}"]),
            0);
  EXPECT_EQ(s["flumen_process_resident_memory_bytes{agent=\"a1\"}"], 123456);
  EXPECT_EQ(s["flumen_process_open_fds{agent=\"a1\"}"], 7);
  EXPECT_EQ(s["flumen_process_uptime_seconds{agent=\"a1\"}"], 1.5);
  EXPECT_EQ(text.find("a2"), std::string::npos);
}

TEST_F(http_bodies, label_values_are_escaped) {
  reg.get("a1.sinks.we\"ird\\name", "sink", "null");
  auto text = prometheus_text("a1", reg, {});
  std::map<std::string, double> s;
  parse_prometheus(text, s); // would fail on an unescaped quote
  EXPECT_NE(text.find("component=\"we\\\"ird\\\\name\""), std::string::npos);
}

TEST_F(http_bodies, flume_json_has_flumes_shape) {
  auto j = nlohmann::json::parse(flume_json("a1", reg));
  ASSERT_TRUE(j.contains("CHANNEL.c1"));
  EXPECT_EQ(j["CHANNEL.c1"]["ChannelSize"], "5");
  EXPECT_EQ(j["CHANNEL.c1"]["ChannelCapacity"], "20");
  EXPECT_EQ(j["CHANNEL.c1"]["ChannelFillPercentage"], "25");
  EXPECT_EQ(j["CHANNEL.c1"]["EventPutSuccessCount"], "9");
  EXPECT_EQ(j["CHANNEL.c1"]["Type"], "CHANNEL");
  EXPECT_EQ(j["SOURCE.r1"]["EventReceivedCount"], "10");
  EXPECT_EQ(j["SOURCE.r1"]["EventAcceptedCount"], "9");
  EXPECT_EQ(j["SINK.k1#2"]["EventDrainSuccessCount"], "4");
  EXPECT_EQ(j.size(), 3u);
}

TEST_F(http_bodies, health_is_503_naming_a_degraded_or_failed_component) {
  auto ok = health("a1", reg);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(nlohmann::json::parse(ok.body)["status"], "ok");
  reg.find("a1.sinks.k1#2")->set_state(component_state::degraded,
                                       "brokers down");
  auto bad = health("a1", reg);
  EXPECT_EQ(bad.status, 503);
  auto j = nlohmann::json::parse(bad.body);
  EXPECT_EQ(j["status"], "unhealthy");
  EXPECT_EQ(j["not_ok"][0], "sink k1#2");
  EXPECT_EQ(j["components"]["k1#2"]["reason"], "brokers down");
}

TEST_F(http_bodies, ready_once_nothing_is_starting) {
  EXPECT_EQ(readiness("a1", reg).status, 200);
  reg.get("a1.sinks.k9", "sink", "kafka"); // starting
  EXPECT_EQ(readiness("a1", reg).status, 503);
}

// --log-format json: one JSON object per line, whatever the message holds.
TEST(log_format, json_lines_parse_whatever_the_message_holds) {
  ASSERT_TRUE(init_logging("info", "json"));
  testing::internal::CaptureStderr();
  spdlog::info("a1.sinks.k1 state=degraded reason=\"quote \\ back\tslash\"");
  spdlog::warn("control \x01 and UTF-8 café");
  spdlog::default_logger()->flush();
  auto out = testing::internal::GetCapturedStderr();
  std::istringstream in{out};
  std::string line;
  std::vector<nlohmann::json> lines;
  while (std::getline(in, line))
    ASSERT_NO_THROW(lines.push_back(nlohmann::json::parse(line))) << line;
  ASSERT_EQ(lines.size(), 2u) << out;
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["message"],
            "a1.sinks.k1 state=degraded reason=\"quote \\ back\tslash\"");
  EXPECT_EQ(lines[1]["level"], "warning");
  EXPECT_EQ(lines[1]["message"], "control \x01 and UTF-8 café");
  EXPECT_FALSE(init_logging("info", "xml"));
}
