#include "actors/sinks/kafka.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/sinks/embedded_kafka.hpp"
#include "runtime/flow/protocol.hpp"
#include "runtime/flow/sink_driver.hpp"
#include "runtime/libs/rdkafka.hpp"

namespace flumen::sinks {

namespace {

std::mutex observer_mtx;
std::function<void(const std::string&, rd_kafka_t*, bool)> producer_observer;

} // namespace

void set_producer_observer(
    std::function<void(const std::string&, rd_kafka_s*, bool)> observer) {
  std::lock_guard guard{observer_mtx};
  producer_observer = std::move(observer);
}

namespace {

struct batch_tracker;

/// One produced record: its tracker, its index in the batch (the record's
/// opaque, so a delivery report knows which event it is about), and whether
/// the event itself chose its topic or partition.
struct record_slot {
  batch_tracker* tracker = nullptr;
  uint32_t index = 0;
  bool topic_from_event = false;
  bool partition_from_event = false;
};

// Counts the delivery reports of one batch; the last one reports to the
// sink driver.
struct batch_tracker {
  delivery_done done;
  /// The events' owner: librdkafka refers to their bytes until the last
  /// delivery report (no copy per record).
  batch_owner owner;
  std::atomic<int64_t> pending{0};
  std::vector<record_slot> slots;
  std::mutex mtx;
  delivery_report report;

  void fail(const record_slot& slot, int err, std::string why = {},
            const char* topic = nullptr) {
    auto cls = classify(err, slot.topic_from_event, slot.partition_from_event);
    if (why.empty())
      why = rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err));
    std::lock_guard guard{mtx};
    switch (cls) {
    case error_class::none:
      return;
    case error_class::record: {
      rejection r{slot.index, std::move(why), {}};
      r.headers.emplace_back("flumen.error_code", std::to_string(err));
      if (topic) r.headers.emplace_back("flumen.topic", topic);
      report.rejected.push_back(std::move(r));
      return;
    }
    case error_class::fatal:
      report.fatal = true;
      report.reason = std::move(why);
      return;
    case error_class::passing:
      report.retry.push_back(slot.index);
      if (report.reason.empty()) report.reason = std::move(why);
      return;
    }
  }

  // Called once per produced record and once by the producing thread.
  void settle_one() {
    if (pending.fetch_sub(1) == 1) {
      std::sort(report.retry.begin(), report.retry.end());
      done(std::move(report));
      delete this;
    }
  }
};

// librdkafka's C API is used directly: its C++ wrapper allocates a message
// object per delivery report and a header object per record, which showed
// up as a third of the sink's time.
void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
  auto* slot = static_cast<record_slot*>(msg->_private);
  if (!slot) return;
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR)
    slot->tracker->fail(*slot, msg->err, {},
                        msg->rkt ? rd_kafka_topic_name(msg->rkt) : nullptr);
  slot->tracker->settle_one();
}

void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf);

