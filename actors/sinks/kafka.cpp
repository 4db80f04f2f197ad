#include "actors/sinks/kafka.hpp"

#include <atomic>
#include <charconv>
#include <cstdio>
#include <random>
#include <thread>

#include <caf/all.hpp>
#include <librdkafka/rdkafka.h>
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
  cfg.default_partition = static_cast<int32_t>(
      r.integer("default_partition", cfg.default_partition, -1, INT32_MAX));
  cfg.timestamp_header = r.str("timestamp_header", cfg.timestamp_header);
  if (auto h = r.node("headers"); h.IsDefined() && h.IsMap()) {
    cfg.headers = "mapping";
    cfg.header_names = r.string_map("headers");
  } else {
    cfg.headers = r.choice("headers", cfg.headers, {"all", "none"});
  }
  cfg.format = r.choice("format", cfg.format, {"body", "json"});
  cfg.on_permanent_error =
      r.choice("on_permanent_error", cfg.on_permanent_error,
               {"drop", "dead_letter", "fail"});
  cfg.dead_letter_channel = r.str("dead_letter_channel");
  if (cfg.on_permanent_error == "dead_letter" &&
      cfg.dead_letter_channel.empty())
    r.error("on_permanent_error", "'dead_letter' needs a dead_letter_channel");
  if (cfg.on_permanent_error != "dead_letter" &&
      !cfg.dead_letter_channel.empty())
    r.error("dead_letter_channel",
            "is used only with on_permanent_error: dead_letter");
  cfg.producer = r.string_map("producer");
  // Let librdkafka judge each key and value now, at load time.
  auto* probe = rd_kafka_conf_new();
  for (auto& [key, value] : cfg.producer) {
    char err[512];
    if (rd_kafka_conf_set(probe, key.c_str(), value.c_str(), err,
                          sizeof(err)) != RD_KAFKA_CONF_OK)
      r.error("producer",
              "librdkafka rejects '" + key + ": " + value + "': " + err);
  }
  rd_kafka_conf_destroy(probe);
  return cfg;
}

std::map<std::string, std::string>
producer_settings(const kafka_config& cfg, const std::string& bootstrap) {
  auto in_flight_messages = cfg.max_inflight * cfg.batch_size;
  std::map<std::string, std::string> out{
      {"bootstrap.servers", bootstrap},
      {"enable.idempotence", "true"},
      {"linger.ms", "5"},
      // Come back within a second of the brokers (librdkafka's default
      // backoff grows to 10 s while they are away).
      {"reconnect.backoff.max.ms", "1000"},
      // The client's queue is sized from the sink's own window: everything
      // the sink may have in flight fits (a produce call never fails for a
      // full queue), and nothing more, so the process has a known ceiling.
      {"queue.buffering.max.messages", std::to_string(2 * in_flight_messages)},
  };
  for (auto& [k, v] : cfg.producer)
    out[k] = v;
  return out;
}

std::string expand_placeholders(const std::string& pattern,
                                const header_map& headers) {
  std::string out;
  std::size_t pos = 0;
  for (;;) {
    auto open = pattern.find("%{", pos);
    auto close = open == std::string::npos ? open : pattern.find('}', open);
    if (close == std::string::npos) {
      out.append(pattern, pos);
      return out;
    }
    out.append(pattern, pos, open - pos);
    auto name = std::string_view{pattern}.substr(open + 2, close - open - 2);
    if (auto i = headers.find(name); i != headers.end()) out += i->second;
    pos = close + 1;
  }
}

namespace {

void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\r':
      out += "\\r";
      break;
    default:
      if (c < 0x20 || c >= 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  out += '"';
}

} // namespace

std::string json_envelope(const event& e) {
  std::string out = "{\"headers\":{";
  bool first = true;
  for (auto& [k, v] : e.headers) {
    if (!first) out += ',';
    first = false;
    json_string(out, k);
    out += ':';
    json_string(out, v);
  }
  out += "},\"body\":";
  json_string(out, e.body);
  out += '}';
  return out;
}

