// The bounded GET client of `flumen top` and `flumen tap` against real
// sockets: a server thread that answers one connection with a script
// (well-formed answers, and hostile ones: endless heads, bodies and chunk
// lines, huge Content-Lengths, silence, not HTTP). Each answer costs a
// bounded amount of memory (peak RSS checked) and time.

#include "runtime/http/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

using namespace flumen;
using namespace std::chrono_literals;

namespace {

/// Peak resident memory of this process in KiB.
long peak_rss_kib() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

/// Serves one connection on 127.0.0.1: reads the request head, writes
/// `prefix`, then `block` over and over (up to `repeat` times, or until the
/// client goes), then closes, or stays silent for `linger`.
class one_shot_server {
public:
  one_shot_server(std::string prefix, std::string block = {},
                  uint64_t repeat = 0, std::chrono::milliseconds linger = 0ms) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      ADD_FAILURE() << "cannot listen";
    port_ = ntohs(a.sin_port);
    thread_ = std::thread{[=, this] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        auto n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
      }
      request_ = req;
      bool open = send_all(c, prefix);
      for (uint64_t i = 0; open && i < repeat; ++i)
        open = send_all(c, block);
      if (open && linger.count() > 0) std::this_thread::sleep_for(linger);
      ::close(c);
    }};
  }
  ~one_shot_server() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  const std::string& request() const { return request_; }

private:
  static bool send_all(int fd, std::string_view s) {
    while (!s.empty()) {
      auto n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::string request_;
};

http_client_limits quick() {
  http_client_limits l;
  l.connect_timeout = 2s;
  l.read_timeout = 2s;
  return l;
}

} // namespace

TEST(http_client, reads_a_body_by_content_length) {
  one_shot_server s{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\n"
                    "hello and more than announced"};
  std::string body;
  auto r = http_get_body("127.0.0.1", s.port(), "/stats.json", quick(), body);
  EXPECT_EQ(r.error, "");
  EXPECT_TRUE(r.reached);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body, "hello");
  EXPECT_EQ(
      s.request().rfind("GET /stats.json HTTP/1.1\r\nHost: 127.0.0.1:", 0), 0u)
      << s.request();
}

TEST(http_client, decodes_a_chunked_body_with_extensions_and_trailers) {
  one_shot_server s{"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n"
                    "\r\n5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n"
                    "X-Trailer: t\r\n\r\n"};
  std::string body;
  http_answer_head seen;
  auto r = http_get(
      "127.0.0.1", s.port(), "/", quick(),
      [&](const http_answer_head& h) {
        seen = h;
        return true;
      },
      [&](std::string_view p) {
        body.append(p);
        return true;
      });
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(seen.headers["transfer-encoding"], "chunked");
  EXPECT_EQ(body, "hello 0123456789");
}

TEST(http_client, reads_a_body_until_the_connection_closes) {
  one_shot_server s{"HTTP/1.0 200 OK\r\n\r\nall of it"};
  std::string body;
  auto r = http_get_body("127.0.0.1", s.port(), "/", quick(), body);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(body, "all of it");
}

TEST(http_client, the_caller_may_stop_reading) {
  one_shot_server s{"HTTP/1.1 200 OK\r\n\r\n", std::string(4096, 'x'), 100000};
  std::size_t got = 0;
  auto r = http_get(
      "127.0.0.1", s.port(), "/", quick(),
      [](const http_answer_head&) { return true; },
      [&](std::string_view p) {
        got += p.size();
        return got < 100000;
      });
  EXPECT_EQ(r.error, "");
  EXPECT_GE(got, 100000u);
  EXPECT_LT(got, 200000u);
}

// A head that never ends (one endless header line) is given up at the
// bound, whatever the server sends.
TEST(http_client, a_head_is_bounded) {
  auto before = peak_rss_kib();
  one_shot_server s{"HTTP/1.1 200 OK\r\nX-Endless: ",
                    std::string(64 * 1024, 'a'), 16 * 1024}; // 1 GiB
  std::string body;
  auto r = http_get_body("127.0.0.1", s.port(), "/", quick(), body);
  EXPECT_EQ(r.error,
            "the answer's head exceeds 16384 bytes: not an HTTP server?");
  EXPECT_LT(peak_rss_kib() - before, 16 * 1024);
}

