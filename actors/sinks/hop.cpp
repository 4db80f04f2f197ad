#include "actors/sinks/hop.hpp"

#include <unistd.h>

#include <map>
#include <mutex>
#include <random>
#include <span>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/manager.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "runtime/core/backoff.hpp"
#include "runtime/dist/hop.hpp"
#include "runtime/flow/protocol.hpp"
#include "runtime/flow/sink_driver.hpp"
#include "runtime/libs/sonames.hpp"
#include "runtime/wire/hop_flow.hpp"
#include "runtime/wire/hop_wire.hpp"

namespace flumen::sinks {

hop_sink_config parse_hop_sink(option_reader& r) {
  option_scope scope{r, hop_sink_options()};
  hop_sink_config cfg;
  cfg.host = r.required_str("host");
  cfg.port = static_cast<uint16_t>(r.integer("port", 0));
  r.require("port");
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight);
  cfg.connect_timeout = r.duration("connect_timeout", cfg.connect_timeout);
  cfg.request_timeout = r.duration("request_timeout", cfg.request_timeout);
  if (cfg.connect_timeout.count() < 100)
    r.invalid("connect_timeout", "must be at least 100ms");
  if (cfg.request_timeout.count() < 200)
    r.invalid("request_timeout", "must be at least 200ms");
  auto c = r.choice("compression", "none", {"none", "lz4", "zstd"});
  cfg.compression = hop::parse_codec(c).value_or(hop::codec::none);
  cfg.wire_version =
      static_cast<uint32_t>(r.integer("test_wire_version", hop::wire_version));
  cfg.security = parse_link_security(r);
  if (!cfg.host.empty()) require_protection(r, "host", cfg.host, cfg.security);
  auto& f = r.facts();
  f.batch_size = cfg.batch_size;
  f.batch_size_stated = r.has("batch_size");
  f.security = cfg.security;
  if (cfg.security.tls()) f.libraries.push_back(libs::soname::caf_openssl);
  if (cfg.compression == hop::codec::lz4)
    f.libraries.push_back(libs::soname::lz4);
  if (cfg.compression == hop::codec::zstd)
    f.libraries.push_back(libs::soname::zstd);
  if (!cfg.host.empty()) f.sends_to.push_back({cfg.host, cfg.port});
  return cfg;
}

} // namespace flumen::sinks

namespace flumen::sinks::detail {

/// One `deliver` call on its way: the batch (kept alive by `owner`, read
/// again when a piece must be cut smaller), its wire pieces not yet handed
/// to the link, and what to report when the last piece is settled.
struct hop_delivery {
  struct chunk {
    std::string buffer;
    uint32_t begin = 0; ///< events [begin, end) of the batch as taken
    uint32_t end = 0;
    std::size_t event_bytes = 0; ///< decoded, as the receiver bounds it
  };
  const batch* events = nullptr;
  batch_owner owner;
  std::vector<chunk> chunks;
  delivery_report report;
  delivery_done done;
  std::size_t left = 0; ///< pieces not settled
};

} // namespace flumen::sinks::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(
    std::shared_ptr<flumen::sinks::detail::hop_delivery>)

