#include "actors/sinks/kafka.hpp"

#include <atomic>
#include <charconv>
#include <thread>

#include <caf/all.hpp>
#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include "actors/sinks/embedded_kafka.hpp"
#include "runtime/protocol.hpp"

namespace flumen::sinks {

kafka_config parse_kafka(option_reader& r) {
  kafka_config cfg;
  cfg.bootstrap_servers = r.required_str("bootstrap_servers");
  cfg.embedded_brokers =
    static_cast<int>(r.integer("embedded_brokers", cfg.embedded_brokers, 1, 16));
  cfg.embedded_partitions = static_cast<int>(
    r.integer("embedded_partitions", cfg.embedded_partitions, 1, 1024));
  cfg.topic = r.required_str("topic");
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight, 1, 64);
  cfg.key_header = r.str("key_header", cfg.key_header);
  cfg.partition_header = r.str("partition_header", cfg.partition_header);
  cfg.topic_header = r.str("topic_header", cfg.topic_header);
  cfg.allow_topic_override =
    r.boolean("allow_topic_override", cfg.allow_topic_override);
  cfg.forward_headers = r.boolean("forward_headers", cfg.forward_headers);
  cfg.producer = r.string_map("producer");
  // Let librdkafka judge each key and value now, at load time.
  std::unique_ptr<RdKafka::Conf> probe{
    RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL)};
  for (auto& [key, value] : cfg.producer) {
    std::string err;
    if (probe->set(key, value, err) != RdKafka::Conf::CONF_OK)
      r.error("producer", "librdkafka rejects '" + key + ": " + value
                            + "': " + err);
  }
  return cfg;
}

std::map<std::string, std::string>
producer_settings(const kafka_config& cfg, const std::string& bootstrap) {
  auto in_flight_messages = cfg.max_inflight * cfg.batch_size;
  std::map<std::string, std::string> out{
    {"bootstrap.servers", bootstrap},
    {"enable.idempotence", "true"},
    {"linger.ms", "5"},
    // Everything the sink may have in flight fits the client's queue, so a
    // produce call never fails for a full queue.
    {"queue.buffering.max.messages",
     std::to_string(std::max<std::size_t>(100000, 2 * in_flight_messages))},
  };
  for (auto& [k, v] : cfg.producer)
    out[k] = v;
  return out;
}

namespace {

// Counts the delivery reports of one transaction; the last one tells the
// sink actor.
struct batch_tracker {
  caf::actor sink;
  txn_id id = 0;
  std::atomic<int64_t> pending{0};
  std::atomic<int64_t> failed{0};
  std::mutex mtx;
  std::string first_error;

  void fail(const std::string& why) {
    if (failed.fetch_add(1) == 0) {
      std::lock_guard guard{mtx};
      first_error = why;
    }
  }

  // Called once per produced message and once by the producing actor.
  void settle_one() {
    if (pending.fetch_sub(1) == 1) {
      caf::anon_send(sink, delivered_atom::value, id,
                     static_cast<uint64_t>(failed.load()), first_error);
      delete this;
    }
  }
};

class delivery_reports : public RdKafka::DeliveryReportCb {
public:
  void dr_cb(RdKafka::Message& msg) override {
    auto* t = static_cast<batch_tracker*>(msg.msg_opaque());
    if (!t)
      return;
    if (msg.err() != RdKafka::ERR_NO_ERROR)
      t->fail(msg.errstr());
    t->settle_one();
  }
};

class client_events : public RdKafka::EventCb {
public:
  explicit client_events(std::shared_ptr<component_metrics> m)
    : metrics_(std::move(m)) {}

