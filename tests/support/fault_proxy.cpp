// A small fault-injecting TCP proxy for the hop tests: forwards every
// connection on 127.0.0.1:LISTEN to 127.0.0.1:TARGET and breaks it on
// purpose.
//
//   fault_proxy LISTEN TARGET [--cut-every BYTES] [--drop-acks-every BYTES]
//               [--throttle BYTES_PER_S]
//
// --cut-every N        closes a connection (both sides, at once) after every
//                      N bytes sent upstream: mid-batch, since N is not a
//                      batch boundary.
// --drop-acks-every N  after every N bytes sent upstream, forwards nothing
//                      back any more (the answers to what was just sent are
//                      swallowed) while still forwarding upstream, and closes
//                      the connection 300 ms later: the receiver accepted
//                      batches whose senders never hear so.
// --throttle R         forwards upstream (towards TARGET) at most R bytes
//                      per second per connection (a slow link; answers go
//                      back at full speed): reads from the client only as
//                      the budget allows, so the sender's TCP buffers fill
//                      as over a real slow link.
// SIGUSR1              closes every connection now.
// It prints "ready" when it listens, and counts what it did on exit
// (SIGTERM): "cuts=N drops=M".

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile std::sig_atomic_t cut_now = 0;
volatile std::sig_atomic_t quit = 0;

using clock_type = std::chrono::steady_clock;

struct conn {
  int down = -1; ///< the client's side
  int up = -1;   ///< the target's side
  uint64_t sent_up = 0;
  uint64_t next_fault = 0;
  clock_type::time_point opened{}; ///< the throttle's budget counts from here
  bool swallowing = false;
  clock_type::time_point close_at{};
};

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    auto w = ::write(fd, p, n);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

void close_link(conn& l) {
  if (l.down >= 0) ::close(l.down);
  if (l.up >= 0) ::close(l.up);
  l.down = l.up = -1;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s LISTEN TARGET [--cut-every N] "
                 "[--drop-acks-every N] [--throttle BYTES_PER_S]\n",
                 argv[0]);
    return 2;
  }
  auto listen_port = static_cast<uint16_t>(std::atoi(argv[1]));
  auto target = static_cast<uint16_t>(std::atoi(argv[2]));
  uint64_t cut_every = 0;
  uint64_t drop_every = 0;
  uint64_t throttle = 0;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string opt = argv[i];
    auto v = std::strtoull(argv[i + 1], nullptr, 10);
    if (opt == "--cut-every")
      cut_every = v;
    else if (opt == "--drop-acks-every")
      drop_every = v;
    else if (opt == "--throttle")
      throttle = v;
    else
      return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGUSR1, [](int) { cut_now = 1; });
  std::signal(SIGTERM, [](int) { quit = 1; });
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(listen_port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(lfd, 64) != 0) {
    std::perror("fault_proxy: listen");
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  std::vector<conn> links;
  uint64_t cuts = 0;
  uint64_t drops = 0;
  std::vector<char> buf(1 << 16);
  auto fault_every = cut_every != 0 ? cut_every : drop_every;
  while (!quit) {
    if (cut_now) {
      cut_now = 0;
      for (auto& l : links)
        if (l.down >= 0) {
          close_link(l);
          ++cuts;
        }
    }
    auto now = clock_type::now();
    for (auto& l : links)
      if (l.swallowing && l.down >= 0 && now >= l.close_at) close_link(l);
    std::erase_if(links, [](const conn& l) { return l.down < 0; });
    // Upstream bytes a connection may still send now under --throttle.
    auto budget = [&](const conn& l) -> uint64_t {
      if (throttle == 0) return buf.size();
      auto secs = std::chrono::duration<double>(now - l.opened).count();
      auto allowed =
          static_cast<uint64_t>(secs * static_cast<double>(throttle));
      return allowed > l.sent_up
                 ? std::min<uint64_t>(allowed - l.sent_up, buf.size())
                 : 0;
    };
    std::vector<pollfd> fds;
    fds.push_back({lfd, POLLIN, 0});
    for (auto& l : links) {
      // Out of budget: the client's bytes wait in its socket (poll wakes
      // every 20 ms to see the budget grow).
      short down_events = budget(l) > 0 ? POLLIN : 0;
      fds.push_back({l.down, down_events, 0});
      fds.push_back({l.up, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), throttle != 0 ? 5 : 20) < 0) continue;
    now = clock_type::now();
    if (fds[0].revents & POLLIN) {
      int c = ::accept(lfd, nullptr, nullptr);
      if (c >= 0) {
        int u = connect_to(target);
        if (u < 0) {
          ::close(c);
        } else {
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conn l;
          l.down = c;
          l.up = u;
          l.next_fault = fault_every;
          l.opened = clock_type::now();
          links.push_back(l);
        }
      }
    }
    for (std::size_t i = 0; i < links.size(); ++i) {
      auto& l = links[i];
      auto& fd_down = fds[1 + 2 * i];
      auto& fd_up = fds[2 + 2 * i];
      if (l.down < 0) continue;
      if (fd_down.revents & (POLLIN | POLLHUP | POLLERR)) {
        auto room = budget(l);
        if (room == 0) room = 1; // a hang-up is read as 0 bytes
        auto n = ::read(l.down, buf.data(), room);
        if (n <= 0) {
          close_link(l);
          continue;
        }
        auto len = static_cast<uint64_t>(n);
        if (fault_every != 0 && !l.swallowing &&
            l.sent_up + len >= l.next_fault) {
          if (cut_every != 0) {
            // Forward up to the fault point, then break the link.
            auto part = l.next_fault - l.sent_up;
            write_all(l.up, buf.data(), part);
            close_link(l);
            ++cuts;
            continue;
          }
          l.swallowing = true;
          l.close_at = clock_type::now() + std::chrono::milliseconds{300};
          ++drops;
        }
        if (!write_all(l.up, buf.data(), len)) {
          close_link(l);
          continue;
        }
        l.sent_up += len;
      }
      if (l.down >= 0 && (fd_up.revents & (POLLIN | POLLHUP | POLLERR))) {
        auto n = ::read(l.up, buf.data(), buf.size());
        if (n <= 0) {
          close_link(l);
          continue;
        }
        if (l.swallowing) continue; // the answers are lost
        if (!write_all(l.down, buf.data(), static_cast<std::size_t>(n)))
          close_link(l);
      }
    }
  }
  std::printf("cuts=%llu drops=%llu\n", static_cast<unsigned long long>(cuts),
              static_cast<unsigned long long>(drops));
  return 0;
}
