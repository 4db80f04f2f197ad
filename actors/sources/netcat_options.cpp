#include "actors/sources/netcat.hpp"

#include "actors/sources/source_options.hpp"

namespace flumen::sources {

/// The options of the `netcat` source (docs/reference/sources/netcat.md shows
/// them, generated).
const option_list& netcat_options() {
  static const option_list table = {
      {.name = "bind",
       .kind = option_kind::string,
       .doc = "address to listen on"},
      {.name = "port",
       .kind = option_kind::integer,
       .min = 0,
       .max = 65535,
       .doc = "TCP port; `0`: a free port the kernel chooses (logged: "
              "`listening on 127.0.0.1:PORT`: "
              "`source_test.netcat_on_port_0_logs_the_port_the_kernel_chose`)"},
      {.name = "batch_size",
       .kind = option_kind::count,
       .doc = "events per batch; when not stated, cut to the smallest "
              "`transaction_capacity` of its channels; a stated value above"
              " it is a config error. Every line source also cuts a batch "
              "at 1 MiB of bodies (one line at least), so its window is "
              "bounded in bytes "
              "(`pump_lines_test.emit_batches_cuts_at_max_batch_bytes`)"},
      {.name = "batch_timeout",
       .kind = option_kind::duration,
       .doc =
           "a partial batch is sent after this, or at once when a client"
           " closes its connection "
           "(`source_test.netcat_hands_over_a_closing_clients_lines_at_once`)"},
      max_line_length_option(
          "bytes per line (logged at start); also what the source holds"
          " per client, whatever a client sends. Beyond `256MB` a "
          "located error: a file channel writes an event in one record "
          "of at most 1 GiB "
          "(`size_options.max_line_length_stops_at_256MB`)"),
      overlong_policy_option(
          "longer lines: `truncate` (keep the first bytes; counted in "
          "`truncated`), `drop` (counted in `dropped`), `split` "
          "(several events); the first of each is logged "
          "(`source_test.netcat_handles_overlong_lines_per_policy`)"),
      {.name = "max_connections",
       .kind = option_kind::count,
       .doc =
           "clients served at once; further clients wait in the listen "
           "backlog until one leaves (never refused: "
           "`source_test.netcat_at_max_connections_lets_a_new_client_wait`)"},
      {.name = "idle_timeout",
       .kind = option_kind::duration,
       .doc = "a client that sent nothing for this long is closed (counted "
              "in `connection_failures`; a partial line it sent is an "
              "event: "
              "`source_test.netcat_closes_a_client_that_sent_nothing_for_idle_"
              "timeout`);"
              " `0`: never. A client that stays connected and writes less "
              "often must reconnect. A client the channel holds back is not"
              " idle "
              "(`source_test.netcat_idle_timeout_spares_a_client_the_channel_"
              "holds_back`)"},
      max_inflight_option(
          "batches sent and not yet accepted (at most 4 MiB); then the "
          "source stops reading and TCP pushes back on the clients "
          "(`source_test.netcat_pushes_back_on_a_client_while_the_channel_"
          "is_full`)"),
      {.name = "readers",
       .kind = option_kind::count,
       .min = 1,
       .max = 64,
       .doc = "threads reading clients, sharing the listener and "
              "`max_connections`; a client stays with one, so its lines "
              "keep their order "
              "(`source_test.netcat_readers_share_the_clients`). On the "
              "2-core test machine a second thread made 8 clients slower "
              "([bench/README.md](../../../bench/README.md)); more may help"
              " where one thread is what limits a source"},
      {.name = "ack_every_event",
       .kind = option_kind::boolean,
       .doc = "answer `OK` and a newline for each line, once the batch "
              "holding it was accepted by the channels (Flume's "
              "`ack-every-event`, on by default in Flume; `flumen import` "
              "writes Flume's setting). Lines read together are handed "
              "over at once, not after `batch_timeout`, since a client may "
              "wait for an answer before it sends more. A line dropped "
              "for its length (`overlong_policy: drop`) is answered "
              "`FAILED: Event exceeds the maximum length (N bytes, without "
              "the newline)` in its place among the `OK`s, as Flume answers "
              "(Flume then closes the connection; flumen reads on) "
              "(`source_test.netcat_answers_failed_for_a_dropped_line`). A "
              "client that ends its side gets the answers of every line it "
              "sent before the source closes the connection "
              "(`source_test.netcat_acks_a_clients_last_lines_before_"
              "closing_it`). A "
              "line unfinished at a stop gets no answer (the connection "
              "closes); a client that leaves 16 K answers unread is not "
              "read until it reads them "
              "(`source_test.netcat_acks_every_line_once_the_channel_took_"
              "it`)"},
  };
  return table;
}

netcat_config parse_netcat(option_reader& r) {
  option_scope scope{r, netcat_options()};
  netcat_config cfg;
  cfg.bind = r.str("bind", cfg.bind);
  cfg.port = static_cast<uint16_t>(r.integer("port", 0));
  r.require("port");
  cfg.batch_size = r.count("batch_size", cfg.batch_size);
  cfg.batch_timeout = r.duration("batch_timeout", cfg.batch_timeout);
  cfg.max_line_length = r.bytes("max_line_length", cfg.max_line_length);
  cfg.policy = parse_overlong_policy(r);
  cfg.max_connections = r.count("max_connections", cfg.max_connections);
  cfg.idle_timeout = r.duration("idle_timeout", cfg.idle_timeout);
  cfg.max_inflight = r.count("max_inflight", cfg.max_inflight);
  cfg.readers = r.count("readers", cfg.readers);
  cfg.ack_every_event = r.boolean("ack_every_event", cfg.ack_every_event);
  auto& f = r.facts();
  f.batch_size = cfg.batch_size;
  f.batch_size_stated = r.has("batch_size");
  f.listens.push_back({cfg.bind, cfg.port});
  return cfg;
}

} // namespace flumen::sources
