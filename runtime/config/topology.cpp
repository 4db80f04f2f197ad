#include "runtime/config/topology.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace flumen {

namespace {

/// The largest topology file read. A topology is a few KiB; the limit keeps
/// `flumen validate /dev/zero` or a mistaken log file from eating memory.
constexpr std::size_t max_topology_bytes = 4 * 1024 * 1024;

std::string too_large(uint64_t size) {
  return "too large (" + std::to_string(size) +
         " bytes; a topology file may have at most " +
         std::to_string(max_topology_bytes / (1024 * 1024)) + " MiB)";
}

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

/// Where a listening source would listen: the numeric address (as
/// getnameinfo prints it) or, when it can't, the system's reason.
struct listen_probe {
  std::string address;
  std::string error;
};

/// Resolves `host` as a listening source does at run time (getaddrinfo with
/// AI_PASSIVE, first address that binds wins) and binds a socket to it with
/// port 0, closed at once: a name that doesn't resolve or an address this
/// machine doesn't have fails here instead of when the agent starts.
listen_probe probe_listen(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  if (auto rc = ::getaddrinfo(host.c_str(), "0", &hints, &res))
    return {{}, rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc)};
  listen_probe out{{}, "no address"};
  for (auto ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                      ai->ai_protocol);
    if (fd < 0) {
      out.error = std::strerror(errno);
      continue;
    }
    bool bound = ::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0;
    if (!bound) {
      auto err = errno;
      out.error = std::strerror(err);
      if (err == EADDRNOTAVAIL)
        out.error += " (not an address of this machine)";
    }
    ::close(fd);
    if (!bound) continue;
    char name[NI_MAXHOST];
    if (::getnameinfo(ai->ai_addr, ai->ai_addrlen, name, sizeof(name), nullptr,
                      0, NI_NUMERICHOST) == 0)
      out = {name, {}};
    else
      out = {host, {}};
    break;
  }
  ::freeaddrinfo(res);
  return out;
}

/// Why files could not be written in `dir` (nullopt: they could).
std::optional<std::string> unwritable_directory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p{dir};
  if (p.is_relative()) p = fs::current_path(ec) / p;
  // The nearest part of the path that exists must be a writable directory
  // (it is where the missing rest would be created).
  auto at = p;
  while (!fs::exists(at, ec) && at.has_parent_path() && at != at.parent_path())
    at = at.parent_path();
  if (!fs::is_directory(at, ec))
    return "'" + at.string() + "' is not a directory";
  if (::access(at.c_str(), W_OK | X_OK) != 0)
    return "cannot write in '" + at.string() + "': " + std::strerror(errno);
  return std::nullopt;
}

bool wildcard_address(const std::string& address) {
  return address == "0.0.0.0" || address == "::";
}

/// `127.0.0.1:80`, `[::1]:80`.
std::string endpoint(const std::string& address, uint16_t port) {
  auto host =
      address.find(':') == std::string::npos ? address : "[" + address + "]";
  return host + ":" + std::to_string(port);
}

