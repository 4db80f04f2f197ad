// The endpoint's HTTP server over real sockets: routes and statuses, bad
// requests answered with a status, slow and idle clients timed out, a full
// server shedding the connection that waited longest, streams, and a
// client that never reads its response dropped. Timeouts are set short
// here; every wait is for a condition with a deadline.

#include "runtime/http/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

using namespace flumen;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, std::string_view s) {
  while (!s.empty()) {
    auto n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads until the peer closes, `stop` says enough, or `within` passes.
std::string read_until(int fd, std::chrono::milliseconds within,
                       const std::function<bool(const std::string&)>& stop,
                       bool* closed = nullptr) {
  std::string got;
  auto deadline = steady::now() + within;
  if (closed) *closed = false;
  while (!stop(got)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - steady::now())
                    .count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[65536];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (closed) *closed = true;
      break;
    }
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

// One response with a Content-Length body.
std::string read_response(int fd, std::chrono::milliseconds within = 3s) {
  return read_until(fd, within, [](const std::string& s) {
    auto end = s.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    auto cl = s.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) return true;
    auto len = std::stoul(s.substr(cl + 16));
    return s.size() >= end + 4 + len;
  });
}

std::string read_to_close(int fd, std::chrono::milliseconds within,
                          bool* closed = nullptr) {
  return read_until(
      fd, within, [](const std::string&) { return false; }, closed);
}

bool wait_for(std::chrono::milliseconds within,
              const std::function<bool()>& cond) {
  auto deadline = steady::now() + within;
  while (!cond()) {
    if (steady::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

class http_server_test : public ::testing::Test {
protected:
  void serve(http_limits limits = {}) {
    server = std::make_unique<http_server>(limits);
    server->route("/a", [](const http_request& req) {
      auto who = req.params.count("who") ? req.params.at("who") : "";
      return http_response{200, "text/plain", "hello" + who, {}};
    });
    server->route("/big", [](const http_request&) {
      return http_response{200, "text/plain", std::string(32 << 20, 'x'), {}};
    });
    server->route("/three", [](const http_request&) {
      auto n = std::make_shared<int>(0);
      http_response r;
      r.stream = [n](std::string& out) {
        out += "line " + std::to_string(++*n) + "\n";
        return *n < 3;
      };
      return r;
    });
    server->route("/forever", [this](const http_request&) {
      // Its destructor runs when the stream is dropped.
      auto token = std::shared_ptr<void>(
          nullptr, [this](void*) { stream_ended = true; });
      http_response r;
      r.stream = [token](std::string&) { return true; };
      return r;
    });
    port = server->start("127.0.0.1", 0);
  }

  void TearDown() override {
    for (int fd : fds)
      ::close(fd);
    if (server) server->stop();
  }

  int open_conn() {
    int fd = connect_to(port);
    EXPECT_GE(fd, 0);
    fds.push_back(fd);
    return fd;
  }

  // GET `path` on a fresh connection; the response.
  std::string get(const std::string& path) {
    int fd = open_conn();
    send_all(fd, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    return read_response(fd);
  }

  std::unique_ptr<http_server> server;
  uint16_t port = 0;
  std::vector<int> fds;
  std::atomic<bool> stream_ended{false};
};

} // namespace

TEST_F(http_server_test, answers_routes_and_unknown_paths) {
  serve();
  auto r = get("/a?who=%20you");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_TRUE(r.ends_with("\r\n\r\nhello you")) << r;
  r = get("/zzz");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 404 Not Found\r\n")) << r;
  EXPECT_NE(r.find("no such path: /zzz"), std::string::npos) << r;
  // Keep-alive: two requests on one connection, the second pipelined
  // behind a HEAD (headers only).
  int fd = open_conn();
  send_all(fd, "HEAD /a HTTP/1.1\r\n\r\nGET /a HTTP/1.1\r\n\r\n");
  auto both = read_until(fd, 3s, [](const std::string& s) {
    return s.ends_with("hello") && s.find("HTTP/1.1", 10) != std::string::npos;
  });
  EXPECT_EQ(both.find("hello"), both.rfind("hello")) << both; // HEAD: no body
  EXPECT_NE(both.find("Content-Length: 5"), std::string::npos) << both;
  // HTTP/1.0 closes after its answer.
  fd = open_conn();
  send_all(fd, "GET /a HTTP/1.0\r\n\r\n");
  bool closed = false;
  r = read_to_close(fd, 3s, &closed);
  EXPECT_TRUE(closed);
  EXPECT_NE(r.find("Connection: close"), std::string::npos) << r;
}

TEST_F(http_server_test, bad_requests_get_a_clear_status_at_once) {
  serve();
  auto t0 = steady::now();
  auto ask = [&](const std::string& raw) {
    int fd = open_conn();
    send_all(fd, raw);
    return read_to_close(fd, 3s);
  };
  auto r = ask("POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 405 ")) << r;
  EXPECT_NE(r.find("Allow: GET, HEAD"), std::string::npos) << r;
  r = ask("GET /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 400 ")) << r;
  EXPECT_NE(r.find("request bodies are not accepted"), std::string::npos);
  r = ask("GARBAGE\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 400 ")) << r;
  r = ask("GET /a HTTP/2.0\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 505 ")) << r;
  r = ask("GET /a HTTP/1.1\r\nNo colon here\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 400 ")) << r;
  // A 64 KB header: refused after the first 8 KB, and the client reads the
  // answer although the server never read the rest.
  r = ask("GET /a HTTP/1.1\r\nX-Big: " + std::string(65536, 'a') + "\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 431 ")) << r.substr(0, 100);
  EXPECT_NE(r.find("request head over 8192 bytes"), std::string::npos);
  // A request line that never ends is a head that is too long too.
  r = ask("GET /" + std::string(20000, 'a'));
  EXPECT_TRUE(r.starts_with("HTTP/1.1 431 ")) << r.substr(0, 100);
  EXPECT_LT(steady::now() - t0, 2s);
}

