#include "actors/interceptors/timestamp.hpp"

#include <chrono>

namespace flumen::interceptors {

/// The options of the `timestamp` interceptor
/// (docs/reference/interceptors/timestamp.md shows them, generated).
const option_list& timestamp_options() {
  static const option_list table = {
      {.name = "header_name",
       .kind = option_kind::string,
       .type = "string, not empty",
       .doc = "the header set (`timestamp.writes_a_custom_header`)"},
      {.name = "preserve_existing",
       .kind = option_kind::boolean,
       .doc = "keep a header that is already there "
              "(`timestamp.preserve_existing_keeps_a_header_already_set`)"},
  };
  return table;
}

timestamp_config parse_timestamp(option_reader& r) {
  option_scope scope{r, timestamp_options()};
  timestamp_config cfg;
  cfg.header_name = r.str("header_name", cfg.header_name);
  cfg.preserve_existing = r.boolean("preserve_existing", cfg.preserve_existing);
  if (cfg.header_name.empty()) r.invalid("header_name", "must not be empty");
  return cfg;
}

namespace {

class timestamp final : public interceptor {
public:
  explicit timestamp(timestamp_config cfg) : cfg_(std::move(cfg)) {}

  std::size_t apply(batch& events) override {
    // One clock reading per batch: events of a batch arrived together.
    auto now = cfg_.clock
                   ? cfg_.clock()
                   : std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto text = std::to_string(now);
    for (auto& e : events) {
      if (cfg_.preserve_existing)
        e.headers.emplace(cfg_.header_name, text);
      else
        e.headers.insert_or_assign(cfg_.header_name, text);
    }
    return 0;
  }

private:
  timestamp_config cfg_;
};

} // namespace

std::unique_ptr<interceptor> make_timestamp(const timestamp_config& cfg) {
  return std::make_unique<timestamp>(cfg);
}

} // namespace flumen::interceptors
