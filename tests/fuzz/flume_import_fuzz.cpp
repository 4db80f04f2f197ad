// libFuzzer target: `flumen import` (the Java properties reader and the
// converter of Flume agent files) must never crash, hang or leak on any
// input: it answers with a located error, notes, or YAML. Whatever it
// converts must be YAML that parses. Built by tests/fuzz/run.sh with clang;
// the corpus is Flume's User Guide examples (tests/data/flume/guide).

#include <cstddef>
#include <cstdint>
#include <string>

#include <yaml-cpp/yaml.h>

#include "runtime/flume/import.hpp"
#include "runtime/flume/properties.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::size_t n = flumen::flume::read_properties(text).entries.size();
  flumen::flume::import_options opt;
  opt.partial = true;
  opt.file_name = "fuzz.properties";
  auto r = flumen::flume::import_flume(text, opt);
  for (auto& note : r.unconvertible)
    n += note.to_string().size();
  for (auto& note : r.warnings)
    n += note.to_string().size();
  if (!r.yaml.empty()) {
    // What import writes is YAML: a node tree, never a parse error.
    try {
      auto root = YAML::Load(r.yaml);
      n += root.size();
    } catch (const YAML::Exception& e) {
      __builtin_trap();
    }
  }
  return n == SIZE_MAX; // keep the work observable
}
