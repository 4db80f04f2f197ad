#include "actors/sinks/hop.hpp"

#include <unistd.h>

#include <map>
#include <mutex>
#include <random>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "runtime/backoff.hpp"
#include "runtime/hop.hpp"
#include "runtime/protocol.hpp"
#include "runtime/sink_driver.hpp"

namespace flumen::sinks {

hop_sink_config parse_hop_sink(option_reader& r) {
  hop_sink_config cfg;
  cfg.host = r.required_str("host");
  cfg.port = static_cast<uint16_t>(r.integer("port", 0, 1, 65535));
  if (!r.has("port")) r.error("missing required key 'port'");
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight, 1, 1024);
  cfg.connect_timeout = r.duration("connect_timeout", cfg.connect_timeout);
  cfg.request_timeout = r.duration("request_timeout", cfg.request_timeout);
  if (cfg.connect_timeout.count() < 100)
    r.error("connect_timeout", "must be at least 100ms");
  if (cfg.request_timeout.count() < 200)
    r.error("request_timeout", "must be at least 200ms");
  auto c = r.choice("compression", "none", {"none", "lz4", "zstd"});
  cfg.compression = hop::parse_codec(c).value_or(hop::codec::none);
  cfg.wire_version = static_cast<uint32_t>(
      r.integer("test_wire_version", hop::wire_version, 0, UINT32_MAX));
  cfg.security = parse_link_security(r);
  if (!cfg.host.empty()) require_protection(r, "host", cfg.host, cfg.security);
  auto& f = r.facts();
  f.batch_size = cfg.batch_size;
  f.batch_size_stated = r.has("batch_size");
  f.security = cfg.security;
  return cfg;
}

} // namespace flumen::sinks

namespace flumen::sinks::detail {

/// One `deliver` call on its way: its wire batches (chunks), and what to
/// report when the last of them is settled.
struct hop_delivery {
  struct chunk {
    std::string buffer;
    std::vector<uint32_t> indices; ///< in the batch as taken
  };
  std::vector<chunk> chunks;
  delivery_report report;
  delivery_done done;
  std::size_t left = 0; ///< chunks not settled
};

} // namespace flumen::sinks::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(
    std::shared_ptr<flumen::sinks::detail::hop_delivery>)

