#include "runtime/http/http_client.hpp"

#include "runtime/http/http_head.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace flumen {

namespace {

std::string duration_text(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

/// Waits until `fd` is ready for `events`; false (errno ETIMEDOUT) when
/// `timeout` passes first, or on an error.
bool wait_fd(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd p{fd, events, 0};
  for (;;) {
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n > 0) return true;
    if (n == 0) {
      errno = ETIMEDOUT;
      return false;
    }
    if (errno != EINTR) return false;
  }
}

struct socket_fd {
  int fd = -1;
  ~socket_fd() {
    if (fd >= 0) ::close(fd);
  }
};

/// A connected non-blocking socket, or -1 with `why` said.
int connect_to(const std::string& host, uint16_t port,
               std::chrono::milliseconds timeout, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
      rc != 0) {
    why = "cannot resolve " + host + ": " + ::gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (auto* ai = found; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  ai->ai_protocol);
    if (fd < 0) {
      why = std::string{"cannot connect: "} + std::strerror(errno);
      continue;
    }
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, timeout)) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0) break;
      errno = err;
    }
    why = errno == ETIMEDOUT
              ? "the connection timed out (" + duration_text(timeout) + ")"
          : errno == ECONNREFUSED
              ? std::string{"cannot connect (nothing listens there)"}
              : std::string{"cannot connect: "} + std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(found);
  return fd;
}

bool send_all(int fd, std::string_view data, std::chrono::milliseconds timeout,
              std::string& why) {
  while (!data.empty()) {
    auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
        wait_fd(fd, POLLOUT, timeout))
      continue;
    why = errno == ETIMEDOUT
              ? "the request could not be sent within " + duration_text(timeout)
              : std::string{"the request could not be sent: "} +
                    std::strerror(errno);
    return false;
  }
  return true;
}

/// Reads what there is, waiting up to `timeout` for it: > 0 bytes, 0 at
/// the end of the stream, -1 with `why` said.
ssize_t receive(int fd, char* buf, std::size_t len,
                std::chrono::milliseconds timeout, std::string& why) {
  for (;;) {
    auto n = ::recv(fd, buf, len, 0);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
        wait_fd(fd, POLLIN, timeout))
      continue;
    why = errno == ETIMEDOUT
              ? "nothing more came within " + duration_text(timeout)
              : std::string{"the connection failed: "} + std::strerror(errno);
    return -1;
  }
}

/// Parses a head (status line and headers, without the blank line).
bool parse_head(std::string_view text, http_answer_head& head,
                std::string& why) {
  auto eol = text.find("\r\n");
  auto status_line = text.substr(0, eol);
  // HTTP/1.x NNN reason
  if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.") ||
      !std::isdigit(static_cast<unsigned char>(status_line[7])) ||
      status_line[8] != ' ' ||
      !std::all_of(
          status_line.begin() + 9, status_line.begin() + 12,
          [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    why = "the answer is not HTTP/1.x";
    return false;
  }
  head.status = std::stoi(std::string{status_line.substr(9, 3)});
  while (eol != std::string_view::npos) {
    text.remove_prefix(eol + 2);
    eol = text.find("\r\n");
    auto line = text.substr(0, eol);
    if (line.empty()) continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      why = "a header line of the answer has no name";
      return false;
    }
    head.headers[lower(trim(line.substr(0, colon)))] =
        std::string{trim(line.substr(colon + 1))};
  }
  return true;
}

/// Hands on a body as it arrives: by Content-Length, chunked, or up to the
/// end of the stream; each piece within the caller's bound.
class body_reader {
public:
  enum class framing { length, chunked, until_close };

  body_reader(framing f, uint64_t length, const http_client_limits& limits,
              const std::function<bool(std::string_view)>& on_body)
      : framing_(f), left_(length), limits_(limits), on_body_(on_body) {
    if (f == framing::length && length == 0) finished_ = true;
  }

