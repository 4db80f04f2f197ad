// The checks across one agent's components (loader::validate and what it
// calls): references, capacities, TLS identity, directories, listen
// addresses, dead-letter cycles. The environment probes they use are in
// probes.cpp.

#include <regex.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "runtime/config/loader.hpp"
#include "runtime/config/probes.hpp"
#include "runtime/libs/sonames.hpp"

namespace flumen::detail {

void loader::check_sink_groups(agent_draft& d) {
  auto& a = d.spec;
  std::map<std::string, std::string> member_of;
  for (std::size_t gi = 0; gi < a.sink_groups.size(); ++gi) {
    auto& g = a.sink_groups[gi];
    auto list = value_of(d.groups[gi], "sinks");
    bool aligned = list.IsSequence() && list.size() == g.sinks.size();
    auto at = [&](std::size_t j) {
      return std::pair{location_of(aligned ? list[j] : list, file_),
                       g.path + ".sinks" +
                           (aligned ? "[" + std::to_string(j) + "]" : "")};
    };
    if (g.sinks.size() < 2 && value_of(d.groups[gi], "sinks").IsDefined()) {
      add(location_of(list, file_), g.path + ".sinks",
          "a sink group needs two sinks at least");
      continue;
    }
    std::string channel;
    std::string first;
    std::vector<std::string> names;
    for (auto& k : a.sinks)
      names.push_back(k.name);
    for (std::size_t j = 0; j < g.sinks.size(); ++j) {
      auto& name = g.sinks[j];
      auto [where, path] = at(j);
      auto it = std::find_if(a.sinks.begin(), a.sinks.end(),
                             [&](auto& k) { return k.name == name; });
      if (it == a.sinks.end()) {
        add(where, path, unknown("sink", name, names));
        continue;
      }
      if (auto [m, fresh] = member_of.emplace(name, g.name); !fresh) {
        add(where, path,
            m->second == g.name
                ? "sink '" + name + "' is listed twice"
                : "sink '" + name + "' is in sink group '" + m->second +
                      "' already: a sink belongs to one group at most");
        continue;
      }
      if (it->replicas > 1 || !it->placement.empty()) {
        add(where, path,
            "sink '" + name +
                "' has replicas or a placement: a group's sinks run once, in "
                "the agent's process (the group shares out its channel "
                "itself)");
        continue;
      }
      if (it->channel.empty()) continue; // reported
      if (channel.empty()) {
        channel = it->channel;
        first = name;
      } else if (it->channel != channel) {
        add(where, path,
            "sink '" + name + "' takes from channel '" + it->channel +
                "', sink '" + first + "' from '" + channel +
                "': a group's sinks take from one channel");
        continue;
      }
      it->group = g.name;
      // A change of the group restarts its sinks (with the new group).
      it->config += "\n# group " + g.config;
    }
  }
}

void loader::check_selector(const agent_draft& d, std::size_t i) {
  const auto& src = d.spec.sources[i];
  const auto& sel = src.selector;
  auto node = value_of(d.sources[i], "selector");
  if (!node.IsDefined() || sel == selector_spec{}) return;
  std::set<std::string> mine(src.channels.begin(), src.channels.end());
  std::set<std::string> used;
  // Each list: its YAML node and path; the names in it must be the
  // source's.
  auto check_list = [&](const YAML::Node& list, const std::string& path,
                        const std::vector<std::string>& names) {
    bool aligned = list.IsSequence() && list.size() == names.size();
    for (std::size_t j = 0; j < names.size(); ++j) {
      used.insert(names[j]);
      if (mine.contains(names[j])) continue;
      auto where = location_of(aligned ? list[j] : list, file_);
      add(where, aligned ? path + "[" + std::to_string(j) + "]" : path,
          "channel '" + names[j] + "' is not one of this source's channels (" +
              join(src.channels) + ")");
    }
  };
  auto base = src.path + ".selector";
  auto lists = [&](const char* key, const auto& entries) {
    auto m = value_of(node, key);
    for (auto& [value, names] : entries) {
      auto path = base + "." + key + (value.empty() ? "" : "." + value);
      check_list(value.empty() ? m : value_of(m, value), path, names);
    }
  };
  lists("mapping", sel.mapping);
  lists("optional", sel.optional);
  check_list(value_of(node, "default"), base + ".default",
             sel.default_channels);
  if (sel.type != selector_spec::kind::multiplexing) return;
  for (auto& c : src.channels)
    if (!used.contains(c))
      warn(location_of(value_of(d.sources[i], "channels"), file_),
           src.path + ".channels",
           "channel '" + c +
               "' is in no mapping, default or optional list "
               "of the multiplexing selector: it gets no events");
}

void loader::validate(const agent_draft& d) {
  const auto& a = d.spec;
  std::vector<std::string> names;
  for (const auto& c : a.channels)
    names.push_back(c.name);
  auto unknown_channel = [&](const std::string& name) {
    return unknown("channel", name, names);
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
      } else {
        add(where, path, unknown_channel(name));
      }
    }
  }
  for (std::size_t i = 0; i < a.sources.size(); ++i)
    check_selector(d, i);
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
        std::any_of(a.sinks.begin(), a.sinks.end(),
                    [&](auto& s) { return s.dead_letter_channel == ch.name; });
    if (!read && !d.reads_unknown)
      add(ch.where, ch.path,
          "channel '" + ch.name + "' is not read by any sink");
    if (!written && !d.writes_unknown)
      add(ch.where, ch.path, "channel '" + ch.name + "' has no source");
  }
  check_listeners(d);
  check_directories(d);
  check_libraries(d);
  check_dead_letter_cycles(d);
  check_tls_identity(d);
  check_kafka_loops(d);
}

