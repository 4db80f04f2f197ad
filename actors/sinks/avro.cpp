#include "actors/sinks/avro.hpp"

#include "actors/sinks/avro_client.hpp"
#include "runtime/flow/sink_driver.hpp"
#include "runtime/libs/sonames.hpp"

namespace flumen::sinks {

/// The options of the `avro` sink (docs/reference/sinks/avro.md shows
/// them, generated).
const option_list& avro_sink_options() {
  static const option_spec own[] = {
      {.name = "hostname",
       .kind = option_kind::string,
       .doc = "the receiver: a Flume agent's `avro` source or flumen's; "
              "anything but loopback needs `tls` or `insecure: true`"},
      {.name = "port",
       .kind = option_kind::integer,
       .min = 1,
       .max = 65535,
       .doc = "its port"},
      {.name = "batch_size",
       .kind = option_kind::count,
       .max = 1000000,
       .doc = "events per `appendBatch` call (Flume's `batch-size`, whose "
              "default 100 `flumen import` writes out); at most 8 MiB of "
              "events per call"},
      {.name = "connect_timeout",
       .kind = option_kind::duration,
       .type = "duration, at least `100ms`",
       .doc = "bound of one connection attempt, its TLS handshake included "
              "(Flume's `connect-timeout`)"},
      {.name = "request_timeout",
       .kind = option_kind::duration,
       .type = "duration, at least `200ms`",
       .doc = "bound of one call's answer; then the connection is closed "
              "and every call out on it rolls back (Flume's "
              "`request-timeout`)"},
      {.name = "reset_connection_interval",
       .kind = option_kind::duration,
       .doc = "connect anew this often, between calls, so a load balancer "
              "in front of several receivers spreads the load (Flume's "
              "`reset-connection-interval`); `0`: never"},
      {.name = "compression",
       .kind = option_kind::choice,
       .choices = "none|deflate",
       .doc = "Flume's `compression-type`: `deflate` is a zlib stream on the "
              "connection (Netty's); the receiver must say the same. Not "
              "with `tls`"},
      {.name = "compression_level",
       .kind = option_kind::integer,
       .min = 0,
       .max = 9,
       .doc = "zlib's level with `deflate` (Flume's `compression-level`)"},
      {.name = "max_inflight",
       .kind = option_kind::count,
       .min = 1,
       .max = 64,
       .doc = "calls sent and not answered on the connection (Flume sends "
              "one at a time, and `flumen import` writes 1; more hides the "
              "round trip: with 1,000 events a call and 4 out, flumen to "
              "flumen keeps up with a `hop`, bench/README.md Part 12. A "
              "failure rolls back every call out)"},
  };
  static const option_list table = options_of(
      {own, link_security_options(
                "`{certificate, key, ca_file, passphrase}`: TLS 1.2 or later; "
                "the receiver's certificate must be signed by `ca_file` and "
                "name `hostname` (Flume's `ssl` with a truststore: convert it "
                "to PEM, see docs/migrating-from-flume.md)",
                "`true`: send to a non-loopback host in clear text")});
  return table;
}

avro_sink_config parse_avro_sink(option_reader& r) {
  option_scope scope{r, avro_sink_options()};
  avro_sink_config cfg;
  cfg.hostname = r.required_str("hostname");
  cfg.port = static_cast<uint16_t>(r.integer("port", 0, 1, 65535));
  r.require("port");
  cfg.batch_size = r.count("batch_size", cfg.batch_size, 1, 1000000);
  cfg.connect_timeout = r.duration("connect_timeout", cfg.connect_timeout);
  if (cfg.connect_timeout.count() < 100)
    r.invalid("connect_timeout", "must be at least 100ms");
  cfg.request_timeout = r.duration("request_timeout", cfg.request_timeout);
  if (cfg.request_timeout.count() < 200)
    r.invalid("request_timeout", "must be at least 200ms");
  cfg.reset_connection_interval =
      r.duration("reset_connection_interval", cfg.reset_connection_interval);
  cfg.deflate =
      r.choice("compression", "none", {"none", "deflate"}) == "deflate";
  cfg.compression_level =
      static_cast<int>(r.integer("compression_level", 6, 0, 9));
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight, 1, 64);
  cfg.security = parse_link_security(r);
  if (cfg.security.tls() && cfg.deflate)
    r.error("compression",
            "compression: deflate and tls together are not supported: "
            "Flume 1.9 compresses inside TLS, Flume 1.11 outside, so no "
            "order works with both; choose one");
  if (!cfg.hostname.empty())
    require_protection(r, "hostname", cfg.hostname, cfg.security);
  // What cannot be loaded cannot run: checked here, so `validate` says it.
  if (cfg.security.tls()) try {
      avro_client probe{cfg, std::make_shared<component_metrics>()};
    } catch (const std::exception& e) {
      r.invalid("tls", e.what());
    }
  auto& f = r.facts();
  f.batch_size = cfg.batch_size;
  f.batch_size_stated = r.has("batch_size");
  if (cfg.deflate) f.libraries.push_back(libs::soname::zlib);
  if (!cfg.hostname.empty()) f.sends_to.push_back({cfg.hostname, cfg.port});
  return cfg;
}

namespace {

/// The sink driver's backend: each batch is one call on the client's
/// connection.
class avro_backend : public sink_backend {
public:
  avro_backend(const avro_sink_config& cfg,
               std::shared_ptr<component_metrics> metrics)
      : window_(cfg.max_inflight), client_(cfg, std::move(metrics)) {}

  std::size_t window() const override { return window_; }

  void deliver(const batch& events, delivery_done done,
               const batch_owner&) override {
    auto n = events.size();
    client_.call(events, [done = std::move(done), n](std::string why) {
      if (why.empty())
        done(delivery_report{});
      else
        done(delivery_report::all_failed(n, std::move(why)));
    });
  }

private:
  std::size_t window_;
  avro_client client_;
};

} // namespace

caf::actor spawn_avro_sink(caf::actor_system& sys, const avro_sink_config& cfg,
                           const wiring& w) {
  w.metrics->own(avro_sink_families::calls_failed);
  w.metrics->own(avro_sink_families::connections);
  sink_driver_config dc;
  dc.batch_size = cfg.batch_size;
  // Below the receiving source's message bound (ours: 16 MiB by default).
  dc.batch_bytes = std::size_t{8} << 20;
  auto metrics = w.metrics;
  auto make = [cfg, metrics](sink_context&) -> std::unique_ptr<sink_backend> {
    return std::make_unique<avro_backend>(cfg, metrics);
  };
  return spawn_sink_driver(sys, std::move(make), std::move(dc), w);
}

} // namespace flumen::sinks
