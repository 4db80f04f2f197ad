// The component contract, checked over every registered type (sources,
// channels, sinks, interceptors): its example options parse; an unknown key
// is refused with its location and a did-you-mean; the options its page in
// docs/reference/ lists are the ones its parser reads; it spawns, runs and
// stops in an agent, and /metrics shows its kind's families. A new type
// gets all of this from its one registry line (actors/builtin.cpp).

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "actors/builtin.hpp"
#include "runtime/agent/agent.hpp"
#include "runtime/http/http_endpoint.hpp"
#include "tests/unit/actor_test_support.hpp"

namespace flumen {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct type_case {
  std::string kind; ///< sources, channels, sinks, interceptors
  std::string type;
};

registry builtin() {
  registry r;
  register_builtin(r);
  return r;
}

std::vector<type_case> every_type() {
  auto r = builtin();
  std::vector<type_case> out;
  for (auto kind : {"sources", "channels", "sinks", "interceptors"})
    for (auto& t : r.types(kind))
      out.push_back({kind, t});
  return out;
}

/// A port nothing listens on (a hop sink's peer that is not there).
uint16_t unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string replace_all(std::string s, const std::string& from,
                        const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos;
       at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

/// `text`'s lines, each indented by `n` spaces.
std::string indented(const std::string& text, int n) {
  std::istringstream in{text};
  std::string out;
  for (std::string line; std::getline(in, line);)
    out += std::string(n, ' ') + line + "\n";
  return out;
}

class contract : public ::testing::TestWithParam<type_case> {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("flumen-contract-" + std::to_string(::getpid()) + "-" +
            GetParam().kind + "-" + GetParam().type);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // A source listens on a port the kernel picks; a sink sends to one
    // nobody listens on.
    auto port = GetParam().kind == "sources" ? uint16_t{0} : unused_port();
    options_ =
        replace_all(replace_all(reg_.example(GetParam().kind, GetParam().type),
                                "${DIR}", dir_.string()),
                    "${PORT}", std::to_string(port));
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// A one-agent topology with the type under test in it (`extra`: more
  /// option lines for it): seq -> memory -> null around it.
  std::string topology(const std::string& extra = {}) const {
    auto& [kind, type] = GetParam();
    auto opts = indented(options_ + (options_.empty() ? "" : "\n") + extra,
                         kind == "interceptors" ? 12 : 8);
    std::string src = "      r1:\n        type: seq\n        count: 10\n"
                      "        channels: [c1]\n";
    std::string ch = "      c1:\n        type: memory\n";
    std::string snk =
        "      k1:\n        type: \"null\"\n        channel: c1\n";
    auto quoted = "\"" + type + "\"";
    if (kind == "sources")
      src = "      r1:\n        type: " + quoted +
            "\n        channels: [c1]\n" + opts;
    else if (kind == "channels")
      ch = "      c1:\n        type: " + quoted + "\n" + opts;
    else if (kind == "sinks")
      snk = "      k1:\n        type: " + quoted + "\n        channel: c1\n" +
            opts;
    else
      src += "        interceptors:\n          - type: " + quoted + "\n" + opts;
    return "agents:\n  a1:\n    sources:\n" + src + "    channels:\n" + ch +
           "    sinks:\n" + snk;
  }

  load_result load(const std::string& text) const {
    return load_topology_text(text, "t.yaml", reg_, probe_scope{false, "a1"});
  }

  /// The keys the type's parser asks for, reading its example alone (and
  /// the defaults it used, into `defaults` when given).
  std::vector<std::string>
  keys_read(error_list& errors,
            std::map<std::string, std::string>* defaults = nullptr) const {
    auto& [kind, type] = GetParam();
    auto node = YAML::Load(options_.empty() ? "{}" : options_);
    option_reader r{node, "x", "x.yaml", errors};
    if (kind == "interceptors")
      reg_.parse_interceptor(type, r);
    else
      reg_.parse(kind, type, r);
    r.finish();
    if (defaults) *defaults = r.defaults_seen();
    return r.known_keys();
  }

  fs::path page() const {
    return fs::path{FLUMEN_SOURCE_DIR} / "docs" / "reference" /
           GetParam().kind / (GetParam().type + ".md");
  }

  /// The option names in the first column of the type's reference page.
  std::set<std::string> documented() const {
    std::ifstream in{page()};
    EXPECT_TRUE(in) << "no reference page " << page();
    std::set<std::string> out;
    std::regex row{R"(^\| `([a-z_][a-z0-9_.]*)` \|)"};
    for (std::string line; std::getline(in, line);)
      if (std::smatch m; std::regex_search(line, m, row)) out.insert(m[1]);
    return out;
  }

  registry reg_ = builtin();
  fs::path dir_;
  std::string options_;
};

TEST_P(contract, its_example_options_parse) {
  error_list errors;
  keys_read(errors);
  for (auto& e : errors)
    ADD_FAILURE() << e.to_string();
  auto res = load(topology());
  for (auto& e : res.errors)
    ADD_FAILURE() << e.to_string() << "\n" << topology();
}

TEST_P(contract, an_unknown_key_is_refused_with_its_location_and_a_hint) {
  error_list errors;
  auto keys = keys_read(errors);
  // The longest key it knows, two letters swapped: a typo of it.
  std::string key = "capacity";
  for (auto& k : keys)
    if (k.size() > key.size() || (key == "capacity" && k.size() >= 5)) key = k;
  if (keys.empty()) key = "preserve_existing"; // reads none: any typo
  auto typo = key;
  for (std::size_t i = 1; i + 1 < typo.size(); ++i)
    if (typo[i] != typo[i + 1] && typo[i] != '_' && typo[i + 1] != '_') {
      std::swap(typo[i], typo[i + 1]);
      break;
    }
  ASSERT_NE(typo, key);
  auto text = topology(typo + ": 1");
  auto res = load(text);
  // Its line in the file: the one that starts with the typo.
  std::istringstream in{text};
  int line_no = 0;
  int at = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find(typo + ":") != std::string::npos) at = line_no;
  }
  ASSERT_GT(at, 0);
  bool found = false;
  for (auto& e : res.errors) {
    auto s = e.to_string();
    if (s.find("unknown key '" + typo + "'") == std::string::npos) continue;
    found = true;
    EXPECT_EQ(s.rfind("t.yaml:" + std::to_string(at) + ":", 0), 0u) << s;
    if (!keys.empty())
      EXPECT_NE(s.find("did you mean '" + key + "'"), std::string::npos) << s;
  }
  EXPECT_TRUE(found) << "no error for '" << typo << "' in\n" << text;
}