  /// False once reading must end: the body is complete, the caller stopped
  /// it, or it is malformed or too large (error()).
  bool feed(std::string_view data) {
    while (!data.empty() && !done()) {
      switch (framing_) {
      case framing::until_close:
        deliver(data);
        data = {};
        break;
      case framing::length: {
        auto n =
            static_cast<std::size_t>(std::min<uint64_t>(left_, data.size()));
        if (!deliver(data.substr(0, n))) break;
        left_ -= n;
        data.remove_prefix(n);
        if (left_ == 0) finished_ = true;
        break;
      }
      case framing::chunked:
        chunk(data);
        break;
      }
    }
    return !done();
  }

  /// The stream ended: complete only when no more was announced.
  void end_of_stream() {
    if (done()) return;
    if (framing_ == framing::until_close)
      finished_ = true;
    else
      error_ = "the connection closed before the answer ended";
  }

  bool done() const { return finished_ || stopped_ || !error_.empty(); }
  const std::string& error() const { return error_; }

private:
  // Limits on the lines of chunked framing: a size with its extensions,
  // and the trailers.
  static constexpr std::size_t max_chunk_line = 1024;
  static constexpr std::size_t max_trailers = 16 * 1024;

  bool deliver(std::string_view d) {
    if (d.empty()) return true;
    if (d.size() > limits_.max_body - delivered_) {
      error_ = "the answer's body exceeds " + std::to_string(limits_.max_body) +
               " bytes";
      return false;
    }
    delivered_ += d.size();
    if (!on_body_(d)) stopped_ = true;
    return !stopped_;
  }

  /// Appends to `line_` up to a newline; true when a whole line is there
  /// (without its line end).
  bool take_line(std::string_view& data, std::size_t max) {
    auto nl = data.find('\n');
    auto piece = data.substr(0, nl);
    if (line_.size() + piece.size() > max) {
      error_ = "a line of the chunked body exceeds " + std::to_string(max) +
               " bytes";
      return false;
    }
    line_.append(piece);
    if (nl == std::string_view::npos) {
      data = {};
      return false;
    }
    data.remove_prefix(nl + 1);
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    return true;
  }

  void chunk(std::string_view& data) {
    switch (state_) {
    case chunk_state::size: {
      if (!take_line(data, max_chunk_line)) return;
      auto size = trim(std::string_view{line_}.substr(0, line_.find(';')));
      uint64_t n = 0;
      bool ok = !size.empty() && size.size() <= 15;
      for (char c : size) {
        auto d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                 : c >= 'a' && c <= 'f'                      ? c - 'a' + 10
                 : c >= 'A' && c <= 'F'                      ? c - 'A' + 10
                                                             : -1;
        if (d < 0) ok = false;
        n = n * 16 + static_cast<uint64_t>(d < 0 ? 0 : d);
      }
      if (!ok) {
        error_ = "the chunked body is malformed (a chunk size of '" +
                 line_.substr(0, 40) + "')";
        return;
      }
      line_.clear();
      left_ = n;
      state_ = n == 0 ? chunk_state::trailers : chunk_state::data;
      return;
    }
    case chunk_state::data: {
      auto n = static_cast<std::size_t>(std::min<uint64_t>(left_, data.size()));
      if (!deliver(data.substr(0, n))) return;
      left_ -= n;
      data.remove_prefix(n);
      if (left_ == 0) state_ = chunk_state::data_end;
      return;
    }
    case chunk_state::data_end: {
      bool whole = take_line(data, 1); // "\r" at most before the "\n"
      if (!error_.empty() || (whole && !line_.empty())) {
        error_ = "the chunked body is malformed (a chunk longer than its "
                 "size)";
        return;
      }
      if (whole) state_ = chunk_state::size;
      return;
    }
    case chunk_state::trailers: {
      auto room =
          trailer_bytes_ < max_trailers ? max_trailers - trailer_bytes_ : 0;
      if (!take_line(data, room + 1)) return; // + its "\r"
      trailer_bytes_ += line_.size();
      if (line_.empty()) finished_ = true;
      line_.clear();
      return;
    }
    }
  }

  enum class chunk_state { size, data, data_end, trailers };

