#include "actors/sources/http.hpp"
#include "actors/sources/http_library.hpp"

#include "actors/sources/tls_session.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/sources/http_listener.hpp"
#include "runtime/config/link_security.hpp"
#include "runtime/flow/protocol.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<flumen::sources::http_request>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<flumen::sources::http_listener>)

namespace flumen::sources {

/// The options of the `http` source (docs/reference/sources/http.md shows
/// them, generated).
const option_list& http_options() {
  static const option_spec own[] = {
      {.name = "bind",
       .kind = option_kind::string,
       .doc = "address to listen on (Flume: `0.0.0.0`); anything but "
              "loopback needs `tls` or `insecure: true` (a config error "
              "otherwise, with its location: "
              "`http_config.a_wildcard_bind_needs_tls_or_insecure`)"},
      {.name = "port",
       .kind = option_kind::integer,
       .min = 0,
       .max = 65535,
       .doc = "TCP port (`0`: any free one, logged)"},
      {.name = "path",
       .kind = option_kind::string,
       .def = "any",
       .doc = "the one path events are posted to (`/events`); others are "
              "answered 404. Not set: any path, as Flume"},
      {.name = "handler",
       .kind = option_kind::choice,
       .choices = "json|lines|body",
       .doc = "how a body becomes events: `json` is Flume's JSONHandler "
              "(`[{\"headers\": {...}, \"body\": \"...\"}]`, in the "
              "Content-Type's charset), `lines` one event per line, `body` "
              "the whole body one event"},
      {.name = "max_body_bytes",
       .kind = option_kind::size,
       .type = "size, `1KB` to `1GB`",
       .doc = "largest body; a longer one is answered 413, from its "
              "Content-Length before any of it is read (a chunked one once "
              "it passes the bound: the rest is read and thrown away)"},
      {.name = "max_events",
       .kind = option_kind::count,
       .max = 1000000,
       .doc = "most events one request may make; more: 413"},
      {.name = "max_buffered_bytes",
       .kind = option_kind::size,
       .type = "size, at least `max_body_bytes`",
       .doc = "bodies being read or waiting for the channels, all "
              "connections together; a request that would pass it is "
              "answered 503 with Retry-After"},
      {.name = "hold_timeout",
       .kind = option_kind::duration,
       .type = "duration, `0` to `10m`",
       .doc = "longest a full channel holds a request; then it is answered "
              "503 with Retry-After and none of its events were taken (Flume"
              " answers 503 when its channel is full)"},
      {.name = "retry_after",
       .kind = option_kind::duration,
       .type = "duration, `1s` to `1h`",
       .doc = "what a 503's `Retry-After` header asks a client to wait "
              "(whole seconds, rounded up)"},
      {.name = "max_connections",
       .kind = option_kind::count,
       .max = 65536,
       .doc = "connections served at once; further ones wait in the "
              "kernel's listen backlog until one closes"},
      {.name = "request_timeout",
       .kind = option_kind::duration,
       .type = "duration, `100ms` to `1h`",
       .doc = "a client must send each whole request (head and body) within"
              " this long of connecting or of its previous answer; else its "
              "connection is closed (counted in `connection_failures` and "
              "`http_connections_timed_out` when it never sent a whole "
              "request). A client that reads no answer is closed 2 s "
              "after it"},
      {.name = "insecure",
       .kind = option_kind::boolean,
       .doc = "`true`: listen on a non-loopback address in clear text; with"
              " `tls` a config error"},
  };
  static const option_list table = options_of(
      {own, server_tls_options(
                "`{certificate, key, ca_file, passphrase, "
                "client_certificates}`: HTTPS, TLS 1.2 or later (GnuTLS, "
                "through libmicrohttpd); a request from a client refused for "
                "its certificate is answered 403 and its connection closed")});
  return table;
}

http_config parse_http(option_reader& r) {
  option_scope scope{r, http_options()};
  http_config cfg;
  cfg.bind = r.str("bind", cfg.bind);
  cfg.port = static_cast<uint16_t>(r.integer("port", 0));
  r.require("port");
  cfg.path = r.str("path", cfg.path);
  if (!cfg.path.empty() && cfg.path.front() != '/')
    r.invalid("path", "must start with '/'");
  auto handler = r.choice("handler", "json", {"json", "lines", "body"});
  cfg.handler = handler == "lines"  ? http_handler::lines
                : handler == "body" ? http_handler::body
                                    : http_handler::json;
  cfg.max_body_bytes = r.bytes("max_body_bytes", cfg.max_body_bytes);
  if (cfg.max_body_bytes < 1024 || cfg.max_body_bytes > (1u << 30))
    r.invalid("max_body_bytes", "must be between 1KB and 1GB");
  cfg.max_events = r.count("max_events", cfg.max_events, 1, 1000000);
  cfg.max_buffered_bytes =
      r.bytes("max_buffered_bytes", cfg.max_buffered_bytes);
  if (r.parsed({"max_body_bytes", "max_buffered_bytes"}) &&
      cfg.max_buffered_bytes < cfg.max_body_bytes)
    r.error("max_buffered_bytes", "must be at least max_body_bytes (" +
                                      std::to_string(cfg.max_body_bytes) +
                                      " bytes)");
  cfg.hold_timeout = r.duration("hold_timeout", cfg.hold_timeout);
  if (cfg.hold_timeout > std::chrono::minutes{10})
    r.invalid("hold_timeout", "must be between 0 and 10m");
  cfg.retry_after = r.duration("retry_after", cfg.retry_after);
  if (cfg.retry_after < std::chrono::seconds{1} ||
      cfg.retry_after > std::chrono::hours{1})
    r.invalid("retry_after", "must be between 1s and 1h");
  cfg.max_connections =
      r.count("max_connections", cfg.max_connections, 1, 65536);
  cfg.request_timeout = r.duration("request_timeout", cfg.request_timeout);
  if (cfg.request_timeout < std::chrono::milliseconds{100} ||
      cfg.request_timeout > std::chrono::hours{1})
    r.invalid("request_timeout", "must be between 100ms and 1h");
  cfg.insecure = r.boolean("insecure", false);
  cfg.tls = parse_loaded_server_tls(r);
  require_listener_protection(r, cfg.bind, cfg.tls, cfg.insecure, " (HTTPS)",
                              "requests");
  auto& f = r.facts();
  f.listens.push_back({cfg.bind, cfg.port});
  f.libraries = http_library_sonames();
  return cfg;
}

namespace {

using http_put_atom = caf::atom_constant<caf::atom("httpput")>;
using repush_atom = caf::atom_constant<caf::atom("repush")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;

struct http_state {
  http_config cfg;
  caf::actor downstream;
  std::shared_ptr<component_metrics> metrics;
  std::shared_ptr<http_listener> listener;
  std::size_t puts = 0; ///< puts not answered yet
  bool stopping = false;
  /// When a stop began waiting for requests still being read or answered.
  std::chrono::steady_clock::time_point drain_since{};
  std::vector<caf::response_promise> stop_waiters;
  static inline const char* name = "http_source";
};

using http_actor = caf::stateful_actor<http_state>;

/// How long a stop waits for requests being read or answered once every
/// put is answered (they are answered 503 "stopping").
constexpr auto drain_bound = std::chrono::seconds{2};

std::chrono::milliseconds watch_interval(const http_config& cfg) {
  return std::clamp(cfg.request_timeout / 4, std::chrono::milliseconds{25},
                    std::chrono::milliseconds{250});
}

void maybe_stopped(http_actor* self) {
  auto& st = self->state;
  if (!st.stopping || st.puts != 0 || st.stop_waiters.empty()) return;
  if (st.listener && st.listener->busy() > 0 &&
      self->clock().now() - st.drain_since < drain_bound)
    return;
  st.listener.reset(); // stops the server: the next one may listen
  st.metrics->set_state(component_state::stopped);
  for (auto& rp : st.stop_waiters)
    rp.deliver(ok_atom::value);
  st.stop_waiters.clear();
}

void answer(http_actor* self, const std::shared_ptr<http_request>& req,
            int status, std::string text) {
  if (auto& l = self->state.listener) l->answer(req, status, std::move(text));
}

/// Events of a request answered 503: none taken, the client holds them.
void refused(http_actor* self, const std::shared_ptr<http_request>& req,
             uint64_t n, std::string why) {
  auto& m = *self->state.metrics;
  m.events_dropped.fetch_add(n, std::memory_order_relaxed);
  m.own(http_families::events_refused).fetch_add(n, std::memory_order_relaxed);
  answer(self, req, 503, std::move(why));
}

void put_request(http_actor* self, std::shared_ptr<http_request> req,
                 batch events, uint32_t attempt) {
  auto& st = self->state;
  auto n = events.size();
  auto receipt = std::make_shared<put_receipt>();
  auto hold = std::chrono::duration_cast<caf::timespan>(st.cfg.hold_timeout);
  self->request(st.downstream, caf::infinite, put_atom::value,
                std::move(events), receipt, hold)
      .then(
          [self, req, n, receipt](ok_atom) {
            auto& st = self->state;
            auto filtered = receipt->filtered.load();
            auto dropped = receipt->dropped.load();
            st.metrics->events_filtered += filtered;
            st.metrics->events_dropped += dropped;
            st.metrics->events_accepted += n - filtered - dropped;
            ++st.metrics->batches;
            answer(self, req, 200,
                   "accepted " + std::to_string(n - filtered - dropped) +
                       " events");
            --st.puts;
            maybe_stopped(self);
          },
          [self, req, n, attempt, receipt](caf::error& e) mutable {
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
                self->delayed_send(self, delay, repush_atom::value, req,
                                   std::move(back), attempt + 1);
                return;
              }
            }
            --st.puts;
            if (is_error(e, errc::interceptor_failed)) {
              // Sending it again would fail again: dropped, named.
              auto why = self->system().render(e);
              spdlog::error("{}: an interceptor failed on {} events, "
                            "dropped: {}",
                            st.metrics->name, n, why);
              st.metrics->events_dropped += n;
              answer(self, req, 500, "an interceptor failed: " + why);
            } else if (is_error(e, errc::channel_full)) {
              refused(self, req, n,
                      "channel full for hold_timeout: none of the " +
                          std::to_string(n) +
                          " events were taken; send them again after "
                          "Retry-After");
            } else {
              spdlog::warn("{}: a request of {} events was not accepted: {}",
                           st.metrics->name, n, self->system().render(e));
              refused(self, req, n,
                      "not accepted (" + self->system().render(e) +
                          "); send the events again after Retry-After");
            }
            maybe_stopped(self);
          });
}

