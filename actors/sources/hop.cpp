#include "actors/sources/hop.hpp"

#include <map>
#include <set>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <spdlog/spdlog.h>

#include "runtime/hop.hpp"
#include "runtime/hop_wire.hpp"
#include "runtime/listener_gate.hpp"
#include "runtime/protocol.hpp"

namespace flumen::sources {

hop_source_config parse_hop_source(option_reader& r) {
  hop_source_config cfg;
  cfg.bind = r.str("bind", cfg.bind);
  cfg.port = static_cast<uint16_t>(r.integer("port", 0, 0, 65535));
  if (!r.has("port")) r.error("missing required key 'port'");
  cfg.max_connections = r.count("max_connections", cfg.max_connections);
  cfg.max_batch_bytes = r.bytes("max_batch_bytes", cfg.max_batch_bytes);
  if (cfg.max_batch_bytes < 1024 || cfg.max_batch_bytes > (1u << 30))
    r.error("max_batch_bytes", "must be between 1KB and 1GB");
  cfg.max_hold = r.duration("max_hold", cfg.max_hold);
  cfg.handshake_timeout =
      r.duration("handshake_timeout", cfg.handshake_timeout);
  if (cfg.handshake_timeout < std::chrono::milliseconds{100} ||
      cfg.handshake_timeout > std::chrono::minutes{10})
    r.error("handshake_timeout", "must be between 100ms and 10m");
  cfg.security = parse_link_security(r);
  require_protection(r, "bind", cfg.bind, cfg.security);
  auto& f = r.facts();
  f.listen_host = cfg.bind;
  f.listen_port = cfg.port;
  f.security = cfg.security;
  return cfg;
}

namespace {

using hop::hello_atom;
using hop::hop_atom;
using hold_atom = caf::atom_constant<caf::atom("hold")>;

using clock = std::chrono::steady_clock;

/// How often held answers are checked for their "busy" time: one timer per
/// receiver, not one per batch (a timer per batch woke CAF's clock thread
/// for every batch).
constexpr auto hold_resolution = std::chrono::milliseconds{50};

/// A batch being put: everyone waiting for its answer (the first send and
/// resends of the same seq), by waiter id.
struct pending_put {
  struct waiter {
    caf::response_promise rp;
    clock::time_point busy_at; ///< answered "busy" then, if still held
  };
  std::map<uint64_t, waiter> waiters;
};

/// What a receiver remembers of one sender.
struct sender_state {
  uint64_t accepted_below = 1; ///< every seq below was accepted
  std::set<uint64_t> accepted_ahead;
  std::map<uint64_t, pending_put> pending;
  clock::time_point last_seen{};

  bool accepted(uint64_t seq) const {
    return seq < accepted_below || accepted_ahead.count(seq) != 0;
  }

