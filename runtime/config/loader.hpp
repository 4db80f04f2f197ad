#pragma once

// The topology loader's insides, shared by topology.cpp (reading a file
// into specs) and topology_checks.cpp (the checks across an agent's
// components). Not for use outside runtime/config.

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "runtime/config/topology.hpp"

namespace flumen::detail {

inline const char* singular(const std::string& kind) {
  if (kind == "sources") return "source";
  if (kind == "channels") return "channel";
  if (kind == "sinks") return "sink";
  return "interceptor";
}

inline std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (const auto& x : xs) {
    if (!out.empty()) out += ", ";
    out += x;
  }
  return out;
}

/// `unknown source type 'x' (did you mean 'y'?)`, or the known names when
/// none is close.
inline std::string unknown(const std::string& what, const std::string& name,
                           const std::vector<std::string>& known) {
  auto msg = "unknown " + what + " '" + name + "'";
  if (auto m = closest_match(name, known))
    return msg + " (did you mean '" + *m + "'?)";
  if (known.empty()) return msg;
  return msg + " (known: " + join(known) + ")";
}

/// Value of a key of `map`, or an undefined node (never a zombie node,
/// whose Mark() would throw).
inline YAML::Node value_of(const YAML::Node& map, const std::string& key) {
  if (map.IsDefined() && map.IsMap()) {
    const YAML::Node& cmap = map; // const: lookup must not insert
    auto v = cmap[key];
    if (v.IsDefined()) return v;
  }
  return YAML::Node{YAML::NodeType::Undefined};
}

/// A copy of `node` with environment variables expanded in every scalar (a
/// node parses what it is sent with the agent's environment, not its own).
inline YAML::Node expanded_copy(const YAML::Node& node) {
  if (node.IsScalar()) {
    auto v = expand_env(node.Scalar());
    return YAML::Node{v.value_or(node.Scalar())};
  }
  if (node.IsSequence()) {
    YAML::Node out{YAML::NodeType::Sequence};
    for (const auto& item : node)
      out.push_back(expanded_copy(item));
    return out;
  }
  if (node.IsMap()) {
    YAML::Node out{YAML::NodeType::Map};
    for (auto it = node.begin(); it != node.end(); ++it)
      out[it->first.Scalar()] = expanded_copy(it->second);
    return out;
  }
  return YAML::Node{node.Type()};
}

inline std::string expanded_yaml(const YAML::Node& node) {
  YAML::Emitter out;
  out << expanded_copy(node);
  return out.c_str();
}

/// One agent and the YAML of each component, kept until validation is done
/// so its errors can point at the offending values.
struct agent_draft {
  agent_spec spec;
  std::vector<YAML::Node> sources;
  std::vector<YAML::Node> channels;
  std::vector<YAML::Node> sinks;
  std::vector<YAML::Node> groups; ///< in step with spec.sink_groups
  /// A sink's `channel`, or a source's `channels` or a sink's
  /// `dead_letter_channel`, is written but failed to parse: which channels
  /// are read, or written, is not known (and not reported).
  bool reads_unknown = false;
  bool writes_unknown = false;
};

class loader {
public:
  /// `text` is the file's text (for messages that tell how a value was
  /// written); it must outlive the loader.
  loader(const registry& reg, std::string file, std::string_view text,
         error_list& errors, probe_scope probe = {})
      : reg_(reg), file_(std::move(file)), text_(text), errors_(errors),
        probe_(std::move(probe)), base_(directory_of(file_)) {}

  /// Where warnings go (load_result::warnings); none kept when unset.
  void warn_into(error_list& w) { warnings_ = &w; }