caf::behavior http_receiver(http_actor* self, http_config cfg,
                            caf::actor downstream,
                            std::shared_ptr<component_metrics> metrics,
                            std::shared_ptr<http_listener> listener) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.downstream = std::move(downstream);
  st.metrics = std::move(metrics);
  st.listener = std::move(listener);
  tolerate_strays(self, st.metrics->name);
  fail_on_exceptions(self, st.metrics, component_state::failed);
  st.metrics->set_state(component_state::running);
  // Without its downstream a request can only be refused: go down with
  // it, so the supervisor restarts both.
  self->monitor(st.downstream);
  self->set_down_handler([self](const caf::down_msg& dm) {
    if (dm.source == self->state.downstream.address())
      self->quit(
          make_error(errc::channel_closed,
                     "downstream down: " + self->system().render(dm.reason)));
  });
  self->delayed_send(self, watch_interval(st.cfg), watch_atom::value);
  return {
      [self](http_put_atom, std::shared_ptr<http_request>& req) {
        auto& st = self->state;
        if (st.stopping) {
          refused(self, req, req->events.size(), "the agent is stopping");
          return;
        }
        ++st.puts;
        auto events = std::move(req->events);
        put_request(self, req, std::move(events), 0);
      },
      [self](repush_atom, std::shared_ptr<http_request>& req, batch& events,
             uint32_t attempt) {
        put_request(self, req, std::move(events), attempt);
      },
      [self](watch_atom) {
        auto& st = self->state;
        if (st.listener) st.listener->expire_slow();
        maybe_stopped(self);
        if (st.listener)
          self->delayed_send(self, watch_interval(st.cfg), watch_atom::value);
      },
      [](tick_atom) {
        // A round trip: answered after everything the source got before.
        return ok_atom::value;
      },
      [self](stop_atom) -> caf::result<ok_atom> {
        auto& st = self->state;
        if (!st.stopping) {
          st.stopping = true;
          st.drain_since = self->clock().now();
          if (st.listener) st.listener->stop_accepting();
        }
        st.stop_waiters.push_back(self->make_response_promise());
        maybe_stopped(self);
        return caf::delegated<ok_atom>{};
      },
  };
}

} // namespace

