#include "actors/sources/avro.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/sources/avro_server.hpp"
#include "actors/sources/tls_session.hpp"
#include "runtime/flow/protocol.hpp"
#include "runtime/libs/sonames.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<flumen::sources::avro_call>)

namespace flumen::sources {

/// The options of the `avro` source (docs/reference/sources/avro.md shows
/// them, generated).
const option_list& avro_source_options() {
  static const option_spec own[] = {
      {.name = "bind",
       .kind = option_kind::string,
       .doc = "address to listen on (Flume: `0.0.0.0`); anything but "
              "loopback needs `tls` or `insecure: true`"},
      {.name = "port",
       .kind = option_kind::integer,
       .min = 0,
       .max = 65535,
       .doc = "TCP port (`0`: any free one, logged)"},
      {.name = "max_connections",
       .kind = option_kind::count,
       .max = 65536,
       .doc = "clients served at once; further ones wait in the kernel's "
              "listen backlog until one closes. Memory is bounded by this "
              "many messages of `max_message_bytes`"},
      {.name = "compression",
       .kind = option_kind::choice,
       .choices = "none|deflate",
       .doc = "Flume's `compression-type`: `deflate` is a zlib stream on "
              "every connection (Netty's); both sides must say the same. "
              "Not with `tls` (Flume's versions disagree on which goes "
              "outside)"},
      {.name = "insecure",
       .kind = option_kind::boolean,
       .doc = "`true`: listen on a non-loopback address in clear text; with"
              " `tls` a config error"},
      {.name = "ip_filter",
       .kind = option_kind::list,
       .type = "list of `allow:CIDR`, `deny:CIDR`, `allow:*`, `deny:*`",
       .doc = "rules on the client's address, the first that matches "
              "decides, none matching allows (Flume's `ipFilterRules`, with "
              "CIDR blocks for its wildcards); a refused client is closed "
              "at once and counted in `avro_connections_refused`"},
      {.name = "hold_timeout",
       .kind = option_kind::duration,
       .type = "duration, `0` to `19s`",
       .doc = "longest a full channel holds a call; then it is answered "
              "FAILED and none of its events were taken (the client rolls "
              "back and sends them again). Below Flume's 20 s "
              "`request-timeout`, so the client hears FAILED before it gives "
              "up"},
      {.name = "handshake_timeout",
       .kind = option_kind::duration,
       .type = "duration, `100ms` to `10m`",
       .doc = "a client must complete its TLS and Avro handshakes this long "
              "after it was accepted, and each message this long after its "
              "first byte; else it is closed (counted in "
              "`connection_failures`)"},
      {.name = "idle_timeout",
       .kind = option_kind::duration,
       .doc = "a client that sent nothing for this long is closed; `0`: "
              "never. A Flume client whose idle connection was closed fails "
              "its next call once (its sink rolls back) and sends it again "
              "on a new connection"},
      {.name = "max_message_bytes",
       .kind = option_kind::size,
       .type = "size, `1KB` to `1GB`",
       .doc = "largest message (a call with all its frames), checked at "
              "each frame's length before it is read; a longer one closes "
              "its connection (counted in `connection_failures`)"},
      {.name = "max_frames",
       .kind = option_kind::count,
       .max = 1u << 20,
       .doc = "most frames of one message (Java sends 8 KiB frames); more "
              "closes the connection"},
      {.name = "max_batch_events",
       .kind = option_kind::count,
       .max = 1000000,
       .doc = "most events of one `appendBatch`; a longer one is answered "
              "with an Avro error (Flume's `batch-size` is 100)"},
  };
  static const option_list table = options_of(
      {own, server_tls_options(
                "`{certificate, key, ca_file, passphrase, "
                "client_certificates}`: TLS 1.2 or later on every connection "
                "(Flume's `ssl` with a keystore: convert it to PEM, see "
                "docs/migrating-from-flume.md); a client refused for its "
                "certificate is closed and counted in `connection_failures`")});
  return table;
}

avro_source_config parse_avro_source(option_reader& r) {
  option_scope scope{r, avro_source_options()};
  avro_source_config cfg;
  cfg.bind = r.str("bind", cfg.bind);
  cfg.port = static_cast<uint16_t>(r.integer("port", 0, 0, 65535));
  r.require("port");
  cfg.max_connections =
      r.count("max_connections", cfg.max_connections, 1, 65536);
  cfg.deflate =
      r.choice("compression", "none", {"none", "deflate"}) == "deflate";
  cfg.insecure = r.boolean("insecure", false);
  for (auto& text : r.string_list("ip_filter")) {
    std::string why;
    if (auto rule = avro::parse_ip_rule(text, why))
      cfg.ip_filter.push_back(*rule);
    else
      r.invalid("ip_filter", why);
  }
  cfg.hold_timeout = r.duration("hold_timeout", cfg.hold_timeout);
  if (cfg.hold_timeout >= std::chrono::seconds{20})
    r.invalid("hold_timeout",
              "must be between 0 and 19s (below Flume's 20 s request "
              "timeout, so the client hears FAILED before it gives up)");
  cfg.handshake_timeout =
      r.duration("handshake_timeout", cfg.handshake_timeout);
  if (cfg.handshake_timeout < std::chrono::milliseconds{100} ||
      cfg.handshake_timeout > std::chrono::minutes{10})
    r.invalid("handshake_timeout", "must be between 100ms and 10m");
  cfg.idle_timeout = r.duration("idle_timeout", cfg.idle_timeout);
  cfg.max_message_bytes = r.bytes("max_message_bytes", cfg.max_message_bytes,
                                  1024, std::size_t{1} << 30);
  cfg.max_frames = r.count("max_frames", cfg.max_frames, 1, 1u << 20);
  cfg.max_batch_events =
      r.count("max_batch_events", cfg.max_batch_events, 1, 1000000);
  cfg.tls = parse_loaded_server_tls(r);
  if (cfg.tls.enabled() && cfg.deflate)
    r.error("compression",
            "compression: deflate and tls together are not supported: "
            "Flume 1.9 compresses inside TLS, Flume 1.11 outside, so no "
            "order works with both; choose one");
  require_listener_protection(r, cfg.bind, cfg.tls, cfg.insecure, "", "calls");
  auto& f = r.facts();
  f.listens.push_back({cfg.bind, cfg.port});
  if (cfg.deflate) f.libraries.push_back(libs::soname::zlib);
  return cfg;
}

namespace {

using avro_put_atom = caf::atom_constant<caf::atom("avroput")>;
using repush_atom = caf::atom_constant<caf::atom("repush")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using server_failed_atom = caf::atom_constant<caf::atom("srvfailed")>;

struct avro_state {
  avro_source_config cfg;
  caf::actor downstream;
  std::shared_ptr<component_metrics> metrics;
  std::shared_ptr<avro_server> server;
  std::size_t puts = 0; ///< puts not answered yet
  bool stopping = false;
  std::chrono::steady_clock::time_point drain_since{};
  std::vector<caf::response_promise> stop_waiters;
  static inline const char* name = "avro_source";
};

using avro_actor = caf::stateful_actor<avro_state>;

/// How long a stop waits for answers to be written once every put is
/// answered.
constexpr auto drain_bound = std::chrono::seconds{2};

void maybe_stopped(avro_actor* self) {
  auto& st = self->state;
  if (!st.stopping || st.puts != 0 || st.stop_waiters.empty()) return;
  if (st.server && st.server->busy() > 0 &&
      self->clock().now() - st.drain_since < drain_bound)
    return;
  st.server.reset(); // closes every connection: the next one may listen
  st.metrics->set_state(component_state::stopped);
  for (auto& rp : st.stop_waiters)
    rp.deliver(ok_atom::value);
  st.stop_waiters.clear();
}

void answer(avro_actor* self, const std::shared_ptr<avro_call>& call,
            avro::status s, std::string error = {}) {
  if (auto& srv = self->state.server) srv->answer(call, s, std::move(error));
}

/// Events of a call answered FAILED or with an error: none taken, the
/// client holds them.
void refused(avro_actor* self, const std::shared_ptr<avro_call>& call,
             uint64_t n, std::string error = {}) {
  auto& m = *self->state.metrics;
  m.events_dropped.fetch_add(n, std::memory_order_relaxed);
  m.own(avro_families::events_refused).fetch_add(n, std::memory_order_relaxed);
  if (error.empty()) ++m.own(avro_families::requests_failed);
  answer(self, call, avro::status::failed, std::move(error));
}

void put_call(avro_actor* self, std::shared_ptr<avro_call> call, batch events,
              uint32_t attempt) {
  auto& st = self->state;
  auto n = events.size();
  auto receipt = std::make_shared<put_receipt>();
  auto hold = std::chrono::duration_cast<caf::timespan>(st.cfg.hold_timeout);
  self->request(st.downstream, caf::infinite, put_atom::value,
                std::move(events), receipt, hold)
      .then(
          [self, call, n, receipt](ok_atom) {
            auto& st = self->state;
            auto filtered = receipt->filtered.load();
            auto dropped = receipt->dropped.load();
            st.metrics->events_filtered += filtered;
            st.metrics->events_dropped += dropped;
            st.metrics->events_accepted += n - filtered - dropped;
            ++st.metrics->batches;
            ++st.metrics->own(avro_families::requests_ok);
            answer(self, call, avro::status::ok);
            --st.puts;
            maybe_stopped(self);
          },
          [self, call, n, attempt, receipt](caf::error& e) mutable {
            auto& st = self->state;
            auto filtered = receipt->filtered.load();
            auto dropped = receipt->dropped.load();
            st.metrics->events_filtered += filtered;
            st.metrics->events_dropped += dropped;
            n -= filtered + dropped;
            if (is_error(e, errc::channel_closed) && !st.stopping) {
              // A reload closed the channel and routed this source
              // elsewhere: the events go there (the client keeps waiting).
              if (auto back = closed_events(e); back.size() == n) {
                auto delay = std::chrono::milliseconds{std::min<int64_t>(
                    1000, int64_t{20} << std::min(attempt, 6u))};
                self->delayed_send(self, delay, repush_atom::value, call,
                                   std::move(back), attempt + 1);
                return;
              }
            }
            --st.puts;
            if (is_error(e, errc::interceptor_failed)) {
              // Sending it again would fail again: dropped, named, and the
              // client told with an Avro error.
              auto why = self->system().render(e);
              spdlog::error("{}: an interceptor failed on {} events, "
                            "dropped: {}",
                            st.metrics->name, n, why);
              st.metrics->events_dropped += n;
              answer(self, call, avro::status::failed,
                     "an interceptor failed: " + why);
            } else if (is_error(e, errc::channel_full)) {
              refused(self, call, n);
            } else {
              spdlog::warn("{}: a call of {} events was not accepted: {}",
                           st.metrics->name, n, self->system().render(e));
              refused(self, call, n);
            }
            maybe_stopped(self);
          });
}

caf::behavior avro_receiver(avro_actor* self, avro_source_config cfg,
                            caf::actor downstream,
                            std::shared_ptr<component_metrics> metrics,
                            std::shared_ptr<avro_server> server) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.downstream = std::move(downstream);
  st.metrics = std::move(metrics);
  st.server = std::move(server);
  tolerate_strays(self, st.metrics->name);
  fail_on_exceptions(self, st.metrics, component_state::failed);
  st.metrics->set_state(component_state::running);
  self->monitor(st.downstream);
  self->set_down_handler([self](const caf::down_msg& dm) {
    if (dm.source == self->state.downstream.address())
      self->quit(
          make_error(errc::channel_closed,
                     "downstream down: " + self->system().render(dm.reason)));
  });
  return {
      [self](avro_put_atom, std::shared_ptr<avro_call>& call) {
        auto& st = self->state;
        if (st.stopping) {
          refused(self, call, call->events.size());
          return;
        }
        ++st.puts;
        auto events = std::move(call->events);
        put_call(self, call, std::move(events), 0);
      },
      [self](repush_atom, std::shared_ptr<avro_call>& call, batch& events,
             uint32_t attempt) {
        put_call(self, call, std::move(events), attempt);
      },
      [self](watch_atom) {
        maybe_stopped(self);
        if (self->state.server && !self->state.stop_waiters.empty())
          self->delayed_send(self, std::chrono::milliseconds{50},
                             watch_atom::value);
      },
      [self](server_failed_atom, const std::string& why) {
        // The server's thread is gone: the source cannot take calls; it
        // quits so its supervisor starts a new one.
        self->quit(caf::make_error(caf::sec::runtime_error,
                                   "the avro server stopped: " + why));
      },
      [](tick_atom) { return ok_atom::value; },
      [self](stop_atom) -> caf::result<ok_atom> {
        auto& st = self->state;
        if (!st.stopping) {
          st.stopping = true;
          st.drain_since = self->clock().now();
          if (st.server) st.server->stop_accepting();
        }
        st.stop_waiters.push_back(self->make_response_promise());
        maybe_stopped(self);
        // Answers still being written are waited for a little.
        if (st.server)
          self->delayed_send(self, std::chrono::milliseconds{50},
                             watch_atom::value);
        return caf::delegated<ok_atom>{};
      },
  };
}

} // namespace