/// The Kafka side of the sink: one producer, a thread serving its delivery
/// reports, and the translation of events into records.
class kafka_backend : public sink_backend {
public:
  kafka_backend(const kafka_config& cfg, std::string bootstrap,
                std::shared_ptr<component_metrics> metrics, sink_context& ctx)
      : cfg_(cfg), metrics_(std::move(metrics)), ctx_(ctx) {
    metrics_->awaits_connection();
    metrics_->set_state(component_state::connecting,
                        "no broker reached yet at " + bootstrap);
    templated_ = cfg_.topic.find("%{") != std::string::npos;
    // Read once here, not compared as strings for every record.
    all_headers_ = cfg_.headers == "all";
    mapped_headers_ = cfg_.headers == "mapping";
    json_format_ = cfg_.format == "json";
    avro_format_ = cfg_.format == "flume_avro";
    char err[512];
    auto* conf = rd_kafka_conf_new();
    for (auto& [k, v] : producer_settings(cfg_, bootstrap)) {
      if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) !=
          RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        throw std::runtime_error(k + ": " + err);
      }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_opaque(conf, this);
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!producer_) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(std::string{"producer: "} + err);
    }
    if (!templated_) {
      default_topic_ = topic(cfg_.topic);
      if (!default_topic_) {
        rd_kafka_destroy(producer_);
        producer_ = nullptr;
        throw std::runtime_error("invalid topic '" + cfg_.topic + "'");
      }
    }
    {
      std::lock_guard guard{observer_mtx};
      if (producer_observer) producer_observer(metrics_->name, producer_, true);
    }
    // Delivery reports are served on a thread of our own, so the sink never
    // blocks in poll(); it also learns the cluster's metadata first, to tell
    // `connecting` from `running`.
    polling_ = true;
    poller_ = std::thread{[this] { poll_loop(); }};
  }

  ~kafka_backend() override {
    polling_ = false;
    if (poller_.joinable()) poller_.join();
    if (!producer_) return;
    {
      std::lock_guard guard{observer_mtx};
      if (producer_observer)
        producer_observer(metrics_->name, producer_, false);
    }
    // Killed or restarted: what is still queued is rolled back by the
    // channel (it saw the sink go down); don't deliver it twice.
    rd_kafka_purge(producer_,
                   RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(producer_, 0);
    for (auto& [_, t] : topics_)
      rd_kafka_topic_destroy(t.rkt);
    rd_kafka_destroy(producer_);
  }

  std::size_t window() const override { return cfg_.max_inflight; }

  /// The sink's name, for librdkafka's log lines.
  const std::string& name() const { return metrics_->name; }

  void deliver(const batch& events, delivery_done done,
               const batch_owner& owner) override;

  void stop() override {
    // The window is settled; this only flushes what librdkafka may still
    // hold for reports that are already in.
    rd_kafka_flush(producer_, 1000);
  }

private:
  static void on_error(rd_kafka_t* rk, int err, const char* reason,
                       void* opaque) {
    auto* self = static_cast<kafka_backend*>(opaque);
    auto& m = *self->metrics_;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      // Every produce fails from now on: only a new producer helps.
      char buf[512];
      rd_kafka_fatal_error(rk, buf, sizeof(buf));
      self->ctx_.fail(std::string{"fatal producer error: "} + buf);
      return;
    }
    m.connection_failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("{}: kafka: {}", m.name, reason);
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
      auto running = static_cast<int>(component_state::running);
      if (m.state.load() == running) {
        m.set_state(component_state::degraded, reason);
        // The poll loop finds out when a broker answers again, traffic or
        // not (an idle sink, or a failover group's passed-over member,
        // would otherwise stay degraded until its next batch).
        self->brokers_down_.store(true, std::memory_order_release);
      }
    }
  }

  void poll_loop() {
    auto connecting = static_cast<int>(component_state::connecting);
    auto degraded = static_cast<int>(component_state::degraded);
    auto last_check = std::chrono::steady_clock::time_point{};
    while (polling_) {
      // Degraded because every broker was down: back to running once one
      // answers a metadata request (asked once a second at most).
      if (brokers_down_.load(std::memory_order_acquire) &&
          std::chrono::steady_clock::now() - last_check >=
              std::chrono::seconds{1}) {
        last_check = std::chrono::steady_clock::now();
        if (metrics_->state.load() != degraded) {
          brokers_down_.store(false, std::memory_order_release);
        } else {
          const rd_kafka_metadata_t* md = nullptr;
          if (rd_kafka_metadata(producer_, 0,
                                default_topic_ ? default_topic_->rkt : nullptr,
                                &md, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_metadata_destroy(md);
            brokers_down_.store(false, std::memory_order_release);
            if (metrics_->state.load() == degraded) {
              metrics_->set_state(component_state::running);
              spdlog::info("{}: a broker answers again", metrics_->name);
            }
          }
        }
      }
      if (metrics_->state.load() == connecting) {
        const rd_kafka_metadata_t* md = nullptr;
        auto t0 = std::chrono::steady_clock::now();
        if (rd_kafka_metadata(producer_, 0,
                              default_topic_ ? default_topic_->rkt : nullptr,
                              &md, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          rd_kafka_metadata_destroy(md);
          metrics_->connected();
          if (metrics_->state.load() == connecting)
            metrics_->set_state(component_state::running);
          spdlog::debug("{}: connected in {} ms", metrics_->name,
                        std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - t0)
                            .count());
        }
      }
      rd_kafka_poll(producer_, 50);
    }
  }

  /// A topic, and how its key-less records are spread: each transaction
  /// sends them to one partition, the next one round-robin (librdkafka's
  /// sticky partitioner, per transaction): one request per partition
  /// instead of a record or two for each of them, and a partition's order
  /// is the order taken.
  struct topic_info {
    rd_kafka_topic_t* rkt = nullptr;
    int32_t partitions = 0; ///< 0: not known (yet): librdkafka's partitioner
    uint32_t next = 0;
    int32_t sticky = RD_KAFKA_PARTITION_UA;
    uint64_t sticky_for = 0; ///< the delivery `sticky` was chosen in
    std::chrono::steady_clock::time_point checked{};
  };

  topic_info* topic(const std::string& name) {
    auto i = topics_.find(name);
    if (i != topics_.end()) return &i->second;
    if (!valid_topic_name(name)) return nullptr;
    auto* t = rd_kafka_topic_new(producer_, name.c_str(), nullptr);
    if (!t) return nullptr;
    topic_info info;
    info.rkt = t;
    // Spread the sinks of several agents over different partitions.
    info.next = static_cast<uint32_t>(std::random_device{}());
    return &topics_.emplace(name, info).first->second;
  }

  /// The partition this delivery sends `t`'s key-less records to.
  int32_t sticky_partition(topic_info& t) {
    if (t.sticky_for == deliveries_) return t.sticky;
    t.sticky_for = deliveries_;
    auto now = std::chrono::steady_clock::now();
    // The partition count is asked for once, then every minute (partitions
    // may be added); unknown, once a second at most.
    auto age =
        t.partitions > 0 ? std::chrono::seconds{60} : std::chrono::seconds{1};
    if (now - t.checked >= age) {
      t.checked = now;
      const rd_kafka_metadata_t* md = nullptr;
      if (rd_kafka_metadata(producer_, 0, t.rkt, &md, 500) ==
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && md->topics[0].err == 0)
          t.partitions = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
      }
    }
    t.sticky = t.partitions > 0
                   ? static_cast<int32_t>(t.next++ %
                                          static_cast<uint32_t>(t.partitions))
                   : RD_KAFKA_PARTITION_UA;
    return t.sticky;
  }

  /// Enqueues the records gathered in `plain_` (one topic, no headers) in
  /// one call.
  void flush_plain(batch_tracker* t, bool copy);

  kafka_config cfg_;
  std::shared_ptr<component_metrics> metrics_;
  sink_context& ctx_;
  rd_kafka_t* producer_ = nullptr;
  topic_info* default_topic_ = nullptr;
  bool templated_ = false;
  bool all_headers_ = false;    ///< headers: all
  bool mapped_headers_ = false; ///< headers: {from: to, ...}
  bool json_format_ = false;    ///< format: json
  bool avro_format_ = false;    ///< format: flume_avro
  std::map<std::string, topic_info, std::less<>> topics_;
  uint64_t deliveries_ = 0;
  /// Records waiting to be enqueued together (rd_kafka_produce_batch),
  /// and their topic.
  std::vector<rd_kafka_message_t> plain_;
  topic_info* plain_topic_ = nullptr;
  std::thread poller_;
  std::atomic<bool> polling_{false};
  /// Degraded by librdkafka saying every broker is down (poll_loop looks
  /// for one answering again).
  std::atomic<bool> brokers_down_{false};
  std::string json_;
};

