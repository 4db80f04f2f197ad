// `flumen top` and `flumen tap`: the two clients of a running agent's HTTP
// endpoint (app/ops_client.cpp does the work).

#include <memory>

#include <CLI/CLI.hpp>

#include "app/cli.hpp"
#include "app/ops_client.hpp"

namespace flumen::app {

command add_top(CLI::App& app) {
  struct options {
    std::string address = "127.0.0.1:8686";
    top_options top;
  };
  auto opt = std::make_shared<options>();
  auto* sub = app.add_subcommand(
      "top", "A live table of a running agent's components (its --http)");
  sub->add_option("address", opt->address, "The agent's HTTP HOST:PORT")
      ->capture_default_str();
  sub->add_option_function<std::string>("--interval",
                                        duration_flag(opt->top.interval),
                                        "Time between refreshes [1s]")
      ->type_name("DURATION");
  sub->add_option("--frames", opt->top.frames,
                  "Draw this many frames, then exit (0: until q or "
                  "Ctrl-C)")
      ->capture_default_str();
  return {sub, [opt] {
            auto hp = split_host_port(opt->address, "address");
            if (!hp) return 2;
            opt->top.host = hp->first;
            opt->top.port = hp->second;
            return cmd_top(opt->top);
          }};
}

command add_tap(CLI::App& app) {
  struct options {
    std::string address;
    tap_options tap;
  };
  auto opt = std::make_shared<options>();
  auto* sub = app.add_subcommand(
      "tap", "Print events as they pass a component of a running agent");
  sub->add_option("address", opt->address, "The agent's HTTP HOST:PORT")
      ->required();
  sub->add_option("component", opt->tap.component,
                  "A source, channel or sink name (r1, c1, k1)")
      ->required();
  sub->add_option("--limit", opt->tap.limit, "Events to print, then exit")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000}))
      ->capture_default_str();
  return {sub, [opt] {
            auto hp = split_host_port(opt->address, "address");
            if (!hp) return 2;
            opt->tap.host = hp->first;
            opt->tap.port = hp->second;
            return cmd_tap(opt->tap);
          }};
}

} // namespace flumen::app
