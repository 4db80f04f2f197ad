// Placed replicas (runtime/placement.*) between two actor systems over the
// middleman: an agent's (a memory channel, a placement actor) and a node's
// (its door and replica hosts, as `flumen node` runs them). Issue 17,
// "suspected by reading": a remote spawn that times out and completes later
// must not leave a replica nobody supervises, and a node must forget the
// replicas that ended; "trying it as a new user would": a replica's
// counters must reach the agent's metrics.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/builtin.hpp"
#include "runtime/dist/placement.hpp"
#include "tests/unit/actor_test_support.hpp"

using namespace flumen;
using namespace flumen::test;

namespace {

/// A loopback port nobody listens on (bound, then closed).
uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// A node's actor system config: flumen's, plus the replica host type.
struct node_config : flumen_config {
  explicit node_config(node_context& ctx) { add_replica_host(*this, ctx); }
};

class placement_test : public ::testing::Test {
protected:
  placement_test() {
    register_builtin(types);
    ctx.name = "n1";
    ctx.types = &types;
    ctx.metrics = &node_metrics;
  }

  void SetUp() override {
    door = spawn_node_door(sys_n, ctx);
    auto port = sys_n.middleman().publish(door, 0, "127.0.0.1", true);
    ASSERT_TRUE(port) << sys_n.render(port.error());
    node_port = *port;
    channels::memory_config cfg;
    cfg.capacity = 100;
    cfg.transaction_capacity = 100;
    wiring w;
    w.agent = "a1";
    w.name = "c1";
    w.metrics = agent_metrics.get("a1.channels.c1", "channel", "memory");
    channel_metrics = w.metrics;
    channel = channels::spawn_memory(sys_a, cfg, w);
  }

  void TearDown() override {
    for (auto& p : placements)
      caf::anon_send_exit(p, caf::exit_reason::kill);
    std::vector<caf::actor> hosts;
    {
      std::lock_guard guard{ctx.mtx};
      hosts = ctx.replicas;
    }
    for (auto& h : hosts)
      caf::anon_send_exit(h, caf::exit_reason::kill);
    caf::anon_send_exit(channel, caf::exit_reason::kill);
    caf::anon_send_exit(door, caf::exit_reason::kill);
  }

  /// A placement of replica `instance` of `yaml` on the node.
  caf::actor place(const std::string& yaml,
                   std::chrono::milliseconds spawn_timeout,
                   const std::string& instance = "k1#1",
                   std::chrono::milliseconds report_interval = 1s) {
    placement_spec spec;
    spec.agent = "a1";
    spec.instance = instance;
    spec.yaml = yaml;
    spec.nodes.push_back(node_spec{"n1", "127.0.0.1", node_port, {}, {}});
    spec.spawn_timeout = spawn_timeout;
    spec.report_interval = report_interval;
    wiring w;
    w.agent = "a1";
    w.name = instance;
    w.metrics = agent_metrics.get("a1.sinks." + instance, "sink", "placed");
    w.channel = channel;
    auto local = [](caf::actor_system&, const wiring&) -> caf::actor {
      ADD_FAILURE() << "the replica ran in the agent's process";
      return {};
    };
    auto p = spawn_placement(sys_a, std::move(spec), local, std::move(w),
                             std::make_shared<node_health>());
    placements.push_back(p);
    return p;
  }

  /// True once the placement of `m` says where its replica runs, which it
  /// does once the replica answered its request for reports.
  bool reporting(const std::shared_ptr<component_metrics>& m) {
    auto where = "node n1 (127.0.0.1:" + std::to_string(node_port) + ")";
    return wait_until([&] { return m->placement() == where; }, 10s);
  }

  std::size_t replicas_listed() {
    std::lock_guard guard{ctx.mtx};
    return ctx.replicas.size();
  }

  /// True when every replica host the node lists has ended within `t`.
  bool listed_replicas_end(std::chrono::milliseconds t) {
    std::vector<caf::actor> hosts;
    {
      std::lock_guard guard{ctx.mtx};
      hosts = ctx.replicas;
    }
    caf::scoped_actor self{sys_n};
    for (auto& h : hosts)
      self->monitor(h);
    auto deadline = std::chrono::steady_clock::now() + t;
    for (std::size_t ended = 0; ended < hosts.size(); ++ended) {
      bool got = false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      self->receive([&](caf::down_msg&) { got = true; },
                    caf::after(left) >> [] {});
      if (!got) return false;
    }
    return true;
  }

