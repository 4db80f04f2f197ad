#include "actors/interceptors/regex_extractor.hpp"

#include <stdexcept>

#include <re2/re2.h>

namespace flumen::interceptors {

/// The options of the `regex_extractor` interceptor
/// (docs/reference/interceptors/regex_extractor.md shows them, generated).
const option_list& regex_extractor_options() {
  static const option_list table = {
      {.name = "regex",
       .kind = option_kind::string,
       .type = "RE2 pattern",
       .doc = "matched anywhere in the body (Java's `find()`); when it "
              "matches, capture group i (from 1) sets the header of "
              "serializer i, and a group that took no part in the match "
              "sets nothing (`regex_extractor.an_unmatched_optional_group_"
              "sets_nothing`). An invalid pattern is a config error quoting "
              "RE2"},
      {.name = "serializers",
       .kind = option_kind::node,
       .type = "list of mappings",
       .def = "required",
       .doc = "one `{name, type, pattern}` per capture group, in order (Flume's"
              " `serializers = s1 s2` and `serializers.s1.name`); more "
              "serializers than groups is a config error (Flume ignores the "
              "extra ones), fewer leaves the later groups unused "
              "(`regex_extractor.flume_guide_example_sets_one_two_three`)"},
      {.name = "serializers.name",
       .kind = option_kind::string,
       .def = "required",
       .doc = "the header set from its group"},
      {.name = "serializers.type",
       .kind = option_kind::choice,
       .choices = "default|millis",
       .def = "`default`",
       .doc = "`default`: the group's text as it is; `millis`: the group is "
              "a date in `pattern`, the header its epoch milliseconds. A date"
              " that does not parse leaves the header unset (Flume's throws "
              "and fails the batch; "
              "`regex_extractor.a_date_that_does_not_parse_sets_nothing`)"},
      {.name = "serializers.pattern",
       .kind = option_kind::string,
       .def = "required with `millis`",
       .doc = "Joda-Time's letters (Flume's `DateTimeFormat`): `yyyy` `yy` "
              "`MM` `MMM` (English names) `dd` `d` `HH` `H` `hh` with `a`, "
              "`mm` `ss` `SSS`, offsets `Z` `ZZ` `XXX`, text in single "
              "quotes; another letter is a config error "
              "(`date_format.*`)"},
      {.name = "timezone",
       .kind = option_kind::string,
       .type = "`UTC`, `local` or `±HH:MM`",
       .doc = "the zone of a `millis` date that states no offset (Flume "
              "uses the JVM's default zone; flumen UTC unless told `local`, "
              "this machine's, or a fixed offset)"},
  };
  return table;
}

const option_list& extractor_serializer_options() {
  static const option_list table = {
      {.name = "name", .kind = option_kind::string},
      {.name = "type",
       .kind = option_kind::choice,
       .choices = "default|millis"},
      {.name = "pattern", .kind = option_kind::string},
  };
  return table;
}

namespace {

// One item of `serializers` (a mapping), read through its own table.
std::optional<extractor_serializer>
parse_serializer(option_reader& r, const YAML::Node& item, std::size_t index) {
  auto path = r.path_of("serializers") + "[" + std::to_string(index) + "]";
  if (!item.IsMap()) {
    r.errors().push_back({location_of(item, r.file()), path,
                          "expected a mapping {name, type, pattern}"});
    return std::nullopt;
  }
  auto before = r.errors().size();
  option_reader g{item, path, r.file(), r.errors()};
  option_scope scope{g, extractor_serializer_options()};
  extractor_serializer s;
  s.name = g.required_str("name");
  s.millis = g.choice("type", std::string{"default"}, {"default", "millis"}) ==
             "millis";
  if (s.millis) {
    s.pattern = g.required_str("pattern");
    if (g.parsed({"pattern"})) {
      std::string error;
      s.format = date_format::compile(s.pattern, error);
      if (!s.format) g.invalid("pattern", error);
    }
  } else if (g.has("pattern")) {
    g.invalid("pattern", "only a `type: millis` serializer takes a pattern");
  }
  g.finish();
  if (r.errors().size() != before) return std::nullopt;
  return s;
}

} // namespace

regex_extractor_config parse_regex_extractor(option_reader& r) {
  option_scope scope{r, regex_extractor_options()};
  regex_extractor_config cfg;
  cfg.regex = r.required_str("regex");
  if (r.parsed({"regex"}))
    cfg.compiled = compile_pattern(r, "regex", cfg.regex);
  bool serializers_ok = false;
  if (r.require("serializers")) {
    auto list = r.node("serializers");
    if (!list.IsSequence() || list.size() == 0) {
      r.invalid("serializers", "expected a list of {name, type, pattern}, "
                               "one per capture group");
    } else {
      serializers_ok = true;
      for (std::size_t i = 0; i < list.size(); ++i) {
        auto s = parse_serializer(r, list[i], i);
        if (s)
          cfg.serializers.push_back(std::move(*s));
        else
          serializers_ok = false;
      }
    }
  }
  if (cfg.compiled && serializers_ok &&
      cfg.serializers.size() >
          static_cast<std::size_t>(cfg.compiled->NumberOfCapturingGroups()))
    r.invalid("serializers",
              std::to_string(cfg.serializers.size()) +
                  " serializers for a pattern with " +
                  std::to_string(cfg.compiled->NumberOfCapturingGroups()) +
                  " capture groups: each serializer takes one group");
  cfg.timezone = r.str("timezone", cfg.timezone);
  if (auto z = date_zone::parse(cfg.timezone))
    cfg.zone = *z;
  else if (r.parsed({"timezone"}))
    r.invalid("timezone", "expected `UTC`, `local` or an offset such as "
                          "`+02:00`, not '" +
                              cfg.timezone + "'");
  return cfg;
}

namespace {

class regex_extractor final : public interceptor {
public:
  std::size_t headers_added() const override { return cfg_.serializers.size(); }
  explicit regex_extractor(regex_extractor_config cfg)
      : cfg_(std::move(cfg)), groups_(cfg_.serializers.size() + 1) {
    if (!cfg_.compiled)
      throw std::invalid_argument{"regex_extractor: no pattern"};
    pre_ = make_prefilter(cfg_.compiled->pattern());
  }

  std::size_t apply(batch& events) override {
    auto& re = *cfg_.compiled;
    auto n = static_cast<int>(groups_.size());
    for (auto& e : events) {
      if (!pre_.may_match(e.body) ||
          !re.Match(e.body, 0, e.body.size(), RE2::UNANCHORED, groups_.data(),
                    n))
        continue;
      for (std::size_t i = 1; i < groups_.size(); ++i) {
        auto& g = groups_[i];
        if (g.data() == nullptr) continue; // took no part in the match
        auto& s = cfg_.serializers[i - 1];
        if (!s.millis) {
          e.headers.insert_or_assign(s.name, std::string{g.data(), g.size()});
          continue;
        }
        if (auto ms = s.format->parse({g.data(), g.size()}, cfg_.zone))
          e.headers.insert_or_assign(s.name, std::to_string(*ms));
      }
    }
    return 0;
  }

private:
  regex_extractor_config cfg_;
  std::vector<re2::StringPiece> groups_; // reused: no allocation per event
  literal_prefilter pre_;
};

} // namespace

std::unique_ptr<interceptor>
make_regex_extractor(const regex_extractor_config& cfg) {
  return std::make_unique<regex_extractor>(cfg);
}

} // namespace flumen::interceptors
