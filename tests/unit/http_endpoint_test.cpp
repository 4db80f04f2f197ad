// The HTTP endpoint's bodies: Prometheus text checked by a strict parser of
// the format (0.0.4), Flume's JSON shape, health and readiness.

#include "runtime/core/log.hpp"
#include "runtime/http/http_endpoint.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
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
      if (m[2] == "counter") {
        EXPECT_TRUE(std::string{m[1]}.ends_with("_total"))
            << "counter not ending in _total: " << line;
      }
      continue;
    }
    ASSERT_FALSE(line.starts_with("#"))
        << "bad comment line " << n << ": " << line;
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
  reg.find("a1.sinks.k1#2")
      ->set_state(component_state::degraded, "brokers down");
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

// `flumen node --http`: every component of the node's registry (replicas
// of any agent, its listener) under its full name, labelled with the node.
TEST_F(http_bodies, a_nodes_bodies_show_its_whole_registry) {
  auto l = reg.get("n1.listener", "listener", "node");
  l->connection_failures = 3;
  l->set_state(component_state::running);
  auto scope = endpoint_scope::node("n1");
  auto text = prometheus_text(scope, reg, {100, 2, 0.5});
  std::map<std::string, double> s;
  parse_prometheus(text, s);
  EXPECT_EQ((s["flumen_events_committed_total{node=\"n1\",component=\"a1."
               "sinks.k1#2\",kind=\"sink\",type=\"kafka\"}"]),
            4);
  EXPECT_EQ((s["flumen_connection_failures_total{node=\"n1\",component="
               "\"n1.listener\",kind=\"listener\",type=\"node\"}"]),
            3);
  EXPECT_EQ((s["flumen_component_state{node=\"n1\",component=\"a2.sinks.x\","
               "kind=\"sink\",type=\"null\",state=\"starting\"}"]),
            1);
  EXPECT_EQ(s["flumen_process_open_fds{node=\"n1\"}"], 2);
  EXPECT_EQ(text.find("agent="), std::string::npos);
  // Flume's shape has no listeners.
  auto j = nlohmann::json::parse(flume_json(scope, reg));
  EXPECT_EQ(j["SINK.a1.sinks.k1#2"]["EventDrainSuccessCount"], "4");
  EXPECT_FALSE(j.contains("SOURCE.n1.listener"));
  EXPECT_EQ(j.size(), 4u); // r1, c1, k1#2 of a1; x of a2
  auto h = health(scope, reg);
  EXPECT_EQ(h.status, 200);
  auto hj = nlohmann::json::parse(h.body);
  EXPECT_EQ(hj["node"], "n1");
  EXPECT_EQ(hj["components"]["a1.sinks.k1#2"]["state"], "running");
  EXPECT_EQ(readiness(scope, reg).status, 503); // a2.sinks.x is starting
}

// A Kafka or hop sink that never reached its destination is not ready,
// whatever its state (the sink driver calls a sink `running` once it
// started); once it connected, a lost connection or a restart leaves
// /ready at 200 (that is /health's business).
TEST_F(http_bodies, ready_waits_for_every_sink_to_have_connected_once) {
  auto k = reg.get("a1.sinks.k9", "sink", "kafka");
  k->awaits_connection();
  k->set_state(component_state::connecting,
               "no broker reached yet at 127.0.0.1:9");
  auto r = readiness("a1", reg);
  EXPECT_EQ(r.status, 503);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["status"], "starting");
  ASSERT_EQ(j["not_ok"].size(), 1u) << r.body;
  EXPECT_EQ(j["not_ok"][0], "sink k9");
  EXPECT_EQ(j["components"]["k9"]["reason"],
            "no broker reached yet at 127.0.0.1:9");
  EXPECT_EQ(health("a1", reg).status, 200) << "connecting is alive";
  k->set_state(component_state::running);
  EXPECT_EQ(readiness("a1", reg).status, 503) << "running, never connected";
  k->connected();
  EXPECT_EQ(readiness("a1", reg).status, 200);
  k->set_state(component_state::connecting, "connection lost");
  k->awaits_connection(); // restarted with a new producer
  EXPECT_EQ(readiness("a1", reg).status, 200);
}