  void load(const YAML::Node& root, topology& topo) {
    if (!root.IsDefined() || root.IsNull()) {
      add({file_, 1, 1}, "", "the file is empty (expected key 'agents')");
      return;
    }
    if (!root.IsMap()) {
      add(location_of(root, file_), "", "expected a mapping with key 'agents'");
      return;
    }
    option_reader r(root, "", file_, errors_, text_);
    load_nodes(r, topo);
    nodes_ = &topo.nodes;
    auto agents = r.node("agents");
    if (!r.require("agents")) {
      // reported
    } else if (agents.IsNull() || (agents.IsMap() && agents.size() == 0)) {
      r.invalid("agents", "at least one agent is required");
    } else if (!agents.IsMap()) {
      r.invalid("agents", "expected a mapping of agents");
    } else {
      for_each_named(agents, "agents", [&](auto& name, auto& key, auto& val) {
        auto draft = load_agent(name, key, val);
        check_sink_groups(draft);
        validate(draft);
        topo.agents.push_back(std::move(draft.spec));
      });
    }
    // Test cases name sources and channels: read against valid agents
    // only (else every case of a broken source would be a second error).
    auto tests = r.node("tests");
    if (errors_.empty())
      topo.tests = load_topology_tests(tests, topo, file_, errors_);
    r.finish();
  }

private:
  void load_nodes(option_reader& r, topology& topo) {
    auto nodes = r.node("nodes");
    if (!nodes.IsDefined() || nodes.IsNull()) return;
    if (!nodes.IsMap()) {
      r.invalid("nodes", "expected a mapping of nodes");
      return;
    }
    for_each_named(nodes, "nodes", [&](auto& name, auto& key, auto& val) {
      node_spec n;
      n.name = name;
      n.where = location_of(key, file_);
      auto path = "nodes." + name;
      if (!val.IsMap()) {
        add(value_location(key, val), path,
            "expected a mapping with host and port");
        broken_nodes_.insert(name); // reported once, here
        return;
      }
      auto errors_before = errors_.size();
      option_reader nr(val, path, file_, errors_, text_);
      nr.paths_relative_to(base_);
      n.host = nr.required_str("host");
      n.port = static_cast<uint16_t>(nr.integer("port", 0, 1, 65535));
      nr.require("port");
      n.security = parse_link_security(nr);
      if (!n.host.empty()) require_protection(nr, "host", n.host, n.security);
      nr.finish();
      // As a component with an error states no facts: its TLS settings are
      // left out of the agents' identity checks.
      if (errors_.size() != errors_before) n.security = {};
      topo.nodes.push_back(std::move(n));
    });
  }

  void add(location where, std::string path, std::string message) {
    errors_.push_back({std::move(where), std::move(path), std::move(message)});
  }
  void warn(location where, std::string path, std::string message) {
    if (warnings_)
      warnings_->push_back(
          {std::move(where), std::move(path), std::move(message)});
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
      if (auto why = control_character_in(name); !why.empty()) {
        add(location_of(it->first, file_), path, why);
        continue;
      }
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
    option_reader r(val, path, file_, errors_, text_);
    for (std::string kind : {"sources", "channels", "sinks"}) {
      auto n = r.node(kind);
      auto& specs = kind == "sources"    ? d.spec.sources
                    : kind == "channels" ? d.spec.channels
                                         : d.spec.sinks;
      auto& nodes = kind == "sources"    ? d.sources
                    : kind == "channels" ? d.channels
                                         : d.sinks;
      if (!r.require(kind)) {
        // reported
      } else if (n.IsNull() || (n.IsMap() && n.size() == 0)) {
        r.invalid(kind, "at least one " + std::string{singular(kind)} +
                            " is required");
      } else if (!n.IsMap()) {
        r.invalid(kind, "expected a mapping of " + kind);
      } else {
        auto kind_path = path + "." + kind;
        for_each_named(n, kind_path, [&](auto& cname, auto& ckey, auto& cval) {
          auto errors_before = errors_.size();
          specs.push_back(load_component(kind, cname, ckey, cval,
                                         kind_path + "." + cname, d));
          nodes.push_back(cval);
          // A component with an error states no facts: a value that failed
          // to parse left a default the file does not state, and a check
          // across components would judge that (a false second error).
          if (errors_.size() != errors_before) specs.back().facts = {};
        });
      }
    }
    // The nodes its sinks are placed on, each once.
    for (const auto& k : d.spec.sinks)
      for (const auto& name : k.placement)
        for (const auto& n : *nodes_)
          if (n.name == name &&
              std::none_of(d.spec.nodes.begin(), d.spec.nodes.end(),
                           [&](auto& x) { return x.name == name; }))
            d.spec.nodes.push_back(n);
    load_sink_groups(r, d);
    auto http = r.node("http");
    if (http.IsDefined() && !http.IsNull()) {
      if (!http.IsMap()) {
        r.invalid("http", "expected a mapping with bind and port");
      } else {
        option_reader hr(http, path + ".http", file_, errors_, text_);
        http_spec h;
        h.bind = hr.str("bind", h.bind);
        h.port = static_cast<uint16_t>(hr.integer("port", 0, 0, 65535));
        hr.require("port");
        h.bind_at = hr.where("bind");
        h.port_at = hr.where("port");
        hr.finish();
        d.spec.http = h;
      }
    }
    auto sup = r.node("supervision");
    if (sup.IsDefined() && !sup.IsNull()) {
      if (!sup.IsMap()) {
        r.invalid("supervision", "expected a mapping");
      } else {
        option_reader sr(sup, path + ".supervision", file_, errors_, text_);
        auto& s = d.spec.supervision;
        s.max_restarts = static_cast<std::size_t>(sr.integer(
            "max_restarts", static_cast<int64_t>(s.max_restarts), 0, 1000000));
        s.restart_window = sr.duration("restart_window", s.restart_window);
        s.on_component_failure =
            sr.choice("on_component_failure", s.on_component_failure,
                      {{"keep_running", failure_policy::keep_running},
                       {"exit", failure_policy::exit}});
        sr.finish();
      }
    }
    r.finish();
    return d;
  }

