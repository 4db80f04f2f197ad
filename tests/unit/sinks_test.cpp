// Sinks fed from a real memory channel.

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/mount.h>

#include <librdkafka/rdkafka.h>

#include "actors/sinks/file_roll.hpp"
#include "actors/sinks/kafka.hpp"
#include "actors/sinks/logger.hpp"
#include "actors/sinks/null.hpp"
#include "runtime/flow/sink_gate.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/actor_test_support.hpp"

using namespace flumen;
using namespace flumen::sinks;
using namespace flumen::test;

namespace fs = std::filesystem;

namespace {

struct sink_test : actor_test {
  wiring sink_wiring(const std::string& type, const caf::actor& ch) {
    auto w = wire("sinks", "k1", type);
    w.channel = ch;
    return w;
  }

  /// Requests a graceful stop; true when it was answered and the sink then
  /// exited normally.
  bool stop_and_wait(const caf::actor& sink) {
    self->monitor(sink);
    bool answered = false;
    self->request(sink, 10s, stop_atom::value)
        .receive([&](ok_atom) { answered = true; },
                 [&](caf::error& err) {
                   ADD_FAILURE() << "stop: " << sys.render(err);
                 });
    std::optional<caf::error> reason;
    self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                  caf::after(10s) >> [] {});
    return answered && reason && !*reason;
  }

  /// The files in `where` (default: `dir`) by name, and their contents.
  std::map<std::string, std::string> files(std::string where = {}) const {
    std::map<std::string, std::string> out;
    for (auto& entry : fs::directory_iterator(where.empty() ? dir : where)) {
      std::ifstream in{entry.path(), std::ios::binary};
      std::stringstream text;
      text << in.rdbuf();
      out[entry.path().filename().string()] = text.str();
    }
    return out;
  }

  bool committed(uint64_t n) {
    auto m = registry_.find("a1.channels.c1");
    return wait_until([&] { return m->events_committed.load() == n; });
  }

  temp_dir tmp_{"flumen-sink"};
  std::string dir = tmp_.string();
};

std::string lines(std::size_t first, std::size_t n) {
  std::string out;
  for (auto i = first; i < first + n; ++i)
    out += "e" + std::to_string(i) + "\n";
  return out;
}

} // namespace

// -- every sink type in a sink group
// ------------------------------------------------------------------------

// Each sink consults its group's gate (its wiring carries it): second in
// a failover group it takes nothing while the first can work, and
// everything once it cannot. (The sync sinks once made a wiring of their
// own, and took as if in no group.)
TEST_F(sink_test, every_sink_type_takes_only_when_its_group_lets_it) {
  using maker = std::function<caf::actor(const wiring&)>;
  std::vector<std::pair<std::string, maker>> types = {
      {"null", [&](const wiring& w) { return spawn_null(sys, {}, w); }},
      {"logger", [&](const wiring& w) { return spawn_logger(sys, {}, w); }},
      {"file_roll",
       [&](const wiring& w) {
         file_roll_config cfg;
         cfg.directory = dir;
         return spawn_file_roll(sys, cfg, w);
       }},
  };
  for (auto& [type, make] : types) {
    SCOPED_TRACE(type);
    auto ch = channel(channel_config(1000, 100, 50ms), "c_" + type);
    ASSERT_FALSE(put(self, ch, numbered(0, 20)));
    sink_group_spec g;
    g.name = "g1";
    g.sinks = {"preferred", "k1"};
    g.priority = {10, 5};
    auto gate = std::make_shared<sink_gate>(g);
    auto preferred = std::make_shared<component_metrics>();
    preferred->set_state(component_state::running);
    gate->attach(0, preferred);
    auto w = sink_wiring(type, ch);
    w.metrics = metrics_of("sinks", "k1_" + type, type);
    w.gate = gate;
    w.gate_member = 1;
    auto sink = track(make(w));
    ASSERT_TRUE(wait_until([&] { return gate->asks(1) >= 2; }));
    EXPECT_EQ(w.metrics->events_taken.load(), 0u);
    preferred->set_state(component_state::failed);
    EXPECT_TRUE(wait_until(
        [&] { return w.metrics->events_committed.load() == 20; }, 10s));
    EXPECT_TRUE(stop_and_wait(sink));
  }
}

