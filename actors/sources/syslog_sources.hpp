#pragma once

// The syslog sources: `syslog_tcp` (RFC 6587 framing over TCP, served by
// the netcat server with a syslog decoder per client) and `syslog_udp`
// (one message per datagram). Messages are parsed by
// actors/sources/syslog/syslog.hpp into Flume's headers.

#include <chrono>
#include <cstdint>
#include <string>

#include "actors/sources/netcat.hpp"
#include "actors/sources/syslog/syslog.hpp"
#include "actors/sources/udp_server.hpp"
#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"

namespace flumen::sources {

/// What both syslog sources read a message as.
struct syslog_message_config {
  syslog::parse_options parse;
  /// A header set to the sender's address (Flume's clientIPHeader);
  /// empty: none.
  std::string client_ip_header;
  /// A header set to the sender's host name (Flume's
  /// clientHostnameHeader), looked up off the reader thread: its address
  /// until the lookup answered, and when it has no name; empty: none.
  std::string client_hostname_header;
};

struct syslog_tcp_config {
  netcat_config server; ///< bind, port(s), batching, connections, readers
  syslog_message_config message;
  syslog::framing framing = syslog::framing::auto_detect;
  /// RFC 5425: TLS on every connection (`tls`); disabled: plain TCP.
  server_tls tls;
  /// multiport_syslog_tcp: a header set to the port a message came in on
  /// (Flume's portHeader); empty: none.
  std::string port_header;
};

const option_list& syslog_tcp_options();
syslog_tcp_config parse_syslog_tcp(option_reader& r);
caf::actor spawn_syslog_tcp(caf::actor_system& sys,
                            const syslog_tcp_config& cfg, const wiring& w);

/// `multiport_syslog_tcp` (Flume's multiport_syslogtcp): syslog_tcp on
/// several ports (`ports`), one source; spawned as syslog_tcp.
const option_list& multiport_syslog_tcp_options();
syslog_tcp_config parse_multiport_syslog_tcp(option_reader& r);

struct syslog_udp_config {
  udp_server_config server; ///< bind, port, batching, window, buffer
  syslog_message_config message;
};

const option_list& syslog_udp_options();
syslog_udp_config parse_syslog_udp(option_reader& r);
caf::actor spawn_syslog_udp(caf::actor_system& sys,
                            const syslog_udp_config& cfg, const wiring& w);

} // namespace flumen::sources