  /// Parses one component. A broken one is still returned (without a spawn
  /// function) so references to it don't cause follow-up errors; `d` learns
  /// when its references to channels failed to parse.
  component_spec load_component(const std::string& kind,
                                const std::string& name, const YAML::Node& key,
                                const YAML::Node& val, const std::string& path,
                                agent_draft& d) {
    component_spec spec;
    spec.name = name;
    spec.path = path;
    spec.where = location_of(key, file_);
    if (!val.IsMap()) {
      add(value_location(key, val), path, "expected a mapping with 'type'");
      return spec;
    }
    option_reader r(val, path, file_, errors_, text_);
    r.paths_relative_to(base_);
    spec.type = r.required_str("type");
    // What a reload compares. A source's channels and interceptors are its
    // router's, changed without restarting the source.
    auto copy = expanded_copy(val);
    if (kind == "sources") {
      if (auto ic = value_of(val, "interceptors"); ic.IsDefined())
        spec.interceptors_config = expanded_yaml(ic);
      copy.remove("channels");
      copy.remove("interceptors");
      copy.remove("selector");
    }
    {
      YAML::Emitter out;
      out << copy;
      spec.config = out.c_str();
    }
    // Common keys first, so a source of unknown type still has channels.
    // A reference written but unreadable leaves unknown which channels the
    // component reads or writes; a missing one reads or writes none.
    auto unreadable = [&](std::string_view key) {
      return r.has(key) && r.failed(key);
    };
    if (kind == "sources") {
      spec.channels = r.string_list("channels");
      d.writes_unknown |= unreadable("channels");
      if (r.require("channels") && spec.channels.empty() &&
          !r.failed("channels"))
        r.invalid("channels", "must not be empty"); // a list of none
      load_interceptors(r, spec);
      load_selector(r, spec);
    } else if (kind == "sinks") {
      spec.channel = r.required_str("channel");
      d.reads_unknown |= unreadable("channel");
      load_placement(r, val, spec);
    }
    if (spec.type.empty()) return spec; // already reported by required_str
    auto spawn = reg_.parse(kind, spec.type, r);
    if (!spawn) {
      // Without a parser every other key would look unknown: skip finish().
      if (!r.failed("type"))
        r.invalid("type", unknown(std::string{singular(kind)} + " type",
                                  spec.type, reg_.types(kind)));
      return spec;
    }
    spec.spawn = std::move(*spawn);
    spec.facts = r.facts();
    r.finish();
    placed_tls_as_resolved(spec);
    if (r.values_parsed() && !spec.placement.empty() &&
        spec.facts.process_local)
      r.error("placement",
              "this sink's destination lives in the agent's own process (an "
              "embedded Kafka cluster): replicas on nodes could not reach it; "
              "run `flumen broker` and give its address, or drop placement");
    // A sink type that dead-letters reads this key itself; the loader
    // checks the reference and wires the channel.
    if (kind == "sinks") {
      d.writes_unknown |= unreadable("dead_letter_channel");
      auto dl = value_of(val, "dead_letter_channel");
      if (dl.IsDefined() && dl.IsScalar())
        spec.dead_letter_channel = expand_env(dl.Scalar()).value_or("");
    }
    return spec;
  }