caf::actor spawn_http(caf::actor_system& sys, const http_config& cfg,
                      const wiring& w) {
  for (auto name : {"connections_open", "connection_failures"})
    w.metrics->expose(name);
  for (auto& f :
       {http_families::requests_ok, http_families::requests_busy,
        http_families::requests_rejected, http_families::events_refused,
        http_families::connections_timed_out})
    w.metrics->own(f);
  // Requests reach the actor by its address: the server's handler holds no
  // reference that would keep it alive.
  auto target = std::make_shared<caf::actor_addr>();
  auto listener = std::make_shared<http_listener>(
      cfg, w.metrics, [target](std::shared_ptr<http_request> req) {
        if (auto hdl = caf::actor_cast<caf::actor>(*target))
          caf::anon_send(hdl, http_put_atom::value, std::move(req));
      });
  auto self = sys.spawn(http_receiver, cfg, w.downstream, w.metrics, listener);
  *target = self.address();
  try {
    listener->start();
  } catch (const std::exception& ex) {
    caf::anon_send_exit(self, caf::exit_reason::user_shutdown);
    throw;
  }
  spdlog::info("{}: listening on {}:{} ({} handler{}{})", w.metrics->name,
               cfg.bind, listener->port(),
               cfg.handler == http_handler::json    ? "json"
               : cfg.handler == http_handler::lines ? "lines"
                                                    : "body",
               cfg.path.empty() ? "" : ", path " + cfg.path,
               cfg.tls.enabled() ? ", HTTPS" : "");
  return self;
}

} // namespace flumen::sources
