#pragma once

// The conversion of one Flume component's properties into a flumen
// component (import.cpp calls it; import_types.cpp has the tables). Each
// converter names the Flume keys it maps; whatever it leaves is an
// unknown key, so no property is dropped silently.

#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/flume/import.hpp"
#include "runtime/flume/yaml_out.hpp"

namespace flumen::flume {

/// One property of a component: `key` relative to it (`bind`,
/// `selector.type`), `full` as in the file.
struct prop {
  std::string key;
  std::string full;
  std::string value;
  std::size_t line = 0;
  bool used = false;
};

/// What the whole import collects.
struct import_state {
  std::vector<import_note> unconvertible;
  std::vector<import_note> warnings;
  /// Names of the agent's `configfilters` of type env.
  std::set<std::string> env_filters;
};

/// Converts one component: maps Flume keys to ours into `out`.
class converter {
public:
  using keys = std::initializer_list<std::string_view>;

  converter(std::vector<prop>& props, ynode& out, import_state& st)
      : props_(props), out_(out), st_(st) {}

  /// The first unused property among `names` (case-sensitive, as Flume's
  /// Context), marked used; the others among `names` are marked used too
  /// (an old and a new name both given: the new one, first in `names`,
  /// wins, as in Flume).
  prop* take(keys names);
  /// Every unused property under `prefix`, marked used.
  std::vector<prop*> take_prefix(std::string_view prefix);

  /// The value with `${...}` references in flumen's form; records an
  /// unconvertible note for a reference it cannot translate.
  std::string value(const prop& p);
  /// The value holds a `${...}` reference (so it is not parsed here).
  static bool has_reference(std::string_view v);

  // Options: the first of `names` present is converted to `ours`; absent,
  // Flume's default `dflt` (when given) is written out.
  void text(keys names, const char* ours, std::optional<std::string> dflt = {});
  void integer(keys names, const char* ours, std::optional<long long> dflt = {},
               long long min = -(1LL << 62));
  void boolean(keys names, const char* ours, std::optional<bool> dflt = {});
  void millis(keys names, const char* ours, std::optional<long long> dflt = {});
  void seconds(keys names, const char* ours,
               std::optional<long long> dflt = {});
  /// Whitespace-separated names as a list.
  void list(keys names, const char* ours);
  /// Options flumen has no use for: a warning and a comment, no error.
  void ignore(keys names, const std::string& why);
  /// Options flumen cannot honour: unconvertible.
  void refuse(keys names, const std::string& why);
  void refuse_prefix(std::string_view prefix, const std::string& why);

  /// Records `p` as unconvertible (and a comment in the output).
  void unconvertible(const prop& p, const std::string& why);
  void warn(const prop& p, const std::string& why);
  void warn(const std::string& key, std::size_t line, const std::string& why);
  /// A comment line in the component.
  void note(std::string text) { out_.notes.push_back(std::move(text)); }

  /// Integer parsing as Java's Long.parseLong (after Flume's trim).
  static std::optional<long long> parse_long(std::string_view s);
  /// Boolean.valueOf: "true" in any case is true, anything else false.
  static bool parse_bool(std::string_view s);

  /// Every property not taken is an unknown key: unconvertible.
  void finish();

  ynode& out() { return out_; }
  import_state& state() { return st_; }
  std::vector<prop>& props() { return props_; }

private:
  std::vector<prop>& props_;
  ynode& out_;
  import_state& st_;
};

/// What a Flume component is: source, channel, sink or interceptor.
enum class role { source, channel, sink, interceptor };

/// A Flume type and how it converts: its names (aliases compared without
/// case, class names exactly), our type (empty: not convertible, `why`
/// says why), and its option converter.
struct type_rule {
  role r;
  std::vector<std::string_view> names;
  std::string_view ours;
  std::string_view why;
  void (*convert)(converter&) = nullptr;
  /// Options Flume requires (ours, Flume's name): without one Flume refuses
  /// the component (and drops it), and so does the import.
  std::vector<std::pair<std::string_view, std::string_view>> required = {};
};

/// The rule of a Flume type, or nullptr (a custom class).
const type_rule* find_type(role r, std::string_view flume_type);

/// Splits on whitespace (Flume's `\\s+`), skipping empty pieces.
std::vector<std::string> split_ws(std::string_view s);

/// Flume trims values before use.
std::string_view trim(std::string_view s);

} // namespace flumen::flume
