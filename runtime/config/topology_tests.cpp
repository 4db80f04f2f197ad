#include "runtime/config/topology_tests.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include <re2/re2.h>

#include "runtime/config/topology.hpp"

namespace flumen {

namespace {

class tests_reader {
public:
  tests_reader(const topology& topo, const std::string& file,
               error_list& errors)
      : topo_(topo), file_(file), errors_(errors) {}

  std::vector<topology_test> read(const YAML::Node& node) {
    std::vector<topology_test> out;
    if (!node.IsDefined() || node.IsNull()) return out;
    if (!node.IsSequence()) {
      add(node, "tests", "expected a list of test cases");
      return out;
    }
    if (node.size() > max_topology_tests) {
      add(node, "tests",
          "too many test cases (" + std::to_string(node.size()) +
              "; a file may have at most " +
              std::to_string(max_topology_tests) + ")");
      return out;
    }
    std::size_t i = 0;
    for (const auto& item : node) {
      auto path = "tests[" + std::to_string(i++) + "]";
      if (auto t = read_case(item, path)) out.push_back(std::move(*t));
    }
    return out;
  }

private:
  void add(const YAML::Node& at, std::string path, std::string message) {
    errors_.push_back(
        {location_of(at, file_), std::move(path), std::move(message)});
  }

  /// Keys of `map` that are none of `known`: an error each, with a hint.
  void unknown_keys(const YAML::Node& map, const std::string& path,
                    const std::vector<std::string>& known) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      auto key = it->first.IsScalar() ? it->first.Scalar() : std::string{};
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string msg = "unknown key '" + key + "'";
      if (auto m = closest_match(key, known))
        msg += " (did you mean '" + *m + "'?)";
      else
        msg += " (known: " + join(known) + ")";
      add(it->first, path, msg);
    }
  }

  static std::string join(const std::vector<std::string>& xs) {
    std::string out;
    for (auto& x : xs)
      out += (out.empty() ? "" : ", ") + x;
    return out;
  }

  /// A scalar's text; nullopt and an error for anything else (a null
  /// included: `body:` with nothing after it is no string).
  std::optional<std::string> text(const YAML::Node& v, const std::string& path,
                                  const YAML::Node& key) {
    if (v.IsScalar()) return v.Scalar();
    add(v.IsNull() ? key : v, path,
        v.IsNull() ? "expected a string (an empty one is written '')"
                   : "expected a string");
    return std::nullopt;
  }

