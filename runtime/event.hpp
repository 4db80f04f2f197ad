#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flumen {

/// An event's headers: a map from string to string, kept as a sorted flat
/// vector. Events carry a handful of headers, and one allocation per event
/// instead of one per header is most of what a pipeline's throughput is
/// made of. Iterates in key order, like std::map.
class header_map {
public:
  using value_type = std::pair<std::string, std::string>;
  using container = std::vector<value_type>;
  using iterator = container::iterator;
  using const_iterator = container::const_iterator;

  header_map() = default;
  header_map(std::initializer_list<value_type> init) {
    for (auto& kv : init)
      insert_or_assign(kv.first, kv.second);
  }

  iterator begin() { return items_.begin(); }
  iterator end() { return items_.end(); }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  void clear() { items_.clear(); }

  iterator find(std::string_view key) {
    auto i = lower(key);
    return i != items_.end() && i->first == key ? i : items_.end();
  }
  const_iterator find(std::string_view key) const {
    auto i = const_cast<header_map*>(this)->lower(key);
    return i != items_.end() && i->first == key ? i : items_.end();
  }
  bool contains(std::string_view key) const { return find(key) != end(); }
  std::size_t count(std::string_view key) const { return contains(key); }

  /// Inserts when absent; keeps an existing value (like std::map).
  template <class K, class V>
  std::pair<iterator, bool> emplace(K&& key, V&& value) {
    auto i = lower(key);
    if (i != items_.end() && i->first == key) return {i, false};
    reserve_some();
    i = lower(key);
    return {items_.emplace(i, std::forward<K>(key), std::forward<V>(value)),
            true};
  }

  /// Inserts or overwrites.
  template <class K, class V>
  std::pair<iterator, bool> insert_or_assign(K&& key, V&& value) {
    auto i = lower(key);
    if (i != items_.end() && i->first == key) {
      i->second = std::forward<V>(value);
      return {i, false};
    }
    reserve_some();
    i = lower(key);
    return {items_.emplace(i, std::forward<K>(key), std::forward<V>(value)),
            true};
  }

  std::string& operator[](std::string_view key) {
    return emplace(std::string{key}, std::string{}).first->second;
  }

  /// Removes `key`; returns how many were removed (0 or 1).
  std::size_t erase(std::string_view key) {
    auto i = find(key);
    if (i == items_.end()) return 0;
    items_.erase(i);
    return 1;
  }

  friend bool operator==(const header_map&, const header_map&) = default;

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, header_map& x) {
    return f(x.items_);
  }

private:
  template <class K>
  iterator lower(const K& key) {
    std::string_view k{key};
    return std::lower_bound(items_.begin(), items_.end(), k,
                            [](const value_type& a, std::string_view b) {
                              // compare(), not <: clang 14 cannot use libstdc++
                              // 12's <=> here.
                              return a.first.compare(b) < 0;
                            });
  }

  void reserve_some() {
    if (items_.size() == items_.capacity())
      items_.reserve(items_.empty() ? 4 : items_.size() * 2);
  }

  container items_;
};

/// One unit of data: Flume's event. Headers are free-form metadata; the body
/// is opaque bytes (kept in a std::string, which may hold any byte).
struct event {
  header_map headers;
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
