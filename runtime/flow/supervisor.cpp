#include "runtime/flow/supervisor.hpp"

#include <deque>
#include <map>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "runtime/flow/protocol.hpp"

namespace flumen {

namespace {

using restart_atom = caf::atom_constant<caf::atom("restart")>;

struct supervised {
  child_spec spec;
  caf::actor current;
  backoff_policy backoff;
  /// Failures since the child last ran `limit.window` without one.
  std::size_t failures = 0;
  backoff_policy::clock::time_point started{};
  /// Taken out of supervision by a reload: never restarted again.
  bool retired = false;
};

struct supervisor_state {
  /// By a number never used again: a retired child is dropped once it is
  /// down, and a restart on its way finds nothing.
  std::map<std::size_t, supervised> children;
  std::size_t next_id = 0;
  std::map<caf::actor_addr, std::size_t> by_addr;
  /// Watched, not restarted (channels): their metrics, by address.
  std::map<caf::actor_addr, std::shared_ptr<component_metrics>> watched;
  restart_limit limit;
  backoff_policy policy;
  bool stopping = false;
  static inline const char* name = "supervisor";
};

using supervisor_actor = caf::stateful_actor<supervisor_state>;

void on_failure(supervisor_actor* self, std::size_t i, const std::string& why);

void start_child(supervisor_actor* self, std::size_t i) {
  auto& c = self->state.children.at(i);
  // The actor system's clock: virtual on CAF's test coordinator.
  c.started = self->clock().now();
  c.spec.metrics->set_state(component_state::starting);
  std::string why = "start returned no actor";
  try {
    c.current = c.spec.start();
  } catch (const std::exception& ex) {
    c.current = nullptr;
    why = ex.what();
  } catch (...) {
    c.current = nullptr;
    why = "unknown exception";
  }
  if (!c.current) {
    // A failed start is a failure like a crash: counted, backed off.
    spdlog::error("{}: failed to start: {}", c.spec.name, why);
    on_failure(self, i, why);
    return;
  }
  self->monitor(c.current);
  self->state.by_addr[c.current.address()] = i;
}

// Counts a failure of child `i`; restarts it after its backoff, or marks it
// failed past the limit. A child that ran `limit.window` without failing
// starts counting again, so a component that can never start reaches
// `failed` after `max_restarts` backoffs (bounded; docs/guarantees.md).
void on_failure(supervisor_actor* self, std::size_t i, const std::string& why) {
  auto& st = self->state;
  auto& c = st.children.at(i);
  auto now = self->clock().now();
  if (now - c.started >= st.limit.window) c.failures = 0;
  if (c.failures >= st.limit.max_restarts) {
    c.spec.metrics->set_state(component_state::failed, why);
    spdlog::error("{}: {}; failed {} times in a row, not restarting it again",
                  c.spec.name, why, c.failures + 1);
    return;
  }
  ++c.failures;
  auto delay = c.backoff.on_failure(now);
  c.spec.metrics->set_state(component_state::backing_off, why);
  c.spec.metrics->restarts.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("{}: {}; restarting in {} ms", c.spec.name, why, delay.count());
  self->delayed_send(self, delay, restart_atom::value, i);
}

caf::behavior supervisor(supervisor_actor* self,
                         std::vector<child_spec> children,
                         std::vector<watched_spec> watched,
                         backoff_policy policy, restart_limit limit) {
  self->state.limit = limit;
  self->state.policy = policy;
  for (auto& w : watched) {
    if (!w.actor) continue;
    self->monitor(w.actor);
    self->state.watched[w.actor.address()] = w.metrics;
  }
  std::vector<std::size_t> ids;
  for (auto& spec : children) {
    auto id = self->state.next_id++;
    self->state.children.emplace(id, supervised{std::move(spec), {}, policy});
    ids.push_back(id);
  }
  for (auto id : ids)
    start_child(self, id);
  self->set_down_handler([self](const caf::down_msg& dm) {
    // A retired child going down is the reload stopping it.
    auto& st = self->state;
    if (auto w = st.watched.find(dm.source); w != st.watched.end()) {
      // A channel is not restarted: its events died with it, and the
      // components wired to it would need new handles. Never silent.
      if (!st.stopping && dm.reason != caf::exit_reason::normal) {
        auto why = self->system().render(dm.reason);
        w->second->set_state(component_state::failed, why);
        spdlog::error("{}: down ({}); it is not restarted", w->second->name,
                      why);
      }
      st.watched.erase(w);
      return;
    }
    auto it = st.by_addr.find(dm.source);
    if (it == st.by_addr.end()) return;
    auto i = it->second;
    st.by_addr.erase(it);
    auto& c = st.children.at(i);
    c.current = nullptr;
    if (st.stopping || c.retired || dm.reason == caf::exit_reason::normal) {
      c.spec.metrics->set_state(component_state::stopped);
      if (c.retired) st.children.erase(i); // a reload took it out: gone
      return;
    }
    on_failure(self, i, "down (" + self->system().render(dm.reason) + ")");
  });
  return {
      [self](restart_atom, std::size_t i) {
        auto& st = self->state;
        auto c = st.children.find(i);
        if (!st.stopping && c != st.children.end() && !c->second.retired)
          start_child(self, i);
      },
      [self](caf::get_atom, const std::string& name) -> caf::actor {
        for (auto& [_, c] : self->state.children)
          if (c.spec.name == name && !c.retired) return c.current;
        return nullptr;
      },
      [self](caf::get_atom) {
        // How many children it keeps (retired ones that are down are
        // dropped): a test's view.
        return static_cast<uint64_t>(self->state.children.size());
      },
      [self](adopt_atom, const std::shared_ptr<adoption>& more) {
        auto& st = self->state;
        for (auto& w : more->watched) {
          if (!w.actor) continue;
          self->monitor(w.actor);
          st.watched[w.actor.address()] = w.metrics;
        }
        for (auto& spec : more->children) {
          auto id = st.next_id++;
          st.children.emplace(id, supervised{std::move(spec), {}, st.policy});
          if (!st.stopping) start_child(self, id);
        }
        return ok_atom::value;
      },
      [self](retire_atom, const std::string& name) -> caf::actor {
        auto& st = self->state;
        for (auto& [id, c] : st.children)
          if (c.spec.name == name && !c.retired) {
            c.retired = true;
            auto current = c.current;
            // Down already (backing off): gone now; else once it is down.
            if (!current) st.children.erase(id);
            return current;
          }
        return nullptr;
      },
      [self](retire_atom, const caf::actor& channel) {
        if (channel) self->state.watched.erase(channel.address());
        return ok_atom::value;
      },
      [self](stop_atom) {
        self->state.stopping = true;
        return ok_atom::value;
      },
  };
}

} // namespace

caf::actor spawn_supervisor(caf::actor_system& sys,
                            std::vector<child_spec> children,
                            backoff_policy policy, restart_limit limit,
                            std::vector<watched_spec> watched) {
  return sys.spawn(supervisor, std::move(children), std::move(watched), policy,
                   limit);
}

} // namespace flumen
