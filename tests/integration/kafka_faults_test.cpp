// Faults injected into librdkafka's in-process cluster while a pipeline
// streams into it: every broker down, leaders moving, produce requests
// failing, slow brokers. Each test counts every sequence number: nothing
// may be lost; duplicates are counted and printed (at least once allows
// them).

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <initializer_list>
#include <iostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "tests/integration/pipeline_fixture.hpp"
#include "tests/support/kafka.hpp"
#include "tests/support/wait.hpp"

using namespace flumen;
using namespace std::chrono_literals;
using test::expect_all_seq;
using test::replace_all;

namespace {

using steady = std::chrono::steady_clock;

// Kafka's API key of Produce requests (RD_KAFKAP_Produce lives in
// librdkafka's private rdkafka_protocol.h).
constexpr int16_t produce_api_key = 0;

constexpr int brokers = 3; // the fixture's cluster: ids 1..3

// Samples a gauge every millisecond on a thread of its own and keeps the
// largest value seen: the channel publishes its size, not a high-water mark.
class peak_sampler {
public:
  explicit peak_sampler(const std::atomic<uint64_t>& gauge)
      : thread_{[this, &gauge](std::stop_token stop) {
          while (!stop.stop_requested()) {
            auto v = gauge.load(std::memory_order_relaxed);
            if (v > peak_.load(std::memory_order_relaxed))
              peak_.store(v, std::memory_order_relaxed);
            std::this_thread::sleep_for(1ms);
          }
        }} {}

  uint64_t peak() const { return peak_.load(); }

private:
  std::atomic<uint64_t> peak_{0};
  std::jthread thread_; // last: stopped and joined before peak_ goes
};

using test::fill;

class faults : public test::pipeline {
protected:
  // seq (rate-limited) -> memory -> kafka into `topic`.
  agent& start_seq(const std::string& topic, uint64_t count, uint64_t rate,
                   std::size_t capacity = 5000) {
    return start(fill(R"(
agents:
  a1:
    sources:
      r1: {type: seq, count: COUNT, rate: RATE, batch_size: 500, channels: [c1]}
    channels:
      c1: {type: memory, capacity: CAPACITY, transaction_capacity: 500}
    sinks:
      k1:
        type: kafka
        channel: c1
        bootstrap_servers: BOOTSTRAP
        topic: TOPIC
        batch_size: 500
)",
                      {{"COUNT", std::to_string(count)},
                       {"RATE", std::to_string(rate)},
                       {"CAPACITY", std::to_string(capacity)},
                       {"TOPIC", topic}}));
  }

  // Waits until the sink committed `count` events and the source is done,
  // then reads the topic back and checks every sequence number.
  void expect_delivered(agent& a, const std::string& topic, uint64_t count,
                        const char* what) {
    auto& sink = metric("a1.sinks.k1");
    ASSERT_TRUE(test::wait_until(
        [&] {
          return a.sources_done() && sink.events_committed.load() >= count;
        },
        60s))
        << sink.summary() << '\n'
        << metric("a1.channels.c1").summary();
    auto records =
        test::consume(cluster_->bootstrap_servers(), topic, count, 30s);
    auto dupes = expect_all_seq(records, count);
    std::cout << what << ": " << records.size() << " records for " << count
              << " events, " << dupes << " duplicates; " << sink.summary()
              << '\n';
  }
};

// Every broker goes away for 10 s in the middle of a stream: the channel
// fills up, the source is pushed back (it accepts nothing more), and when
// the brokers return everything is delivered.
TEST_F(faults, every_broker_down_for_10s_mid_stream) {
  constexpr uint64_t count = 100000;
  constexpr std::size_t capacity = 5000;
  ASSERT_TRUE(cluster_->create_topic("outage", 16));
  auto& a = start_seq("outage", count, 10000, capacity);
  auto& source = metric("a1.sources.r1");
  auto& sink = metric("a1.sinks.k1");
  auto& channel = metric("a1.channels.c1");
  peak_sampler channel_peak{channel.channel_size};
  ASSERT_TRUE(test::wait_until(
      [&] { return sink.events_committed.load() >= 5000; }, 20s))
      << sink.summary();
  for (int id = 1; id <= brokers; ++id)
    rd_kafka_mock_broker_set_down(mock(), id);
  auto down_at = steady::now();
  // The outage itself is timed: it lasts 10 s whatever the pipeline does.
  // The source is sampled 3 s and 8 s into it, once the channel is full.
  std::this_thread::sleep_until(down_at + 3s);
  auto accepted_early = source.events_accepted.load();
  auto committed_early = sink.events_committed.load();
  std::this_thread::sleep_until(down_at + 8s);
  auto accepted_late = source.events_accepted.load();
  auto committed_late = sink.events_committed.load();
  std::this_thread::sleep_until(down_at + 10s);
  for (int id = 1; id <= brokers; ++id)
    rd_kafka_mock_broker_set_up(mock(), id);
  std::cout << "during the outage: accepted " << accepted_early << " -> "
            << accepted_late << ", committed " << committed_early << " -> "
            << committed_late << ", channel peak " << channel_peak.peak()
            << '\n';
  // At 10,000 events/s the source wanted 50,000 more in those 5 s.
  EXPECT_LE(accepted_late - accepted_early, 500u)
      << "the source was not pushed back while every broker was down";
  EXPECT_LT(accepted_early, count / 2) << "the stream ended before the fault";
  auto up_at = steady::now();
  expect_delivered(a, "outage", count, "every broker down for 10 s");
  std::cout << "delivered everything "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   steady::now() - up_at)
                   .count()
            << " ms after the brokers came back\n";
  EXPECT_LE(channel_peak.peak(), capacity);
  EXPECT_LE(channel.channel_size.load(), capacity);
}

