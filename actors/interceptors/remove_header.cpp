#include "actors/interceptors/remove_header.hpp"

#include <vector>

#include <re2/re2.h>

namespace flumen::interceptors {

/// The options of the `remove_header` interceptor
/// (docs/reference/interceptors/remove_header.md shows them, generated).
const option_list& remove_header_options() {
  static const option_list table = {
      {.name = "with_name",
       .kind = option_kind::string,
       .doc = "a header name, exactly (`remove_header.with_name_removes_"
              "that_header`)"},
      {.name = "from_list",
       .kind = option_kind::string,
       .doc = "header names, split at `from_list_separator` "
              "(`remove_header.from_list_removes_each_name`)"},
      {.name = "from_list_separator",
       .kind = option_kind::string,
       .type = "RE2 pattern",
       .doc = "what separates the names of `from_list`"},
      {.name = "matching",
       .kind = option_kind::string,
       .type = "RE2 pattern",
       .doc = "removes each header whose whole name matches "
              "(`remove_header.matching_takes_the_whole_name`). At least one "
              "of `with_name`, `from_list` and `matching` is required; an "
              "invalid pattern is a config error quoting RE2"},
  };
  return table;
}

remove_header_config parse_remove_header(option_reader& r) {
  option_scope scope{r, remove_header_options()};
  remove_header_config cfg;
  cfg.with_name = r.str("with_name");
  cfg.from_list = r.str("from_list");
  cfg.from_list_separator =
      r.str("from_list_separator", cfg.from_list_separator);
  cfg.matching = r.str("matching");
  bool any = r.has("with_name") || r.has("from_list") || r.has("matching");
  if (!any)
    r.error("needs at least one of `with_name`, `from_list` and `matching`");
  if (r.has("from_list_separator") && !r.has("from_list"))
    r.invalid("from_list_separator", "applies to `from_list`, which is not "
                                     "set");
  if (r.has("from_list") && r.parsed({"from_list", "from_list_separator"})) {
    if (auto sep = compile_pattern(r, "from_list_separator",
                                   cfg.from_list_separator)) {
      // As Java's String.split: the pieces between matches; an empty match
      // splits between characters (never at the very start).
      std::string_view rest = cfg.from_list;
      std::size_t from = 0;
      std::size_t piece = 0;
      re2::StringPiece m;
      while (from <= rest.size() &&
             sep->Match(rest, from, rest.size(), RE2::UNANCHORED, &m, 1)) {
        auto start = static_cast<std::size_t>(m.data() - rest.data());
        auto end = start + m.size();
        if (end == 0) { // an empty match at the start splits nothing
          from = 1;
          continue;
        }
        cfg.names.emplace(rest.substr(piece, start - piece));
        piece = end;
        from = start == end ? end + 1 : end;
      }
      cfg.names.emplace(rest.substr(piece));
      cfg.names.erase(""); // Java drops trailing empty pieces; no header has
                           // an empty name to remove anyway
    }
  }
  if (r.has("matching") && r.parsed({"matching"}))
    cfg.compiled = compile_pattern(r, "matching", cfg.matching);
  return cfg;
}

namespace {

class remove_header final : public interceptor {
public:
  std::size_t headers_added() const override { return 0; }
  explicit remove_header(remove_header_config cfg) : cfg_(std::move(cfg)) {}

  std::size_t apply(batch& events) override {
    for (auto& e : events) {
      if (!cfg_.with_name.empty()) e.headers.erase(cfg_.with_name);
      if (cfg_.names.empty() && !cfg_.compiled) continue;
      doomed_.clear();
      for (auto& [name, value] : e.headers)
        if (cfg_.names.contains(name) ||
            (cfg_.compiled && RE2::FullMatch(name, *cfg_.compiled)))
          doomed_.push_back(name);
      for (auto& name : doomed_)
        e.headers.erase(name);
    }
    return 0;
  }

private:
  remove_header_config cfg_;
  std::vector<std::string> doomed_; // reused across events
};

} // namespace

std::unique_ptr<interceptor>
make_remove_header(const remove_header_config& cfg) {
  return std::make_unique<remove_header>(cfg);
}

} // namespace flumen::interceptors
