#include "runtime/avro/ip_filter.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

namespace flumen::avro {

namespace {

bool parse_address(const std::string& text, bool& v6, uint8_t* out) {
  if (inet_pton(AF_INET, text.c_str(), out) == 1) {
    v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), out) == 1) {
    v6 = true;
    return true;
  }
  return false;
}

bool prefix_matches(const uint8_t* a, const uint8_t* b, unsigned bits) {
  unsigned whole = bits / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  if (auto rest = bits % 8) {
    auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
  }
  return true;
}

} // namespace

std::optional<ip_rule> parse_ip_rule(std::string_view text, std::string& why) {
  ip_rule r;
  auto colon = text.find(':');
  auto verdict = text.substr(0, colon);
  if (colon == std::string_view::npos ||
      (verdict != "allow" && verdict != "deny")) {
    why = "'" + std::string{text} +
          "' is not allow:CIDR, deny:CIDR, allow:* or deny:*";
    return std::nullopt;
  }
  r.allow = verdict == "allow";
  auto block = text.substr(colon + 1);
  if (block == "*") {
    r.any = true;
    return r;
  }
  auto slash = block.find('/');
  std::string addr{block.substr(0, slash)};
  if (!parse_address(addr, r.v6, r.net.data())) {
    why = "'" + addr + "' is not an IPv4 or IPv6 address";
    return std::nullopt;
  }
  unsigned max = r.v6 ? 128 : 32;
  r.prefix = max;
  if (slash != std::string_view::npos) {
    auto bits = block.substr(slash + 1);
    unsigned n = 0;
    auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
    if (ec != std::errc{} || end != bits.data() + bits.size() || n > max) {
      why = "'/" + std::string{bits} + "' is no prefix length of 0 to " +
            std::to_string(max);
      return std::nullopt;
    }
    r.prefix = n;
  }
  return r;
}

bool ip_filter::allows(bool v6, const uint8_t* addr) const {
  for (auto& r : rules_) {
    if (r.any || (r.v6 == v6 && prefix_matches(addr, r.net.data(), r.prefix)))
      return r.allow;
  }
  return true;
}

bool ip_filter::allows(const sockaddr* peer) const {
  if (rules_.empty()) return true;
  if (peer->sa_family == AF_INET) {
    auto in = reinterpret_cast<const sockaddr_in*>(peer);
    return allows(false, reinterpret_cast<const uint8_t*>(&in->sin_addr));
  }
  if (peer->sa_family == AF_INET6) {
    auto in6 = reinterpret_cast<const sockaddr_in6*>(peer);
    auto a = reinterpret_cast<const uint8_t*>(&in6->sin6_addr);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return allows(false, a + 12);
    return allows(true, a);
  }
  // Not IP (never for TCP): only `*` rules match it.
  for (auto& r : rules_)
    if (r.any) return r.allow;
  return true;
}

bool ip_filter::allows(std::string_view address) const {
  uint8_t a[16];
  bool v6 = false;
  if (!parse_address(std::string{address}, v6, a)) return false;
  if (v6 && IN6_IS_ADDR_V4MAPPED(reinterpret_cast<in6_addr*>(a)))
    return allows(false, a + 12);
  return allows(v6, a);
}

} // namespace flumen::avro
