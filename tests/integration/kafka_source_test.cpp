// The kafka source against librdkafka's in-process cluster (real protocol,
// loopback): records become events with Flume's headers, offsets are
// committed only behind what every channel accepted, a poison record is
// counted and passed, a full window pauses the partitions, a restart goes on
// from the committed offsets; and its options (suite kafka_source_parse).

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "actors/builtin.hpp"
#include "actors/sinks/embedded_kafka.hpp"
#include "actors/sources/kafka.hpp"
#include "runtime/config/topology.hpp"
#include "tests/support/wait.hpp"
#include "tests/unit/actor_test_support.hpp"
#include "tests/unit/recording_channel.hpp"

using namespace flumen;
using namespace flumen::test;
using namespace std::chrono_literals;

namespace {

using sources::kafka_source_config;

/// One record to produce.
struct produced {
  int32_t partition = 0;
  std::string value;
  std::string key; ///< empty: none
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timestamp = 0; ///< 0: the producer's time
};

/// Produces `records` to `topic` and waits for every delivery report.
void produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<produced>& records) {
  char err[512];
  auto* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err,
                    sizeof(err));
  rd_kafka_conf_set(conf, "linger.ms", "0", err, sizeof(err));
  auto* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  ASSERT_TRUE(rk) << err;
  for (auto& r : records) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!r.headers.empty()) {
      hdrs = rd_kafka_headers_new(r.headers.size());
      for (auto& [k, v] : r.headers)
        rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()),
                            v.data(), static_cast<ssize_t>(v.size()));
    }
    auto e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(r.partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
        RD_KAFKA_V_KEY(r.key.empty() ? nullptr : r.key.data(), r.key.size()),
        RD_KAFKA_V_TIMESTAMP(r.timestamp), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_END);
    ASSERT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
  }
  ASSERT_EQ(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

/// `n` plain records numbered from `from`, spread over `partitions`.
std::vector<produced> numbered(int from, int n, int partitions = 1) {
  std::vector<produced> out;
  for (int i = from; i < from + n; ++i)
    out.push_back({i % partitions, std::to_string(i), {}, {}, 0});
  return out;
}

/// The offsets group `group` committed for `topic`'s partitions 0..n-1 (-1:
/// none), asked of the cluster by a client of its own.
std::vector<int64_t> committed(const std::string& bootstrap,
                               const std::string& group,
                               const std::string& topic, int partitions) {
  char err[512];
  auto* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err,
                    sizeof(err));
  rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof(err));
  auto* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  auto* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  std::vector<int64_t> out(static_cast<std::size_t>(partitions), -2);
  if (rd_kafka_committed(rk, list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
    for (int p = 0; p < partitions; ++p)
      out[static_cast<std::size_t>(p)] = list->elems[p].offset;
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  return out;
}

std::string header(const event& e, const std::string& key) {
  auto i = e.headers.find(key);
  return i == e.headers.end() ? "<none>" : i->second;
}

class kafka_source : public actor_test {
protected:
  void SetUp() override {
    cluster_ = std::make_unique<sinks::embedded_kafka>(1);
    bootstrap_ = cluster_->bootstrap_servers();
    // The first source's client, for a test that commits on it.
    sources::set_consumer_observer(
        [this](const std::string& name, rd_kafka_t* rk, bool made) {
          if (name == "a1.sources.r1") consumer_ = made ? rk : nullptr;
        });
  }

  void TearDown() override { sources::set_consumer_observer({}); }

  kafka_source_config config(const std::string& topic) {
    kafka_source_config cfg;
    cfg.bootstrap_servers = bootstrap_;
    cfg.topics = {topic};
    cfg.group_id = "g-" + topic;
    cfg.batch_duration = 50ms;
    // The fake channel's holding answers a test releases makes a batch
    // late on purpose; a revoke (at the stop) must not wait long for it.
    cfg.revoke_timeout = 2s;
    cfg.consumer["session.timeout.ms"] = "6000";
    cfg.consumer["heartbeat.interval.ms"] = "500";
    return cfg;
  }

  caf::actor fake(const std::shared_ptr<recorded>& out, bool hold) {
    return track(sys.spawn(fake_channel, out, hold));
  }

  caf::actor source(const kafka_source_config& cfg, const caf::actor& ch,
                    const std::string& name = "r1") {
    auto w = wire("sources", name, "kafka");
    w.downstream = ch;
    return track(sources::spawn_kafka_source(sys, cfg, w));
  }

  bool stop(const caf::actor& src, std::chrono::milliseconds timeout = 20s) {
    bool ok = false;
    self->request(src, timeout, stop_atom::value)
        .receive([&](ok_atom) { ok = true; }, [](caf::error&) {});
    return ok;
  }

  component_metrics& metric(const std::string& name = "r1") {
    return *metrics_of("sources", name, "kafka");
  }

  std::unique_ptr<sinks::embedded_kafka> cluster_;
  std::string bootstrap_;
  std::atomic<rd_kafka_t*> consumer_{nullptr};
};

TEST_F(kafka_source, records_become_events_with_flumes_headers) {
  ASSERT_TRUE(cluster_->create_topic("logs", 2));
  produce(bootstrap_, "logs",
          {{0, "with key", "k1", {}, 1600000000123},
           {1, "no key", "", {}, 1600000000456}});
  auto out = std::make_shared<recorded>();
  auto cfg = config("logs");
  auto src = source(cfg, fake(out, false));
  ASSERT_TRUE(wait_until([&] { return out->size() == 2; }, 30s))
      << metric().summary();
  auto events = out->all();
  std::sort(events.begin(), events.end(),
            [](auto& a, auto& b) { return a.body < b.body; });
  auto& no_key = events[0];
  auto& keyed = events[1];
  EXPECT_EQ(keyed.body, "with key");
  EXPECT_EQ(header(keyed, "topic"), "logs");
  EXPECT_EQ(header(keyed, "partition"), "0");
  EXPECT_EQ(header(keyed, "offset"), "0");
  EXPECT_EQ(header(keyed, "key"), "k1");
  EXPECT_EQ(header(keyed, "timestamp"), "1600000000123");
  EXPECT_EQ(no_key.body, "no key");
  EXPECT_EQ(header(no_key, "partition"), "1");
  EXPECT_EQ(header(no_key, "timestamp"), "1600000000456");
  EXPECT_FALSE(no_key.headers.contains("key"));
  EXPECT_EQ(no_key.headers.size(), 4u);
  EXPECT_TRUE(stop(src));
  auto& m = metric();
  EXPECT_EQ(m.events_received.load(), 2u);
  EXPECT_EQ(m.events_accepted.load(), 2u);
  // The stop committed both partitions past their record.
  EXPECT_EQ(committed(bootstrap_, cfg.group_id, "logs", 2),
            (std::vector<int64_t>{1, 1}));
}

TEST_F(kafka_source, record_headers_are_never_overwritten) {
  ASSERT_TRUE(cluster_->create_topic("mixed", 1));
  produce(bootstrap_, "mixed",
          {{0,
            "b",
            "real key",
            {{"topic", "theirs"},
             {"offset", "77"},
             {"app", "web"},
             {"app", "second"}},
            0}});
  auto out = std::make_shared<recorded>();
  auto cfg = config("mixed");
  cfg.topic_header = "src_topic";
  auto src = source(cfg, fake(out, false));
  ASSERT_TRUE(wait_until([&] { return out->size() == 1; }, 30s));
  auto e = out->all().front();
  EXPECT_EQ(header(e, "topic"), "theirs");
  EXPECT_EQ(header(e, "offset"), "77");
  EXPECT_EQ(header(e, "app"), "web") << "the first of a repeated name";
  EXPECT_EQ(header(e, "src_topic"), "mixed");
  EXPECT_EQ(header(e, "partition"), "0");
  EXPECT_EQ(header(e, "key"), "real key");
  EXPECT_TRUE(stop(src));
}

// Two batches in flight: the channel holds its answer to the first and
// accepts the second. Nothing may be stored past the first batch until it
// is accepted; then the watermark moves over both (not over a third still
// held).
TEST_F(kafka_source, offsets_are_committed_only_up_to_the_accepted_watermark) {
  ASSERT_TRUE(cluster_->create_topic("wm", 1));
  auto out = std::make_shared<recorded>();
  auto ch = fake(out, true);
  auto cfg = config("wm");
  cfg.batch_size = 10;
  auto src = source(cfg, ch);
  produce(bootstrap_, "wm", numbered(0, 10));
  ASSERT_TRUE(wait_until([&] { return out->puts.load() == 1; }, 30s))
      << metric().summary();
  produce(bootstrap_, "wm", numbered(10, 10));
  ASSERT_TRUE(wait_until([&] { return out->puts.load() == 2; }, 30s));
  // Accept the second batch only.
  caf::anon_send(ch, answer_atom::value, 1, 1);
  ASSERT_TRUE(
      wait_until([&] { return metric().events_accepted.load() == 10; }, 10s));
  // A third batch is put after that: the loop looked at its accepted
  // batches (it does before each put) since the second was accepted.
  produce(bootstrap_, "wm", numbered(20, 10));
  ASSERT_TRUE(wait_until([&] { return out->puts.load() == 3; }, 30s));
  // Commit what the source stored, now, on its own client.
  ASSERT_TRUE(consumer_);
  auto err = rd_kafka_commit(consumer_, nullptr, 0);
  EXPECT_TRUE(err == RD_KAFKA_RESP_ERR_NO_ERROR ||
              err == RD_KAFKA_RESP_ERR__NO_OFFSET)
      << rd_kafka_err2str(err);
  EXPECT_LT(committed(bootstrap_, cfg.group_id, "wm", 1)[0], 0)
      << "an offset was stored past a batch not accepted";
  // Now the first: the watermark is past both, and stops at the third.
  caf::anon_send(ch, answer_atom::value, 1);
  EXPECT_TRUE(wait_until(
      [&] { return committed(bootstrap_, cfg.group_id, "wm", 1)[0] == 20; },
      20s))
      << committed(bootstrap_, cfg.group_id, "wm", 1)[0];
  ASSERT_TRUE(
      wait_until([&] { return metric().events_accepted.load() == 20; }, 10s));
  EXPECT_EQ(out->puts.load(), 3u);
  caf::anon_send(ch, release_atom::value);
  EXPECT_TRUE(stop(src));
  EXPECT_EQ(committed(bootstrap_, cfg.group_id, "wm", 1)[0], 30);
}

TEST_F(kafka_source, a_poison_record_is_counted_and_passed) {
  ASSERT_TRUE(cluster_->create_topic("poison", 1));
  std::vector<produced> recs = numbered(0, 3);
  recs.push_back({0, std::string(5000, 'x'), {}, {}, 0}); // offset 3
  for (auto& r : numbered(3, 3))
    recs.push_back(r);
  produce(bootstrap_, "poison", recs);
  auto out = std::make_shared<recorded>();
  auto cfg = config("poison");
  cfg.max_message_size = 1000;
  auto src = source(cfg, fake(out, false));
  ASSERT_TRUE(wait_until([&] { return out->size() == 6; }, 30s))
      << metric().summary();
  EXPECT_EQ(out->bodies(),
            (std::vector<std::string>{"0", "1", "2", "3", "4", "5"}));
  auto& m = metric();
  ASSERT_TRUE(wait_until([&] { return m.events_accepted.load() == 6; }));
  EXPECT_EQ(m.events_received.load(), 7u);
  EXPECT_EQ(m.events_dropped.load(), 1u);
  EXPECT_EQ(m.value("oversized_records"), 1u);
  EXPECT_TRUE(stop(src));
  EXPECT_EQ(committed(bootstrap_, cfg.group_id, "poison", 1)[0], 7);
  // A poison record alone at the end passes too (no batch follows it).
  produce(bootstrap_, "poison", {{0, std::string(5000, 'y'), {}, {}, 0}});
  auto again = source(cfg, fake(out, false), "r2");
  ASSERT_TRUE(wait_until(
      [&] { return metric("r2").value("oversized_records") == 1; }, 30s));
  EXPECT_TRUE(wait_until(
      [&] { return committed(bootstrap_, cfg.group_id, "poison", 1)[0] == 8; },
      20s))
      << "the source would read it again at every start";
  EXPECT_TRUE(stop(again));
  EXPECT_EQ(out->size(), 6u) << "nothing was read twice";
}

// The channel answers nothing: with its max_inflight batch out the source
// pauses its partitions and keeps polling, which a rebalance shows: a
// second member joins and the paused one gives it a partition (a rebalance
// is served only by polling). Its batches of that partition are not
// answered within revoke_timeout: left uncommitted, counted, and read again
// by the new owner. Once the channel answers, every record is there.
TEST_F(kafka_source, a_full_window_pauses_the_partitions) {
  ASSERT_TRUE(cluster_->create_topic("full", 2));
  // The first batch: 50 records of each partition (a batch goes when it
  // is full, the duration being long).
  produce(bootstrap_, "full", numbered(0, 100, 2));
  auto out = std::make_shared<recorded>();
  auto ch = fake(out, true);
  auto cfg = config("full");
  cfg.batch_size = 100;
  cfg.batch_duration = 5s;
  cfg.max_inflight = 1;
  auto src = source(cfg, ch);
  auto& m = metric();
  ASSERT_TRUE(wait_until([&] { return out->puts.load() == 1; }, 30s))
      << m.summary();
  ASSERT_EQ(out->size(), 100u);
  produce(bootstrap_, "full", numbered(100, 1900, 2));
  ASSERT_TRUE(wait_until([&] { return m.value("pauses") >= 1; }, 30s))
      << m.summary();
  // Paused with its one batch out: nothing more was put.
  EXPECT_EQ(out->puts.load(), 1u);
  EXPECT_EQ(m.events_received.load(), 100u);
  EXPECT_EQ(m.value("partitions_assigned"), 2u);
  auto c = committed(bootstrap_, cfg.group_id, "full", 2);
  EXPECT_LT(c[0], 0) << "committed what no channel accepted";
  EXPECT_LT(c[1], 0) << "committed what no channel accepted";
  // A second member: the paused one takes part in the rebalance.
  auto out2 = std::make_shared<recorded>();
  auto src2 = source(cfg, fake(out2, false), "r2");
  auto& m2 = metric("r2");
  EXPECT_TRUE(wait_until(
      [&] {
        return m.value("partitions_assigned") == 1 &&
               m2.value("partitions_assigned") == 1;
      },
      60s))
      << m.summary() << "\n"
      << m2.summary();
  // The revoked partition's 50 records of the unanswered batch.
  EXPECT_EQ(m.value("uncommitted_at_revoke"), 50u) << m.summary();
  EXPECT_EQ(m.events_accepted.load(), 0u);
  // The new owner reads its partition whole, from the start.
  ASSERT_TRUE(wait_until([&] { return out2->size() == 1000; }, 30s))
      << out2->size();
  caf::anon_send(ch, release_atom::value);
  std::map<std::string, int> seen;
  auto count = [&] {
    seen.clear();
    for (auto& b : out->bodies())
      ++seen[b];
    for (auto& b : out2->bodies())
      ++seen[b];
    return seen.size();
  };
  ASSERT_TRUE(wait_until([&] { return count() == 2000; }, 30s)) << count();
  EXPECT_TRUE(stop(src));
  EXPECT_TRUE(stop(src2));
  count();
  std::size_t duplicates = 0;
  for (auto& [_, n] : seen)
    duplicates += static_cast<std::size_t>(n - 1);
  EXPECT_EQ(duplicates, m.value("uncommitted_at_revoke"))
      << "the duplicates are what the revoke left uncommitted";
  EXPECT_EQ(committed(bootstrap_, cfg.group_id, "full", 2),
            (std::vector<int64_t>{1000, 1000}));
}

// Records as Flume's Kafka sink writes them with useFlumeEventFormat: an
// AvroFlumeEvent datum, bytes written here by hand from Avro's
// specification (a map block of 1 entry: count 1 as zig-zag 0x02, "host" as
// length 4 (0x08) and its bytes, "web-1" (0x0a), the end block 0x00; then
// the body as bytes: "GET /" (0x0a)).
TEST_F(kafka_source, flume_event_format_records_keep_their_headers) {
  ASSERT_TRUE(cluster_->create_topic("flumefmt", 1));
  using namespace std::string_literals;
  auto datum = "\x02\x08host\x0aweb-1\x00\x0aGET /"s;
  // Flume's own headers win over the source's: a datum that has a
  // `partition` header keeps it.
  auto with_partition = "\x02\x12partition\x02x\x00\x02"s + "b";
  produce(bootstrap_, "flumefmt",
          {{0, datum, "", {{"host", "from-kafka"}}, 1600000000123},
           {0, "plain text, no datum", "", {}, 0},
           {0, datum + "junk", "", {}, 0},
           {0, with_partition, "", {}, 0}});
  auto out = std::make_shared<recorded>();
  auto cfg = config("flumefmt");
  cfg.format = "flume_avro";
  auto src = source(cfg, fake(out, false));
  auto& m = metric();
  ASSERT_TRUE(wait_until([&] { return out->size() == 2; }, 30s)) << m.summary();
  auto events = out->all();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].body, "GET /");
  // The datum's header, not the record's of the same name.
  EXPECT_EQ(header(events[0], "host"), "web-1");
  EXPECT_EQ(header(events[0], "topic"), "flumefmt");
  EXPECT_EQ(header(events[0], "offset"), "0");
  EXPECT_EQ(header(events[0], "timestamp"), "1600000000123");
  EXPECT_EQ(events[1].body, "b");
  EXPECT_EQ(header(events[1], "partition"), "x");
  EXPECT_EQ(header(events[1], "offset"), "3");
  ASSERT_TRUE(
      wait_until([&] { return m.value("malformed_records") == 2; }, 10s))
      << m.summary();
  EXPECT_TRUE(stop(src));
  EXPECT_EQ(m.events_received.load(), 4u);
  EXPECT_EQ(m.events_dropped.load(), 2u);
  EXPECT_EQ(m.events_accepted.load(), 2u);
  // The malformed records' offsets passed with the others.
  EXPECT_EQ(committed(bootstrap_, cfg.group_id, "flumefmt", 1),
            (std::vector<int64_t>{4}));
}

