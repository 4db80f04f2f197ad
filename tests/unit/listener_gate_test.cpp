// The listener gate (runtime/net/listener_gate.hpp): the BASP stream check on
// its own (pure), the bound of a hop source's messages against real hop
// batches, and admission over real loopback sockets (counting, making room,
// handshake timeouts, forgetting closed sockets). The wrappers that put the
// gate between CAF and its sockets are tested end to end
// (tests/e2e/hostile_peers.sh).

#include "runtime/net/listener_gate.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/metrics.hpp"
#include "runtime/wire/hop_wire.hpp"

using namespace flumen;
using namespace flumen::listener_gate;

namespace {

using bytes = std::vector<unsigned char>;

bytes header(uint8_t op, uint32_t len, uint64_t data = 0, uint64_t src = 0,
             uint64_t dst = 0, uint8_t flags = 0) {
  bytes h(32, 0);
  h[0] = op;
  h[3] = flags;
  for (int i = 0; i < 4; ++i)
    h[4 + i] = static_cast<unsigned char>(len >> (24 - 8 * i));
  for (int i = 0; i < 8; ++i) {
    h[8 + i] = static_cast<unsigned char>(data >> (56 - 8 * i));
    h[16 + i] = static_cast<unsigned char>(src >> (56 - 8 * i));
    h[24 + i] = static_cast<unsigned char>(dst >> (56 - 8 * i));
  }
  return h;
}

bytes message(uint8_t op, uint32_t len, uint64_t dst = 0) {
  auto m = header(op, len, 0, 0, dst);
  m.resize(m.size() + len, 0x5a);
  return m;
}

/// What a real client sends first: a handshake with a 32-byte node id.
bytes handshake() {
  return message(1, 32);
}

bytes operator+(bytes a, const bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

constexpr std::size_t bound = 1 << 20;

/// Feeds `b` in pieces of `piece` bytes; the first refusal, or "".
std::string feed(basp_stream& s, const bytes& b, std::size_t piece,
                 std::size_t max = bound) {
  for (std::size_t i = 0; i < b.size(); i += piece) {
    auto why = s.feed(b.data() + i, std::min(piece, b.size() - i), max);
    if (!why.empty()) return why;
  }
  return {};
}

} // namespace

TEST(basp_stream, a_real_clients_stream_passes_however_it_is_split) {
  auto stream = handshake() + message(6, 0) + message(2, 1000, 7) +
                message(2, bound, 7) + message(4, 64) + message(6, 0);
  for (std::size_t piece : {1ul, 7ul, 31ul, 32ul, 33ul, 4096ul, 1ul << 21}) {
    basp_stream s;
    EXPECT_EQ(feed(s, stream, piece), "") << "pieces of " << piece;
    EXPECT_TRUE(s.handshake_done());
    EXPECT_EQ(s.headers(), 6u);
  }
}

TEST(basp_stream, the_handshake_is_done_only_once_its_payload_is_in) {
  basp_stream s;
  auto hs = handshake();
  EXPECT_EQ(s.feed(hs.data(), hs.size() - 1, bound), "");
  EXPECT_FALSE(s.handshake_done());
  EXPECT_EQ(s.feed(hs.data() + hs.size() - 1, 1, bound), "");
  EXPECT_TRUE(s.handshake_done());
}

TEST(basp_stream, a_header_over_the_bound_is_refused_before_its_payload) {
  basp_stream s;
  ASSERT_EQ(feed(s, handshake(), 64), "");
  auto h = header(2, 0xFFFFFFFF, 0, 0, 7);
  // The read that completes the header is refused: CAF never sees it.
  auto why = s.feed(h.data(), h.size(), bound);
  EXPECT_NE(why.find("a BASP direct message announcing 4294967295 bytes, "
                     "more than 1048576"),
            std::string::npos)
      << why;
  // And every later read.
  unsigned char more[8] = {};
  EXPECT_EQ(s.feed(more, sizeof more, bound), why);
}

TEST(basp_stream, the_bound_is_the_one_given_with_each_read) {
  // One byte over it, then the same message under a larger bound.
  basp_stream a;
  EXPECT_NE(feed(a, handshake() + message(2, bound + 1, 7), 4096), "");
  basp_stream b;
  EXPECT_EQ(feed(b, handshake() + message(2, bound + 1, 7), 4096, bound + 1),
            "");
}

TEST(basp_stream, a_handshake_is_bounded_on_its_own) {
  basp_stream s;
  auto why = feed(s, header(1, basp_stream::max_handshake_bytes + 1), 32);
  EXPECT_NE(why.find("a BASP client handshake announcing 65537 bytes, more "
                     "than 65536 (a handshake's bound)"),
            std::string::npos)
      << why;
  basp_stream ok;
  EXPECT_EQ(feed(ok, message(1, basp_stream::max_handshake_bytes), 4096), "");
}

TEST(basp_stream, what_caf_would_crash_on_or_drop_silently_is_refused) {
  struct bad_case {
    bytes stream;
    std::string reason;
  };
  std::vector<bad_case> cases{
      {header(1, 0), "a BASP client handshake without payload"},
      {header(2, 10, 0, 0, 7), "the first message is a BASP direct message, "
                               "not a client handshake"},
      {header(6, 0), "the first message is a BASP heartbeat"},
      {header(0, 49, 3), "the first message is a BASP server handshake"},
      {handshake() + header(0, 49, 3), "a BASP server handshake from a "
                                       "connecting peer"},
      {header(7, 0), "not a BASP header (operation byte 7)"},
      {header(0x47, 0), "not a BASP header (operation byte 71)"},
      {header(1, 32, 0, 5, 0), "malformed BASP client handshake header"},
      {handshake() + header(2, 10, 0, 0, 0), "malformed BASP direct message"},
      {handshake() + header(3, 0, 0, 0, 7), "malformed BASP routed message"},
      {handshake() + header(4, 10, 1), "malformed BASP monitor message"},
      {handshake() + header(5, 10, 0, 0, 0), "malformed BASP down message"},
      {handshake() + header(6, 1), "malformed BASP heartbeat"},
  };
  for (auto& c : cases) {
    basp_stream s;
    auto why = feed(s, c.stream, 1);
    EXPECT_NE(why.find(c.reason), std::string::npos)
        << "expected '" << c.reason << "', got '" << why << "'";
  }
}

TEST(basp_stream, random_bytes_are_refused_within_their_first_header) {
  std::mt19937 rng{15};
  for (int peer = 0; peer < 1000; ++peer) {
    bytes b(4096);
    for (auto& x : b)
      x = static_cast<unsigned char>(rng());
    basp_stream s;
    std::string why;
    std::size_t fed = 0;
    while (why.empty() && fed < b.size()) {
      why = s.feed(b.data() + fed, 1, bound);
      ++fed;
    }
    // A random first header is never a valid client handshake (its actor
    // ids would have to be zero).
    EXPECT_EQ(fed, 32u) << "peer " << peer << ": " << why;
  }
}

TEST(hop_message_bytes,
     holds_a_full_batch_of_incompressible_events_in_any_codec) {
  std::mt19937_64 rng{1};
  for (std::size_t max : {std::size_t{64} << 10, std::size_t{1} << 20}) {
    // Events of random bodies filling max_batch_bytes (what the sink cuts
    // batches to), encoded by every codec.
    batch b;
    std::size_t size = 0;
    while (true) {
      event e;
      e.body.resize(4000);
      for (auto& c : e.body)
        c = static_cast<char>(rng());
      if (size + hop::encoded_size(e) > max) break;
      size += hop::encoded_size(e);
      b.push_back(std::move(e));
    }
    for (auto c : {hop::codec::none, hop::codec::lz4, hop::codec::zstd}) {
      auto buffer = hop::encode(b, c);
      // The CAF message around it has 1 MiB of the bound to itself.
      EXPECT_LE(buffer.size() + (1u << 20), hop_message_bytes(max))
          << hop::to_string(c) << " at " << max;
    }
  }
}

namespace {

/// A loopback listener and clients connected to it; the accepted ends are
/// what CAF would get from `accept`.
struct loopback {
  int listener = -1;
  uint16_t port = 0;
  std::vector<int> clients;