  void event_cb(RdKafka::Event& ev) override {
    switch (ev.type()) {
      case RdKafka::Event::EVENT_ERROR:
        metrics_->connection_failures.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("{}: kafka: {}", metrics_->name, ev.str());
        break;
      case RdKafka::Event::EVENT_LOG:
        if (ev.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING)
          spdlog::warn("{}: kafka: {}", metrics_->name, ev.str());
        break;
      default:
        break;
    }
  }

private:
  std::shared_ptr<component_metrics> metrics_;
};

struct kafka_state {
  kafka_config cfg;
  caf::actor channel;
  std::shared_ptr<component_metrics> metrics;
  std::unique_ptr<delivery_reports> reports;
  std::unique_ptr<client_events> events;
  std::unique_ptr<RdKafka::Producer> producer;
  std::thread poller;
  std::shared_ptr<std::atomic<bool>> polling;
  bool taking = false; // a take is outstanding
  bool paused = false; // backing off after a failed batch
  bool stopping = false;
  std::size_t inflight = 0; // batches produced, reports pending
  std::map<txn_id, std::size_t> sizes;
  std::vector<caf::response_promise> stop_waiters;
  std::chrono::milliseconds backoff{100};

  static inline const char* name = "kafka_sink";

  ~kafka_state() {
    if (polling)
      *polling = false;
    if (poller.joinable())
      poller.join();
    if (producer) {
      // Killed or stopped: what is still queued is rolled back by the
      // channel (it saw this actor go down); don't deliver it twice.
      producer->purge(RdKafka::Producer::PURGE_QUEUE
                      | RdKafka::Producer::PURGE_INFLIGHT);
      producer->poll(0);
      producer.reset();
    }
  }
};

using kafka_actor = caf::stateful_actor<kafka_state>;

void pump(kafka_actor* self);

void finish_if_idle(kafka_actor* self) {
  auto& st = self->state;
  if (!st.stopping || st.taking || st.inflight != 0)
    return;
  st.producer->flush(5000);
  st.metrics->set_state(component_state::stopped);
  for (auto& rp : st.stop_waiters)
    rp.deliver(ok_atom::value);
  st.stop_waiters.clear();
  self->quit();
}

void produce(kafka_actor* self, txn_id id, const batch& events) {
  auto& st = self->state;
  auto* t = new batch_tracker;
  t->sink = caf::actor_cast<caf::actor>(self);
  t->id = id;
  t->pending = static_cast<int64_t>(events.size()) + 1;
  for (auto& e : events) {
    const std::string* topic = &st.cfg.topic;
    if (st.cfg.allow_topic_override) {
      if (auto i = e.headers.find(st.cfg.topic_header); i != e.headers.end())
        topic = &i->second;
    }
    const std::string* key = nullptr;
    if (auto i = e.headers.find(st.cfg.key_header); i != e.headers.end())
      key = &i->second;
    int32_t partition = RdKafka::Topic::PARTITION_UA;
    if (!st.cfg.partition_header.empty()) {
      if (auto i = e.headers.find(st.cfg.partition_header);
          i != e.headers.end()) {
        auto& v = i->second;
        int32_t p = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), p);
        if (ec == std::errc{} && end == v.data() + v.size() && p >= 0)
          partition = p;
      }
    }
    RdKafka::Headers* headers = nullptr;
    if (st.cfg.forward_headers && !e.headers.empty()) {
      headers = RdKafka::Headers::create();
      for (auto& [k, v] : e.headers)
        headers->add(k, v.data(), v.size());
    }
    auto err = st.producer->produce(
      *topic, partition, RdKafka::Producer::RK_MSG_COPY,
      const_cast<char*>(e.body.data()), e.body.size(),
      key ? key->data() : nullptr, key ? key->size() : 0, 0, headers, t);
    if (err != RdKafka::ERR_NO_ERROR) {
      // The headers stay ours on failure.
      delete headers;
      t->fail(RdKafka::err2str(err));
      t->settle_one();
    }
  }
  ++st.inflight;
  st.sizes[id] = events.size();
  t->settle_one();
}

void pump(kafka_actor* self) {
  auto& st = self->state;
  if (st.taking || st.paused || st.stopping || st.inflight >= st.cfg.max_inflight)
    return;
  st.taking = true;
  self
    ->request(st.channel, caf::infinite, take_atom::value,
              static_cast<uint32_t>(st.cfg.batch_size))
    .then(
      [self](txn_id id, const batch& events) {
        auto& st = self->state;
        st.taking = false;
        if (events.empty()) {
          st.metrics->batches_empty.fetch_add(1, std::memory_order_relaxed);
        } else {
          st.metrics->events_taken.fetch_add(events.size(),
                                             std::memory_order_relaxed);
          produce(self, id, events);
        }
        pump(self);
        finish_if_idle(self);
      },
      [self](caf::error& err) { self->quit(std::move(err)); });
}

