#include "actors/interceptors/static.hpp"

namespace flumen::interceptors {

/// The options of the `static` interceptor
/// (docs/reference/interceptors/static.md shows them, generated).
const option_list& static_options() {
  static const option_list table = {
      {.name = "key",
       .kind = option_kind::string,
       .type = "string, not empty",
       .doc = "header name"},
      {.name = "value", .kind = option_kind::string, .doc = "header value"},
      {.name = "preserve_existing",
       .kind = option_kind::boolean,
       .doc =
           "keep a header that is already there (Flume's default: "
           "`static_header.sets_key_and_value_preserving_existing_by_default`,"
           " `static_header.overwrites_without_preserve_existing`)"},
  };
  return table;
}

static_config parse_static(option_reader& r) {
  option_scope scope{r, static_options()};
  static_config cfg;
  cfg.key = r.str("key", cfg.key);
  cfg.value = r.str("value", cfg.value);
  cfg.preserve_existing = r.boolean("preserve_existing", cfg.preserve_existing);
  if (cfg.key.empty()) r.error("key", "must not be empty");
  return cfg;
}

namespace {

class static_header final : public interceptor {
public:
  explicit static_header(static_config cfg) : cfg_(std::move(cfg)) {}

  std::size_t apply(batch& events) override {
    for (auto& e : events) {
      if (cfg_.preserve_existing)
        e.headers.emplace(cfg_.key, cfg_.value);
      else
        e.headers.insert_or_assign(cfg_.key, cfg_.value);
    }
    return 0;
  }

private:
  static_config cfg_;
};

} // namespace

std::unique_ptr<interceptor> make_static(const static_config& cfg) {
  return std::make_unique<static_header>(cfg);
}

} // namespace flumen::interceptors