  loopback() {
    listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener, 64);
    socklen_t len = sizeof a;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }

  ~loopback() {
    for (auto fd : clients)
      ::close(fd);
    ::close(listener);
  }

  /// Connects a client; returns the accepted end.
  int connect() {
    int c = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
    clients.push_back(c);
    return ::accept(listener, nullptr, nullptr);
  }

  /// True once client `i` sees its connection end (within `d`).
  bool ended(std::size_t i, std::chrono::milliseconds d) {
    pollfd p{clients[i], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(d.count())) != 1) return false;
    char buf[64];
    return ::recv(clients[i], buf, sizeof buf, MSG_DONTWAIT) <= 0;
  }
};

/// The gate's side of an accepted socket, as the wrappers use it.
bool read_through_gate(int fd, const bytes& b) {
  auto* c = hooks::find(fd);
  return c && hooks::claim(*c, hooks::transport::plain) &&
         hooks::inspect(*c, b.data(), b.size());
}

void close_through_gate(int fd) {
  hooks::forget(fd);
  ::close(fd);
}

} // namespace

TEST(listener_gate, counts_sockets_makes_room_and_times_out_handshakes) {
  loopback lo;
  auto metrics = std::make_shared<component_metrics>();
  limits l;
  l.name = "test.sources.r1";
  l.max_message_bytes = bound;
  l.max_connections = 2;
  l.handshake_timeout = std::chrono::milliseconds{300};
  l.metrics = metrics;
  auto reg = add(l, lo.port);
  auto open_before = open_sockets();
  auto refusals_before = refusals();

  // Two sockets: one completes its handshake, one never speaks.
  int established = lo.connect();
  int silent = lo.connect();
  ASSERT_TRUE(hooks::admit(established));
  ASSERT_TRUE(hooks::admit(silent));
  EXPECT_EQ(open_sockets(), open_before + 2);
  ASSERT_TRUE(read_through_gate(established, handshake()));
  EXPECT_EQ(hooks::find(12345), nullptr);

  // A third while both are open: the one still in its handshake makes room.
  int third = lo.connect();
  ASSERT_TRUE(hooks::admit(third));
  EXPECT_TRUE(lo.ended(1, std::chrono::seconds{5}));
  EXPECT_TRUE(hooks::refused(*hooks::find(silent)));
  EXPECT_FALSE(read_through_gate(silent, message(6, 0)));
  EXPECT_EQ(refusals(), refusals_before + 1);
  EXPECT_EQ(metrics->connection_failures, 1u);

  // The third never speaks: timed out, while the established one, accepted
  // earlier, is not.
  EXPECT_TRUE(lo.ended(2, std::chrono::seconds{5}));
  EXPECT_FALSE(lo.ended(0, std::chrono::milliseconds{0}));
  EXPECT_TRUE(read_through_gate(established, message(2, 100, 7)));
  EXPECT_EQ(metrics->connection_failures, 2u);

  // Both closed by "CAF": a fourth fits although refused sockets were open.
  close_through_gate(silent);
  close_through_gate(third);
  EXPECT_EQ(open_sockets(), open_before + 1);
  int fourth = lo.connect();
  ASSERT_TRUE(hooks::admit(fourth));
  // Full again with both established: a fifth is refused at once.
  ASSERT_TRUE(read_through_gate(fourth, handshake()));
  int fifth = lo.connect();
  EXPECT_FALSE(hooks::admit(fifth));
  ::close(fifth);
  EXPECT_EQ(metrics->connection_failures, 3u);

  // A header over the bound fails the read and shuts the socket down.
  EXPECT_FALSE(read_through_gate(fourth, header(2, bound + 1, 0, 0, 7)));
  EXPECT_TRUE(lo.ended(3, std::chrono::seconds{5}));
  EXPECT_EQ(metrics->connection_failures, 4u);

  close_through_gate(established);
  close_through_gate(fourth);
  EXPECT_EQ(open_sockets(), open_before);
  // Forgotten: the numbers may be given to anything else now.
  EXPECT_EQ(hooks::find(established), nullptr);
  EXPECT_EQ(hooks::find(fourth), nullptr);
}

TEST(listener_gate, a_socket_is_read_one_way_only) {
  loopback lo;
  limits l;
  l.name = "test.sources.r2";
  auto reg = add(l, lo.port);
  int fd = lo.connect();
  ASSERT_TRUE(hooks::admit(fd));
  auto* c = hooks::find(fd);
  ASSERT_NE(c, nullptr);
  // The first read decides: a TLS socket's raw bytes (read by OpenSSL, not
  // through `recv`) are never taken for BASP, and the other way round.
  EXPECT_TRUE(hooks::claim(*c, hooks::transport::tls));
  EXPECT_FALSE(hooks::claim(*c, hooks::transport::plain));
  EXPECT_TRUE(hooks::claim(*c, hooks::transport::tls));
  close_through_gate(fd);
}