/// A copy of `node` with environment variables expanded in every scalar (a
/// node parses what it is sent with the agent's environment, not its own).
YAML::Node expanded_copy(const YAML::Node& node) {
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

std::string expanded_yaml(const YAML::Node& node) {
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
};

class loader {
public:
  /// `text` is the file's text (for messages that tell how a value was
  /// written); it must outlive the loader.
  loader(const registry& reg, std::string file, std::string_view text,
         error_list& errors, probe_scope probe = {})
      : reg_(reg), file_(std::move(file)), text_(text), errors_(errors),
        probe_(std::move(probe)) {}

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
  void load_nodes(option_reader& r, topology& topo) {
    auto nodes = r.node("nodes");
    if (!nodes.IsDefined() || nodes.IsNull()) return;
    if (!nodes.IsMap()) {
      r.error("nodes", "expected a mapping of nodes");
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
      option_reader nr(val, path, file_, errors_, text_);
      n.host = nr.required_str("host");
      n.port = static_cast<uint16_t>(nr.integer("port", 0, 1, 65535));
      if (!nr.has("port")) nr.error("missing required key 'port'");
      n.security = parse_link_security(nr);
      if (!n.host.empty()) require_protection(nr, "host", n.host, n.security);
      nr.finish();
      topo.nodes.push_back(std::move(n));
    });
  }

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
    // The nodes its sinks are placed on, each once.
    for (const auto& k : d.spec.sinks)
      for (const auto& name : k.placement)
        for (const auto& n : *nodes_)
          if (n.name == name &&
              std::none_of(d.spec.nodes.begin(), d.spec.nodes.end(),
                           [&](auto& x) { return x.name == name; }))
            d.spec.nodes.push_back(n);
    auto http = r.node("http");
    if (http.IsDefined() && !http.IsNull()) {
      if (!http.IsMap()) {
        r.error("http", "expected a mapping with bind and port");
      } else {
        option_reader hr(http, path + ".http", file_, errors_, text_);
        http_spec h;
        h.bind = hr.str("bind", h.bind);
        h.port = static_cast<uint16_t>(hr.integer("port", 0, 0, 65535));
        if (!hr.has("port")) hr.error("missing required key 'port'");
        h.bind_at = hr.where("bind");
        h.port_at = hr.where("port");
        hr.finish();
        d.spec.http = h;
      }
    }
    auto sup = r.node("supervision");
    if (sup.IsDefined() && !sup.IsNull()) {
      if (!sup.IsMap()) {
        r.error("supervision", "expected a mapping");
      } else {
        option_reader sr(sup, path + ".supervision", file_, errors_, text_);
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
    option_reader r(val, path, file_, errors_, text_);
    spec.type = r.required_str("type");
    // What a reload compares. A source's channels and interceptors are its
    // router's, changed without restarting the source.
    auto copy = expanded_copy(val);
    if (kind == "sources") {
      if (auto ic = value_of(val, "interceptors"); ic.IsDefined())
        spec.interceptors_config = expanded_yaml(ic);
      copy.remove("channels");
      copy.remove("interceptors");
    }
    {
      YAML::Emitter out;
      out << copy;
      spec.config = out.c_str();
    }
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
      load_placement(r, val, spec);
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
    spec.facts = r.facts();
    r.finish();
    if (!spec.placement.empty() && spec.facts.process_local)
      r.error("placement",
              "this sink's destination lives in the agent's own process (an "
              "embedded Kafka cluster): replicas on nodes could not reach it; "
              "run `flumen broker` and give its address, or drop placement");
    // A sink type that dead-letters reads this key itself; the loader
    // checks the reference and wires the channel.
    if (kind == "sinks") {
      auto dl = value_of(val, "dead_letter_channel");
      if (dl.IsDefined() && dl.IsScalar())
        spec.dead_letter_channel = expand_env(dl.Scalar()).value_or("");
    }
    return spec;
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
        r.error("placement", "must name at least one node of 'nodes'");
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
      option_reader ir(item, path, file_, errors_, text_);
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

  /// Location of a key's value in a component's mapping, or of the mapping
  /// when the key is absent (a default was used).
  location where_in(const YAML::Node& map, const std::string& key) {
    auto v = value_of(map, key);
    return location_of(v.IsDefined() ? v : map, file_);
  }

  /// Checks one agent across its components: references, unconnected
  /// channels, batch sizes against transaction capacities, event sizes
  /// against byte capacities, listen addresses and dead-letter cycles.
  void validate(const agent_draft& d) {
    const auto& a = d.spec;
    std::vector<std::string> names;
    for (const auto& c : a.channels)
      names.push_back(c.name);
    auto unknown_channel = [&](const std::string& name) {
      return unknown("channel", name, names);
    };
    // Specs and their YAML nodes are stored in step.
    auto node_of = [&](const component_spec& ch) -> const YAML::Node& {
      return d.channels[static_cast<std::size_t>(&ch - a.channels.data())];
    };
    // Only a batch_size the file states is checked: a default one adapts to
    // the channels at run time, a stated one is what the user asked for.
    auto check_batch = [&](const component_spec& c, const YAML::Node& node,
                           const component_spec& ch, const char* what) {
      const auto& f = c.facts;
      auto cap = ch.facts.transaction_capacity;
      if (!f.batch_size_stated || cap == 0 || f.batch_size <= cap) return;
      add(location_of(value_of(node, "batch_size"), file_),
          c.path + ".batch_size",
          "batch_size " + std::to_string(f.batch_size) +
              " exceeds transaction_capacity " + std::to_string(cap) + " of " +
              what + " '" + ch.name + "'");
    };
    // The channel refuses a put larger than its byte_capacity for good, so
    // a line of max_line_length bytes would stop the source.
    auto check_bytes = [&](const component_spec& src,
                           const component_spec& ch) {
      auto cap = ch.facts.byte_capacity;
      auto biggest = src.facts.max_event_bytes;
      if (cap == 0 || biggest <= cap) return;
      add(where_in(node_of(ch), "byte_capacity"), ch.path + ".byte_capacity",
          "byte_capacity " + std::to_string(cap) +
              " is smaller than the longest event source '" + src.name +
              "' can make (max_line_length " + std::to_string(biggest) +
              "); such an event could never be put (raise byte_capacity or "
              "lower max_line_length)");
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
        if (auto* ch = a.find_channel(name)) {
          check_batch(src, d.sources[i], *ch, "channel");
          check_bytes(src, *ch);
        } else {
          add(where, path, unknown_channel(name));
        }
      }
    }
    for (std::size_t i = 0; i < a.sinks.size(); ++i) {
      const auto& snk = a.sinks[i];
      if (snk.channel.empty()) continue;
      if (auto* ch = a.find_channel(snk.channel))
        check_batch(snk, d.sinks[i], *ch, "channel");
      else
        add(location_of(value_of(d.sinks[i], "channel"), file_),
            snk.path + ".channel", unknown_channel(snk.channel));
      if (snk.dead_letter_channel.empty()) continue;
      auto where =
          location_of(value_of(d.sinks[i], "dead_letter_channel"), file_);
      auto* dl = a.find_channel(snk.dead_letter_channel);
      if (!dl)
        add(where, snk.path + ".dead_letter_channel",
            unknown_channel(snk.dead_letter_channel));
      else if (snk.dead_letter_channel == snk.channel)
        add(where, snk.path + ".dead_letter_channel",
            "must not be the channel the sink reads");
      else
        // Undeliverable events of one batch go there in one put.
        check_batch(snk, d.sinks[i], *dl, "dead-letter channel");
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
    check_listeners(d);
    check_directories(d);
    check_dead_letter_cycles(d);
    check_tls_identity(d);
  }

  /// One process has one TLS identity (CAF's OpenSSL module is configured
  /// per actor system): every TLS endpoint of an agent, and every node its
  /// sinks are placed on, must name the same certificate, key, CA and
  /// passphrase.
  void check_tls_identity(const agent_draft& d) {
    struct endpoint_tls {
      std::string path;
      location where;
      const link_security* security;
    };
    std::vector<endpoint_tls> all;
    for (std::size_t i = 0; i < d.spec.sources.size(); ++i)
      all.push_back({d.spec.sources[i].path + ".tls",
                     where_in(d.sources[i], "tls"),
                     &d.spec.sources[i].facts.security});
    for (std::size_t i = 0; i < d.spec.sinks.size(); ++i)
      all.push_back({d.spec.sinks[i].path + ".tls", where_in(d.sinks[i], "tls"),
                     &d.spec.sinks[i].facts.security});
    for (const auto& n : d.spec.nodes)
      all.push_back({"nodes." + n.name + ".tls", n.where, &n.security});
    const endpoint_tls* first = nullptr;
    for (const auto& e : all) {
      if (!e.security->tls()) continue;
      if (!first) {
        first = &e;
        continue;
      }
      if (*e.security == *first->security) continue;
      add(e.where, e.path,
          "differs from " + first->path + " (agent '" + d.spec.name +
              "'): an agent has one TLS identity, so all its tls settings "
              "must be the same");
    }
  }

  /// A sink's output directory must exist as a writable directory, or be
  /// creatable (its nearest existing ancestor a writable directory): else
  /// the sink would fail every batch, for ever. Only for agents of this
  /// machine, like `bind`.
  void check_directories(const agent_draft& d) {
    if (!probe_.all && probe_.agent != d.spec.name) return;
    for (std::size_t i = 0; i < d.spec.sinks.size(); ++i) {
      const auto& k = d.spec.sinks[i];
      if (k.facts.directory.empty()) continue;
      if (auto why = unwritable_directory(k.facts.directory))
        add(where_in(d.sinks[i], "directory"), k.path + ".directory", *why);
    }
    for (std::size_t i = 0; i < d.spec.sources.size(); ++i) {
      const auto& src = d.spec.sources[i];
      if (src.facts.state_file.empty()) continue;
      if (auto why = unwritable_directory(src.facts.directory))
        add(where_in(d.sources[i], "positions_file"),
            src.path + ".positions_file", *why);
      namespace fs = std::filesystem;
      std::error_code ec;
      auto key =
          fs::weakly_canonical(fs::absolute(src.facts.state_file, ec), ec)
              .lexically_normal()
              .string();
      if (auto [it, fresh] = state_files_.emplace(key, src.path); !fresh)
        add(where_in(d.sources[i], "positions_file"),
            src.path + ".positions_file",
            "'" + src.facts.state_file + "' is the positions file of " +
                it->second + " too: each source needs its own");
    }
    // A file channel's directory likewise; and two channels of one file on
    // one directory would refuse each other at run time (its lock).
    for (std::size_t i = 0; i < d.spec.channels.size(); ++i) {
      const auto& c = d.spec.channels[i];
      if (c.facts.directory.empty()) continue;
      if (auto why = unwritable_directory(c.facts.directory))
        add(where_in(d.channels[i], "directory"), c.path + ".directory", *why);
      namespace fs = std::filesystem;
      std::error_code ec;
      auto key = fs::weakly_canonical(fs::absolute(c.facts.directory, ec), ec)
                     .lexically_normal()
                     .string();
      if (auto [it, fresh] = channel_dirs_.emplace(key, c.path); !fresh)
        add(where_in(d.channels[i], "directory"), c.path + ".directory",
            "'" + c.facts.directory + "' is the directory of " + it->second +
                " too: each file channel needs its own");
    }
  }
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
  void check_listeners(const agent_draft& d) {
    struct listener {
      const component_spec* source;
      std::string address;
      uint16_t port;
    };
    std::vector<listener> listeners;
    for (std::size_t i = 0; i < d.spec.sources.size(); ++i) {
      const auto& src = d.spec.sources[i];
      const auto& f = src.facts;
      if (!f.listen_port) continue;
      // Another machine's agent: its addresses are not ours to try.
      if (!probe_.all && probe_.agent != d.spec.name) continue;
      auto probe = probe_listen(f.listen_host);
      if (!probe.error.empty()) {
        add(where_in(d.sources[i], "bind"), src.path + ".bind",
            "cannot listen on '" + f.listen_host + "': " + probe.error);
        continue;
      }
      // Port 0 takes any free port: it can't clash.
      auto port = *f.listen_port;
      if (port == 0) continue;
      for (const auto& l : listeners) {
        if (l.port != port) continue;
        // A wildcard address takes the port on every address (and on
        // Linux `::` takes IPv4 too).
        auto same = l.address == probe.address;
        if (!same && !wildcard_address(l.address) &&
            !wildcard_address(probe.address))
          continue;
        auto msg = "source '" + l.source->name + "' already listens on " +
                   endpoint(l.address, port);
        if (!same)
          msg += ", which overlaps " + endpoint(probe.address, port) +
                 " (0.0.0.0 and :: stand for every address)";
        add(where_in(d.sources[i], "port"), src.path + ".port", msg);
        break;
      }
      listeners.push_back({&src, probe.address, port});
    }
    // The HTTP endpoint listens too: on an address of this machine, and not
    // on a port a source of the agent has.
    if (!d.spec.http || (!probe_.all && probe_.agent != d.spec.name)) return;
    const auto& h = *d.spec.http;
    auto path = "agents." + d.spec.name + ".http";
    auto probe = probe_listen(h.bind);
    if (!probe.error.empty()) {
      add(h.bind_at, path + ".bind",
          "cannot listen on '" + h.bind + "': " + probe.error);
      return;
    }
    if (h.port == 0) return;
    for (const auto& l : listeners)
      if (l.port == h.port &&
          (l.address == probe.address || wildcard_address(l.address) ||
           wildcard_address(probe.address)))
        add(h.port_at, path + ".port",
            "source '" + l.source->name + "' already listens on " +
                endpoint(l.address, h.port));
  }

  /// A sink puts what it can never deliver to its dead-letter channel, which
  /// another sink reads and may dead-letter further: the edges channel ->
  /// dead-letter channel must not close a cycle, or such an event would go
  /// round forever. Reported at the edge that closes it, in file order.
  void check_dead_letter_cycles(const agent_draft& d) {
    const auto& a = d.spec;
    // channel -> (dead-letter channel, sink) for the edges accepted so far.
    std::map<std::string,
             std::vector<std::pair<std::string, const component_spec*>>>
        next;
    for (std::size_t i = 0; i < a.sinks.size(); ++i) {
      const auto& k = a.sinks[i];
      const auto& from = k.channel;
      const auto& to = k.dead_letter_channel;
      // Unknown channels and self-loops are reported above.
      if (to.empty() || to == from || !a.find_channel(from) ||
          !a.find_channel(to))
        continue;
      // Breadth-first from `to`: a path back to `from` closes a cycle.
      std::map<std::string, std::pair<std::string, const component_spec*>> prev{
          {to, {"", nullptr}}};
      std::vector<std::string> queue{to};
      for (std::size_t q = 0; q < queue.size() && !prev.count(from); ++q) {
        auto it = next.find(queue[q]);
        if (it == next.end()) continue;
        for (const auto& [n, sink] : it->second)
          if (prev.emplace(n, std::pair{queue[q], sink}).second)
            queue.push_back(n);
      }
      if (!prev.count(from)) {
        next[from].emplace_back(to, &k);
        continue;
      }
      // Walk back from `from` to `to`, then read it forwards.
      std::vector<std::string> chain{from};
      std::vector<std::string> sinks;
      for (auto c = from; c != to; c = prev[c].first) {
        sinks.push_back(prev[c].second->name);
        chain.push_back(prev[c].first);
      }
      std::reverse(chain.begin(), chain.end());
      std::reverse(sinks.begin(), sinks.end());
      chain.insert(chain.begin(), from);
      sinks.insert(sinks.begin(), k.name);
      std::string cycle;
      for (const auto& c : chain)
        cycle += (cycle.empty() ? "" : " -> ") + c;
      add(where_in(d.sinks[i], "dead_letter_channel"),
          k.path + ".dead_letter_channel",
          "dead-letter cycle " + cycle + " (sinks " + join(sinks) +
              "): an event none of them can deliver would go round forever");
    }
  }

  const registry& reg_;
  std::string file_;
  std::string_view text_;
  error_list& errors_;
  probe_scope probe_;
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

/// A name as letters and digits, every other byte (`_` too) as `_XX` in
/// upper-case hex: `c-1` is `c_2D1`, `c_1` is `c_5F1`. Decoding from the
/// left is unambiguous, so distinct names never share an id; and the result
/// is an identifier in Mermaid and DOT alike.
std::string escaped_name(const std::string& s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      out += c;
    } else {
      out += '_';
      out += hex[u >> 4];
      out += hex[u & 0xF];
    }
  }
  return out;
}

/// A Mermaid subgraph id for an agent.
std::string mermaid_id(const std::string& s) {
  auto out = escaped_name(s);
  // `end` closes a subgraph in Mermaid. A trailing `_` is never part of an
  // escaped name, so this stays distinct from every other id.
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

/// A node's id in both drawings: agent, kind and name joined by `_`. In an
/// escaped name `_` is always followed by two upper-case hex digits, and
/// kinds are lower-case words, so the first `_` followed by a lower-case
/// letter ends the agent's part: distinct components never share an id, and
/// no node id equals an agent's (which has no such `_`).
std::string node_name(const agent_spec& a, const char* kind,
                      const component_spec& c) {
  return escaped_name(a.name) + "_" + kind + "_" + escaped_name(c.name);
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

link_security agent_spec::tls() const {
  for (const auto* list : {&sources, &sinks})
    for (const auto& c : *list)
      if (c.facts.security.tls()) return c.facts.security;
  for (const auto& n : nodes)
    if (n.security.tls()) return n.security;
  return {};
}

placed_sink load_placed_sink(const std::string& yaml, const std::string& path,
                             const registry& reg) {
  placed_sink out;
  YAML::Node node;
  try {
    node = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    out.errors.push_back(
        {{}, path, std::string{"malformed YAML: "} + e.what()});
    return out;
  }
  if (!node.IsMap()) {
    out.errors.push_back({{}, path, "expected a mapping with 'type'"});
    return out;
  }
  if (!check_yaml_bounds(node, "(sent by the agent)", out.errors, path))
    return out;
  scoped_no_env_expansion as_sent; // the agent expanded it already
  option_reader r(node, path, "(sent by the agent)", out.errors);
  auto type = r.required_str("type");
  r.known({"channel", "dead_letter_channel", "replicas", "placement"});
  if (type.empty()) return out;
  auto spawn = reg.parse("sinks", type, r);
  if (!spawn) {
    r.error("type", "unknown sink type '" + type + "' on this node");
    return out;
  }
  r.finish();
  if (out.errors.empty()) out.spawn = std::move(*spawn);
  return out;
}

const agent_spec* topology::find(const std::string& agent_name) const {
  for (const auto& a : agents)
    if (a.name == agent_name) return &a;
  return nullptr;
}

namespace {

/// Why `st` is no file to read as a topology; empty when it is one.
std::string not_a_topology_file(const struct stat& st) {
  if (S_ISDIR(st.st_mode)) return std::strerror(EISDIR);
  if (!S_ISREG(st.st_mode)) {
    auto kind = S_ISFIFO(st.st_mode)   ? "a FIFO"
                : S_ISCHR(st.st_mode)  ? "a character device"
                : S_ISBLK(st.st_mode)  ? "a block device"
                : S_ISSOCK(st.st_mode) ? "a socket"
                                       : "no regular file";
    return std::string{"not a regular file ("} + kind + ")";
  }
  if (static_cast<uint64_t>(st.st_size) > max_topology_bytes)
    return too_large(static_cast<uint64_t>(st.st_size));
  return {};
}

} // namespace

topology_text read_topology_file(const std::string& file) {
  topology_text out;
  // Look before opening: opening a device may do things (a tape rewinds),
  // and reading /dev/zero or a FIFO would never end.
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    out.error = std::strerror(errno);
    return out;
  }
  if (out.error = not_a_topology_file(st); !out.error.empty()) return out;
  // O_NONBLOCK: should the path have become a FIFO since, open won't wait
  // for a writer; fstat then tells.
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    out.error = std::strerror(errno);
    return out;
  }
  auto& text = out.text;
  auto& why = out.error;
  if (::fstat(fd, &st) != 0)
    why = std::strerror(errno);
  else
    why = not_a_topology_file(st);
  // At most one byte past the limit, in case the file grows meanwhile.
  char buf[64 * 1024];
  while (why.empty() && text.size() <= max_topology_bytes) {
    auto want = std::min(sizeof(buf), max_topology_bytes + 1 - text.size());
    auto n = ::read(fd, buf, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) why = std::strerror(errno);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (why.empty() && text.size() > max_topology_bytes)
    why = too_large(text.size());
  if (!why.empty()) text.clear();
  return out;
}

load_result load_topology(const std::string& file, const registry& reg,
                          const probe_scope& probe) {
  auto read = read_topology_file(file);
  if (!read.error.empty()) {
    load_result res;
    res.topo.file = file;
    res.errors.push_back({{file, 0, 0}, "", "cannot read file: " + read.error});
    return res;
  }
  return load_topology_text(read.text, file, reg, probe);
}

load_result load_topology_text(const std::string& text, const std::string& file,
                               const registry& reg, const probe_scope& probe) {
  load_result res;
  res.topo.file = file;
  YAML::Node root;
  try {
    root = YAML::Load(text);
    // Aliases are shared nodes that every walk below expands: bound them
    // before anything walks (or copies) the document.
    if (check_yaml_bounds(root, file, res.errors))
      loader{reg, file, text, res.errors, probe}.load(root, res.topo);
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
      out += "    " + node_name(a, kind, c) + open + "\"" +
             mermaid_text(joined_label(c, "<br/>")) + "\"" + close + "\n";
    };
    for (const auto& s : a.sources)
      node("sources", s, "[", "]");
    for (const auto& c : a.channels)
      node("channels", c, "[(", ")]");
    for (const auto& k : a.sinks)
      node("sinks", k, "[", "]");
    for_each_edge(a, [&](const std::string& from, const std::string& to) {
      out += "    " + from + " --> " + to + "\n";
    });
    out += "  end\n";
  }
  return out;
}

} // namespace flumen