// librdkafka 2.0 stops fetching when the consumer queue reaches
// queued.min.messages and lets a broker thread sleep up to a second: read
// faster than that, the source would wait most of every second. With a
// threshold of 200 records, the 20,000 here would take 100 such waits
// (over a minute); woken as the queue drains, they arrive in seconds.
TEST_F(kafka_source, a_drained_prefetch_queue_is_fetched_again_at_once) {
  ASSERT_TRUE(cluster_->create_topic("prefetch", 1));
  produce(bootstrap_, "prefetch", numbered(0, 20000));
  auto out = std::make_shared<recorded>();
  auto cfg = config("prefetch");
  cfg.consumer["queued.min.messages"] = "200";
  auto src = source(cfg, fake(out, false));
  auto& m = metric();
  ASSERT_TRUE(wait_until([&] { return out->size() >= 20000; }, 30s))
      << out->size() << " of 20000: " << m.summary();
  EXPECT_GE(m.value("prefetch_wakes"), 1u);
  EXPECT_TRUE(stop(src));
  std::set<std::string> seen;
  for (auto& b : out->bodies())
    seen.insert(b);
  EXPECT_EQ(seen.size(), 20000u);
  EXPECT_EQ(out->size(), 20000u) << "duplicates";
  EXPECT_EQ(committed(bootstrap_, cfg.group_id, "prefetch", 1),
            (std::vector<int64_t>{20000}));
}

