// agent::reload: carries out the plan plan_reload made (reload_plan.cpp),
// in the order that loses nothing: new channels, changed sources stopped,
// kept sources rerouted, new sources, old channels drained (closed first,
// leftovers moved), changed sinks stopped, new sinks.

#include "runtime/agent/agent.hpp"
#include "runtime/agent/reload_plan.hpp"

#include <condition_variable>
#include <mutex>
#include <optional>

#include <set>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "runtime/dist/hop.hpp"
#include "runtime/dist/placement.hpp"
#include "runtime/flow/protocol.hpp"
#include "runtime/flow/router.hpp"
#include "runtime/flow/supervisor.hpp"

namespace flumen {

void agent::move_leftovers(caf::scoped_actor& self, const live_channel& from,
                           const std::string& name, const agent_spec& next,
                           std::set<std::string>& started_early) {
  // Its successor's sinks start now, to make room for what moves in.
  auto more = std::make_shared<adoption>();
  for (auto& k : next.sinks)
    if (k.channel == name && started_early.insert(k.name).second)
      for (auto& child : sink_children(next, k))
        more->children.push_back(std::move(child));
  if (!more->children.empty())
    self->request(supervisor_, std::chrono::seconds{5}, adopt_atom::value, more)
        .receive([](ok_atom) {}, [](caf::error&) {});
  auto to = channels_.at(name).actor;
  uint64_t moved = 0;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (from.metrics->channel_size.load() > 0 &&
         std::chrono::steady_clock::now() < until) {
    txn_id txn = 0;
    batch events;
    bool ok = true;
    self->request(from.actor, std::chrono::seconds{5}, take_atom::value,
                  uint32_t{1000})
        .receive(
            [&](txn_id t, batch& b) {
              txn = t;
              events = std::move(b);
            },
            [&](caf::error&) { ok = false; });
    if (!ok) break;
    if (events.empty()) continue;
    auto n = events.size();
    self->request(to, std::chrono::seconds{10}, put_atom::value,
                  std::move(events))
        .receive([](ok_atom) {}, [&](caf::error&) { ok = false; });
    if (!ok) {
      self->request(from.actor, std::chrono::seconds{5}, rollback_atom::value,
                    txn)
          .receive([](ok_atom) {}, [](caf::error&) {});
      break;
    }
    self->request(from.actor, std::chrono::seconds{5}, commit_atom::value, txn)
        .receive([](ok_atom) {}, [](caf::error&) {});
    moved += n;
  }
  if (moved > 0)
    spdlog::warn("{}.channels.{}: its sinks did not drain it within the "
                 "reload's timeout; moved the {} events it still held into "
                 "the new channels.{} (after the newer ones there)",
                 spec_.name, name, moved, name);
}

reload_report agent::reload(const agent_spec& next,
                            std::chrono::milliseconds timeout,
                            std::function<bool()> cut_short) {
  using clock = std::chrono::steady_clock;
  reload_report out;
  auto deadline = clock::now() + timeout;
  auto left = [&] {
    return std::max(std::chrono::milliseconds{1},
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - clock::now()));
  };
  const auto& old = spec_;
  auto plan = plan_reload(old, next, [&](const std::string& name) {
    return channels_.at(name).metrics->durable.load();
  });
  if (!plan.refused.empty()) {
    out.error = plan.refused;
    return out;
  }
  auto source_kept = [&](const component_spec& s) {
    auto a = plan.of(plan.sources, s.name);
    return a == reload_action::keep || a == reload_action::reroute;
  };
  auto sink_kept = [&](const component_spec& k) {
    return plan.of(plan.sinks, k.name) == reload_action::keep;
  };
  // 1. New channels. One that can't start (a directory another channel
  // holds) ends the reload here, with nothing else changed.
  std::map<std::string, live_channel> started;
  for (auto& name : plan.channels_to_start) {
    auto* c = find_spec(next.channels, name);
    // A fresh set of counters: a changed channel's old instance drains
    // beside it with its own.
    auto m = std::make_shared<component_metrics>();
    m->name = metric_name("channels", c->name);
    m->kind = "channel";
    m->type = c->type;
    try {
      started[c->name] = spawn_channel(*c, m);
    } catch (const std::exception& e) {
      for (auto& [_, ch] : started)
        caf::anon_send_exit(ch.actor, caf::exit_reason::user_shutdown);
      out.error = c->path + ": cannot start: " + e.what();
      return out;
    }
  }
  out.applied = true;
  caf::scoped_actor self{sys_};
  auto adopt = [&](std::shared_ptr<adoption> more) {
    self->request(supervisor_, std::chrono::seconds{5}, adopt_atom::value,
                  std::move(more))
        .receive([](ok_atom) {}, [](caf::error&) {});
  };
  {
    auto more = std::make_shared<adoption>();
    for (auto& [name, ch] : started)
      more->watched.push_back(watched_spec{ch.actor, ch.metrics});
    adopt(more);
  }
  std::map<std::string, live_channel> draining;
  for (auto& name : plan.channels_to_drain) {
    draining[name] = channels_.at(name);
    channels_.erase(name);
  }
  for (auto& [name, ch] : started) {
    channels_[name] = ch;
    metrics_.put(ch.metrics);
    out.changes.push_back(
        std::string{draining.contains(name) ? "changed" : "added"} +
        " channels." + name);
  }
  // 2. Sources that changed or went stop first (a changed one may listen
  // on the same port): each hands what it holds to its router, which puts
  // it where it always did.
  std::vector<std::string> src_stop;
  for (auto& o : old.sources)
    if (auto* n = find_spec(next.sources, o.name); !n || !source_kept(*n))
      src_stop.push_back("sources." + o.name);
  retire_and_stop(src_stop, left());
  for (auto& o : old.sources) {
    auto* n = find_spec(next.sources, o.name);
    if (n && source_kept(*n)) continue;
    routes_.erase(o.name);
    auto m = metrics_.find(metric_name("sources", o.name));
    if (!n || (m && m->type != n->type)) fold_metrics(m);
    if (!n) out.changes.push_back("removed sources." + o.name);
  }
  // 3. Sources that stay get their new route (channels, interceptors); the
  // tick makes their router take it before its next batch, so nothing is
  // put into a channel that is going away after this point.
  for (auto& s : next.sources) {
    if (plan.of(plan.sources, s.name) != reload_action::reroute) continue;
    auto& route = routes_.at(s.name);
    auto before = route->get().channels;
    route->set(route_of(s));
    auto router = caf::actor_cast<caf::actor>(route->router());
    if (router)
      self->request(router, std::chrono::seconds{5}, tick_atom::value)
          .receive([](ok_atom) {}, [](caf::error&) {});
    // A channel the source left may hold its put for room (full, its sink
    // stuck): that put goes back to the source (its router, when it has
    // several channels), which puts it where the route leads now.
    auto now = channels_of(s);
    std::vector<caf::actor_addr> senders;
    if (router) senders.push_back(router.address());
    if (auto src = component("sources." + s.name))
      senders.push_back(src.address());
    for (auto& ch : before) {
      if (std::find(now.begin(), now.end(), ch) != now.end()) continue;
      for (auto& who : senders)
        self->request(ch, std::chrono::seconds{5}, close_atom::value, who)
            .receive([](ok_atom) {}, [](caf::error&) {});
    }
    out.changes.push_back("rerouted sources." + s.name + " (kept running)");
  }
  // 4. Sources that are new or changed start, on the new channels.
  {
    auto more = std::make_shared<adoption>();
    for (auto& s : next.sources) {
      if (source_kept(s)) continue;
      auto route = std::make_shared<route_table>(route_of(s));
      routes_[s.name] = route;
      more->children.push_back(
          source_child(next, s, route, metrics_for("sources", s.name, s.type)));
      out.changes.push_back(
          std::string{find_spec(old.sources, s.name) ? "restarted" : "added"} +
          " sources." + s.name);
    }
    if (!more->children.empty()) adopt(more);
  }
  // 5. Channels that went (or changed) drain into their old sinks, upstream
  // first, within the timeout; then their sinks stop and they end.
  auto old_sink_names = [&](const component_spec& k) {
    std::vector<std::string> names;
    for (auto& n : k.instance_names())
      names.push_back("sinks." + n);
    return names;
  };
  std::set<std::string> started_early;
  for (auto& name : plan.channels_to_drain) {
    auto& ch = draining.at(name);
    // No source's route leads here any more: the channel takes no more
    // puts. A put it holds for room goes back to its source, which puts it
    // where its route leads now; one that a router passed on before its
    // tick (still in the mailbox) too. Its own events drain below.
    close_all(self, {ch.actor}, std::chrono::seconds{5});
    bool durable = ch.metrics->durable.load();
    // A stop asked for meanwhile ends the wait: what is left is handled as
    // at the timeout (moved, or counted), and the stop follows.
    while (ch.metrics->channel_size.load() > 0 && clock::now() < deadline) {
      if (cut_short && cut_short()) {
        deadline = clock::now();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
    for (auto& k : old.sinks)
      if (k.channel == name)
        retire_and_stop(old_sink_names(k),
                        std::min(left(), std::chrono::milliseconds{5000}));
    if (!durable && ch.metrics->channel_size.load() > 0 &&
        channels_.contains(name))
      move_leftovers(self, ch, name, next, started_early);
    self->request(supervisor_, std::chrono::seconds{5}, retire_atom::value,
                  ch.actor)
        .receive([](ok_atom) {}, [](caf::error&) {});
    auto held = ch.metrics->channel_size.load();
    self->monitor(ch.actor);
    caf::anon_send_exit(ch.actor, caf::exit_reason::user_shutdown);
    self->receive([](caf::down_msg&) {},
                  caf::after(std::chrono::seconds{5}) >> [] {});
    if (held > 0) {
      (durable ? retired_.kept : retired_.in_channels) += held;
      spdlog::error("{}.channels.{}: {} events were still in it at the "
                    "reload's timeout{}",
                    spec_.name, name, held,
                    durable ? "; they stay in its directory" : " and are lost");
    }
    if (!find_spec(next.channels, name)) {
      fold_metrics(ch.metrics);
      out.changes.push_back("removed channels." + name + " (drained)");
    }
  }
  // 6. Sinks that changed (on channels that stay) or went: each settles
  // what it took within 5 s; what it still holds rolls back into its
  // channel for its successor.
  {
    std::vector<std::string> names;
    for (auto& k : old.sinks) {
      auto* n = find_spec(next.sinks, k.name);
      if (n && sink_kept(*n)) continue;
      if (!draining.contains(k.channel))
        for (auto& x : old_sink_names(k))
          names.push_back(x);
    }
    retire_and_stop(names, std::min(left(), std::chrono::milliseconds{5000}));
    for (auto& k : old.sinks) {
      auto* n = find_spec(next.sinks, k.name);
      if (n && sink_kept(*n)) continue;
      auto next_names = n ? n->instance_names() : std::vector<std::string>{};
      for (auto& x : k.instance_names()) {
        auto m = metrics_.find(metric_name("sinks", x));
        bool stays = std::find(next_names.begin(), next_names.end(), x) !=
                         next_names.end() &&
                     m && m->type == n->type;
        if (!stays) fold_metrics(m);
      }
      if (!n) out.changes.push_back("removed sinks." + k.name);
    }
  }
  // 7. New and changed sinks start.
  {
    auto more = std::make_shared<adoption>();
    for (auto& k : next.sinks) {
      if (sink_kept(k)) continue;
      if (!started_early.contains(k.name))
        for (auto& child : sink_children(next, k))
          more->children.push_back(std::move(child));
      out.changes.push_back(
          std::string{find_spec(old.sinks, k.name) ? "restarted" : "added"} +
          " sinks." + k.name);
    }
    if (!more->children.empty()) adopt(more);
  }
  out.changes.insert(out.changes.begin(),
                     "kept " + std::to_string(plan.kept()) + " running");
  spec_ = next;
  return out;
}

} // namespace flumen
