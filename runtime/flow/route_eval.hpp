#pragma once

// What a source's router does to a batch before any channel sees it: the
// interceptor chain, and the channel selector's choice for each event.
// Shared by the router (router.cpp) and by `flumen test`
// (topology_test_run.cpp), so a test runs exactly what the agent runs.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/config/registry.hpp"
#include "runtime/config/selector.hpp"
#include "runtime/core/event.hpp"

namespace flumen {

/// A selector with channel names turned into indices of the route's
/// channels (`names`, in step with them).
struct compiled_selector {
  using targets = std::vector<uint32_t>;
  bool plain = true;
  bool multiplexing = false;
  std::string header;
  std::unordered_map<std::string, targets> required, optional;
  targets default_required;
  /// Replicating: the required and the optional channels.
  targets all_required, all_optional;

  compiled_selector() = default;
  compiled_selector(const selector_spec& s,
                    const std::vector<std::string>& names,
                    std::size_t channels) {
    plain = s.plain();
    multiplexing = s.type == selector_spec::kind::multiplexing;
    header = s.header;
    auto index = [&](const std::vector<std::string>& list) {
      targets out;
      for (auto& n : list) {
        auto i = std::find(names.begin(), names.end(), n);
        if (i == names.end()) continue; // the loader refuses it
        auto x = static_cast<uint32_t>(i - names.begin());
        if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
      }
      return out;
    };
    default_required = index(s.default_channels);
    for (auto& [value, list] : s.mapping)
      required[value] = index(list);
    for (auto& [value, list] : s.optional) {
      auto opt = index(list);
      // Required for the value wins over optional (Flume's rule).
      auto req = multiplexing ? (required.contains(value) ? required[value]
                                                          : default_required)
                              : targets{};
      std::erase_if(opt, [&](uint32_t x) {
        return std::find(req.begin(), req.end(), x) != req.end();
      });
      if (multiplexing)
        optional[value] = std::move(opt);
      else
        all_optional = std::move(opt);
    }
    for (uint32_t i = 0; i < channels; ++i)
      if (std::find(all_optional.begin(), all_optional.end(), i) ==
          all_optional.end())
        all_required.push_back(i);
  }

  /// The required and the optional channels of event `e`.
  std::pair<const targets*, const targets*> of(const event& e) const {
    static const targets none;
    if (!multiplexing) return {&all_required, &all_optional};
    auto h = e.headers.find(header);
    if (h == e.headers.end()) return {&default_required, &none};
    const auto& v = h->second;
    // A blank value is no value (Flume's rule); otherwise matched as is.
    if (std::all_of(v.begin(), v.end(), [](char c) {
          return std::isspace(static_cast<unsigned char>(c));
        }))
      return {&default_required, &none};
    auto r = required.find(v);
    auto o = optional.find(v);
    return {r == required.end() ? &default_required : &r->second,
            o == optional.end() ? &none : &o->second};
  }
};

/// A source's interceptors, each made once from its interceptor_fn.
using interceptor_chain = std::vector<std::unique_ptr<interceptor>>;

/// Runs `events` through `chain` in order; returns how many the
/// interceptors removed (`filtered`). Throws std::logic_error when an
/// interceptor miscounts what it removed (the router fails the batch, as
/// dropped and named, rather than let an event go uncounted); an
/// interceptor's own exception passes through.
inline std::size_t apply_chain(interceptor_chain& chain, batch& events) {
  // Room for the headers the chain adds, at once, instead of a
  // reallocation every few (10 interceptors: 2.7 -> 3.x M events/s,
  // bench/README.md), and no more than they add.
  std::size_t added = 0;
  for (auto& stage : chain)
    added += stage->headers_added();
  if (added > 1)
    for (auto& e : events)
      e.headers.reserve(e.headers.size() + added);
  std::size_t filtered = 0;
  for (auto& stage : chain) {
    auto n = events.size();
    auto removed = stage->apply(events);
    if (events.size() > n || n - events.size() != removed)
      throw std::logic_error("an interceptor said it removed " +
                             std::to_string(removed) + " events of " +
                             std::to_string(n) + ", and " + std::to_string(n) +
                             " became " + std::to_string(events.size()));
    filtered += removed;
  }
  return filtered;
}

} // namespace flumen