namespace flumen::sinks {

namespace {

using detail::hop_delivery;
using hop::hello_atom;
using hop::hop_atom;
using submit_atom = caf::atom_constant<caf::atom("submit")>;
using resend_atom = caf::atom_constant<caf::atom("resend")>;
using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;

/// How often a connected link says hello again. CAF's own heartbeats do
/// not keep a TLS link alive on this CAF (an idle one was closed after each
/// connection timeout), and a peer that stops answering them is found here
/// too, within request_timeout.
constexpr auto keepalive_interval = std::chrono::seconds{1};

/// Until a receiver told its max_batch_bytes, batches are cut to this.
constexpr std::size_t default_chunk_bytes = 4u << 20;

/// A wire batch sent and not yet acknowledged.
struct outgoing {
  /// The request, made once with the buffer moved in: a resend shares it
  /// (CAF messages are reference counted) instead of copying the batch.
  caf::message request;
  std::vector<uint32_t> indices;
  std::shared_ptr<hop_delivery> delivery;
  uint64_t attempt = 0; ///< answers to older attempts are ignored
  bool sent = false;
};

struct link_state {
  hop_sink_config cfg;
  std::string sender;
  std::string peer; ///< host:port
  std::shared_ptr<component_metrics> metrics;
  std::shared_ptr<std::atomic<uint64_t>> remote_max;
  caf::actor remote;
  bool ready = false;
  bool connecting = false;
  uint64_t connect_round = 0;
  std::string last_error; ///< logged once per change
  std::map<uint64_t, outgoing> out;
  uint64_t next_seq = 1;
  backoff_policy reconnect{std::chrono::milliseconds{100},
                           std::chrono::seconds{5}};
  backoff_policy resend{std::chrono::milliseconds{100},
                        std::chrono::seconds{5}};
  static inline const char* name = "hop_link";
};

using link_actor = caf::stateful_actor<link_state>;

caf::io::middleman_actor middleman_of(link_actor* self) {
  auto& sys = self->system();
  return self->state.cfg.security.tls() ? sys.openssl_manager().actor_handle()
                                        : sys.middleman().actor_handle();
}

void connect(link_actor* self);

/// A connection attempt or the connection failed: try again later.
void connection_failed(link_actor* self, const std::string& why) {
  auto& st = self->state;
  st.ready = false;
  st.connecting = false;
  if (st.remote) {
    self->demonitor(st.remote);
    st.remote = nullptr;
  }
  ++st.metrics->connection_failures;
  auto delay = st.reconnect.on_failure(std::chrono::steady_clock::now());
  if (why != st.last_error)
    spdlog::warn("{}: {}: {}; trying again in {} ms (and on)", st.metrics->name,
                 st.peer, why, delay.count());
  st.last_error = why;
  st.metrics->set_state(component_state::connecting, st.peer + ": " + why);
  self->delayed_send(self, delay, reconnect_atom::value, ++st.connect_round);
}

void send(link_actor* self, uint64_t seq);

void flush(link_actor* self) {
  for (auto& [seq, o] : self->state.out)
    send(self, seq);
}

void connect(link_actor* self) {
  auto& st = self->state;
  if (st.connecting || st.ready) return;
  st.connecting = true;
  auto round = ++st.connect_round;
  auto fail = [self, round](const std::string& why) {
    if (self->state.connect_round == round) connection_failed(self, why);
  };
  // Asynchronous, with a bound: a peer that accepts and never speaks
  // answers nothing, and this actor goes on meanwhile.
  self->request(middleman_of(self), st.cfg.connect_timeout,
                caf::connect_atom::value, st.cfg.host, st.cfg.port)
      .then(
          [self, round, fail](const caf::node_id&, caf::strong_actor_ptr& ptr,
                              const std::set<std::string>&) {
            auto& st = self->state;
            if (st.connect_round != round) return;
            if (!ptr) {
              fail("no hop source listens there");
              return;
            }
            st.remote = caf::actor_cast<caf::actor>(ptr);
            self->monitor(st.remote);
            self->request(st.remote, st.cfg.request_timeout, hello_atom::value,
                          st.cfg.wire_version, st.sender)
                .then(
                    [self, round](ok_atom, uint32_t version,
                                  uint64_t max_batch_bytes) {
                      auto& st = self->state;
                      if (st.connect_round != round) return;
                      st.connecting = false;
                      st.ready = true;
                      st.reconnect.reset();
                      st.remote_max->store(max_batch_bytes);
                      spdlog::info("{}: connected to {} (hop wire version {}, "
                                   "max_batch_bytes {})",
                                   st.metrics->name, st.peer, version,
                                   max_batch_bytes);
                      st.last_error.clear();
                      ++st.metrics->connections_open;
                      st.metrics->connected();
                      st.metrics->set_state(component_state::running);
                      self->delayed_send(self, keepalive_interval,
                                         ping_atom::value, round);
                      flush(self);
                    },
                    [self, fail](caf::error& e) {
                      auto why = self->system().render(e);
                      if (e.category() == caf::atom("flumen") &&
                          e.code() ==
                              static_cast<uint8_t>(errc::version_mismatch))
                        spdlog::error("{}: {} refused this agent: {}",
                                      self->state.metrics->name,
                                      self->state.peer, why);
                      fail("hello failed: " + why);
                    });
          },
          [self, fail](caf::error& e) {
            auto why = self->system().render(e);
            if (e == caf::sec::incompatible_application_ids)
              why += " (the peer is not flumen)";
            fail("cannot connect: " + why);
          });
}

/// Settles the wire batch `seq`: its delivery is reported when it was the
/// last one of it.
void settle(link_actor* self, uint64_t seq, std::vector<rejection> rejected,
            bool retry, const std::string& why) {
  auto& st = self->state;
  auto i = st.out.find(seq);
  if (i == st.out.end()) return;
  auto d = i->second.delivery;
  for (auto& r : rejected)
    d->report.rejected.push_back(std::move(r));
  if (retry) {
    for (auto idx : i->second.indices)
      d->report.retry.push_back(idx);
    d->report.reason = why;
  }
  st.out.erase(i);
  if (--d->left == 0) {
    std::sort(d->report.retry.begin(), d->report.retry.end());
    d->done(std::move(d->report));
  }
}

void retry_later(link_actor* self, uint64_t seq, uint64_t attempt,
                 const std::string& why) {
  auto& st = self->state;
  auto delay = st.resend.on_failure(std::chrono::steady_clock::now());
  st.metrics->set_state(component_state::degraded, st.peer + ": " + why);
  self->delayed_send(self, delay, resend_atom::value, seq, attempt);
}

void send(link_actor* self, uint64_t seq) {
  auto& st = self->state;
  auto i = st.out.find(seq);
  if (i == st.out.end() || !st.ready) return;
  auto& o = i->second;
  if (o.sent) ++st.metrics->batches_resent;
  o.sent = true;
  auto attempt = ++o.attempt;
  self->request(st.remote, st.cfg.request_timeout, o.request)
      .then(
          [self, seq, attempt](ok_atom) {
            auto& st = self->state;
            auto i = st.out.find(seq);
            if (i == st.out.end() || i->second.attempt != attempt) return;
            st.resend.reset();
            if (st.metrics->current_state() == component_state::degraded)
              st.metrics->set_state(component_state::running);
            settle(self, seq, {}, false, {});
          },
          [self, seq, attempt](caf::error& e) {
            auto& st = self->state;
            auto i = st.out.find(seq);
            if (i == st.out.end() || i->second.attempt != attempt) return;
            auto why = self->system().render(e);
            auto flumen_error = [&](errc x) {
              return e.category() == caf::atom("flumen") &&
                     e.code() == static_cast<uint8_t>(x);
            };
            if (flumen_error(errc::malformed_batch) ||
                (flumen_error(errc::batch_too_large) &&
                 i->second.indices.size() == 1)) {
              // The receiver can never take these: the sink's policy
              // decides (drop, dead letter, fail).
              std::vector<rejection> rejected;
              for (auto idx : i->second.indices)
                rejected.push_back(
                    rejection{idx, "refused by " + st.peer + ": " + why, {}});
              settle(self, seq, std::move(rejected), false, {});
              return;
            }
            if (flumen_error(errc::busy)) {
              retry_later(self, seq, attempt, "downstream channel full");
              return;
            }
            if (flumen_error(errc::batch_too_large)) {
              // The receiver's bound shrank since this batch was cut: it
              // goes back to the channel and is cut again.
              settle(self, seq, {}, true, why);
              return;
            }
            if (why != st.last_error)
              spdlog::warn("{}: batch {} to {}: {}; sending it again",
                           st.metrics->name, seq, st.peer, why);
            st.last_error = why;
            retry_later(self, seq, attempt, why);
          });
}

caf::behavior hop_link(link_actor* self, hop_sink_config cfg,
                       std::string sender,
                       std::shared_ptr<component_metrics> metrics,
                       std::shared_ptr<std::atomic<uint64_t>> remote_max) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.sender = std::move(sender);
  st.peer = st.cfg.host + ":" + std::to_string(st.cfg.port);
  st.metrics = std::move(metrics);
  st.remote_max = std::move(remote_max);
  tolerate_strays(self, st.metrics->name);
  st.metrics->set_state(component_state::connecting,
                        "connecting to " + st.peer);
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& st = self->state;
    if (!st.remote || dm.source != st.remote.address()) return;
    st.remote = nullptr;
    if (st.ready && st.metrics->connections_open > 0)
      --st.metrics->connections_open;
    // Answers of the lost connection will not come: every batch in flight
    // is sent again, with its number, on the next connection.
    for (auto& [_, o] : st.out)
      ++o.attempt;
    connection_failed(self, "connection lost (" +
                                self->system().render(dm.reason) + ")");
  });
  connect(self);
  return {
      [self](submit_atom, std::shared_ptr<hop_delivery>& d) {
        auto& st = self->state;
        if (d->chunks.empty()) {
          d->done(std::move(d->report));
          return;
        }
        d->left = d->chunks.size();
        auto hold = static_cast<uint32_t>(st.cfg.request_timeout.count() / 2);
        for (auto& c : d->chunks) {
          auto seq = st.next_seq++;
          auto request = caf::make_message(hop_atom::value, st.sender, seq,
                                           hold, std::move(c.buffer));
          st.out.emplace(seq, outgoing{std::move(request), std::move(c.indices),
                                       d, 0, false});
          send(self, seq);
        }
        d->chunks.clear();
      },
      [self](resend_atom, uint64_t seq, uint64_t attempt) {
        auto i = self->state.out.find(seq);
        if (i == self->state.out.end() || i->second.attempt != attempt) return;
        send(self, seq);
      },
      [self](reconnect_atom, uint64_t round) {
        if (round == self->state.connect_round) connect(self);
      },
      [self](ping_atom, uint64_t round) {
        auto& st = self->state;
        if (round != st.connect_round || !st.ready) return;
        self->request(st.remote, st.cfg.request_timeout, hello_atom::value,
                      st.cfg.wire_version, st.sender)
            .then(
                [self, round](ok_atom, uint32_t, uint64_t max_batch_bytes) {
                  auto& st = self->state;
                  if (round != st.connect_round || !st.ready) return;
                  st.remote_max->store(max_batch_bytes);
                  self->delayed_send(self, keepalive_interval, ping_atom::value,
                                     round);
                },
                [self, round](caf::error& e) {
                  auto& st = self->state;
                  if (round != st.connect_round || !st.ready) return;
                  for (auto& [_, o] : st.out)
                    ++o.attempt;
                  connection_failed(self, "no answer to a keepalive (" +
                                              self->system().render(e) + ")");
                });
      },
  };
}

