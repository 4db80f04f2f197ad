#include "runtime/flume/convert.hpp"

#include <cctype>
#include <limits>

namespace flumen::flume {

std::string import_note::to_string() const {
  if (key.empty()) return message;
  return key + (line ? " (line " + std::to_string(line) + ")" : "") + ": " +
         message;
}

std::string_view trim(std::string_view s) {
  // Java's String.trim: every char up to U+0020.
  while (!s.empty() && static_cast<unsigned char>(s.front()) <= 0x20)
    s.remove_prefix(1);
  while (!s.empty() && static_cast<unsigned char>(s.back()) <= 0x20)
    s.remove_suffix(1);
  return s;
}

std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
      ++i;
    std::size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j])))
      ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

prop* converter::take(keys names) {
  prop* found = nullptr;
  for (auto name : names)
    for (auto& p : props_)
      if (!p.used && p.key == name) {
        p.used = true;
        if (!found) found = &p;
      }
  return found;
}

std::vector<prop*> converter::take_prefix(std::string_view prefix) {
  std::vector<prop*> out;
  for (auto& p : props_)
    if (!p.used && p.key.size() > prefix.size() &&
        p.key.compare(0, prefix.size(), prefix) == 0) {
      p.used = true;
      out.push_back(&p);
    }
  return out;
}

bool converter::has_reference(std::string_view v) {
  return v.find("${") != std::string_view::npos;
}

namespace {

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

} // namespace

std::string converter::value(const prop& p) {
  std::string_view v = trim(p.value);
  std::string out;
  std::size_t i = 0;
  while (i < v.size()) {
    auto at = v.find("${", i);
    if (at == std::string_view::npos) {
      out.append(v.substr(i));
      break;
    }
    out.append(v.substr(i, at - i));
    auto close = v.find('}', at);
    if (close == std::string_view::npos) {
      out.append(v.substr(at));
      break;
    }
    auto inner = v.substr(at + 2, close - at - 2);
    std::string name;
    if (inner.substr(0, 4) == "env:") {
      name = std::string(inner.substr(4)); // the form ${env:NAME}
    } else if (auto br = inner.find('[');
               br != std::string_view::npos && inner.back() == ']') {
      // A config filter: ${f['NAME']}, ${f["NAME"]}, ${f[NAME]}.
      auto filter = std::string(inner.substr(0, br));
      auto arg = inner.substr(br + 1, inner.size() - br - 2);
      if (arg.size() >= 2 && (arg.front() == '\'' || arg.front() == '"') &&
          arg.back() == arg.front())
        arg = arg.substr(1, arg.size() - 2);
      if (!st_.env_filters.count(filter)) {
        unconvertible(p, "${" + std::string(inner) +
                             "} refers to a config filter that is not of "
                             "type env (only environment variables convert)");
        out.append(v.substr(at, close + 1 - at));
        i = close + 1;
        continue;
      }
      name = std::string(arg);
    } else {
      name = std::string(inner); // EnvVarResolverProperties' ${NAME}
    }
    bool ok = !name.empty();
    for (char c : name)
      ok = ok && (word_char(c) || c == '-');
    if (!ok) {
      unconvertible(p, "${" + std::string(inner) +
                           "} is not an environment variable reference "
                           "flumen can express");
      out.append(v.substr(at, close + 1 - at));
    } else {
      out += "${" + name + "}";
    }
    i = close + 1;
  }
  return out;
}

std::optional<long long> converter::parse_long(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  bool neg = false;
  std::size_t i = 0;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == s.size()) return std::nullopt;
  unsigned long long v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    if (v > (std::numeric_limits<unsigned long long>::max() - 9) / 10)
      return std::nullopt;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  auto max =
      static_cast<unsigned long long>(std::numeric_limits<long long>::max());
  if (v > max + (neg ? 1 : 0)) return std::nullopt;
  if (neg)
    return v == max + 1 ? std::numeric_limits<long long>::min()
                        : -static_cast<long long>(v);
  return static_cast<long long>(v);
}

bool converter::parse_bool(std::string_view s) {
  s = trim(s);
  if (s.size() != 4) return false;
  std::string lower;
  for (char c : s)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "true";
}

void converter::text(keys names, const char* ours,
                     std::optional<std::string> dflt) {
  if (auto* p = take(names))
    out_.set(ours, ynode::str(value(*p)));
  else if (dflt)
    out_.set(ours, ynode::str(*dflt)).comment = "Flume's default";
}