// -- null
// ------------------------------------------------------------------------

TEST_F(sink_test, null_takes_and_commits_everything) {
  auto ch = channel(channel_config(1000, 100, 50ms));
  for (int i = 0; i < 5; ++i)
    ASSERT_FALSE(put(self, ch, numbered(i * 50, 50)));
  null_config cfg;
  cfg.batch_size = 100;
  auto sink = track(spawn_null(sys, cfg, sink_wiring("null", ch)));
  ASSERT_TRUE(committed(250));
  auto m = registry_.find("a1.sinks.k1");
  EXPECT_TRUE(wait_until([&] { return m->events_committed.load() == 250; }));
  EXPECT_EQ(m->events_taken.load(), 250u);
  EXPECT_GE(m->batches.load(), 3u);
  EXPECT_EQ(m->current_state(), component_state::running);
  // It keeps taking: later events go too.
  ASSERT_FALSE(put(self, ch, numbered(250, 10)));
  ASSERT_TRUE(committed(260));
  EXPECT_TRUE(stop_and_wait(sink));
  EXPECT_EQ(m->current_state(), component_state::stopped);
  auto cm = registry_.find("a1.channels.c1");
  EXPECT_EQ(cm->channel_size.load(), 0u);
  EXPECT_EQ(cm->open_transactions.load(), 0u);
}

TEST_F(sink_test, a_sink_quits_with_an_error_when_its_channel_is_gone) {
  auto ch = channel(channel_config(10, 10, 10s));
  auto sink = track(spawn_null(sys, null_config{}, sink_wiring("null", ch)));
  self->monitor(sink);
  ASSERT_FALSE(put(self, ch, numbered(0, 1)));
  ASSERT_TRUE(committed(1));
  // Its next take is (all but certainly) held by the empty channel when the
  // channel dies: a held take is never answered.
  caf::anon_send_exit(ch, caf::exit_reason::kill);
  std::optional<caf::error> reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(5s) >> [] {});
  ASSERT_TRUE(reason) << "a sink must not wait forever for a dead channel";
  EXPECT_TRUE(*reason) << "an error, so its supervisor restarts it";
}

// -- file_roll
// -------------------------------------------------------------------

TEST_F(sink_test, file_roll_writes_every_event_as_a_line) {
  ASSERT_FALSE(dir.empty());
  auto ch = channel(channel_config(1000, 100, 50ms));
  for (int i = 0; i < 3; ++i)
    ASSERT_FALSE(put(self, ch, numbered(i * 40, 40)));
  file_roll_config cfg;
  cfg.directory = dir + "/out"; // created on demand
  cfg.roll_interval = 0ms;
  cfg.prefix = "events-";
  cfg.batch_size = 50;
  auto sink = track(spawn_file_roll(sys, cfg, sink_wiring("file_roll", ch)));
  ASSERT_TRUE(committed(120));
  EXPECT_TRUE(stop_and_wait(sink));
  auto out = files(dir + "/out");
  ASSERT_EQ(out.size(), 1u) << "roll_interval 0 never rolls";
  EXPECT_EQ(out.begin()->first.rfind("events-", 0), 0u) << out.begin()->first;
  EXPECT_EQ(out.begin()->second, lines(0, 120));
}

TEST_F(sink_test, file_roll_writes_headers_and_body) {
  ASSERT_FALSE(dir.empty());
  auto ch = channel(channel_config(100, 100, 50ms));
  ASSERT_FALSE(put(self, ch,
                   {make_event("plain", {{"a", "1"}, {"b", "2"}}),
                    make_event(std::string{"bin\0\x01\xff", 6}),
                    make_event(std::string(40, 'z'))}));
  file_roll_config cfg;
  cfg.directory = dir;
  cfg.format = "header_and_body";
  auto sink = track(spawn_file_roll(sys, cfg, sink_wiring("file_roll", ch)));
  ASSERT_TRUE(committed(3));
  EXPECT_TRUE(stop_and_wait(sink));
  auto out = files();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out.begin()->second, "{a=1, b=2} plain\n"
                                 "{} bin\\x00\\x01\\xff\n"
                                 "{} " +
                                     std::string(40, 'z') + "\n")
      << "whole bodies: no cut at the logger's 16 bytes";
}