TEST_F(http_bodies, stats_json_lists_every_counter_in_registry_order) {
  reg.find("a1.sinks.k1#2")->set_state(component_state::failed, "gone");
  reg.find("a1.sinks.k1#2")->set_placement("node n1 (10.0.0.5:4700)");
  auto j = nlohmann::json::parse(stats_json("a1", reg, {1 << 20, 5, 2.5}));
  EXPECT_EQ(j["agent"], "a1");
  EXPECT_EQ(j["uptime_seconds"], 2.5);
  EXPECT_EQ(j["rss_bytes"], 1 << 20);
  auto& c = j["components"];
  ASSERT_EQ(c.size(), 3u); // a2's is not a1's
  EXPECT_EQ(c[0]["name"], "c1");
  EXPECT_EQ(c[1]["name"], "k1#2");
  EXPECT_EQ(c[2]["name"], "r1");
  EXPECT_EQ(c[2]["kind"], "source");
  EXPECT_EQ(c[2]["type"], "netcat");
  EXPECT_EQ(c[2]["state"], "running");
  EXPECT_EQ(c[2]["reason"], "");
  EXPECT_EQ(c[2]["counters"]["events_received"], 10);
  EXPECT_EQ(c[2]["counters"]["events_accepted"], 9);
  EXPECT_EQ(c[0]["counters"]["channel_size"], 5);
  EXPECT_EQ(c[0]["counters"]["channel_capacity"], 20);
  EXPECT_EQ(c[1]["state"], "failed");
  EXPECT_EQ(c[1]["reason"], "gone");
  EXPECT_EQ(c[1]["placement"], "node n1 (10.0.0.5:4700)");
  EXPECT_EQ(c[2]["tappers"], 0);
  // Every family of /metrics, by its short name.
  auto text = prometheus_text("a1", reg, {});
  std::size_t families = 0;
  for (auto& [name, value] : c[0]["counters"].items()) {
    ++families;
    auto counter = "flumen_" + name + "_total{";
    auto gauge = "flumen_" + name + "{";
    EXPECT_TRUE(text.find(counter) != std::string::npos ||
                text.find(gauge) != std::string::npos)
        << name;
  }
  // A channel's families only (kind_families): no source's or sink's.
  EXPECT_EQ(families, kind_families("channel").size());
  EXPECT_EQ(families, 10u);
}

// /metrics exports what each component has: a sink has no
// events_received, a memory channel no file channel's damage counters.
TEST_F(http_bodies, a_component_exports_only_its_families) {
  auto text = prometheus_text("a1", reg, {});
  std::map<std::string, double> s;
  parse_prometheus(text, s);
  EXPECT_EQ(s.count("flumen_events_received_total{agent=\"a1\",component="
                    "\"k1#2\",kind=\"sink\",type=\"kafka\"}"),
            0u);
  EXPECT_EQ(s.count("flumen_events_committed_total{agent=\"a1\",component="
                    "\"k1#2\",kind=\"sink\",type=\"kafka\"}"),
            1u);
  EXPECT_EQ(text.find("flumen_corrupt_records_total{"), std::string::npos);
  EXPECT_EQ(text.find("flumen_hop_duplicates_total"), std::string::npos);
  // A component that says it has one more family exports it.
  reg.find("a1.sources.r1")->expose("connections_open");
  text = prometheus_text("a1", reg, {});
  EXPECT_NE(text.find("flumen_connections_open{agent=\"a1\",component=\"r1\""),
            std::string::npos);
  EXPECT_THROW(reg.find("a1.sources.r1")->expose("no_such_family"),
               std::logic_error);
}

// A family of a component's own (a new type's counter) is exported, listed
// and summarised without a line anywhere else.
TEST_F(http_bodies, a_components_own_family_is_exported_everywhere) {
  auto r1 = reg.find("a1.sources.r1");
  auto& overflows =
      r1->own("datagrams_overflowed", "Datagrams the socket buffer dropped.");
  overflows += 3;
  EXPECT_EQ(&r1->own("datagrams_overflowed", "again"), &overflows);
  auto text = prometheus_text("a1", reg, {});
  std::map<std::string, double> s;
  parse_prometheus(text, s);
  EXPECT_EQ((s["flumen_datagrams_overflowed_total{agent=\"a1\",component="
               "\"r1\",kind=\"source\",type=\"netcat\"}"]),
            3);
  EXPECT_NE(text.find("# HELP flumen_datagrams_overflowed_total Datagrams the "
                      "socket buffer dropped.\n# TYPE "
                      "flumen_datagrams_overflowed_total counter\n"),
            std::string::npos);
  auto j = nlohmann::json::parse(stats_json("a1", reg, {}));
  EXPECT_EQ(j["components"][2]["counters"]["datagrams_overflowed"], 3);
  EXPECT_NE(r1->summary().find(" datagrams_overflowed=3"), std::string::npos);
  EXPECT_EQ(r1->value("datagrams_overflowed"), 3u);
}

