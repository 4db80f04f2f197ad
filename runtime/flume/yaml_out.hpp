#pragma once

// The YAML `flumen import` writes: an ordered tree of maps, lists and
// rendered scalars with comments, rendered in block style. Keys keep the
// order they were added in (the order of the Flume file).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flumen::flume {

struct yentry;

/// A node of the output: a map (ordered), a list or a scalar (rendered).
struct ynode {
  enum class kind { scalar, map, list };
  kind k = kind::map;
  /// A scalar as it is written (quoted if it must be).
  std::string text;
  /// A map's entries (key, value) or a list's items (key empty).
  std::vector<yentry> items;
  /// Comment lines at the start of a map's body (or above a list's items).
  std::vector<std::string> notes;
  /// A comment at the end of this entry's line.
  std::string comment;

  /// A scalar from an already rendered text (a number, a boolean).
  static ynode raw(std::string text);
  /// A string scalar, quoted when YAML needs it.
  static ynode str(std::string_view s);
  static ynode list();

  /// The entry `key` of a map, added (a map) when missing.
  ynode& child(const std::string& key);
  /// Sets `key` to `v` (replacing it where it is, or appended).
  ynode& set(const std::string& key, ynode v);
  ynode* find(const std::string& key);
  void push(ynode v);
};

/// An entry of a map (`first` its key) or an item of a list (`first`
/// empty). Not a std::pair: a pair of an incomplete ynode can't be a
/// member's element type.
struct yentry {
  std::string first;
  ynode second;
};

/// `s` as a YAML scalar: plain when it is safe (letters, digits, `_./-`,
/// not `null`), single-quoted when printable, double-quoted with escapes
/// otherwise (control characters, line separators).
std::string yaml_quote(std::string_view s);

/// The document: `header` lines as comments, then `root`'s entries.
std::string render_yaml(const ynode& root,
                        const std::vector<std::string>& header);

} // namespace flumen::flume
