// syslog_tcp over TLS (RFC 5425), served by flumen's own OpenSSL sessions,
// against OpenSSL clients over real loopback sockets: messages arrive
// whatever the record boundaries; client certificates required, optional
// or not asked; a plain-text client, a client without a certificate, one
// with another CA's, and one that never completes its handshake are each
// closed and counted while the others are served; a stop still reads what
// a TLS client had sent; validation loads what it would run.

#include "actors/sources/syslog_sources.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <set>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "actors/builtin.hpp"
#include "runtime/config/topology.hpp"
#include "tests/support/manual_clock.hpp"
#include "tests/support/netcat.hpp"
#include "tests/support/ports.hpp"
#include "tests/unit/source_test.hpp"

using namespace flumen;
using namespace flumen::sources;
using namespace flumen::test;

namespace {

namespace fs = std::filesystem;

/// Certificates made once by tests/e2e/mkcerts.sh: `srv` (the source's),
/// `cli` (a client's, from another CA) and `other` (a third CA's).
class certificates {
public:
  static const certificates& get() {
    static certificates c;
    return c;
  }
  std::string path(const std::string& name) const {
    return (dir_ / name).string();
  }
  bool ok() const { return ok_; }

private:
  certificates() {
    dir_ = fs::temp_directory_path() /
           ("flumen-syslog-tls-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ok_ = true;
    for (auto name : {"srv", "cli", "other"}) {
      auto cmd = std::string{"bash "} + FLUMEN_SOURCE_DIR +
                 "/tests/e2e/mkcerts.sh " + dir_.string() + " " + name;
      ok_ = ok_ && std::system(cmd.c_str()) == 0;
    }
  }
  fs::path dir_;
  bool ok_ = false;
};

/// A TLS client on OpenSSL (not flumen's code): connects, checks the
/// server against srv-ca.pem, shows `cert` if given.
class tls_client {
public:
  tls_client(uint16_t port, const std::string& cert = {},
             const std::string& key = {})
      : tcp_{port} {
    // A refused client's write fails (EPIPE), not the test binary.
    std::signal(SIGPIPE, SIG_IGN);
    auto& certs = certificates::get();
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, certs.path("srv-ca.pem").c_str(),
                                  nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (!cert.empty()) {
      SSL_CTX_use_certificate_file(ctx_, cert.c_str(), SSL_FILETYPE_PEM);
      SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM);
    }
    if (!tcp_.connected()) return;
    // Each write leaves at once (loopback: it is in the source's socket
    // when write returns), not held by Nagle's algorithm for an ACK.
    int one = 1;
    ::setsockopt(tcp_.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, tcp_.fd());
    ERR_clear_error();
    // TLS 1.3: a refused client certificate shows at the first read or
    // write after this, not here.
    handshake_ok_ = SSL_connect(ssl_) == 1;
  }
  ~tls_client() {
    if (ssl_) SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  bool handshake_ok() const { return handshake_ok_; }

  bool write(const std::string& text) {
    std::size_t off = 0;
    while (off < text.size()) {
      // Small pieces: messages cross TLS records.
      int n = SSL_write(ssl_, text.data() + off,
                        static_cast<int>(std::min<std::size_t>(
                            text.size() - off, 1000 + off % 7)));
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  /// The server closed the connection (waits up to `patience`).
  bool closed_by_server(std::chrono::milliseconds patience = 5s) {
    pollfd p{tcp_.fd(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(patience.count())) != 1) return false;
    char byte;
    return SSL_read(ssl_, &byte, 1) <= 0;
  }
  /// Closes without close_notify, as most syslog senders do.
  void drop() { ::shutdown(tcp_.fd(), SHUT_RDWR); }

private:
  tcp_client tcp_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool handshake_ok_ = false;
};

std::string octet_counted(const std::string& msg) {
  return std::to_string(msg.size()) + " " + msg;
}

syslog_tcp_config tls_config(client_certificates clients) {
  auto& certs = certificates::get();
  syslog_tcp_config cfg;
  cfg.server.port = free_port();
  cfg.server.batch_size = 100;
  cfg.server.batch_timeout = 10ms;
  cfg.message.parse.structured = true; // the body is MSG alone
  cfg.message.parse.max_message_size = 200000;
  cfg.tls.certificate = certs.path("srv.pem");
  cfg.tls.key = certs.path("srv.key");
  if (clients != client_certificates::none)
    cfg.tls.ca_file = certs.path("cli-ca.pem");
  cfg.tls.clients = clients;
  return cfg;
}

} // namespace

// Octet-counted and LF-framed messages over TLS, one of 100 KB across
// many records, from a client with a certificate the source requires; a
// close without close_notify is the end of input, not a failure.
TEST_F(source_test, syslog_tcp_over_tls_reads_messages_across_records) {
  auto& certs = certificates::get();
  ASSERT_TRUE(certs.ok());
  auto ch = channel(channel_config(1000, 100));
  auto cfg = tls_config(client_certificates::required);
  track(spawn_syslog_tcp(sys, cfg, source_wiring("r1", "syslog_tcp", ch)));
  auto m = registry_.find("a1.sources.r1");
  std::string big(100000, 'b');
  {
    tls_client c{cfg.server.port, certs.path("cli.pem"), certs.path("cli.key")};
    ASSERT_TRUE(c.handshake_ok());
    ASSERT_TRUE(c.write(octet_counted("<13>1 - h a - - - one\ntwo") +
                        octet_counted("<13>1 - h a - - - " + big)));
    c.drop();
  }
  {
    tls_client c{cfg.server.port, certs.path("cli.pem"), certs.path("cli.key")};
    ASSERT_TRUE(c.handshake_ok());
    ASSERT_TRUE(c.write("<13>1 - h a - - - lf1\n<13>1 - h a - - - lf2\n"));
  }
  auto events = drain(self, ch, 4);
  ASSERT_EQ(events.size(), 4u);
  std::multiset<std::string> got;
  for (auto& e : events)
    got.insert(e.body);
  EXPECT_EQ(got, (std::multiset<std::string>{"one\ntwo", big, "lf1", "lf2"}));
  EXPECT_EQ(m->connection_failures.load(), 0u);
  EXPECT_TRUE(wait_until([&] { return m->connections_open.load() == 0; }));
}

// Required client certificates: a client without one, one signed by
// another CA and a plain-text client are each closed and counted; a good
// client on the same source is served meanwhile.
TEST_F(source_test, syslog_tcp_over_tls_refuses_clients_it_cannot_trust) {
  auto& certs = certificates::get();
  ASSERT_TRUE(certs.ok());
  auto ch = channel(channel_config(1000, 100));
  auto cfg = tls_config(client_certificates::required);
  track(spawn_syslog_tcp(sys, cfg, source_wiring("r1", "syslog_tcp", ch)));
  auto m = registry_.find("a1.sources.r1");
  tls_client good{cfg.server.port, certs.path("cli.pem"),
                  certs.path("cli.key")};
  ASSERT_TRUE(good.handshake_ok());
  {
    tls_client none{cfg.server.port};
    none.write(octet_counted("<13>1 - h a - - - no certificate"));
    EXPECT_TRUE(none.closed_by_server());
  }
  EXPECT_TRUE(reaches(m->connection_failures, 1u));
  {
    tls_client stranger{cfg.server.port, certs.path("other.pem"),
                        certs.path("other.key")};
    stranger.write(octet_counted("<13>1 - h a - - - another CA"));
    EXPECT_TRUE(stranger.closed_by_server());
  }
  EXPECT_TRUE(reaches(m->connection_failures, 2u));
  {
    tcp_client plain{cfg.server.port};
    ASSERT_TRUE(plain.connected());
    ASSERT_TRUE(plain.write("<13>1 - h a - - - plain text\n"));
    pollfd p{plain.fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
  }
  EXPECT_TRUE(reaches(m->connection_failures, 3u));
  ASSERT_TRUE(good.write(octet_counted("<13>1 - h a - - - trusted")));
  auto events = drain(self, ch, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].body, "trusted");
  EXPECT_EQ(m->events_received.load(), 1u);
  EXPECT_EQ(m->connection_failures.load(), 3u);
}

// Optional client certificates: one without any is taken, one with a
// certificate no CA of ca_file signed is refused.
TEST_F(source_test, syslog_tcp_over_tls_takes_optional_certificates) {
  auto& certs = certificates::get();
  ASSERT_TRUE(certs.ok());
  auto ch = channel(channel_config(1000, 100));
  auto cfg = tls_config(client_certificates::optional);
  track(spawn_syslog_tcp(sys, cfg, source_wiring("r1", "syslog_tcp", ch)));
  auto m = registry_.find("a1.sources.r1");
  {
    tls_client anonymous{cfg.server.port};
    ASSERT_TRUE(anonymous.handshake_ok());
    ASSERT_TRUE(anonymous.write(octet_counted("<13>1 - h a - - - anonymous")));
  }
  {
    tls_client stranger{cfg.server.port, certs.path("other.pem"),
                        certs.path("other.key")};
    stranger.write(octet_counted("<13>1 - h a - - - another CA"));
    EXPECT_TRUE(stranger.closed_by_server());
  }
  auto events = drain(self, ch, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].body, "anonymous");
  EXPECT_TRUE(reaches(m->connection_failures, 1u));
}

// A client that connects and never starts its handshake holds its place
// exactly handshake_timeout (virtual time: not a moment less), then is
// closed and counted.
TEST_F(source_test, syslog_tcp_over_tls_closes_a_client_at_handshake_timeout) {
  ASSERT_TRUE(certificates::get().ok());
  auto ch = channel(channel_config(1000, 100));
  auto cfg = tls_config(client_certificates::none);
  cfg.server.handshake_timeout = 2s;
  auto clock = std::make_shared<manual_clock>();
  cfg.server.time = clock;
  track(spawn_syslog_tcp(sys, cfg, source_wiring("r1", "syslog_tcp", ch)));
  auto m = registry_.find("a1.sources.r1");
  tcp_client silent{cfg.server.port};
  ASSERT_TRUE(silent.connected());
  ASSERT_TRUE(wait_until([&] { return m->connections_open.load() == 1; }));
  clock->freeze();
  auto closed = [&] {
    pollfd p{silent.fd(), POLLIN, 0};
    char byte;
    return ::poll(&p, 1, 0) == 1 &&
           ::recv(silent.fd(), &byte, 1, MSG_DONTWAIT) == 0;
  };
  clock->advance(1900ms);
  ASSERT_TRUE(clock->settle());
  EXPECT_FALSE(closed()) << "closed before handshake_timeout";
  EXPECT_EQ(m->connection_failures.load(), 0u);
  clock->advance(200ms);
  ASSERT_TRUE(clock->settle());
  clock->resume();
  EXPECT_TRUE(wait_until(closed));
  EXPECT_TRUE(reaches(m->connection_failures, 1u));
  EXPECT_TRUE(wait_until([&] { return m->connections_open.load() == 0; }));
}

// A stop reads what a TLS client still connected had sent, through the
// end of its last whole message, and hands it over.
TEST_F(source_test, syslog_tcp_over_tls_stop_reads_what_was_sent) {
  ASSERT_TRUE(certificates::get().ok());
  auto ch = channel(channel_config(100000, 1000));
  auto cfg = tls_config(client_certificates::none);
  cfg.server.batch_size = 1000;
  cfg.server.batch_timeout = std::chrono::hours{1};
  auto src =
      track(spawn_syslog_tcp(sys, cfg, source_wiring("r1", "syslog_tcp", ch)));
  auto m = registry_.find("a1.sources.r1");
  tls_client c{cfg.server.port};
  ASSERT_TRUE(c.handshake_ok());
  std::string all;
  for (int i = 0; i < 500; ++i)
    all += octet_counted("<13>1 - h a - - - m" + std::to_string(i));
  ASSERT_TRUE(c.write(all));
  ASSERT_TRUE(wait_until([&] { return m->connections_open.load() == 1; }));
  EXPECT_TRUE(stop(src));
  auto events = drain(self, ch, 500);
  EXPECT_EQ(events.size(), 500u);
  EXPECT_EQ(m->events_received.load(), 500u);
  EXPECT_EQ(m->events_undelivered.load(), 0u);
}

// `validate` loads the TLS files as the source would: a key of another
// certificate, client certificates without ca_file, and an unknown
// client_certificates value are located errors.
TEST(syslog_config, tls_is_checked_where_written) {
  auto& certs = certificates::get();
  ASSERT_TRUE(certs.ok());
  registry reg;
  register_builtin(reg);
  auto errors = [&](const std::string& tls) {
    auto text = "agents:\n  a:\n    sources:\n      s:\n        type: "
                "syslog_tcp\n        port: 6514\n        channels: [c]\n"
                "        tls: " +
                tls +
                "\n    channels:\n      c: {type: memory}\n    sinks:\n"
                "      k: {type: \"null\", channel: c}\n";
    std::string all;
    for (auto& e : load_topology_text(text, "t.yaml", reg).errors)
      all += e.to_string() + "\n";
    return all;
  };
  auto srv = certs.path("srv.pem"), srv_key = certs.path("srv.key");
  EXPECT_EQ(errors("{certificate: " + srv + ", key: " + srv_key + "}"), "");
  EXPECT_EQ(errors("{certificate: " + srv + ", key: " + srv_key +
                   ", ca_file: " + certs.path("cli-ca.pem") +
                   ", client_certificates: optional}"),
            "");
  auto wrong_key =
      errors("{certificate: " + srv + ", key: " + certs.path("cli.key") + "}");
  EXPECT_NE(wrong_key.find("agents.a.sources.s.tls: "), std::string::npos)
      << wrong_key;
  EXPECT_NE(wrong_key.find("does not match"), std::string::npos) << wrong_key;
  auto no_ca = errors("{certificate: " + srv + ", key: " + srv_key +
                      ", client_certificates: required}");
  EXPECT_NE(no_ca.find("tls.client_certificates: client certificates are "
                       "checked against ca_file"),
            std::string::npos)
      << no_ca;
  auto bad_choice = errors("{certificate: " + srv + ", key: " + srv_key +
                           ", client_certificates: maybe}");
  EXPECT_NE(bad_choice.find("tls.client_certificates"), std::string::npos)
      << bad_choice;
  auto missing =
      errors("{certificate: /nonexistent.pem, key: " + srv_key + "}");
  EXPECT_NE(missing.find("tls.certificate: cannot read"), std::string::npos)
      << missing;
}
