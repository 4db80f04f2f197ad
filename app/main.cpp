// The `flumen` command line: the global options and the subcommands, one
// file each (app/cmd_*.cpp).

#include <iostream>
#include <vector>

#include <CLI/CLI.hpp>

#include "app/cli.hpp"
#include "runtime/core/log.hpp"

using namespace flumen::app;

int main(int argc, char** argv) {
  CLI::App app{"flumen: a log and event pipeline (sources, channels, sinks; "
               "Kafka first)",
               "flumen"};
  app.require_subcommand(0, 1);
  app.fallthrough(); // --log-level also after the subcommand
  app.set_version_flag("--version", version_text);
  std::string log_level = "info";
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error or off")
      ->capture_default_str();
  std::string log_format = "text";
  app.add_option("--log-format", log_format,
                 "text, or json (one object per line, for log shippers)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  // In the order `flumen --help` lists them.
  std::vector<command> commands{
      add_run(app),    add_validate(app), add_test(app), add_graph(app),
      add_broker(app), add_channel(app),  add_node(app), add_top(app),
      add_tap(app),    add_import(app)};
  auto* version_cmd = app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; any usage error exits 2, as is usual.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!flumen::init_logging(log_level, log_format)) {
    std::cerr << "unknown --log-level '" << log_level << "'\n";
    return 2;
  }
  if (*version_cmd) {
    std::cout << version_text << '\n';
    return 0;
  }
  for (auto& c : commands)
    if (*c.sub) return c.run();
  // Bare `flumen`: the usage, as `flumen --help` prints it.
  std::cout << app.help();
  return 0;
}