// A Content-Length of 2 GB: refused at the caller's bound, not read on.
TEST(http_client, a_body_over_the_bound_is_given_up) {
  auto before = peak_rss_kib();
  one_shot_server s{"HTTP/1.1 200 OK\r\nContent-Length: 2147483648\r\n\r\n",
                    std::string(64 * 1024, '0'), 32 * 1024};
  auto limits = quick();
  limits.max_body = 1 << 20;
  std::string body;
  auto t0 = std::chrono::steady_clock::now();
  auto r = http_get_body("127.0.0.1", s.port(), "/stats.json", limits, body);
  EXPECT_EQ(r.error, "the answer's body exceeds 1048576 bytes");
  EXPECT_LE(body.size(), 1u << 20);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_LT(peak_rss_kib() - before, 16 * 1024);
}

// Chunks without end: the same bound applies after decoding; a chunk-size
// line without end is given up at 1 KiB.
TEST(http_client, endless_chunks_and_chunk_lines_are_bounded) {
  auto before = peak_rss_kib();
  {
    std::string chunk = "10000\r\n" + std::string(0x10000, 'c') + "\r\n";
    one_shot_server s{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                      chunk, 32 * 1024}; // 2 GiB
    auto limits = quick();
    limits.max_body = 4 << 20;
    std::string body;
    auto r = http_get_body("127.0.0.1", s.port(), "/", limits, body);
    EXPECT_EQ(r.error, "the answer's body exceeds 4194304 bytes");
  }
  {
    one_shot_server s{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "1",
                      std::string(64 * 1024, '0'), 16 * 1024};
    std::string body;
    auto r = http_get_body("127.0.0.1", s.port(), "/", quick(), body);
    EXPECT_EQ(r.error, "a line of the chunked body exceeds 1024 bytes");
  }
  {
    one_shot_server s{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "zz\r\n"};
    std::string body;
    auto r = http_get_body("127.0.0.1", s.port(), "/", quick(), body);
    EXPECT_EQ(r.error, "the chunked body is malformed (a chunk size of 'zz')");
  }
  {
    one_shot_server s{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "2\r\nabc\r\n0\r\n\r\n"};
    std::string body;
    auto r = http_get_body("127.0.0.1", s.port(), "/", quick(), body);
    EXPECT_EQ(r.error,
              "the chunked body is malformed (a chunk longer than its size)");
  }
  EXPECT_LT(peak_rss_kib() - before, 16 * 1024);
}

// An endless body the caller streams (a tap) costs constant memory.
TEST(http_client, an_endless_stream_costs_constant_memory) {
  auto before = peak_rss_kib();
  one_shot_server s{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                    "10000\r\n" + std::string(0x10000, 'e') + "\r\n", 1 << 20};
  uint64_t got = 0;
  auto r = http_get(
      "127.0.0.1", s.port(), "/", quick(),
      [](const http_answer_head&) { return true; },
      [&](std::string_view p) {
        got += p.size();
        return got < (256u << 20);
      });
  EXPECT_EQ(r.error, "");
  EXPECT_GE(got, 256u << 20);
  EXPECT_LT(peak_rss_kib() - before, 16 * 1024);
}

TEST(http_client, what_is_not_an_answer_is_said) {
  {
    one_shot_server s{"SSH-2.0-OpenSSH_9.2\r\n\r\n"};
    std::string body;
    auto r = http_get_body("127.0.0.1", s.port(), "/", quick(), body);
    EXPECT_TRUE(r.reached);
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.error, "the answer is not HTTP/1.x");
  }
  {
    one_shot_server s{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"};
    std::string body;
    auto r = http_get_body("127.0.0.1", s.port(), "/", quick(), body);
    EXPECT_EQ(r.error, "the connection closed before the answer ended");
  }
  {
    one_shot_server s{"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n"};
    std::string body;
    auto r = http_get_body("127.0.0.1", s.port(), "/", quick(), body);
    EXPECT_EQ(r.error, "the answer's Content-Length is not a number: lots");
  }
  {
    one_shot_server s{"", "", 0, 3s}; // accepts, says nothing
    auto limits = quick();
    limits.read_timeout = 300ms;
    std::string body;
    auto t0 = std::chrono::steady_clock::now();
    auto r = http_get_body("127.0.0.1", s.port(), "/", limits, body);
    EXPECT_EQ(r.error, "no answer: nothing more came within 300 ms");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  }
  {
    uint16_t port = 0;
    {
      one_shot_server gone{""}; // a port that was free a moment ago
      port = gone.port();
      std::string body;
      http_get_body("127.0.0.1", port, "/", quick(), body);
    }
    std::string body;
    auto r = http_get_body("127.0.0.1", port, "/", quick(), body);
    EXPECT_FALSE(r.reached);
    EXPECT_EQ(r.error, "cannot connect (nothing listens there)");
  }
}