TEST_P(contract, its_reference_page_lists_the_options_it_reads) {
  error_list errors;
  auto keys = keys_read(errors);
  auto docs = documented();
  for (auto& k : keys)
    EXPECT_TRUE(docs.contains(k))
        << "docs/reference/" << GetParam().kind << "/" << GetParam().type
        << ".md does not list option `" << k << "`, which the parser reads";
  // And every option it lists is one the type knows (no unknown key).
  for (auto& k : docs) {
    if (k.find('.') != std::string::npos) continue; // a nested key
    auto res = load(topology(k + ": x"));
    for (auto& e : res.errors)
      EXPECT_EQ(e.to_string().find("unknown key '" + k + "'"),
                std::string::npos)
          << "the page lists `" << k << "`, which the type does not know";
  }
}

// Its options are a table (runtime/config/options.hpp) its parser reads
// through: a key read that the table lacks, or read as another kind, is an
// internal error; every key it declares is one the type knows.
TEST_P(contract, its_parser_reads_through_its_option_table) {
  auto& table = reg_.options(GetParam().kind, GetParam().type);
  ASSERT_FALSE(table.empty()) << "no option table registered";
  error_list errors;
  auto keys = keys_read(errors);
  for (auto& e : errors)
    EXPECT_EQ(e.message.find("internal error"), std::string::npos)
        << e.to_string();
  for (auto& k : keys)
    EXPECT_TRUE(find_option(table, k)) << "reads `" << k << "`, not declared";
  for (auto& o : table) {
    std::string name{o.name};
    if (name.find('.') != std::string::npos) continue; // a nested key
    auto res = load(topology(name + ": x"));
    for (auto& e : res.errors) {
      EXPECT_EQ(e.to_string().find("unknown key '" + name + "'"),
                std::string::npos)
          << "the table declares `" << name << "`, which the type ignores";
      EXPECT_EQ(e.message.find("internal error"), std::string::npos)
          << e.to_string();
    }
  }
}

