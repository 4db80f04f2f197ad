#include "runtime/config/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <utility>

namespace flumen {

const char* to_string(transport t) {
  return t == transport::udp ? "udp" : "tcp";
}

namespace {

/// The entry of `key` in `map`: its key node and its value node; both
/// undefined when `map` is no mapping or lacks the key. yaml-cpp keeps
/// duplicate keys; like its own lookup, the first one wins.
std::pair<YAML::Node, YAML::Node> find_entry(const YAML::Node& map,
                                             std::string_view key) {
  if (map.IsDefined() && map.IsMap())
    for (auto it = map.begin(); it != map.end(); ++it)
      if (it->first.IsScalar() && it->first.Scalar() == key)
        return {it->first, it->second};
  return {YAML::Node{YAML::NodeType::Undefined},
          YAML::Node{YAML::NodeType::Undefined}};
}

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (const auto& x : xs) {
    if (!out.empty()) out += ", ";
    out += x;
  }
  return out;
}

std::string did_you_mean(std::string_view word,
                         const std::vector<std::string>& candidates) {
  if (auto m = closest_match(word, candidates))
    return " (did you mean '" + *m + "'?)";
  return {};
}

/// Parses all of `s` as a number of type T; nullopt on anything else
/// (including overflow, which `out_of_range` reports).
template <class T>
std::optional<T> parse_number(std::string_view s,
                              bool* out_of_range = nullptr) {
  T value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (out_of_range)
    *out_of_range =
        ec == std::errc::result_out_of_range && end == s.data() + s.size();
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty())
    return std::nullopt;
  return value;
}

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool valid_env_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

/// Splits `text` into leading digits and the rest (unit), trimming blanks
/// between them. Nullopt when there are no leading digits.
std::optional<std::pair<uint64_t, std::string>>
number_with_unit(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])))
    ++i;
  auto n = parse_number<uint64_t>(text.substr(0, i));
  if (!n) return std::nullopt;
  auto unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ')
    unit.remove_prefix(1);
  return std::pair{*n, lower(unit)};
}

} // namespace

std::string config_error::to_string() const {
  // An error about the file as a whole (unreadable, malformed) has no path.
  std::string out = where.file + ":" + std::to_string(where.line) + ":" +
                    std::to_string(where.col) + ": ";
  if (!path.empty()) out += path + ": ";
  return out + message;
}

location location_of(const YAML::Node& node, const std::string& file) {
  // IsDefined() is false for invalid (zombie) nodes too, whose Mark() throws.
  if (!node.IsDefined()) return {file, 0, 0};
  auto m = node.Mark();
  if (m.is_null() || m.line < 0 || m.column < 0) return {file, 0, 0};
  return {file, m.line + 1, m.column + 1};
}

namespace {

/// The walk of check_yaml_bounds: depth first, counting every node it
/// enters (keys too), the key path kept for the error.
struct bounded_walk {
  const std::string& file;
  error_list& errors;
  std::vector<std::string> keys;
  std::size_t visited = 0;

  bool refuse(const YAML::Node& n, std::string message) {
    // A path 64 levels deep says no more than its ends do.
    std::string path;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys.size() > 12 && i == 8) {
        path += "...";
        i = keys.size() - 4;
      }
      auto& k = keys[i];
      if (!path.empty() && k.front() != '[') path += '.';
      path += k;
    }
    errors.push_back(
        {location_of(n, file), std::move(path), std::move(message)});
    return false;
  }

  bool walk(const YAML::Node& n, std::size_t depth) {
    if (++visited > max_yaml_nodes)
      return refuse(n, "the document has more than " +
                           std::to_string(max_yaml_nodes) +
                           " nodes once its aliases are expanded (each "
                           "*alias counts what its &anchor holds again); "
                           "refused before it is read");
    if (depth > max_yaml_depth)
      return refuse(n, "nested more than " + std::to_string(max_yaml_depth) +
                           " levels deep (or an *alias inside its own "
                           "&anchor); refused before it is read");
    if (n.IsSequence()) {
      std::size_t i = 0;
      for (const auto& item : n) {
        keys.push_back("[" + std::to_string(i++) + "]");
        if (!walk(item, depth + 1)) return false;
        keys.pop_back();
      }
    } else if (n.IsMap()) {
      for (auto it = n.begin(); it != n.end(); ++it) {
        keys.push_back(it->first.IsScalar() ? it->first.Scalar() : "?");
        if (!walk(it->first, depth + 1) || !walk(it->second, depth + 1))
          return false;
        keys.pop_back();
      }
    }
    return true;
  }
};

} // namespace

