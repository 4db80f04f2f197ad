#include "actors/sources/name_resolver.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <arpa/inet.h>

namespace flumen::sources {

namespace {

constexpr std::size_t max_names = 4096;

/// The host name of `ip` (numeric), or `ip` when it has none.
std::string name_of(const std::string& ip) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    len = sizeof(sockaddr_in6);
  } else {
    return ip;
  }
  char host[NI_MAXHOST];
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof(host),
                    nullptr, 0, NI_NAMEREQD) != 0)
    return ip;
  return host;
}

} // namespace

struct name_resolver::state {
  std::mutex mtx;
  std::condition_variable cv;
  std::deque<std::pair<std::string, std::shared_ptr<resolved_name>>> queue;
  std::unordered_map<std::string, std::shared_ptr<resolved_name>> known;
  bool stopping = false;
};

name_resolver::name_resolver() : state_(std::make_shared<state>()) {
  std::thread{[s = state_] {
    std::unique_lock lock{s->mtx};
    for (;;) {
      s->cv.wait(lock, [&] { return s->stopping || !s->queue.empty(); });
      if (s->stopping) return;
      auto [ip, entry] = std::move(s->queue.front());
      s->queue.pop_front();
      lock.unlock();
      auto name = name_of(ip);
      lock.lock();
      entry->name = std::move(name);
      entry->ready.store(true, std::memory_order_release);
    }
  }}.detach();
}

name_resolver::~name_resolver() {
  std::lock_guard lock{state_->mtx};
  state_->stopping = true;
  state_->cv.notify_all();
}

std::shared_ptr<resolved_name> name_resolver::lookup(const std::string& ip) {
  std::lock_guard lock{state_->mtx};
  if (auto i = state_->known.find(ip); i != state_->known.end())
    return i->second;
  // Bounded: forgetting them all now and then is cheaper than an LRU, and
  // a source rarely has more clients than this.
  if (state_->known.size() >= max_names) state_->known.clear();
  auto entry = std::make_shared<resolved_name>();
  if (state_->queue.size() >= max_names) {
    // More new clients than lookups keep up with: these get their address.
    entry->name = ip;
    entry->ready.store(true, std::memory_order_release);
    return entry;
  }
  state_->known.emplace(ip, entry);
  state_->queue.emplace_back(ip, entry);
  state_->cv.notify_one();
  return entry;
}

} // namespace flumen::sources
