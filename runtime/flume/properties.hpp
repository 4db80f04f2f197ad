#pragma once

// A reader of Java properties files (java.util.Properties.load, as Flume
// reads flume.conf): comments, separators, line continuations, escapes.
// Bounded: a file, a logical line and a key have a most size, and the
// reader never allocates more than a few times the input.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace flumen::flume {

/// One property: its key and value (UTF-8, escapes decoded) and the line
/// (1-based) where its logical line starts.
struct property {
  std::string key;
  std::string value;
  std::size_t line = 0;
};

/// A key given more than once: Java keeps the last value.
struct duplicate_key {
  std::string key;
  std::size_t first_line = 0;
  std::size_t line = 0;
};

/// The bounds of the reader.
struct properties_limits {
  std::size_t max_file_bytes = 16u << 20;
  std::size_t max_line_bytes = 1u << 20;
  std::size_t max_key_bytes = 4096;
};

/// The properties of a file, in the order of their first appearance, each
/// with its last value (as java.util.Properties keeps it); or an error with
/// its line (0: the file as a whole).
struct properties_result {
  std::vector<property> entries;
  std::vector<duplicate_key> duplicates;
  std::string error;
  std::size_t error_line = 0;
  bool ok() const { return error.empty(); }
};

/// Reads `text` as java.util.Properties.load(Reader) does, the file being
/// UTF-8 (Flume reads it with the platform charset, UTF-8 on current JVMs):
/// - lines end at `\n`, `\r` or `\r\n`; leading spaces, tabs and form
///   feeds are skipped; a line whose first other character is `#` or `!`
///   is a comment (never continued);
/// - a line ending in an odd number of backslashes continues on the next,
///   whose leading whitespace is dropped;
/// - the key ends at the first unescaped `=`, `:`, space, tab or form
///   feed; then whitespace, one `=` or `:`, and whitespace are skipped; the
///   value is the rest (trailing whitespace kept);
/// - escapes: `\t \n \r \f`, `\uXXXX` (surrogate pairs joined), any other
///   `\c` is `c`.
/// Errors: a file over max_file_bytes, a logical line over max_line_bytes,
/// a key over max_key_bytes, a malformed `\uXXXX` (Java throws too), a
/// lone surrogate, bytes that are not UTF-8.
properties_result read_properties(std::string_view text,
                                  const properties_limits& limits = {});

} // namespace flumen::flume
