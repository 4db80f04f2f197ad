// The syslog sources over real loopback sockets into a real memory
// channel: syslog_tcp's framings (octet counting with newlines inside a
// message, LF, both on one source), a frame that is no frame closing only
// its client, messages cut at max_message_size and counted, the client's
// address; syslog_udp one message per datagram, a datagram cut and
// counted.

#include "actors/sources/name_resolver.hpp"
#include "actors/sources/netcat_udp.hpp"
#include "actors/sources/syslog_sources.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/builtin.hpp"
#include "runtime/config/topology.hpp"
#include "tests/support/netcat.hpp"
#include "tests/support/ports.hpp"
#include "tests/unit/source_test.hpp"

using namespace flumen;
using namespace flumen::sources;
using namespace flumen::test;

namespace {

using strs = std::vector<std::string>;

syslog_tcp_config tcp_config() {
  syslog_tcp_config cfg;
  cfg.server.port = free_port();
  cfg.server.batch_size = 100;
  cfg.server.batch_timeout = 10ms;
  return cfg;
}

/// Sends `payload` in one datagram to loopback `port`.
bool send_datagram(uint16_t port, const std::string& payload) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto n = ::sendto(fd, payload.data(), payload.size(), 0,
                    reinterpret_cast<sockaddr*>(&to), sizeof(to));
  ::close(fd);
  return n == static_cast<ssize_t>(payload.size());
}

} // namespace

// Octet counting keeps a newline inside a message; LF framing ends one at
// each newline; `auto` tells them apart per connection by the first byte.
TEST_F(source_test, syslog_tcp_reads_both_framings_and_flumes_headers) {
  auto ch = channel(channel_config(1000, 100));
  auto cfg = tcp_config();
  cfg.message.client_ip_header = "client";
  cfg.message.parse.structured = true; // the body is MSG alone
  track(spawn_syslog_tcp(sys, cfg, source_wiring("r1", "syslog_tcp", ch)));
  std::string m1 =
      "<165>1 2003-10-11T22:14:15.003Z host1 app - ID47 - two\nlines";
  // A trailing newline is no part of it (rsyslog's RFC 5424 forward
  // template ends each frame with one).
  std::string m2 = "<13>1 - - - - - second\n";
  {
    tcp_client c{cfg.server.port};
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.write(std::to_string(m1.size()) + " " + m1 +
                        std::to_string(m2.size()) + " " + m2));
  }
  {
    tcp_client c{cfg.server.port};
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.write("<34>Oct 11 22:14:15 mymachine su: first\r\n"
                        "<34>Oct 11 22:14:16 mymachine su: second\n"));
  }
  auto events = drain(self, ch, 4);
  ASSERT_EQ(events.size(), 4u);
  std::map<std::string, const event*> by_body;
  for (auto& e : events)
    by_body[e.body] = &e;
  ASSERT_TRUE(by_body.count("two\nlines")) << testing::PrintToString(
      strs{events[0].body, events[1].body, events[2].body, events[3].body});
  auto& a = *by_body["two\nlines"];
  EXPECT_EQ(header(a, "Facility"), "20");
  EXPECT_EQ(header(a, "Severity"), "5");
  EXPECT_EQ(header(a, "host"), "host1");
  EXPECT_EQ(header(a, "timestamp"), "1065910455003");
  EXPECT_EQ(header(a, "client"), "127.0.0.1");
  ASSERT_TRUE(by_body.count("second"));
  ASSERT_TRUE(by_body.count("su: first"));
  EXPECT_EQ(header(*by_body["su: first"], "host"), "mymachine");
  EXPECT_EQ(header(*by_body["su: first"], "Facility"), "4");
  ASSERT_TRUE(by_body.count("su: second"));
}

// A length that is no number: the messages before it are taken, that
// client is closed and counted, and the source serves the next one.
TEST_F(source_test, syslog_tcp_closes_only_the_client_of_a_broken_frame) {
  auto ch = channel(channel_config(1000, 100));
  auto cfg = tcp_config();
  cfg.framing = syslog::framing::octet_counting;
  track(spawn_syslog_tcp(sys, cfg, source_wiring("r1", "syslog_tcp", ch)));
  auto m = registry_.find("a1.sources.r1");
  {
    tcp_client c{cfg.server.port};
    ASSERT_TRUE(c.connected());
    std::string ok = "<13>1 - - - - - ok";
    ASSERT_TRUE(c.write(std::to_string(ok.size()) + " " + ok +
                        "12x <13>1 - - - - - lost"));
    EXPECT_TRUE(reaches(m->connection_failures, 1u));
  }
  {
    tcp_client c{cfg.server.port};
    ASSERT_TRUE(c.connected());
    std::string next = "<13>1 - - - - - next";
    ASSERT_TRUE(c.write(std::to_string(next.size()) + " " + next));
  }
  auto events = drain(self, ch, 2);
  ASSERT_EQ(events.size(), 2u);
  // Flume's RFC 5424 body: what follows the hostname.
  EXPECT_EQ(events[0].body, "- - - ok");
  EXPECT_EQ(events[1].body, "- - - next");
  EXPECT_EQ(m->connection_failures.load(), 1u);
}