namespace {

/// The `host:port` entries of a bootstrap list.
std::set<std::string> bootstrap_entries(const std::string& list) {
  std::set<std::string> out;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    auto comma = std::min(list.find(',', pos), list.size());
    auto entry = list.substr(pos, comma - pos);
    entry.erase(0, entry.find_first_not_of(' '));
    entry.erase(entry.find_last_not_of(' ') + 1);
    if (!entry.empty()) out.insert(entry);
    pos = comma + 1;
  }
  return out;
}

/// Whether two bootstrap lists name one cluster (a broker in common).
bool same_cluster(const std::string& a, const std::string& b) {
  auto x = bootstrap_entries(a);
  for (auto& e : bootstrap_entries(b))
    if (x.contains(e)) return true;
  return false;
}

/// Whether a source of these facts reads `topic`.
bool source_reads(const kafka_facts& f, const std::string& topic) {
  if (f.topics_regex.empty())
    return std::find(f.topics.begin(), f.topics.end(), topic) != f.topics.end();
  regex_t re;
  if (::regcomp(&re, f.topics_regex.c_str(), REG_EXTENDED | REG_NOSUB) != 0)
    return false;
  bool match = ::regexec(&re, topic.c_str(), 0, nullptr, 0) == 0;
  ::regfree(&re);
  return match;
}

} // namespace

void loader::check_kafka_loops(const agent_draft& d) {
  const auto& a = d.spec;
  for (const auto& src : a.sources) {
    const auto& from = src.facts.kafka;
    if (src.type != "kafka" || from.bootstrap.empty()) continue;
    std::set<std::string> feeds(src.channels.begin(), src.channels.end());
    for (std::size_t i = 0; i < a.sinks.size(); ++i) {
      const auto& snk = a.sinks[i];
      const auto& to = snk.facts.kafka;
      if (snk.type != "kafka" || to.bootstrap.empty() || to.topics.empty() ||
          !feeds.contains(snk.channel) ||
          !same_cluster(from.bootstrap, to.bootstrap))
        continue;
      const auto& topic = to.topics.front();
      if (!from.topic_header.empty() && to.topic_header == from.topic_header)
        warn(where_in(d.sinks[i], "allow_topic_override"),
             snk.path + ".allow_topic_override",
             "takes each event's topic from header '" + to.topic_header +
                 "', which kafka source '" + src.name +
                 "' sets to the topic the record was read from: every "
                 "record would be published back into the topic it came "
                 "from, for ever (unless an interceptor changes the header); "
                 "set the source's set_topic_header: false or another "
                 "topic_header");
      else if (!from.topic_header.empty() &&
               topic.find("%{" + from.topic_header + "}") != std::string::npos)
        warn(where_in(d.sinks[i], "topic"), snk.path + ".topic",
             "'" + topic + "' is filled from header '" + from.topic_header +
                 "', which kafka source '" + src.name +
                 "' sets to the topic the record was read from: records "
                 "would be published back into a topic it reads (a loop)");
      else if (topic.find("%{") == std::string::npos &&
               source_reads(from, topic))
        warn(where_in(d.sinks[i], "topic"), snk.path + ".topic",
             "topic '" + topic + "' is one kafka source '" + src.name +
                 "' reads from the same cluster: every record would go "
                 "round for ever (a loop)");
    }
  }
}