bool check_yaml_bounds(const YAML::Node& root, const std::string& file,
                       error_list& errors, const std::string& path) {
  bounded_walk w{file, errors, {}, 0};
  if (!path.empty()) w.keys.push_back(path);
  return w.walk(root, 0);
}

std::string control_character_in(std::string_view name) {
  static const char hex[] = "0123456789abcdef";
  std::string shown;
  bool bad = false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    // C1 controls (U+0080-U+009F) are 0xC2 0x80-0x9F in UTF-8.
    bool c1 = c == 0xC2 && i + 1 < name.size() &&
              static_cast<unsigned char>(name[i + 1]) >= 0x80 &&
              static_cast<unsigned char>(name[i + 1]) <= 0x9F;
    if (c < 0x20 || c == 0x7F || c1) {
      bad = true;
      auto show = [&](unsigned char b) {
        shown += "\\x";
        shown += hex[b >> 4];
        shown += hex[b & 0xF];
      };
      show(c);
      if (c1) show(static_cast<unsigned char>(name[++i]));
    } else {
      shown += static_cast<char>(c);
    }
  }
  if (!bad) return {};
  return "name '" + shown +
         "' holds a control character; names appear in log lines and "
         "metrics, which it would split or garble";
}

std::optional<std::string>
closest_match(std::string_view word,
              const std::vector<std::string>& candidates) {
  // Optimal string alignment distance: like Levenshtein, but a swap of two
  // neighbours ("tpoic") counts as one typo.
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(
        a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i)
      d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j)
      d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
      for (std::size_t j = 1; j <= b.size(); ++j) {
        std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
        d[i][j] = std::min(
            {d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
          d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    return d[a.size()][b.size()];
  };
  // Short words get one edit: two would make almost anything "close".
  const std::size_t limit = word.size() >= 4 ? 2 : 1;
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const auto& c : candidates) {
    auto dist = distance(word, c);
    if (dist < best_distance) {
      best = c;
      best_distance = dist;
    }
  }
  return best;
}

std::optional<std::string> expand_env(std::string_view text,
                                      std::string* missing) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    auto open = text.find("${", i);
    if (open == std::string_view::npos) break;
    auto close = text.find('}', open + 2);
    if (close == std::string_view::npos) break;
    auto inner = text.substr(open + 2, close - open - 2);
    auto sep = inner.find(":-");
    auto name = inner.substr(0, sep);
    if (!valid_env_name(name)) {
      // Not a variable reference: keep it verbatim.
      out.append(text.substr(i, open + 2 - i));
      i = open + 2;
      continue;
    }
    out.append(text.substr(i, open - i));
    const char* value = std::getenv(std::string{name}.c_str());
    if (sep != std::string_view::npos) {
      // As in the shell, `:-` also replaces a set but empty variable.
      if (value != nullptr && *value != '\0')
        out += value;
      else
        out.append(inner.substr(sep + 2));
    } else if (value != nullptr) {
      out += value;
    } else {
      if (missing) *missing = std::string{name};
      return std::nullopt;
    }
    i = close + 1;
  }
  out.append(text.substr(std::min(i, text.size())));
  return out;
}

std::string resolve_path(const std::string& written, const std::string& base) {
  if (base.empty() || written.empty() || written.front() == '/') return written;
  // `certs/a.pem` and `./certs/a.pem` are one file (one TLS identity).
  return (std::filesystem::path{base} / written).lexically_normal().string();
}

std::string describe_path(const std::string& written, const std::string& base) {
  auto quoted = "'" + written + "'";
  if (!written.empty() && written.front() == '/') return quoted;
  if (!base.empty())
    return quoted + " (relative to " + base +
           ", the topology file's directory)";
  std::error_code ec;
  auto cwd = std::filesystem::current_path(ec).string();
  if (ec) return quoted + " (relative to the current directory)";
  if (cwd.empty() || cwd.back() != '/') cwd += '/';
  return quoted + " (relative to the current directory, " + cwd + ")";
}