// A stop commits what was accepted; the next start of the group reads on
// from there: no record twice, none missing.
TEST_F(kafka_source, a_restart_continues_from_the_committed_offsets) {
  ASSERT_TRUE(cluster_->create_topic("restart", 4));
  produce(bootstrap_, "restart", numbered(0, 400, 4));
  auto out = std::make_shared<recorded>();
  auto cfg = config("restart");
  cfg.batch_size = 50;
  auto src = source(cfg, fake(out, false));
  ASSERT_TRUE(wait_until([&] { return out->size() == 400; }, 30s));
  EXPECT_TRUE(stop(src));
  produce(bootstrap_, "restart", numbered(400, 400, 4));
  auto again = source(cfg, fake(out, false), "r2");
  ASSERT_TRUE(wait_until([&] { return out->size() >= 800; }, 30s))
      << out->size();
  EXPECT_TRUE(stop(again));
  auto bodies = out->bodies();
  std::set<std::string> unique(bodies.begin(), bodies.end());
  EXPECT_EQ(unique.size(), 800u);
  EXPECT_EQ(bodies.size(), 800u) << "records read again after the restart";
  EXPECT_EQ(metric("r2").events_received.load(), 400u);
}

TEST_F(kafka_source, degraded_while_the_brokers_are_down) {
  ASSERT_TRUE(cluster_->create_topic("down", 1));
  auto out = std::make_shared<recorded>();
  auto cfg = config("down");
  auto src = source(cfg, fake(out, false));
  produce(bootstrap_, "down", numbered(0, 10));
  ASSERT_TRUE(wait_until([&] { return out->size() == 10; }, 30s));
  auto& m = metric();
  EXPECT_EQ(m.current_state(), component_state::running);
  auto* mc = static_cast<rd_kafka_mock_cluster_t*>(cluster_->handle());
  rd_kafka_mock_broker_set_down(mc, 1);
  EXPECT_TRUE(wait_until(
      [&] { return m.current_state() == component_state::degraded; }, 30s))
      << m.summary();
  EXPECT_FALSE(m.reason().empty());
  rd_kafka_mock_broker_set_up(mc, 1);
  produce(bootstrap_, "down", numbered(10, 10));
  EXPECT_TRUE(wait_until([&] { return out->size() == 20; }, 60s))
      << out->size();
  EXPECT_TRUE(wait_until(
      [&] { return m.current_state() == component_state::running; }, 30s))
      << m.summary();
  EXPECT_TRUE(stop(src));
  std::set<std::string> unique;
  for (auto& b : out->bodies())
    unique.insert(b);
  EXPECT_EQ(unique.size(), 20u);
}

