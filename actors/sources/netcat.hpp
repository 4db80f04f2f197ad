#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/sources/line_splitter.hpp"
#include "actors/sources/stream_decoder.hpp"
#include "actors/sources/tls_session.hpp"
#include "runtime/config/config.hpp"
#include "runtime/config/registry.hpp"
#include "runtime/core/clock.hpp"

namespace flumen::sources {

/// Options of the `netcat` source (see README, "netcat source").
struct netcat_config {
  std::string bind = "127.0.0.1";
  uint16_t port = 0; ///< required
  /// Several ports (multiport_syslog_tcp; not a netcat option): one
  /// listener each, `port` unused. Empty: `port` alone.
  std::vector<uint16_t> ports;
  std::size_t batch_size = 1000;
  std::chrono::milliseconds batch_timeout{100};
  std::size_t max_line_length = 65536;
  overlong_policy policy = overlong_policy::truncate;
  /// Clients served at once; further ones wait in the kernel's listen
  /// backlog until a slot frees up (they are never refused).
  std::size_t max_connections = 1024;
  std::size_t max_inflight = 4;
  /// Threads reading clients (each client stays with one). One by default:
  /// on 2 cores a second one made 8 clients slower (bench/README.md); more
  /// help where one thread is what limits a source.
  std::size_t readers = 1;
  /// Answer "OK\n" to the client for each line, once the batch holding it
  /// was accepted by the channels (Flume's `ack-every-event`, on in Flume,
  /// off here: a client that does not read the answers fills its socket,
  /// and then is not read either).
  bool ack_every_event = false;
  /// A client that sent nothing for this long is closed (and counted in
  /// `connection_failures`) so it does not hold a slot for ever; 0: never.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes{5}};
  /// TLS on every client (not a netcat option: syslog_tcp's `tls`); null:
  /// plain TCP.
  tls_context tls;
  /// A TLS client that has not completed its handshake this long after it
  /// was accepted is closed (counted in `connection_failures`).
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds{10}};
  /// Where the readers read the time and wait (not an option: a test
  /// gives a manual clock); null: the real one.
  std::shared_ptr<flumen::clock> time;
  /// How a client's bytes become events (not an option: syslog_tcp sets
  /// it); empty: lines (line_decoder).
  decoder_factory decoder;
  /// What the listening log line says of the decoding; empty: the lines'
  /// limits.
  std::string describe;
};

/// Its options (runtime/config/options.hpp).
const option_list& netcat_options();

/// Pure: reads the `netcat` options; errors go to `r`.
netcat_config parse_netcat(option_reader& r);

/// A TCP server taking one event per line from up to `max_connections`
/// clients at a time. When the channel pushes back it stops reading its
/// sockets; at `max_connections`, or when the process is out of file
/// descriptors, it stops accepting (clients wait in the listen backlog).
/// Every line a client wrote is read and handed over, also on a graceful
/// stop (what clients had sent before it, connected or still in the
/// backlog; a client's partial last line counts once it closed); what was
/// read and could not be handed over is counted in `events_undelivered`. Memory
/// is bounded: at most `max_line_length` bytes per client, `batch_size` events
/// pending and `max_inflight` batches.
caf::actor spawn_netcat(caf::actor_system& sys, const netcat_config& cfg,
                        const wiring& w);

} // namespace flumen::sources
