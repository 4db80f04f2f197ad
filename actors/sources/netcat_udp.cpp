#include "actors/sources/netcat_udp.hpp"

#include <spdlog/spdlog.h>

#include "actors/sources/source_options.hpp"
#include "actors/sources/udp_server.hpp"
#include "runtime/core/metrics.hpp"
#include "runtime/flow/source_pump.hpp"

namespace flumen::sources {

const option_list& netcat_udp_options() {
  static const option_spec own[] = {
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
  };
  static const option_list table = options_of({udp_server_options(), own});
  return table;
}

netcat_udp_config parse_netcat_udp(option_reader& r) {
  option_scope scope{r, netcat_udp_options()};
  netcat_udp_config cfg;
  parse_udp_server(r, cfg.server);
  cfg.max_line_length =
      r.bytes("max_line_length", cfg.max_line_length, 1, 65507);
  cfg.remote_address_header =
      r.str("remote_address_header", cfg.remote_address_header);
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
  auto cfg = config;
  cfg.server = adapt_batch(cfg.server, w);
  return spawn_source(
      sys,
      [cfg](source_pump& pump) {
        auto server = cfg.server;
        server.max_datagram = cfg.max_line_length;
        server.describe = "an event per datagram of at most " +
                          std::to_string(cfg.max_line_length) +
                          " bytes, longer ones cut: max_line_length";
        datagram_lines decoder{cfg};
        serve_udp(server, decoder, pump);
      },
      w.downstream, w.metrics, cfg.server.max_inflight);
}

} // namespace flumen::sources