// Flume prints a fill of 0.2 as 0.2, not 0.20000000000000001.
TEST_F(http_bodies, flume_json_prints_the_shortest_number) {
  auto ch = reg.find("a1.channels.c1");
  ch->channel_size = 1;
  ch->channel_capacity = 500;
  auto j = nlohmann::json::parse(flume_json("a1", reg));
  EXPECT_EQ(j["CHANNEL.c1"]["ChannelFillPercentage"], "0.2");
}

TEST_F(http_bodies, a_tap_names_a_component_or_says_which_there_are) {
  reg.get("a1.sinks.k1#0", "sink", "kafka");
  auto t = resolve_tap("a1", reg, "r1");
  ASSERT_EQ(t.points.size(), 1u);
  EXPECT_EQ(t.points[0].first, "r1");
  EXPECT_EQ(resolve_tap("a1", reg, "sources.r1").points.size(), 1u);
  // A sink's replicas: all of them, or one.
  t = resolve_tap("a1", reg, "k1");
  ASSERT_EQ(t.points.size(), 2u);
  EXPECT_EQ(t.points[0].first, "k1#0");
  EXPECT_EQ(t.points[1].first, "k1#2");
  EXPECT_EQ(resolve_tap("a1", reg, "sinks.k1").points.size(), 2u);
  EXPECT_EQ(resolve_tap("a1", reg, "k1#2").points.size(), 1u);
  t = resolve_tap("a1", reg, "x");
  EXPECT_EQ(t.status, 404);
  EXPECT_EQ(t.error, "no component 'x' in agent a1; there are: channels.c1, "
                     "sinks.k1, sources.r1");
  reg.get("a1.channels.r1", "channel", "memory");
  t = resolve_tap("a1", reg, "r1");
  EXPECT_EQ(t.status, 400);
  EXPECT_TRUE(t.points.empty());
  EXPECT_NE(t.error.find("channels.r1, sources.r1"), std::string::npos)
      << t.error;
}

namespace {

// A `flumen tap` of the test's own: the response's status and lines.
struct tap_client {
  std::atomic<int> status{0};
  std::string body;
  std::thread thread;
  std::atomic<bool> done{false};

  tap_client(uint16_t port, std::string path) {
    thread = std::thread{[this, port, path] {
      httplib::Client cli("127.0.0.1", port);
      cli.set_read_timeout(10, 0);
      cli.Get(
          path,
          [this](const httplib::Response& r) {
            status = r.status;
            return true;
          },
          [this](const char* d, std::size_t n) {
            body.append(d, n);
            return true;
          });
      done = true;
    }};
  }
  ~tap_client() {
    if (thread.joinable()) thread.join();
  }
};

bool eventually(std::chrono::milliseconds within,
                const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  return true;
}

} // namespace

TEST_F(http_bodies, a_tap_streams_the_events_then_lets_go) {
  http_endpoint ep{"a1", reg};
  auto port = ep.start("127.0.0.1", 0);
  auto r1 = reg.find("a1.sources.r1");
  auto k1 = reg.get("a1.sinks.k1#0", "sink", "kafka");
  auto k2 = reg.find("a1.sinks.k1#2");
  {
    tap_client src{port, "/tap/r1?limit=3"};
    tap_client sink{port, "/tap/k1?limit=2"};
    ASSERT_TRUE(eventually(std::chrono::seconds{5}, [&] {
      return r1->tap.tapped() && k1->tap.tapped() && k2->tap.tapped();
    }));
    r1->tap.offer({event{{{"h", "v"}}, "one"}, event{{}, "two"}});
    r1->tap.offer({event{{}, "three"}, event{{}, "four"}});
    k2->tap.offer({event{{}, "from #2"}});
    k1->tap.offer({event{{}, "from #0"}});
    ASSERT_TRUE(eventually(std::chrono::seconds{5},
                           [&] { return src.done && sink.done; }));
    EXPECT_EQ(src.status, 200);
    EXPECT_EQ(src.body, "r1 {h=v} \"one\"\nr1 {} \"two\"\nr1 {} \"three\"\n");
    EXPECT_EQ(sink.body, "k1#2 {} \"from #2\"\nk1#0 {} \"from #0\"\n");
  }
  // Ended: the tap points cost nothing again.
  EXPECT_TRUE(eventually(std::chrono::seconds{5}, [&] {
    return !r1->tap.tapped() && !k1->tap.tapped() && !k2->tap.tapped();
  }));
}