TEST_F(http_server_test, idle_and_slow_clients_time_out) {
  http_limits l;
  l.head_timeout = 300ms;
  serve(l);
  int idle = open_conn();
  int slow = open_conn();
  send_all(slow, "GET /a HT");
  auto t0 = steady::now();
  bool closed = false;
  auto r = read_to_close(idle, 5s, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(r, ""); // nothing asked, nothing answered
  EXPECT_GE(steady::now() - t0, 250ms);
  r = read_to_close(slow, 5s, &closed);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(r.starts_with("HTTP/1.1 408 ")) << r;
  EXPECT_NE(r.find("request head not received within 300 ms"),
            std::string::npos)
      << r;
  // The server waits for a client it answered with an error to close (so
  // the answer is not lost to a reset), at most 2 s.
  for (int fd : fds)
    ::close(fd);
  fds.clear();
  EXPECT_TRUE(wait_for(2s, [&] { return server->connections() == 0; }));
}

TEST_F(http_server_test, a_full_server_sheds_the_connection_waiting_longest) {
  http_limits l;
  l.max_connections = 8;
  serve(l);
  std::vector<int> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(open_conn());
    // In order: the first one has waited longest.
    ASSERT_TRUE(wait_for(2s, [&] {
      return server->connections() == static_cast<std::size_t>(i + 1);
    }));
  }
  auto r = get("/a");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 ")) << r;
  bool closed = false;
  read_to_close(idle.front(), 2s, &closed);
  EXPECT_TRUE(closed) << "the oldest idle connection is still open";
  EXPECT_LE(server->connections(), 8u);
}

