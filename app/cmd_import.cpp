// `flumen import FILE.properties [--agent NAME] [-o OUT.yaml] [--partial]`:
// a Flume agent file converted into a topology (runtime/flume/import.hpp).
// Exit 0: written; 1: the file can't be read (or -o can't be written);
// 2: something could not be converted (listed; --partial writes the rest).

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>

#include "app/cli.hpp"
#include "runtime/flume/import.hpp"

namespace flumen::app {
namespace {

struct import_options {
  std::string file;
  std::string agent;
  std::string output;
  bool partial = false;
};

int cmd_import(const import_options& opt) {
  std::ifstream in(opt.file, std::ios::binary);
  if (!in) {
    std::cerr << opt.file << ": cannot be read\n";
    return 1;
  }
  // Read one byte past the reader's bound, so an oversized file is
  // refused by it without being read whole.
  constexpr std::size_t bound = (16u << 20) + 1;
  std::string text(bound, '\0');
  in.read(text.data(), static_cast<std::streamsize>(bound));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) {
    std::cerr << opt.file << ": cannot be read\n";
    return 1;
  }
  flume::import_options io;
  io.agent = opt.agent;
  io.partial = opt.partial;
  io.file_name = opt.file;
  auto r = flume::import_flume(text, io);
  if (!r.error.empty()) {
    std::cerr << opt.file << ":"
              << (r.error_line ? std::to_string(r.error_line) + ":" : "") << " "
              << r.error << '\n';
    return 1;
  }
  for (auto& w : r.warnings)
    std::cerr << opt.file << ": warning: " << w.to_string() << '\n';
  for (auto& u : r.unconvertible)
    std::cerr << opt.file << ": not converted: " << u.to_string() << '\n';
  if (!r.unconvertible.empty() && !opt.partial) {
    std::cerr << opt.file << ": " << r.unconvertible.size() << " propert"
              << (r.unconvertible.size() == 1 ? "y" : "ies")
              << " not converted; nothing written (--partial writes the "
                 "rest, with a comment at each)\n";
    return 2;
  }
  if (opt.output.empty() || opt.output == "-") {
    std::cout << r.yaml;
    return 0;
  }
  std::ofstream out(opt.output, std::ios::binary | std::ios::trunc);
  out << r.yaml;
  out.close();
  if (!out) {
    std::cerr << opt.output << ": cannot be written\n";
    return 1;
  }
  std::cerr << opt.file << ": written to " << opt.output << '\n';
  return 0;
}

} // namespace

command add_import(CLI::App& app) {
  auto opt = std::make_shared<import_options>();
  auto* sub = app.add_subcommand(
      "import", "Convert a Flume agent file (Java properties) into a "
                "topology");
  sub->add_option("file", opt->file, "Flume properties file")->required();
  sub->add_option("--agent", opt->agent,
                  "Only this agent (Flume's -n NAME); default: every agent");
  sub->add_option("-o,--output", opt->output,
                  "Write the topology here (default: stdout)");
  sub->add_flag("--partial", opt->partial,
                "Write what converts, a comment at each property that does "
                "not (exit 0)");
  return {sub, [opt] { return cmd_import(*opt); }};
}

} // namespace flumen::app