void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto* b = static_cast<const kafka_backend*>(rd_kafka_opaque(rk));
  // A broker's failure ("FAIL") is logged by librdkafka and also handed to
  // the error callback (rd_kafka_broker_set_error), which counts it in
  // connection_failures and logs it: logged here too, each was said twice.
  if (std::strcmp(fac, "FAIL") == 0) return;
  if (level <= 4) // warning and worse
    spdlog::warn("{}: kafka: {}: {}", b ? b->name() : "kafka", fac, buf);
}

void kafka_backend::flush_plain(batch_tracker* t, bool copy) {
  if (plain_.empty()) return;
  auto n = static_cast<int>(plain_.size());
  int flags = RD_KAFKA_MSG_F_PARTITION | (copy ? RD_KAFKA_MSG_F_COPY : 0);
  auto ok = rd_kafka_produce_batch(plain_topic_->rkt, RD_KAFKA_PARTITION_UA,
                                   flags, plain_.data(), n);
  if (ok != n) {
    for (auto& m : plain_) {
      if (m.err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      auto* slot = static_cast<record_slot*>(m._private);
      t->fail(*slot, m.err, {}, rd_kafka_topic_name(plain_topic_->rkt));
      t->settle_one();
    }
  }
  plain_.clear();
}

void kafka_backend::deliver(const batch& events, delivery_done done,
                            const batch_owner& owner) {
  ++deliveries_;
  // Without an owner the events die with this call: librdkafka copies them.
  bool copy = !owner;
  auto* t = new batch_tracker;
  t->done = std::move(done);
  t->owner = owner;
  t->pending = static_cast<int64_t>(events.size()) + 1;
  t->slots.resize(events.size());
  // Empty unless the last delivery threw half-way: nothing of it is sent.
  plain_.clear();
  plain_topic_ = nullptr;
  // A record produced one by one (headers, a key, a timestamp) gets the
  // delivery's time, read once, as produce_batch gives its records: a
  // clock reading per record was 4 % of a pipeline whose events carry
  // headers.
  int64_t now_ms = 0;
  for (uint32_t index = 0; index < events.size(); ++index) {
    auto& e = events[index];
    auto* slot = &t->slots[index];
    *slot = record_slot{t, index, false, false};
    auto* topic = default_topic_;
    std::string topic_name;
    if (templated_) {
      slot->topic_from_event = true;
      std::string missing;
      topic_name = expand_placeholders(cfg_.topic, e.headers, &missing);
      if (!missing.empty()) {
        if (cfg_.default_topic.empty()) {
          t->fail(*slot, RD_KAFKA_RESP_ERR__INVALID_ARG,
                  "topic '" + cfg_.topic + "' needs header '" + missing +
                      "', which the event lacks (set default_topic to send "
                      "such events there)");
          t->settle_one();
          continue;
        }
        topic_name = cfg_.default_topic;
        slot->topic_from_event = false;
      }
    }
    if (cfg_.allow_topic_override) {
      if (auto i = e.headers.find(cfg_.topic_header); i != e.headers.end()) {
        topic_name = i->second;
        slot->topic_from_event = true;
      }
    }
    if (!topic_name.empty() || templated_) {
      topic = this->topic(topic_name);
      if (!topic) {
        t->fail(*slot, RD_KAFKA_RESP_ERR__INVALID_ARG,
                "'" + topic_name.substr(0, 300) +
                    "' is not a valid Kafka topic name");
        t->settle_one();
        continue;
      }
    }
    const std::string* key = nullptr;
    if (auto i = e.headers.find(cfg_.key_header); i != e.headers.end())
      key = &i->second;
    int32_t partition = cfg_.default_partition;
    if (!cfg_.partition_header.empty()) {
      if (auto i = e.headers.find(cfg_.partition_header);
          i != e.headers.end()) {
        auto& v = i->second;
        int32_t p = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), p);
        if (ec == std::errc{} && end == v.data() + v.size() && p >= 0) {
          partition = p;
          slot->partition_from_event = true;
        }
      }
    }
    // A keyed record goes where librdkafka's partitioner puts its key; a
    // key-less one to this delivery's partition of its topic.
    if (partition == RD_KAFKA_PARTITION_UA && !key)
      partition = sticky_partition(*topic);
    int64_t timestamp = 0; // 0: librdkafka sets the current time
    if (!cfg_.timestamp_header.empty()) {
      if (auto i = e.headers.find(cfg_.timestamp_header);
          i != e.headers.end()) {
        auto& v = i->second;
        std::from_chars(v.data(), v.data() + v.size(), timestamp);
      }
    }
    bool with_headers = (all_headers_ && !e.headers.empty()) || mapped_headers_;
    if (!with_headers && !json_format_ && !avro_format_ && timestamp == 0 &&
        partition != RD_KAFKA_PARTITION_UA) {
      // A plain record: gathered, and enqueued with the others of its
      // topic in one call (no lock and clock reading per record).
      if (plain_topic_ != topic) {
        flush_plain(t, copy);
        plain_topic_ = topic;
      }
      rd_kafka_message_t m{};
      m.payload = const_cast<char*>(e.body.data());
      m.len = e.body.size();
      if (key) {
        m.key = const_cast<char*>(key->data());
        m.key_len = key->size();
      }
      m.partition = partition;
      m._private = slot;
      plain_.push_back(m);
      continue;
    }
    // Records in one partition keep their order: what was gathered goes
    // first.
    flush_plain(t, copy);
    rd_kafka_headers_t* headers = nullptr;
    if (all_headers_ && !e.headers.empty()) {
      headers = rd_kafka_headers_new(e.headers.size());
      for (auto& [k, v] : e.headers)
        rd_kafka_header_add(headers, k.data(), static_cast<ssize_t>(k.size()),
                            v.data(), static_cast<ssize_t>(v.size()));
    } else if (mapped_headers_) {
      for (auto& [from, to] : cfg_.header_names) {
        auto i = e.headers.find(from);
        if (i == e.headers.end()) continue;
        if (!headers) headers = rd_kafka_headers_new(cfg_.header_names.size());
        rd_kafka_header_add(headers, to.data(), static_cast<ssize_t>(to.size()),
                            i->second.data(),
                            static_cast<ssize_t>(i->second.size()));
      }
    }
    const std::string* value = &e.body;
    bool copy_value = copy;
    if (json_format_) {
      json_ = json_envelope(e);
      value = &json_;
      copy_value = true;
    } else if (avro_format_) {
      json_ = flume_event_envelope(e);
      value = &json_;
      copy_value = true;
    }
    if (timestamp == 0) {
      if (now_ms == 0)
        now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
      timestamp = now_ms;
    }
    auto err = rd_kafka_producev(
        producer_, RD_KAFKA_V_RKT(topic->rkt), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(copy_value ? RD_KAFKA_MSG_F_COPY : 0),
        RD_KAFKA_V_VALUE(const_cast<char*>(value->data()), value->size()),
        RD_KAFKA_V_TIMESTAMP(timestamp),
        RD_KAFKA_V_KEY(key ? key->data() : nullptr, key ? key->size() : 0),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // The headers stay ours on failure.
      if (headers) rd_kafka_headers_destroy(headers);
      t->fail(*slot, err, {}, rd_kafka_topic_name(topic->rkt));
      t->settle_one();
    }
  }
  flush_plain(t, copy);
  t->settle_one();
}

} // namespace