// -- option_reader ------------------------------------------------------------

option_reader::option_reader(YAML::Node node, std::string path,
                             std::string file, error_list& errors,
                             std::string_view text)
    : node_(std::move(node)), path_(std::move(path)), file_(std::move(file)),
      errors_(errors), text_(text) {}

option_reader::option_reader(option_reader& parent, std::string_view key)
    : node_(parent.node(key)), path_(parent.path_of(key)), file_(parent.file_),
      errors_(parent.errors_), text_(parent.text_), parent_(&parent),
      parent_key_(key), declared_(parent.declared_),
      prefix_(parent.prefix_ + std::string{key} + "."),
      base_dir_(parent.base_dir_) {}

YAML::Node option_reader::lookup(std::string_view key) {
  known_.emplace(key);
  return find_entry(node_, key).second;
}

namespace {
thread_local bool env_expansion_off = false;
} // namespace

scoped_no_env_expansion::scoped_no_env_expansion()
    : before_(env_expansion_off) {
  env_expansion_off = true;
}

scoped_no_env_expansion::~scoped_no_env_expansion() {
  env_expansion_off = before_;
}

std::optional<std::string> option_reader::scalar(std::string_view key) {
  auto n = lookup(key);
  if (!n.IsDefined() || !n.IsScalar()) return std::nullopt;
  if (env_expansion_off) return n.Scalar();
  std::string missing;
  auto value = expand_env(n.Scalar(), &missing);
  if (!value) fail(key, "environment variable '" + missing + "' is not set");
  return value;
}

std::string_view option_reader::null_word(const YAML::Node& value) const {
  if (text_.empty() || !value.IsDefined() || !value.IsNull()) return {};
  auto m = value.Mark();
  if (m.is_null() || m.pos < 0) return {};
  // yaml-cpp counts positions after a UTF-8 byte order mark.
  std::size_t pos = static_cast<std::size_t>(m.pos);
  if (text_.starts_with("\xEF\xBB\xBF")) pos += 3;
  if (pos >= text_.size()) return {};
  auto rest = text_.substr(pos);
  // An empty value's mark is at the next token, which may be a key that
  // happens to be called `null`: a word followed by `:` is no value.
  for (std::string_view word : {"null", "Null", "NULL", "~"}) {
    if (!rest.starts_with(word)) continue;
    auto after = rest.substr(word.size());
    auto i = after.find_first_not_of(" \t");
    if (i == std::string_view::npos) return word;
    auto c = after[i];
    if (c == '\n' || c == '\r' || c == ',' || c == '}' || c == ']' ||
        (c == '#' && i > 0))
      return word;
    return {};
  }
  return {};
}

std::string option_reader::null_hint(std::string_view key,
                                     const YAML::Node& value) const {
  auto word = null_word(value);
  if (word.empty()) return {};
  // `type: null` is the likely slip: `null` is a sink type.
  if (key == "type")
    return ": YAML reads an unquoted " + std::string{word} +
           " as no value (for the null sink, quote it: type: \"null\")";
  if (word == "~") return {};
  return ": YAML reads an unquoted " + std::string{word} +
         " as no value (quote it: \"" + std::string{word} + "\")";
}

bool option_reader::has(std::string_view key) {
  spec_for(key, option_kind::node);
  return lookup(key).IsDefined();
}

std::string option_reader::str(std::string_view key, std::string def) {
  spec_for(key, option_kind::string);
  record_default(key, def);
  auto n = lookup(key);
  if (!n.IsDefined()) return def;
  if (!n.IsScalar()) {
    fail(key, "expected a string" + null_hint(key, n));
    return def;
  }
  if (auto s = scalar(key)) return *s;
  return def;
}

std::string option_reader::required_str(std::string_view key) {
  spec_for(key, option_kind::string);
  record_default(key, "required");
  auto n = lookup(key);
  if (!require(key)) return {};
  if (!n.IsScalar()) {
    fail(key, "expected a string" + null_hint(key, n));
    return {};
  }
  auto s = scalar(key);
  if (!s) return {};
  if (s->empty()) fail(key, "must not be empty");
  return *s;
}

