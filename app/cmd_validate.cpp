// `flumen validate FILE [--agent NAME]`: load, check, print located errors;
// run nothing.

#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "app/cli.hpp"

namespace flumen::app {
namespace {

struct validate_options {
  std::string file;
  std::string agent;
};

int cmd_validate(const validate_options& opt) {
  // With --agent, only that agent's addresses are tried here (the others
  // may run on other machines).
  auto topo = load_or_report(opt.file, opt.agent.empty()
                                           ? probe_scope{}
                                           : probe_scope{false, opt.agent});
  if (!topo) return 1;
  if (!opt.agent.empty())
    if (auto err = missing_agent(*topo, opt.agent)) {
      std::cerr << err->to_string() << '\n';
      return 1;
    }
  std::size_t n = 0;
  for (auto& a : topo->agents)
    n += a.sources.size() + a.channels.size() + a.sinks.size();
  std::cout << opt.file << ": valid (" << topo->agents.size() << " agent"
            << (topo->agents.size() == 1 ? "" : "s") << ", " << n
            << " components)\n";
  return 0;
}

} // namespace

command add_validate(CLI::App& app) {
  auto opt = std::make_shared<validate_options>();
  auto* sub = app.add_subcommand(
      "validate", "Check a topology; print located errors; run nothing");
  sub->add_option("file", opt->file, "Topology file")->required();
  sub->add_option("--agent", opt->agent,
                  "Check addresses only for this agent (the one "
                  "that runs on this machine)");
  return {sub, [opt] { return cmd_validate(*opt); }};
}

} // namespace flumen::app