namespace flumen::sinks {

namespace {

/// The hop sink's own family, beside a sink's.
const own_family_spec batches_resent{
    "hop_batches_resent",
    "Hop batches sent again (after a timeout, a lost connection or busy)."};

using detail::hop_delivery;
using hop::hello_atom;
using hop::hop_atom;
using submit_atom = caf::atom_constant<caf::atom("submit")>;
using resend_atom = caf::atom_constant<caf::atom("resend")>;
using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;

// The link estimate measures on the real clock; the backoffs schedule on
// the actor system's (as their delayed messages).
using clock_type = std::chrono::steady_clock;

/// How often a connected link says hello again. CAF's own heartbeats do
/// not keep a TLS link alive on this CAF (an idle one was closed after each
/// connection timeout), and a peer that stops answering them is found here
/// too, within request_timeout. Each hello states the lowest unsettled
/// event number, so the receiver forgets what it no longer needs.
constexpr auto keepalive_interval = std::chrono::seconds{1};

/// Until a receiver told its max_batch_bytes, batches are cut to this.
constexpr std::size_t default_chunk_bytes = 4u << 20;

/// A wire batch (a piece of a delivery) not yet settled.
struct outgoing {
  /// The request, made once with the buffer moved in: a resend shares it
  /// (CAF messages are reference counted) instead of copying the batch.
  caf::message request;
  uint32_t begin = 0; ///< events [begin, end) of the delivery's batch
  uint32_t end = 0;
  std::size_t wire = 0;        ///< the buffer's bytes
  std::size_t event_bytes = 0; ///< decoded, as the receiver bounds it
  std::shared_ptr<hop_delivery> delivery;
  uint64_t attempt = 0; ///< answers to older attempts are ignored
  /// queued: to be sent (again); in_flight: a request awaits its answer;
  /// waiting: sent, to be sent again after a backoff ("busy", a timeout).
  enum { queued, in_flight, waiting } state = queued;
  bool sent = false;  ///< sent once at least: the receiver may hold it
  bool again = false; ///< a piece of one that was sent: a resend too
};

struct link_state {
  hop_sink_config cfg;
  std::string sender;
  std::string peer; ///< host:port
  std::shared_ptr<component_metrics> metrics;
  /// The receiver's max_batch_bytes and the largest message the link
  /// carries now, for `deliver` to cut batches by.
  std::shared_ptr<std::atomic<uint64_t>> remote_max;
  std::shared_ptr<std::atomic<uint64_t>> message_max;
  caf::actor remote;
  bool ready = false;
  bool connecting = false;
  uint64_t connect_round = 0;
  std::string last_error; ///< logged once per change
  /// Wire batches by the number of their first event: events are numbered
  /// 1, 2, ... in the order they are handed to the link, and a batch names
  /// the range it carries, so a piece of a batch cut smaller for a resend
  /// is still recognised by a receiver that took the whole.
  std::map<uint64_t, outgoing> out;
  uint64_t next_number = 1;
  /// Decoded bytes of batches sent and not settled: a receiver holds at
  /// most sender_window_batches x its max_batch_bytes of ours.
  std::size_t outstanding = 0;
  hop::link_estimate estimate{std::chrono::seconds{5},
                              std::chrono::seconds{20}};
  backoff_policy reconnect{std::chrono::milliseconds{100},
                           std::chrono::seconds{5}};
  backoff_policy resend{std::chrono::milliseconds{100},
                        std::chrono::seconds{5}};
  static inline const char* name = "hop_link";

  std::size_t receiver_max() const {
    auto m = remote_max->load();
    return m == 0 ? default_chunk_bytes : static_cast<std::size_t>(m);
  }

  /// Every event number below this is settled (no batch of it is sent
  /// again): what the hellos state.
  uint64_t lowest_unsettled() const {
    return out.empty() ? next_number : out.begin()->first;
  }

