#include "actors/sources/syslog_sources.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <set>
#include <stdexcept>
#include <vector>

#include <spdlog/spdlog.h>

#include "actors/interceptors/date_format.hpp"
#include "actors/sources/name_resolver.hpp"
#include "actors/sources/source_options.hpp"
#include "actors/sources/udp_server.hpp"
#include "runtime/core/metrics.hpp"
#include "runtime/flow/source_pump.hpp"

namespace flumen::sources {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// -- options shared by both sources ------------------------------------

constexpr option_spec message_options[] = {
    {.name = "max_message_size",
     .kind = option_kind::size,
     .min = 64,
     .max = max_event_length,
     .doc = "bytes of one message kept (Flume's `eventSize`): a longer one "
            "is cut there, counted in `truncated` and marked "
            "`flume.syslog.status: Incomplete`; the rest of it is skipped, "
            "never buffered"},
    {.name = "format",
     .kind = option_kind::choice,
     .choices = "auto|rfc3164|rfc5424",
     .doc = "`auto`: RFC 5424 when the priority is followed by a version "
            "(`<34>1 `), RFC 3164 otherwise"},
    {.name = "keep_fields",
     .kind = option_kind::list,
     .type = "`none`, `all`, or a list of `priority`, `version`, "
             "`timestamp`, `hostname`",
     .def = "none",
     .doc = "header fields that also stay in the body (Flume's "
            "`keepFields`); by default the body is the message after them"},
    {.name = "timezone",
     .kind = option_kind::string,
     .doc = "the zone of RFC 3164 timestamps, which state none: `UTC`, "
            "`local` (this machine's, DST included) or an offset "
            "(`+02:00`)"},
    {.name = "structured",
     .kind = option_kind::boolean,
     .doc = "RFC 5424's APP-NAME, PROCID, MSGID and structured data as "
            "headers `syslog.app_name`, `syslog.proc_id`, `syslog.msg_id`, "
            "`syslog.sd.<id>.<param>` (beyond Flume)"},
    {.name = "client_ip_header",
     .kind = option_kind::string,
     .doc = "a header set to the sender's address (Flume's "
            "`clientIPHeader`); empty: none"},
    {.name = "client_hostname_header",
     .kind = option_kind::string,
     .doc = "a header set to the sender's host name (Flume's "
            "`clientHostnameHeader`), looked up on a thread of its own so "
            "a slow DNS never holds the reader: the address until the "
            "lookup answered, and when there is no name; empty: none"},
};

void parse_message_options(option_reader& r, syslog_message_config& m) {
  auto& p = m.parse;
  p.max_message_size =
      r.bytes("max_message_size", p.max_message_size, 64, max_event_length);
  p.fmt = r.choice("format", p.fmt,
                   {{"auto", syslog::format::auto_detect},
                    {"rfc3164", syslog::format::rfc3164},
                    {"rfc5424", syslog::format::rfc5424}});
  if (r.has("keep_fields")) {
    auto list = r.string_list("keep_fields");
    for (auto& f : list) {
      if (f == "none" && list.size() == 1) continue;
      if (f == "all" && list.size() == 1) {
        p.keep = syslog::keep_fields::all();
      } else if (f == "priority") {
        p.keep.priority = true;
      } else if (f == "version") {
        p.keep.version = true;
      } else if (f == "timestamp") {
        p.keep.timestamp = true;
      } else if (f == "hostname") {
        p.keep.hostname = true;
      } else {
        r.invalid("keep_fields",
                  "'" + f +
                      "' is none of none, all (each alone), priority, "
                      "version, timestamp, hostname");
        break;
      }
    }
  }
  auto tz = r.str("timezone", "UTC");
  if (auto z = interceptors::date_zone::parse(tz))
    p.timezone = syslog::zone{z->local, z->offset_seconds};
  else if (r.parsed({"timezone"}))
    r.invalid("timezone", "expected `UTC`, `local` or an offset such as "
                          "`+02:00`, not '" +
                              tz + "'");
  p.structured = r.boolean("structured", p.structured);
  m.client_ip_header = r.str("client_ip_header", m.client_ip_header);
  m.client_hostname_header =
      r.str("client_hostname_header", m.client_hostname_header);
}

/// Adds the client header, counts a cut message; one event per message.
struct message_reader {
  const syslog_message_config& cfg;
  std::string ip;
  uint64_t truncated = 0;
  /// client_hostname_header: the sender's name, when asked for.
  std::shared_ptr<resolved_name> name;

