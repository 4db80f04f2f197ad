#pragma once

#include <string>

namespace flumen {

/// Sends the log to stderr with timestamps and levels. `level` is one of
/// trace, debug, info, warn, error, off; `format` is `text` or `json` (one
/// JSON object per line: time, level, message); returns false for anything
/// else.
bool init_logging(const std::string& level, const std::string& format = "text");

} // namespace flumen