void converter::integer(keys names, const char* ours,
                        std::optional<long long> dflt, long long min) {
  auto* p = take(names);
  if (!p) {
    if (dflt)
      out_.set(ours, ynode::raw(std::to_string(*dflt))).comment =
          "Flume's default";
    return;
  }
  auto v = value(*p);
  if (has_reference(v)) {
    out_.set(ours, ynode::str(v));
    return;
  }
  auto n = parse_long(v);
  if (!n || *n < min) {
    unconvertible(*p, "not " + std::string(min > 0 ? "a positive" : "an") +
                          " integer (Flume refuses it too)");
    return;
  }
  out_.set(ours, ynode::raw(std::to_string(*n)));
}

void converter::boolean(keys names, const char* ours,
                        std::optional<bool> dflt) {
  auto* p = take(names);
  if (!p) {
    if (dflt)
      out_.set(ours, ynode::raw(*dflt ? "true" : "false")).comment =
          "Flume's default";
    return;
  }
  auto v = value(*p);
  if (has_reference(v)) {
    out_.set(ours, ynode::str(v));
    return;
  }
  auto t = trim(v);
  bool b = parse_bool(t);
  auto& n = out_.set(ours, ynode::raw(b ? "true" : "false"));
  if (!b && t != "false" && t != "False" && t != "FALSE")
    warn(*p, "'" + std::string(t) +
                 "' is not true: Flume reads it as false, and so does this");
  (void)n;
}

void converter::millis(keys names, const char* ours,
                       std::optional<long long> dflt) {
  auto* p = take(names);
  if (!p) {
    if (dflt)
      out_.set(ours, ynode::raw(std::to_string(*dflt) + "ms")).comment =
          "Flume's default";
    return;
  }
  auto v = value(*p);
  if (has_reference(v)) {
    out_.set(ours, ynode::str(v + "ms"));
    return;
  }
  auto n = parse_long(v);
  if (!n || *n < 0) {
    unconvertible(*p, "not a number of milliseconds (Flume refuses it too)");
    return;
  }
  out_.set(ours, ynode::raw(std::to_string(*n) + "ms"));
}

void converter::seconds(keys names, const char* ours,
                        std::optional<long long> dflt) {
  auto* p = take(names);
  if (!p) {
    if (dflt)
      out_.set(ours, ynode::raw(std::to_string(*dflt) + "s")).comment =
          "Flume's default";
    return;
  }
  auto v = value(*p);
  if (has_reference(v)) {
    out_.set(ours, ynode::str(v + "s"));
    return;
  }
  auto n = parse_long(v);
  if (!n || *n < 0) {
    unconvertible(*p, "not a number of seconds (Flume refuses it too)");
    return;
  }
  out_.set(ours, ynode::raw(std::to_string(*n) + "s"));
}

void converter::list(keys names, const char* ours) {
  auto* p = take(names);
  if (!p) return;
  auto l = ynode::list();
  for (auto& item : split_ws(value(*p)))
    l.push(ynode::str(item));
  out_.set(ours, std::move(l));
}

void converter::ignore(keys names, const std::string& why) {
  for (auto name : names)
    if (auto* p = take({name})) {
      warn(*p, "ignored: " + why);
      note(p->key + " = " + std::string(trim(p->value)) +
           " (Flume's) is not needed: " + why);
    }
}

void converter::refuse(keys names, const std::string& why) {
  for (auto name : names)
    if (auto* p = take({name})) unconvertible(*p, why);
}

void converter::refuse_prefix(std::string_view prefix, const std::string& why) {
  for (auto* p : take_prefix(prefix))
    unconvertible(*p, why);
}

void converter::unconvertible(const prop& p, const std::string& why) {
  st_.unconvertible.push_back({p.full, p.line, why});
  note("not converted: " + p.full + " = " + std::string(trim(p.value)) +
       " (line " + std::to_string(p.line) + "): " + why);
}

void converter::warn(const prop& p, const std::string& why) {
  warn(p.full, p.line, why);
}

void converter::warn(const std::string& key, std::size_t line,
                     const std::string& why) {
  st_.warnings.push_back({key, line, why});
}

void converter::finish() {
  for (auto& p : props_)
    if (!p.used) {
      p.used = true;
      unconvertible(p, "an option this type does not have (in Flume or "
                       "flumen)");
    }
}

} // namespace flumen::flume
