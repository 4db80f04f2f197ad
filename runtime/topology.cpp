#include "runtime/topology.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace flumen {

namespace {

/// Used to check a batch_size against a channel that doesn't state its
/// transaction_capacity: the memory channel's default (Flume's is 100).
constexpr std::size_t default_transaction_capacity = 1000;

const char* singular(const std::string& kind) {
  if (kind == "sources") return "source";
  if (kind == "channels") return "channel";
  if (kind == "sinks") return "sink";
  return "interceptor";
}

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (const auto& x : xs) {
    if (!out.empty()) out += ", ";
    out += x;
  }
  return out;
}

/// `unknown source type 'x' (did you mean 'y'?)`, or the known names when
/// none is close.
std::string unknown(const std::string& what, const std::string& name,
                    const std::vector<std::string>& known) {
  auto msg = "unknown " + what + " '" + name + "'";
  if (auto m = closest_match(name, known))
    return msg + " (did you mean '" + *m + "'?)";
  if (known.empty()) return msg;
  return msg + " (known: " + join(known) + ")";
}

/// Value of a key of `map`, or an undefined node (never a zombie node,
/// whose Mark() would throw).
YAML::Node value_of(const YAML::Node& map, const std::string& key) {
  if (map.IsDefined() && map.IsMap()) {
    const YAML::Node& cmap = map; // const: lookup must not insert
    auto v = cmap[key];
    if (v.IsDefined()) return v;
  }
  return YAML::Node{YAML::NodeType::Undefined};
}

/// The count a component parser already validated, read again from the raw
/// node for cross-component checks; 0 when absent or not a count.
std::size_t raw_count(const YAML::Node& map, const std::string& key) {
  auto v = value_of(map, key);
  if (!v.IsDefined() || !v.IsScalar()) return 0;
  auto text = expand_env(v.Scalar());
  if (!text) return 0;
  std::size_t n = 0;
  auto [end, ec] =
      std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc{} || end != text->data() + text->size()) return 0;
  return n;
}

/// One agent and the YAML of each component, kept until validation is done
/// so its errors can point at the offending values.
struct agent_draft {
  agent_spec spec;
  std::vector<YAML::Node> sources;
  std::vector<YAML::Node> channels;
  std::vector<YAML::Node> sinks;
};

class loader {
public:
  loader(const registry& reg, std::string file, error_list& errors)
      : reg_(reg), file_(std::move(file)), errors_(errors) {}

  void load(const YAML::Node& root, topology& topo) {
    if (!root.IsDefined() || root.IsNull()) {
      add({file_, 1, 1}, "", "the file is empty (expected key 'agents')");
      return;
    }
    if (!root.IsMap()) {
      add(location_of(root, file_), "", "expected a mapping with key 'agents'");
      return;
    }
    option_reader r(root, "", file_, errors_);
    auto agents = r.node("agents");
    if (!agents.IsDefined()) {
      r.error("missing required key 'agents'");
    } else if (agents.IsNull() || (agents.IsMap() && agents.size() == 0)) {
      r.error("agents", "at least one agent is required");
    } else if (!agents.IsMap()) {
      r.error("agents", "expected a mapping of agents");
    } else {
      for_each_named(agents, "agents", [&](auto& name, auto& key, auto& val) {
        auto draft = load_agent(name, key, val);
        validate(draft);
        topo.agents.push_back(std::move(draft.spec));
      });
    }
    r.finish();
  }

private:
  void add(location where, std::string path, std::string message) {
    errors_.push_back({std::move(where), std::move(path), std::move(message)});
  }

