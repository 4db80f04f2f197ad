#pragma once

// Building and reading events in tests (no actor code).

#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/event.hpp"

namespace flumen::test {

/// The type of an event's headers.
using headers_t = decltype(event{}.headers);

/// An event with `body` and `headers`.
inline event make_event(std::string body, headers_t headers = {}) {
  event e;
  e.headers = std::move(headers);
  e.body = std::move(body);
  return e;
}

/// `n` events `prefix<i>` (i from `first`), each with header `n=<i>`.
inline batch numbered(std::size_t first, std::size_t n,
                      const std::string& prefix = "e") {
  batch out;
  for (auto i = first; i < first + n; ++i)
    out.push_back(
        make_event(prefix + std::to_string(i), {{"n", std::to_string(i)}}));
  return out;
}

inline std::vector<std::string> bodies(const batch& events) {
  std::vector<std::string> out;
  for (auto& e : events)
    out.push_back(e.body);
  return out;
}

/// The value of header `key`, or `<none>` when the event has none.
inline std::string header(const event& e, std::string_view key) {
  auto i = e.headers.find(std::string{key});
  return i == e.headers.end() ? "<none>" : i->second;
}

} // namespace flumen::test