int64_t option_reader::integer(std::string_view key, int64_t def, int64_t min,
                               int64_t max) {
  if (auto* o = spec_for(key, option_kind::integer)) {
    if (o->min != no_min) min = o->min;
    if (o->max != no_max)
      max = static_cast<int64_t>(
          std::min<uint64_t>(o->max, std::numeric_limits<int64_t>::max()));
  }
  record_default(key, std::to_string(def));
  auto n = lookup(key);
  if (!n.IsDefined()) return def;
  if (!n.IsScalar()) {
    fail(key, "expected an integer");
    return def;
  }
  auto s = scalar(key);
  if (!s) return def;
  bool overflow = false;
  auto v = parse_number<int64_t>(*s, &overflow);
  if (!v && overflow) {
    if (s->front() == '-')
      fail(key, "must be at least " + std::to_string(min));
    else
      fail(key, "must be at most " + std::to_string(max));
    return def;
  }
  if (!v) {
    fail(key, "expected an integer");
    return def;
  }
  if (*v < min) {
    fail(key, "must be at least " + std::to_string(min));
    return def;
  }
  if (*v > max) {
    fail(key, "must be at most " + std::to_string(max));
    return def;
  }
  return *v;
}

std::size_t option_reader::count(std::string_view key, std::size_t def,
                                 std::size_t min, std::size_t max) {
  if (auto* o = spec_for(key, option_kind::count)) {
    if (o->min != no_min) min = static_cast<std::size_t>(o->min);
    if (o->max != no_max) max = static_cast<std::size_t>(o->max);
  }
  record_default(key, std::to_string(def));
  auto n = lookup(key);
  if (!n.IsDefined()) return def;
  if (!n.IsScalar()) {
    fail(key, "expected an integer");
    return def;
  }
  auto s = scalar(key);
  if (!s) return def;
  if (!s->empty() && s->front() == '-') {
    bool overflow = false;
    if (parse_number<int64_t>(*s, &overflow) || overflow)
      fail(key, "must be at least " + std::to_string(min));
    else
      fail(key, "expected an integer");
    return def;
  }
  bool overflow = false;
  auto v = parse_number<uint64_t>(*s, &overflow);
  if (!v && overflow) {
    fail(key, "must be at most " + std::to_string(max));
    return def;
  }
  if (!v) {
    fail(key, "expected an integer");
    return def;
  }
  if (*v < min) {
    fail(key, "must be at least " + std::to_string(min));
    return def;
  }
  if (*v > max) {
    fail(key, "must be at most " + std::to_string(max));
    return def;
  }
  return static_cast<std::size_t>(*v);
}

std::optional<uint64_t>
option_reader::scaled(std::string_view key, const char* expected,
                      std::span<const std::pair<const char*, uint64_t>> units,
                      uint64_t max) {
  auto n = lookup(key);
  if (!n.IsDefined()) return std::nullopt;
  if (!n.IsScalar()) {
    fail(key, expected);
    return std::nullopt;
  }
  auto s = scalar(key);
  if (!s) return std::nullopt;
  auto parsed = number_with_unit(*s);
  auto it = units.end();
  if (parsed)
    it = std::find_if(units.begin(), units.end(),
                      [&](const auto& u) { return parsed->second == u.first; });
  if (it == units.end()) {
    fail(key, expected);
    return std::nullopt;
  }
  if (parsed->first > max / it->second) {
    fail(key, "is too large");
    return std::nullopt;
  }
  return parsed->first * it->second;
}

std::chrono::milliseconds
option_reader::duration(std::string_view key, std::chrono::milliseconds def) {
  spec_for(key, option_kind::duration);
  record_default(key, format_duration_ms(static_cast<uint64_t>(def.count())));
  static constexpr std::pair<const char*, uint64_t> units[] = {
      {"ms", 1},
      {"", 1000},
      {"s", 1000},
      {"m", 60 * 1000},
      {"h", 60 * 60 * 1000},
  };
  using rep = std::chrono::milliseconds::rep;
  auto v = scaled(key, "expected a duration like 500ms, 5s, 2m or 1h", units,
                  static_cast<uint64_t>(std::numeric_limits<rep>::max()));
  return v ? std::chrono::milliseconds{static_cast<rep>(*v)} : def;
}