  void accept(uint64_t seq) {
    accepted_ahead.insert(seq);
    while (!accepted_ahead.empty() &&
           *accepted_ahead.begin() == accepted_below) {
      accepted_ahead.erase(accepted_ahead.begin());
      ++accepted_below;
    }
  }
};

/// Senders remembered beyond the connected ones (a sender that lost its
/// connection comes back with the same id and resends).
constexpr std::size_t remembered_senders = 4096;

struct hop_state {
  hop_source_config cfg;
  caf::actor downstream;
  std::shared_ptr<component_metrics> metrics;
  std::map<std::string, sender_state> senders;
  /// Connected senders' actors (monitored), by address.
  std::map<caf::actor_addr, std::string> connected;
  uint64_t next_waiter = 1;
  std::size_t puts = 0;    ///< puts not answered yet
  bool hold_timer = false; ///< a hold_atom is on its way
  bool stopping = false;
  std::vector<caf::response_promise> stop_waiters;
  static inline const char* name = "hop_source";
};

using hop_actor = caf::stateful_actor<hop_state>;

void forget_old_senders(hop_state& st) {
  while (st.senders.size() > remembered_senders) {
    auto oldest = st.senders.end();
    for (auto i = st.senders.begin(); i != st.senders.end(); ++i)
      if (i->second.pending.empty() &&
          (oldest == st.senders.end() ||
           i->second.last_seen < oldest->second.last_seen))
        oldest = i;
    if (oldest == st.senders.end()) return;
    st.senders.erase(oldest);
  }
}

void arm_hold_timer(hop_actor* self) {
  auto& st = self->state;
  if (st.hold_timer) return;
  st.hold_timer = true;
  self->delayed_send(self, hold_resolution, hold_atom::value);
}

void maybe_stopped(hop_actor* self) {
  auto& st = self->state;
  if (!st.stopping || st.puts != 0) return;
  for (auto& rp : st.stop_waiters)
    rp.deliver(ok_atom::value);
  st.stop_waiters.clear();
}

/// The put of `seq` from `sender` is settled: answer everyone waiting.
void settle(hop_actor* self, const std::string& sender, uint64_t seq,
            const caf::error& err) {
  auto& st = self->state;
  --st.puts;
  auto s = st.senders.find(sender);
  if (s != st.senders.end()) {
    auto p = s->second.pending.find(seq);
    if (p != s->second.pending.end()) {
      for (auto& [_, w] : p->second.waiters)
        if (err)
          w.rp.deliver(err);
        else
          w.rp.deliver(ok_atom::value);
      s->second.pending.erase(p);
    }
    if (!err) s->second.accept(seq);
  }
  maybe_stopped(self);
}

caf::behavior hop_receiver(hop_actor* self, hop_source_config cfg,
                           caf::actor downstream,
                           std::shared_ptr<component_metrics> metrics) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.downstream = std::move(downstream);
  st.metrics = std::move(metrics);
  tolerate_strays(self, st.metrics->name);
  fail_on_exceptions(self, st.metrics, component_state::failed);
  st.metrics->set_state(component_state::running);
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.connected.find(dm.source);
    if (i == st.connected.end()) return;
    spdlog::info("{}: sender {} disconnected ({})", st.metrics->name, i->second,
                 self->system().render(dm.reason));
    st.connected.erase(i);
    st.metrics->connections_open = st.connected.size();
  });
  return {
      [self](hello_atom, uint32_t version, const std::string& sender)
          -> caf::result<ok_atom, uint32_t, uint64_t> {
        auto& st = self->state;
        if (version != hop::wire_version) {
          auto why = "refused sender " + sender +
                     ": it speaks hop wire "
                     "version " +
                     std::to_string(version) + ", this agent speaks " +
                     std::to_string(hop::wire_version);
          spdlog::error("{}: {}", st.metrics->name, why);
          ++st.metrics->connection_failures;
          return make_error(errc::version_mismatch, why);
        }
        if (st.stopping)
          return make_error(errc::channel_closed, "the agent is stopping");
        auto who = caf::actor_cast<caf::actor_addr>(self->current_sender());
        if (!st.connected.count(who)) {
          if (st.connected.size() >= st.cfg.max_connections) {
            auto why = "refused sender " + sender + ": max_connections (" +
                       std::to_string(st.cfg.max_connections) + ") reached";
            spdlog::warn("{}: {}", st.metrics->name, why);
            ++st.metrics->connection_failures;
            return make_error(errc::channel_closed, why);
          }
          st.connected.emplace(who, sender);
          self->monitor(who);
          st.metrics->connections_open = st.connected.size();
          spdlog::info("{}: sender {} connected", st.metrics->name, sender);
        }
        auto& s = st.senders[sender];
        s.last_seen = clock::now();
        forget_old_senders(st);
        return {ok_atom::value, hop::wire_version,
                static_cast<uint64_t>(st.cfg.max_batch_bytes)};
      },
      [self](hop_atom, const std::string& sender, uint64_t seq,
             uint32_t hold_ms,
             const std::string& buffer) -> caf::result<ok_atom> {
        auto& st = self->state;
        if (st.stopping)
          return make_error(errc::channel_closed, "the agent is stopping");
        auto& s = st.senders[sender];
        s.last_seen = clock::now();
        if (s.accepted(seq)) {
          // Its answer was lost: the sender must not put it twice.
          ++st.metrics->duplicates;
          return ok_atom::value;
        }
        auto waiter = st.next_waiter++;
        auto hold = std::min<std::chrono::milliseconds>(
            std::chrono::milliseconds{hold_ms}, st.cfg.max_hold);
        auto p = s.pending.find(seq);
        if (p != s.pending.end()) {
          // A resend while the first is still held by a full channel.
          p->second.waiters.emplace(
              waiter, pending_put::waiter{self->make_response_promise(),
                                          clock::now() + hold});
          arm_hold_timer(self);
          return caf::delegated<ok_atom>{};
        }
        hop::decode_error err;
        auto events = hop::decode(buffer, st.cfg.max_batch_bytes, err);
        if (!events) {
          spdlog::warn("{}: refused a batch from {}: {}", st.metrics->name,
                       sender, err.what);
          ++st.metrics->batches_refused;
          return make_error(err.kind == hop::decode_error::too_large
                                ? errc::batch_too_large
                                : errc::malformed_batch,
                            err.what);
        }
        // Only now: making the promise takes the request's sender, and the
        // refusals above must still reach it as this handler's result.
        auto rp = self->make_response_promise();
        forget_old_senders(st);
        auto n = events->size();
        st.metrics->events_received += n;
        ++st.metrics->batches;
        s.pending[seq].waiters.emplace(
            waiter, pending_put::waiter{rp, clock::now() + hold});
        arm_hold_timer(self);
        ++st.puts;
        self->request(st.downstream, caf::infinite, put_atom::value,
                      std::move(*events))
            .then(
                [self, sender, seq, n](ok_atom) {
                  self->state.metrics->events_accepted += n;
                  settle(self, sender, seq, caf::error{});
                },
                [self, sender, seq, n](caf::error& e) {
                  // An interceptor that failed on it dropped it by policy
                  // (counted by the router): accepted, like any source's.
                  if (e.category() == caf::atom("flumen") &&
                      e.code() ==
                          static_cast<uint8_t>(errc::interceptor_failed)) {
                    settle(self, sender, seq, caf::error{});
                    return;
                  }
                  spdlog::warn("{}: a batch of {} events was not accepted: "
                               "{}",
                               self->state.metrics->name, n,
                               self->system().render(e));
                  settle(self, sender, seq, e);
                });
        return caf::delegated<ok_atom>{};
      },
      [self](hold_atom) {
        // Held as long as their senders may wait: tell them to come back.
        auto& st = self->state;
        st.hold_timer = false;
        auto now = clock::now();
        bool more = false;
        for (auto& [_, snd] : st.senders)
          for (auto& [_, p] : snd.pending)
            for (auto w = p.waiters.begin(); w != p.waiters.end();) {
              if (w->second.busy_at > now) {
                more = true;
                ++w;
                continue;
              }
              w->second.rp.deliver(make_error(errc::busy, "channel full"));
              w = p.waiters.erase(w);
              ++st.metrics->batches_busy;
            }
        if (more) arm_hold_timer(self);
      },
      [self](stop_atom) -> caf::result<ok_atom> {
        auto& st = self->state;
        if (!st.stopping) {
          st.stopping = true;
          st.metrics->set_state(component_state::stopped);
        }
        if (st.puts == 0) return ok_atom::value;
        st.stop_waiters.push_back(self->make_response_promise());
        return caf::delegated<ok_atom>{};
      },
  };
}

} // namespace

