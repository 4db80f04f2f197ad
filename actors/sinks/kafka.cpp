#include "actors/sinks/kafka.hpp"

#include <atomic>
#include <charconv>
#include <thread>

#include <caf/all.hpp>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include "actors/sinks/embedded_kafka.hpp"
#include "runtime/protocol.hpp"

namespace flumen::sinks {

kafka_config parse_kafka(option_reader& r) {
  kafka_config cfg;
  cfg.bootstrap_servers = r.required_str("bootstrap_servers");
  cfg.embedded_brokers = static_cast<int>(
      r.integer("embedded_brokers", cfg.embedded_brokers, 1, 16));
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
      r.error("producer",
              "librdkafka rejects '" + key + ": " + value + "': " + err);
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

  void fail(const char* why) {
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

// librdkafka's C API is used directly: its C++ wrapper allocates a message
// object per delivery report and a header object per record, which showed
// up as a third of the sink's time.
void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
  auto* t = static_cast<batch_tracker*>(msg->_private);
  if (!t) return;
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR)
    t->fail(rd_kafka_err2str(msg->err));
  t->settle_one();
}

void on_error(rd_kafka_t*, int, const char* reason, void* opaque) {
  auto* m = static_cast<component_metrics*>(opaque);
  m->connection_failures.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("{}: kafka: {}", m->name, reason);
}

void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto* m = static_cast<component_metrics*>(rd_kafka_opaque(rk));
  if (level <= 4) // warning and worse
    spdlog::warn("{}: kafka: {}: {}", m ? m->name : "kafka", fac, buf);
}

struct kafka_state {
  kafka_config cfg;
  caf::actor channel;
  std::shared_ptr<component_metrics> metrics;
  rd_kafka_t* producer = nullptr;
  std::map<std::string, rd_kafka_topic_t*, std::less<>> topics;
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

  rd_kafka_topic_t* topic(const std::string& name) {
    auto i = topics.find(name);
    if (i != topics.end()) return i->second;
    auto* t = rd_kafka_topic_new(producer, name.c_str(), nullptr);
    topics.emplace(name, t);
    return t;
  }

  ~kafka_state() {
    if (polling) *polling = false;
    if (poller.joinable()) poller.join();
    if (producer) {
      // Killed or stopped: what is still queued is rolled back by the
      // channel (it saw this actor go down); don't deliver it twice.
      rd_kafka_purge(producer,
                     RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(producer, 0);
      for (auto& [_, t] : topics)
        rd_kafka_topic_destroy(t);
      rd_kafka_destroy(producer);
    }
  }
};

using kafka_actor = caf::stateful_actor<kafka_state>;

void pump(kafka_actor* self);

void finish_if_idle(kafka_actor* self) {
  auto& st = self->state;
  if (!st.stopping || st.taking || st.inflight != 0) return;
  rd_kafka_flush(st.producer, 5000);
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
  auto* default_topic = st.topic(st.cfg.topic);
  for (auto& e : events) {
    auto* topic = default_topic;
    if (st.cfg.allow_topic_override) {
      if (auto i = e.headers.find(st.cfg.topic_header); i != e.headers.end())
        topic = st.topic(i->second);
    }
    const std::string* key = nullptr;
    if (auto i = e.headers.find(st.cfg.key_header); i != e.headers.end())
      key = &i->second;
    int32_t partition = RD_KAFKA_PARTITION_UA;
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
    rd_kafka_headers_t* headers = nullptr;
    if (st.cfg.forward_headers && !e.headers.empty()) {
      headers = rd_kafka_headers_new(e.headers.size());
      for (auto& [k, v] : e.headers)
        rd_kafka_header_add(headers, k.data(), static_cast<ssize_t>(k.size()),
                            v.data(), static_cast<ssize_t>(v.size()));
    }
    auto err = rd_kafka_producev(
        st.producer, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<char*>(e.body.data()), e.body.size()),
        RD_KAFKA_V_KEY(key ? key->data() : nullptr, key ? key->size() : 0),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(t), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // The headers stay ours on failure.
      if (headers) rd_kafka_headers_destroy(headers);
      t->fail(rd_kafka_err2str(err));
      t->settle_one();
    }
  }
  ++st.inflight;
  st.sizes[id] = events.size();
  t->settle_one();
}

void pump(kafka_actor* self) {
  auto& st = self->state;
  if (st.taking || st.paused || st.stopping ||
      st.inflight >= st.cfg.max_inflight)
    return;
  st.taking = true;
  self->request(st.channel, caf::infinite, take_atom::value,
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
  char err[512];
  auto* conf = rd_kafka_conf_new();
  for (auto& [k, v] : producer_settings(st.cfg, bootstrap)) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      self->quit(make_error(errc::component_failed, k + ": " + err));
      return {};
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_log_cb(conf, on_log);
  rd_kafka_conf_set_opaque(conf, st.metrics.get());
  st.producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (!st.producer) {
    rd_kafka_conf_destroy(conf);
    self->quit(
        make_error(errc::component_failed, std::string{"producer: "} + err));
    return {};
  }
  // A channel that dies never answers a held take: watch it, so the sink
  // goes down too and its supervisor sees why.
  self->monitor(st.channel);
  self->set_down_handler([self](const caf::down_msg& dm) {
    if (dm.source == self->state.channel.address())
      self->quit(make_error(errc::channel_closed, "the channel is gone"));
  });
  // Delivery reports are served on a thread of our own so the actor never
  // blocks in poll().
  st.polling = std::make_shared<std::atomic<bool>>(true);
  st.poller =
      std::thread{[rk = st.producer, run = st.polling,
                   topic = st.topic(st.cfg.topic), name = st.metrics->name] {
        // Warm up: connect and learn the topic's leaders now, not on the first
        // batch (that costs about a second on a fresh producer).
        auto t0 = std::chrono::steady_clock::now();
        const rd_kafka_metadata_t* md = nullptr;
        if (rd_kafka_metadata(rk, 0, topic, &md, 5000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
          rd_kafka_metadata_destroy(md);
        spdlog::debug("{}: producer warm-up took {} ms", name,
                      std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - t0)
                          .count());
        while (*run)
          rd_kafka_poll(rk, 50);
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
          st.backoff =
              std::min(st.backoff * 2, std::chrono::milliseconds{30000});
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
  return sys.spawn(kafka_sink, cfg, bootstrap, w.channel, w.metrics);
}

} // namespace flumen::sinks
