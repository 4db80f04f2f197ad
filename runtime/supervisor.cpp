#include "runtime/supervisor.hpp"

#include <deque>
#include <map>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "runtime/protocol.hpp"

namespace flumen {

std::chrono::milliseconds backoff_policy::on_failure(clock::time_point now) {
  if (!failed_before_ || now - last_failure_ >= quiet_) next_ = first_;
  failed_before_ = true;
  last_failure_ = now;
  auto delay = next_;
  next_ = std::min(next_ * 2, cap_);
  return delay;
}

namespace {

using restart_atom = caf::atom_constant<caf::atom("restart")>;

struct supervised {
  child_spec spec;
  caf::actor current;
  backoff_policy backoff;
  std::deque<backoff_policy::clock::time_point> failures; // in the window
};

struct supervisor_state {
  std::vector<supervised> children;
  std::map<caf::actor_addr, std::size_t> by_addr;
  restart_limit limit;
  bool stopping = false;
  static inline const char* name = "supervisor";
};

using supervisor_actor = caf::stateful_actor<supervisor_state>;

void start_child(supervisor_actor* self, std::size_t i) {
  auto& c = self->state.children[i];
  c.current = c.spec.start();
  if (!c.current) {
    // Treat a failed start like a crash: back off and try again.
    auto delay = c.backoff.on_failure(backoff_policy::clock::now());
    c.spec.metrics->set_state(component_state::backing_off);
    spdlog::error("{}: failed to start, retrying in {} ms", c.spec.name,
                  delay.count());
    self->delayed_send(self, delay, restart_atom::value, i);
    return;
  }
  self->monitor(c.current);
  self->state.by_addr[c.current.address()] = i;
}

caf::behavior supervisor(supervisor_actor* self,
                         std::vector<child_spec> children,
                         backoff_policy policy, restart_limit limit) {
  self->state.limit = limit;
  for (auto& spec : children)
    self->state.children.push_back(supervised{std::move(spec), {}, policy, {}});
  for (std::size_t i = 0; i < self->state.children.size(); ++i)
    start_child(self, i);
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& st = self->state;
    auto it = st.by_addr.find(dm.source);
    if (it == st.by_addr.end()) return;
    auto i = it->second;
    st.by_addr.erase(it);
    auto& c = st.children[i];
    c.current = nullptr;
    if (st.stopping || dm.reason == caf::exit_reason::normal) {
      c.spec.metrics->set_state(component_state::stopped);
      return;
    }
    auto now = backoff_policy::clock::now();
    while (!c.failures.empty() && now - c.failures.front() >= st.limit.window)
      c.failures.pop_front();
    if (c.failures.size() >= st.limit.max_restarts) {
      // Past the intensity: never a silent death, and no endless loop.
      c.spec.metrics->set_state(component_state::failed);
      spdlog::error("{}: down ({}); failed {} times within {} ms, not "
                    "restarting it again",
                    c.spec.name, self->system().render(dm.reason),
                    c.failures.size() + 1, st.limit.window.count());
      return;
    }
    c.failures.push_back(now);
    auto delay = c.backoff.on_failure(now);
    c.spec.metrics->set_state(component_state::backing_off);
    c.spec.metrics->restarts.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("{}: down ({}), restarting in {} ms", c.spec.name,
                 self->system().render(dm.reason), delay.count());
    self->delayed_send(self, delay, restart_atom::value, i);
  });
  return {
      [self](restart_atom, std::size_t i) {
        if (!self->state.stopping) start_child(self, i);
      },
      [self](caf::get_atom, const std::string& name) -> caf::actor {
        for (auto& c : self->state.children)
          if (c.spec.name == name) return c.current;
        return nullptr;
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
                            backoff_policy policy, restart_limit limit) {
  return sys.spawn(supervisor, std::move(children), policy, limit);
}

} // namespace flumen
