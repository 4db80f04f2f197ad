// `flumen graph FILE [--format dot|mermaid]`: draw a topology.

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
};

int cmd_graph(const graph_options& opt) {
  // Drawing runs nothing: no address is tried.
  auto topo = load_or_report(opt.file, probe_scope{false, {}});
  if (!topo) return 1;
  std::cout << (opt.format == "mermaid" ? to_mermaid(*topo) : to_dot(*topo));
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
  return {sub, [opt] { return cmd_graph(*opt); }};
}

} // namespace flumen::app