  framing framing_;
  uint64_t left_ = 0; ///< of the body (length) or of the chunk (chunked)
  const http_client_limits& limits_;
  const std::function<bool(std::string_view)>& on_body_;
  chunk_state state_ = chunk_state::size;
  std::string line_;
  std::size_t trailer_bytes_ = 0;
  std::size_t delivered_ = 0;
  bool finished_ = false;
  bool stopped_ = false;
  std::string error_;
};

} // namespace

http_get_result
http_get(const std::string& host, uint16_t port, const std::string& path,
         const http_client_limits& limits,
         const std::function<bool(const http_answer_head&)>& on_head,
         const std::function<bool(std::string_view)>& on_body) {
  http_get_result res;
  socket_fd sock;
  sock.fd = connect_to(host, port, limits.connect_timeout, res.error);
  if (sock.fd < 0) return res;
  auto host_field =
      host.find(':') != std::string::npos ? "[" + host + "]" : host;
  auto request = "GET " + path + " HTTP/1.1\r\nHost: " + host_field + ":" +
                 std::to_string(port) +
                 "\r\nUser-Agent: flumen\r\nAccept: */*\r\n"
                 "Connection: close\r\n\r\n";
  if (!send_all(sock.fd, request, limits.read_timeout, res.error)) return res;
  res.reached = true;

  // The head, read at most max_head (and its blank line) at a time.
  std::string buf;
  std::size_t head_end = 0;
  char tmp[64 * 1024];
  for (;;) {
    if (auto pos = buf.find("\r\n\r\n"); pos != std::string::npos) {
      head_end = pos + 4;
      break;
    }
    auto room = limits.max_head + 4 - buf.size();
    if (room == 0) {
      res.error = "the answer's head exceeds " +
                  std::to_string(limits.max_head) +
                  " bytes: not an HTTP server?";
      return res;
    }
    auto n = receive(sock.fd, tmp, std::min(sizeof tmp, room),
                     limits.read_timeout, res.error);
    if (n < 0) {
      if (buf.empty()) res.error = "no answer: " + res.error;
      return res;
    }
    if (n == 0) {
      res.error = buf.empty()
                      ? "no answer (the connection closed)"
                      : "the connection closed in the middle of the answer";
      return res;
    }
    buf.append(tmp, static_cast<std::size_t>(n));
  }
  http_answer_head head;
  if (!parse_head(std::string_view{buf}.substr(0, head_end - 4), head,
                  res.error))
    return res;
  res.status = head.status;
  if (!on_head(head)) return res;
  if (head.status == 204 || head.status == 304 || head.status / 100 == 1)
    return res;

  auto framing = body_reader::framing::until_close;
  uint64_t length = 0;
  if (auto te = head.headers.find("transfer-encoding");
      te != head.headers.end() &&
      lower(te->second).find("chunked") != std::string::npos) {
    framing = body_reader::framing::chunked;
  } else if (auto cl = head.headers.find("content-length");
             cl != head.headers.end()) {
    const auto& v = cl->second;
    if (v.empty() || v.size() > 19 ||
        !std::all_of(v.begin(), v.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        })) {
      res.error =
          "the answer's Content-Length is not a number: " + v.substr(0, 40);
      return res;
    }
    framing = body_reader::framing::length;
    length = std::stoull(v);
  }
  body_reader body{framing, length, limits, on_body};
  bool more = body.feed(std::string_view{buf}.substr(head_end));
  buf.clear();
  buf.shrink_to_fit();
  while (more) {
    std::string why;
    auto n = receive(sock.fd, tmp, sizeof tmp, limits.read_timeout, why);
    if (n < 0) {
      res.error = why;
      return res;
    }
    if (n == 0) {
      body.end_of_stream();
      break;
    }
    more = body.feed(std::string_view{tmp, static_cast<std::size_t>(n)});
  }
  res.error = body.error();
  return res;
}

http_get_result http_get_body(const std::string& host, uint16_t port,
                              const std::string& path,
                              const http_client_limits& limits,
                              std::string& body) {
  body.clear();
  return http_get(
      host, port, path, limits, [](const http_answer_head&) { return true; },
      [&](std::string_view piece) {
        body.append(piece);
        return true;
      });
}

} // namespace flumen