caf::actor spawn_hop_source(caf::actor_system& sys,
                            const hop_source_config& cfg, const wiring& w) {
  auto self = sys.spawn(hop_receiver, cfg, w.downstream, w.metrics);
  auto fail = [&](const std::string& why) {
    caf::anon_send_exit(self, caf::exit_reason::user_shutdown);
    throw std::runtime_error("cannot listen on " + cfg.bind + ":" +
                             std::to_string(cfg.port) + ": " + why);
  };
  // Before CAF listens: its first accepted socket is checked already.
  listener_gate::limits gate;
  gate.name = w.metrics->name;
  gate.max_message_bytes =
      listener_gate::hop_message_bytes(cfg.max_batch_bytes);
  gate.max_connections = cfg.max_connections;
  gate.handshake_timeout = cfg.handshake_timeout;
  gate.metrics = w.metrics;
  auto registration = listener_gate::add(std::move(gate), cfg.port);
  caf::expected<uint16_t> port{cfg.port};
  if (cfg.security.tls())
    port = caf::openssl::publish(self, cfg.port, cfg.bind.c_str(), true);
  else
    port = sys.middleman().publish(self, cfg.port, cfg.bind.c_str(), true);
  if (!port) fail(sys.render(port.error()));
  spdlog::info("{}: listening on {}:{}{}", w.metrics->name, cfg.bind, *port,
               cfg.security.tls() ? " (mutual TLS)" : "");
  // Stop accepting when this instance ends, so the next one can listen.
  auto mm = cfg.security.tls() ? sys.openssl_manager().actor_handle()
                               : sys.middleman().actor_handle();
  registration->set_port(*port);
  caf::actor_cast<caf::abstract_actor*>(self)->attach_functor(
      [mm, addr = self.address(), p = *port,
       registration](const caf::error&) mutable {
        caf::anon_send(mm, caf::unpublish_atom::value, addr, p);
        registration.reset();
      });
  return self;
}

} // namespace flumen::sources