// -- options -----------------------------------------------------------------

load_result load(const std::string& text) {
  registry r;
  register_builtin(r);
  return load_topology_text(text, "t.yaml", r, probe_scope{false, "a1"});
}

std::string topology(const std::string& source_options,
                     const std::string& sink = "k1: {type: \"null\", "
                                               "channel: c1}") {
  return "agents:\n  a1:\n    sources:\n      r1:\n        type: kafka\n"
         "        channels: [c1]\n" +
         source_options +
         "    channels:\n      c1: {type: memory}\n    sinks:\n      " + sink +
         "\n";
}

std::string all_errors(const load_result& res) {
  std::string out;
  for (auto& e : res.errors)
    out += e.to_string() + "\n";
  return out;
}

TEST(kafka_source_parse, defaults_are_flumes) {
  auto res = load(topology("        bootstrap_servers: b:9092\n"
                           "        topics: [t]\n"));
  ASSERT_TRUE(res.errors.empty()) << all_errors(res);
  registry r;
  register_builtin(r);
  auto node = YAML::Load("{bootstrap_servers: b, topics: t}");
  error_list errors;
  option_reader reader{node, "x", "x.yaml", errors};
  auto cfg = sources::parse_kafka_source(reader);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(cfg.group_id, "flumen");
  EXPECT_EQ(cfg.batch_size, 1000u);
  EXPECT_EQ(cfg.batch_duration, 1000ms);
  EXPECT_TRUE(cfg.set_topic_header);
  EXPECT_EQ(cfg.topic_header, "topic");
  EXPECT_EQ(cfg.topics, (std::vector<std::string>{"t"}));
  auto settings = sources::consumer_settings(cfg, "b:9092");
  EXPECT_EQ(settings["enable.auto.offset.store"], "false");
  EXPECT_EQ(settings["partition.assignment.strategy"], "cooperative-sticky");
  EXPECT_EQ(settings["group.id"], "flumen");
}