// A message longer than max_message_size is cut there, marked Incomplete
// and counted `truncated`; the rest of it is skipped, the next message
// read whole.
TEST_F(source_test, syslog_tcp_cuts_a_long_message_and_counts_it) {
  auto ch = channel(channel_config(1000, 100));
  auto cfg = tcp_config();
  cfg.message.parse.max_message_size = 100;
  track(spawn_syslog_tcp(sys, cfg, source_wiring("r1", "syslog_tcp", ch)));
  {
    tcp_client c{cfg.server.port};
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.write("<13>" + std::string(5000, 'x') + "\n<13>short\n"));
  }
  auto events = drain(self, ch, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_LE(events[0].body.size(), 100u);
  EXPECT_EQ(header(events[0], "flume.syslog.status"), "Incomplete");
  // No timestamp and host: neither format matches, so the whole
  // message is the body (Flume).
  EXPECT_EQ(events[1].body, "<13>short");
  auto m = registry_.find("a1.sources.r1");
  EXPECT_TRUE(reaches(m->events_truncated, 1u));
}

// One message per datagram; one longer than max_message_size cut and
// counted; the sender's address in a header.
TEST_F(source_test, syslog_udp_takes_a_message_per_datagram) {
  auto ch = channel(channel_config(1000, 100));
  syslog_udp_config cfg;
  cfg.server.port = free_port();
  cfg.server.batch_size = 10;
  cfg.server.batch_timeout = 10ms;
  cfg.message.parse.max_message_size = 100;
  cfg.message.client_ip_header = "client";
  cfg.message.parse.structured = true; // the body is MSG alone
  track(spawn_syslog_udp(sys, cfg, source_wiring("r1", "syslog_udp", ch)));
  auto m = registry_.find("a1.sources.r1");
  // The socket is bound by the source's thread: probe until one arrives
  // (the probes sent before are lost, as UDP loses them).
  ASSERT_TRUE(wait_until([&] {
    send_datagram(cfg.server.port, "<14>1 - - - - - probe");
    return m->events_received.load() > 0;
  }));
  ASSERT_TRUE(send_datagram(cfg.server.port, "<14>1 - - - - - a\nb"));
  ASSERT_TRUE(send_datagram(cfg.server.port, "<14>" + std::string(300, 'y')));
  // Every event up to the two, probes dropped: they come in sending order.
  batch events;
  for (int i = 0; i < 1000 && events.size() < 2; ++i) {
    auto got = drain(self, ch, 1, 5s);
    ASSERT_FALSE(got.empty()) << "nothing more arrived";
    for (auto& e : got)
      if (e.body != "probe") events.push_back(std::move(e));
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].body, "a\nb");
  EXPECT_EQ(header(events[0], "Severity"), "6");
  EXPECT_EQ(header(events[0], "client"), "127.0.0.1");
  EXPECT_EQ(header(events[1], "flume.syslog.status"), "Incomplete");
  EXPECT_LE(events[1].body.size(), 100u);
  EXPECT_TRUE(reaches(m->events_truncated, 1u));
}

// Validation: a TCP and a UDP listener may share a port number; two UDP
// listeners may not; keep_fields and timezone are checked where written.
TEST(syslog_config, ports_by_protocol_and_options_where_written) {
  registry reg;
  register_builtin(reg);
  auto load = [&](const std::string& sources) {
    std::string text = "agents:\n  a1:\n    sources:\n" + sources +
                       "    channels: {c1: {type: memory}}\n"
                       "    sinks: {k1: {type: \"null\", channel: c1}}\n";
    std::vector<std::string> out;
    for (auto& e : load_topology_text(text, "t.yaml", reg).errors)
      out.push_back(e.to_string());
    return out;
  };
  EXPECT_EQ(load("      t: {type: syslog_tcp, port: 25514, channels: [c1]}\n"
                 "      u: {type: syslog_udp, port: 25514, channels: [c1]}\n"),
            strs{});
  auto clash =
      load("      u1: {type: syslog_udp, port: 25514, channels: [c1]}\n"
           "      u2: {type: syslog_udp, port: 25514, channels: [c1]}\n");
  ASSERT_EQ(clash.size(), 1u) << testing::PrintToString(clash);
  EXPECT_NE(clash[0].find("t.yaml:5:"), std::string::npos) << clash[0];
  EXPECT_NE(clash[0].find("udp"), std::string::npos) << clash[0];
  EXPECT_EQ(
      load("      t: {type: syslog_tcp, port: 25514, channels: [c1], "
           "keep_fields: [hostname, colour], timezone: Mars}\n"),
      (strs{"t.yaml:4:71: agents.a1.sources.t.keep_fields: 'colour' is none "
            "of none, all (each alone), priority, version, timestamp, "
            "hostname",
            "t.yaml:4:101: agents.a1.sources.t.timezone: expected `UTC`, "
            "`local` or an offset such as `+02:00`, not 'Mars'"}));
}