TEST_F(sink_test, file_roll_rolls_after_roll_interval) {
  ASSERT_FALSE(dir.empty());
  auto ch = channel(channel_config(100, 100, 20ms));
  file_roll_config cfg;
  cfg.directory = dir;
  cfg.roll_interval = 50ms;
  auto sink = track(spawn_file_roll(sys, cfg, sink_wiring("file_roll", ch)));
  ASSERT_FALSE(put(self, ch, numbered(0, 5)));
  ASSERT_TRUE(committed(5));
  auto first_written = std::chrono::steady_clock::now();
  ASSERT_EQ(files().size(), 1u);
  // The interval has to pass (a condition on the clock, not a nap).
  wait_until(
      [&] { return std::chrono::steady_clock::now() - first_written >= 60ms; });
  ASSERT_FALSE(put(self, ch, numbered(5, 5)));
  ASSERT_TRUE(committed(10));
  EXPECT_TRUE(stop_and_wait(sink));
  auto out = files();
  ASSERT_EQ(out.size(), 2u);
  std::string all;
  for (auto& [name, text] : out)
    all += text;
  EXPECT_EQ(out.begin()->second, lines(0, 5));
  EXPECT_EQ(all, lines(0, 10));
}

TEST_F(sink_test, file_roll_rolls_back_what_it_cannot_write) {
  ASSERT_FALSE(dir.empty());
  std::ofstream{dir + "/blocker"} << "a file, not a directory";
  auto ch = channel(channel_config(100, 100, 20ms));
  ASSERT_FALSE(put(self, ch, numbered(0, 5)));
  file_roll_config cfg;
  cfg.directory = dir + "/blocker/out";
  auto sink = track(spawn_file_roll(sys, cfg, sink_wiring("file_roll", ch)));
  auto cm = registry_.find("a1.channels.c1");
  ASSERT_TRUE(wait_until([&] { return cm->events_rolled_back.load() >= 5; }));
  EXPECT_EQ(cm->events_committed.load(), 0u);
  EXPECT_TRUE(stop_and_wait(sink)) << "a stop ends the retries";
  EXPECT_EQ(cm->channel_size.load(), 5u) << "nothing lost";
  EXPECT_EQ(cm->open_transactions.load(), 0u);
  auto t = take(self, ch, 10);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->events, numbered(0, 5));
}

// On a full disk file_roll used to write a torn line and then the whole
// batch again (85 duplicates on a 1 MiB tmpfs that was then grown). A failed
// batch now leaves the file as it was: after the disk grows, every line is
// there exactly once and none is torn. Needs root (mounts a tmpfs).
TEST_F(sink_test, file_roll_after_a_full_disk_has_no_torn_line_nor_duplicate) {
  ASSERT_FALSE(dir.empty());
  auto mnt = dir + "/disk";
  fs::create_directories(mnt);
  ASSERT_EQ(::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k"), 0)
      << "mounting a tmpfs needs root: " << std::strerror(errno);
  struct unmount {
    std::string path;
    ~unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } guard{mnt};
  constexpr int total = 2000; // 2000 lines of 100 bytes: 200 KB > 64 KB
  auto ch = channel(channel_config(total, 50, 20ms));
  batch events;
  for (int i = 0; i < total; ++i) {
    auto n = std::to_string(i);
    events.push_back(make_event(std::string(99 - n.size(), '.') + n));
  }
  ASSERT_FALSE(put(self, ch, std::move(events)));
  file_roll_config cfg;
  cfg.directory = mnt;
  cfg.batch_size = 50;
  auto sink = track(spawn_file_roll(sys, cfg, sink_wiring("file_roll", ch)));
  auto cm = registry_.find("a1.channels.c1");
  ASSERT_TRUE(wait_until([&] { return cm->events_rolled_back.load() > 0; }))
      << "the disk never filled";
  auto committed = cm->events_committed.load();
  EXPECT_LT(committed, static_cast<uint64_t>(total));
  // Grow the disk: the retries go through.
  ASSERT_EQ(::mount("tmpfs", mnt.c_str(), "tmpfs", MS_REMOUNT, "size=1m"), 0)
      << std::strerror(errno);
  ASSERT_TRUE(
      wait_until([&] { return cm->events_committed.load() == total; }, 20s))
      << cm->summary();
  EXPECT_TRUE(stop_and_wait(sink));
  std::vector<int> seen(total, 0);
  std::size_t lines = 0;
  for (auto& f : fs::directory_iterator(mnt)) {
    std::ifstream in{f.path()};
    for (std::string line; std::getline(in, line);) {
      ++lines;
      ASSERT_EQ(line.size(), 99u) << "a torn line: '" << line << "'";
      auto i = std::stoi(line.substr(line.find_last_of('.') + 1));
      ASSERT_LT(i, total);
      ++seen[i];
    }
  }
  EXPECT_EQ(lines, static_cast<std::size_t>(total)) << "no duplicates";
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), total);
}

