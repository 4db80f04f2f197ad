#include "actors/interceptors/static.hpp"

namespace flumen::interceptors {

static_config parse_static(option_reader& r) {
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