  /// A mapping of header names to strings.
  std::vector<std::pair<std::string, std::string>>
  string_pairs(const YAML::Node& v, const std::string& path,
               const YAML::Node& key) {
    std::vector<std::pair<std::string, std::string>> out;
    if (!v.IsMap()) {
      add(v.IsNull() ? key : v, path,
          "expected a mapping of header names to values");
      return out;
    }
    std::set<std::string> seen;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!it->first.IsScalar()) {
        add(it->first, path, "expected a header name as key");
        continue;
      }
      auto name = it->first.Scalar();
      if (!seen.insert(name).second) {
        add(it->first, path, "header '" + name + "' is given twice");
        continue;
      }
      if (auto s = text(it->second, path + "." + name, it->first))
        out.emplace_back(name, std::move(*s));
    }
    return out;
  }

  void check_pattern(const std::string& pattern, const YAML::Node& at,
                     const std::string& path) {
    RE2 re(pattern, RE2::Quiet);
    if (!re.ok()) add(at, path, "bad pattern: " + re.error());
  }

  std::optional<event> read_input(const YAML::Node& item,
                                  const std::string& path) {
    event e;
    if (item.IsScalar()) {
      e.body = item.Scalar();
      return e;
    }
    if (!item.IsMap()) {
      add(item, path,
          "expected an event: a body (a string) or a mapping with body and "
          "headers");
      return std::nullopt;
    }
    unknown_keys(item, path, {"body", "headers"});
    const YAML::Node& m = item;
    for (auto it = m.begin(); it != m.end(); ++it) {
      auto key = it->first.Scalar();
      if (key == "body") {
        if (auto s = text(it->second, path + ".body", it->first))
          e.body = std::move(*s);
      } else if (key == "headers") {
        for (auto& [k, v] :
             string_pairs(it->second, path + ".headers", it->first))
          e.headers.insert_or_assign(k, v);
      }
    }
    return e;
  }

  std::optional<event_expectation> read_expectation(const YAML::Node& item,
                                                    const std::string& path) {
    event_expectation x;
    x.where = location_of(item, file_);
    if (item.IsScalar()) {
      x.body = item.Scalar();
      return x;
    }
    if (!item.IsMap()) {
      add(item, path,
          "expected an event: a body (a string) or a mapping of body, "
          "body_matches, headers, headers_match and absent");
      return std::nullopt;
    }
    unknown_keys(
        item, path,
        {"body", "body_matches", "headers", "headers_match", "absent"});
    for (auto it = item.begin(); it != item.end(); ++it) {
      auto key = it->first.Scalar();
      auto at = path + "." + key;
      YAML::Node v = it->second;
      if (key == "body") {
        x.body = text(v, at, it->first);
      } else if (key == "body_matches") {
        x.body_matches = text(v, at, it->first);
        if (x.body_matches) check_pattern(*x.body_matches, v, at);
      } else if (key == "headers") {
        x.headers = string_pairs(v, at, it->first);
      } else if (key == "headers_match") {
        x.headers_match = string_pairs(v, at, it->first);
        for (auto& [name, pattern] : x.headers_match)
          check_pattern(pattern, v[name], at + "." + name);
      } else if (key == "absent") {
        if (v.IsScalar()) {
          x.absent.push_back(v.Scalar());
        } else if (v.IsSequence()) {
          for (const auto& n : v)
            if (auto s = text(n, at, it->first)) x.absent.push_back(*s);
        } else {
          add(v.IsNull() ? it->first : v, at,
              "expected a header name or a list of them");
        }
      }
    }
    return x;
  }

  std::optional<std::vector<event_expectation>>
  read_expectations(const YAML::Node& v, const std::string& path,
                    const YAML::Node& key) {
    std::vector<event_expectation> out;
    if (v.IsNull()) return out; // `c1:` alone: gets none
    if (!v.IsSequence()) {
      add(v, path, "expected a list of events (an empty one: [])");
      return std::nullopt;
    }
    (void)key;
    std::size_t i = 0;
    for (const auto& item : v) {
      auto at = path + "[" + std::to_string(i++) + "]";
      if (auto x = read_expectation(item, at)) out.push_back(std::move(*x));
    }
    return out;
  }

  /// The agent and source `written` names: `r1` when one agent has a
  /// source of that name, else `a1.r1`.
  const component_spec* find_source(const std::string& written,
                                    const YAML::Node& at,
                                    const std::string& path,
                                    std::string& agent) {
    std::vector<std::pair<const agent_spec*, const component_spec*>> hits;
    std::vector<std::string> names, hints;
    for (auto& a : topo_.agents)
      for (auto& s : a.sources) {
        names.push_back(a.name + "." + s.name);
        hints.push_back(a.name + "." + s.name);
        hints.push_back(s.name);
        if (written == s.name || written == a.name + "." + s.name)
          hits.emplace_back(&a, &s);
      }
    if (hits.size() == 1) {
      agent = hits[0].first->name;
      return hits[0].second;
    }
    if (hits.empty()) {
      std::string msg = "no source '" + written + "'";
      if (auto m = closest_match(written, hints))
        msg += " (did you mean '" + *m + "'?)";
      else if (!names.empty())
        msg += " (sources: " + join(names) + ")";
      add(at, path, msg);
    } else {
      std::vector<std::string> which;
      for (auto& [a, s] : hits)
        which.push_back(a->name + "." + s->name);
      add(at, path,
          "'" + written + "' names a source of several agents: write one of " +
              join(which));
    }
    return nullptr;
  }

  std::optional<topology_test> read_case(const YAML::Node& item,
                                         const std::string& path) {
    if (!item.IsMap()) {
      add(item, path,
          "expected a test case: a mapping with name, source, input and "
          "expect");
      return std::nullopt;
    }
    auto before = errors_.size();
    topology_test t;
    t.where = location_of(item, file_);
    unknown_keys(item, path, {"name", "source", "input", "expect", "filtered"});
    auto get = [&](const char* key) {
      const YAML::Node& m = item;
      return m[key];
    };
    auto name = get("name");
    if (!name.IsDefined())
      add(item, path, "missing required key 'name'");
    else if (auto s = text(name, path + ".name", name))
      t.name = *s;

    // The source: named, or the file's only one.
    const component_spec* source = nullptr;
    auto src = get("source");
    if (src.IsDefined()) {
      if (auto s = text(src, path + ".source", src))
        source = find_source(*s, src, path + ".source", t.agent);
    } else {
      std::size_t n = 0;
      for (auto& a : topo_.agents)
        for (auto& s : a.sources) {
          ++n;
          source = &s;
          t.agent = a.name;
        }
      if (n != 1) {
        source = nullptr;
        if (!topo_.agents.empty())
          add(item, path,
              "missing required key 'source' (the file has " +
                  std::to_string(n) +
                  " sources; say which one the case is for)");
      }
    }
    if (source) t.source = source->name;

    auto input = get("input");
    if (!input.IsDefined()) {
      add(item, path, "missing required key 'input'");
    } else if (!input.IsSequence()) {
      add(input, path + ".input", "expected a list of events");
    } else if (input.size() > max_test_events) {
      add(input, path + ".input",
          "too many events (" + std::to_string(input.size()) +
              "; a case may have at most " + std::to_string(max_test_events) +
              ")");
    } else {
      std::size_t i = 0;
      for (const auto& e : input)
        if (auto ev =
                read_input(e, path + ".input[" + std::to_string(i++) + "]"))
          t.input.push_back(std::move(*ev));
    }

    auto expect = get("expect");
    std::vector<std::pair<std::string, std::vector<event_expectation>>> named;
    std::vector<location> named_at;
    if (expect.IsDefined() && !expect.IsNull()) {
      if (!expect.IsMap()) {
        add(expect, path + ".expect",
            "expected a mapping of the source's channels to the events each "
            "gets");
      } else {
        for (auto it = expect.begin(); it != expect.end(); ++it) {
          if (!it->first.IsScalar()) {
            add(it->first, path + ".expect", "expected a channel name as key");
            continue;
          }
          auto ch = it->first.Scalar();
          auto at = path + ".expect." + ch;
          if (source &&
              std::find(source->channels.begin(), source->channels.end(), ch) ==
                  source->channels.end()) {
            std::string msg = "'" + ch + "' is not a channel of source '" +
                              source->name + "'";
            if (auto m = closest_match(ch, source->channels))
              msg += " (did you mean '" + *m + "'?)";
            else
              msg += " (its channels: " + join(source->channels) + ")";
            add(it->first, path + ".expect", msg);
            continue;
          }
          if (std::any_of(named.begin(), named.end(),
                          [&](auto& p) { return p.first == ch; })) {
            add(it->first, path + ".expect",
                "channel '" + ch + "' is given twice");
            continue;
          }
          if (auto xs = read_expectations(it->second, at, it->first)) {
            named.emplace_back(ch, std::move(*xs));
            named_at.push_back(location_of(it->first, file_));
          }
        }
      }
    }
    // Every channel of the source, in its order: one not named gets none.
    if (source)
      for (auto& ch : source->channels) {
        auto i = std::find_if(named.begin(), named.end(),
                              [&](auto& p) { return p.first == ch; });
        if (i != named.end()) {
          t.expect_at.push_back(
              named_at[static_cast<std::size_t>(i - named.begin())]);
          t.expect.emplace_back(ch, std::move(i->second));
        } else {
          t.expect_at.push_back(t.where);
          t.expect.emplace_back(ch, std::vector<event_expectation>{});
        }
      }

    auto filtered = get("filtered");
    if (filtered.IsDefined()) {
      t.filtered_at = location_of(filtered, file_);
      long long n = -1;
      if (filtered.IsScalar() &&
          std::sscanf(filtered.Scalar().c_str(), "%lld", &n) == 1 &&
          std::to_string(n) == filtered.Scalar() && n >= 0) {
        t.filtered_count = static_cast<std::size_t>(n);
      } else if (filtered.IsSequence() || filtered.IsNull()) {
        t.filtered = read_expectations(filtered, path + ".filtered", filtered);
      } else {
        add(filtered, path + ".filtered",
            "expected a count of events, or a list of the events (as put "
            "in) that reach no channel");
      }
    }
    if (errors_.size() != before) return std::nullopt;
    return t;
  }

  const topology& topo_;
  const std::string& file_;
  error_list& errors_;
};

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

} // namespace

