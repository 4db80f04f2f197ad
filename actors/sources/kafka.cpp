// The kafka source: a consumer group member on a reader thread of its own
// (source_pump), records made into events, offsets stored only behind the
// accepted watermark of each partition.

#include "actors/sources/kafka.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/sinks/embedded_kafka.hpp"
#include "actors/sources/kafka_waker.hpp"
#include "runtime/avro/datum.hpp"
#include "runtime/flow/source_pump.hpp"
#include "runtime/libs/rdkafka.hpp"

namespace flumen::sources {

namespace {

std::mutex observer_mtx;
std::function<void(const std::string&, rd_kafka_t*, bool)> consumer_observer;

const own_family_spec oversized_records{
    "oversized_records",
    "records dropped because their value was longer than max_message_size "
    "(also in dropped)"};
const own_family_spec malformed_records{
    "malformed_records",
    "records dropped because their value was no Flume Avro event "
    "(format: flume_avro; also in dropped)"};
const own_family_spec uncommitted_at_revoke{
    "uncommitted_at_revoke",
    "events whose puts were not accepted within revoke_timeout when their "
    "partitions were revoked: left uncommitted, the next owner reads them "
    "again (possible duplicates)"};
const own_family_spec pauses{
    "pauses", "times the source paused its partitions for a full window"};
const own_family_spec prefetch_wakes{
    "prefetch_wakes",
    "times the source woke librdkafka's fetchers after reading its prefetch "
    "queue down from its thresholds (librdkafka 2.0 would sleep up to 1 s)"};
const own_family_spec rebalances{"rebalances",
                                 "assignments and revocations of partitions"};
const own_family_spec partitions_assigned{
    "partitions_assigned", "partitions the source owns now", true};

using steady = std::chrono::steady_clock;

/// What one emitted batch holds of one partition: the batch's number (the
/// pump's), the offset to commit once it and every earlier one of the
/// partition were accepted, and its events.
struct share {
  uint64_t number = 0;
  int64_t next = 0;
  std::size_t events = 0;
};

/// One assigned partition.
struct partition_track {
  std::string topic;
  int32_t partition = 0;
  /// Emitted batches not accepted yet, in offset order.
  std::deque<share> inflight;
  /// Of the batch being built: the offset after its last record (-1: none)
  /// and its events (a dropped record moves the offset, not the count).
  int64_t pending_next = -1;
  std::size_t pending_events = 0;
  /// The accepted watermark: the next offset to commit (-1: none yet), and
  /// whether it moved since it was last stored.
  int64_t accepted_next = -1;
  bool to_store = false;
};

using partition_key = std::pair<std::string, int32_t>;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A topic-partition list of `n` entries, freed with it.
struct tp_list {
  rd_kafka_topic_partition_list_t* p;
  explicit tp_list(int n) : p(rd_kafka_topic_partition_list_new(n)) {}
  ~tp_list() { rd_kafka_topic_partition_list_destroy(p); }
  tp_list(const tp_list&) = delete;
  tp_list& operator=(const tp_list&) = delete;
};

class consumer_loop {
public:
  consumer_loop(const kafka_source_config& cfg, const std::string& bootstrap,
                source_pump& pump)
      : cfg_(cfg), pump_(pump), m_(pump.metrics()) {
    char err[512];
    auto* conf = rd_kafka_conf_new();
    for (auto& [k, v] : consumer_settings(cfg_, bootstrap)) {
      if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) !=
          RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        throw std::runtime_error(k + ": " + err);
      }
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_opaque(conf, this);
    char value[64];
    std::size_t size = sizeof(value);
    if (rd_kafka_conf_get(conf, "queued.min.messages", value, &size) ==
        RD_KAFKA_CONF_OK)
      queued_min_ = std::max<int64_t>(1, std::atoll(value));
    size = sizeof(value);
    if (rd_kafka_conf_get(conf, "queued.max.messages.kbytes", value, &size) ==
        RD_KAFKA_CONF_OK)
      queued_max_bytes_ = std::max<int64_t>(1, std::atoll(value)) * 1024;
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk_) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(std::string{"consumer: "} + err);
    }
    // Everything the client fetches comes through one queue, polled here.
    rd_kafka_poll_set_consumer(rk_);
    queue_ = rd_kafka_queue_get_consumer(rk_);
    waker_ = std::make_unique<fetch_waker>(rk_, m_.own(prefetch_wakes));
    std::lock_guard guard{observer_mtx};
    if (consumer_observer) consumer_observer(m_.name, rk_, true);
  }

  ~consumer_loop() {
    // Failed (an exception): the close rd_kafka_destroy does revokes
    // everything; it waits for no answer, and commits what was accepted.
    failing_ = true;
    {
      std::lock_guard guard{observer_mtx};
      if (consumer_observer) consumer_observer(m_.name, rk_, false);
    }
    // Its requests answered or timed out before the client goes.
    waker_.reset();
    // A queue handle still held would keep rd_kafka_destroy waiting.
    if (queue_) rd_kafka_queue_destroy(queue_);
    rd_kafka_destroy(rk_);
  }

  void run() {
    subscribe();
    m_.set_state(component_state::connecting,
                 "no broker reached yet at " + cfg_.bootstrap_servers);
    while (!pump_.stopping() && !pump_.aborted()) {
      settle();
      watch_connection();
      if (ready()) {
        // A full window: wait a little for room before pausing (a pause
        // drops what librdkafka fetched ahead, fetched again on resume).
        if (!pump_.has_room() && !paused_)
          pump_.wait_room_until(steady::now() + std::chrono::milliseconds{100});
        if (pump_.has_room())
          flush();
        else if (!paused_)
          pause();
      }
      // Room again (or nothing left to put: a revoke took it): resumed.
      if (paused_ && pump_.has_room()) resume();
      // Up to what the batch being built has room for, in one call (one
      // wakeup and one clock read for many records, not one each); the
      // queue serves the rebalance and error callbacks as a poll does.
      auto room = std::clamp<std::size_t>(
          cfg_.batch_size > pending_.size() ? cfg_.batch_size - pending_.size()
                                            : 1,
          1, msgs_.size());
      auto n = rd_kafka_consume_batch_queue(queue_, poll_timeout(),
                                            msgs_.data(), room);
      for (ssize_t i = 0; i < n; ++i) {
        try {
          handle(msgs_[static_cast<std::size_t>(i)]);
        } catch (...) {
          for (ssize_t j = i; j < n; ++j)
            rd_kafka_message_destroy(msgs_[static_cast<std::size_t>(j)]);
          throw;
        }
        rd_kafka_message_destroy(msgs_[static_cast<std::size_t>(i)]);
      }
      if (n > 0) watch_prefetch(n);
      if (!fatal_.empty()) throw std::runtime_error(fatal_);
    }
    waker_.reset();
    // Stopping: what was not emitted is dropped unread (its offsets were
    // not stored: the next start reads it); what was emitted is waited for
    // and its offsets committed.
    drop_pending();
    pump_.wait_idle();
    settle();
    store();
    closing_ = true;
    // Leaves the group: the revoke of everything commits what was
    // accepted (on_revoke).
    if (auto err = rd_kafka_consumer_close(rk_))
      spdlog::warn("{}: kafka: closing the consumer: {}", m_.name,
                   rd_kafka_err2str(err));
  }