  registry types;
  metrics_registry node_metrics;
  node_context ctx; ///< outlives the node's system (declared before it)
  node_config cfg_n{ctx};
  caf::actor_system sys_n{cfg_n};
  flumen_config cfg_a;
  caf::actor_system sys_a{cfg_a};
  metrics_registry agent_metrics;
  std::shared_ptr<component_metrics> channel_metrics;
  caf::actor door;
  uint16_t node_port = 0;
  caf::actor channel;
  std::vector<caf::actor> placements;
};

} // namespace

// Suspected by reading: "a remote spawn that times out and completes later
// runs an unsupervised replica taking with the old config". Confirmed: the
// placement gave up (and its supervisor would start another), while the node
// went on to run the replica, which took the channel's events and held them
// for ever (a hop sink towards a closed port). The replica now watches its
// placement and ends with it, so what it took rolls back.
TEST_F(placement_test, a_replica_spawned_after_its_placement_gave_up_ends) {
  caf::scoped_actor self{sys_a};
  ASSERT_FALSE(put(self, channel, numbered(0, 10)));
  auto yaml = "type: hop\nchannel: c1\nhost: 127.0.0.1\nport: " +
              std::to_string(closed_port()) + "\n";
  // A spawn timeout of 0: the answer nearly always comes after it, and the
  // node spawns all the same. Now and then (about 1 run in 40) the answer
  // wins the race and the placement runs: that attempt proves nothing, so
  // it is ended (its replica with it, what it took rolled back) and the
  // scenario tried again.
  caf::error reason;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto p = place(yaml, std::chrono::milliseconds{0});
    self->monitor(p);
    bool down = false;
    self->receive(
        [&](caf::down_msg& dm) {
          reason = dm.reason;
          down = true;
        },
        caf::after(3s) >> [] {});
    if (down) break;
    caf::anon_send_exit(p, caf::exit_reason::kill);
    self->receive([](caf::down_msg&) {}, caf::after(10s) >> [] {});
    ASSERT_TRUE(listed_replicas_end(10s)) << "a replica outlived its placement";
    ASSERT_TRUE(wait_until(
        [&] { return channel_metrics->open_transactions.load() == 0; }, 10s));
  }
  EXPECT_NE(sys_a.render(reason).find("remote spawn failed"), std::string::npos)
      << sys_a.render(reason);
  // The node did start it (else this test proves nothing) ...
  ASSERT_TRUE(wait_until(
      [&] { return node_metrics.find("a1.sinks.k1#1") != nullptr; }, 10s))
      << "the node never spawned the replica";
  // ... and it ends, and what it took goes back to the channel.
  EXPECT_TRUE(listed_replicas_end(10s)) << "an orphan replica runs on the node";
  EXPECT_TRUE(wait_until(
      [&] { return channel_metrics->open_transactions.load() == 0; }, 10s))
      << channel_metrics->open_transactions.load()
      << " transactions held by the orphan";
  auto t = take(self, channel, 100);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->events, numbered(0, 10));
  ASSERT_FALSE(commit(self, channel, t->id));
}

// Suspected by reading: "the node never prunes its replica list".
// Confirmed: every replica ever started stayed listed (a strong reference
// to an actor that ended, and one more stop request at the node's stop).
// A replica host now takes itself off the list when it ends.
TEST_F(placement_test, a_node_forgets_the_replicas_that_ended) {
  caf::scoped_actor self{sys_a};
  for (int round = 1; round <= 3; ++round) {
    SCOPED_TRACE(round);
    auto instance = "k1#" + std::to_string(round);
    auto p = place("type: 'null'\nchannel: c1\n", 10s, instance);
    auto m = agent_metrics.get("a1.sinks." + instance, "sink", "placed");
    ASSERT_TRUE(wait_until(
        [&] { return m->current_state() == component_state::running; }, 10s))
        << "not placed";
    EXPECT_EQ(replicas_listed(), 1u);
    std::optional<bool> stopped;
    self->request(p, 10s, stop_atom::value)
        .receive([&](ok_atom) { stopped = true; },
                 [&](caf::error& e) {
                   ADD_FAILURE() << sys_a.render(e);
                   stopped = false;
                 });
    ASSERT_EQ(stopped, true);
    EXPECT_TRUE(wait_until([&] { return replicas_listed() == 0; }, 10s))
        << replicas_listed() << " replicas listed after the stop";
  }
}

