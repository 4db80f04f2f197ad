#include "runtime/config/registry.hpp"

#include <yaml-cpp/exceptions.h>

namespace flumen {

std::optional<spawn_fn> registry::parse(const std::string& kind,
                                        const std::string& type,
                                        option_reader& r) const {
  auto* t = table(kind);
  if (t == nullptr) return std::nullopt;
  auto it = t->find(type);
  if (it == t->end()) return std::nullopt;
  try {
    return it->second(r);
  } catch (const YAML::Exception&) {
    throw; // located by its own mark
  } catch (const std::exception& e) {
    // A library the parser loads cannot be loaded here (runtime/libs):
    // the component's error, at its type.
    r.invalid("type", e.what());
    return std::nullopt;
  }
}

std::optional<interceptor_fn>
registry::parse_interceptor(const std::string& type, option_reader& r) const {
  auto it = interceptors_.find(type);
  if (it == interceptors_.end()) return std::nullopt;
  return it->second(r);
}

std::vector<std::string> registry::types(const std::string& kind) const {
  std::vector<std::string> out;
  if (kind == "interceptors") {
    for (const auto& [name, fn] : interceptors_)
      out.push_back(name);
  } else if (auto* t = table(kind)) {
    for (const auto& [name, fn] : *t)
      out.push_back(name);
  }
  return out;
}

std::string registry::example(const std::string& kind,
                              const std::string& type) const {
  auto it = examples_.find(kind + "/" + type);
  return it == examples_.end() ? std::string{} : it->second;
}

registry::table_ptr registry::keep(const std::string& key, std::string example,
                                   option_list options) {
  examples_[key] = std::move(example);
  // No table (a test's own types): its parser reads freely.
  if (options.empty()) return nullptr;
  auto o = std::make_shared<const option_list>(std::move(options));
  options_[key] = o;
  return o;
}

const option_list& registry::options(const std::string& kind,
                                     const std::string& type) const {
  static const option_list none;
  auto it = options_.find(kind + "/" + type);
  return it == options_.end() ? none : *it->second;
}

const std::map<std::string, registry::erased>*
registry::table(const std::string& kind) const {
  if (kind == "sources") return &sources_;
  if (kind == "channels") return &channels_;
  if (kind == "sinks") return &sinks_;
  return nullptr;
}

} // namespace flumen