  /// The directory of `file`, ending in '/': relative TLS paths of the
  /// file are taken from there (not from the current directory, which
  /// differs between shells, services and reloads).
  static std::string directory_of(const std::string& file) {
    std::error_code ec;
    auto dir = std::filesystem::absolute(file, ec).parent_path();
    if (ec || dir.empty()) return {};
    auto out = dir.lexically_normal().string();
    if (out.back() != '/') out += '/';
    return out;
  }

  /// A placed sink is parsed again on its node, from the YAML sent: with
  /// its TLS files as resolved here, not from the node's directory.
  static void placed_tls_as_resolved(component_spec& spec) {
    const auto& sec = spec.facts.security;
    if (spec.yaml.empty() || !sec.tls()) return;
    auto copy = YAML::Load(spec.yaml);
    auto tls = copy["tls"];
    if (!tls.IsMap()) return;
    tls["certificate"] = sec.certificate;
    tls["key"] = sec.key;
    tls["ca_file"] = sec.ca_file;
    YAML::Emitter out;
    out << copy;
    spec.yaml = out.c_str();
  }

  /// A sink's `replicas` and `placement` (the nodes it runs on).
  void load_placement(option_reader& r, const YAML::Node& val,
                      component_spec& spec) {
    spec.replicas = r.count("replicas", 1, 1, 256);
    if (!r.has("placement")) return;
    auto list = value_of(val, "placement");
    auto errors_before = errors_.size();
    spec.placement = r.string_list("placement");
    if (spec.placement.empty()) {
      if (errors_.size() == errors_before) // else: not a list of names
        r.invalid("placement", "must name at least one node of 'nodes'");
      return;
    }
    // string_list skips bad items: index j is the YAML's only when none was.
    bool aligned = list.IsSequence() && list.size() == spec.placement.size();
    std::vector<std::string> known;
    for (const auto& n : *nodes_)
      known.push_back(n.name);
    std::set<std::string> seen;
    for (std::size_t j = 0; j < spec.placement.size(); ++j) {
      const auto& name = spec.placement[j];
      auto where = location_of(list, file_);
      auto path = r.path_of("placement");
      if (aligned) {
        where = location_of(list[j], file_);
        path += "[" + std::to_string(j) + "]";
      }
      if (!seen.insert(name).second)
        add(where, path, "node '" + name + "' is listed twice");
      else if (std::find(known.begin(), known.end(), name) == known.end() &&
               !broken_nodes_.contains(name))
        add(where, path, unknown("node", name, known));
    }
    spec.yaml = expanded_yaml(val);
  }