void loader::check_tls_identity(const agent_draft& d) {
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

void loader::check_directories(const agent_draft& d) {
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
    auto key = fs::weakly_canonical(fs::absolute(src.facts.state_file, ec), ec)
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

void loader::check_libraries(const agent_draft& d) {
  if (!probe_.all && probe_.agent != d.spec.name) return;
  auto check = [&](const std::vector<component_spec>& specs,
                   const auto& drafts) {
    for (std::size_t i = 0; i < specs.size(); ++i)
      for (const auto& soname : specs[i].facts.libraries)
        if (auto why = unloadable_library(soname)) {
          add(where_in(drafts[i], "type"), specs[i].path + ".type",
              "needs " + soname + ", which cannot be loaded here: " + *why);
          break;
        }
  };
  check(d.spec.sources, d.sources);
  check(d.spec.channels, d.channels);
  check(d.spec.sinks, d.sinks);
  // A TLS node makes every agent of the file load CAF's OpenSSL module
  // (agent_spec::tls()); said once, at the node.
  for (const auto& n : d.spec.nodes)
    if (n.security.tls() && !unloadable_nodes_.contains(n.name))
      if (auto why = unloadable_library(libs::soname::caf_openssl)) {
        unloadable_nodes_.insert(n.name);
        add(n.where, "nodes." + n.name,
            std::string{"TLS needs "} + libs::soname::caf_openssl +
                ", which cannot be loaded here: " + *why);
      }
}

void loader::check_listeners(const agent_draft& d) {
  struct listener {
    const component_spec* source;
    std::string address;
    uint16_t port;
    transport proto;
  };
  std::vector<listener> listeners;
  for (std::size_t i = 0; i < d.spec.sources.size(); ++i) {
    const auto& src = d.spec.sources[i];
    // Another machine's agent: its addresses are not ours to try.
    if (!probe_.all && probe_.agent != d.spec.name) break;
    for (const auto& e : src.facts.listens) {
      auto probe = probe_listen(e.host, e.proto);
      if (!probe.error.empty()) {
        add(where_in(d.sources[i], e.host_key), src.path + "." + e.host_key,
            "cannot listen on '" + e.host + "': " + probe.error);
        continue;
      }
      // Port 0 takes any free port: it can't clash.
      if (e.port == 0) continue;
      for (const auto& l : listeners) {
        if (l.port != e.port || l.proto != e.proto) continue;
        // A wildcard address takes the port on every address (and on
        // Linux `::` takes IPv4 too).
        auto same = l.address == probe.address;
        if (!same && !wildcard_address(l.address) &&
            !wildcard_address(probe.address))
          continue;
        auto msg = "source '" + l.source->name + "' already listens on " +
                   (e.proto == transport::udp ? "udp " : "") +
                   endpoint(l.address, e.port);
        if (!same)
          msg += ", which overlaps " + endpoint(probe.address, e.port) +
                 " (0.0.0.0 and :: stand for every address)";
        add(where_in(d.sources[i], e.port_key), src.path + "." + e.port_key,
            msg);
        break;
      }
      listeners.push_back({&src, probe.address, e.port, e.proto});
    }
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
    if (l.port == h.port && l.proto == transport::tcp &&
        (l.address == probe.address || wildcard_address(l.address) ||
         wildcard_address(probe.address)))
      add(h.port_at, path + ".port",
          "source '" + l.source->name + "' already listens on " +
              endpoint(l.address, h.port));
}

void loader::check_dead_letter_cycles(const agent_draft& d) {
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

} // namespace flumen::detail