namespace {

const std::string null_sink = "type: 'null'\nchannel: c1\n";

/// The node's metrics of replica `instance` (the newest of that name).
std::shared_ptr<component_metrics> on_node(metrics_registry& node_metrics,
                                           const std::string& instance) {
  return node_metrics.find("a1.sinks." + instance);
}

/// Stops `p` and waits for its answer; true when it answered ok.
bool stop(caf::scoped_actor& self, const caf::actor& p) {
  bool ok = false;
  self->request(p, 20s, stop_atom::value)
      .receive([&](ok_atom) { ok = true; },
               [&](caf::error& e) { ADD_FAILURE() << to_string(e); });
  return ok;
}

} // namespace

// Issue 17: a replica on a node showed 0 committed in the agent's metrics
// (its /metrics, `flumen top`, the final line): its counters lived on the
// node only. It reports them to its placement now, every second.
TEST_F(placement_test, a_replicas_counters_reach_the_agent) {
  caf::scoped_actor self{sys_a};
  auto p = place(null_sink, 10s);
  auto m = agent_metrics.get("a1.sinks.k1#1", "sink", "placed");
  ASSERT_TRUE(wait_until(
      [&] { return m->current_state() == component_state::running; }, 10s));
  ASSERT_FALSE(put(self, channel, numbered(0, 100)));
  ASSERT_FALSE(put(self, channel, numbered(100, 200)));
  EXPECT_TRUE(reaches(m->events_committed, 300, 10s))
      << "the agent shows " << m->events_committed.load() << " committed";
  EXPECT_GE(m->events_taken.load(), 300u);
  EXPECT_GE(m->batches.load(), 1u);
  EXPECT_EQ(m->current_state(), component_state::running);
  auto n = on_node(node_metrics, "k1#1");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->events_committed.load(), 300u);
  EXPECT_TRUE(stop(self, p));
}

// The last counts arrive before the stop is answered, so the agent's final
// line (printed once its sinks answered their stops) has them. Reports are
// an hour apart here, so only the stop's report can bring them.
TEST_F(placement_test, a_replicas_last_counts_arrive_before_its_stop_answer) {
  caf::scoped_actor self{sys_a};
  auto p = place(null_sink, 10s, "k1#1", std::chrono::hours{1});
  auto m = agent_metrics.get("a1.sinks.k1#1", "sink", "placed");
  ASSERT_TRUE(reporting(m));
  ASSERT_FALSE(put(self, channel, numbered(0, 250)));
  ASSERT_TRUE(wait_until(
      [&] {
        auto n = on_node(node_metrics, "k1#1");
        return n && n->events_committed.load() == 250;
      },
      10s));
  EXPECT_EQ(m->events_committed.load(), 0u) << "a report came before the stop";
  ASSERT_TRUE(stop(self, p));
  EXPECT_EQ(m->events_committed.load(), 250u);
  EXPECT_EQ(m->events_taken.load(), 250u);
  EXPECT_EQ(m->current_state(), component_state::stopped);
}

