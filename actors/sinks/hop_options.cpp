// The option table of the `hop` sink (options.hpp): what its parser reads
// and its reference page shows.

#include "actors/sinks/hop.hpp"

namespace flumen::sinks {

/// The options of the `hop` sink (docs/reference/sinks/hop.md shows
/// them, generated).
const option_list& hop_sink_options() {
  static const option_spec own[] = {
      {.name = "host",
       .kind = option_kind::string,
       .doc = "the receiving agent's `hop` source; anything but loopback "
              "needs `tls` or `insecure: true` "
              "(`hop_config.remote_host_without_tls_or_insecure`)"},
      {.name = "port",
       .kind = option_kind::integer,
       .min = 1,
       .max = 65535,
       .doc = "its port (`hop_config.sink_needs_host_and_port`)"},
      {.name = "batch_size",
       .kind = option_kind::count,
       .doc = "events per transaction (cut into batches that fit the "
              "receiver's `max_batch_bytes` and cross the link in time: "
              "[slow links](../../multi-hop.md#slow-links); a single event "
              "larger than `max_batch_bytes` is refused for good: logged "
              "and counted in `dropped`)"},
      {.name = "max_inflight",
       .kind = option_kind::count,
       .min = 1,
       .max = 1024,
       .doc = "batches sent and not acknowledged"},
      {.name = "connect_timeout",
       .kind = option_kind::duration,
       .type = "duration, at least `100ms`",
       .doc = "bound of one connection attempt (asynchronous: a peer that "
              "accepts and never speaks costs this, nothing hangs: "
              "`tests/e2e/hop_silent_peer.sh`)"},
      {.name = "request_timeout",
       .kind = option_kind::duration,
       .type = "duration, at least `200ms`",
       .doc = "bound of one batch's answer; the receiver answers \"busy\" "
              "after half of it when its channel stays full"},
      {.name = "compression",
       .kind = option_kind::choice,
       .choices = "none|lz4|zstd",
       .doc = "the batch's buffer is compressed "
              "(`hop_config.unknown_compression`; figures: "
              "[bench/README.md](../../../bench/README.md), \"Part 6\")"},
      {.name = "test_wire_version",
       .kind = option_kind::integer,
       .min = 0,
       .max = UINT32_MAX,
       .type = "integer",
       .def = "the current version",
       .doc = "for tests only: the hop protocol version the sink says it "
              "speaks, to check that a receiver refuses a version it does "
              "not know; never set it in production"},
  };
  static const option_list table = options_of(
      {own, link_security_options(
                "as the [source's](../sources/hop.md); the same files on "
                "every TLS endpoint of an agent (one TLS identity per "
                "process: a config error otherwise, "
                "`hop_config.one_tls_identity_per_agent`)",
                "`true`: send to a non-loopback host in clear text "
                "(`hop_config.insecure_allows_a_remote_host`)")});
  return table;
}

} // namespace flumen::sinks
