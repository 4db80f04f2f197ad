#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace flumen {

/// One unit of data: Flume's event. Headers are free-form metadata; the body
/// is opaque bytes (kept in a std::string, which may hold any byte).
struct event {
  std::map<std::string, std::string> headers;
  std::string body;

  friend bool operator==(const event&, const event&) = default;
};

/// Everything moves in batches: one actor message carries one batch.
using batch = std::vector<event>;

/// Bytes an event accounts for in a byte-bounded channel (body + headers).
inline std::size_t event_bytes(const event& e) {
  std::size_t n = e.body.size();
  for (const auto& [k, v] : e.headers)
    n += k.size() + v.size();
  return n;
}

/// CAF's inspection hook: makes `event` serializable across actor systems.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(x.headers, x.body);
}

} // namespace flumen