// A replica that restarts (here: on the same node, as after a reload or a
// lost node) counts from zero on the node, and one whose sink ends reports
// first; the agent adds each replica's counts to those of the ones before,
// so its counters never go back.
TEST_F(placement_test, the_agents_counters_never_go_back_across_replicas) {
  caf::scoped_actor self{sys_a};
  auto m = agent_metrics.get("a1.sinks.k1#1", "sink", "placed");
  // Each placement below starts from a blank `on=`, so reporting() waits
  // for its own replica.
  auto node_committed = [&](uint64_t n) {
    return wait_until(
        [&] {
          auto x = on_node(node_metrics, "k1#1");
          return x && x->events_committed.load() == n;
        },
        10s);
  };
  // 1. 100 events, a stop.
  auto p1 = place(null_sink, 10s, "k1#1", std::chrono::hours{1});
  ASSERT_TRUE(reporting(m));
  ASSERT_FALSE(put(self, channel, numbered(0, 100)));
  ASSERT_TRUE(node_committed(100));
  ASSERT_TRUE(stop(self, p1));
  EXPECT_EQ(m->events_committed.load(), 100u);
  // 2. Again, with reports every 100 ms: the new replica's first ones say 0
  // committed; the agent stays at 100, then adds 50.
  auto first = on_node(node_metrics, "k1#1");
  m->set_placement("");
  auto p2 = place(null_sink, 10s, "k1#1", 100ms);
  ASSERT_TRUE(reporting(m));
  ASSERT_NE(on_node(node_metrics, "k1#1"), first);
  ASSERT_EQ(on_node(node_metrics, "k1#1")->events_committed.load(), 0u)
      << "the node's counts of a new replica start from zero";
  // A report of the new replica is in once the agent counts its empty
  // takes (the channel is empty; each take waits a poll interval).
  auto empties = m->batches_empty.load();
  ASSERT_TRUE(
      wait_until([&] { return m->batches_empty.load() > empties; }, 10s))
      << "no report from the new replica";
  EXPECT_EQ(m->events_committed.load(), 100u)
      << "the agent's counter went back";
  ASSERT_FALSE(put(self, channel, numbered(100, 50)));
  EXPECT_TRUE(reaches(m->events_committed, 150, 10s))
      << m->events_committed.load();
  ASSERT_TRUE(stop(self, p2));
  EXPECT_EQ(m->events_committed.load(), 150u);
  // 3. A replica whose sink ends (killed on the node) reports what it did
  // before its host ends, and its placement ends with the reason.
  m->set_placement("");
  auto p3 = place(null_sink, 10s, "k1#1", std::chrono::hours{1});
  ASSERT_TRUE(reporting(m));
  ASSERT_FALSE(put(self, channel, numbered(150, 30)));
  ASSERT_TRUE(node_committed(30));
  // p2's host takes itself off the list as it ends, after its answer.
  ASSERT_TRUE(wait_until([&] { return replicas_listed() == 1; }, 10s));
  std::vector<caf::actor> hosts;
  {
    std::lock_guard guard{ctx.mtx};
    hosts = ctx.replicas;
  }
  ASSERT_EQ(hosts.size(), 1u);
  caf::scoped_actor node_self{sys_n};
  caf::actor sink;
  node_self->request(hosts.front(), 5s, get_atom::value)
      .receive([&](caf::actor& a) { sink = a; }, [](caf::error&) {});
  ASSERT_TRUE(sink);
  self->monitor(p3);
  caf::anon_send_exit(sink, caf::exit_reason::kill);
  caf::error reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(10s) >> [] { ADD_FAILURE() << "p3 did not end"; });
  EXPECT_NE(sys_a.render(reason).find("the replica ended"), std::string::npos)
      << sys_a.render(reason);
  EXPECT_EQ(m->events_committed.load(), 180u);
}

// The arithmetic of folding a replica's report into the agent's metrics.
TEST(fold_replica, adds_to_the_base_never_goes_back_and_keeps_restarts) {
  component_metrics m;
  m.events_committed = 100;
  m.restarts = 3;
  auto base = snapshot(m);
  counter_snapshot r;
  r.state = static_cast<int32_t>(component_state::degraded);
  r.reason = std::string(5000, 'x');
  r.counters = {{"events_committed", 40},
                {"events_taken", 45},
                {"connections_open", 2},
                {"restarts", 99},
                {"no_such_counter", 7}};
  fold_replica(m, base, r);
  EXPECT_EQ(m.events_committed.load(), 140u);
  EXPECT_EQ(m.events_taken.load(), 45u);
  EXPECT_EQ(m.connections_open.load(), 2u); // a gauge: the replica's value
  EXPECT_EQ(m.restarts.load(), 3u);         // the agent's supervisor's
  EXPECT_EQ(m.current_state(), component_state::degraded);
  EXPECT_EQ(m.reason().size(), 1024u); // cut
  // A report lower than what the agent shows (out of order, or a replica
  // that counts from zero against the wrong base) never lowers it.
  r.counters = {{"events_committed", 10}, {"connections_open", 0}};
  r.state = static_cast<int32_t>(component_state::running);
  r.reason.clear();
  fold_replica(m, base, r);
  EXPECT_EQ(m.events_committed.load(), 140u);
  EXPECT_EQ(m.connections_open.load(), 0u);
  EXPECT_EQ(m.current_state(), component_state::running);
  EXPECT_EQ(m.reason(), "");
  // Hostile values saturate, and an unknown state is ignored.
  r.counters = {{"events_committed", UINT64_MAX}};
  r.state = 1000;
  fold_replica(m, base, r);
  EXPECT_EQ(m.events_committed.load(), UINT64_MAX);
  EXPECT_EQ(m.current_state(), component_state::running);
}