  void read(std::string_view bytes, bool cut, int64_t now, batch& out) {
    // One trailing newline is no part of the message (rsyslog's
    // parser.dropTrailingLFOnReception, on by default there too): its
    // RFC 5424 forward template ends each octet-counted frame with one.
    if (!cut && bytes.ends_with('\n')) {
      bytes.remove_suffix(1);
      if (bytes.ends_with('\r')) bytes.remove_suffix(1);
    }
    event e;
    syslog::parse_message(bytes, cut, cfg.parse, now, e);
    if (auto s = e.headers.find(syslog::status_header);
        s != e.headers.end() && s->second == "Incomplete")
      ++truncated;
    if (!cfg.client_ip_header.empty() && !ip.empty())
      e.headers.insert_or_assign(cfg.client_ip_header, ip);
    if (name && !ip.empty())
      e.headers.insert_or_assign(
          cfg.client_hostname_header,
          name->ready.load(std::memory_order_acquire) ? name->name : ip);
    out.push_back(std::move(e));
  }

  /// What was cut since the last call, into `truncated`; the first one
  /// warned about (a change by policy is never silent).
  void count(component_metrics& m) {
    if (truncated == 0) return;
    if (m.events_truncated.fetch_add(truncated, std::memory_order_relaxed) == 0)
      spdlog::warn("{}: a message longer than max_message_size ({} bytes) "
                   "was cut (flume.syslog.status: Incomplete); further ones "
                   "are counted in `truncated`",
                   m.name, cfg.parse.max_message_size);
    truncated = 0;
  }
};

// -- syslog_tcp ----------------------------------------------------------

class syslog_decoder final : public stream_decoder {
public:
  syslog_decoder(std::shared_ptr<const syslog_tcp_config> cfg,
                 const peer_info& peer, name_resolver* names)
      : cfg_(std::move(cfg)),
        framer_(cfg_->framing, cfg_->message.parse.max_message_size),
        reader_{cfg_->message, peer.ip},
        port_(std::to_string(peer.local_port)) {
    if (names && !peer.ip.empty()) reader_.name = names->lookup(peer.ip);
  }

  bool feed(const char* data, std::size_t n, batch& out) override {
    auto now = now_ms();
    return framer_.feed({data, n}, [&](const syslog::framer::message& m) {
      reader_.read(m.bytes, m.truncated, now, out);
      add_port(out);
    });
  }
  void finish(batch& out) override {
    auto now = now_ms();
    framer_.finish([&](const syslog::framer::message& m) {
      reader_.read(m.bytes, m.truncated, now, out);
      add_port(out);
    });
  }
  bool in_message() const override { return framer_.in_message(); }
  std::size_t through_end(const char* data, std::size_t n) const override {
    // LF framing ends at a newline; an octet-counted frame is fed whole.
    if (framer_.mode() != syslog::framing::lf) return std::string::npos;
    auto* nl = static_cast<const char*>(std::memchr(data, '\n', n));
    return nl ? static_cast<std::size_t>(nl - data) + 1 : std::string::npos;
  }
  void count(component_metrics& m) override { reader_.count(m); }
  std::string error() const override { return framer_.error(); }

private:
  /// multiport_syslog_tcp's port_header on the event just read.
  void add_port(batch& out) {
    if (!cfg_->port_header.empty())
      out.back().headers.insert_or_assign(cfg_->port_header, port_);
  }

  std::shared_ptr<const syslog_tcp_config> cfg_; ///< reader_ refers to it
  syslog::framer framer_;
  message_reader reader_;
  std::string port_;
};

} // namespace

