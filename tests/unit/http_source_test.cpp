// The http source over real loopback sockets (cpp-httplib as the client,
// raw sockets for slow peers), into a real memory channel taken back by
// the test.

#include "actors/sources/http.hpp"

#include <sys/socket.h>

#include <future>
#include <thread>

#include <httplib.h>

#include "tests/support/netcat.hpp"
#include "tests/support/ports.hpp"
#include "tests/unit/actor_test_support.hpp"

using namespace flumen;
using namespace flumen::sources;
using namespace flumen::test;

namespace {

struct http_post : actor_test {
  http_config cfg;
  caf::actor source;
  std::shared_ptr<component_metrics> m;

  http_post() {
    cfg.port = free_port();
    cfg.hold_timeout = 300ms;
  }

  void start(const caf::actor& downstream) {
    auto w = wire("sources", "h1", "http");
    w.downstream = downstream;
    m = w.metrics;
    source = track(spawn_http(sys, cfg, w));
  }

  httplib::Client client() {
    httplib::Client c{"127.0.0.1", cfg.port};
    c.set_read_timeout(10, 0);
    return c;
  }

  uint64_t own(const char* name) { return m->value(name); }

  /// Takes and commits everything the channel holds.
  batch drain(const caf::actor& ch) {
    batch out;
    for (;;) {
      auto t = take(self, ch, 1000, 2s);
      if (!t || t->events.empty()) return out;
      for (auto& e : t->events)
        out.push_back(std::move(e));
      EXPECT_FALSE(commit(self, ch, t->id));
    }
  }
};

} // namespace

TEST_F(http_post, a_json_post_is_put_and_answered_200) {
  auto ch = channel(channel_config(100, 100));
  start(ch);
  auto c = client();
  auto r = c.Post("/anything",
                  R"([{"headers": {"host": "h"}, "body": "one"},
                      {"body": "two"}])",
                  "application/json");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200) << r->body;
  auto got = drain(ch);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body, "one");
  EXPECT_EQ(got[0].headers, (header_map{{"host", "h"}}));
  EXPECT_EQ(got[1].body, "two");
  EXPECT_EQ(m->events_received.load(), 2u);
  EXPECT_EQ(m->events_accepted.load(), 2u);
  EXPECT_EQ(own("http_requests_ok"), 1u);
}

TEST_F(http_post, the_answer_waits_for_a_full_channel_within_hold_timeout) {
  cfg.hold_timeout = 10s;
  auto ch = channel(channel_config(2, 2));
  start(ch);
  ASSERT_FALSE(put(self, ch, batch{event{{}, "a"}, event{{}, "b"}}));
  auto answered = std::async(std::launch::async, [&] {
    auto c = client();
    auto r = c.Post("/", R"([{"body": "c"}])", "application/json");
    return r ? r->status : -1;
  });
  // The request is with the channel, held: the source is done with it.
  ASSERT_TRUE(wait_until([&] { return m->events_received.load() == 1; }, 5s));
  EXPECT_EQ(answered.wait_for(200ms), std::future_status::timeout)
      << "answered before the channel took the event";
  auto first = take(self, ch, 2);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->events.size(), 2u);
  ASSERT_FALSE(commit(self, ch, first->id));
  EXPECT_EQ(answered.get(), 200);
  auto rest = drain(ch);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].body, "c");
  EXPECT_EQ(m->events_accepted.load(), 1u);
}

TEST_F(http_post, a_channel_full_past_hold_timeout_answers_503_and_takes_none) {
  auto ch = channel(channel_config(2, 2));
  start(ch);
  ASSERT_FALSE(put(self, ch, batch{event{{}, "a"}, event{{}, "b"}}));
  auto c = client();
  auto r = c.Post("/", R"([{"body": "c"}, {"body": "d"}])", "application/json");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_NE(r->body.find("none of the 2 events were taken"), std::string::npos)
      << r->body;
  // Room now does not bring them in: the client holds them.
  auto got = drain(ch);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].body, "b");
  EXPECT_TRUE(drain(ch).empty());
  EXPECT_EQ(m->events_received.load(), 2u);
  EXPECT_EQ(m->events_accepted.load(), 0u);
  EXPECT_EQ(m->events_dropped.load(), 2u);
  EXPECT_EQ(own("http_events_refused"), 2u);
  EXPECT_EQ(own("http_requests_busy"), 1u);
  // Sent again, they go in.
  auto again =
      c.Post("/", R"([{"body": "c"}, {"body": "d"}])", "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(drain(ch).size(), 2u);
}

