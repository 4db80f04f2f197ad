#pragma once

// The avro source's `ip_filter`: allow and deny rules on the peer's
// address, first match wins, no match allows (Flume's ipFilterRules, with
// CIDR blocks where Flume has wildcard patterns).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sockaddr;

namespace flumen::avro {

/// One rule: `allow:10.0.0.0/8`, `deny:2001:db8::/32`, `deny:*`.
struct ip_rule {
  bool allow = true;
  bool any = false;              ///< `*`: every address
  bool v6 = false;               ///< the block is IPv6
  std::array<uint8_t, 16> net{}; ///< the block's address
  unsigned prefix = 0;           ///< bits of `net` that must match
};

/// Reads `allow:CIDR`, `deny:CIDR` or `allow:*`/`deny:*` (an address
/// without `/n` is one host); nullopt with `why` set when it is not one.
std::optional<ip_rule> parse_ip_rule(std::string_view text, std::string& why);

/// The rules in order; empty allows every peer.
class ip_filter {
public:
  ip_filter() = default;
  explicit ip_filter(std::vector<ip_rule> rules) : rules_(std::move(rules)) {}

  /// First matching rule's verdict; true when none matches. An
  /// IPv4-mapped IPv6 address (::ffff:a.b.c.d) is matched as IPv4.
  bool allows(const sockaddr* peer) const;
  /// The same for a numeric address string (tests, logs).
  bool allows(std::string_view address) const;
  bool empty() const { return rules_.empty(); }

private:
  bool allows(bool v6, const uint8_t* addr) const;
  std::vector<ip_rule> rules_;
};

} // namespace flumen::avro
