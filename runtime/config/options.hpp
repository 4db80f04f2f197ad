#pragma once

// A component type's options, declared once as a table: the loader reads
// each option through it (its kind, bounds and choices), and the type's
// reference page (docs/reference/KIND/TYPE.md) shows the table generated
// from it, with the defaults the parser used (tests/unit/contract_test.cpp
// checks the page against it; FLUMEN_UPDATE_DOCS=1 rewrites it).

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace flumen {

/// What a user writes for an option, and which getter of option_reader
/// reads it.
enum class option_kind {
  string,   ///< str, required_str
  integer,  ///< integer (signed, within min..max)
  count,    ///< count (unsigned, at least 1 unless `min` says otherwise)
  size,     ///< bytes: `512`, `64KB`, `16MB`, `1GB`
  duration, ///< duration: `500ms`, `5s`, `2m`, `1h`, a bare number of s
  boolean,  ///< boolean
  choice,   ///< choice: one of `choices`
  list,     ///< string_list: a list of strings (or one)
  mapping,  ///< string_map: a mapping of strings
  node,     ///< node: a structure the parser reads itself (`type` says it)
};

/// "Not stated": the kind's own bound (count: 1; size: 0; integer: none).
inline constexpr int64_t no_min = std::numeric_limits<int64_t>::min();
inline constexpr uint64_t no_max = std::numeric_limits<uint64_t>::max();

/// One option of a component type.
struct option_spec {
  /// The key (`batch_size`); a key of a nested mapping is `parent.key`
  /// (`multiline.start`), read through option_reader(parent, "parent").
  std::string_view name;
  option_kind kind = option_kind::string;
  /// Bounds of integer, count and size options, inclusive.
  int64_t min = no_min;
  uint64_t max = no_max;
  /// A choice's names, `|` between them (`truncate|drop|split`).
  std::string_view choices;
  /// The type column, when the generated one (from kind and bounds) would
  /// not say it (a mapping of a given shape, a choice or a mapping).
  std::string_view type;
  /// The default column, when the parser's default is not what to show
  /// (one computed from other options, a value that depends on the host).
  std::string_view def;
  /// The meaning column of the reference page (markdown, one line).
  std::string_view doc;
};

/// A type's options, in the order its reference page lists them.
using option_list = std::vector<option_spec>;

/// Concatenates tables (a type's own, and shared ones such as the line
/// sources' `overlong_policy` or the hops' `tls`).
option_list
options_of(std::initializer_list<std::span<const option_spec>> parts);

/// The spec named `name` in `list`; nullptr when there is none.
const option_spec* find_option(std::span<const option_spec> list,
                               std::string_view name);

/// The names of a choice (`choices` split at `|`).
std::vector<std::string> choice_names(const option_spec& o);

/// The type column of the reference page: `count, 1–1024`, `size`,
/// `one of `a`, `b``, ... (or `o.type`).
std::string type_column(const option_spec& o);

/// How a default is written in a topology (`100ms`, `64KB`, `1000`).
std::string format_duration_ms(uint64_t ms);
std::string format_size(uint64_t bytes);

/// The markdown table of a type's options: one row per option, `defaults`
/// holding what the parser used for each (as recorded by option_reader;
/// a missing or empty one shows `none`), `required` the keys it requires.
std::string
options_markdown(std::span<const option_spec> list,
                 const std::map<std::string, std::string>& defaults);

} // namespace flumen
