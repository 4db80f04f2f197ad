#include "actors/interceptors/host.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

namespace flumen::interceptors {

/// The options of the `host` interceptor (docs/reference/interceptors/host.md
/// shows them, generated).
const option_list& host_options() {
  static const option_list table = {
      {.name = "host_header",
       .kind = option_kind::string,
       .type = "string, not empty",
       .doc = "the header set"},
      {.name = "use_ip",
       .kind = option_kind::boolean,
       .doc = "the first non-loopback IPv4 address (`127.0.0.1` when there "
              "is none: `host.sets_the_ip_address_by_default`); `false`: "
              "the hostname (`host.sets_the_hostname_when_asked`)"},
      {.name = "preserve_existing",
       .kind = option_kind::boolean,
       .doc = "keep a header that is already there "
              "(`host.preserve_existing_keeps_a_header_already_set`)"},
  };
  return table;
}

host_config parse_host(option_reader& r) {
  option_scope scope{r, host_options()};
  host_config cfg;
  cfg.host_header = r.str("host_header", cfg.host_header);
  cfg.use_ip = r.boolean("use_ip", cfg.use_ip);
  cfg.preserve_existing = r.boolean("preserve_existing", cfg.preserve_existing);
  if (cfg.host_header.empty()) r.invalid("host_header", "must not be empty");
  return cfg;
}

std::string local_host(bool use_ip) {
  if (!use_ip) {
    char name[256] = {};
    if (::gethostname(name, sizeof(name) - 1) == 0) return name;
    return "localhost";
  }
  std::string found = "127.0.0.1";
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return found;
  for (auto* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    auto* in = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    if (ntohl(in->sin_addr.s_addr) >> 24 == 127) continue;
    char buf[INET_ADDRSTRLEN];
    if (::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf))) {
      found = buf;
      break;
    }
  }
  ::freeifaddrs(list);
  return found;
}

namespace {

class host final : public interceptor {
public:
  explicit host(const host_config& cfg)
      : cfg_(cfg), value_(local_host(cfg.use_ip)) {}

  std::size_t apply(batch& events) override {
    for (auto& e : events) {
      if (cfg_.preserve_existing)
        e.headers.emplace(cfg_.host_header, value_);
      else
        e.headers.insert_or_assign(cfg_.host_header, value_);
    }
    return 0;
  }

private:
  host_config cfg_;
  std::string value_; // looked up once, not per event
};

} // namespace

std::unique_ptr<interceptor> make_host(const host_config& cfg) {
  return std::make_unique<host>(cfg);
}

} // namespace flumen::interceptors
