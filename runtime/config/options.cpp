#include "runtime/config/options.hpp"

#include <stdexcept>

#include "runtime/config/config.hpp"

namespace flumen {

option_list
options_of(std::initializer_list<std::span<const option_spec>> parts) {
  option_list out;
  for (auto part : parts)
    out.insert(out.end(), part.begin(), part.end());
  return out;
}

const option_spec* find_option(std::span<const option_spec> list,
                               std::string_view name) {
  for (auto& o : list)
    if (o.name == name) return &o;
  return nullptr;
}

std::vector<std::string> choice_names(const option_spec& o) {
  std::vector<std::string> out;
  std::string_view rest = o.choices;
  while (!rest.empty()) {
    auto bar = rest.find('|');
    out.emplace_back(rest.substr(0, bar));
    if (bar == std::string_view::npos) break;
    rest.remove_prefix(bar + 1);
  }
  return out;
}

std::string format_duration_ms(uint64_t ms) {
  if (ms == 0) return "0";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string format_size(uint64_t bytes) {
  constexpr uint64_t k = 1024;
  if (bytes != 0 && bytes % (k * k * k) == 0)
    return std::to_string(bytes / (k * k * k)) + "GB";
  if (bytes != 0 && bytes % (k * k) == 0)
    return std::to_string(bytes / (k * k)) + "MB";
  if (bytes != 0 && bytes % k == 0) return std::to_string(bytes / k) + "KB";
  return std::to_string(bytes);
}

namespace {

// `1–1024`, `at least 2`, `at most 16`, or empty.
std::string bounds(const option_spec& o, std::string (*show)(uint64_t)) {
  bool lo = o.min != no_min;
  bool hi = o.max != no_max;
  auto min = lo ? (o.min < 0 ? "-" + show(static_cast<uint64_t>(-o.min))
                             : show(static_cast<uint64_t>(o.min)))
                : std::string{};
  if (lo && hi) return min + "–" + show(o.max);
  if (lo) return "at least " + min;
  if (hi) return "at most " + show(o.max);
  return {};
}

std::string plain(uint64_t v) {
  return std::to_string(v);
}
std::string size_text(uint64_t v) {
  return "`" + format_size(v) + "`";
}

} // namespace

std::string type_column(const option_spec& o) {
  if (!o.type.empty()) return std::string{o.type};
  auto with = [](std::string name, std::string b) {
    return b.empty() ? name : name + ", " + b;
  };
  switch (o.kind) {
  case option_kind::string:
    return "string";
  case option_kind::integer:
    return with("integer", bounds(o, plain));
  case option_kind::count:
    return with("count", bounds(o, plain));
  case option_kind::size:
    return with("size", bounds(o, size_text));
  case option_kind::duration:
    return "duration";
  case option_kind::boolean:
    return "boolean";
  case option_kind::choice: {
    std::string out = "one of ";
    auto names = choice_names(o);
    for (std::size_t i = 0; i < names.size(); ++i)
      out += (i == 0 ? "`" : ", `") + names[i] + "`";
    return out;
  }
  case option_kind::list:
    return "list of strings";
  case option_kind::mapping:
    return "mapping of strings";
  case option_kind::node:
    return "mapping";
  }
  return "string";
}

std::string
options_markdown(std::span<const option_spec> list,
                 const std::map<std::string, std::string>& defaults) {
  std::string out = "| option | type | default | meaning |\n"
                    "|---|---|---|---|\n";
  for (auto& o : list) {
    std::string def;
    if (!o.def.empty()) {
      def = std::string{o.def};
    } else if (auto it = defaults.find(std::string{o.name});
               it != defaults.end()) {
      def = it->second == "required" ? "required"
            : it->second.empty()     ? "none"
                                     : "`" + it->second + "`";
    } else {
      def = "none";
    }
    out += "| `" + std::string{o.name} + "` | " + type_column(o) + " | " + def +
           " | " + std::string{o.doc} + " |\n";
  }
  return out;
}

// -- option_reader's side of the table -------------------------------------

const option_spec* option_reader::spec_for(std::string_view key,
                                           option_kind kind) {
  if (declared_ == nullptr) return nullptr;
  auto name = prefix_ + std::string{key};
  auto* o = find_option(*declared_, name);
  // `node` reads any option; an option of kind node any getter reads (the
  // parser looks at its shape first, as the Kafka sink's `headers`).
  if (o != nullptr && (kind == option_kind::node ||
                       o->kind == option_kind::node || o->kind == kind))
    return o;
  // A mistake in the type's code, not in the file: said as such (the
  // type's contract test fails on it), and the value is read as asked.
  errors_.push_back(
      {location_of(node_, file_), path_,
       "internal error: the parser reads option '" + name + "' " +
           (o == nullptr ? "that its type's option table does not declare"
                         : "as another kind than its option table says") +
           " (please report it)"});
  return nullptr;
}

void option_reader::record_default(std::string_view key, std::string text) {
  if (parent_ != nullptr) {
    parent_->record_default(parent_key_ + "." + std::string{key},
                            std::move(text));
    return;
  }
  // `require` after a getter: the key has no default after all.
  if (text == "required")
    defaults_.insert_or_assign(std::string{key}, std::move(text));
  else
    defaults_.emplace(std::string{key}, std::move(text));
}

} // namespace flumen
