// libFuzzer target: the topology loader (YAML, env expansion, every
// option_reader getter the fake components use, validation, drawing, the
// `tests:` cases and running them as `flumen test` does) must
// never crash, hang or leak on any input: it answers with located errors.
// Built by tests/fuzz/run.sh with clang; see tests/README.md.

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/config/draw.hpp"
#include "runtime/config/topology.hpp"
#include "runtime/flow/topology_test_run.hpp"
#include "tests/support/fake_components.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto reg = flumen::test::test_registry();
  std::string text(reinterpret_cast<const char*>(data), size);
  // No address or directory is tried: a fuzzer must not bind sockets.
  auto res = flumen::load_topology_text(text, "fuzz.yaml", reg,
                                        flumen::probe_scope{false, {}});
  std::size_t n = 0;
  for (auto& e : res.errors)
    n += e.to_string().size();
  if (res.errors.empty()) {
    n += flumen::to_dot(res.topo).size() + flumen::to_mermaid(res.topo).size();
    for (auto& t : res.topo.tests)
      n += flumen::run_topology_test(res.topo, t).report.size();
  }
  return n == SIZE_MAX; // keep the work observable
}