/// /ready waits until the sink reached its receiver once: said here, as
/// the sink starts, before its driver can call it `running` (the link
/// actor's own start comes later).
std::shared_ptr<component_metrics>
awaiting(std::shared_ptr<component_metrics> m) {
  m->awaits_connection();
  return m;
}

class hop_backend : public sink_backend {
public:
  hop_backend(caf::actor_system& sys, const hop_sink_config& cfg,
              std::string sender, std::shared_ptr<component_metrics> metrics)
      : cfg_(cfg), remote_max_(std::make_shared<std::atomic<uint64_t>>(0)),
        link_(sys.spawn(hop_link, cfg, std::move(sender),
                        awaiting(std::move(metrics)), remote_max_)) {}

  ~hop_backend() override {
    caf::anon_send_exit(link_, caf::exit_reason::user_shutdown);
  }

  std::size_t window() const override { return cfg_.max_inflight; }

  void deliver(const batch& events, delivery_done done,
               const batch_owner&) override {
    auto d = std::make_shared<hop_delivery>();
    d->done = std::move(done);
    auto limit = remote_max_->load();
    if (limit == 0) limit = default_chunk_bytes;
    // Cut the batch so every piece fits the receiver's max_batch_bytes.
    std::size_t begin = 0;
    std::size_t bytes = 0;
    auto cut = [&](std::size_t end) {
      if (end == begin) return;
      hop_delivery::chunk c;
      batch piece(events.begin() + static_cast<std::ptrdiff_t>(begin),
                  events.begin() + static_cast<std::ptrdiff_t>(end));
      c.buffer = hop::encode(piece, cfg_.compression);
      for (auto i = begin; i < end; ++i)
        c.indices.push_back(static_cast<uint32_t>(i));
      d->chunks.push_back(std::move(c));
    };
    if (limit >= hop::encoded_size(events)) {
      hop_delivery::chunk c;
      c.buffer = hop::encode(events, cfg_.compression);
      c.indices.resize(events.size());
      for (std::size_t i = 0; i < events.size(); ++i)
        c.indices[i] = static_cast<uint32_t>(i);
      d->chunks.push_back(std::move(c));
    } else {
      for (std::size_t i = 0; i < events.size(); ++i) {
        auto n = hop::encoded_size(events[i]);
        if (n > limit) {
          cut(i);
          begin = i + 1;
          bytes = 0;
          d->report.rejected.push_back(rejection{
              static_cast<uint32_t>(i),
              fmt::format("event of {} bytes, more than the receiver's "
                          "max_batch_bytes {}",
                          n, limit),
              {}});
          continue;
        }
        if (bytes + n > limit) {
          cut(i);
          begin = i;
          bytes = 0;
        }
        bytes += n;
      }
      cut(events.size());
    }
    caf::anon_send(link_, submit_atom::value, std::move(d));
  }

private:
  hop_sink_config cfg_;
  std::shared_ptr<std::atomic<uint64_t>> remote_max_;
  caf::actor link_;
};

std::string new_sender_id(const wiring& w) {
  std::random_device rd;
  uint64_t r = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return fmt::format("{}.sinks.{}#{:016x}", w.agent, w.name, r);
}

} // namespace

caf::actor spawn_hop_sink(caf::actor_system& sys, const hop_sink_config& cfg,
                          const wiring& w) {
  sink_driver_config dc;
  dc.batch_size = cfg.batch_size;
  auto metrics = w.metrics;
  // A new sender id for every start: a restarted sink's batches are new.
  auto sender = new_sender_id(w);
  auto make = [&sys, cfg, metrics,
               sender](sink_context&) -> std::unique_ptr<sink_backend> {
    return std::make_unique<hop_backend>(sys, cfg, sender, metrics);
  };
  return spawn_sink_driver(sys, std::move(make), std::move(dc), w);
}

} // namespace flumen::sinks