caf::actor spawn_avro_source(caf::actor_system& sys,
                             const avro_source_config& cfg, const wiring& w) {
  for (auto name : {"connections_open", "connection_failures"})
    w.metrics->expose(name);
  for (auto& f :
       {avro_families::requests_ok, avro_families::requests_failed,
        avro_families::requests_rejected, avro_families::events_refused,
        avro_families::connections_refused})
    w.metrics->own(f);
  // Calls reach the actor by its address: the server holds no reference
  // that would keep it alive.
  auto target = std::make_shared<caf::actor_addr>();
  auto server = std::make_shared<avro_server>(
      cfg, w.metrics,
      [target](std::shared_ptr<avro_call> call) {
        if (auto hdl = caf::actor_cast<caf::actor>(*target))
          caf::anon_send(hdl, avro_put_atom::value, std::move(call));
      },
      [target](const std::string& why) {
        if (auto hdl = caf::actor_cast<caf::actor>(*target))
          caf::anon_send(hdl, server_failed_atom::value, why);
      });
  auto self = sys.spawn(avro_receiver, cfg, w.downstream, w.metrics, server);
  *target = self.address();
  try {
    server->start();
  } catch (const std::exception&) {
    caf::anon_send_exit(self, caf::exit_reason::user_shutdown);
    throw;
  }
  spdlog::info("{}: listening on {}:{} (Flume's Avro RPC{}{}; calls up to {} "
               "bytes and {} events)",
               w.metrics->name, cfg.bind, server->port(),
               cfg.deflate ? ", deflate" : "", cfg.tls.enabled() ? ", TLS" : "",
               cfg.max_message_bytes, cfg.max_batch_events);
  return self;
}

} // namespace flumen::sources
