#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace flumen::test {

/// One record read back from Kafka.
struct record {
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp = 0; ///< ms since the epoch
  std::string key;
  std::string value;
  std::map<std::string, std::string> headers;
};

/// Waits until `topic` holds at least `expected` records (or `timeout`
/// passed), then reads every partition from the beginning up to its high
/// watermark, duplicates included. A real librdkafka consumer; on timeout
/// it returns what it has and the test's assertion says what is missing.
std::vector<record>
consume(const std::string& bootstrap, const std::string& topic,
        std::size_t expected,
        std::chrono::milliseconds timeout = std::chrono::seconds{60});

/// The names of every topic the cluster at `bootstrap` knows (a metadata
/// request for all topics; the in-process cluster lists auto-created ones
/// too). Throws std::runtime_error when no broker answers within `timeout`.
std::vector<std::string>
list_topics(const std::string& bootstrap,
            std::chrono::milliseconds timeout = std::chrono::seconds{10});

/// Resident set size of this process in bytes (from /proc/self/statm).
std::size_t rss_bytes();

} // namespace flumen::test
