// `flumen graph FILE [--format dot|mermaid] [--agent NAME]`: draw a
// topology, or one agent and its hop peers.

#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "app/cli.hpp"
#include "runtime/config/draw.hpp"

namespace flumen::app {
namespace {

struct graph_options {
  std::string file;
  std::string format = "dot";
  std::string agent; ///< only this one and its direct hop peers
};

int cmd_graph(const graph_options& opt) {
  // Drawing runs nothing: no address is tried.
  auto topo = load_or_report(opt.file, probe_scope{false, {}});
  if (!topo) return 1;
  if (!opt.agent.empty())
    if (auto err = missing_agent(*topo, opt.agent)) {
      std::cerr << err->to_string() << '\n';
      return 1;
    }
  std::cout << (opt.format == "mermaid" ? to_mermaid(*topo, opt.agent)
                                        : to_dot(*topo, opt.agent));
  return 0;
}

} // namespace

command add_graph(CLI::App& app) {
  auto opt = std::make_shared<graph_options>();
  auto* sub = app.add_subcommand("graph", "Draw a topology");
  sub->add_option("file", opt->file, "Topology file")->required();
  sub->add_option("--format", opt->format, "dot or mermaid")
      ->check(CLI::IsMember({"dot", "mermaid"}))
      ->capture_default_str();
  sub->add_option("--agent", opt->agent,
                  "Draw only this agent and the agents it has hops to or "
                  "from");
  return {sub, [opt] { return cmd_graph(*opt); }};
}

} // namespace flumen::app
