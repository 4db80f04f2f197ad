#pragma once

// `flumen import`: a Flume agent file (Java properties) converted into a
// flumen topology (YAML), with Flume's option names mapped to ours and
// Flume's defaults written out where ours differ, so the converted agent
// behaves as the Flume one did. What cannot be converted is listed with
// its key and line.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace flumen::flume {

/// How to convert.
struct import_options {
  /// Only this agent (Flume's `-n NAME`); empty: every agent of the file.
  std::string agent;
  /// Write what converts even when something does not (a comment at each
  /// omitted key).
  bool partial = false;
  /// The file's name, for the header comment.
  std::string file_name;
};

/// A property that could not be converted, or a warning, with its key and
/// line (0: none).
struct import_note {
  std::string key;
  std::size_t line = 0;
  std::string message;
  /// "KEY (line N): MESSAGE", or "MESSAGE" without a key.
  std::string to_string() const;
};

/// The outcome. `error` (an unreadable file, no such agent) leaves no
/// YAML; `unconvertible` non-empty leaves none either unless `partial`.
struct import_result {
  std::string yaml;
  std::vector<import_note> unconvertible;
  std::vector<import_note> warnings;
  std::string error;
  std::size_t error_line = 0;
};

/// Converts the text of a Flume properties file. Never throws; bounded in
/// time and memory by the properties reader's bounds.
import_result import_flume(std::string_view text, const import_options& opt);

} // namespace flumen::flume