TEST_F(sink_test, parse_file_roll_reads_options_and_errors) {
  error_list errors;
  auto node = YAML::Load("directory: /tmp/x\nroll_interval: 5m\n"
                         "format: header_and_body\nprefix: p-\nsync: true\n");
  option_reader r{node, "agents.a1.sinks.k1", "t.yaml", errors};
  auto cfg = parse_file_roll(r);
  r.finish();
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(cfg.directory, "/tmp/x");
  EXPECT_EQ(cfg.roll_interval, std::chrono::minutes{5});
  EXPECT_EQ(cfg.format, "header_and_body");
  EXPECT_EQ(cfg.prefix, "p-");
  EXPECT_TRUE(cfg.sync);
  auto bad = YAML::Load("format: json\n");
  option_reader r2{bad, "agents.a1.sinks.k1", "t.yaml", errors};
  parse_file_roll(r2);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].message, "missing required key 'directory'");
  EXPECT_EQ(errors[1].to_string(),
            "t.yaml:1:9: agents.a1.sinks.k1.format: must be one of: line, "
            "header_and_body");
}

// -- logger
// ----------------------------------------------------------------------

TEST(logger_describe, prints_headers_and_body) {
  // Headers in the order they were set.
  EXPECT_EQ(describe(make_event("hello", {{"b", "2"}, {"a", "1"}}), 16),
            "{b=2, a=1} hello");
  EXPECT_EQ(describe(make_event(""), 16), "{} ");
}

TEST(logger_describe, cuts_the_body_at_max_body_bytes) {
  EXPECT_EQ(describe(make_event("0123456789abcdefXYZ"), 16),
            "{} 0123456789abcdef...");
  EXPECT_EQ(describe(make_event("0123456789abcdef"), 16),
            "{} 0123456789abcdef");
  EXPECT_EQ(describe(make_event("abc"), 0), "{} ...");
}

TEST(logger_describe, escapes_non_printable_bytes) {
  EXPECT_EQ(describe(make_event(std::string{"a\0\n\x1f \x7f\x80\xff~", 9}), 16),
            "{} a\\x00\\x0a\\x1f \\x7f\\x80\\xff~");
  // The cut counts bytes of the body, not of the escaped text.
  EXPECT_EQ(describe(make_event(std::string{"\x01\x02\x03", 3}), 2),
            "{} \\x01\\x02...");
}

TEST_F(sink_test, logger_takes_and_commits_everything) {
  auto ch = channel(channel_config(100, 100, 50ms));
  ASSERT_FALSE(put(self, ch, numbered(0, 7)));
  logger_config cfg;
  cfg.batch_size = 3;
  auto sink = track(spawn_logger(sys, cfg, sink_wiring("logger", ch)));
  ASSERT_TRUE(committed(7));
  auto m = registry_.find("a1.sinks.k1");
  EXPECT_TRUE(wait_until([&] { return m->batches.load() == 3; }));
  EXPECT_TRUE(stop_and_wait(sink));
}