TEST(kafka_source_parse, topics_or_topics_regex_exactly_one) {
  auto both = load(topology("        bootstrap_servers: b:9092\n"
                            "        topics: [t]\n"
                            "        topics_regex: 't.*'\n"));
  ASSERT_EQ(both.errors.size(), 1u) << all_errors(both);
  EXPECT_EQ(both.errors[0].to_string(),
            "t.yaml:9:23: agents.a1.sources.r1.topics_regex: give either "
            "topics or topics_regex, not both");
  auto neither = load(topology("        bootstrap_servers: b:9092\n"));
  ASSERT_EQ(neither.errors.size(), 1u) << all_errors(neither);
  EXPECT_NE(neither.errors[0].to_string().find(
                "t.yaml:5:9: agents.a1.sources.r1: missing required key "
                "'topics' (or 'topics_regex')"),
            std::string::npos)
      << neither.errors[0].to_string();
  auto empty = load(topology("        bootstrap_servers: b:9092\n"
                             "        topics: []\n"));
  ASSERT_EQ(empty.errors.size(), 1u) << all_errors(empty);
  EXPECT_NE(empty.errors[0].to_string().find("t.yaml:8:17"), std::string::npos)
      << empty.errors[0].to_string();
  auto bad_name = load(topology("        bootstrap_servers: b:9092\n"
                                "        topics: [ok, 'not ok']\n"));
  ASSERT_EQ(bad_name.errors.size(), 1u) << all_errors(bad_name);
  EXPECT_NE(bad_name.errors[0].to_string().find(
                "'not ok' is not a valid Kafka topic name"),
            std::string::npos);
}