  /// The agent's `sink_groups` (runtime/config/sink_group.hpp), read after
  /// its sinks: each member is marked with its group, and checked
  /// (topology_checks.cpp, check_sink_groups).
  void load_sink_groups(option_reader& r, agent_draft& d) {
    auto n = r.node("sink_groups");
    if (!n.IsDefined() || n.IsNull()) return;
    if (!n.IsMap()) {
      r.invalid("sink_groups", "expected a mapping of sink groups");
      return;
    }
    auto base = r.path_of("sink_groups");
    for_each_named(n, base, [&](auto& gname, auto& gkey, auto& gval) {
      sink_group_spec g;
      g.name = gname;
      g.path = base + "." + gname;
      g.where = location_of(gkey, file_);
      if (!gval.IsMap()) {
        add(value_location(gkey, gval), g.path,
            "expected a mapping with 'sinks' and 'processor'");
        return;
      }
      g.config = expanded_yaml(gval);
      option_reader gr(gval, g.path, file_, errors_, text_);
      g.sinks = gr.string_list("sinks");
      gr.require("sinks");
      auto p = gr.node("processor");
      if (!gr.require("processor")) {
        // reported
      } else if (!p.IsMap()) {
        gr.invalid("processor", "expected a mapping with 'type'");
      } else {
        option_reader pr(gr, "processor");
        using kind = sink_group_spec::kind;
        pr.require("type");
        g.type = pr.choice("type", g.type,
                           {{"failover", kind::failover},
                            {"load_balance", kind::load_balance}});
        if (g.type == kind::failover) {
          g.max_penalty = pr.duration("max_penalty", g.max_penalty);
          auto prio = pr.node("priority");
          if (prio.IsDefined() && !prio.IsNull() && !prio.IsMap()) {
            pr.invalid("priority", "expected a mapping of sink to priority");
          } else if (prio.IsDefined() && prio.IsMap()) {
            option_reader qr(pr, "priority");
            long next = 0;
            std::map<long, std::string> taken;
            std::map<std::string, long> read; // a sink listed twice: once
            for (auto& s : g.sinks) {
              if (auto r = read.find(s); r != read.end()) {
                g.priority.push_back(r->second);
                continue;
              }
              if (!qr.has(s)) {
                g.priority.push_back(--next);
                continue;
              }
              auto v = static_cast<long>(qr.integer(s, 0, -1000000, 1000000));
              g.priority.push_back(v);
              read.emplace(s, v);
              // A value that did not parse is judged by nothing else.
              if (qr.failed(s)) continue;
              if (auto t = taken.find(v); t != taken.end())
                qr.invalid(s, "priority " + std::to_string(v) + " is sink '" +
                                  t->second +
                                  "''s already: each needs its own");
              taken.emplace(v, s);
            }
            qr.finish(); // a key that is no member: unknown, with a hint
          } else {
            for (std::size_t i = 0; i < g.sinks.size(); ++i)
              g.priority.push_back(-1 - static_cast<long>(i));
          }
        } else {
          for (auto key : {"max_penalty", "priority"})
            if (pr.has(key))
              pr.invalid(key, "only a failover processor has '" +
                                  std::string{key} + "'");
          g.random = pr.choice("selector", g.random,
                               {{"round_robin", false}, {"random", true}});
          g.backoff = pr.boolean("backoff", g.backoff);
          g.max_backoff = pr.duration("max_backoff", g.max_backoff);
        }
        pr.finish();
      }
      gr.finish();
      d.spec.sink_groups.push_back(std::move(g));
      d.groups.push_back(gval);
    });
  }

  /// A source's `selector` (runtime/config/selector.hpp); its channel
  /// names are checked with the agent's (topology_checks.cpp).
  void load_selector(option_reader& r, component_spec& spec) {
    auto n = r.node("selector");
    if (!n.IsDefined() || n.IsNull()) return;
    if (!n.IsMap()) {
      r.invalid("selector", "expected a mapping with 'type'");
      return;
    }
    option_reader sr(r, "selector");
    auto& s = spec.selector;
    using kind = selector_spec::kind;
    s.type = sr.choice("type", s.type,
                       {{"replicating", kind::replicating},
                        {"multiplexing", kind::multiplexing}});
    bool mux = s.type == kind::multiplexing;
    // A mapping of value -> channel list (a single name is a list of one).
    auto value_lists = [&](std::string_view key) {
      std::vector<std::pair<std::string, std::vector<std::string>>> out;
      auto m = sr.node(key);
      if (!m.IsDefined() || m.IsNull()) return out;
      if (!m.IsMap()) {
        sr.invalid(key, "expected a mapping of header values to channels");
        return out;
      }
      option_reader mr(sr, key);
      for (auto it = m.begin(); it != m.end(); ++it) {
        const YAML::Node k = it->first;
        if (!k.IsScalar()) continue; // reported by finish()
        auto list = mr.string_list(k.Scalar());
        if (list.empty() && !mr.failed(k.Scalar()))
          mr.invalid(k.Scalar(), "must name at least one channel");
        out.emplace_back(k.Scalar(), std::move(list));
      }
      mr.finish();
      return out;
    };
    if (mux) {
      s.header = sr.str("header", s.header);
      if (s.header.empty()) sr.invalid("header", "must not be empty");
      s.mapping = value_lists("mapping");
      s.default_channels = sr.string_list("default");
      s.optional = value_lists("optional");
      if (s.mapping.empty() && s.default_channels.empty() && sr.values_parsed())
        sr.error("a multiplexing selector needs 'mapping' or 'default'");
    } else {
      for (auto key : {"header", "mapping", "default"})
        if (sr.has(key))
          sr.invalid(key, "only a multiplexing selector has '" +
                              std::string{key} + "'");
      auto opt = sr.string_list("optional");
      if (!opt.empty()) s.optional.emplace_back("", std::move(opt));
    }
    sr.finish();
  }