TEST_F(sink_test, parse_logger_reads_options) {
  error_list errors;
  auto node = YAML::Load("batch_size: 5\nmax_body_bytes: 0\n");
  option_reader r{node, "agents.a1.sinks.k1", "t.yaml", errors};
  auto cfg = parse_logger(r);
  r.finish();
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(cfg.batch_size, 5u);
  EXPECT_EQ(cfg.max_body_bytes, 0u);
  auto bad = YAML::Load("max_body_bytes: -1\n");
  option_reader r2{bad, "agents.a1.sinks.k1", "t.yaml", errors};
  EXPECT_EQ(parse_logger(r2).max_body_bytes, 16u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "must be at least 0");
}

// -- kafka sink: pure helpers ---------------------------------------------

TEST(kafka_format, placeholders_are_filled_from_headers) {
  header_map h{{"env", "prod"}, {"app", "web"}};
  EXPECT_EQ(sinks::expand_placeholders("logs-%{env}-%{app}", h),
            "logs-prod-web");
  EXPECT_EQ(sinks::expand_placeholders("logs-%{missing}", h), "logs-");
  EXPECT_EQ(sinks::expand_placeholders("plain", h), "plain");
  EXPECT_EQ(sinks::expand_placeholders("open-%{env", h), "open-%{env");
}

TEST(kafka_format, json_envelope_escapes_headers_and_body) {
  event e;
  e.headers.insert_or_assign("k", "v\"q");
  e.body = std::string{"line\n\x01", 6};
  EXPECT_EQ(sinks::json_envelope(e),
            R"({"headers":{"k":"v\"q"},"body":"line\n\u0001"})");
}

// Flume's useFlumeEventFormat: the AvroFlumeEvent datum, headers then body.
// {k: v}, "x" is: a block of 1 entry (02), "k" (02 6b), "v" (02 76), the
// map's end (00), then the body "x" (02 78). No headers: an empty map (00).
TEST(kafka_format, flume_avro_envelope_is_flumes_datum) {
  event e;
  e.headers.insert_or_assign("k", "v");
  e.body = "x";
  EXPECT_EQ(sinks::flume_event_envelope(e),
            std::string("\x02\x02k\x02v\x00\x02x", 8));
  e.headers.clear();
  e.body = std::string{"\0\xff", 2};
  EXPECT_EQ(sinks::flume_event_envelope(e), std::string("\x00\x04\0\xff", 4));
}

// "café" used to arrive as "cafÃ©" (each byte escaped as a code point).
TEST(kafka_format, json_envelope_keeps_utf8_and_replaces_invalid_bytes) {
  event e;
  e.headers.insert_or_assign("city", "Zürich");
  e.body = "café";
  EXPECT_EQ(sinks::json_envelope(e),
            "{\"headers\":{\"city\":\"Zürich\"},\"body\":\"café\"}");
  e.headers.clear();
  e.body = std::string{"a\xff\xfe b"};
  EXPECT_EQ(sinks::json_envelope(e),
            "{\"headers\":{},\"body\":\"a\xef\xbf\xbd\xef\xbf\xbd b\"}")
      << "bytes that are not UTF-8 become U+FFFD";
}

TEST(kafka_format, only_a_records_own_errors_are_permanent) {
  using sinks::classify;
  using sinks::error_class;
  // The record's own fault, wherever its topic came from.
  EXPECT_EQ(classify(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, false, false),
            error_class::record);
  EXPECT_EQ(classify(RD_KAFKA_RESP_ERR_INVALID_RECORD, false, false),
            error_class::record);
  // Topic errors: the record's only when the event chose the topic; for
  // the configured topic they are the cluster's (an ACL mistake must not
  // drop the whole stream).
  for (auto err :
       {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION, RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC}) {
    EXPECT_EQ(classify(err, false, false), error_class::passing) << err;
    EXPECT_EQ(classify(err, true, false), error_class::record) << err;
  }
  EXPECT_EQ(classify(RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION, false, false),
            error_class::passing);
  EXPECT_EQ(classify(RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION, false, true),
            error_class::record);
  EXPECT_EQ(classify(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, true, true),
            error_class::passing);
  EXPECT_EQ(classify(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, false, false),
            error_class::passing);
  EXPECT_EQ(classify(RD_KAFKA_RESP_ERR__FATAL, false, false),
            error_class::fatal);
}