TEST(kafka_source_parse, a_bad_regex_is_refused_with_its_reason) {
  auto res = load(topology("        bootstrap_servers: b:9092\n"
                           "        topics_regex: 'logs-(web'\n"));
  ASSERT_EQ(res.errors.size(), 1u) << all_errors(res);
  auto text = res.errors[0].to_string();
  EXPECT_EQ(text.find("t.yaml:8:23: agents.a1.sources.r1.topics_regex: "
                      "'logs-(web' is not a valid POSIX extended regular "
                      "expression: "),
            0u)
      << text;
  auto good = load(topology("        bootstrap_servers: b:9092\n"
                            "        topics_regex: 'logs-(web|db)'\n"));
  EXPECT_TRUE(good.errors.empty()) << all_errors(good);
}

TEST(kafka_source_parse, consumer_keys_flumen_owns_are_refused) {
  for (auto key : {"group.id", "enable.auto.offset.store", "enable.auto.commit",
                   "bootstrap.servers", "partition.assignment.strategy"}) {
    auto res = load(topology(std::string{"        bootstrap_servers: b\n"
                                         "        topics: [t]\n"
                                         "        consumer: {'"} +
                             key + "': 'x'}\n"));
    ASSERT_EQ(res.errors.size(), 1u) << key << "\n" << all_errors(res);
    EXPECT_NE(res.errors[0].to_string().find(
                  std::string{"t.yaml:9:19: agents.a1.sources.r1.consumer: '"} +
                  key + "' is set by flumen"),
              std::string::npos)
        << res.errors[0].to_string();
  }
  auto unknown = load(topology("        bootstrap_servers: b\n"
                               "        topics: [t]\n"
                               "        consumer: {fetch.wait.max.mss: 10}\n"));
  ASSERT_EQ(unknown.errors.size(), 1u) << all_errors(unknown);
  EXPECT_NE(unknown.errors[0].to_string().find("librdkafka rejects"),
            std::string::npos);
  auto fine = load(topology("        bootstrap_servers: b\n"
                            "        topics: [t]\n"
                            "        consumer: {session.timeout.ms: 10000}\n"));
  EXPECT_TRUE(fine.errors.empty()) << all_errors(fine);
}