  /// Calls `f(name, key, value)` for each entry of a mapping of named
  /// things, in file order; reports non-scalar and duplicate names.
  template <class F>
  void for_each_named(const YAML::Node& map, const std::string& path, F f) {
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!it->first.IsScalar()) {
        add(location_of(it->first, file_), path, "expected a name as key");
        continue;
      }
      auto name = it->first.Scalar();
      if (!seen.insert(name).second) {
        add(location_of(it->first, file_), path,
            "duplicate key '" + name + "'");
        continue;
      }
      f(name, it->first, it->second);
    }
  }

  /// Where to point at a value that should have been a mapping: an empty
  /// value's mark is at the next token, so use its key then.
  location value_location(const YAML::Node& key, const YAML::Node& val) {
    return val.IsNull() ? location_of(key, file_) : location_of(val, file_);
  }

  agent_draft load_agent(const std::string& name, const YAML::Node& key,
                         const YAML::Node& val) {
    agent_draft d;
    d.spec.name = name;
    d.spec.where = location_of(key, file_);
    auto path = "agents." + name;
    if (!val.IsMap()) {
      add(value_location(key, val), path,
          "expected a mapping with sources, channels and sinks");
      return d;
    }
    option_reader r(val, path, file_, errors_);
    for (std::string kind : {"sources", "channels", "sinks"}) {
      auto n = r.node(kind);
      auto& specs = kind == "sources"    ? d.spec.sources
                    : kind == "channels" ? d.spec.channels
                                         : d.spec.sinks;
      auto& nodes = kind == "sources"    ? d.sources
                    : kind == "channels" ? d.channels
                                         : d.sinks;
      if (!n.IsDefined()) {
        r.error("missing required key '" + kind + "'");
      } else if (n.IsNull() || (n.IsMap() && n.size() == 0)) {
        r.error(kind,
                "at least one " + std::string{singular(kind)} + " is required");
      } else if (!n.IsMap()) {
        r.error(kind, "expected a mapping of " + kind);
      } else {
        auto kind_path = path + "." + kind;
        for_each_named(n, kind_path, [&](auto& cname, auto& ckey, auto& cval) {
          specs.push_back(
              load_component(kind, cname, ckey, cval, kind_path + "." + cname));
          nodes.push_back(cval);
        });
      }
    }
    auto sup = r.node("supervision");
    if (sup.IsDefined() && !sup.IsNull()) {
      if (!sup.IsMap()) {
        r.error("supervision", "expected a mapping");
      } else {
        option_reader sr(sup, path + ".supervision", file_, errors_);
        auto& s = d.spec.supervision;
        s.max_restarts = static_cast<std::size_t>(sr.integer(
            "max_restarts", static_cast<int64_t>(s.max_restarts), 0, 1000000));
        s.restart_window = sr.duration("restart_window", s.restart_window);
        s.on_component_failure =
            sr.choice("on_component_failure", s.on_component_failure,
                      {"keep_running", "exit"});
        sr.finish();
      }
    }
    r.finish();
    return d;
  }

  /// Parses one component. A broken one is still returned (without a spawn
  /// function) so references to it don't cause follow-up errors.
  component_spec load_component(const std::string& kind,
                                const std::string& name, const YAML::Node& key,
                                const YAML::Node& val,
                                const std::string& path) {
    component_spec spec;
    spec.name = name;
    spec.path = path;
    spec.where = location_of(key, file_);
    if (!val.IsMap()) {
      add(value_location(key, val), path, "expected a mapping with 'type'");
      return spec;
    }
    option_reader r(val, path, file_, errors_);
    spec.type = r.required_str("type");
    // Common keys first, so a source of unknown type still has channels.
    if (kind == "sources") {
      auto before = errors_.size();
      bool present = r.has("channels");
      spec.channels = r.string_list("channels");
      if (!present)
        r.error("missing required key 'channels'");
      else if (spec.channels.empty() && errors_.size() == before)
        r.error("channels", "must not be empty");
      load_interceptors(r, spec);
    } else if (kind == "sinks") {
      spec.channel = r.required_str("channel");
    }
    if (spec.type.empty()) return spec; // already reported by required_str
    auto spawn = reg_.parse(kind, spec.type, r);
    if (!spawn) {
      // Without a parser every other key would look unknown: skip finish().
      r.error("type", unknown(std::string{singular(kind)} + " type", spec.type,
                              reg_.types(kind)));
      return spec;
    }
    spec.spawn = std::move(*spawn);
    r.finish();
    // The parser validated these; the loader needs them for checks across
    // components. Absent means 0: "not stated", and such checks are skipped.
    if (kind == "channels")
      spec.transaction_capacity = raw_count(val, "transaction_capacity");
    else
      spec.batch_size = raw_count(val, "batch_size");
    // A sink type that dead-letters reads this key itself; the loader
    // checks the reference and wires the channel.
    if (kind == "sinks") {
      auto dl = value_of(val, "dead_letter_channel");
      if (dl.IsDefined() && dl.IsScalar())
        spec.dead_letter_channel = expand_env(dl.Scalar()).value_or("");
    }
    return spec;
  }

  void load_interceptors(option_reader& r, component_spec& spec) {
    auto list = r.node("interceptors");
    if (!list.IsDefined() || list.IsNull()) return;
    if (!list.IsSequence()) {
      r.error("interceptors", "expected a list of interceptors");
      return;
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto item = list[i];
      auto path = r.path_of("interceptors") + "[" + std::to_string(i) + "]";
      if (!item.IsMap()) {
        add(location_of(item, file_), path, "expected a mapping with 'type'");
        continue;
      }
      option_reader ir(item, path, file_, errors_);
      auto type = ir.required_str("type");
      if (type.empty()) continue;
      auto make = reg_.parse_interceptor(type, ir);
      if (!make) {
        ir.error("type",
                 unknown("interceptor type", type, reg_.types("interceptors")));
        continue;
      }
      ir.finish();
      spec.interceptors.push_back(std::move(*make));
      spec.interceptor_types.push_back(std::move(type));
    }
  }

  /// Checks the wiring of one agent: references, unconnected channels and
  /// batch sizes against transaction capacities.
  void validate(const agent_draft& d) {
    const auto& a = d.spec;
    std::vector<std::string> names;
    for (const auto& c : a.channels)
      names.push_back(c.name);
    auto unknown_channel = [&](const std::string& name) {
      return unknown("channel", name, names);
    };
    auto check_batch = [&](const component_spec& c, const YAML::Node& node,
                           const component_spec& ch) {
      if (c.batch_size == 0) return;
      auto cap = ch.transaction_capacity != 0 ? ch.transaction_capacity
                                              : default_transaction_capacity;
      if (c.batch_size > cap)
        add(location_of(value_of(node, "batch_size"), file_),
            c.path + ".batch_size",
            "batch_size " + std::to_string(c.batch_size) +
                " exceeds transaction_capacity " + std::to_string(cap) +
                " of channel '" + ch.name + "'");
    };
    for (std::size_t i = 0; i < a.sources.size(); ++i) {
      const auto& src = a.sources[i];
      auto list = value_of(d.sources[i], "channels");
      std::set<std::string> seen;
      for (std::size_t j = 0; j < src.channels.size(); ++j) {
        const auto& name = src.channels[j];
        // string_list skips bad items, so index j matches the YAML only
        // when all items were good; then point at the item itself.
        auto where = location_of(list, file_);
        auto path = src.path + ".channels";
        if (list.IsSequence() && list.size() == src.channels.size()) {
          where = location_of(list[j], file_);
          path += "[" + std::to_string(j) + "]";
        }
        if (!seen.insert(name).second) {
          add(where, path, "channel '" + name + "' is listed twice");
          continue;
        }
        if (auto* ch = a.find_channel(name))
          check_batch(src, d.sources[i], *ch);
        else
          add(where, path, unknown_channel(name));
      }
    }
    for (std::size_t i = 0; i < a.sinks.size(); ++i) {
      const auto& snk = a.sinks[i];
      if (snk.channel.empty()) continue;
      if (auto* ch = a.find_channel(snk.channel))
        check_batch(snk, d.sinks[i], *ch);
      else
        add(location_of(value_of(d.sinks[i], "channel"), file_),
            snk.path + ".channel", unknown_channel(snk.channel));
      if (snk.dead_letter_channel.empty()) continue;
      auto where =
          location_of(value_of(d.sinks[i], "dead_letter_channel"), file_);
      if (!a.find_channel(snk.dead_letter_channel))
        add(where, snk.path + ".dead_letter_channel",
            unknown_channel(snk.dead_letter_channel));
      else if (snk.dead_letter_channel == snk.channel)
        add(where, snk.path + ".dead_letter_channel",
            "must not be the channel the sink reads");
    }
    for (const auto& ch : a.channels) {
      auto read = std::any_of(a.sinks.begin(), a.sinks.end(),
                              [&](auto& s) { return s.channel == ch.name; });
      auto written =
          std::any_of(a.sources.begin(), a.sources.end(),
                      [&](auto& s) {
                        return std::find(s.channels.begin(), s.channels.end(),
                                         ch.name) != s.channels.end();
                      }) ||
          std::any_of(a.sinks.begin(), a.sinks.end(), [&](auto& s) {
            return s.dead_letter_channel == ch.name;
          });
      if (!read)
        add(ch.where, ch.path,
            "channel '" + ch.name + "' is not read by any sink");
      if (!written)
        add(ch.where, ch.path, "channel '" + ch.name + "' has no source");
    }
  }

  const registry& reg_;
  std::string file_;
  error_list& errors_;
};