TEST(kafka_format, topic_names_follow_kafkas_rule) {
  EXPECT_TRUE(sinks::valid_topic_name("logs.app-1_x"));
  EXPECT_FALSE(sinks::valid_topic_name(""));
  EXPECT_FALSE(sinks::valid_topic_name("."));
  EXPECT_FALSE(sinks::valid_topic_name(".."));
  EXPECT_FALSE(sinks::valid_topic_name("a b"));
  EXPECT_FALSE(sinks::valid_topic_name("%{nosuchheader}"));
  EXPECT_TRUE(sinks::valid_topic_name(std::string(249, 'a')));
  EXPECT_FALSE(sinks::valid_topic_name(std::string(250, 'a')));
}

// -- kafka: what librdkafka would refuse at start is a config error --------

namespace {

std::vector<std::string> kafka_errors(const std::string& yaml) {
  error_list errors;
  auto node = YAML::Load(yaml);
  option_reader r{node, "agents.a1.sinks.k1", "t.yaml", errors};
  parse_kafka(r);
  r.finish();
  std::vector<std::string> out;
  for (auto& e : errors)
    out.push_back(e.to_string());
  return out;
}

bool has_error(const std::vector<std::string>& errors, const std::string& key,
               const std::string& text) {
  for (auto& e : errors)
    if (e.find("agents.a1.sinks.k1." + key + ":") != std::string::npos &&
        e.find(text) != std::string::npos)
      return true;
  return false;
}

const std::string kafka_base = "bootstrap_servers: localhost:9092\n";

} // namespace

TEST(kafka_parse, a_valid_sink_has_no_errors) {
  EXPECT_TRUE(kafka_errors(kafka_base + "topic: logs\n").empty());
  EXPECT_TRUE(kafka_errors(kafka_base + "topic: logs-%{app}.x\n").empty());
}

TEST(kafka_parse, acks_1_against_forced_idempotence) {
  auto errors = kafka_errors(kafka_base + "topic: t\nproducer: {acks: '1'}\n");
  EXPECT_TRUE(has_error(errors, "producer", "idempotence"))
      << testing::PrintToString(errors);
  // Idempotence off: acks 1 is fine.
  EXPECT_TRUE(kafka_errors(kafka_base + "topic: t\nproducer: {acks: '1', "
                                        "enable.idempotence: 'false'}\n")
                  .empty());
}

TEST(kafka_parse, a_batch_size_librdkafka_refuses) {
  auto errors = kafka_errors(kafka_base + "topic: t\nbatch_size: 999999999\n");
  EXPECT_TRUE(has_error(errors, "batch_size", "must be at most 1000000"))
      << testing::PrintToString(errors);
}

TEST(kafka_parse, a_client_queue_below_the_sinks_window) {
  auto errors = kafka_errors(
      kafka_base + "topic: t\nbatch_size: 1000\nmax_inflight: 4\n"
                   "producer: {queue.buffering.max.messages: '100'}\n");
  EXPECT_TRUE(has_error(errors, "producer", "below the sink's window"))
      << testing::PrintToString(errors);
}