// Its reference page shows the table generated from its option table, with
// the defaults its parser used. FLUMEN_UPDATE_DOCS=1 writes it there.
TEST_P(contract, its_reference_page_shows_its_generated_options_table) {
  error_list errors;
  std::map<std::string, std::string> defaults;
  keys_read(errors, &defaults);
  auto want = options_markdown(reg_.options(GetParam().kind, GetParam().type),
                               defaults);
  std::ifstream in{page()};
  ASSERT_TRUE(in) << "no reference page " << page();
  std::string before, table, after;
  int part = 0; // 0: before the table, 1: in it, 2: after it
  for (std::string line; std::getline(in, line);) {
    if (part == 0 && line.starts_with("| option | type | default |")) part = 1;
    if (part == 1 && !line.starts_with("|")) part = 2;
    (part == 0 ? before : part == 1 ? table : after) += line + "\n";
  }
  ASSERT_NE(part, 0) << page() << " has no options table";
  if (std::getenv("FLUMEN_UPDATE_DOCS")) {
    std::ofstream{page()} << before << want << after;
    return;
  }
  EXPECT_EQ(table, want)
      << page() << " differs from its type's option table; after changing "
      << "the table, FLUMEN_UPDATE_DOCS=1 build/tests/unit/actor_tests "
      << "--gtest_filter='every_type/contract.its_reference_page*' writes it";
}

TEST_P(contract, it_runs_in_an_agent_stops_cleanly_and_shows_its_families) {
  auto& [kind, type] = GetParam();
  auto res = load(topology());
  ASSERT_TRUE(res.errors.empty()) << res.errors.front().to_string();
  auto spec = *res.topo.find("a1");
  test::flumen_config cfg;
  caf::actor_system sys{cfg};
  metrics_registry metrics;
  {
    agent a{sys, spec, metrics};
    a.start();
    auto name = kind == "channels" ? "a1.channels.c1"
                : kind == "sinks"  ? "a1.sinks.k1"
                                   : "a1.sources.r1";
    auto m = metrics.find(name);
    ASSERT_TRUE(m);
    ASSERT_TRUE(test::wait_until(
        [&] { return m->current_state() != component_state::starting; }, 20s))
        << m->summary();
    EXPECT_NE(m->current_state(), component_state::failed) << m->summary();
    // /metrics shows every family of its kind for it, and no other kind's.
    auto text = prometheus_text("a1", metrics, {});
    auto component = std::string{name}.substr(std::string{name}.rfind('.') + 1);
    auto label = "component=\"" + component + "\",kind=\"" + m->kind + "\"";
    for (auto f : kind_families(m->kind)) {
      bool gauge = false;
      for (auto& b : builtin_families())
        if (b.name == f) gauge = b.gauge;
      auto series = prometheus_name(f, gauge);
      EXPECT_NE(text.find(series + "{agent=\"a1\"," + label), std::string::npos)
          << series << " for " << name;
    }
    auto started = std::chrono::steady_clock::now();
    a.stop(5s);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
    auto loss = a.losses();
    // A hop or avro sink has no peer here: what it could not send is in
    // the channel, counted; everything else delivers the ten events.
    if (!(kind == "sinks" && (type == "hop" || type == "avro")))
      EXPECT_TRUE(loss.clean()) << m->summary();
    EXPECT_EQ(loss.undelivered + loss.dropped + loss.damaged, 0u)
        << m->summary();
  }
}

INSTANTIATE_TEST_SUITE_P(every_type, contract,
                         ::testing::ValuesIn(every_type()),
                         [](const ::testing::TestParamInfo<type_case>& info) {
                           return info.param.kind + "_" + info.param.type;
                         });

} // namespace
} // namespace flumen