TEST_F(http_server_test,
       stays_answerable_with_hundreds_of_idle_and_slow_clients) {
  http_limits l;
  l.max_connections = 64;
  serve(l);
  for (int i = 0; i < 300; ++i)
    open_conn();
  // 20 clients sending a byte every 20 ms, reconnecting when dropped.
  std::atomic<bool> done{false};
  std::thread slow{[&] {
    std::vector<int> s;
    for (int i = 0; i < 20; ++i)
      s.push_back(connect_to(port));
    const std::string req = "GET /a HTTP/1.1\r\nX-Slow: yes\r\n\r\n";
    std::size_t pos = 0;
    while (!done) {
      for (auto& fd : s) {
        if (fd < 0 || ::send(fd, req.data() + pos % req.size(), 1,
                             MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
          if (fd >= 0) ::close(fd);
          fd = connect_to(port);
        }
      }
      ++pos;
      std::this_thread::sleep_for(20ms);
    }
    for (int fd : s)
      if (fd >= 0) ::close(fd);
  }};
  for (int i = 0; i < 20; ++i) {
    auto t0 = steady::now();
    auto r = get("/a");
    EXPECT_TRUE(r.starts_with("HTTP/1.1 200 ")) << i << ": " << r;
    EXPECT_LT(steady::now() - t0, 1s) << i;
    std::this_thread::sleep_for(10ms); // spread over a while of slow sends
  }
  done = true;
  slow.join();
  EXPECT_LE(server->connections(), 64u);
}

TEST_F(http_server_test, streams_are_chunked_and_end_when_the_client_goes) {
  serve();
  int fd = open_conn();
  send_all(fd, "GET /three HTTP/1.1\r\n\r\n");
  bool closed = false;
  auto r = read_to_close(fd, 3s, &closed);
  EXPECT_TRUE(closed);
  EXPECT_NE(r.find("Transfer-Encoding: chunked"), std::string::npos) << r;
  EXPECT_TRUE(r.ends_with("7\r\nline 1\n\r\n7\r\nline 2\n\r\n7\r\nline 3\n"
                          "\r\n0\r\n\r\n"))
      << r;
  fd = open_conn();
  send_all(fd, "GET /forever HTTP/1.1\r\n\r\n");
  read_until(fd, 3s, [](const std::string& s) {
    return s.find("\r\n\r\n") != std::string::npos;
  });
  EXPECT_FALSE(stream_ended);
  ::close(fd);
  fds.pop_back();
  EXPECT_TRUE(wait_for(3s, [&] { return stream_ended.load(); }));
}

TEST_F(http_server_test, a_client_that_does_not_read_is_dropped) {
  http_limits l;
  l.write_timeout = 300ms;
  serve(l);
  int fd = open_conn();
  send_all(fd, "GET /big HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(wait_for(5s, [&] { return server->connections() == 1; }));
  EXPECT_TRUE(wait_for(5s, [&] { return server->connections() == 0; }));
}

TEST_F(http_server_test, stop_ends_streams_and_a_busy_port_is_an_error) {
  serve();
  int fd = open_conn();
  send_all(fd, "GET /forever HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(wait_for(3s, [&] { return server->connections() == 1; }));
  http_server other;
  EXPECT_THROW(other.start("127.0.0.1", port), std::runtime_error);
  server->stop();
  EXPECT_TRUE(stream_ended);
}

TEST_F(http_server_test, with_every_connection_answering_a_new_one_gets_503) {
  http_limits l;
  l.max_connections = 2;
  serve(l);
  for (int i = 0; i < 2; ++i) {
    int fd = open_conn();
    send_all(fd, "GET /forever HTTP/1.1\r\n\r\n");
    read_until(fd, 3s, [](const std::string& s) {
      return s.find("\r\n\r\n") != std::string::npos;
    });
  }
  // Streams are not waiting for a request: nothing to shed.
  int fd = open_conn();
  bool closed = false;
  auto r = read_to_close(fd, 3s, &closed);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(r.starts_with("HTTP/1.1 503 ")) << r;
  EXPECT_NE(r.find("too many connections"), std::string::npos) << r;
}

TEST_F(http_server_test, responses_waiting_to_be_read_are_bounded_in_bytes) {
  http_limits l;
  l.max_pending_output = 1 << 20;
  l.write_timeout = 10s;
  serve(l);
  // 32 MB nobody reads: far more than the sockets' buffers take.
  int hog = open_conn();
  send_all(hog, "GET /big HTTP/1.1\r\n\r\n");
  std::string r;
  EXPECT_TRUE(wait_for(5s, [&] {
    r = get("/a");
    return r.starts_with("HTTP/1.1 503 ");
  })) << r;
  EXPECT_NE(r.find("busy: too many responses waiting to be read"),
            std::string::npos)
      << r;
  // Closed with unread data: a reset, which the server sees at once.
  ::close(hog);
  std::erase(fds, hog);
  EXPECT_TRUE(wait_for(5s, [&] {
    return get("/a").starts_with("HTTP/1.1 200 ");
  })) << "once the reader is gone, answers again";
}

TEST_F(http_server_test, keep_alive_is_bounded_in_time_and_requests) {
  http_limits l;
  l.idle_timeout = 300ms;
  l.max_requests = 2;
  serve(l);
  int fd = open_conn();
  send_all(fd, "GET /a HTTP/1.1\r\n\r\n");
  auto r = read_response(fd);
  EXPECT_NE(r.find("Connection: keep-alive"), std::string::npos) << r;
  send_all(fd, "GET /a HTTP/1.1\r\n\r\n");
  // The second and last: answered, then closed.
  bool closed = false;
  r = read_to_close(fd, 3s, &closed);
  EXPECT_TRUE(closed);
  EXPECT_NE(r.find("Connection: close"), std::string::npos) << r;
  // Idle after an answer: closed after idle_timeout, silently.
  fd = open_conn();
  send_all(fd, "GET /a HTTP/1.1\r\n\r\n");
  read_response(fd);
  auto t0 = steady::now();
  r = read_to_close(fd, 3s, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(r, "");
  EXPECT_GE(steady::now() - t0, 250ms);
}

// -- the request head parser (pure; fuzzed: tests/fuzz/httphead_fuzz.cpp)

TEST(http_head, a_get_with_a_query_is_parsed_and_decoded) {
  std::string in = "GET /tap/r%31?limit=5&x=a+b%21 HTTP/1.1\r\nHost: h\r\n\r\n"
                   "GET /next HTTP/1.1\r\n\r\n";
  auto end = flumen::http_head_end(in);
  ASSERT_EQ(in.substr(end), "GET /next HTTP/1.1\r\n\r\n");
  auto h = flumen::parse_http_head(std::string_view{in}.substr(0, end));
  ASSERT_EQ(h.status, 0) << h.error;
  EXPECT_EQ(h.request.method, "GET");
  EXPECT_EQ(h.request.path, "/tap/r1");
  EXPECT_EQ(h.request.params.at("limit"), "5");
  EXPECT_EQ(h.request.params.at("x"), "a b!");
  EXPECT_TRUE(h.keep_alive);
}

TEST(http_head, keep_alive_follows_version_and_connection) {
  EXPECT_FALSE(flumen::parse_http_head("GET / HTTP/1.0\n\n").keep_alive);
  EXPECT_TRUE(
      flumen::parse_http_head("GET / HTTP/1.0\nConnection: Keep-Alive\n\n")
          .keep_alive);
  EXPECT_FALSE(flumen::parse_http_head("GET / HTTP/1.1\nConnection: close\n\n")
                   .keep_alive);
}

TEST(http_head, bad_heads_get_their_status) {
  auto status = [](std::string_view in) {
    return flumen::parse_http_head(in).status;
  };
  EXPECT_EQ(status("GET /\r\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/2.0\r\n\r\n"), 505);
  EXPECT_EQ(status("GET / SPDY\r\n\r\n"), 400);
  EXPECT_EQ(status("POST / HTTP/1.1\r\n\r\n"), 405);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nno colon here\r\n\r\n"), 400);
  EXPECT_EQ(status("GET http://x/ HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status(""), 400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), 0);
  EXPECT_EQ(flumen::http_head_end("GET / HTTP/1.1\r\nHost: x\r\n"),
            std::string_view::npos);
}