TEST(kafka_parse, byte_bounds) {
  EXPECT_TRUE(has_error(kafka_errors(kafka_base + "topic: t\nbatch_bytes: 2MB\n"
                                                  "max_inflight_bytes: 1MB\n"),
                        "max_inflight_bytes", "must be at least batch_bytes"));
  EXPECT_TRUE(has_error(kafka_errors(kafka_base + "topic: t\nbatch_bytes: 0\n"),
                        "batch_bytes", "at least 1"));
  EXPECT_TRUE(has_error(
      kafka_errors(kafka_base +
                   "topic: t\nmax_inflight_bytes: 64MB\n"
                   "producer: {queue.buffering.max.kbytes: '1024'}\n"),
      "producer", "below the sink's window in bytes"));
  EXPECT_TRUE(kafka_errors(kafka_base + "topic: t\nbatch_bytes: 64KB\n"
                                        "max_inflight_bytes: 4MB\n")
                  .empty());
  // The client queue is twice the window in bytes: max_inflight_bytes plus
  // one batch or record (message.max.bytes) more.
  flumen::sinks::kafka_config cfg;
  auto settings = flumen::sinks::producer_settings(cfg, "x:1");
  EXPECT_EQ(settings.at("queue.buffering.max.kbytes"),
            std::to_string(2 * ((2u << 20) + 1000000u) / 1024 + 1));
}

// A transaction is one of librdkafka's batches: batch_bytes follows the
// producer's batch.size unless stated; Nagle is off as in Kafka's Java
// client.
TEST(kafka_parse, batch_bytes_follows_librdkafkas_batch_size) {
  auto parse = [](const std::string& yaml) {
    error_list errors;
    auto node = YAML::Load(yaml);
    option_reader r{node, "agents.a1.sinks.k1", "t.yaml", errors};
    auto cfg = parse_kafka(r);
    r.finish();
    EXPECT_TRUE(errors.empty()) << yaml;
    return cfg;
  };
  EXPECT_EQ(parse(kafka_base + "topic: t\n").batch_bytes, 1000000u);
  EXPECT_EQ(parse(kafka_base + "topic: t\nproducer: {batch.size: '500000'}\n")
                .batch_bytes,
            500000u);
  EXPECT_EQ(parse(kafka_base + "topic: t\nbatch_bytes: 64KB\n"
                               "producer: {batch.size: '500000'}\n")
                .batch_bytes,
            65536u);
  // librdkafka's batch is also bounded by message.max.bytes, and the
  // default by the window in bytes (no error for what was not stated).
  EXPECT_EQ(
      parse(kafka_base + "topic: t\nproducer: {message.max.bytes: '200000'}\n")
          .batch_bytes,
      200000u);
  EXPECT_EQ(
      parse(kafka_base + "topic: t\nmax_inflight_bytes: 512KB\n").batch_bytes,
      524288u);
  // Records per transaction follow batch.num.messages the same way.
  EXPECT_EQ(parse(kafka_base + "topic: t\n").batch_size, 10000u);
  EXPECT_EQ(
      parse(kafka_base + "topic: t\nproducer: {batch.num.messages: '500'}\n")
          .batch_size,
      500u);
  EXPECT_EQ(parse(kafka_base + "topic: t\nbatch_size: 2000\n"
                               "producer: {batch.num.messages: '500'}\n")
                .batch_size,
            2000u);
  auto settings =
      flumen::sinks::producer_settings(parse(kafka_base + "topic: t\n"), "x:1");
  EXPECT_EQ(settings.at("socket.nagle.disable"), "true");
}

// A topic longer than Kafka's 249 characters crashed the sink (SIGSEGV).
TEST(kafka_parse, topic_names_kafka_refuses) {
  EXPECT_TRUE(has_error(
      kafka_errors(kafka_base + "topic: " + std::string(250, 'a') + "\n"),
      "topic", "not a valid Kafka topic name"));
  EXPECT_TRUE(has_error(kafka_errors(kafka_base + "topic: 'a b'\n"), "topic",
                        "not a valid Kafka topic name"));
  EXPECT_TRUE(has_error(kafka_errors(kafka_base + "topic: 'x %{h}'\n"), "topic",
                        "placeholders"));
  EXPECT_TRUE(has_error(kafka_errors(kafka_base + "topic: 't-%{}'\n"), "topic",
                        "names no header"));
  EXPECT_TRUE(has_error(
      kafka_errors(kafka_base + "topic: '%{h}'\ndefault_topic: 'no good'\n"),
      "default_topic", "not a valid Kafka topic name"));
}
