// The Kafka sink's per-event options, read back with a real consumer:
// topic placeholders, default partition, record timestamps, header
// selection and renaming, and the json format.

#include <iostream>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "tests/integration/pipeline_fixture.hpp"
#include "tests/support/wait.hpp"

using namespace flumen;
using namespace flumen::test;
using namespace std::chrono_literals;

namespace {

TEST_F(pipeline, topic_placeholders_default_partition_and_timestamps) {
  ASSERT_TRUE(cluster_->create_topic("logs-web", 4));
  ASSERT_TRUE(cluster_->create_topic("logs-db", 4));
  start(R"(
agents:
  a1:
    sources:
      web:
        type: seq
        count: 50
        channels: [c1]
        interceptors:
          - {type: static, key: app, value: web}
          - {type: static, key: ts, value: "1600000000123"}
      db:
        type: seq
        count: 30
        start: 100
        channels: [c1]
        interceptors:
          - {type: static, key: app, value: db}
    channels:
      c1: {type: memory}
    sinks:
      k1:
        type: kafka
        channel: c1
        bootstrap_servers: BOOTSTRAP
        topic: logs-%{app}
        default_partition: 2
        timestamp_header: ts
)");
  auto& sink = metric("a1.sinks.k1");
  ASSERT_TRUE(
      wait_until([&] { return sink.events_committed.load() >= 80; }, 30s))
      << sink.summary();
  auto web = consume(cluster_->bootstrap_servers(), "logs-web", 50);
  ASSERT_EQ(web.size(), 50u);
  for (auto& r : web) {
    EXPECT_EQ(r.partition, 2);
    EXPECT_EQ(r.timestamp, 1600000000123);
  }
  auto db = consume(cluster_->bootstrap_servers(), "logs-db", 30);
  ASSERT_EQ(db.size(), 30u);
  for (auto& r : db) {
    EXPECT_EQ(r.partition, 2);
    EXPECT_GT(r.timestamp, 1700000000000) << "no ts header: the send time";
  }
}

TEST_F(pipeline, headers_mapping_and_json_format) {
  ASSERT_TRUE(cluster_->create_topic("mapped", 4));
  ASSERT_TRUE(cluster_->create_topic("enveloped", 4));
  start(R"(
agents:
  a1:
    sources:
      r1:
        type: seq
        count: 20
        channels: [c1, c2]
        interceptors:
          - {type: static, key: app, value: "we\"b"}
    channels:
      c1: {type: memory}
      c2: {type: memory}
    sinks:
      mapped:
        type: kafka
        channel: c1
        bootstrap_servers: BOOTSTRAP
        topic: mapped
        headers: {app: application}
      enveloped:
        type: kafka
        channel: c2
        bootstrap_servers: BOOTSTRAP
        topic: enveloped
        headers: none
        format: json
)");
  auto& a = metric("a1.sinks.mapped");
  auto& b = metric("a1.sinks.enveloped");
  ASSERT_TRUE(wait_until(
      [&] {
        return a.events_committed.load() >= 20 &&
               b.events_committed.load() >= 20;
      },
      30s));
  auto mapped = consume(cluster_->bootstrap_servers(), "mapped", 20);
  ASSERT_EQ(mapped.size(), 20u);
  for (auto& r : mapped) {
    EXPECT_EQ(r.headers.size(), 1u) << "only the mapped header";
    EXPECT_EQ(r.headers["application"], "we\"b");
  }
  auto enveloped = consume(cluster_->bootstrap_servers(), "enveloped", 20);
  ASSERT_EQ(enveloped.size(), 20u);
  for (auto& r : enveloped) {
    EXPECT_TRUE(r.headers.empty());
    auto seq = r.value.substr(r.value.rfind(":\"") + 2);
    seq.pop_back();
    seq.pop_back();
    // Headers in the order they were set: the source's, then the
    // interceptor's.
    EXPECT_EQ(r.value, R"({"headers":{"seq":")" + seq +
                           R"(","app":"we\"b"},"body":")" + seq + R"("})");
  }
}

