#include "runtime/agent/reload_plan.hpp"

#include <set>

namespace flumen {

const char* to_string(reload_action a) {
  switch (a) {
  case reload_action::keep:
    return "kept";
  case reload_action::reroute:
    return "rerouted";
  case reload_action::restart:
    return "restarted";
  case reload_action::add:
    return "added";
  case reload_action::remove:
    return "removed";
  }
  return "?";
}

std::size_t reload_plan::kept() const {
  std::size_t n = 0;
  for (auto* kind : {&channels, &sources, &sinks})
    for (auto& [_, a] : *kind)
      n += a == reload_action::keep || a == reload_action::reroute;
  return n;
}

reload_action reload_plan::of(const std::map<std::string, reload_action>& kind,
                              const std::string& name) const {
  auto it = kind.find(name);
  return it == kind.end() ? reload_action::keep : it->second;
}

const component_spec* find_spec(const std::vector<component_spec>& xs,
                                const std::string& name) {
  for (auto& x : xs)
    if (x.name == name) return &x;
  return nullptr;
}

std::string placement_of(const agent_spec& a, const component_spec& k) {
  std::string out;
  for (auto& name : k.placement)
    for (auto& n : a.nodes)
      if (n.name == name)
        out += n.name + "=" + n.host + ":" + std::to_string(n.port) +
               (n.security.tls() ? "+tls;" : ";");
  return out;
}

std::vector<std::string> channel_stop_order(const agent_spec& spec) {
  std::vector<std::string> order;
  std::set<std::string> placed;
  auto writers_placed = [&](const std::string& ch) {
    for (auto& k : spec.sinks)
      if (k.dead_letter_channel == ch && !placed.contains(k.channel) &&
          k.channel != ch)
        return false;
    return true;
  };
  while (order.size() < spec.channels.size()) {
    bool progress = false;
    for (auto& c : spec.channels) {
      if (placed.contains(c.name) || !writers_placed(c.name)) continue;
      order.push_back(c.name);
      placed.insert(c.name);
      progress = true;
    }
    if (!progress) // a cycle (refused by validation): file order for the rest
      for (auto& c : spec.channels)
        if (placed.insert(c.name).second) order.push_back(c.name);
  }
  return order;
}

reload_plan
plan_reload(const agent_spec& old, const agent_spec& next,
            const std::function<bool(const std::string&)>& durable) {
  reload_plan p;
  // What cannot change in a running process: refused before anything is
  // touched.
  if (next.tls() != old.tls()) {
    p.refused = "the TLS identity of the agent's links (tls: certificate, "
                "key, ca_file) cannot change while it runs; restart the agent";
    return p;
  }
  // Channels: a changed one is a new one beside the old, which drains.
  for (auto& c : next.channels) {
    auto* o = find_spec(old.channels, c.name);
    if (o && o->config == c.config) {
      p.channels[c.name] = reload_action::keep;
      continue;
    }
    if (o && durable(c.name)) {
      p.refused = c.path +
                  ": a file channel cannot change while the agent runs (its "
                  "directory is in use); restart the agent (it keeps its "
                  "events), or give the changed channel a new name (the old "
                  "one then drains into its sinks before it goes)";
      return p;
    }
    p.channels[c.name] = o ? reload_action::restart : reload_action::add;
    p.channels_to_start.push_back(c.name);
  }
  for (auto& c : old.channels)
    if (!find_spec(next.channels, c.name))
      p.channels[c.name] = reload_action::remove;
  auto replaced = [&](const std::string& ch) {
    auto a = p.of(p.channels, ch);
    return a == reload_action::add || a == reload_action::restart;
  };
  for (auto& name : channel_stop_order(old)) {
    auto a = p.channels.at(name);
    if (a == reload_action::remove || a == reload_action::restart)
      p.channels_to_drain.push_back(name);
  }
  // Sources: same settings keep running; a new route (channels,
  // interceptors, or a channel replaced under it) is given to the running
  // source.
  for (auto& s : next.sources) {
    auto* o = find_spec(old.sources, s.name);
    if (!o) {
      p.sources[s.name] = reload_action::add;
      continue;
    }
    if (o->config != s.config) {
      p.sources[s.name] = reload_action::restart;
      continue;
    }
    bool rerouted = o->channels != s.channels || o->selector != s.selector ||
                    o->interceptors_config != s.interceptors_config;
    for (auto& name : s.channels)
      rerouted = rerouted || replaced(name);
    p.sources[s.name] = rerouted ? reload_action::reroute : reload_action::keep;
  }
  for (auto& s : old.sources)
    if (!find_spec(next.sources, s.name))
      p.sources[s.name] = reload_action::remove;
  // Sinks: any change restarts one, and so does a replaced channel under it
  // (its channel or dead-letter channel) or a change of its placement.
  for (auto& k : next.sinks) {
    auto* o = find_spec(old.sinks, k.name);
    if (!o) {
      p.sinks[k.name] = reload_action::add;
      continue;
    }
    bool kept =
        o->config == k.config && !replaced(k.channel) &&
        (k.dead_letter_channel.empty() || !replaced(k.dead_letter_channel)) &&
        placement_of(old, *o) == placement_of(next, k);
    p.sinks[k.name] = kept ? reload_action::keep : reload_action::restart;
  }
  for (auto& k : old.sinks)
    if (!find_spec(next.sinks, k.name)) p.sinks[k.name] = reload_action::remove;
  return p;
}

} // namespace flumen