std::vector<topology_test> load_topology_tests(const YAML::Node& node,
                                               const topology& topo,
                                               const std::string& file,
                                               error_list& errors) {
  return tests_reader{topo, file, errors}.read(node);
}

std::string describe_event(const event& e) {
  std::string out = "body " + quoted(e.body);
  if (e.headers.empty()) return out;
  out += ", headers {";
  bool first = true;
  for (auto& [k, v] : e.headers) {
    out += (first ? "" : ", ") + k + ": " + quoted(v);
    first = false;
  }
  return out + "}";
}

std::vector<std::string> mismatches(const event_expectation& x,
                                    const event& e) {
  std::vector<std::string> out;
  if (x.body && e.body != *x.body)
    out.push_back("body: expected " + quoted(*x.body) + ", got " +
                  quoted(e.body));
  if (x.body_matches && !RE2::PartialMatch(e.body, RE2(*x.body_matches)))
    out.push_back("body: " + quoted(e.body) + " does not match /" +
                  *x.body_matches + "/");
  for (auto& [k, v] : x.headers) {
    auto h = e.headers.find(k);
    if (h == e.headers.end())
      out.push_back("header " + k + ": expected " + quoted(v) +
                    ", but it is not there");
    else if (h->second != v)
      out.push_back("header " + k + ": expected " + quoted(v) + ", got " +
                    quoted(h->second));
  }
  for (auto& [k, pattern] : x.headers_match) {
    auto h = e.headers.find(k);
    if (h == e.headers.end())
      out.push_back("header " + k + ": expected to match /" + pattern +
                    "/, but it is not there");
    else if (!RE2::PartialMatch(h->second, RE2(pattern)))
      out.push_back("header " + k + ": " + quoted(h->second) +
                    " does not match /" + pattern + "/");
  }
  for (auto& k : x.absent) {
    auto h = e.headers.find(k);
    if (h != e.headers.end())
      out.push_back("header " + k + ": expected absent, got " +
                    quoted(h->second));
  }
  return out;
}

} // namespace flumen
