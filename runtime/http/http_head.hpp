#pragma once

// The HTTP request head parser of the agent's endpoint (http_server): pure,
// no sockets, so it is fuzzed on its own (tests/fuzz/httphead_fuzz.cpp).

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace flumen {

/// A request as handlers see it.
struct http_request {
  std::string method;                        ///< GET or HEAD
  std::string path;                          ///< percent-decoded
  std::map<std::string, std::string> params; ///< query, percent-decoded
};

/// A parsed request head, or the answer it gets.
struct http_head {
  /// 0: well-formed, a GET or HEAD of a path; else the status to answer
  /// (400, 405, 505) with `error` as the text.
  int status = 0;
  std::string error;
  http_request request;
  /// What the head asks for (HTTP/1.1 unless `Connection: close`; HTTP/1.0
  /// only with `Connection: keep-alive`).
  bool keep_alive = false;
};

/// Where a request head ends in `in` (just past its blank line, CRLF or
/// bare LF), or npos while it is incomplete.
std::size_t http_head_end(std::string_view in);

/// Parses one request head (as cut by http_head_end). Never throws on any
/// input; a request with a body, a method other than GET and HEAD, a
/// version other than HTTP/1.0 and 1.1, a target that is not a path or a
/// malformed line is an error status.
http_head parse_http_head(std::string_view head);

/// `s` in lower case (ASCII: header names).
std::string lower(std::string_view s);

/// `s` without leading and trailing spaces, tabs (and a trailing CR): a
/// header's value.
std::string_view trim(std::string_view s);

} // namespace flumen
