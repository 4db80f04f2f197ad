// `flumen test FILE...`: runs the test cases of topology files (their
// `tests:`, and those of FILE's `NAME.tests.yaml` beside it) or of tests
// files (`topology:` and `tests:`): input events through a source's
// interceptors and selector, in process; what each channel gets compared
// with what the case expects. Exit 0 when every case passed, 1 otherwise.

#include <filesystem>
#include <iostream>
#include <memory>
#include <set>

#include <CLI/CLI.hpp>
#include <yaml-cpp/yaml.h>

#include "app/cli.hpp"
#include "runtime/flow/topology_test_run.hpp"

namespace flumen::app {
namespace {

namespace fs = std::filesystem;

struct test_options {
  std::vector<std::string> files;
};

/// A file of test cases (`topology:` and `tests:`), and the topology they
/// are for.
struct case_file {
  std::string file;
  std::string topology_file;
  topology topo;
  std::vector<topology_test> tests;
};

/// `dir/routing.tests.yaml` for `dir/routing.yaml` (or `.yml`).
std::string beside(const std::string& file) {
  fs::path p{file};
  auto ext = p.extension().string();
  if (ext == ".yaml" || ext == ".yml") p.replace_extension();
  return p.string() + ".tests.yaml";
}

bool print_errors(const error_list& errors, const std::string& file) {
  for (auto& err : errors)
    std::cerr << err.to_string() << '\n';
  if (errors.empty()) return true;
  std::cerr << errors.size() << " error" << (errors.size() == 1 ? "" : "s")
            << " in " << file << '\n';
  return false;
}

std::optional<topology> load_quiet_probes(const std::string& file) {
  // Nothing listens: no address is tried.
  auto result = load_topology(file, builtin_registry(), probe_scope{false, ""});
  if (!print_errors(result.errors, file)) return std::nullopt;
  return std::move(result.topo);
}

/// Reads a file that is a tests file, or nullopt (with nothing printed)
/// when `file` is a topology; `failed` when it is a tests file that cannot
/// be used (printed).
std::optional<case_file> read_case_file(const std::string& file, bool& failed) {
  auto text = read_topology_file(file);
  if (!text.error.empty()) {
    std::cerr << file << ": " << text.error << '\n';
    failed = true;
    return std::nullopt;
  }
  YAML::Node root;
  try {
    root = YAML::Load(text.text);
  } catch (const YAML::Exception& ex) {
    // load_topology reports it, located, for a topology file; a tests
    // file is one when it says so (looked at below), so report it here.
    if (text.text.find("topology:") == std::string::npos) return std::nullopt;
    std::cerr << file << ":" << ex.mark.line + 1 << ":" << ex.mark.column + 1
              << ": " << ex.msg << '\n';
    failed = true;
    return std::nullopt;
  }
  if (!root.IsMap() || !root["topology"].IsDefined() ||
      root["agents"].IsDefined())
    return std::nullopt;
  error_list errors;
  if (!check_yaml_bounds(root, file, errors)) {
    print_errors(errors, file);
    failed = true;
    return std::nullopt;
  }
  for (auto it = root.begin(); it != root.end(); ++it) {
    auto key = it->first.IsScalar() ? it->first.Scalar() : std::string{};
    if (key != "topology" && key != "tests")
      errors.push_back(
          {location_of(it->first, file), "",
           "unknown key '" + key + "' (a tests file has topology and tests)"});
  }
  case_file out;
  out.file = file;
  auto topo_node = root["topology"];
  if (!topo_node.IsScalar() || topo_node.Scalar().empty()) {
    errors.push_back({location_of(topo_node, file), "topology",
                      "expected the path of the topology file the cases are "
                      "for"});
  } else {
    out.topology_file = resolve_path(
        topo_node.Scalar(), fs::path{file}.parent_path().string().empty()
                                ? std::string{}
                                : fs::path{file}.parent_path().string() + "/");
  }
  if (!print_errors(errors, file)) {
    failed = true;
    return std::nullopt;
  }
  auto topo = load_quiet_probes(out.topology_file);
  if (!topo) {
    failed = true;
    return std::nullopt;
  }
  out.tests = load_topology_tests(root["tests"], *topo, file, errors);
  if (!print_errors(errors, file)) {
    failed = true;
    return std::nullopt;
  }
  out.topo = std::move(*topo);
  return out;
}

int cmd_test(const test_options& opt) {
  std::vector<case_file> work;
  std::set<std::string> seen; // tests files, so none runs twice
  bool failed = false;
  auto add_tests_file = [&](const std::string& file) {
    std::error_code ec;
    auto key = fs::weakly_canonical(file, ec).string();
    if (!seen.insert(ec ? file : key).second) return;
    bool bad = false;
    auto cf = read_case_file(file, bad);
    if (bad) {
      failed = true;
    } else if (!cf) {
      std::cerr << file << ": a tests file has `topology:` (the topology "
                << "file the cases are for) and `tests:`\n";
      failed = true;
    } else {
      work.push_back(std::move(*cf));
    }
  };
  for (auto& file : opt.files) {
    bool bad = false;
    auto cf = read_case_file(file, bad);
    if (bad) {
      failed = true;
      continue;
    }
    if (cf) {
      add_tests_file(file);
      continue;
    }
    // A topology: its own cases, then those beside it.
    auto topo = load_quiet_probes(file);
    if (!topo) {
      failed = true;
      continue;
    }
    case_file own;
    own.file = file;
    own.topology_file = file;
    own.tests = topo->tests;
    own.topo = std::move(*topo);
    if (!own.tests.empty()) work.push_back(std::move(own));
    std::error_code ec;
    if (auto b = beside(file); fs::exists(b, ec)) add_tests_file(b);
  }

  std::size_t passed = 0, total = 0;
  for (auto& cf : work)
    for (auto& t : cf.tests) {
      ++total;
      auto r = run_topology_test(cf.topo, t);
      if (r.passed) {
        ++passed;
        std::cout << "PASS " << cf.file << ": " << t.name << '\n';
        continue;
      }
      std::cout << "FAIL " << cf.file << ": " << t.name << " (" << t.where.file
                << ":" << t.where.line << ":" << t.where.col << ", source "
                << t.agent << "." << t.source << ")\n";
      for (auto& line : r.report)
        std::cout << "  " << line << '\n';
    }
  if (total == 0 && failed) return 1;
  if (total == 0) {
    std::cerr << "no test cases in ";
    for (std::size_t i = 0; i < opt.files.size(); ++i)
      std::cerr << (i ? ", " : "") << opt.files[i];
    std::cerr << " (a topology's `tests:`, or a NAME.tests.yaml beside it)\n";
    return 1;
  }
  std::cout << passed << " of " << total << " test case"
            << (total == 1 ? "" : "s") << " passed\n";
  return failed || passed != total ? 1 : 0;
}

} // namespace

command add_test(CLI::App& app) {
  auto opt = std::make_shared<test_options>();
  auto* sub = app.add_subcommand(
      "test", "Run a topology's test cases: events through a source's "
              "interceptors and selector, in process; exit 1 on a failure");
  sub->add_option("files", opt->files,
                  "Topology files (their `tests:` and NAME.tests.yaml "
                  "beside them) or tests files")
      ->required();
  return {sub, [opt] { return cmd_test(*opt); }};
}

} // namespace flumen::app
