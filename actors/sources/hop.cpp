#include "actors/sources/hop.hpp"

#include <map>
#include <optional>
#include <set>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/manager.hpp>
#include <spdlog/spdlog.h>

#include "runtime/dist/hop.hpp"
#include "runtime/flow/protocol.hpp"
#include "runtime/libs/caf_openssl.hpp"
#include "runtime/libs/sonames.hpp"
#include "runtime/net/listener_gate.hpp"
#include "runtime/wire/hop_flow.hpp"
#include "runtime/wire/hop_wire.hpp"

namespace flumen::sources {

/// The options of the `hop` source (docs/reference/sources/hop.md shows
/// them, generated).
const option_list& hop_source_options() {
  static const option_spec own[] = {
      {.name = "bind",
       .kind = option_kind::string,
       .doc = "address to listen on; anything but loopback needs `tls` or "
              "`insecure: true` (a config error otherwise, with its "
              "location: "
              "`hop_config.wildcard_bind_without_tls_or_insecure`)"},
      {.name = "port",
       .kind = option_kind::integer,
       .min = 0,
       .max = 65535,
       .doc = "TCP port (`0`: any free one, logged)"},
      {.name = "max_connections",
       .kind = option_kind::count,
       .doc = "senders connected at once; one more is refused, logged on "
              "both sides (`tests/e2e/hop_backpressure.sh`). Also bounds "
              "the sockets the port keeps open, counted when accepted "
              "([listener gate](../../multi-hop.md#listener-gate))"},
      {.name = "max_batch_bytes",
       .kind = option_kind::size,
       .type = "size, `1KB` to `1GB`",
       .doc = "largest batch taken, by its decoded size (bodies, keys, "
              "values and 64 bytes per event and per header, as every byte "
              "bound counts); senders learn it when they connect and cut "
              "their batches to fit; a larger one is refused from its "
              "header before anything is decompressed or allocated, and one"
              " sender's batches waiting for the channels are held up to 4 "
              "times this (`hop_config.max_batch_bytes_bounds`; see "
              "[multi-hop](../../multi-hop.md#max_batch_bytes) for what "
              "that does and does not bound)"},
      {.name = "max_hold",
       .kind = option_kind::duration,
       .type = "duration",
       .doc = "longest a full channel holds a sender's answer; the sender's"
              " own bound (half its `request_timeout`) applies when "
              "shorter; then the answer is \"busy\""},
      {.name = "handshake_timeout",
       .kind = option_kind::duration,
       .type = "duration, `100ms` to `10m`",
       .doc = "a socket that has not completed CAF's handshake (TLS's too) "
              "this long after it was accepted is closed and logged "
              "(`hop_config.handshake_timeout_bounds`)"},
  };
  static const option_list table = options_of(
      {own, link_security_options(
                "`{certificate, key, ca_file, passphrase}`: PEM files, each "
                "readable (relative ones from the topology file's directory);"
                " mutual TLS, see [TLS](../../multi-hop.md#tls)",
                "`true`: listen on a non-loopback address in clear text "
                "(`hop_config.insecure_allows_a_wildcard_bind`); with `tls` a"
                " config error")});
  return table;
}

hop_source_config parse_hop_source(option_reader& r) {
  option_scope scope{r, hop_source_options()};
  hop_source_config cfg;
  cfg.bind = r.str("bind", cfg.bind);
  cfg.port = static_cast<uint16_t>(r.integer("port", 0));
  r.require("port");
  cfg.max_connections = r.count("max_connections", cfg.max_connections);
  cfg.max_batch_bytes = r.bytes("max_batch_bytes", cfg.max_batch_bytes);
  if (cfg.max_batch_bytes < 1024 || cfg.max_batch_bytes > (1u << 30))
    r.invalid("max_batch_bytes", "must be between 1KB and 1GB");
  cfg.max_hold = r.duration("max_hold", cfg.max_hold);
  cfg.handshake_timeout =
      r.duration("handshake_timeout", cfg.handshake_timeout);
  if (cfg.handshake_timeout < std::chrono::milliseconds{100} ||
      cfg.handshake_timeout > std::chrono::minutes{10})
    r.invalid("handshake_timeout", "must be between 100ms and 10m");
  cfg.security = parse_link_security(r);
  require_protection(r, "bind", cfg.bind, cfg.security);
  auto& f = r.facts();
  f.listens.push_back({cfg.bind, cfg.port});
  f.security = cfg.security;
  if (cfg.security.tls()) f.libraries.push_back(libs::soname::caf_openssl);
  return cfg;
}

namespace {

// The hop source's own families, beside a source's.
const own_family_spec duplicates{
    "hop_duplicates",
    "Hop batches resent after a lost answer: answered, not put twice."};
const own_family_spec batches_refused{
    "hop_batches_refused", "Hop batches refused (malformed, too large)."};
const own_family_spec batches_busy{
    "hop_batches_busy",
    "Hop answers of busy (a full channel held a batch as long as its sender "
    "waits, or its compression's library cannot be loaded here)."};

using hop::hello_atom;
using hop::hop_atom;
using hold_atom = caf::atom_constant<caf::atom("hold")>;

// Times are the actor system's clock (`self->clock()`), as the delayed
// messages that look at them: virtual on CAF's test coordinator.
using clock = std::chrono::steady_clock;

/// How often held answers are checked for their "busy" time: one timer per
/// receiver, not one per batch (a timer per batch woke CAF's clock thread
/// for every batch).
constexpr auto hold_resolution = std::chrono::milliseconds{50};

/// A batch being put: the event numbers it carries, what it takes decoded,
/// and everyone waiting for its answer (the first send and resends of it or
/// of pieces of it), by waiter id.
struct pending_put {
  struct waiter {
    caf::response_promise rp;
    clock::time_point busy_at; ///< answered "busy" then, if still held
  };
  uint64_t end = 0; ///< numbers [first, end)
  std::size_t event_bytes = 0;
  std::map<uint64_t, waiter> waiters;
};

/// What a receiver remembers of one sender.
struct sender_state {
  hop::accepted_numbers accepted;
  /// Puts on their way, by the number of their first event.
  std::map<uint64_t, pending_put> pending;
  /// Decoded bytes of the pending puts: at most sender_window_batches x
  /// max_batch_bytes.
  std::size_t pending_bytes = 0;
  uint64_t forgotten_logged = 0;
  clock::time_point last_seen{};