bool is_permanent(int kafka_error) {
  switch (static_cast<rd_kafka_resp_err_t>(kafka_error)) {
  case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
  case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
  case RD_KAFKA_RESP_ERR_INVALID_RECORD:
  case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
  case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
  case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
  case RD_KAFKA_RESP_ERR__INVALID_ARG:
    return true;
  default:
    return false;
  }
}

namespace {

struct batch_tracker;

/// One produced record: its tracker and its index in the batch (the
/// record's opaque, so a delivery report knows which event it is about).
struct record_slot {
  batch_tracker* tracker = nullptr;
  uint32_t index = 0;
};

// Counts the delivery reports of one transaction; the last one tells the
// sink actor, with every failure as (index << 32 | error code).
struct batch_tracker {
  caf::actor sink;
  txn_id id = 0;
  std::atomic<int64_t> pending{0};
  std::vector<record_slot> slots;
  std::mutex mtx;
  std::vector<uint64_t> failures;

  void fail(uint32_t index, rd_kafka_resp_err_t err) {
    std::lock_guard guard{mtx};
    failures.push_back(uint64_t{index} << 32 |
                       static_cast<uint32_t>(static_cast<int32_t>(err)));
  }

  // Called once per produced record and once by the producing actor.
  void settle_one() {
    if (pending.fetch_sub(1) == 1) {
      caf::anon_send(sink, delivered_atom::value, id,
                     static_cast<uint64_t>(slots.size()), std::move(failures));
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
    slot->tracker->fail(slot->index, msg->err);
  slot->tracker->settle_one();
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
  caf::actor dead_letter;
  std::shared_ptr<component_metrics> metrics;
  rd_kafka_t* producer = nullptr;
  std::map<std::string, rd_kafka_topic_t*, std::less<>> topics;
  std::thread poller;
  std::shared_ptr<std::atomic<bool>> polling;
  bool taking = false; // a take is outstanding
  bool paused = false; // backing off after a failed batch
  bool stopping = false;
  std::size_t inflight = 0; // batches produced, reports pending
  std::vector<caf::response_promise> stop_waiters;
  std::chrono::milliseconds backoff{100};
  std::minstd_rand rng{std::random_device{}()};

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
  t->slots.resize(events.size());
  bool templated = st.cfg.topic.find("%{") != std::string::npos;
  auto* default_topic = templated ? nullptr : st.topic(st.cfg.topic);
  std::string json;
  for (uint32_t index = 0; index < events.size(); ++index) {
    auto& e = events[index];
    auto* slot = &t->slots[index];
    *slot = record_slot{t, index};
    auto* topic = templated
                      ? st.topic(expand_placeholders(st.cfg.topic, e.headers))
                      : default_topic;
    if (st.cfg.allow_topic_override) {
      if (auto i = e.headers.find(st.cfg.topic_header); i != e.headers.end())
        topic = st.topic(i->second);
    }
    const std::string* key = nullptr;
    if (auto i = e.headers.find(st.cfg.key_header); i != e.headers.end())
      key = &i->second;
    int32_t partition = st.cfg.default_partition;
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
    int64_t timestamp = 0; // 0: librdkafka sets the current time
    if (!st.cfg.timestamp_header.empty()) {
      if (auto i = e.headers.find(st.cfg.timestamp_header);
          i != e.headers.end()) {
        auto& v = i->second;
        std::from_chars(v.data(), v.data() + v.size(), timestamp);
      }
    }
    rd_kafka_headers_t* headers = nullptr;
    if (st.cfg.headers == "all" && !e.headers.empty()) {
      headers = rd_kafka_headers_new(e.headers.size());
      for (auto& [k, v] : e.headers)
        rd_kafka_header_add(headers, k.data(), static_cast<ssize_t>(k.size()),
                            v.data(), static_cast<ssize_t>(v.size()));
    } else if (st.cfg.headers == "mapping") {
      for (auto& [from, to] : st.cfg.header_names) {
        auto i = e.headers.find(from);
        if (i == e.headers.end()) continue;
        if (!headers)
          headers = rd_kafka_headers_new(st.cfg.header_names.size());
        rd_kafka_header_add(headers, to.data(), static_cast<ssize_t>(to.size()),
                            i->second.data(),
                            static_cast<ssize_t>(i->second.size()));
      }
    }
    const std::string* value = &e.body;
    if (st.cfg.format == "json") {
      json = json_envelope(e);
      value = &json;
    }
    auto err = rd_kafka_producev(
        st.producer, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<char*>(value->data()), value->size()),
        RD_KAFKA_V_TIMESTAMP(timestamp),
        RD_KAFKA_V_KEY(key ? key->data() : nullptr, key ? key->size() : 0),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // The headers stay ours on failure.
      if (headers) rd_kafka_headers_destroy(headers);
      t->fail(index, err);
      t->settle_one();
    }
  }
  ++st.inflight;
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

void commit(kafka_actor* self, txn_id id, std::size_t delivered) {
  auto& st = self->state;
  self->request(st.channel, caf::infinite, commit_atom::value, id)
      .then(
          [self, delivered](ok_atom) {
            auto& st = self->state;
            st.metrics->events_committed.fetch_add(delivered,
                                                   std::memory_order_relaxed);
            st.metrics->batches.fetch_add(1, std::memory_order_relaxed);
            st.backoff = std::chrono::milliseconds{100};
            finish_if_idle(self);
          },
          [self](caf::error& err) { self->quit(std::move(err)); });
}

// A retriable failure: the whole batch goes back and is retried after a
// backoff, which keeps its order.
void roll_back(kafka_actor* self, txn_id id, std::size_t n, std::size_t failed,
               const std::string& why) {
  auto& st = self->state;
  spdlog::warn("{}: {} of {} events not delivered ({}); rolling back and "
               "retrying in {} ms",
               st.metrics->name, failed, n, why, st.backoff.count());
  st.metrics->events_rolled_back.fetch_add(n, std::memory_order_relaxed);
  self->request(st.channel, caf::infinite, rollback_atom::value, id)
      .then([self](ok_atom) { finish_if_idle(self); },
            [self](caf::error& err) { self->quit(std::move(err)); });
  if (!st.paused) {
    st.paused = true;
    // ±20 % jitter: sinks of several agents that lost the same cluster
    // don't all come back in the same instant.
    std::uniform_real_distribution<double> jitter{0.8, 1.2};
    auto delay = std::chrono::milliseconds{static_cast<int64_t>(
        static_cast<double>(st.backoff.count()) * jitter(st.rng))};
    self->delayed_send(self, delay, tick_atom::value);
    st.backoff = std::min(st.backoff * 2, std::chrono::milliseconds{30000});
  }
}

// Some events of the batch can never be delivered. They are dropped,
// dead-lettered or make the sink fail (`on_permanent_error`); events that
// failed for a passing reason are put back into the channel; then the
// transaction commits. So a poison event never blocks the ones behind it
// and is never retried.
void settle_poison(kafka_actor* self, txn_id id, std::size_t n,
                   std::vector<std::pair<uint32_t, int32_t>> permanent,
                   std::vector<uint32_t> retriable) {
  auto& st = self->state;
  ++st.inflight; // the transaction is open until this is settled
  self->request(st.channel, caf::infinite, get_atom::value, id)
      .then(
          [=](const batch& events) {
            auto& st = self->state;
            auto now = std::to_string(
                std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count());
            batch dead;
            for (auto [index, code] : permanent) {
              auto why =
                  rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(code));
              if (st.cfg.on_permanent_error == "fail") {
                spdlog::error("{}: event rejected for good ({}); failing",
                              st.metrics->name, why);
                self->request(st.channel, caf::infinite, rollback_atom::value,
                              id)
                    .then([self, why = std::string{why}](ok_atom) {
                      self->quit(make_error(errc::delivery_failed, why));
                    });
                return;
              }
              if (st.cfg.on_permanent_error == "drop") {
                spdlog::warn("{}: dropped an event Kafka rejects for good: {}",
                             st.metrics->name, why);
                st.metrics->events_dropped.fetch_add(1,
                                                     std::memory_order_relaxed);
                continue;
              }
              auto e = events.at(index);
              e.headers.insert_or_assign("flumen.error", std::string{why});
              e.headers.insert_or_assign("flumen.error_code",
                                         std::to_string(code));
              e.headers.insert_or_assign("flumen.sink", st.metrics->name);
              e.headers.insert_or_assign("flumen.topic", st.cfg.topic);
              e.headers.insert_or_assign("flumen.time", now);
              dead.push_back(std::move(e));
            }
            batch again;
            for (auto index : retriable)
              again.push_back(events.at(index));
            auto delivered = n - permanent.size() - retriable.size();
            auto n_dead = dead.size();
            auto finish = [self, id, delivered] {
              --self->state.inflight;
              commit(self, id, delivered);
              pump(self);
            };
            auto put_back = [self, again = std::move(again), finish]() mutable {
              if (again.empty()) {
                finish();
                return;
              }
              auto k = again.size();
              self->request(self->state.channel, caf::infinite, put_atom::value,
                            std::move(again))
                  .then(
                      [self, k, finish](ok_atom) {
                        self->state.metrics->events_rolled_back.fetch_add(
                            k, std::memory_order_relaxed);
                        finish();
                      },
                      [self](caf::error& err) { self->quit(std::move(err)); });
            };
            if (dead.empty()) {
              put_back();
              return;
            }
            self->request(st.dead_letter, caf::infinite, put_atom::value,
                          std::move(dead))
                .then(
                    [self, n_dead, put_back](ok_atom) mutable {
                      auto& st = self->state;
                      st.metrics->events_dead_lettered.fetch_add(
                          n_dead, std::memory_order_relaxed);
                      spdlog::warn(
                          "{}: {} events Kafka rejects for good went to the "
                          "dead-letter channel",
                          st.metrics->name, n_dead);
                      put_back();
                    },
                    [self](caf::error& err) { self->quit(std::move(err)); });
          },
          [self](caf::error& err) { self->quit(std::move(err)); });
}

caf::behavior kafka_sink(kafka_actor* self, kafka_config cfg,
                         std::string bootstrap, caf::actor channel,
                         caf::actor dead_letter,
                         std::shared_ptr<component_metrics> metrics) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.channel = std::move(channel);
  st.dead_letter = std::move(dead_letter);
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
      [self](delivered_atom, txn_id id, uint64_t n,
             std::vector<uint64_t>& failures) {
        auto& st = self->state;
        --st.inflight;
        if (failures.empty()) {
          commit(self, id, n);
          pump(self);
          return;
        }
        std::vector<std::pair<uint32_t, int32_t>> permanent;
        std::vector<uint32_t> retriable;
        for (auto f : failures) {
          auto index = static_cast<uint32_t>(f >> 32);
          auto err = static_cast<int32_t>(static_cast<uint32_t>(f));
          if (is_permanent(err))
            permanent.emplace_back(index, err);
          else
            retriable.push_back(index);
        }
        if (permanent.empty()) {
          auto why = rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(
              static_cast<int32_t>(static_cast<uint32_t>(failures.front()))));
          roll_back(self, id, n, failures.size(), why);
          return;
        }
        settle_poison(self, id, n, std::move(permanent), std::move(retriable));
        pump(self);
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
  return sys.spawn(kafka_sink, cfg, bootstrap, w.channel, w.dead_letter,
                   w.metrics);
}

} // namespace flumen::sinks
