// The kafka source's fetch_waker: wakes librdkafka's broker threads once
// the consumer's prefetch queue was read down (librdkafka before 2.2 lets
// them sleep up to a second there).

#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

struct rd_kafka_s;

namespace flumen::sources {

/// Wakes the consumer's broker threads when its prefetch queue drained.
///
/// librdkafka before 2.2 stops fetching once the consumer queue holds
/// `queued.min.messages` or `queued.max.messages.kbytes`, and a broker
/// thread with nothing to fetch sleeps until I/O or an operation wakes it,
/// up to a second (2.2 added `fetch.queue.backoff.ms` for this). Read
/// faster than that, the queue runs dry and the source stalls for the rest
/// of the second: the relay bench read 140,000 records, then nothing for
/// 0.7 s, over and over (a third of the rate of a queue big enough to hold
/// a second of records). A request to a broker is an operation on its
/// thread, which then finds the queue below its thresholds and fetches:
/// one ListOffsets for the latest offsets of the assigned partitions
/// (rd_kafka_offsets_for_times groups them by leader: one request to each)
/// wakes every broker thread that leads one.
class fetch_waker {
public:
  fetch_waker(rd_kafka_s* rk, std::atomic<uint64_t>& wakes)
      : rk_(rk), wakes_(wakes), thread_([this] { run(); }) {}

  ~fetch_waker() {
    {
      std::lock_guard guard{mtx_};
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

  fetch_waker(const fetch_waker&) = delete;
  fetch_waker& operator=(const fetch_waker&) = delete;

  /// Asks for a wake (one at a time: asked while one runs, it is one more).
  void wake() {
    {
      std::lock_guard guard{mtx_};
      if (asked_) return;
      asked_ = true;
    }
    cv_.notify_one();
  }

private:
  void run();

  rd_kafka_s* rk_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool asked_ = false;
  std::atomic<uint64_t>& wakes_; ///< the metric
  std::thread thread_;
};

} // namespace flumen::sources
