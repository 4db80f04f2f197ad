#include "runtime/flow/topology_test_run.hpp"

#include <algorithm>
#include <exception>

#include "runtime/flow/route_eval.hpp"

namespace flumen {

namespace {

std::string at(const location& where) {
  return where.file + ":" + std::to_string(where.line) + ":" +
         std::to_string(where.col);
}

std::string events_word(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " event" : " events");
}

/// What `what` got, one line each, for a report.
void list_got(const std::string& what, const std::vector<event>& got,
              std::vector<std::string>& report) {
  if (got.empty()) return;
  report.push_back("  " + what + " got:");
  for (std::size_t i = 0; i < got.size(); ++i)
    report.push_back("    [" + std::to_string(i) + "] " +
                     describe_event(got[i]));
}

/// Compares what a channel (or `filtered`) got with what was expected, in
/// order; appends the differences to `report`: a line saying how many,
/// one line per difference, and the events it got.
void compare(const std::string& what, const location& where,
             const std::vector<event_expectation>& expected,
             const std::vector<event>& got, std::vector<std::string>& report) {
  std::vector<std::string> diffs;
  auto n = std::max(expected.size(), got.size());
  for (std::size_t i = 0; i < n; ++i) {
    auto item = "  [" + std::to_string(i) + "]";
    if (i >= got.size()) {
      diffs.push_back(item + " (" + at(expected[i].where) +
                      "): expected an event, got none");
    } else if (i >= expected.size()) {
      diffs.push_back(item + ": not expected: " + describe_event(got[i]));
    } else {
      for (auto& why : mismatches(expected[i], got[i]))
        diffs.push_back(item + " (" + at(expected[i].where) + "): " + why);
    }
  }
  if (diffs.empty()) return;
  report.push_back(what + " (" + at(where) + "): expected " +
                   events_word(expected.size()) + ", got " +
                   events_word(got.size()));
  report.insert(report.end(), diffs.begin(), diffs.end());
  list_got(what, got, report);
}

} // namespace

topology_test_result run_topology_test(const topology& topo,
                                       const topology_test& t) {
  topology_test_result out;
  const component_spec* source = nullptr;
  if (auto* a = topo.find(t.agent))
    for (auto& s : a->sources)
      if (s.name == t.source) source = &s;
  if (!source) {
    out.report.push_back("no source '" + t.agent + "." + t.source + "'");
    return out;
  }
  interceptor_chain chain;
  try {
    for (auto& make : source->interceptors)
      chain.push_back(make());
  } catch (const std::exception& ex) {
    out.report.push_back(std::string{"an interceptor could not be made: "} +
                         ex.what());
    return out;
  }
  compiled_selector selector{source->selector, source->channels,
                             source->channels.size()};
  std::vector<std::vector<event>> got(source->channels.size());
  std::vector<event> filtered;
  for (std::size_t i = 0; i < t.input.size(); ++i) {
    batch b{t.input[i]};
    try {
      apply_chain(chain, b);
    } catch (const std::exception& ex) {
      // The agent drops such a batch (counted `dropped`, named).
      out.report.push_back("input[" + std::to_string(i) +
                           "]: the interceptors failed: " + ex.what());
      continue;
    }
    if (b.empty()) filtered.push_back(t.input[i]);
    for (auto& e : b) {
      auto [required, optional] = selector.of(e);
      if (required->empty() && optional->empty()) {
        filtered.push_back(t.input[i]);
        continue;
      }
      for (auto c : *required)
        got[c].push_back(e);
      for (auto c : *optional)
        got[c].push_back(e);
    }
  }
  for (std::size_t c = 0; c < t.expect.size(); ++c) {
    auto i = std::find(source->channels.begin(), source->channels.end(),
                       t.expect[c].first);
    if (i == source->channels.end()) continue; // the loader refuses it
    compare(t.expect[c].first, t.expect_at[c], t.expect[c].second,
            got[static_cast<std::size_t>(i - source->channels.begin())],
            out.report);
  }
  if (t.filtered) {
    compare("filtered", t.filtered_at, *t.filtered, filtered, out.report);
  } else if (t.filtered_count && *t.filtered_count != filtered.size()) {
    out.report.push_back("filtered (" + at(t.filtered_at) + "): expected " +
                         events_word(*t.filtered_count) + ", got " +
                         events_word(filtered.size()));
    list_got("filtered", filtered, out.report);
  }
  out.passed = out.report.empty();
  return out;
}

} // namespace flumen