std::size_t option_reader::bytes(std::string_view key, std::size_t def) {
  if (auto* o = spec_for(key, option_kind::size);
      o != nullptr && (o->min != no_min || o->max != no_max))
    return bytes(key, def, 0, SIZE_MAX); // the table's bounds
  record_default(key, format_size(def));
  return scaled_bytes(key, def);
}

std::size_t option_reader::scaled_bytes(std::string_view key, std::size_t def) {
  static constexpr std::pair<const char*, uint64_t> units[] = {
      {"", 1},
      {"b", 1},
      {"k", 1ull << 10},
      {"kb", 1ull << 10},
      {"kib", 1ull << 10},
      {"m", 1ull << 20},
      {"mb", 1ull << 20},
      {"mib", 1ull << 20},
      {"g", 1ull << 30},
      {"gb", 1ull << 30},
      {"gib", 1ull << 30},
      {"t", 1ull << 40},
      {"tb", 1ull << 40},
      {"tib", 1ull << 40},
  };
  auto v = scaled(key, "expected a size like 512, 64KB, 16MB or 1GB", units,
                  std::numeric_limits<std::size_t>::max());
  return v ? static_cast<std::size_t>(*v) : def;
}

std::size_t option_reader::bytes(std::string_view key, std::size_t def,
                                 std::size_t min, std::size_t max) {
  if (auto* o = spec_for(key, option_kind::size)) {
    if (o->min != no_min) min = static_cast<std::size_t>(o->min);
    if (o->max != no_max) max = static_cast<std::size_t>(o->max);
  }
  record_default(key, format_size(def));
  if (auto n = lookup(key);
      n.IsDefined() && n.IsScalar() && n.Scalar().starts_with('-')) {
    fail(key, "must be at least " + std::to_string(min));
    return def;
  }
  auto errors_before = errors_.size();
  auto v = scaled_bytes(key, def);
  if (errors_.size() != errors_before || !has(key)) return v;
  if (v < min) {
    fail(key, "must be at least " + std::to_string(min));
    return def;
  }
  if (v > max) {
    fail(key, "must be at most " + std::to_string(max));
    return def;
  }
  return v;
}

bool option_reader::boolean(std::string_view key, bool def) {
  spec_for(key, option_kind::boolean);
  record_default(key, def ? "true" : "false");
  auto n = lookup(key);
  if (!n.IsDefined()) return def;
  if (!n.IsScalar()) {
    fail(key, "expected true or false");
    return def;
  }
  auto s = scalar(key);
  if (!s) return def;
  // YAML 1.2 core schema booleans; no yes/no/on/off surprises.
  if (*s == "true" || *s == "True" || *s == "TRUE") return true;
  if (*s == "false" || *s == "False" || *s == "FALSE") return false;
  fail(key, "expected true or false");
  return def;
}

std::string option_reader::choice(std::string_view key, std::string def,
                                  const std::vector<std::string>& given) {
  // The table's names, when it has them.
  auto* o = spec_for(key, option_kind::choice);
  auto choices = o != nullptr && !o->choices.empty() ? choice_names(*o) : given;
  record_default(key, def);
  auto n = lookup(key);
  if (!n.IsDefined()) return def;
  if (!n.IsScalar()) {
    fail(key, "expected a string");
    return def;
  }
  auto s = scalar(key);
  if (!s) return def;
  if (std::find(choices.begin(), choices.end(), *s) != choices.end()) return *s;
  fail(key, "must be one of: " + join(choices) + did_you_mean(*s, choices));
  return def;
}

std::map<std::string, std::string>
option_reader::string_map(std::string_view key) {
  spec_for(key, option_kind::mapping);
  std::map<std::string, std::string> out;
  auto n = lookup(key);
  // An empty `key:` (all entries commented out) is an empty mapping.
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsMap()) {
    fail(key, "expected a mapping of strings");
    return out;
  }
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) {
      mark_failed(key);
      errors_.push_back({location_of(it->first, file_), path_of(key),
                         "expected a mapping of strings"});
      continue;
    }
    auto sub = path_of(key) + "." + it->first.Scalar();
    if (!it->second.IsScalar()) {
      mark_failed(key);
      errors_.push_back(
          {location_of(it->second, file_), sub, "expected a string"});
      continue;
    }
    std::string missing;
    if (auto v = expand_env(it->second.Scalar(), &missing)) {
      out[it->first.Scalar()] = *v;
      continue;
    }
    mark_failed(key);
    errors_.push_back({location_of(it->second, file_), sub,
                       "environment variable '" + missing + "' is not set"});
  }
  return out;
}