namespace {

/// The TCP server's options both TCP syslog sources share (after `bind`
/// and their port or ports).
constexpr option_spec tcp_server_options[] = {
    {.name = "framing",
     .kind = option_kind::choice,
     .choices = "auto|octet_counting|lf",
     .doc = "RFC 6587: `octet_counting` (`LEN SP MSG`; a message may hold "
            "newlines), `lf` (a message per line), or `auto`: per "
            "connection, from its first byte (a digit: octet counting). A "
            "length that is no number closes the connection (counted in "
            "`connection_failures`)"},
    {.name = "batch_size",
     .kind = option_kind::count,
     .doc = "events per batch; when not stated, cut to the smallest "
            "`transaction_capacity` of its channels"},
    {.name = "batch_timeout",
     .kind = option_kind::duration,
     .doc = "a partial batch is sent after this, or at once when a client "
            "closes its connection"},
    {.name = "max_connections",
     .kind = option_kind::count,
     .doc = "clients served at once (on all its ports); further ones wait "
            "in the listen backlog"},
    {.name = "idle_timeout",
     .kind = option_kind::duration,
     .doc = "a client that sent nothing for this long is closed (counted "
            "in `connection_failures`); `0`: never"},
    max_inflight_option(
        "batches sent and not yet accepted; then the source stops reading "
        "and TCP pushes back on the senders (Flume's syslog sources drop on "
        "a full channel; this never does)"),
    {.name = "readers",
     .kind = option_kind::count,
     .min = 1,
     .max = 64,
     .doc = "threads reading clients (a client stays with one, so its "
            "messages keep their order)"},
    {.name = "handshake_timeout",
     .kind = option_kind::duration,
     .type = "duration, `100ms` to `10m`",
     .doc = "with `tls`: a client that has not completed the TLS handshake "
            "this long after it was accepted is closed (counted in "
            "`connection_failures`, logged at most once a minute)"},
};

/// The TLS options of both TCP syslog sources.
const option_list& tls_options() {
  static const option_list table = server_tls_options(
      "RFC 5425: TLS 1.2 or later on every connection (syslog over TLS's "
      "port is 6514), `{certificate, key, ca_file, passphrase, "
      "client_certificates}`; a plain-text client, or one refused for its "
      "certificate, is closed and counted in `connection_failures`, and "
      "logged with OpenSSL's reason");
  return table;
}

constexpr option_spec bind_option = {
    .name = "bind", .kind = option_kind::string, .doc = "address to listen on"};

void parse_tcp_common(option_reader& r, syslog_tcp_config& cfg) {
  auto& s = cfg.server;
  cfg.framing = r.choice("framing", cfg.framing,
                         {{"auto", syslog::framing::auto_detect},
                          {"octet_counting", syslog::framing::octet_counting},
                          {"lf", syslog::framing::lf}});
  s.batch_size = r.count("batch_size", s.batch_size);
  s.batch_timeout = r.duration("batch_timeout", s.batch_timeout);
  s.max_connections = r.count("max_connections", s.max_connections);
  s.idle_timeout = r.duration("idle_timeout", s.idle_timeout);
  s.max_inflight = r.count("max_inflight", s.max_inflight);
  s.readers = r.count("readers", s.readers);
  s.handshake_timeout = r.duration("handshake_timeout", s.handshake_timeout);
  if (s.handshake_timeout < std::chrono::milliseconds{100} ||
      s.handshake_timeout > std::chrono::minutes{10})
    r.invalid("handshake_timeout", "must be between 100ms and 10m");
  cfg.tls = parse_loaded_server_tls(r);
  parse_message_options(r, cfg.message);
  s.max_line_length = cfg.message.parse.max_message_size;
  auto& f = r.facts();
  f.batch_size = s.batch_size;
  f.batch_size_stated = r.has("batch_size");
}

} // namespace

const option_list& syslog_tcp_options() {
  static const option_spec own[] = {
      bind_option,
      {.name = "port",
       .kind = option_kind::integer,
       .min = 0,
       .max = 65535,
       .doc = "TCP port; `0`: a free port the kernel chooses (logged)"},
  };
  static const option_list table =
      options_of({own, tcp_server_options, tls_options(), message_options});
  return table;
}

syslog_tcp_config parse_syslog_tcp(option_reader& r) {
  option_scope scope{r, syslog_tcp_options()};
  syslog_tcp_config cfg;
  auto& s = cfg.server;
  s.bind = r.str("bind", s.bind);
  s.port = static_cast<uint16_t>(r.integer("port", 0));
  r.require("port");
  parse_tcp_common(r, cfg);
  r.facts().listens.push_back({s.bind, s.port});
  return cfg;
}

const option_list& multiport_syslog_tcp_options() {
  static const option_spec own[] = {
      bind_option,
      {.name = "ports",
       .kind = option_kind::list,
       .type = "list of TCP ports, 0–65535",
       .doc = "the ports it listens on (Flume's `ports`, a list here), "
              "each with a listener of its own; up to 64. `0`: a free port "
              "the kernel chooses (logged)"},
      {.name = "port_header",
       .kind = option_kind::string,
       .doc = "a header set to the port a message came in on (Flume's "
              "`portHeader`); empty: none"},
  };
  static const option_list table =
      options_of({own, tcp_server_options, tls_options(), message_options});
  return table;
}