TEST_F(http_post, refusals_name_their_reason) {
  cfg.path = "/events";
  cfg.max_body_bytes = 1024;
  cfg.max_events = 3;
  auto ch = channel(channel_config(100, 100));
  start(ch);
  auto c = client();
  auto bad = c.Post("/events", R"([{"body": "x"})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("malformed JSON"), std::string::npos) << bad->body;
  auto big = c.Post("/events", std::string(2000, ' '), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_NE(big->body.find("max_body_bytes"), std::string::npos) << big->body;
  auto many = c.Post("/events", "[{},{},{},{}]", "application/json");
  ASSERT_TRUE(many);
  EXPECT_EQ(many->status, 413);
  auto get = c.Get("/events");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  auto other = c.Post("/other", "[]", "application/json");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  EXPECT_TRUE(drain(ch).empty());
  EXPECT_EQ(m->events_received.load(), 0u);
  EXPECT_EQ(own("http_requests_rejected"), 5u);
}

TEST_F(http_post, a_chunked_body_over_the_bound_is_413_and_not_kept) {
  cfg.max_body_bytes = 1024;
  auto ch = channel(channel_config(100, 100));
  start(ch);
  auto c = client();
  std::size_t sent = 0;
  auto r = c.Post(
      "/",
      [&](size_t, httplib::DataSink& sink) {
        if (sent >= 64 * 1024) {
          sink.done();
          return true;
        }
        std::string piece(1024, 'x');
        sent += piece.size();
        return sink.write(piece.data(), piece.size());
      },
      "text/plain");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_TRUE(drain(ch).empty());
}

TEST_F(http_post, lines_and_body_handlers) {
  cfg.handler = http_handler::lines;
  auto ch = channel(channel_config(100, 100));
  start(ch);
  auto c = client();
  auto r = c.Post("/", "a\r\nb\nc", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto got = drain(ch);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].body, "c");
}

TEST_F(http_post, keep_alive_serves_several_requests_on_one_connection) {
  auto ch = channel(channel_config(100, 100));
  start(ch);
  tcp_client peer{cfg.port};
  ASSERT_TRUE(peer.connected());
  std::string body = R"([{"body": "k"}])";
  std::string req = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: "
                    "application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_TRUE(peer.write(req + req + req));
  std::string got;
  char buf[4096];
  ASSERT_TRUE(wait_until(
      [&] {
        auto n = ::recv(peer.fd(), buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) got.append(buf, static_cast<std::size_t>(n));
        std::size_t oks = 0;
        for (auto p = got.find("HTTP/1.1 200"); p != std::string::npos;
             p = got.find("HTTP/1.1 200", p + 1))
          ++oks;
        return oks == 3;
      },
      5s))
      << got;
  EXPECT_EQ(drain(ch).size(), 3u);
}

TEST_F(http_post,
       a_client_that_sends_a_request_too_slowly_is_closed_and_counted) {
  cfg.request_timeout = 500ms;
  auto ch = channel(channel_config(100, 100));
  start(ch);
  tcp_client slow{cfg.port};
  ASSERT_TRUE(slow.connected());
  std::string head = "POST / HTTP/1.1\r\nHost: x\r\n";
  // A byte every 50 ms: never idle for the timeout, yet never done.
  bool closed = false;
  for (std::size_t i = 0; i < 200 && !closed; ++i) {
    if (!slow.write(std::string(1, head[i % head.size()]))) closed = true;
    char c;
    auto n = ::recv(slow.fd(), &c, 1, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN)) closed = true;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(closed) << "still open after 10 s";
  EXPECT_TRUE(
      wait_until([&] { return own("http_connections_timed_out") == 1; }, 5s));
  EXPECT_GE(m->connection_failures.load(), 1u);
  EXPECT_TRUE(wait_until([&] { return m->connections_open.load() == 0; }, 5s));
  // The source serves on.
  auto c = client();
  auto r = c.Post("/", "[]", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(http_post, stop_answers_every_request_and_frees_the_port) {
  auto ch = channel(channel_config(100, 100));
  start(ch);
  auto c = client();
  ASSERT_EQ(c.Post("/", R"([{"body": "x"}])", "application/json")->status, 200);
  bool stopped = false;
  self->request(source, 10s, stop_atom::value)
      .receive([&](ok_atom) { stopped = true; }, [](caf::error&) {});
  EXPECT_TRUE(stopped);
  EXPECT_EQ(m->current_state(), component_state::stopped);
  // The next instance (a restart) listens on the same port at once.
  auto w = wire("sources", "h2", "http");
  w.downstream = ch;
  EXPECT_NO_THROW(track(spawn_http(sys, cfg, w)));
  auto again = client().Post("/", R"([{"body": "y"}])", "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}