// A replica's own families (a hop sink's resends) reach its stand-in with
// their help text, as counters over the base or gauges; names /metrics
// cannot carry, and more than 64 of them, are left out.
TEST(fold_replica, a_replicas_own_family_reaches_its_stand_in) {
  component_metrics replica;
  replica.kind = "sink";
  ++replica.own("hop_batches_resent", "Hop batches sent again.");
  replica.own("queue_depth", "A gauge.", true).store(7);
  auto r = snapshot(replica);
  EXPECT_EQ(r.own_help.at("hop_batches_resent"), "Hop batches sent again.");
  ASSERT_EQ(r.own_gauges, std::vector<std::string>{"queue_depth"});

  component_metrics m;
  m.kind = "sink";
  ++m.own("hop_batches_resent", "Hop batches sent again."); // an earlier one
  auto base = snapshot(m);
  r.counters["hop_batches_resent"] = 4;
  r.counters["bad name{x=\"1\"}"] = 5;
  r.own_help["bad name{x=\"1\"}"] = "x";
  r.own_help["events_committed"] = "a built-in name is no own family";
  r.counters["events_committed"] = 2;
  r.own_help["spoofed_help"] = "line\n# TYPE evil counter";
  r.counters["spoofed_help"] = 1;
  fold_replica(m, base, r);
  EXPECT_EQ(m.value("hop_batches_resent"), 5u); // 1 before + 4
  EXPECT_EQ(m.value("queue_depth"), 7u);
  EXPECT_EQ(m.value("events_committed"), 2u);
  EXPECT_EQ(m.value("bad name{x=\"1\"}"), 0u);
  std::size_t own = 0;
  for (auto& x : m.exposed()) {
    if (x.name == "queue_depth") EXPECT_TRUE(x.gauge);
    if (x.name == "spoofed_help") EXPECT_EQ(x.help, "line # TYPE evil counter");
    if (x.name == "events_committed") EXPECT_FALSE(x.gauge);
    own += x.name == "hop_batches_resent" || x.name == "queue_depth" ||
           x.name == "spoofed_help";
  }
  EXPECT_EQ(own, 3u);
  // A flood of names: at most 64 own families.
  counter_snapshot flood;
  for (int i = 0; i < 200; ++i) {
    auto n = "f" + std::to_string(i);
    flood.counters[n] = 1;
    flood.own_help[n] = "x";
  }
  auto before = m.exposed().size();
  fold_replica(m, base, flood);
  EXPECT_EQ(m.exposed().size(), before + (64 - own));
}

// /ready waits for every sink to have reached its destination once: a
// placed one's reach comes with its reports, and its state with the first
// (the answer to the placement's request for them), so the agent never
// calls a replica that can't connect `running` meanwhile.
TEST_F(placement_test, a_replicas_state_and_reach_follow_it) {
  auto yaml = "type: hop\nchannel: c1\nhost: 127.0.0.1\nport: " +
              std::to_string(closed_port()) + "\nconnect_timeout: 1s\n";
  auto p = place(yaml, 10s);
  auto m = agent_metrics.get("a1.sinks.k1#1", "sink", "placed");
  EXPECT_TRUE(wait_until(
      [&] {
        return m->never_connected() &&
               m->current_state() == component_state::connecting;
      },
      10s))
      << "state " << to_string(m->current_state()) << ", reach "
      << m->reach.load();
  EXPECT_FALSE(m->reason().empty());
  caf::scoped_actor self{sys_a};
  EXPECT_TRUE(stop(self, p));
}