// Key-less records of one transaction go to one partition, the next
// transaction to the next partition (round-robin): each partition gets
// whole batches, in the order taken. Keyed records keep librdkafka's
// partitioner (a key always lands in the same partition), and records with
// headers (sent one by one) are spread the same way as plain ones (sent
// together).
TEST_F(pipeline, keyless_transactions_go_to_one_partition_each_round_robin) {
  ASSERT_TRUE(cluster_->create_topic("plain", 8));
  ASSERT_TRUE(cluster_->create_topic("headed", 8));
  start(R"(
agents:
  a1:
    sources:
      r1: {type: seq, count: 20000, batch_size: 500, channels: [c1, c2]}
      r2:
        type: seq
        count: 3000
        start: 100000
        batch_size: 500
        channels: [c1]
        interceptors:
          - {type: static, key: key, value: alpha}
    channels:
      c1: {type: memory}
      c2: {type: memory}
    sinks:
      k1:
        type: kafka
        channel: c1
        bootstrap_servers: BOOTSTRAP
        topic: plain
        headers: none
        batch_size: 500
      k2:
        type: kafka
        channel: c2
        bootstrap_servers: BOOTSTRAP
        topic: headed
        batch_size: 500
)");
  auto& k1 = metric("a1.sinks.k1");
  auto& k2 = metric("a1.sinks.k2");
  ASSERT_TRUE(wait_until(
      [&] {
        return k1.events_committed.load() >= 23000 &&
               k2.events_committed.load() >= 20000;
      },
      30s))
      << k1.summary() << '\n'
      << k2.summary();
  auto check = [&](const std::string& topic, std::size_t total,
                   uint64_t batches) {
    auto records = consume(cluster_->bootstrap_servers(), topic, total);
    ASSERT_EQ(records.size(), total) << topic;
    // The key-less stream, by sequence number: runs of one partition.
    std::map<uint64_t, int32_t> partition_of;
    std::set<int32_t> keyed_partitions;
    std::map<int32_t, uint64_t> last_in;
    for (auto& r : records) {
      auto seq = std::stoull(r.value);
      if (seq >= 100000) {
        EXPECT_EQ(r.key, "alpha");
        keyed_partitions.insert(r.partition);
        continue;
      }
      partition_of[seq] = r.partition;
      // Read in offset order: each partition holds its events in order.
      auto [it, fresh] = last_in.try_emplace(r.partition, seq);
      if (!fresh) {
        EXPECT_GT(seq, it->second) << topic << " partition " << r.partition;
        it->second = seq;
      }
    }
    ASSERT_EQ(partition_of.size(), 20000u) << topic;
    std::size_t runs = 0;
    int32_t previous = -1;
    for (auto& [seq, partition] : partition_of)
      if (partition != previous) {
        ++runs;
        previous = partition;
      }
    EXPECT_EQ(last_in.size(), 8u) << topic << ": every partition used";
    // A run is at least one whole transaction: no more runs than batches.
    EXPECT_LE(runs, batches) << topic;
    EXPECT_GE(runs, 8u) << topic;
    if (topic == "plain") {
      EXPECT_EQ(keyed_partitions.size(), 1u) << "one key, one partition";
    }
    std::cout << topic << ": " << runs << " partition runs in " << batches
              << " transactions\n";
  };
  check("plain", 23000, k1.batches.load());
  check("headed", 20000, k2.batches.load());
}

} // namespace

namespace {

// `on_permanent_error: fail`: the sink stops at the poison event, its
// supervisor restarts it up to the intensity, then marks it failed. The
// poison event and everything behind it stay in the channel: nothing lost.
TEST_F(pipeline, poison_event_with_fail_policy_escalates_and_loses_nothing) {
  ASSERT_TRUE(cluster_->create_topic("failing", 4));
  start(R"(
agents:
  a1:
    supervision: {max_restarts: 2, restart_window: 1m}
    sources:
      r1:
        type: exec
        command: "awk 'BEGIN { for (i = 1; i <= 100; i++) if (i == 50) printf \"%0200000d\\n\", i; else print i }'"
        max_line_length: 300000
        batch_size: 10
        channels: [c1]
    channels:
      c1: {type: memory}
    sinks:
      k1:
        type: kafka
        channel: c1
        bootstrap_servers: BOOTSTRAP
        topic: failing
        batch_size: 10
        max_inflight: 1
        on_permanent_error: fail
        producer: {message.max.bytes: "100000"}
)");
  auto& sink = metric("a1.sinks.k1");
  auto& channel = metric("a1.channels.c1");
  ASSERT_TRUE(wait_until(
      [&] { return sink.current_state() == component_state::failed; }, 30s))
      << sink.summary();
  EXPECT_EQ(sink.restarts.load(), 2u);
  // Batches of 10 in order, and cut at batch_bytes, which follows
  // message.max.bytes (100000): 41..49 go without the 200 KB event 50,
  // which is taken alone and is stuck.
  EXPECT_EQ(channel.events_committed.load(), 49u) << channel.summary();
  EXPECT_EQ(channel.channel_size.load(), 51u) << channel.summary();
  // 1..49 are all there, and 50 never.
  auto records = consume(cluster_->bootstrap_servers(), "failing", 49, 10s);
  std::set<int> seen;
  for (auto& r : records)
    seen.insert(std::stoi(r.value));
  for (int i = 1; i <= 49; ++i)
    EXPECT_TRUE(seen.count(i)) << i;
  EXPECT_FALSE(seen.count(50));
  std::cout << "records " << records.size() << ", distinct " << seen.size()
            << '\n';
}

} // namespace