// A record up to max_message_size may exceed a channel's byte_capacity:
// the channel lets it in alone, so the file is accepted.
TEST(kafka_source_parse, a_byte_capacity_below_max_message_size_is_accepted) {
  auto text = "agents:\n  a1:\n    sources:\n      r1:\n        type: kafka\n"
              "        channels: [c1]\n        bootstrap_servers: b\n"
              "        topics: [t]\n        max_message_size: 2MB\n"
              "    channels:\n      c1: {type: memory, "
              "byte_capacity: 1MB}\n"
              "    sinks:\n      k1: {type: \"null\", channel: c1}\n";
  auto res = load(text);
  EXPECT_TRUE(res.errors.empty()) << all_errors(res);
}

TEST(kafka_source_parse, a_relay_back_into_its_own_topic_is_warned) {
  auto sink = [](const std::string& extra) {
    return "k1: {type: kafka, channel: c1, bootstrap_servers: 'b:1,c:2', " +
           extra + "}";
  };
  auto source = std::string{"        bootstrap_servers: 'a:0,b:1'\n"
                            "        topics: [in]\n"};
  // The sink takes the topic from the header the source sets: a loop.
  auto res =
      load(topology(source, sink("topic: out, allow_topic_override: true")));
  ASSERT_TRUE(res.errors.empty()) << all_errors(res);
  ASSERT_EQ(res.warnings.size(), 1u);
  EXPECT_NE(res.warnings[0].to_string().find(
                "agents.a1.sinks.k1.allow_topic_override: takes each "
                "event's topic from header 'topic', which kafka source 'r1'"),
            std::string::npos)
      << res.warnings[0].to_string();
  // A placeholder of that header: the same.
  res = load(topology(source, sink("topic: '%{topic}'")));
  ASSERT_EQ(res.warnings.size(), 1u);
  EXPECT_NE(res.warnings[0].to_string().find("sinks.k1.topic: '%{topic}'"),
            std::string::npos)
      << res.warnings[0].to_string();
  // Its fixed topic is one the source reads (a regex, here).
  res = load(topology("        bootstrap_servers: 'b:1'\n"
                      "        topics_regex: 'i.'\n",
                      sink("topic: in")));
  ASSERT_EQ(res.warnings.size(), 1u);
  EXPECT_NE(res.warnings[0].to_string().find("topic 'in' is one kafka source"),
            std::string::npos)
      << res.warnings[0].to_string();
  // No loop: the source sets no header, or another cluster, or another
  // topic, or the header is another one.
  for (auto& [src, snk] : std::vector<std::pair<std::string, std::string>>{
           {source + "        set_topic_header: false\n",
            sink("topic: out, allow_topic_override: true")},
           {"        bootstrap_servers: 'z:9'\n        topics: [in]\n",
            sink("topic: in, allow_topic_override: true")},
           {source, sink("topic: out")},
           {source + "        topic_header: from\n",
            sink("topic: out, allow_topic_override: true")}}) {
    res = load(topology(src, snk));
    EXPECT_TRUE(res.errors.empty()) << all_errors(res);
    EXPECT_TRUE(res.warnings.empty()) << src << snk << "\n"
                                      << res.warnings[0].to_string();
  }
}

} // namespace