// -- drawing ------------------------------------------------------------------

bool plain_id(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::string dot_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

/// A DOT id: bare when it is a plain identifier, quoted otherwise.
std::string dot_id(const std::string& s) {
  return plain_id(s) ? s : dot_quote(s);
}

/// A Mermaid id: only letters, digits and underscores are safe.
std::string mermaid_id(const std::string& s) {
  std::string out = s;
  for (auto& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  // `end` closes a subgraph in Mermaid.
  if (out.empty() || out == "end") out += '_';
  return out;
}

std::string mermaid_text(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"')
      out += "#quot;";
    else
      out += c;
  }
  return out;
}

std::string node_name(const agent_spec& a, const char* kind,
                      const component_spec& c) {
  return a.name + "_" + kind + "_" + c.name;
}

/// The lines of a node's label: name, (type), then the interceptors.
std::vector<std::string> label_lines(const component_spec& c) {
  std::vector<std::string> lines{c.name, "(" + c.type + ")"};
  if (!c.interceptor_types.empty()) {
    std::string chain;
    for (const auto& t : c.interceptor_types)
      chain += "| " + t + " ";
    chain.pop_back();
    lines.push_back(chain);
  }
  return lines;
}

/// A quoted DOT label; `\n` (backslash, n) is DOT's line break.
std::string dot_label(const component_spec& c) {
  std::string out;
  for (const auto& line : label_lines(c)) {
    auto quoted = dot_quote(line);
    if (!out.empty()) out += "\\n";
    out += quoted.substr(1, quoted.size() - 2);
  }
  return "\"" + out + "\"";
}

std::string joined_label(const component_spec& c, const std::string& sep) {
  std::string out;
  for (const auto& line : label_lines(c)) {
    if (!out.empty()) out += sep;
    out += line;
  }
  return out;
}

/// Calls `f(from, to)` for every resolved edge of an agent, in file order:
/// sources to their channels, then channels to their sinks.
template <class F>
void for_each_edge(const agent_spec& a, F f) {
  for (const auto& s : a.sources)
    for (const auto& name : s.channels)
      if (auto* ch = a.find_channel(name))
        f(node_name(a, "sources", s), node_name(a, "channels", *ch));
  for (const auto& k : a.sinks)
    if (auto* ch = a.find_channel(k.channel))
      f(node_name(a, "channels", *ch), node_name(a, "sinks", k));
}

} // namespace

