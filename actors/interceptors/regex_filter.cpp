#include "actors/interceptors/regex_filter.hpp"

#include <algorithm>
#include <stdexcept>

#include <re2/re2.h>

namespace flumen::interceptors {

/// The options of the `regex_filter` interceptor
/// (docs/reference/interceptors/regex_filter.md shows them, generated).
const option_list& regex_filter_options() {
  static const option_list table = {
      {.name = "regex",
       .kind = option_kind::string,
       .type = "RE2 pattern",
       .doc = "matched anywhere in the body, as Java's `find()` "
              "(`regex_filter.matches_anywhere_in_the_body`); Flume's "
              "default `.*` keeps every event, so flumen requires it. An "
              "invalid pattern is a config error quoting RE2"},
      {.name = "exclude_events",
       .kind = option_kind::boolean,
       .doc = "`false`: keep only the events that match; `true`: drop them "
              "(`regex_filter.exclude_events_drops_the_matching_ones`). "
              "Dropped events are counted `filtered`"},
  };
  return table;
}

regex_filter_config parse_regex_filter(option_reader& r) {
  option_scope scope{r, regex_filter_options()};
  regex_filter_config cfg;
  cfg.regex = r.required_str("regex");
  cfg.exclude_events = r.boolean("exclude_events", cfg.exclude_events);
  if (r.parsed({"regex"}))
    cfg.compiled = compile_pattern(r, "regex", cfg.regex);
  return cfg;
}

namespace {

class regex_filter final : public interceptor {
public:
  std::size_t headers_added() const override { return 0; }
  explicit regex_filter(regex_filter_config cfg) : cfg_(std::move(cfg)) {
    if (!cfg_.compiled) throw std::invalid_argument{"regex_filter: no pattern"};
    pre_ = make_prefilter(cfg_.compiled->pattern());
  }

  std::size_t apply(batch& events) override {
    auto& re = *cfg_.compiled;
    bool keep_matching = !cfg_.exclude_events;
    auto removed = std::erase_if(events, [&](const event& e) {
      // A literal pattern is answered by memmem alone; otherwise RE2 is
      // asked only when the literal every match holds is there.
      bool matched =
          pre_.whole ? pre_.may_match(e.body)
                     : pre_.may_match(e.body) && RE2::PartialMatch(e.body, re);
      return matched != keep_matching;
    });
    return removed;
  }

private:
  regex_filter_config cfg_;
  literal_prefilter pre_;
};

} // namespace

std::unique_ptr<interceptor> make_regex_filter(const regex_filter_config& cfg) {
  return std::make_unique<regex_filter>(cfg);
}

} // namespace flumen::interceptors