caf::actor spawn_kafka(caf::actor_system& sys, const kafka_config& cfg,
                       const wiring& w) {
  sink_driver_config dc;
  dc.batch_size = cfg.batch_size;
  dc.batch_bytes = cfg.batch_bytes;
  dc.max_inflight_bytes = cfg.max_inflight_bytes;
  dc.on_permanent_error = cfg.on_permanent_error;
  auto metrics = w.metrics;
  auto make = [cfg,
               metrics](sink_context& ctx) -> std::unique_ptr<sink_backend> {
    auto bootstrap = cfg.bootstrap_servers;
    if (bootstrap == "embedded") {
      // Started here, inside the sink, so a failure to start it is a failed
      // start the supervisor counts and backs off.
      auto& cluster = embedded_kafka::shared(cfg.embedded_brokers);
      if (cfg.topic.find("%{") == std::string::npos)
        cluster.create_topic(cfg.topic, cfg.embedded_partitions);
      bootstrap = cluster.bootstrap_servers();
      // Logged, so anyone can read what was delivered (kcat -b ADDRESS).
      spdlog::info("{}: embedded Kafka cluster at {}", metrics->name,
                   bootstrap);
    }
    return std::make_unique<kafka_backend>(cfg, bootstrap, metrics, ctx);
  };
  return spawn_sink_driver(sys, std::move(make), std::move(dc), w);
}

} // namespace flumen::sinks