  void publish() { message_max->store(estimate.message_bytes()); }
};

using link_actor = caf::stateful_actor<link_state>;

caf::io::middleman_actor middleman_of(link_actor* self) {
  auto& sys = self->system();
  return self->state.cfg.security.tls() ? sys.openssl_manager().actor_handle()
                                        : sys.middleman().actor_handle();
}

void connect(link_actor* self);
void pump(link_actor* self);

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
  auto delay = st.reconnect.on_failure(self->clock().now());
  if (why != st.last_error)
    spdlog::warn("{}: {}: {}; trying again in {} ms (and on)", st.metrics->name,
                 st.peer, why, delay.count());
  st.last_error = why;
  st.metrics->set_state(component_state::connecting, st.peer + ": " + why);
  self->delayed_send(self, delay, reconnect_atom::value, ++st.connect_round);
}

/// `o`'s request left the link's flight (answered, or its answer will not
/// be waited for).
void leave_flight(link_actor* self, outgoing& o, bool acked) {
  if (o.state != outgoing::in_flight) return;
  self->state.estimate.on_answer(clock_type::now(), o.wire, acked);
  o.state = outgoing::queued;
}

/// The connection is gone: what was in flight is sent again, with its
/// numbers, on the next one, and the link's estimate is halved when
/// something was crossing (a message too large for the link is one way to
/// lose it: CAF closes a link that delivered no whole message in time).
void lost(link_actor* self, const std::string& why) {
  auto& st = self->state;
  bool crossing = false;
  for (auto& [_, o] : st.out)
    if (o.state == outgoing::in_flight) {
      leave_flight(self, o, false);
      ++o.attempt;
      crossing = true;
    }
  if (crossing) {
    st.estimate.on_loss(clock_type::now());
    st.publish();
  }
  connection_failed(self, why);
}

void hello_again(link_actor* self, uint64_t round);

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
            // The version check, in the message every version has: a
            // receiver of another version says so in words on both sides.
            self->request(st.remote, st.cfg.request_timeout, hello_atom::value,
                          st.cfg.wire_version, st.sender)
                .then(
                    [self, round, fail](ok_atom, uint32_t version,
                                        uint64_t max_batch_bytes) {
                      auto& st = self->state;
                      if (st.connect_round != round) return;
                      st.remote_max->store(max_batch_bytes);
                      // Then the lowest unsettled number, before any batch.
                      self->request(st.remote, st.cfg.request_timeout,
                                    hello_atom::value, st.cfg.wire_version,
                                    st.sender, st.lowest_unsettled())
                          .then(
                              [self, round, version](ok_atom, uint32_t,
                                                     uint64_t max) {
                                auto& st = self->state;
                                if (st.connect_round != round) return;
                                st.connecting = false;
                                st.ready = true;
                                st.reconnect.reset();
                                st.remote_max->store(max);
                                spdlog::info(
                                    "{}: connected to {} (hop wire version "
                                    "{}, max_batch_bytes {})",
                                    st.metrics->name, st.peer, version, max);
                                st.last_error.clear();
                                ++st.metrics->connections_open;
                                st.metrics->connected();
                                st.metrics->set_state(component_state::running);
                                self->delayed_send(self, keepalive_interval,
                                                   ping_atom::value, round);
                                pump(self);
                              },
                              [self, fail](caf::error& e) {
                                fail("hello failed: " +
                                     self->system().render(e));
                              });
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

/// Settles the wire batch `first`: its delivery is reported when it was the
/// last piece of it.
void settle(link_actor* self, uint64_t first, std::vector<rejection> rejected,
            bool retry, const std::string& why) {
  auto& st = self->state;
  auto i = st.out.find(first);
  if (i == st.out.end()) return;
  auto& o = i->second;
  auto d = o.delivery;
  if (o.sent) st.outstanding -= std::min(st.outstanding, o.event_bytes);
  for (auto& r : rejected)
    d->report.rejected.push_back(std::move(r));
  if (retry) {
    for (auto idx = o.begin; idx < o.end; ++idx)
      d->report.retry.push_back(idx);
    d->report.reason = why;
  }
  st.out.erase(i);
  if (--d->left == 0) {
    std::sort(d->report.retry.begin(), d->report.retry.end());
    std::sort(d->report.rejected.begin(), d->report.rejected.end(),
              [](const rejection& a, const rejection& b) {
                return a.index < b.index;
              });
    d->done(std::move(d->report));
  }
}

void retry_later(link_actor* self, uint64_t first, const std::string& why) {
  auto& st = self->state;
  auto i = st.out.find(first);
  if (i == st.out.end()) return;
  i->second.state = outgoing::waiting;
  auto delay = st.resend.on_failure(self->clock().now());
  st.metrics->set_state(component_state::degraded, st.peer + ": " + why);
  self->delayed_send(self, delay, resend_atom::value, first, i->second.attempt);
}

/// Cuts the queued batch at `i` into pieces the link carries now (it was
/// cut when the link seemed faster, or was lost on the way): numbered by
/// their events as before, so the receiver recognises any it already took.
/// Returns the first piece.
std::map<uint64_t, outgoing>::iterator
split(link_actor* self, std::map<uint64_t, outgoing>::iterator i) {
  auto& st = self->state;
  auto first = i->first;
  auto o = std::move(i->second);
  auto next = st.out.erase(i);
  if (o.sent) st.outstanding -= std::min(st.outstanding, o.event_bytes);
  auto& d = *o.delivery;
  std::span<const event> events{d.events->data() + o.begin, o.end - o.begin};
  std::vector<std::size_t> oversized;
  auto pieces = hop::cut(
      events, {st.receiver_max(), st.estimate.message_bytes()}, oversized);
  for (auto k : oversized)
    d.report.rejected.push_back(rejection{
        static_cast<uint32_t>(o.begin + k),
        fmt::format("event of {} bytes decoded, more than the receiver's "
                    "max_batch_bytes {}",
                    event_bytes(events[k]), st.receiver_max()),
        {}});
  auto hold = static_cast<uint32_t>(st.cfg.request_timeout.count() / 2);
  auto result = next;
  bool at_first = true;
  for (auto& p : pieces) {
    auto number = first + p.begin;
    auto buffer = hop::encode(events.subspan(p.begin, p.end - p.begin),
                              st.cfg.compression);
    outgoing piece;
    piece.wire = buffer.size();
    piece.request = caf::make_message(hop_atom::value, st.sender, number, hold,
                                      std::move(buffer));
    piece.begin = static_cast<uint32_t>(o.begin + p.begin);
    piece.end = static_cast<uint32_t>(o.begin + p.end);
    piece.event_bytes = p.event_bytes;
    piece.delivery = o.delivery;
    piece.again = o.sent || o.again;
    auto it = st.out.emplace(number, std::move(piece)).first;
    if (at_first) result = it;
    at_first = false;
  }
  // One piece became pieces.size() (none when every event was over the
  // receiver's bound).
  d.left += pieces.size();
  if (--d.left == 0) {
    std::sort(d.report.rejected.begin(), d.report.rejected.end(),
              [](const rejection& a, const rejection& b) {
                return a.index < b.index;
              });
    d.done(std::move(d.report));
  }
  return result;
}

void send(link_actor* self, uint64_t first);

/// Sends queued batches in number order while the link's window has room:
/// in flight at most what crosses within a quarter of request_timeout (so
/// no answer waits behind more), and no more decoded bytes unsettled than
/// the receiver holds for one sender. A queued batch larger than twice what
/// the link now carries in one message is cut first.
void pump(link_actor* self) {
  auto& st = self->state;
  if (!st.ready) return;
  auto cap = hop::sender_window_batches * st.receiver_max();
  for (auto i = st.out.begin(); i != st.out.end();) {
    auto& o = i->second;
    if (o.state != outgoing::queued) {
      ++i;
      continue;
    }
    if (o.end - o.begin > 1 && o.wire > 2 * st.estimate.message_bytes()) {
      i = split(self, i);
      continue;
    }
    auto flying = st.estimate.in_flight();
    if (flying > 0 && flying + o.wire > st.estimate.window_bytes()) return;
    if (!o.sent && st.outstanding > 0 && st.outstanding + o.event_bytes > cap)
      return;
    auto first = i->first;
    ++i;
    send(self, first);
  }
}

void send(link_actor* self, uint64_t first) {
  auto& st = self->state;
  auto i = st.out.find(first);
  if (i == st.out.end() || !st.ready) return;
  auto& o = i->second;
  if (o.sent || o.again) ++st.metrics->own(batches_resent);
  if (!o.sent) st.outstanding += o.event_bytes;
  o.sent = true;
  o.state = outgoing::in_flight;
  auto attempt = ++o.attempt;
  st.estimate.on_send(clock_type::now(), o.wire);
  self->request(st.remote, st.cfg.request_timeout, o.request)
      .then(
          [self, first, attempt](ok_atom) {
            auto& st = self->state;
            auto i = st.out.find(first);
            if (i == st.out.end() || i->second.attempt != attempt) return;
            leave_flight(self, i->second, true);
            st.publish();
            st.resend.reset();
            if (st.metrics->current_state() == component_state::degraded)
              st.metrics->set_state(component_state::running);
            settle(self, first, {}, false, {});
            pump(self);
          },
          [self, first, attempt](caf::error& e) {
            auto& st = self->state;
            auto i = st.out.find(first);
            if (i == st.out.end() || i->second.attempt != attempt) return;
            auto& o = i->second;
            leave_flight(self, o, false);
            auto why = self->system().render(e);
            auto flumen_error = [&](errc x) {
              return e.category() == caf::atom("flumen") &&
                     e.code() == static_cast<uint8_t>(x);
            };
            if (flumen_error(errc::malformed_batch) ||
                (flumen_error(errc::batch_too_large) && o.end - o.begin == 1)) {
              // The receiver can never take these: the sink's policy
              // decides (drop, dead letter, fail).
              std::vector<rejection> rejected;
              for (auto idx = o.begin; idx < o.end; ++idx)
                rejected.push_back(
                    rejection{idx, "refused by " + st.peer + ": " + why, {}});
              settle(self, first, std::move(rejected), false, {});
            } else if (flumen_error(errc::busy)) {
              // A full channel downstream, or the receiver cannot take it
              // now (its reason, e.g. a codec's library it lacks).
              retry_later(self, first, "the receiver is busy: " + why);
            } else if (flumen_error(errc::batch_too_large)) {
              // The receiver's bound shrank since this batch was cut: it
              // goes back to the channel and is cut again.
              settle(self, first, {}, true, why);
            } else {
              if (e == caf::sec::request_timeout) {
                // Unanswered: perhaps too large to cross in time. Smaller
                // messages from now on; this one is cut when sent again.
                st.estimate.on_loss(clock_type::now());
                st.publish();
              }
              if (why != st.last_error)
                spdlog::warn("{}: batch of events {}..{} to {}: {}; sending "
                             "it again",
                             st.metrics->name, first,
                             first + (o.end - o.begin) - 1, st.peer, why);
              st.last_error = why;
              retry_later(self, first, why);
            }
            pump(self);
          });
}

void hello_again(link_actor* self, uint64_t round) {
  auto& st = self->state;
  if (round != st.connect_round || !st.ready) return;
  self->request(st.remote, st.cfg.request_timeout, hello_atom::value,
                st.cfg.wire_version, st.sender, st.lowest_unsettled())
      .then(
          [self, round](ok_atom, uint32_t, uint64_t max_batch_bytes) {
            auto& st = self->state;
            if (round != st.connect_round || !st.ready) return;
            st.remote_max->store(max_batch_bytes);
            self->delayed_send(self, keepalive_interval, ping_atom::value,
                               round);
            pump(self);
          },
          [self, round](caf::error& e) {
            auto& st = self->state;
            if (round != st.connect_round || !st.ready) return;
            lost(self,
                 "no answer to a keepalive (" + self->system().render(e) + ")");
          });
}

caf::behavior hop_link(link_actor* self, hop_sink_config cfg,
                       std::string sender,
                       std::shared_ptr<component_metrics> metrics,
                       std::shared_ptr<std::atomic<uint64_t>> remote_max,
                       std::shared_ptr<std::atomic<uint64_t>> message_max) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.sender = std::move(sender);
  st.peer = st.cfg.host + ":" + std::to_string(st.cfg.port);
  st.metrics = std::move(metrics);
  st.remote_max = std::move(remote_max);
  st.message_max = std::move(message_max);
  // CAF closes a link that delivered no whole message for this long (the
  // receiver's setting; flumen's are all the same): a message must cross
  // well within it.
  auto link_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      caf::get_or(self->system().config(), "middleman.connection-timeout",
                  caf::timespan{std::chrono::seconds{5}}));
  if (link_timeout.count() <= 0) link_timeout = st.cfg.request_timeout;
  st.estimate = hop::link_estimate{link_timeout, st.cfg.request_timeout};
  st.publish();
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
    // is sent again, with its numbers, on the next connection.
    lost(self, "connection lost (" + self->system().render(dm.reason) + ")");
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
          auto first = st.next_number;
          st.next_number += c.end - c.begin;
          outgoing o;
          o.wire = c.buffer.size();
          o.request = caf::make_message(hop_atom::value, st.sender, first, hold,
                                        std::move(c.buffer));
          o.begin = c.begin;
          o.end = c.end;
          o.event_bytes = c.event_bytes;
          o.delivery = d;
          st.out.emplace(first, std::move(o));
        }
        d->chunks.clear();
        pump(self);
      },
      [self](resend_atom, uint64_t first, uint64_t attempt) {
        auto i = self->state.out.find(first);
        if (i == self->state.out.end() || i->second.attempt != attempt ||
            i->second.state != outgoing::waiting)
          return;
        i->second.state = outgoing::queued;
        pump(self);
      },
      [self](reconnect_atom, uint64_t round) {
        if (round == self->state.connect_round) connect(self);
      },
      [self](ping_atom, uint64_t round) { hello_again(self, round); },
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
        message_max_(std::make_shared<std::atomic<uint64_t>>(
            hop::link_estimate::first_message)),
        link_(sys.spawn(hop_link, cfg, std::move(sender),
                        awaiting(std::move(metrics)), remote_max_,
                        message_max_)) {}

  ~hop_backend() override {
    caf::anon_send_exit(link_, caf::exit_reason::user_shutdown);
  }

  std::size_t window() const override { return cfg_.max_inflight; }

  void deliver(const batch& events, delivery_done done,
               const batch_owner& owner) override {
    auto d = std::make_shared<hop_delivery>();
    d->done = std::move(done);
    if (owner) {
      d->events = &events;
      d->owner = owner;
    } else {
      // Valid only during this call: the link may need them later.
      auto copy = std::make_shared<const batch>(events);
      d->events = copy.get();
      d->owner = copy;
    }
    auto limit = remote_max_->load();
    if (limit == 0) limit = default_chunk_bytes;
    // Cut the batch so every piece fits the receiver's max_batch_bytes and
    // crosses the link within its timeout.
    std::vector<std::size_t> oversized;
    auto pieces =
        hop::cut(*d->events, {limit, message_max_->load()}, oversized);
    for (auto i : oversized)
      d->report.rejected.push_back(rejection{
          static_cast<uint32_t>(i),
          fmt::format("event of {} bytes decoded, more than the receiver's "
                      "max_batch_bytes {}",
                      event_bytes((*d->events)[i]), limit),
          {}});
    std::span<const event> all{*d->events};
    for (auto& p : pieces) {
      hop_delivery::chunk c;
      c.buffer =
          hop::encode(all.subspan(p.begin, p.end - p.begin), cfg_.compression);
      c.begin = static_cast<uint32_t>(p.begin);
      c.end = static_cast<uint32_t>(p.end);
      c.event_bytes = p.event_bytes;
      d->chunks.push_back(std::move(c));
    }
    caf::anon_send(link_, submit_atom::value, std::move(d));
  }

private:
  hop_sink_config cfg_;
  std::shared_ptr<std::atomic<uint64_t>> remote_max_;
  std::shared_ptr<std::atomic<uint64_t>> message_max_;
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
  w.metrics->own(batches_resent); // shown (at 0) from the start
  sink_driver_config dc;
  dc.batch_size = cfg.batch_size;
  // Its backend never blocks (deliver encodes and hands the pieces to the
  // link actor): the driver runs on CAF's scheduler, not on a thread of its
  // own woken for every take, report and commit.
  dc.blocking = false;
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