  /// The pending put whose numbers hold all of [first, end), if any.
  pending_put* pending_holding(uint64_t first, uint64_t end) {
    auto i = pending.upper_bound(first);
    if (i == pending.begin()) return nullptr;
    --i;
    return end <= i->second.end ? &i->second : nullptr;
  }

  /// True when a pending put has some of [first, end) (but not all: see
  /// pending_holding). A sender only ever cuts its batches smaller.
  bool pending_overlaps(uint64_t first, uint64_t end) const {
    auto i = pending.lower_bound(end);
    if (i == pending.begin()) return false;
    --i;
    return i->second.end > first;
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
  /// Connected senders' actors (monitored), by address: a batch is taken
  /// only from an actor that said hello, under the id it said it with.
  std::map<caf::actor_addr, std::string> connected;
  uint64_t next_waiter = 1;
  std::size_t puts = 0;    ///< puts not answered yet
  bool hold_timer = false; ///< a hold_atom is on its way
  bool stopping = false;
  /// Batches whose codec's library could not be loaded (answered busy).
  uint64_t codec_failures = 0;
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

/// The put of numbers [first, ...) from `sender` is settled: answer everyone
/// waiting.
void settle(hop_actor* self, const std::string& sender, uint64_t first,
            const caf::error& err) {
  auto& st = self->state;
  --st.puts;
  auto s = st.senders.find(sender);
  if (s != st.senders.end()) {
    auto& snd = s->second;
    auto p = snd.pending.find(first);
    if (p != snd.pending.end()) {
      for (auto& [_, w] : p->second.waiters)
        if (err)
          w.rp.deliver(err);
        else
          w.rp.deliver(ok_atom::value);
      if (!err) snd.accepted.add(first, p->second.end - first);
      snd.pending_bytes -= std::min(snd.pending_bytes, p->second.event_bytes);
      snd.pending.erase(p);
    }
    if (snd.accepted.forgotten() > snd.forgotten_logged) {
      // Only a sender that never states its lowest unsettled number gets
      // here: a resend of what was forgotten would be put twice.
      if (snd.forgotten_logged == 0)
        spdlog::warn("{}: sender {} left more than 256 gaps in its event "
                     "numbers; forgetting the oldest (a batch of them sent "
                     "again would be put again)",
                     st.metrics->name, sender);
      snd.forgotten_logged = snd.accepted.forgotten();
    }
  }
  maybe_stopped(self);
}

/// Both hellos: the version check and the connection count. `sender` is
/// then the id this actor's batches are taken under.
caf::error admit(hop_actor* self, uint32_t version, const std::string& sender) {
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
  if (!who) {
    // CAF handed over a hello without a sender to a collector thawed after
    // a 10 s freeze, its sender having given up on the connection (an
    // anon_send over the wire does the same): no one can be answered or
    // watched, and CAF's monitor of a null address crashed that agent
    // (tests/e2e/hop_faults.sh; runtime/README.md, hop invariant 10).
    spdlog::info("{}: a hello from {} without a sender (its connection is "
                 "gone): ignored",
                 st.metrics->name, sender);
    return make_error(errc::channel_closed, "no sender");
  }
  auto c = st.connected.find(who);
  if (c == st.connected.end()) {
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
  } else if (c->second != sender) {
    // One actor, one id: the bounds per sender are bounds per connection.
    spdlog::info("{}: sender {} is now {}", st.metrics->name, c->second,
                 sender);
    c->second = sender;
  }
  auto& s = st.senders[sender];
  s.last_seen = self->clock().now();
  forget_old_senders(st);
  return caf::error{};
}

/// Refuses a batch, logged with the sender's id and counted.
caf::error refuse(hop_actor* self, const std::string& sender, errc code,
                  const std::string& why) {
  auto& st = self->state;
  spdlog::warn("{}: refused a batch from {}: {}", st.metrics->name, sender,
               why);
  ++st.metrics->own(batches_refused);
  return make_error(code, why);
}

using repush_atom = caf::atom_constant<caf::atom("repush")>;

/// Puts a sender's batch into the channels (again, after a reload closed
/// one: `attempt` > 0) and settles it with the answer.
void put_batch(hop_actor* self, const std::string& sender, uint64_t first,
               batch events, uint32_t attempt) {
  auto n = events.size();
  auto receipt = std::make_shared<put_receipt>();
  self->request(self->state.downstream, caf::infinite, put_atom::value,
                std::move(events), receipt)
      .then(
          [self, sender, first, n, receipt](ok_atom) {
            // What the interceptors removed is filtered, what the route
            // could put nowhere (optional channels only, all refused)
            // dropped, the rest accepted.
            auto filtered = receipt->filtered.load();
            auto dropped = receipt->dropped.load();
            self->state.metrics->events_filtered += filtered;
            self->state.metrics->events_dropped += dropped;
            self->state.metrics->events_accepted += n - filtered - dropped;
            settle(self, sender, first, caf::error{});
          },
          [self, sender, first, n, attempt, receipt](caf::error& e) mutable {
            auto filtered = receipt->filtered.load();
            auto dropped = receipt->dropped.load();
            self->state.metrics->events_filtered += filtered;
            self->state.metrics->events_dropped += dropped;
            n -= filtered + dropped;
            // An interceptor that failed on it: dropped by policy, counted
            // and named here as any source does; the sender is answered ok
            // (sending it again would fail again).
            if (is_error(e, errc::interceptor_failed)) {
              spdlog::error("{}: an interceptor failed on {} events, "
                            "dropped: {}",
                            self->state.metrics->name, n,
                            self->system().render(e));
              self->state.metrics->events_dropped += n;
              settle(self, sender, first, caf::error{});
              return;
            }
            // A reload closed the channel and routed this source elsewhere:
            // the batch goes there (its sender keeps waiting, as for a full
            // channel); the events come back with the refusal.
            if (is_error(e, errc::channel_closed) && !self->state.stopping) {
              if (auto back = closed_events(e); back.size() == n) {
                auto delay = std::chrono::milliseconds{std::min<int64_t>(
                    1000, int64_t{20} << std::min(attempt, 6u))};
                self->delayed_send(self, delay, repush_atom::value, sender,
                                   first, std::move(back), attempt + 1);
                return;
              }
            }
            spdlog::warn("{}: a batch of {} events was not accepted: {}",
                         self->state.metrics->name, n,
                         self->system().render(e));
            // Read and never accepted: counted (its sender sends it again,
            // and it is counted received again).
            self->state.metrics->events_undelivered += n;
            // What goes back over the network is the reason, not the
            // events.
            auto code = e.category() == caf::atom("flumen")
                            ? static_cast<errc>(e.code())
                            : errc::delivery_failed;
            settle(self, sender, first,
                   make_error(code, self->system().render(e)));
          });
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
        if (auto err = admit(self, version, sender)) return err;
        return {ok_atom::value, hop::wire_version,
                static_cast<uint64_t>(self->state.cfg.max_batch_bytes)};
      },
      // The hello that states the sender's lowest unsettled event number:
      // everything below it is settled on the sender's side and never sent
      // again, so its record here starts there (after a restart of this
      // receiver, or past a batch refused).
      [self](hello_atom, uint32_t version, const std::string& sender,
             uint64_t lowest_unsettled)
          -> caf::result<ok_atom, uint32_t, uint64_t> {
        if (auto err = admit(self, version, sender)) return err;
        self->state.senders[sender].accepted.settled_below(lowest_unsettled);
        return {ok_atom::value, hop::wire_version,
                static_cast<uint64_t>(self->state.cfg.max_batch_bytes)};
      },
      [self](hop_atom, const std::string& sender, uint64_t first,
             uint32_t hold_ms,
             const std::string& buffer) -> caf::result<ok_atom> {
        auto& st = self->state;
        if (st.stopping)
          return make_error(errc::channel_closed, "the agent is stopping");
        auto who = caf::actor_cast<caf::actor_addr>(self->current_sender());
        auto c = st.connected.find(who);
        if (c == st.connected.end() || c->second != sender)
          return refuse(self, sender, errc::channel_closed,
                        "sender " + sender +
                            " did not say hello on this connection");
        hop::decode_error err;
        auto frame = hop::peek(buffer, err);
        if (!frame)
          return refuse(self, sender,
                        err.kind == hop::decode_error::too_large
                            ? errc::batch_too_large
                            : errc::malformed_batch,
                        err.what);
        if (frame->count == 0)
          return refuse(self, sender, errc::malformed_batch, "empty batch");
        if (first == 0 || frame->count > UINT64_MAX - first)
          return refuse(self, sender, errc::malformed_batch,
                        "event numbers out of range");
        auto end = first + frame->count;
        auto& s = st.senders[sender];
        s.last_seen = self->clock().now();
        if (s.accepted.has(first, frame->count)) {
          // Its answer was lost: the sender must not put it twice.
          ++st.metrics->own(duplicates);
          return ok_atom::value;
        }
        auto waiter = st.next_waiter++;
        auto hold = std::min<std::chrono::milliseconds>(
            std::chrono::milliseconds{hold_ms}, st.cfg.max_hold);
        if (auto p = s.pending_holding(first, end)) {
          // A resend (whole, or a piece of it) while the first is still
          // held by a full channel.
          p->waiters.emplace(waiter,
                             pending_put::waiter{self->make_response_promise(),
                                                 self->clock().now() + hold});
          arm_hold_timer(self);
          return caf::delegated<ok_atom>{};
        }
        if (s.pending_overlaps(first, end)) {
          // A sender only cuts its batches smaller, so this does not happen;
          // if it did, "busy" makes it come back once the other is settled
          // (a duplicate at worst, where a refusal would drop events).
          ++st.metrics->own(batches_busy);
          spdlog::warn("{}: events {}..{} from {} overlap a batch on its way",
                       st.metrics->name, first, end - 1, sender);
          return make_error(errc::busy, "events overlap a batch on its way");
        }
        // What this sender has waiting for the channels bounds what more of
        // it is decoded: checked on the header, before anything is
        // allocated. A sender keeps to it (runtime/dist/hop.hpp); "busy" tells
        // one that did not to come back later.
        auto window = hop::sender_window_batches * st.cfg.max_batch_bytes;
        if (s.pending_bytes > 0 &&
            s.pending_bytes + frame->least_event_bytes() > window) {
          ++st.metrics->own(batches_busy);
          return make_error(errc::busy, "sender " + sender + " has " +
                                            std::to_string(s.pending_bytes) +
                                            " bytes waiting for the channels");
        }
        std::optional<batch> events;
        try {
          events = hop::decode(buffer, st.cfg.max_batch_bytes, err);
        } catch (const std::exception& e) {
          // The sender's codec needs a library that cannot be loaded here
          // (runtime/libs): the batch is intact, so it is not refused; its
          // sender keeps it and comes back (busy), and the source runs on.
          ++st.metrics->own(batches_busy);
          if (++st.codec_failures == 1 || st.codec_failures % 100 == 0)
            spdlog::error("{}: a batch from {} cannot be decoded here: {} "
                          "({} batches so far; the sender sends it again)",
                          st.metrics->name, sender, e.what(),
                          st.codec_failures);
          return make_error(errc::busy, e.what());
        }
        if (!events)
          return refuse(self, sender,
                        err.kind == hop::decode_error::too_large
                            ? errc::batch_too_large
                            : errc::malformed_batch,
                        err.what);
        // Only now: making the promise takes the request's sender, and the
        // refusals above must still reach it as this handler's result.
        auto rp = self->make_response_promise();
        auto n = events->size();
        auto bytes = event_bytes(*events);
        st.metrics->events_received += n;
        ++st.metrics->batches;
        auto& put = s.pending[first];
        put.end = end;
        put.event_bytes = bytes;
        put.waiters.emplace(
            waiter, pending_put::waiter{rp, self->clock().now() + hold});
        s.pending_bytes += bytes;
        arm_hold_timer(self);
        ++st.puts;
        put_batch(self, sender, first, std::move(*events), 0);
        return caf::delegated<ok_atom>{};
      },
      [self](repush_atom, const std::string& sender, uint64_t first,
             batch& events, uint32_t attempt) {
        put_batch(self, sender, first, std::move(events), attempt);
      },
      [self](hold_atom) {
        // Held as long as their senders may wait: tell them to come back.
        auto& st = self->state;
        st.hold_timer = false;
        auto now = self->clock().now();
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
              ++st.metrics->own(batches_busy);
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
  // Its families beside a source's (metrics.hpp): senders and their
  // batches.
  for (auto name : {"connections_open", "connection_failures"})
    w.metrics->expose(name);
  for (auto& f : {duplicates, batches_refused, batches_busy})
    w.metrics->own(f);
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
    port = libs::tls_publish(self, cfg.port, cfg.bind.c_str(), true);
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