private:
  void subscribe() {
    std::vector<std::string> names = cfg_.topics;
    if (!cfg_.topics_regex.empty())
      names = {subscription_pattern(cfg_.topics_regex)};
    tp_list list{static_cast<int>(names.size())};
    for (auto& t : names)
      rd_kafka_topic_partition_list_add(list.p, t.c_str(),
                                        RD_KAFKA_PARTITION_UA);
    if (auto err = rd_kafka_subscribe(rk_, list.p))
      throw std::runtime_error(std::string{"subscribe: "} +
                               rd_kafka_err2str(err));
  }

  /// Wakes the broker threads (fetch_waker) once the prefetch queue, seen
  /// near one of its thresholds, has been read down to half of it.
  void watch_prefetch(ssize_t n) {
    auto len = static_cast<int64_t>(rd_kafka_queue_length(queue_));
    // The queue's bytes are not told: estimated from the records read.
    read_count_ += n;
    auto avg = std::max<int64_t>(1, read_bytes_ / read_count_);
    auto limit = std::min(queued_min_, queued_max_bytes_ / avg);
    if (len * 10 >= limit * 8) {
      near_full_ = true;
    } else if (near_full_ && len * 2 <= limit) {
      near_full_ = false;
      waker_->wake();
    }
  }

  /// Whether the batch being built should go now.
  bool ready() const {
    if (pending_.empty()) return false;
    return pending_.size() >= cfg_.batch_size ||
           steady::now() >= first_at_ + cfg_.batch_duration;
  }

  int poll_timeout() const {
    if (paused_) return 20;
    if (pending_.empty()) return 100;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    first_at_ + cfg_.batch_duration - steady::now())
                    .count();
    return static_cast<int>(std::clamp<int64_t>(left, 0, 100));
  }

  partition_track& track(const char* topic, int32_t partition) {
    auto key = partition_key{topic, partition};
    auto i = tracks_.find(key);
    if (i == tracks_.end()) {
      partition_track t;
      t.topic = topic;
      t.partition = partition;
      i = tracks_.emplace(std::move(key), std::move(t)).first;
    }
    return i->second;
  }

  void handle(rd_kafka_message_t* msg) {
    if (msg->err) {
      if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
      auto why = std::string{"kafka: "} + rd_kafka_message_errstr(msg);
      if (msg->err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_fatal_error(rk_, buf, sizeof(buf));
        throw std::runtime_error(std::string{"fatal consumer error: "} + buf);
      }
      degrade(why, false);
      return;
    }
    if (m_.current_state() != component_state::running) {
      m_.set_state(component_state::running);
      brokers_down_ = false;
    }
    read_bytes_ += static_cast<int64_t>(msg->len + msg->key_len) + 64;
    auto* topic = rd_kafka_topic_name(msg->rkt);
    auto it = tracks_.find(partition_key{topic, msg->partition});
    if (it == tracks_.end()) {
      // Read in the same call as the revoke of its partition (served in
      // the middle of a batch read): the next owner reads it; not ours to
      // count or commit.
      return;
    }
    auto& t = it->second;
    t.pending_next = msg->offset + 1;
    if (msg->len > cfg_.max_message_size) {
      drop(msg, topic, oversized_records,
           "its value is " + std::to_string(msg->len) +
               " bytes, more than max_message_size " +
               std::to_string(cfg_.max_message_size));
      return;
    }
    event e;
    if (flume_avro_) {
      if (!decode_flume_event(msg, topic, e)) return;
    } else {
      e.body.assign(static_cast<const char*>(msg->payload), msg->len);
    }
    // The record's own headers next: flumen's never overwrite them (the
    // first of a repeated name wins).
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      auto count = rd_kafka_header_cnt(hdrs);
      e.headers.reserve(e.headers.size() + count + 5);
      const char* name = nullptr;
      const void* value = nullptr;
      std::size_t size = 0;
      for (std::size_t i = 0;
           rd_kafka_header_get_all(hdrs, i, &name, &value, &size) ==
           RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i)
        e.headers.emplace(
            std::string{name},
            value ? std::string{static_cast<const char*>(value), size}
                  : std::string{});
    } else {
      e.headers.reserve(e.headers.size() + 5);
    }
    if (cfg_.set_topic_header) e.headers.emplace(cfg_.topic_header, topic);
    e.headers.emplace("partition", std::to_string(msg->partition));
    e.headers.emplace("offset", std::to_string(msg->offset));
    rd_kafka_timestamp_type_t type;
    auto ts = rd_kafka_message_timestamp(msg, &type);
    e.headers.emplace("timestamp", std::to_string(ts >= 0 ? ts : now_ms()));
    if (msg->key)
      e.headers.emplace(
          "key", std::string{static_cast<const char*>(msg->key), msg->key_len});
    if (pending_.empty()) first_at_ = steady::now();
    pending_.push_back(std::move(e));
    pending_tracks_.push_back(&t);
    ++t.pending_events;
  }

  /// format flume_avro: the record's value as an AvroFlumeEvent into
  /// `e` (its headers, then its body). False, counted and logged, for a
  /// value that is none: its offset passes with the batch being built.
  bool decode_flume_event(const rd_kafka_message_t* msg, const char* topic,
                          event& e) {
    try {
      avro::limits lim;
      lim.max_value_bytes = cfg_.max_message_size;
      lim.max_items = 65536;
      avro::reader r{{static_cast<const char*>(msg->payload), msg->len}, lim};
      e = r.read_event();
      if (!r.at_end())
        r.fail(std::to_string(r.remaining()) +
               " bytes after the event: no Flume event");
      return true;
    } catch (const avro::decode_error& err) {
      drop(msg, topic, malformed_records,
           std::string{"its value is no Flume Avro event (format: "
                       "flume_avro): "} +
               err.what());
      return false;
    }
  }

  /// A record that cannot become an event: counted as received and
  /// dropped and in `family`, logged (the first ten, then every
  /// thousandth); its offset passes with the batch being built, so the
  /// source never loops on it.
  void drop(const rd_kafka_message_t* msg, const char* topic,
            const own_family_spec& family, const std::string& why) {
    m_.events_received.fetch_add(1, std::memory_order_relaxed);
    m_.events_dropped.fetch_add(1, std::memory_order_relaxed);
    auto n = m_.own(family).fetch_add(1, std::memory_order_relaxed);
    if (n < 10 || n % 1000 == 0)
      spdlog::warn("{}: dropped the record at {} [{}] offset {}: {} ({} such "
                   "records so far)",
                   m_.name, topic, msg->partition, msg->offset, why, n + 1);
    if (pending_.empty()) flush();
  }

  /// Emits the batch being built and records what it holds of each
  /// partition.
  void flush() {
    uint64_t number = 0;
    if (!pending_.empty()) {
      number = pump_.emit_numbered(std::move(pending_));
      pending_.clear();
      pending_tracks_.clear();
      if (number == 0) {
        // Torn down: counted by the pump as undelivered; no offset moves.
        for (auto& [_, t] : tracks_) {
          t.pending_next = -1;
          t.pending_events = 0;
        }
        return;
      }
    }
    for (auto& [_, t] : tracks_) {
      if (t.pending_next < 0) continue;
      if (t.pending_events > 0) {
        t.inflight.push_back({number, t.pending_next, t.pending_events});
      } else if (!t.inflight.empty()) {
        // Only dropped records: they pass with the batch before them.
        t.inflight.back().next = t.pending_next;
      } else {
        t.accepted_next = t.pending_next;
        t.to_store = true;
      }
      t.pending_next = -1;
      t.pending_events = 0;
    }
    store();
  }

  /// The batch being built goes nowhere (a stop, or its partitions were
  /// revoked): never counted as received, its offsets never stored.
  void drop_pending() {
    pending_.clear();
    pending_tracks_.clear();
    for (auto& [_, t] : tracks_) {
      t.pending_next = -1;
      t.pending_events = 0;
    }
  }

  /// Moves each partition's watermark over its accepted batches (in
  /// order: one not accepted holds back the later ones) and stores it.
  void settle(bool always = false) {
    auto seen = pump_.acceptances();
    if (seen == acceptances_seen_ && !always) return;
    acceptances_seen_ = seen;
    for (auto& [_, t] : tracks_) {
      while (!t.inflight.empty() &&
             pump_.is_accepted(t.inflight.front().number)) {
        t.accepted_next = t.inflight.front().next;
        t.to_store = true;
        t.inflight.pop_front();
      }
    }
    store();
  }

  /// Hands the moved watermarks to librdkafka (auto-commit commits them).
  void store() {
    tp_list list{4};
    for (auto& [_, t] : tracks_) {
      if (!t.to_store) continue;
      t.to_store = false;
      rd_kafka_topic_partition_list_add(list.p, t.topic.c_str(), t.partition)
          ->offset = t.accepted_next;
    }
    if (list.p->cnt == 0) return;
    if (auto err = rd_kafka_offsets_store(rk_, list.p))
      spdlog::warn("{}: kafka: storing offsets: {}", m_.name,
                   rd_kafka_err2str(err));
  }

  void pause() {
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(rk_, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR)
      return;
    rd_kafka_pause_partitions(rk_, assigned);
    rd_kafka_topic_partition_list_destroy(assigned);
    paused_ = true;
    m_.own(pauses).fetch_add(1, std::memory_order_relaxed);
  }

  void resume() {
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(rk_, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR)
      return;
    rd_kafka_resume_partitions(rk_, assigned);
    rd_kafka_topic_partition_list_destroy(assigned);
    paused_ = false;
  }

  void degrade(const std::string& why, bool brokers_down) {
    auto n = ++errors_logged_;
    if (n <= 10 || n % 100 == 0) spdlog::warn("{}: {}", m_.name, why);
    if (brokers_down) brokers_down_ = true;
    if (m_.current_state() != component_state::connecting)
      m_.set_state(component_state::degraded, why + "; retrying");
  }

  /// Connecting, or degraded by a client error: running once
  /// a broker answers a metadata request (asked once a second at most).
  void watch_connection() {
    auto state = m_.current_state();
    bool waiting = state == component_state::connecting ||
                   (state == component_state::degraded && brokers_down_);
    if (!waiting || steady::now() - last_check_ < std::chrono::seconds{1})
      return;
    last_check_ = steady::now();
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk_, 0, nullptr, &md, 500) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_metadata_destroy(md);
      brokers_down_ = false;
      if (state == component_state::degraded)
        spdlog::info("{}: a broker answers again", m_.name);
      m_.set_state(component_state::running);
    }
  }

  static void on_error(rd_kafka_t* rk, int err, const char* reason,
                       void* opaque) {
    auto* self = static_cast<consumer_loop*>(opaque);
    self->m_.connection_failures.fetch_add(1, std::memory_order_relaxed);
    // Served by the poll on the reader thread (the consumer queue).
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      // Thrown by the loop, not through librdkafka's C frames.
      char buf[512];
      rd_kafka_fatal_error(rk, buf, sizeof(buf));
      self->fatal_ = std::string{"fatal consumer error: "} + buf;
      return;
    }
    // A client error is about reaching the cluster: running again once a
    // broker answers (watch_connection), records or not (an idle topic
    // would otherwise stay degraded).
    self->degrade(std::string{"kafka: "} + reason, true);
  }

  static void on_log(const rd_kafka_t* rk, int level, const char* fac,
                     const char* buf) {
    auto* self = static_cast<const consumer_loop*>(rd_kafka_opaque(rk));
    // A broker's failure is handed to the error callback too (logged there).
    if (std::strcmp(fac, "FAIL") == 0) return;
    if (level <= 4)
      spdlog::warn("{}: kafka: {}: {}", self ? self->m_.name : "kafka", fac,
                   buf);
  }

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* parts,
                           void* opaque) {
    auto* self = static_cast<consumer_loop*>(opaque);
    bool cooperative =
        std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    self->m_.own(rebalances).fetch_add(1, std::memory_order_relaxed);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      self->on_assign(parts, cooperative);
    } else {
      self->on_revoke(parts, cooperative);
    }
    // Tracked are exactly the partitions assigned.
    self->m_.own(partitions_assigned)
        .store(self->tracks_.size(), std::memory_order_relaxed);
  }

  void on_assign(rd_kafka_topic_partition_list_t* parts, bool cooperative) {
    rd_kafka_error_t* error = nullptr;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (cooperative)
      error = rd_kafka_incremental_assign(rk_, parts);
    else
      err = rd_kafka_assign(rk_, parts);
    if (error) {
      spdlog::warn("{}: kafka: assign: {}", m_.name,
                   rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
      return;
    }
    if (err)
      spdlog::warn("{}: kafka: assign: {}", m_.name, rd_kafka_err2str(err));
    for (int i = 0; i < parts->cnt; ++i) {
      auto& p = parts->elems[i];
      track(p.topic, p.partition);
    }
    spdlog::info("{}: assigned {} partitions", m_.name, parts->cnt);
    // Paused for a full window: the new ones too.
    if (paused_) rd_kafka_pause_partitions(rk_, parts);
  }

  void on_revoke(rd_kafka_topic_partition_list_t* parts, bool cooperative) {
    bool lost = rd_kafka_assignment_lost(rk_);
    std::map<partition_key, partition_track*> revoked;
    for (int i = 0; i < parts->cnt; ++i) {
      auto& p = parts->elems[i];
      if (auto it = tracks_.find({p.topic, p.partition}); it != tracks_.end())
        revoked.emplace(it->first, &it->second);
    }
    // Not emitted yet: the next owner reads them (never counted here).
    if (!pending_.empty()) {
      batch keep;
      std::vector<partition_track*> keep_tracks;
      for (std::size_t i = 0; i < pending_.size(); ++i) {
        auto* t = pending_tracks_[i];
        if (revoked.contains({t->topic, t->partition})) continue;
        keep.push_back(std::move(pending_[i]));
        keep_tracks.push_back(t);
      }
      pending_ = std::move(keep);
      pending_tracks_ = std::move(keep_tracks);
    }
    std::vector<uint64_t> numbers;
    for (auto& [_, t] : revoked) {
      t->pending_next = -1;
      t->pending_events = 0;
      for (auto& s : t->inflight)
        numbers.push_back(s.number);
    }
    // Emitted: wait (bounded) for their answers, so what the channels
    // accepted is committed before the partitions go.
    if (!numbers.empty() && !lost && !failing_)
      pump_.wait_accepted_until(numbers, steady::now() + cfg_.revoke_timeout);
    settle(true);
    if (!lost) {
      tp_list commit{static_cast<int>(revoked.size())};
      for (auto& [_, t] : revoked)
        if (t->accepted_next >= 0)
          rd_kafka_topic_partition_list_add(commit.p, t->topic.c_str(),
                                            t->partition)
              ->offset = t->accepted_next;
      if (commit.p->cnt > 0) {
        auto err = rd_kafka_commit(rk_, commit.p, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
          spdlog::warn("{}: kafka: committing the revoked partitions' "
                       "offsets: {} (their next owner may read some records "
                       "again)",
                       m_.name, rd_kafka_err2str(err));
      }
    }
    std::size_t unanswered = 0;
    for (auto& [_, t] : revoked)
      for (auto& s : t->inflight)
        unanswered += s.events;
    if (unanswered > 0) {
      m_.own(uncommitted_at_revoke)
          .fetch_add(unanswered, std::memory_order_relaxed);
      spdlog::warn(
          "{}: {} {} partitions with {} events not accepted {}: "
          "their offsets stay uncommitted, the next owner reads them "
          "again (duplicates if they are accepted still)",
          m_.name, lost ? "lost" : "revoked", revoked.size(), unanswered,
          lost ? "yet"
               : "within revoke_timeout (" +
                     std::to_string(cfg_.revoke_timeout.count()) + " ms)");
    }
    for (auto& [key, _] : revoked)
      tracks_.erase(key);
    if (cooperative) {
      if (auto* error = rd_kafka_incremental_unassign(rk_, parts)) {
        spdlog::warn("{}: kafka: unassign: {}", m_.name,
                     rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
      }
    } else {
      rd_kafka_assign(rk_, nullptr);
    }
    if (!closing_)
      spdlog::info("{}: {} {} partitions", m_.name, lost ? "lost" : "gave up",
                   parts->cnt);
  }

  const kafka_source_config& cfg_;
  source_pump& pump_;
  component_metrics& m_;
  rd_kafka_t* rk_ = nullptr;
  /// The consumer's queue, read a batch of records at a time.
  rd_kafka_queue_t* queue_ = nullptr;
  std::vector<rd_kafka_message_t*> msgs_ =
      std::vector<rd_kafka_message_t*>(1000);
  std::map<partition_key, partition_track> tracks_;
  batch pending_;
  /// The partition of each event of `pending_`.
  std::vector<partition_track*> pending_tracks_;
  steady::time_point first_at_{};
  uint64_t acceptances_seen_ = 0;
  bool paused_ = false;
  bool closing_ = false;
  bool failing_ = false;
  std::string fatal_;         ///< a fatal client error, thrown by the loop
  bool brokers_down_ = false; ///< degraded by a client error (watch_connection)
  uint64_t errors_logged_ = 0;
  steady::time_point last_check_{};
  std::unique_ptr<fetch_waker> waker_;
  /// The prefetch thresholds of librdkafka (watch_prefetch).
  int64_t queued_min_ = 100000;
  int64_t queued_max_bytes_ = int64_t{65536} * 1024;
  int64_t read_count_ = 0;
  int64_t read_bytes_ = 0;
  bool near_full_ = false;
  /// format: flume_avro (read once, not per record).
  const bool flume_avro_ = cfg_.format == "flume_avro";
};

} // namespace

void set_consumer_observer(
    std::function<void(const std::string&, rd_kafka_s*, bool)> observer) {
  std::lock_guard guard{observer_mtx};
  consumer_observer = std::move(observer);
}

caf::actor spawn_kafka_source(caf::actor_system& sys,
                              const kafka_source_config& config,
                              const wiring& w) {
  auto cfg = adapt_batch(config, w);
  auto reader = [cfg](source_pump& pump) {
    auto& m = pump.metrics();
    for (auto* f : {&oversized_records, &uncommitted_at_revoke, &pauses,
                    &prefetch_wakes, &rebalances})
      m.own(*f);
    m.own(partitions_assigned);
    auto bootstrap = cfg.bootstrap_servers;
    if (bootstrap == "embedded") {
      auto& cluster = sinks::embedded_kafka::shared(3);
      for (auto& t : cfg.topics)
        cluster.create_topic(t, 16);
      bootstrap = cluster.bootstrap_servers();
      spdlog::info("{}: embedded Kafka cluster at {}", m.name, bootstrap);
    }
    consumer_loop loop{cfg, bootstrap, pump};
    loop.run();
  };
  return spawn_source(sys, std::move(reader), w.downstream, w.metrics,
                      cfg.max_inflight);
}

} // namespace flumen::sources
