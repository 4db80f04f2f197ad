// Whole pipelines (sources -> interceptors -> memory -> kafka) against
// librdkafka's in-process Kafka cluster, read back with a real consumer.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "tests/integration/pipeline_fixture.hpp"
#include "tests/support/kafka.hpp"
#include "tests/support/wait.hpp"

using namespace flumen;
using namespace std::chrono_literals;
using test::connect_to;
using test::expect_all_seq;
using test::free_port;
using test::pipeline;
using test::replace_all;

namespace {

// The embedded cluster answers without Nagle's algorithm, as a Kafka broker
// does: its listening sockets have TCP_NODELAY, which Linux hands on to the
// connections they accept (shown here on a socket of our own, since the
// cluster's accepted sockets are out of reach).
TEST(embedded_kafka, brokers_accept_connections_without_nagle) {
  sinks::embedded_kafka cluster{3};
  EXPECT_EQ(cluster.listeners_without_nagle(), 3);

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  int one = 1;
  ASSERT_EQ(setsockopt(listener, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)),
            0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  ASSERT_EQ(listen(listener, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  int accepted = accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  int nodelay = 0;
  socklen_t optlen = sizeof(nodelay);
  ASSERT_EQ(getsockopt(accepted, IPPROTO_TCP, TCP_NODELAY, &nodelay, &optlen),
            0);
  EXPECT_NE(nodelay, 0);
  close(accepted);
  close(client);
  close(listener);
}

TEST_F(pipeline, seq_through_interceptors_arrives_complete_with_headers) {
  constexpr uint64_t count = 20000;
  ASSERT_TRUE(cluster_->create_topic("seq_topic", 16));
  auto& a = start(R"(
agents:
  a1:
    sources:
      r1:
        type: seq
        count: 20000
        batch_size: 500
        channels: [c1]
        interceptors:
          - type: timestamp
          - type: host
            use_ip: false
          - type: static
            key: env
            value: test
    channels:
      c1: {type: memory, capacity: 5000, transaction_capacity: 1000}
    sinks:
      k1:
        type: kafka
        channel: c1
        bootstrap_servers: BOOTSTRAP
        topic: seq_topic
        batch_size: 1000
)");
  auto& sink = metric("a1.sinks.k1");
  ASSERT_TRUE(test::wait_until(
      [&] { return sink.events_committed.load() >= count; }, 60s))
      << sink.summary();
  EXPECT_TRUE(a.sources_done());
  EXPECT_EQ(a.stop(10s), 0u);
  auto records =
      test::consume(cluster_->bootstrap_servers(), "seq_topic", count);
  ASSERT_EQ(records.size(), count);
  EXPECT_EQ(expect_all_seq(records, count), 0u);
  for (auto& r : records) {
    EXPECT_EQ(r.headers["seq"], r.value);
    EXPECT_EQ(r.headers["env"], "test");
    EXPECT_FALSE(r.headers["host"].empty());
    EXPECT_GT(std::stoll(r.headers["timestamp"]), 1600000000000);
  }
}

TEST_F(pipeline, key_partition_and_topic_headers_are_honoured) {
  ASSERT_TRUE(cluster_->create_topic("main_topic", 8));
  ASSERT_TRUE(cluster_->create_topic("other_topic", 8));
  start(R"(
agents:
  a1:
    sources:
      keyed:
        type: seq
        count: 100
        channels: [c1]
        interceptors:
          - {type: static, key: key, value: user-42}
          - {type: static, key: part, value: "5"}
      moved:
        type: seq
        count: 50
        start: 1000
        channels: [c1]
        interceptors:
          - {type: static, key: topic, value: other_topic}
    channels:
      c1: {type: memory}
    sinks:
      k1:
        type: kafka
        channel: c1
        bootstrap_servers: BOOTSTRAP
        topic: main_topic
        partition_header: part
        allow_topic_override: true
)");
  auto& sink = metric("a1.sinks.k1");
  ASSERT_TRUE(test::wait_until(
      [&] { return sink.events_committed.load() >= 150; }, 30s));
  auto main = test::consume(cluster_->bootstrap_servers(), "main_topic", 100);
  ASSERT_EQ(main.size(), 100u);
  for (auto& r : main) {
    EXPECT_EQ(r.key, "user-42");
    EXPECT_EQ(r.partition, 5);
  }
  auto other = test::consume(cluster_->bootstrap_servers(), "other_topic", 50);
  ASSERT_EQ(other.size(), 50u);
  for (auto& r : other)
    EXPECT_GE(std::stoi(r.value), 1000);
}

// The sink stalls (every broker down): the netcat source stops reading, the
// client is pushed back by TCP, the process's memory stays flat; when the
// brokers come back, every line arrives.
TEST_F(pipeline, stalled_kafka_pushes_back_to_tcp_client_and_loses_nothing) {
  constexpr std::size_t lines = 200000;
  constexpr std::size_t line_size = 100; // including '\n'
  ASSERT_TRUE(cluster_->create_topic("logs", 16));
  for (int id = 1; id <= 3; ++id)
    rd_kafka_mock_broker_set_down(mock(), id);
  auto port = free_port();
  start(replace_all(R"(
agents:
  a1:
    sources:
      r1: {type: netcat, port: PORT, batch_size: 500, channels: [c1]}
    channels:
      c1: {type: memory, capacity: 2000, transaction_capacity: 1000}
    sinks:
      k1:
        type: kafka
        channel: c1
        bootstrap_servers: BOOTSTRAP
        topic: logs
        batch_size: 500
)",
                    "PORT", std::to_string(port)));
  int fd = connect_to(port);
  ASSERT_GE(fd, 0);
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  std::string payload;
  payload.reserve(lines * line_size);
  for (std::size_t i = 0; i < lines; ++i) {
    auto num = std::to_string(i);
    payload += num;
    payload.append(line_size - 1 - num.size(), ' ');
    payload += '\n';
  }
  std::size_t sent = 0;
  auto send_some = [&] {
    while (sent < payload.size()) {
      auto n = ::send(fd, payload.data() + sent, payload.size() - sent,
                      MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  };
  auto rss_before = test::rss_bytes();
  // Keep writing for 3 s while Kafka is away.
  auto until = std::chrono::steady_clock::now() + 3s;
  std::size_t rss_peak = rss_before;
  while (std::chrono::steady_clock::now() < until) {
    send_some();
    rss_peak = std::max(rss_peak, test::rss_bytes());
    std::this_thread::sleep_for(10ms);
  }
  auto& channel = metric("a1.channels.c1");
  std::cout << "while Kafka was away: client wrote " << sent << " of "
            << payload.size() << " bytes; RSS grew by "
            << (rss_peak - rss_before) / 1024 << " KiB\n";
  EXPECT_LT(sent, payload.size() / 2)
      << "the client was not pushed back: " << sent << " bytes accepted";
  EXPECT_LE(channel.channel_size.load(), 2000u);
  EXPECT_LT(rss_peak - rss_before, 40u * 1024 * 1024)
      << "memory grew while Kafka was away";
  // Kafka is back: everything flows.
  for (int id = 1; id <= 3; ++id)
    rd_kafka_mock_broker_set_up(mock(), id);
  ASSERT_TRUE(test::wait_until(
      [&] {
        send_some();
        return sent == payload.size();
      },
      60s));
  ::close(fd);
  auto& sink = metric("a1.sinks.k1");
  ASSERT_TRUE(test::wait_until(
      [&] { return sink.events_committed.load() >= lines; }, 60s))
      << sink.summary();
  auto records = test::consume(cluster_->bootstrap_servers(), "logs", lines);
  EXPECT_EQ(expect_all_seq(records, lines), 0u);
}

// The Kafka sink is killed again and again during a stream; its
// supervisor restarts it with backoff and nothing is lost.
TEST_F(pipeline, killed_sink_is_restarted_and_nothing_is_lost) {
  constexpr uint64_t count = 60000;
  ASSERT_TRUE(cluster_->create_topic("kills", 16));
  auto& a = start(R"(
agents:
  a1:
    sources:
      r1: {type: seq, count: 60000, rate: 30000, batch_size: 200, channels: [c1]}
    channels:
      c1: {type: memory, capacity: 5000}
    sinks:
      k1:
        type: kafka
        channel: c1
        bootstrap_servers: BOOTSTRAP
        topic: kills
        batch_size: 500
)");
  auto& sink = metric("a1.sinks.k1");
  constexpr int kills = 4;
  for (int i = 0; i < kills; ++i) {
    caf::actor current;
    ASSERT_TRUE(test::wait_until([&] {
      current = a.component("sinks.k1");
      return current && sink.events_taken.load() > 0;
    }));
    caf::anon_send_exit(current, caf::exit_reason::kill);
    ASSERT_TRUE(test::wait_until([&] {
      auto next = a.component("sinks.k1");
      return next && next != current;
    })) << "sink not restarted";
  }
  EXPECT_EQ(sink.restarts.load(), static_cast<uint64_t>(kills));
  auto& channel = metric("a1.channels.c1");
  ASSERT_TRUE(test::wait_until(
      [&] {
        return a.sources_done() && channel.events_committed.load() >= count;
      },
      60s))
      << channel.summary();
  EXPECT_EQ(a.stop(10s), 0u);
  auto records =
      test::consume(cluster_->bootstrap_servers(), "kills", count, 20s);
  auto dupes = expect_all_seq(records, count);
  std::cout << "duplicates after " << kills << " kills: " << dupes << '\n';
}

} // namespace

namespace {

// A record larger than the producer accepts sits in the middle of a
// stream: it goes to the dead-letter channel (here written to files) with
// headers saying why, every other event is delivered, and each partition
// keeps the order of the rest.
TEST_F(pipeline, poison_event_is_dead_lettered_and_the_rest_delivered) {
  ASSERT_TRUE(cluster_->create_topic("poison", 8));
  auto dir = std::string{"/tmp/flumen-dlq-"} + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  auto& a = start(replace_all(R"(
agents:
  a1:
    sources:
      r1:
        type: exec
        command: "awk 'BEGIN { for (i = 1; i <= 5000; i++) if (i == 2500) printf \"%0200000d\\n\", i; else print i }'"
        max_line_length: 300000
        channels: [c1]
    channels:
      c1: {type: memory}
      dlq: {type: memory}
    sinks:
      k1:
        type: kafka
        channel: c1
        bootstrap_servers: BOOTSTRAP
        topic: poison
        batch_size: 500
        on_permanent_error: dead_letter
        dead_letter_channel: dlq
        producer: {message.max.bytes: "100000"}
      dead:
        type: file_roll
        channel: dlq
        directory: DIR
        format: header_and_body
)",
                              "DIR", dir));
  auto& sink = metric("a1.sinks.k1");
  ASSERT_TRUE(test::wait_until(
      [&] {
        return a.sources_done() && sink.events_committed.load() >= 4999 &&
               sink.events_dead_lettered.load() == 1;
      },
      30s))
      << sink.summary();
  EXPECT_EQ(a.stop(10s), 0u);
  auto records = test::consume(cluster_->bootstrap_servers(), "poison", 4999);
  ASSERT_EQ(records.size(), 4999u);
  std::map<int32_t, int> last; // per-partition order of the rest is kept
  std::set<int> seen;
  for (auto& r : records) {
    auto v = std::stoi(r.value);
    EXPECT_NE(v, 2500);
    EXPECT_GT(v, last[r.partition]) << "partition " << r.partition;
    last[r.partition] = v;
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 4999u);
  std::string dead;
  for (auto& f : std::filesystem::directory_iterator(dir)) {
    std::ifstream in{f.path()};
    dead.append(std::istreambuf_iterator<char>{in}, {});
  }
  EXPECT_NE(dead.find("flumen.error=Broker: Message size too large"),
            std::string::npos)
      << dead.substr(0, 300);
  EXPECT_NE(dead.find("flumen.sink=a1.sinks.k1"), std::string::npos);
  EXPECT_NE(dead.find("flumen.topic=poison"), std::string::npos);
  EXPECT_NE(dead.find("0000000002500"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// `drop`: the poison event is counted and logged, the rest delivered.
TEST_F(pipeline, poison_event_is_dropped_and_counted) {
  ASSERT_TRUE(cluster_->create_topic("poison2", 8));
  auto& a = start(R"(
agents:
  a1:
    sources:
      r1:
        type: exec
        command: "awk 'BEGIN { for (i = 1; i <= 1000; i++) if (i == 500) printf \"%0200000d\\n\", i; else print i }'"
        max_line_length: 300000
        channels: [c1]
    channels:
      c1: {type: memory}
    sinks:
      k1:
        type: kafka
        channel: c1
        bootstrap_servers: BOOTSTRAP
        topic: poison2
        producer: {message.max.bytes: "100000"}
)");
  auto& sink = metric("a1.sinks.k1");
  ASSERT_TRUE(test::wait_until(
      [&] {
        return a.sources_done() && sink.events_committed.load() >= 999 &&
               sink.events_dropped.load() == 1;
      },
      30s))
      << sink.summary();
  auto records = test::consume(cluster_->bootstrap_servers(), "poison2", 999);
  EXPECT_EQ(records.size(), 999u);
}

} // namespace

namespace {

// A stop goes upstream first, dead-letter edges included: the sink of the
// dead-letter channel is listed first here, and used to be stopped first,
// before the Kafka sink dead-lettered what it still held (the dead letters
// were then left undelivered). Brokers slowed to 100 ms keep the poison
// event in the channel until the stop.
TEST_F(pipeline, stop_drains_a_sink_before_its_dead_letter_channel) {
  ASSERT_TRUE(cluster_->create_topic("order", 4));
  for (int id = 1; id <= 3; ++id)
    rd_kafka_mock_broker_set_rtt(mock(), id, 100);
  auto dir =
      std::string{"/tmp/flumen-stop-order-"} + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  auto& a = start(replace_all(R"(
agents:
  a1:
    sources:
      r1:
        type: exec
        command: "awk 'BEGIN { for (i = 1; i <= 3000; i++) if (i == 2990) printf \"%0200000d\\n\", i; else print i }'"
        max_line_length: 300000
        channels: [c1]
    channels:
      c1: {type: memory}
      dlq: {type: memory}
    sinks:
      dead:
        type: file_roll
        channel: dlq
        directory: DIR
        format: header_and_body
      k1:
        type: kafka
        channel: c1
        bootstrap_servers: BOOTSTRAP
        topic: order
        batch_size: 100
        max_inflight: 1
        on_permanent_error: dead_letter
        dead_letter_channel: dlq
        producer: {message.max.bytes: "100000"}
)",
                              "DIR", dir));
  auto& sink = metric("a1.sinks.k1");
  ASSERT_TRUE(test::wait_until([&] { return a.sources_done(); }, 20s));
  ASSERT_EQ(sink.events_dead_lettered.load(), 0u)
      << "the poison event must still be in the channel at the stop";
  EXPECT_EQ(a.stop(30s), 0u) << "nothing left in any channel";
  EXPECT_EQ(sink.events_dead_lettered.load(), 1u);
  EXPECT_EQ(metric("a1.sinks.dead").events_committed.load(), 1u);
  std::string dead;
  for (auto& f : std::filesystem::directory_iterator(dir)) {
    std::ifstream in{f.path()};
    dead.append(std::istreambuf_iterator<char>{in}, {});
  }
  EXPECT_NE(dead.find("0000000002990"), std::string::npos);
  std::filesystem::remove_all(dir);
}

} // namespace