// UDP cannot push back: while the channel is full the socket buffer fills
// and the kernel drops datagrams. Each one sent is counted, received and
// taken, or received and `dropped` (the kernel's own count, SO_MEMINFO),
// none silently: received == sent, accepted + dropped == sent.
TEST_F(source_test, syslog_udp_counts_what_the_kernel_drops) {
  auto ch = channel(channel_config(50, 50));
  syslog_udp_config cfg;
  cfg.server.port = free_port();
  cfg.server.batch_size = 50;
  cfg.server.batch_timeout = 10ms;
  cfg.server.max_inflight = 1;
  cfg.server.receive_buffer = 4096; // the kernel's least: a few datagrams
  track(spawn_syslog_udp(sys, cfg, source_wiring("r1", "syslog_udp", ch)));
  auto m = registry_.find("a1.sources.r1");
  ASSERT_TRUE(wait_until([&] {
    send_datagram(cfg.server.port, "<14>1 - - - - - probe");
    return m->events_received.load() > 0;
  }));
  // Probes sent before the socket was bound went nowhere (no socket, no
  // count): start counting from what arrived.
  // A marker after the probes: once it is taken, every probe that will
  // ever arrive has (loopback keeps a socket's datagrams in order).
  ASSERT_TRUE(send_datagram(cfg.server.port, "<14>1 - - - - - marker"));
  bool marked = false;
  for (int i = 0; i < 1000 && !marked; ++i)
    for (auto& e : drain(self, ch, 1, 5s))
      marked = marked || e.body.ends_with("marker");
  ASSERT_TRUE(marked);
  auto base = m->events_received.load();
  const std::size_t n = 3000;
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_TRUE(send_datagram(cfg.server.port,
                              "<14>1 - - - - - " + std::string(200, 'x')));
  // The channel (50) fills; the socket's few datagrams wait; the rest
  // drop. The reader counts them once the channel lets it go on: drain
  // everything, then every datagram is accounted for.
  std::size_t taken = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        taken += drain(self, ch, 1, 100ms).size();
        return m->events_received.load() == base + n &&
               m->events_accepted.load() + m->events_dropped.load() == base + n;
      },
      20s))
      << m->summary();
  EXPECT_GT(m->events_dropped.load(), 0u);
  EXPECT_LT(m->events_dropped.load(), n);
}

// netcat_udp: a datagram is an event, one trailing newline removed and
// the newlines inside kept; the sender's ip:port in REMOTE_ADDRESS; a
// datagram longer than max_line_length cut and counted.
TEST_F(source_test, netcat_udp_takes_a_datagram_per_event) {
  auto ch = channel(channel_config(1000, 100));
  netcat_udp_config cfg;
  cfg.server.port = free_port();
  cfg.server.batch_size = 10;
  cfg.server.batch_timeout = 10ms;
  cfg.max_line_length = 100;
  track(spawn_netcat_udp(sys, cfg, source_wiring("r1", "netcat_udp", ch)));
  auto m = registry_.find("a1.sources.r1");
  ASSERT_TRUE(wait_until([&] {
    send_datagram(cfg.server.port, "probe\n");
    return m->events_received.load() > 0;
  }));
  ASSERT_TRUE(send_datagram(cfg.server.port, "a\nb\r\n"));
  ASSERT_TRUE(send_datagram(cfg.server.port, std::string(300, 'z')));
  batch events;
  for (int i = 0; i < 1000 && events.size() < 2; ++i) {
    auto got = drain(self, ch, 1, 5s);
    ASSERT_FALSE(got.empty()) << "nothing more arrived";
    for (auto& e : got)
      if (e.body != "probe") events.push_back(std::move(e));
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].body, "a\nb");
  EXPECT_EQ(header(events[0], "REMOTE_ADDRESS").rfind("127.0.0.1:", 0), 0u)
      << header(events[0], "REMOTE_ADDRESS");
  EXPECT_EQ(events[1].body, std::string(100, 'z'));
  EXPECT_TRUE(reaches(m->events_truncated, 1u));
}