caf::behavior kafka_sink(kafka_actor* self, kafka_config cfg,
                         std::string bootstrap, caf::actor channel,
                         std::shared_ptr<component_metrics> metrics) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.channel = std::move(channel);
  st.metrics = std::move(metrics);
  st.reports = std::make_unique<delivery_reports>();
  st.events = std::make_unique<client_events>(st.metrics);
  std::unique_ptr<RdKafka::Conf> conf{
    RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL)};
  std::string err;
  for (auto& [k, v] : producer_settings(st.cfg, bootstrap)) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      self->quit(make_error(errc::component_failed, k + ": " + err));
      return {};
    }
  }
  conf->set("dr_cb", st.reports.get(), err);
  conf->set("event_cb", st.events.get(), err);
  st.producer.reset(RdKafka::Producer::create(conf.get(), err));
  if (!st.producer) {
    self->quit(make_error(errc::component_failed, "producer: " + err));
    return {};
  }
  // Delivery reports are served on a thread of our own so the actor never
  // blocks in poll().
  st.polling = std::make_shared<std::atomic<bool>>(true);
  st.poller = std::thread{[p = st.producer.get(), run = st.polling] {
    while (*run)
      p->poll(50);
  }};
  st.metrics->set_state(component_state::running);
  pump(self);
  return {
    [self](delivered_atom, txn_id id, uint64_t failed,
           const std::string& why) {
      auto& st = self->state;
      --st.inflight;
      auto n = st.sizes[id];
      st.sizes.erase(id);
      if (failed == 0) {
        self->request(st.channel, caf::infinite, commit_atom::value, id)
          .then(
            [self, n](ok_atom) {
              auto& st = self->state;
              st.metrics->events_committed.fetch_add(
                n, std::memory_order_relaxed);
              st.metrics->batches.fetch_add(1, std::memory_order_relaxed);
              st.backoff = std::chrono::milliseconds{100};
              finish_if_idle(self);
            },
            [self](caf::error& err) { self->quit(std::move(err)); });
        pump(self);
        return;
      }
      spdlog::warn("{}: {} of {} events not delivered ({}); rolling back and "
                   "retrying in {} ms",
                   st.metrics->name, failed, n, why, st.backoff.count());
      st.metrics->events_rolled_back.fetch_add(n, std::memory_order_relaxed);
      self->request(st.channel, caf::infinite, rollback_atom::value, id)
        .then([self](ok_atom) { finish_if_idle(self); },
              [self](caf::error& err) { self->quit(std::move(err)); });
      if (!st.paused) {
        st.paused = true;
        self->delayed_send(self, st.backoff, tick_atom::value);
        st.backoff = std::min(st.backoff * 2, std::chrono::milliseconds{30000});
      }
    },
    [self](tick_atom) {
      self->state.paused = false;
      pump(self);
    },
    [self](stop_atom) -> caf::result<ok_atom> {
      auto& st = self->state;
      st.stopping = true;
      auto rp = self->make_response_promise();
      st.stop_waiters.push_back(rp);
      finish_if_idle(self);
      return caf::delegated<ok_atom>{};
    },
  };
}

} // namespace

caf::actor spawn_kafka(caf::actor_system& sys, const kafka_config& cfg,
                       const wiring& w) {
  auto bootstrap = cfg.bootstrap_servers;
  if (bootstrap == "embedded") {
    auto& cluster = embedded_kafka::shared(cfg.embedded_brokers);
    if (cfg.topic.find("%{") == std::string::npos)
      cluster.create_topic(cfg.topic, cfg.embedded_partitions);
    bootstrap = cluster.bootstrap_servers();
  }
  // Detached: librdkafka calls (flush on stop, destroy) may block briefly.
  return sys.spawn<caf::detached>(kafka_sink, cfg, bootstrap, w.channel,
                                  w.metrics);
}

} // namespace flumen::sinks