std::vector<std::string> option_reader::string_list(std::string_view key) {
  spec_for(key, option_kind::list);
  std::vector<std::string> out;
  auto n = lookup(key);
  if (!n.IsDefined() || n.IsNull()) return out;
  auto add = [&](const YAML::Node& item, const std::string& path) {
    if (!item.IsScalar()) {
      mark_failed(key);
      errors_.push_back({location_of(item, file_), path, "expected a string"});
      return;
    }
    std::string missing;
    if (auto v = expand_env(item.Scalar(), &missing)) {
      out.push_back(std::move(*v));
      return;
    }
    mark_failed(key);
    errors_.push_back({location_of(item, file_), path,
                       "environment variable '" + missing + "' is not set"});
  };
  if (n.IsScalar()) {
    add(n, path_of(key));
  } else if (n.IsSequence()) {
    for (std::size_t i = 0; i < n.size(); ++i)
      add(n[i], path_of(key) + "[" + std::to_string(i) + "]");
  } else {
    fail(key, "expected a list of strings");
  }
  return out;
}

YAML::Node option_reader::node(std::string_view key) {
  spec_for(key, option_kind::node);
  return lookup(key);
}

void option_reader::known(std::initializer_list<std::string_view> keys) {
  for (auto k : keys)
    known_.emplace(k);
}

bool option_reader::require(std::string_view key) {
  record_default(key, "required");
  if (has(key)) return true;
  mark_failed(key);
  errors_.push_back({location_of(node_, file_), path_,
                     "missing required key '" + std::string{key} + "'"});
  return false;
}

void option_reader::invalid(std::string_view key, std::string message) {
  spec_for(key, option_kind::node);
  fail(key, std::move(message));
}

void option_reader::fail(std::string_view key, std::string message) {
  mark_failed(key);
  errors_.push_back({where(key), path_of(key), std::move(message)});
}

void option_reader::mark_failed(std::string_view key) {
  failed_.emplace(key);
  if (parent_) parent_->mark_failed(parent_key_);
}

void option_reader::error(std::string_view key, std::string message) {
  errors_.push_back({where(key), path_of(key), std::move(message)});
}

void option_reader::error(std::string message) {
  errors_.push_back({location_of(node_, file_), path_, std::move(message)});
}

bool option_reader::parsed(std::initializer_list<std::string_view> keys) const {
  return std::none_of(keys.begin(), keys.end(),
                      [&](std::string_view k) { return failed(k); });
}

void option_reader::finish() {
  if (!node_.IsDefined() || !node_.IsMap()) return;
  std::vector<std::string> candidates(known_.begin(), known_.end());
  std::set<std::string, std::less<>> seen;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    // A copy: yaml-cpp's iterator hands out a temporary proxy, so a
    // reference to its `first` dangles (found by tests/fuzz/run.sh, ASan).
    const YAML::Node k = it->first;
    if (!k.IsScalar()) {
      errors_.push_back(
          {location_of(k, file_), path_, "expected a string as key"});
      continue;
    }
    auto name = k.Scalar();
    if (!seen.insert(name).second) {
      errors_.push_back(
          {location_of(k, file_), path_, "duplicate key '" + name + "'"});
      continue;
    }
    if (known_.find(name) == known_.end())
      errors_.push_back(
          {location_of(k, file_), path_,
           "unknown key '" + name + "'" + did_you_mean(name, candidates)});
  }
}

std::string option_reader::path_of(std::string_view key) const {
  if (path_.empty()) return std::string{key};
  return path_ + "." + std::string{key};
}

location option_reader::where(std::string_view key) const {
  auto [k, v] = find_entry(node_, key);
  if (!k.IsDefined()) return location_of(node_, file_);
  // An empty value (`key:`) has its mark at the next token, often on the
  // next line; the key itself is the better place to point at. A written
  // null (`key: null`) has its own mark.
  if (!v.IsDefined() || (v.IsNull() && null_word(v).empty()))
    return location_of(k, file_);
  return location_of(v, file_);
}

} // namespace flumen
