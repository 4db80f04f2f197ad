#include "actors/sources/netcat_udp.hpp"

#include <spdlog/spdlog.h>

#include "actors/sources/source_options.hpp"
#include "actors/sources/udp_server.hpp"
#include "runtime/core/metrics.hpp"
#include "runtime/flow/source_pump.hpp"

namespace flumen::sources {

const option_list& netcat_udp_options() {
  static const option_list table = {
      {.name = "bind",
       .kind = option_kind::string,
       .doc = "address to listen on"},
      {.name = "port",
       .kind = option_kind::integer,
       .min = 0,
       .max = 65535,
       .doc = "UDP port; `0`: a free port the kernel chooses (logged)"},
      {.name = "batch_size",
       .kind = option_kind::count,
       .doc = "events per batch; when not stated, cut to the smallest "
              "`transaction_capacity` of its channels"},
      {.name = "batch_timeout",
       .kind = option_kind::duration,
       .doc = "a partial batch is sent after this"},
      {.name = "max_line_length",
       .kind = option_kind::size,
       .min = 1,
       .max = 65507,
       .doc = "bytes of a datagram kept; a longer one is cut, counted in "
              "`truncated` (the first logged)"},
      {.name = "remote_address_header",
       .kind = option_kind::string,
       .doc = "the header set to the sender's `ip:port` (Flume's "
              "`remoteAddress`); empty: none"},
      max_inflight_option(
          "batches sent and not yet accepted; then the source stops reading "
          "and datagrams wait in the socket buffer"),
      {.name = "receive_buffer",
       .kind = option_kind::size,
       .min = 0,
       .max = std::size_t{1} << 30,
       .def = "the kernel's",
       .doc = "SO_RCVBUF: what may wait while the channel pushes back; "
              "beyond it the kernel drops datagrams, counted in `dropped`. "
              "Set as asked when the process may (CAP_NET_ADMIN), else "
              "capped by net.core.rmem_max"},
  };
  return table;
}

netcat_udp_config parse_netcat_udp(option_reader& r) {
  option_scope scope{r, netcat_udp_options()};
  netcat_udp_config cfg;
  cfg.bind = r.str("bind", cfg.bind);
  cfg.port = static_cast<uint16_t>(r.integer("port", 0));
  r.require("port");
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.batch_timeout = r.duration("batch_timeout", cfg.batch_timeout);
  cfg.max_line_length =
      r.bytes("max_line_length", cfg.max_line_length, 1, 65507);
  cfg.remote_address_header =
      r.str("remote_address_header", cfg.remote_address_header);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight);
  cfg.receive_buffer =
      r.bytes("receive_buffer", cfg.receive_buffer, 0, std::size_t{1} << 30);
  auto& f = r.facts();
  f.batch_size = cfg.batch_size;
  f.batch_size_stated = r.has("batch_size");
  f.max_event_bytes = cfg.max_line_length;
  listen_endpoint at{cfg.bind, cfg.port};
  at.proto = transport::udp;
  f.listens.push_back(at);
  return cfg;
}

namespace {

/// A datagram, one trailing newline (`\n` or `\r\n`) removed, is an event.
/// (Flume's netcatudp keeps the bytes up to the first newline and drops
/// the rest of the datagram; here nothing of it is dropped.)
class datagram_lines final : public datagram_decoder {
public:
  explicit datagram_lines(const netcat_udp_config& cfg) : cfg_(cfg) {}
  void read(std::string_view bytes, bool cut, const datagram_from& from,
            int64_t, batch& out) override {
    if (!cut && bytes.ends_with('\n')) {
      bytes.remove_suffix(1);
      if (bytes.ends_with('\r')) bytes.remove_suffix(1);
    }
    event e;
    e.body.assign(bytes);
    if (!cfg_.remote_address_header.empty())
      e.headers.insert_or_assign(cfg_.remote_address_header, from.ip_port());
    if (cut) ++truncated_;
    out.push_back(std::move(e));
  }
  void count(component_metrics& m) override {
    if (truncated_ == 0) return;
    if (m.events_truncated.fetch_add(truncated_, std::memory_order_relaxed) ==
        0)
      spdlog::warn("{}: a datagram longer than max_line_length ({} bytes) "
                   "was cut; further ones are counted in `truncated`",
                   m.name, cfg_.max_line_length);
    truncated_ = 0;
  }

private:
  const netcat_udp_config& cfg_;
  uint64_t truncated_ = 0;
};

} // namespace

caf::actor spawn_netcat_udp(caf::actor_system& sys,
                            const netcat_udp_config& config, const wiring& w) {
  auto cfg = adapt_batch(config, w);
  return spawn_source(
      sys,
      [cfg](source_pump& pump) {
        udp_server_config server;
        server.bind = cfg.bind;
        server.port = cfg.port;
        server.batch_size = cfg.batch_size;
        server.batch_timeout = cfg.batch_timeout;
        server.receive_buffer = cfg.receive_buffer;
        server.max_datagram = cfg.max_line_length;
        server.describe = "an event per datagram of at most " +
                          std::to_string(cfg.max_line_length) +
                          " bytes, longer ones cut: max_line_length";
        datagram_lines decoder{cfg};
        serve_udp(server, decoder, pump);
      },
      w.downstream, w.metrics, cfg.max_inflight);
}

} // namespace flumen::sources