  void load_interceptors(option_reader& r, component_spec& spec) {
    auto list = r.node("interceptors");
    if (!list.IsDefined() || list.IsNull()) return;
    if (!list.IsSequence()) {
      r.invalid("interceptors", "expected a list of interceptors");
      return;
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto item = list[i];
      auto path = r.path_of("interceptors") + "[" + std::to_string(i) + "]";
      if (!item.IsMap()) {
        add(location_of(item, file_), path, "expected a mapping with 'type'");
        continue;
      }
      option_reader ir(item, path, file_, errors_, text_);
      auto type = ir.required_str("type");
      if (type.empty()) continue;
      auto make = reg_.parse_interceptor(type, ir);
      if (!make) {
        ir.invalid("type", unknown("interceptor type", type,
                                   reg_.types("interceptors")));
        continue;
      }
      ir.finish();
      spec.interceptors.push_back(std::move(*make));
      spec.interceptor_types.push_back(std::move(type));
    }
  }

  /// Location of a key's value in a component's mapping, or of the mapping
  /// when the key is absent (a default was used).
  location where_in(const YAML::Node& map, const std::string& key) {
    auto v = value_of(map, key);
    return location_of(v.IsDefined() ? v : map, file_);
  }

  /// Checks one agent across its components: references, unconnected
  /// channels, batch sizes against transaction capacities, event sizes
  /// against byte capacities, listen addresses and dead-letter cycles.
  void validate(const agent_draft& d);

  /// One process has one TLS identity (CAF's OpenSSL module is configured
  /// per actor system): every TLS endpoint of an agent, and every node its
  /// sinks are placed on, must name the same certificate, key, CA and
  /// passphrase.
  void check_tls_identity(const agent_draft& d);

  /// A sink's output directory must exist as a writable directory, or be
  /// creatable (its nearest existing ancestor a writable directory): else
  /// the sink would fail every batch, for ever. Only for agents of this
  /// machine, like `bind`.
  void check_directories(const agent_draft& d);
  /// Each component's `libraries` can be loaded here (agents this machine
  /// runs only, as for directories).
  void check_libraries(const agent_draft& d);
  /// TLS nodes already reported by check_libraries.
  std::set<std::string> unloadable_nodes_;
  /// The file's nodes (parsed before the agents that place sinks on them),
  /// and the names of entries too broken to parse (already reported).
  const std::vector<node_spec>* nodes_ = nullptr;
  std::set<std::string> broken_nodes_;
  /// File channel directories and state files seen so far (all agents of
  /// the file): path -> the component that has it.
  std::map<std::string, std::string> channel_dirs_;
  std::map<std::string, std::string> state_files_;

  /// A listening source's `bind` must be an address of this machine, and no
  /// two sources of one agent may listen on the same address and port (the
  /// second would fail to start).
  void check_listeners(const agent_draft& d);

  /// A sink puts what it can never deliver to its dead-letter channel, which
  /// another sink reads and may dead-letter further: the edges channel ->
  /// dead-letter channel must not close a cycle, or such an event would go
  /// round forever. Reported at the edge that closes it, in file order.
  void check_dead_letter_cycles(const agent_draft& d);

  /// A kafka source whose events reach a kafka sink of the same cluster
  /// that writes to a topic the source reads (its fixed topic, or the one
  /// the source names in its topic header) is a relay loop: a warning.
  void check_kafka_loops(const agent_draft& d);

  /// A source's selector names only its own channels; a channel that no
  /// selector entry uses is a warning (topology_checks.cpp).
  void check_selector(const agent_draft& d, std::size_t i);
  /// A group's sinks exist, belong to no other group, take from one
  /// channel and run once in this process; each member learns its group.
  void check_sink_groups(agent_draft& d);

  const registry& reg_;
  error_list* warnings_ = nullptr;
  std::string file_;
  std::string_view text_;
  error_list& errors_;
  probe_scope probe_;
  std::string base_; ///< the file's directory (see directory_of)
};

} // namespace flumen::detail
