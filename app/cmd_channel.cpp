// `flumen channel inspect|verify DIR`: a file channel's directory, read
// without an agent.

#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "actors/channels/filelog/tools.hpp"
#include "app/cli.hpp"

namespace flumen::app {
namespace {

struct channel_options {
  std::string dir;
  bool repair = false;
  CLI::App* inspect = nullptr;
  CLI::App* verify = nullptr;
};

} // namespace

command add_channel(CLI::App& app) {
  auto opt = std::make_shared<channel_options>();
  auto* sub = app.add_subcommand(
      "channel", "Inspect or verify a file channel's directory");
  sub->require_subcommand(1);
  opt->inspect = sub->add_subcommand(
      "inspect", "Segments, records, bytes, committed position, oldest "
                 "uncommitted event, damage");
  opt->inspect->add_option("dir", opt->dir, "The channel's directory")
      ->required();
  opt->verify = sub->add_subcommand(
      "verify", "Read every record; exit 0 when all is well, 1 on damage");
  opt->verify->add_option("dir", opt->dir, "The channel's directory")
      ->required();
  opt->verify->add_flag("--repair", opt->repair,
                        "Truncate torn tails as the channel does on start "
                        "(refused while an agent holds the directory)");
  return {sub, [opt] {
            if (*opt->inspect)
              return filelog::inspect_directory(opt->dir, std::cout, std::cerr);
            return filelog::verify_directory(opt->dir, opt->repair, std::cout,
                                             std::cerr);
          }};
}

} // namespace flumen::app
