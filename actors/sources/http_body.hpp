#pragma once

// How the `http` source turns a request body into events. Pure: no CAF, no
// sockets (tests/unit/http_body_test.cpp).

#include <cstddef>
#include <string>
#include <string_view>

#include "runtime/core/event.hpp"

namespace flumen::sources {

/// How a body becomes events (`handler`).
enum class http_handler {
  /// Flume's JSONHandler: `[{"headers": {...}, "body": "..."}, ...]`.
  json,
  /// One event per line (LF, a CR before it removed).
  lines,
  /// The whole body one event.
  body,
};

/// Headers one event of the json handler may have; more: refused (a
/// header is looked up among the others as it is added).
constexpr std::size_t http_max_headers = 128;

/// A body's events, or why it has none: `status` 400 (malformed, an
/// unsupported charset) or 413 (more than the most events), with the
/// reason for the client.
struct http_decoded {
  batch events;
  int status = 200;
  std::string error;
};

/// The charset parameter of a Content-Type, lower case; empty when none.
std::string http_charset(std::string_view content_type);

/// Decodes `body` with `handler`. The json handler reads the charset of
/// `content_type` as Flume does: none or UTF-8, UTF-16 or UTF-32 (the body
/// is read in it, and each event's body is written in it, as Java's
/// String.getBytes); anything else is a 400. Makes at most `max_events`
/// events.
http_decoded decode_http_body(http_handler handler, std::string_view body,
                              std::string_view content_type,
                              std::size_t max_events);

} // namespace flumen::sources