// Leaders of every partition move to another broker, again and again,
// while the sink produces.
TEST_F(faults, partition_leaders_move_while_producing) {
  constexpr uint64_t count = 80000;
  constexpr int partitions = 16;
  constexpr int moves = 6;
  ASSERT_TRUE(cluster_->create_topic("moving", partitions));
  auto& a = start_seq("moving", count, 16000);
  auto& sink = metric("a1.sinks.k1");
  for (int round = 0; round < moves; ++round) {
    // Paced by progress: each move happens once the previous one was
    // survived, i.e. more events were committed since.
    auto due = (round + 1) * count / (moves + 2);
    ASSERT_TRUE(test::wait_until(
        [&] { return sink.events_committed.load() >= due; }, 30s))
        << "stuck after " << round << " moves: " << sink.summary();
    for (int p = 0; p < partitions; ++p)
      ASSERT_EQ(rd_kafka_mock_partition_set_leader(mock(), "moving", p,
                                                   (round + p) % brokers + 1),
                RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  // Last move: every leader to broker 1, and the others go down. The rest
  // of the stream can only arrive if the producer followed the leaders.
  for (int p = 0; p < partitions; ++p)
    ASSERT_EQ(rd_kafka_mock_partition_set_leader(mock(), "moving", p, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  for (int id = 2; id <= brokers; ++id)
    rd_kafka_mock_broker_set_down(mock(), id);
  EXPECT_LT(sink.events_committed.load(), count)
      << "the stream ended before the last move";
  ASSERT_TRUE(test::wait_until(
      [&] { return sink.events_committed.load() >= count; }, 60s))
      << "not delivered by broker 1 alone: " << sink.summary();
  // Up again for the consumer, which may bootstrap from any of them.
  for (int id = 2; id <= brokers; ++id)
    rd_kafka_mock_broker_set_up(mock(), id);
  expect_delivered(a, "moving", count, "leaders moved 7 times");
}

// Bursts of retriable errors answer produce requests: the sink's rollbacks
// or librdkafka's own retries deal with them (which one is not asserted).
// Each burst has cluster-wide errors (the next produce requests to any
// broker) and a few per broker (delayed too); the per-broker ones can be
// counted, so the test knows the producer ran into them.
TEST_F(faults, retriable_produce_errors_in_bursts) {
  constexpr uint64_t count = 80000;
  constexpr int bursts = 5;
  ASSERT_TRUE(cluster_->create_topic("flaky", 16));
  // The mock cluster picks each partition's leader at random, so a broker
  // may lead none (p = 3 * (2/3)^16, once in ~200 runs) and its errors
  // would wait forever: every broker leads some partitions here.
  for (int p = 0; p < 16; ++p)
    ASSERT_EQ(
        rd_kafka_mock_partition_set_leader(mock(), "flaky", p, p % brokers + 1),
        RD_KAFKA_RESP_ERR_NO_ERROR);
  auto& a = start_seq("flaky", count, 16000);
  auto& sink = metric("a1.sinks.k1");
  const std::vector<rd_kafka_resp_err_t> burst{
      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
  };
  auto broker_errors_left = [&] {
    std::size_t left = 0;
    for (int id = 1; id <= brokers; ++id) {
      std::size_t n = 0;
      EXPECT_EQ(
          rd_kafka_mock_broker_error_stack_cnt(mock(), id, produce_api_key, &n),
          RD_KAFKA_RESP_ERR_NO_ERROR);
      left += n;
    }
    return left;
  };
  for (int round = 0; round < bursts; ++round) {
    auto due = (round + 1) * count / (bursts + 2);
    ASSERT_TRUE(test::wait_until(
        [&] { return sink.events_committed.load() >= due; }, 30s))
        << "stuck after " << round << " bursts: " << sink.summary();
    rd_kafka_mock_push_request_errors_array(mock(), produce_api_key,
                                            burst.size(), burst.data());
    for (int id = 1; id <= brokers; ++id)
      ASSERT_EQ(rd_kafka_mock_broker_push_request_error_rtts(
                    mock(), id, produce_api_key, 2,
                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, 200,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 0),
                RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  EXPECT_LT(sink.events_committed.load(), count)
      << "the stream ended before the last burst";
  // Broker errors go first, so the cluster's follow once these are gone.
  EXPECT_TRUE(test::wait_until([&] { return broker_errors_left() == 0; }))
      << broker_errors_left() << " injected errors never reached a request";
  expect_delivered(a, "flaky", count, "5 bursts of produce errors");
}

// Every broker answers 500 ms late while a TCP client writes as fast as it
// can: the client is pushed back, the process's memory stays flat, the
// channel stays within its capacity; at full speed again, every line
// arrives.
TEST_F(faults, slow_broker_keeps_memory_flat_and_pushes_back_the_client) {
  constexpr std::size_t lines = 400000;
  constexpr std::size_t line_size = 100; // including '\n'
  constexpr std::size_t capacity = 2000;
  ASSERT_TRUE(cluster_->create_topic("slow", 32));
  auto port = test::free_port();
  start(fill(R"(
agents:
  a1:
    sources:
      r1: {type: netcat, port: PORT, batch_size: 500, channels: [c1]}
    channels:
      c1: {type: memory, capacity: CAPACITY, transaction_capacity: 500}
    sinks:
      k1:
        type: kafka
        channel: c1
        bootstrap_servers: BOOTSTRAP
        topic: slow
        batch_size: 500
)",
             {{"PORT", std::to_string(port)},
              {"CAPACITY", std::to_string(capacity)}}));
  auto& sink = metric("a1.sinks.k1");
  auto& channel = metric("a1.channels.c1");
  std::string payload;
  payload.reserve(lines * line_size);
  for (std::size_t i = 0; i < lines; ++i) {
    auto num = std::to_string(i);
    payload += num;
    payload.append(line_size - 1 - num.size(), ' ');
    payload += '\n';
  }
  int fd = test::connect_to(port);
  ASSERT_GE(fd, 0);
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  std::size_t sent = 0;
  auto send_some = [&](std::size_t up_to) {
    while (sent < up_to) {
      auto n = ::send(fd, payload.data() + sent, up_to - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  };
  // First at full speed: the producer is connected and knows the leaders.
  constexpr std::size_t warm = 1000;
  ASSERT_TRUE(test::wait_until(
      [&] {
        send_some(warm * line_size);
        return sink.events_committed.load() >= warm;
      },
      20s))
      << sink.summary();
  for (int id = 1; id <= brokers; ++id)
    rd_kafka_mock_broker_set_rtt(mock(), id, 500);
  peak_sampler channel_peak{channel.channel_size};
  auto rss_before = test::rss_bytes();
  auto rss_peak = rss_before;
  auto sent_before = sent;
  auto committed_before = sink.events_committed.load();
  // The fault window: 4 s of slow brokers while the client keeps writing.
  auto until = steady::now() + 4s;
  while (steady::now() < until) {
    send_some(payload.size());
    rss_peak = std::max(rss_peak, test::rss_bytes());
    std::this_thread::sleep_for(10ms);
  }
  auto slow_sent = sent - sent_before;
  auto slow_committed = sink.events_committed.load() - committed_before;
  std::cout << "with 500 ms RTT for 4 s: client wrote " << slow_sent
            << " bytes (" << slow_sent / line_size << " lines), the sink "
            << "committed " << slow_committed << " events; RSS grew by "
            << (rss_peak - rss_before) / 1024 << " KiB; channel peak "
            << channel_peak.peak() << '\n';
  EXPECT_LT(sent, payload.size() / 2)
      << "the client was not pushed back: " << sent << " bytes accepted";
  EXPECT_LT(rss_peak - rss_before, 40u * 1024 * 1024)
      << "memory grew while the brokers were slow";
  EXPECT_LE(channel_peak.peak(), capacity);
  // Fast again: everything flows.
  for (int id = 1; id <= brokers; ++id)
    rd_kafka_mock_broker_set_rtt(mock(), id, 0);
  ASSERT_TRUE(test::wait_until(
      [&] {
        send_some(payload.size());
        return sent == payload.size();
      },
      60s))
      << sent << " of " << payload.size() << " bytes sent; " << sink.summary();
  ::close(fd);
  ASSERT_TRUE(test::wait_until(
      [&] { return sink.events_committed.load() >= lines; }, 60s))
      << sink.summary();
  auto records = test::consume(cluster_->bootstrap_servers(), "slow", lines);
  auto dupes = expect_all_seq(records, lines);
  std::cout << "slow brokers: " << records.size() << " records for " << lines
            << " lines, " << dupes << " duplicates\n";
  EXPECT_LE(channel_peak.peak(), capacity);
}

} // namespace
