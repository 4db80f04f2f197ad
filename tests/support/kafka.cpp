#include "tests/support/kafka.hpp"

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <thread>

#include <librdkafka/rdkafkacpp.h>

namespace flumen::test {

std::vector<record> consume(const std::string& bootstrap,
                            const std::string& topic, std::size_t expected,
                            std::chrono::milliseconds timeout) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf{
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL)};
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("group.id", "flumen-test", err);
  conf->set("enable.auto.commit", "false", err);
  conf->set("log_level", "3", err);
  // A fetch with nothing new waits 10 ms, not 500 (the records are the same).
  conf->set("fetch.wait.max.ms", "10", err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer{
      RdKafka::KafkaConsumer::create(conf.get(), err)};
  if (!consumer) throw std::runtime_error("consumer: " + err);
  // Assign every partition explicitly: no group rebalance to wait for.
  RdKafka::Metadata* md = nullptr;
  std::unique_ptr<RdKafka::Topic> t{
      RdKafka::Topic::create(consumer.get(), topic, nullptr, err)};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (consumer->metadata(false, t.get(), &md, 5000) !=
         RdKafka::ERR_NO_ERROR) {
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("no metadata for " + topic);
  }
  // Wait until the topic holds at least `expected` records, then read
  // everything up to each partition's high watermark (duplicates included).
  std::vector<std::pair<int32_t, int64_t>> highs;
  std::string why;
  for (;;) {
    highs.clear();
    int64_t total = 0;
    std::size_t partitions = 0;
    for (auto* tm : *md->topics())
      for (auto* pm : *tm->partitions()) {
        ++partitions;
        int64_t low = 0, high = 0;
        auto e = consumer->query_watermark_offsets(topic, pm->id(), &low, &high,
                                                   5000);
        if (e != RdKafka::ERR_NO_ERROR) {
          why = "partition " + std::to_string(pm->id()) + ": " +
                RdKafka::err2str(e);
          continue;
        }
        highs.emplace_back(pm->id(), high);
        total += high - low;
      }
    if (partitions == 0) why = "the metadata names no partition";
    if (static_cast<std::size_t>(total) >= expected ||
        std::chrono::steady_clock::now() >= deadline) {
      if (static_cast<std::size_t>(total) < expected)
        std::cerr << "consume(" << topic << "): " << total << " of " << expected
                  << " records by the deadline; last: "
                  << (why.empty() ? "no error" : why) << '\n';
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    // The topic as the cluster has it now: the first answer may have named
    // no partition (once in a CI run: 0 records in 30 s for 80,000).
    RdKafka::Metadata* fresh = nullptr;
    if (consumer->metadata(false, t.get(), &fresh, 5000) ==
        RdKafka::ERR_NO_ERROR) {
      delete md;
      md = fresh;
    }
  }
  delete md;
  std::vector<RdKafka::TopicPartition*> parts;
  std::map<int32_t, int64_t> remaining; // partition -> high watermark
  for (auto& [id, high] : highs) {
    if (high == 0) continue;
    remaining[id] = high;
    parts.push_back(RdKafka::TopicPartition::create(
        topic, id, RdKafka::Topic::OFFSET_BEGINNING));
  }
  consumer->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  std::vector<record> out;
  while (!remaining.empty() && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> msg{consumer->consume(100)};
    if (msg->err() != RdKafka::ERR_NO_ERROR) continue;
    record r;
    r.partition = msg->partition();
    r.offset = msg->offset();
    r.timestamp = msg->timestamp().timestamp;
    if (msg->key()) r.key = *msg->key();
    r.value.assign(static_cast<const char*>(msg->payload()), msg->len());
    if (auto* h = msg->headers())
      for (auto& x : h->get_all())
        r.headers[x.key()] =
            std::string(static_cast<const char*>(x.value()), x.value_size());
    if (auto i = remaining.find(r.partition);
        i != remaining.end() && r.offset + 1 >= i->second)
      remaining.erase(i);
    out.push_back(std::move(r));
  }
  consumer->close();
  return out;
}

std::vector<std::string> list_topics(const std::string& bootstrap,
                                     std::chrono::milliseconds timeout) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf{
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL)};
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("log_level", "3", err);
  std::unique_ptr<RdKafka::Producer> client{
      RdKafka::Producer::create(conf.get(), err)};
  if (!client) throw std::runtime_error("metadata client: " + err);
  RdKafka::Metadata* md = nullptr;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (client->metadata(true, nullptr, &md, 2000) != RdKafka::ERR_NO_ERROR) {
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("no metadata from " + bootstrap);
  }
  std::vector<std::string> out;
  for (auto* tm : *md->topics())
    out.push_back(tm->topic());
  delete md;
  return out;
}

std::size_t rss_bytes() {
  std::ifstream in{"/proc/self/statm"};
  std::size_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

} // namespace flumen::test