const component_spec*
agent_spec::find_channel(const std::string& channel_name) const {
  for (const auto& c : channels)
    if (c.name == channel_name) return &c;
  return nullptr;
}

const agent_spec* topology::find(const std::string& agent_name) const {
  for (const auto& a : agents)
    if (a.name == agent_name) return &a;
  return nullptr;
}

load_result load_topology(const std::string& file, const registry& reg) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    load_result res;
    res.topo.file = file;
    res.errors.push_back(
        {{file, 0, 0},
         "",
         "cannot read file: " + std::string{strerror(EISDIR)}});
    return res;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    auto err = errno;
    load_result res;
    res.topo.file = file;
    res.errors.push_back(
        {{file, 0, 0}, "", "cannot read file: " + std::string{strerror(err)}});
    return res;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return load_topology_text(text.str(), file, reg);
}

load_result load_topology_text(const std::string& text, const std::string& file,
                               const registry& reg) {
  load_result res;
  res.topo.file = file;
  YAML::Node root;
  try {
    root = YAML::Load(text);
    loader{reg, file, res.errors}.load(root, res.topo);
  } catch (const YAML::Exception& e) {
    // Malformed YAML (or a component parser tripping over yaml-cpp).
    location where{file, 0, 0};
    if (!e.mark.is_null()) where = {file, e.mark.line + 1, e.mark.column + 1};
    res.errors.push_back({where, "", e.msg});
  } catch (const std::exception& e) {
    res.errors.push_back({{file, 0, 0}, "", e.what()});
  }
  // Report in file order, however the checks happened to find them.
  std::stable_sort(res.errors.begin(), res.errors.end(),
                   [](const config_error& x, const config_error& y) {
                     return std::pair{x.where.line, x.where.col} <
                            std::pair{y.where.line, y.where.col};
                   });
  return res;
}

