#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flumen {

/// An event's headers: a map from string to string, kept as a flat vector
/// in insertion order. Events carry a handful of headers, and one
/// allocation per event instead of one per header is most of what a
/// pipeline's throughput is made of. Unsorted on purpose: a header added by
/// an interceptor is appended (no shifting, no second search), and a lookup
/// compares lengths before bytes, which for a dozen keys is faster than a
/// binary search (10 interceptors on a batch: 0.8 -> see bench/README.md).
/// Iterates in the order the headers were first set, like Vector's and
/// Fluent Bit's maps (Flume's is a HashMap: no order at all).
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
  /// Room for `n` headers in all, so adding them allocates once.
  void reserve(std::size_t n) { items_.reserve(n); }

  iterator find(std::string_view key) {
    return items_.begin() + static_cast<std::ptrdiff_t>(index_of(key));
  }
  const_iterator find(std::string_view key) const {
    return items_.begin() + static_cast<std::ptrdiff_t>(index_of(key));
  }
  bool contains(std::string_view key) const {
    return index_of(key) != items_.size();
  }
  std::size_t count(std::string_view key) const { return contains(key); }

  /// Inserts when absent; keeps an existing value (like std::map).
  template <class K, class V>
  std::pair<iterator, bool> emplace(K&& key, V&& value) {
    auto i = index_of(key);
    if (i != items_.size())
      return {items_.begin() + static_cast<std::ptrdiff_t>(i), false};
    reserve_some();
    items_.emplace_back(std::forward<K>(key), std::forward<V>(value));
    return {std::prev(items_.end()), true};
  }

  /// Inserts or overwrites (an overwritten header keeps its place).
  template <class K, class V>
  std::pair<iterator, bool> insert_or_assign(K&& key, V&& value) {
    auto i = index_of(key);
    if (i != items_.size()) {
      auto it = items_.begin() + static_cast<std::ptrdiff_t>(i);
      it->second = std::forward<V>(value);
      return {it, false};
    }
    reserve_some();
    items_.emplace_back(std::forward<K>(key), std::forward<V>(value));
    return {std::prev(items_.end()), true};
  }

  std::string& operator[](std::string_view key) {
    return emplace(std::string{key}, std::string{}).first->second;
  }

  /// Removes `key`; returns how many were removed (0 or 1).
  std::size_t erase(std::string_view key) {
    auto i = index_of(key);
    if (i == items_.size()) return 0;
    items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(i));
    return 1;
  }

  /// Equal when they hold the same keys with the same values, whatever
  /// order they were set in.
  friend bool operator==(const header_map& a, const header_map& b) {
    if (a.size() != b.size()) return false;
    for (auto& [k, v] : a) {
      auto i = b.index_of(k);
      if (i == b.items_.size() || b.items_[i].second != v) return false;
    }
    return true;
  }

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, header_map& x) {
    return f(x.items_);
  }

private:
  /// The index of `key`, or size() when absent.
  template <class K>
  std::size_t index_of(const K& key) const {
    std::string_view k{key};
    auto n = items_.size();
    if (k.empty()) {
      for (std::size_t i = 0; i < n; ++i)
        if (items_[i].first.empty()) return i;
      return n;
    }
    // Length, then the last byte (keys often share a prefix: "k3", "k4"),
    // then the rest: most keys are told apart without calling memcmp.
    auto last = k.back();
    for (std::size_t i = 0; i < n; ++i) {
      auto& have = items_[i].first;
      if (have.size() == k.size() && have.back() == last &&
          std::char_traits<char>::compare(have.data(), k.data(), k.size()) == 0)
        return i;
    }
    return n;
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

/// Moves `events[first, last)` out as a batch of its own: the vector itself
/// when that is all of it (nothing moved per event), else those events
/// (left moved-from in `events`).
inline batch move_range(batch& events, std::size_t first, std::size_t last) {
  if (first == 0 && last == events.size()) return std::move(events);
  batch part;
  part.reserve(last - first);
  std::move(events.begin() + static_cast<std::ptrdiff_t>(first),
            events.begin() + static_cast<std::ptrdiff_t>(last),
            std::back_inserter(part));
  return part;
}

/// What an event and each of its headers cost beyond their bytes: the
/// structures holding them (an event is 56 bytes, a header 64, before the
/// allocator's own).
constexpr std::size_t event_overhead = 64;

/// The longest event body a source may be configured to make (its
/// `max_line_length`): a file channel writes a record of at most 1 GiB, so
/// one event must fit in one with room to spare.
constexpr std::size_t max_event_length = std::size_t{256} << 20;

/// What an event occupies in memory, as byte bounds count it: its body, its
/// headers' keys and values, and `event_overhead` for the event and for each
/// header. (Counting only the bytes let 50,000 events of ten 8-byte headers
/// hold 45 MB against a bound of 32 MiB.)
inline std::size_t event_bytes(const event& e) {
  std::size_t n = event_overhead + e.body.size();
  for (const auto& [k, v] : e.headers)
    n += event_overhead + k.size() + v.size();
  return n;
}

/// event_bytes of every event of `events`.
inline std::size_t event_bytes(const batch& events) {
  std::size_t n = 0;
  for (const auto& e : events)
    n += event_bytes(e);
  return n;
}

/// CAF's inspection hook: makes `event` serializable across actor systems.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(x.headers, x.body);
}

} // namespace flumen
