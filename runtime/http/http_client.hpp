#pragma once

// A small HTTP/1.1 GET client for `flumen top` and `flumen tap`. Every
// part of an answer it reads is bounded (its head, each chunk-size line,
// the body it hands on), and every wait has a deadline, so a server that is
// not an agent, or a hostile one, costs a bounded amount of memory and
// time. (cpp-httplib's client, used before, kept any body, header line or
// chunk-size line whole, whatever its size.) No CAF.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace flumen {

struct http_client_limits {
  std::chrono::milliseconds connect_timeout{2000};
  /// Longest silence while the request is sent or the answer read.
  std::chrono::milliseconds read_timeout{2000};
  /// The status line and headers, together.
  std::size_t max_head = 16 * 1024;
  /// Body bytes handed to the caller (after chunked decoding); past it the
  /// answer is given up with an error.
  std::size_t max_body = SIZE_MAX;
};

/// The status line and headers of an answer (header names in lower case).
struct http_answer_head {
  int status = 0;
  std::map<std::string, std::string> headers;
};

struct http_get_result {
  /// Connected and sent the request: a failure after this is the server's.
  bool reached = false;
  int status = 0; ///< 0 when no head was read
  /// Empty when the answer was read to its end, or the caller stopped it;
  /// else what went wrong, for a person ("no answer within 2 s", "the
  /// answer's head exceeds 16384 bytes: not an HTTP server?").
  std::string error;
};

/// GET `path` from `host`:`port` (a name, an IPv4 or an IPv6 address).
/// `on_head` sees the status and headers; `on_body` each piece of the body,
/// decoded; either returns false to stop reading (not an error).
http_get_result
http_get(const std::string& host, uint16_t port, const std::string& path,
         const http_client_limits& limits,
         const std::function<bool(const http_answer_head&)>& on_head,
         const std::function<bool(std::string_view)>& on_body);

/// The same, keeping the body (at most `limits.max_body` bytes) in `body`.
http_get_result http_get_body(const std::string& host, uint16_t port,
                              const std::string& path,
                              const http_client_limits& limits,
                              std::string& body);

} // namespace flumen
