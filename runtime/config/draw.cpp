#include "runtime/config/draw.hpp"

#include <algorithm>
#include <cctype>

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
