#include "actors/sources/kafka_waker.hpp"

#include "runtime/libs/rdkafka.hpp"

namespace flumen::sources {

void fetch_waker::run() {
  std::unique_lock lock{mtx_};
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || asked_; });
    if (stop_) return;
    asked_ = false;
    lock.unlock();
    rd_kafka_topic_partition_list_t* parts = nullptr;
    if (rd_kafka_assignment(rk_, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < parts->cnt; ++i)
        parts->elems[i].offset = -1; // a timestamp of -1: the latest offset
      // The answer is not needed, only the requests: bounded so a stop
      // waits at most this long for an unanswered one.
      if (parts->cnt > 0) rd_kafka_offsets_for_times(rk_, parts, 1000);
      rd_kafka_topic_partition_list_destroy(parts);
      wakes_.fetch_add(1, std::memory_order_relaxed);
    }
    lock.lock();
  }
}

} // namespace flumen::sources