TEST_F(http_bodies, a_tap_that_falls_behind_says_how_many_it_missed) {
  http_endpoint ep{"a1", reg};
  auto port = ep.start("127.0.0.1", 0);
  auto r1 = reg.find("a1.sources.r1");
  tap_client tap{port, "/tap/r1?limit=2"};
  ASSERT_TRUE(
      eventually(std::chrono::seconds{5}, [&] { return r1->tap.tapped(); }));
  // One batch of 1500: the queue takes 1000, the rest is missed at once.
  batch many;
  for (int i = 0; i < 1500; ++i)
    many.push_back(event{{}, std::to_string(i)});
  r1->tap.offer(many);
  ASSERT_TRUE(
      eventually(std::chrono::seconds{5}, [&] { return tap.done.load(); }));
  EXPECT_EQ(tap.body, "# missed 500 events: the tap's queue was full\n"
                      "r1 {} \"0\"\nr1 {} \"1\"\n");
}

TEST_F(http_bodies, taps_are_few_and_named) {
  http_endpoint ep{"a1", reg};
  auto port = ep.start("127.0.0.1", 0);
  httplib::Client cli("127.0.0.1", port);
  auto res = cli.Get("/tap/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->body, "no component 'nope' in agent a1; there are: "
                       "channels.c1, sinks.k1, sources.r1\n");
  res = cli.Get("/tap/r1?limit=0");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  auto c1 = reg.find("a1.channels.c1");
  std::vector<std::unique_ptr<tap_client>> taps;
  for (int i = 0; i < max_taps; ++i)
    taps.push_back(std::make_unique<tap_client>(port, "/tap/c1?limit=1"));
  // Each tap subscribes one queue: the fifth is refused while they run.
  ASSERT_TRUE(eventually(std::chrono::seconds{5}, [&] {
    return std::all_of(taps.begin(), taps.end(),
                       [](auto& t) { return t->status == 200; });
  }));
  res = cli.Get("/tap/r1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->body, "at most 4 taps at once; try again when one ends\n");
  c1->tap.offer({event{{}, "x"}});
  for (auto& t : taps)
    ASSERT_TRUE(
        eventually(std::chrono::seconds{5}, [&] { return t->done.load(); }));
  for (auto& t : taps)
    EXPECT_EQ(t->body, "c1 {} \"x\"\n");
  // Their slots are free again.
  auto r1 = reg.find("a1.sources.r1");
  ASSERT_TRUE(
      eventually(std::chrono::seconds{5}, [&] { return !c1->tap.tapped(); }));
  tap_client again{port, "/tap/r1?limit=1"};
  ASSERT_TRUE(
      eventually(std::chrono::seconds{5}, [&] { return r1->tap.tapped(); }));
  r1->tap.offer({event{{}, "y"}});
  ASSERT_TRUE(
      eventually(std::chrono::seconds{5}, [&] { return again.done.load(); }));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, "r1 {} \"y\"\n");
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

TEST_F(http_bodies, a_nodes_endpoint_serves_its_four_paths) {
  http_endpoint ep{endpoint_scope::node("n1"), reg};
  auto port = ep.start("127.0.0.1", 0);
  httplib::Client cli("127.0.0.1", port);
  auto res = cli.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("flumen_events_committed_total{node=\"n1\","
                           "component=\"a1.sinks.k1#2\",kind=\"sink\","
                           "type=\"kafka\"} 4\n"),
            std::string::npos)
      << res->body;
  for (auto path : {"/metrics.json", "/health", "/ready"}) {
    res = cli.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_NE(res->status, 404) << path;
  }
  // Taps and `flumen top` are the agent's.
  for (auto path : {"/stats.json", "/tap/k1"}) {
    res = cli.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_NE(res->body.find("(try /metrics, /metrics.json, /health, /ready)"),
              std::string::npos)
        << res->body;
  }
}