syslog_tcp_config parse_multiport_syslog_tcp(option_reader& r) {
  option_scope scope{r, multiport_syslog_tcp_options()};
  syslog_tcp_config cfg;
  auto& s = cfg.server;
  s.bind = r.str("bind", s.bind);
  r.require("ports");
  auto ports = r.string_list("ports");
  std::set<uint16_t> seen;
  for (auto& p : ports) {
    unsigned long v = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc{} || end != p.data() + p.size() || v > 65535) {
      r.invalid("ports", "'" + p + "' is no TCP port (0-65535)");
      break;
    }
    // 0: a free port the kernel chooses (several may be).
    if (v != 0 && !seen.insert(static_cast<uint16_t>(v)).second) {
      r.invalid("ports", "port " + p + " is listed twice");
      break;
    }
    s.ports.push_back(static_cast<uint16_t>(v));
  }
  if (r.parsed({"ports"}) && r.has("ports") && s.ports.empty())
    r.invalid("ports", "at least one port is needed");
  if (s.ports.size() > 64) r.invalid("ports", "at most 64 ports");
  cfg.port_header = r.str("port_header", cfg.port_header);
  parse_tcp_common(r, cfg);
  for (auto p : s.ports)
    r.facts().listens.push_back({s.bind, p, transport::tcp, "bind", "ports"});
  return cfg;
}

caf::actor spawn_syslog_tcp(caf::actor_system& sys,
                            const syslog_tcp_config& config, const wiring& w) {
  auto cfg = config;
  auto server = cfg.server;
  auto shared = std::make_shared<const syslog_tcp_config>(cfg);
  std::shared_ptr<name_resolver> names;
  if (!cfg.message.client_hostname_header.empty())
    names = std::make_shared<name_resolver>();
  server.decoder = [shared, names](const peer_info& peer) {
    return std::make_unique<syslog_decoder>(shared, peer, names.get());
  };
  if (cfg.tls.enabled()) server.tls = make_tls_server_context(cfg.tls);
  static constexpr const char* framings[] = {"auto", "octet_counting", "lf"};
  static constexpr const char* asked[] = {"none", "optional", "required"};
  server.describe =
      std::string{
          cfg.tls.enabled()
              ? "TLS, client certificates " +
                    std::string{asked[static_cast<int>(cfg.tls.clients)]} + ", "
              : ""} +
      "syslog, framing " +
      std::string{framings[static_cast<int>(cfg.framing)]} +
      ", messages up to " + std::to_string(cfg.message.parse.max_message_size) +
      " bytes, longer ones cut: max_message_size";
  return spawn_netcat(sys, server, w);
}

// -- syslog_udp ----------------------------------------------------------

const option_list& syslog_udp_options() {
  static const option_list table =
      options_of({udp_server_options(), message_options});
  return table;
}

syslog_udp_config parse_syslog_udp(option_reader& r) {
  option_scope scope{r, syslog_udp_options()};
  syslog_udp_config cfg;
  parse_udp_server(r, cfg.server);
  parse_message_options(r, cfg.message);
  return cfg;
}

namespace {

/// A syslog message per datagram.
class syslog_datagrams final : public datagram_decoder {
public:
  explicit syslog_datagrams(const syslog_message_config& cfg)
      : reader_{cfg, {}} {
    if (!cfg.client_hostname_header.empty())
      names_ = std::make_unique<name_resolver>();
  }
  void read(std::string_view bytes, bool cut, const datagram_from& from,
            int64_t now, batch& out) override {
    if (!reader_.cfg.client_ip_header.empty() || names_) reader_.ip = from.ip();
    if (names_ && !reader_.ip.empty())
      reader_.name = names_->lookup(reader_.ip);
    reader_.read(bytes, cut, now, out);
  }
  void count(component_metrics& m) override { reader_.count(m); }

private:
  message_reader reader_;
  std::unique_ptr<name_resolver> names_;
};

} // namespace

caf::actor spawn_syslog_udp(caf::actor_system& sys,
                            const syslog_udp_config& config, const wiring& w) {
  auto cfg = config;
  cfg.server = adapt_batch(cfg.server, w);
  return spawn_source(
      sys,
      [cfg](source_pump& pump) {
        auto server = cfg.server;
        server.max_datagram = cfg.message.parse.max_message_size;
        server.describe = "syslog, one message per datagram of at most " +
                          std::to_string(server.max_datagram) +
                          " bytes, longer ones cut: max_message_size";
        syslog_datagrams decoder{cfg.message};
        serve_udp(server, decoder, pump);
      },
      w.downstream, w.metrics, cfg.server.max_inflight);
}

} // namespace flumen::sources