std::string to_dot(const topology& topo) {
  std::string out = "digraph flumen {\n"
                    "  rankdir=LR;\n"
                    "  node [shape=box];\n";
  for (const auto& a : topo.agents) {
    out += "  subgraph " + dot_id("cluster_" + a.name) + " {\n";
    out += "    label=" + dot_quote(a.name) + ";\n";
    auto node = [&](const char* kind, const component_spec& c,
                    const char* attrs) {
      out += "    " + dot_id(node_name(a, kind, c)) +
             " [label=" + dot_label(c) + attrs + "];\n";
    };
    for (const auto& s : a.sources)
      node("sources", s, "");
    for (const auto& c : a.channels)
      node("channels", c, ", shape=cylinder");
    for (const auto& k : a.sinks)
      node("sinks", k, "");
    for_each_edge(a, [&](const std::string& from, const std::string& to) {
      out += "    " + dot_id(from) + " -> " + dot_id(to) + ";\n";
    });
    out += "  }\n";
  }
  out += "}\n";
  return out;
}

std::string to_mermaid(const topology& topo) {
  std::string out = "flowchart LR\n";
  for (const auto& a : topo.agents) {
    auto id = mermaid_id(a.name);
    out += "  subgraph " + id;
    if (id != a.name) out += " [\"" + mermaid_text(a.name) + "\"]";
    out += "\n";
    auto node = [&](const char* kind, const component_spec& c, const char* open,
                    const char* close) {
      out += "    " + mermaid_id(node_name(a, kind, c)) + open + "\"" +
             mermaid_text(joined_label(c, "<br/>")) + "\"" + close + "\n";
    };
    for (const auto& s : a.sources)
      node("sources", s, "[", "]");
    for (const auto& c : a.channels)
      node("channels", c, "[(", ")]");
    for (const auto& k : a.sinks)
      node("sinks", k, "[", "]");
    for_each_edge(a, [&](const std::string& from, const std::string& to) {
      out += "    " + mermaid_id(from) + " --> " + mermaid_id(to) + "\n";
    });
    out += "  end\n";
  }
  return out;
}

} // namespace flumen
