#include "actors/interceptors/uuid.hpp"

#include <array>

namespace flumen::interceptors {

/// The options of the `uuid` interceptor
/// (docs/reference/interceptors/uuid.md shows them, generated).
const option_list& uuid_options() {
  static const option_list table = {
      {.name = "header_name",
       .kind = option_kind::string,
       .type = "string, not empty",
       .doc = "the header set, to `prefix` and a random version 4 UUID "
              "(`uuid.sets_a_distinct_version_4_uuid_per_event`)"},
      {.name = "preserve_existing",
       .kind = option_kind::boolean,
       .doc = "keep a header that is already there "
              "(`uuid.preserve_existing_keeps_a_header_already_set`)"},
      {.name = "prefix",
       .kind = option_kind::string,
       .doc = "put before each UUID"},
  };
  return table;
}

uuid_config parse_uuid(option_reader& r) {
  option_scope scope{r, uuid_options()};
  uuid_config cfg;
  cfg.header_name = r.str("header_name", cfg.header_name);
  cfg.preserve_existing = r.boolean("preserve_existing", cfg.preserve_existing);
  cfg.prefix = r.str("prefix", cfg.prefix);
  if (cfg.header_name.empty()) r.invalid("header_name", "must not be empty");
  return cfg;
}

namespace {
/// A version 4 UUID's 36 characters, on the stack.
struct uuid_chars {
  char text[36];
  operator std::string_view() const { return {text, sizeof text}; }
};

uuid_chars random_uuid_digits(std::mt19937_64& gen) {
  auto hi = gen();
  auto lo = gen();
  hi = (hi & ~uint64_t{0xF000}) | 0x4000;                     // version 4
  lo = (lo & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60); // variant 10
  static constexpr char hex[] = "0123456789abcdef";
  uuid_chars out;
  std::size_t at = 0;
  auto put = [&](uint64_t v) {
    for (int d = 15; d >= 0; --d) {
      if (at == 8 || at == 13 || at == 18 || at == 23) out.text[at++] = '-';
      out.text[at++] = hex[(v >> (4 * d)) & 0xF];
    }
  };
  put(hi);
  put(lo);
  return out;
}
} // namespace

std::string random_uuid(std::mt19937_64& gen) {
  auto hi = gen();
  auto lo = gen();
  hi = (hi & ~uint64_t{0xF000}) | 0x4000;                     // version 4
  lo = (lo & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60); // variant 10
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(36, '-');
  std::size_t at = 0;
  auto put = [&](uint64_t v, int from_bit, int digits) {
    for (int d = 0; d < digits; ++d) {
      if (at == 8 || at == 13 || at == 18 || at == 23) ++at;
      out[at++] = hex[(v >> (from_bit - 4 * (d + 1))) & 0xF];
    }
  };
  put(hi, 64, 16);
  put(lo, 64, 16);
  return out;
}

namespace {

class uuid final : public interceptor {
public:
  explicit uuid(uuid_config cfg) : cfg_(std::move(cfg)) {
    // Seeded per instance from the system's entropy: two agents, or two
    // sources of one agent, never share a sequence.
    std::random_device rd;
    std::seed_seq seed{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    gen_.seed(seed);
  }

  std::size_t apply(batch& events) override {
    for (auto& e : events) {
      if (cfg_.preserve_existing && e.headers.contains(cfg_.header_name))
        continue;
      // One allocation per event: the prefix and the digits written into
      // the value's own room (a temporary and a concatenation cost a
      // third of this interceptor's time).
      std::string value;
      value.reserve(cfg_.prefix.size() + 36);
      value = cfg_.prefix;
      value += random_uuid_digits(gen_);
      e.headers.insert_or_assign(cfg_.header_name, std::move(value));
    }
    return 0;
  }

private:
  uuid_config cfg_;
  std::mt19937_64 gen_;
};

} // namespace

std::unique_ptr<interceptor> make_uuid(const uuid_config& cfg) {
  return std::make_unique<uuid>(cfg);
}

} // namespace flumen::interceptors
