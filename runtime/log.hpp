#pragma once

#include <string>

namespace flumen {

/// Sends the log to stderr with timestamps and levels. `level` is one of
/// trace, debug, info, warn, error, off; returns false for anything else.
bool init_logging(const std::string& level);

} // namespace flumen
