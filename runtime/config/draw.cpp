#include "runtime/config/draw.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "runtime/config/link_security.hpp"
#include "runtime/config/probes.hpp"

namespace flumen {

namespace {

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

/// A `nodes:` entry's id in both drawings: its escaped name and `_node`.
/// The first `_` followed by a lower-case letter is the final `_node`, where
/// a component id has `_sources_`, `_channels_` or `_sinks_` and an agent's
/// none: distinct from both.
std::string node_id(const node_spec& n) {
  return escaped_name(n.name) + "_node";
}

/// A hop: a sink of one agent sending to a source of the file that listens
/// where it sends.
struct hop_link {
  const agent_spec* from;
  const component_spec* sink;
  const agent_spec* to;
  const component_spec* source;
  std::string address; ///< where the sink sends, as it says
};

/// A sink's replicas on one node.
struct placed_on {
  const agent_spec* agent;
  const component_spec* sink;
  const node_spec* node;
  std::string replicas; ///< `replica 2`, `replicas 1, 3`
};

/// What a drawing shows, in file order.
struct scene {
  std::vector<const agent_spec*> agents;
  std::vector<const node_spec*> nodes;
  std::vector<hop_link> hops;
  std::vector<placed_on> placements;
  /// Label lines beyond name and type: interceptors, replicas, addresses
  /// sent to that no source of the file listens on.
  std::map<const component_spec*, std::vector<std::string>> extra;
};

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// How surely a sink sending to `to` reaches a source listening on `l`: 3
/// the same address, 2 both this machine (localhost, 127.0.0.0/8, ::1;
/// 0.0.0.0 as a destination is this machine too), 1 the source listens on
/// every address (0.0.0.0, ::), 0 not at all. The drawing is pure: names
/// are not resolved.
int reaches(const remote_endpoint& to, const listen_endpoint& l) {
  if (l.proto != transport::tcp || to.port == 0 || l.port != to.port) return 0;
  if (lower(to.host) == lower(l.host)) return 3;
  auto local = [](const std::string& h) {
    return loopback_address(h) || wildcard_address(h);
  };
  if (local(to.host) && loopback_address(l.host)) return 2;
  if (wildcard_address(l.host)) return 1;
  return 0;
}

/// Every hop of the file: for each address a sink sends to, the sources
/// that reach it best (several when the file can't tell them apart).
/// Addresses no source listens on are returned in `unmatched`.
std::vector<hop_link>
hops_of(const topology& topo,
        std::map<const component_spec*, std::vector<std::string>>& unmatched) {
  std::vector<hop_link> out;
  for (const auto& a : topo.agents)
    for (const auto& k : a.sinks)
      for (const auto& to : k.facts.sends_to) {
        auto address = endpoint(to.host, to.port);
        int best = 0;
        std::vector<hop_link> found;
        for (const auto& b : topo.agents)
          for (const auto& s : b.sources) {
            int m = 0;
            for (const auto& l : s.facts.listens)
              m = std::max(m, reaches(to, l));
            if (m == 0 || m < best) continue;
            if (m > best) found.clear();
            best = m;
            found.push_back({&a, &k, &b, &s, address});
          }
        if (found.empty()) unmatched[&k].push_back("to " + address);
        out.insert(out.end(), found.begin(), found.end());
      }
  return out;
}

/// `replica 2`, `replicas 1, 3`: the replicas of `k` on its `j`-th node
/// (replica i runs on node (i - 1) mod n); empty when none.
std::string replicas_on(const component_spec& k, std::size_t j) {
  std::vector<std::string> ids;
  for (std::size_t i = 1; i <= k.replicas; ++i)
    if ((i - 1) % k.placement.size() == j) ids.push_back(std::to_string(i));
  if (ids.empty()) return {};
  std::string out = ids.size() == 1 ? "replica " : "replicas ";
  for (std::size_t i = 0; i < ids.size(); ++i)
    out += (i ? ", " : "") + ids[i];
  return out;
}

/// What to draw: every agent, or `only` and its direct hop peers.
scene scene_of(const topology& topo, const std::string& only) {
  scene sc;
  std::map<const component_spec*, std::vector<std::string>> unmatched;
  auto hops = hops_of(topo, unmatched);
  const agent_spec* focus = only.empty() ? nullptr : topo.find(only);
  for (const auto& a : topo.agents) {
    bool drawn = !focus || &a == focus ||
                 std::any_of(hops.begin(), hops.end(), [&](const hop_link& h) {
                   return (h.from == focus && h.to == &a) ||
                          (h.to == focus && h.from == &a);
                 });
    if (drawn) sc.agents.push_back(&a);
  }
  for (const auto& h : hops)
    if (!focus || h.from == focus || h.to == focus) sc.hops.push_back(h);
  // Nodes: all of the file's, or those the one agent's sinks are placed on.
  for (const auto& n : topo.nodes)
    if (!focus || std::any_of(focus->nodes.begin(), focus->nodes.end(),
                              [&](auto& x) { return x.name == n.name; }))
      sc.nodes.push_back(&n);
  for (const auto* a : sc.agents) {
    if (focus && a != focus) continue;
    for (const auto& k : a->sinks)
      for (std::size_t j = 0; j < k.placement.size(); ++j) {
        auto on =
            std::find_if(topo.nodes.begin(), topo.nodes.end(),
                         [&](auto& n) { return n.name == k.placement[j]; });
        auto which = replicas_on(k, j);
        if (on != topo.nodes.end() && !which.empty())
          sc.placements.push_back({a, &k, &*on, which});
      }
  }
  for (const auto* a : sc.agents) {
    for (const auto& s : a->sources)
      if (!s.interceptor_types.empty()) {
        std::string chain;
        for (const auto& t : s.interceptor_types)
          chain += "| " + t + " ";
        chain.pop_back();
        sc.extra[&s].push_back(chain);
      }
    for (const auto& k : a->sinks) {
      if (k.replicas > 1)
        sc.extra[&k].push_back(std::to_string(k.replicas) + " replicas");
      if (auto it = unmatched.find(&k); it != unmatched.end())
        for (const auto& line : it->second)
          sc.extra[&k].push_back(line);
    }
  }
  return sc;
}

/// The lines of a component's label: name, (type), then what the scene
/// adds (interceptors, replicas, unreached addresses).
std::vector<std::string> label_lines(const scene& sc, const component_spec& c) {
  std::vector<std::string> lines{c.name, "(" + c.type + ")"};
  if (auto it = sc.extra.find(&c); it != sc.extra.end())
    lines.insert(lines.end(), it->second.begin(), it->second.end());
  return lines;
}

/// A quoted DOT label of these lines; `\n` (backslash, n) is DOT's line
/// break.
std::string dot_label(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) {
    auto quoted = dot_quote(line);
    if (!out.empty()) out += "\\n";
    out += quoted.substr(1, quoted.size() - 2);
  }
  return "\"" + out + "\"";
}

std::string joined_label(const std::vector<std::string>& lines,
                         const std::string& sep) {
  std::string out;
  for (const auto& line : lines) {
    if (!out.empty()) out += sep;
    out += line;
  }
  return out;
}

std::vector<std::string> node_label(const node_spec& n) {
  return {n.name, endpoint(n.host, n.port)};
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

/// `g1: failover` / `g2: load_balance (random)`.
std::string group_label(const sink_group_spec& g) {
  if (g.type == sink_group_spec::kind::failover) return g.name + ": failover";
  return g.name + ": load_balance" + (g.random ? " (random)" : "");
}

} // namespace

std::string to_dot(const topology& topo, const std::string& agent) {
  auto sc = scene_of(topo, agent);
  std::string out = "digraph flumen {\n"
                    "  rankdir=LR;\n"
                    "  node [shape=box];\n";
  for (const auto* ap : sc.agents) {
    const auto& a = *ap;
    out += "  subgraph " + dot_id("cluster_" + a.name) + " {\n";
    out += "    label=" + dot_quote(a.name) + ";\n";
    auto node = [&](const char* kind, const component_spec& c,
                    const char* attrs) {
      out += "    " + dot_id(node_name(a, kind, c)) +
             " [label=" + dot_label(label_lines(sc, c)) + attrs + "];\n";
    };
    for (const auto& s : a.sources)
      node("sources", s, "");
    for (const auto& c : a.channels)
      node("channels", c, ", shape=cylinder");
    for (const auto& k : a.sinks)
      if (k.group.empty()) node("sinks", k, "");
    // A sink group: its sinks in a box of their own, with its processor.
    for (const auto& g : a.sink_groups) {
      out += "    subgraph " + dot_id("cluster_" + a.name + "_" + g.name) +
             " {\n      label=" + dot_quote(group_label(g)) +
             ";\n      style=dashed;\n";
      for (const auto& k : a.sinks)
        if (k.group == g.name) {
          out += "  ";
          node("sinks", k, "");
        }
      out += "    }\n";
    }
    for_each_edge(a, [&](const std::string& from, const std::string& to) {
      out += "    " + dot_id(from) + " -> " + dot_id(to) + ";\n";
    });
    out += "  }\n";
  }
  // Outside the clusters: a node named in a cluster's edge would be drawn
  // inside that cluster.
  for (const auto* n : sc.nodes)
    out += "  " + dot_id(node_id(*n)) + " [label=" + dot_label(node_label(*n)) +
           ", shape=box3d];\n";
  for (const auto& h : sc.hops)
    out += "  " + dot_id(node_name(*h.from, "sinks", *h.sink)) + " -> " +
           dot_id(node_name(*h.to, "sources", *h.source)) +
           " [style=dashed, label=" + dot_quote(h.address) + "];\n";
  for (const auto& p : sc.placements)
    out += "  " + dot_id(node_name(*p.agent, "sinks", *p.sink)) + " -> " +
           dot_id(node_id(*p.node)) +
           " [style=bold, label=" + dot_quote(p.replicas) + "];\n";
  out += "}\n";
  return out;
}

std::string to_mermaid(const topology& topo, const std::string& agent) {
  auto sc = scene_of(topo, agent);
  std::string out = "flowchart LR\n";
  for (const auto* ap : sc.agents) {
    const auto& a = *ap;
    auto id = mermaid_id(a.name);
    out += "  subgraph " + id;
    if (id != a.name) out += " [\"" + mermaid_text(a.name) + "\"]";
    out += "\n";
    auto node = [&](const char* kind, const component_spec& c, const char* open,
                    const char* close) {
      out += "    " + node_name(a, kind, c) + open + "\"" +
             mermaid_text(joined_label(label_lines(sc, c), "<br/>")) + "\"" +
             close + "\n";
    };
    for (const auto& s : a.sources)
      node("sources", s, "[", "]");
    for (const auto& c : a.channels)
      node("channels", c, "[(", ")]");
    for (const auto& k : a.sinks)
      if (k.group.empty()) node("sinks", k, "[", "]");
    for (const auto& g : a.sink_groups) {
      out += "    subgraph " + mermaid_id(a.name + "_" + g.name) + " [\"" +
             mermaid_text(group_label(g)) + "\"]\n";
      for (const auto& k : a.sinks)
        if (k.group == g.name) {
          out += "  ";
          node("sinks", k, "[", "]");
        }
      out += "    end\n";
    }
    for_each_edge(a, [&](const std::string& from, const std::string& to) {
      out += "    " + from + " --> " + to + "\n";
    });
    out += "  end\n";
  }
  for (const auto* n : sc.nodes)
    out += "  " + node_id(*n) + "[[\"" +
           mermaid_text(joined_label(node_label(*n), "<br/>")) + "\"]]\n";
  for (const auto& h : sc.hops)
    out += "  " + node_name(*h.from, "sinks", *h.sink) + " -.->|\"" +
           mermaid_text(h.address) + "\"| " +
           node_name(*h.to, "sources", *h.source) + "\n";
  for (const auto& p : sc.placements)
    out += "  " + node_name(*p.agent, "sinks", *p.sink) + " ==>|\"" +
           mermaid_text(p.replicas) + "\"| " + node_id(*p.node) + "\n";
  return out;
}

} // namespace flumen