// multiport_syslog_tcp: one source, a listener per port, each message with
// the port it came in on; validation refuses a port that is no port, and
// one listed twice.
TEST_F(source_test, multiport_syslog_tcp_names_the_port_of_each_message) {
  auto ch = channel(channel_config(1000, 100));
  auto cfg = tcp_config();
  auto p1 = free_port();
  auto p2 = free_port();
  while (p2 == p1)
    p2 = free_port();
  cfg.server.ports = {p1, p2};
  cfg.port_header = "port";
  track(spawn_syslog_tcp(sys, cfg, source_wiring("r1", "syslog_tcp", ch)));
  for (auto p : {p1, p2}) {
    tcp_client c{p};
    ASSERT_TRUE(c.connected()) << p;
    ASSERT_TRUE(
        c.write("<13>Oct 11 22:14:15 h app: on " + std::to_string(p) + "\n"));
  }
  auto events = drain(self, ch, 2);
  ASSERT_EQ(events.size(), 2u);
  for (auto& e : events)
    EXPECT_EQ(e.body, "app: on " + header(e, "port")) << e.body;
  EXPECT_NE(header(events[0], "port"), header(events[1], "port"));
}

TEST(syslog_config, multiport_ports_are_checked_where_written) {
  registry reg;
  register_builtin(reg);
  auto load = [&](const std::string& source) {
    std::string text = "agents:\n  a1:\n    sources:\n      m: " + source +
                       "\n    channels: {c1: {type: memory}}\n"
                       "    sinks: {k1: {type: \"null\", channel: c1}}\n";
    std::vector<std::string> out;
    for (auto& e : load_topology_text(text, "t.yaml", reg).errors)
      out.push_back(e.to_string());
    return out;
  };
  EXPECT_EQ(load("{type: multiport_syslog_tcp, ports: [25514, 25515], "
                 "channels: [c1]}"),
            strs{});
  EXPECT_EQ(load("{type: multiport_syslog_tcp, ports: [25514, x], "
                 "channels: [c1]}"),
            (strs{"t.yaml:4:46: agents.a1.sources.m.ports: 'x' is no TCP "
                  "port (0-65535)"}));
  EXPECT_EQ(load("{type: multiport_syslog_tcp, ports: [25514, 25514], "
                 "channels: [c1]}"),
            (strs{"t.yaml:4:46: agents.a1.sources.m.ports: port 25514 is "
                  "listed twice"}));
  EXPECT_EQ(load("{type: multiport_syslog_tcp, channels: [c1]}"),
            (strs{"t.yaml:4:10: agents.a1.sources.m: missing required key "
                  "'ports'"}));
}

// client_hostname_header: the name is looked up on the resolver's thread
// (never the reader's); until it answered, a message carries the address.
// Names are remembered: a second lookup of an address is the same entry.
TEST(name_resolver, looks_names_up_off_the_callers_thread) {
  name_resolver names;
  auto a = names.lookup("127.0.0.1");
  ASSERT_TRUE(wait_until([&] { return a->ready.load(); }));
  char want[NI_MAXHOST];
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&sa), sizeof(sa), want,
                    sizeof(want), nullptr, 0, NI_NAMEREQD) != 0)
    std::strcpy(want, "127.0.0.1");
  EXPECT_EQ(a->name, want);
  EXPECT_EQ(names.lookup("127.0.0.1"), a);
  auto bad = names.lookup("not an address");
  ASSERT_TRUE(wait_until([&] { return bad->ready.load(); }));
  EXPECT_EQ(bad->name, "not an address");
}

TEST_F(source_test, syslog_tcp_names_the_client_by_host_name) {
  auto ch = channel(channel_config(1000, 100));
  auto cfg = tcp_config();
  cfg.message.client_hostname_header = "sender";
  track(spawn_syslog_tcp(sys, cfg, source_wiring("r1", "syslog_tcp", ch)));
  name_resolver own;
  auto want = own.lookup("127.0.0.1");
  ASSERT_TRUE(wait_until([&] { return want->ready.load(); }));
  std::string got;
  // A client at a time until the source's lookup answered; each message
  // carries the address or, once known, the name.
  ASSERT_TRUE(wait_until([&] {
    tcp_client c{cfg.server.port};
    if (!c.connected() || !c.write("<13>Oct 11 22:14:15 h app: x\n"))
      return false;
    c.close();
    auto events = drain(self, ch, 1, 5s);
    if (events.empty()) return false;
    got = header(events[0], "sender");
    EXPECT_TRUE(got == "127.0.0.1" || got == want->name) << got;
    return got == want->name;
  })) << got;
}
