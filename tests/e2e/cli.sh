#!/usr/bin/env bash
# The command line as a user meets it: help, version, validate's located
# errors, graph, test.
source "$(dirname "$0")/common.sh"
"$FLUMEN" --help | matches "run" || fail "--help"
"$FLUMEN" run --help | matches -- "--agent" || fail "run --help"
"$FLUMEN" version | matches "^flumen [0-9]" || fail "version"
cat >"$WORK/bad.yaml" <<'YAML'
agents:
  a1:
    sources:
      r1:
        type: netcat
        port: 4444
        channels: [c1]
    channels:
      c1:
        type: memory
        capacity: lots
    sinks:
      k1:
        type: kafka
        channel: c2
        topik: logs
        bootstrap_servers: embedded
YAML
set +e
"$FLUMEN" validate "$WORK/bad.yaml" >"$WORK/out" 2>&1
code=$?
set -e
[[ $code -ne 0 ]] || fail "validate accepted a bad file"
grep -qF "bad.yaml:11:19: agents.a1.channels.c1.capacity: expected an integer" "$WORK/out" \
  || fail "capacity error: $(cat "$WORK/out")"
grep -qF "bad.yaml:15:18: agents.a1.sinks.k1.channel: unknown channel 'c2' (did you mean 'c1'?)" "$WORK/out" \
  || fail "channel error: $(cat "$WORK/out")"
grep -qF "bad.yaml:16:9: agents.a1.sinks.k1: unknown key 'topik' (did you mean 'topic'?)" "$WORK/out" \
  || fail "topik error: $(cat "$WORK/out")"
# A value that failed to parse feeds no later check: each line of this file
# has one error, and a check of the value against another (with the
# default the getter fell back to) used to add a false second one.
cat >"$WORK/once.yaml" <<'YAML'
agents:
  a1:
    sources:
      r1: {type: netcat, port: 44444, batch_size: lots, channels: [c1, c2]}
    channels:
      c1: {type: memory, capacity: lots, transaction_capacity: 60000}
      c2: {type: file, fsync: intervall, fsync_interval: 1s, directory: WORK/ch}
      dlq: {type: memory, transaction_capacity: 10}
    sinks:
      k1: {type: kafka, channel: c1, bootstrap_servers: embedded, topic: t, on_permanent_error: dead_leter, dead_letter_channel: dlq}
      k2: {type: "null", channel: [dlq]}
      k3: {type: "null", channel: c2}
YAML
sed -i "s|WORK/|$WORK/|" "$WORK/once.yaml"
set +e
"$FLUMEN" validate "$WORK/once.yaml" >"$WORK/out" 2>&1
code=$?
set -e
[[ $code -eq 1 ]] || fail "once.yaml: exit $code"
diff <(sed "s|$WORK/||g" "$WORK/out") - <<'OUT' || fail "one error per bad value (diff above)"
once.yaml:4:51: agents.a1.sources.r1.batch_size: expected an integer
once.yaml:6:36: agents.a1.channels.c1.capacity: expected an integer
once.yaml:7:31: agents.a1.channels.c2.fsync: must be one of: batch, interval, never (did you mean 'interval'?)
once.yaml:10:97: agents.a1.sinks.k1.on_permanent_error: must be one of: drop, dead_letter, fail (did you mean 'dead_letter'?)
once.yaml:11:35: agents.a1.sinks.k2.channel: expected a string
5 errors in once.yaml
OUT
# A Flume properties file is named as one, by every command that loads a
# topology (it was "expected a mapping with key 'agents'").
cat >"$WORK/flume.conf" <<'CONF'
# Flume's tutorial agent
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.port = 44444
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
CONF
for cmd in validate run graph; do
  set +e
  "$FLUMEN" $cmd "$WORK/flume.conf" >"$WORK/out" 2>&1
  code=$?
  set -e
  [[ $code -eq 1 ]] || fail "$cmd flume.conf: exit $code"
  grep -qF "flume.conf:2:1: this is a Flume properties file ('a1.sources = r1'), and flumen reads YAML topologies (docs/reference/topology.md)" "$WORK/out" \
    || fail "$cmd flume.conf: $(cat "$WORK/out")"
done
# validate runs nothing: no port was opened, no broker started.
"$FLUMEN" graph "$ROOT/topologies/quickstart.yaml" | matches "digraph" || fail "graph dot"
"$FLUMEN" graph "$ROOT/topologies/quickstart.yaml" --format mermaid | matches "flowchart LR" \
  || fail "graph mermaid"
# A chain draws connected: the edge's hop sink to the collector's hop
# source (it drew two unconnected boxes), in both formats; --agent draws
# one agent and its hop peers; placed replicas go to their nodes.
"$FLUMEN" graph "$ROOT/topologies/chain.yaml" >"$WORK/out" || fail "graph chain"
grep -qxF '  edge_sinks_forward -> collector_sources_upstream [style=dashed, label="127.0.0.1:4545"];' "$WORK/out" \
  || fail "chain not connected: $(cat "$WORK/out")"
"$FLUMEN" graph "$ROOT/topologies/chain.yaml" --format mermaid --agent collector >"$WORK/out" || fail "graph --agent"
grep -qxF '  edge_sinks_forward -.->|"127.0.0.1:4545"| collector_sources_upstream' "$WORK/out" \
  || fail "mermaid chain: $(cat "$WORK/out")"
"$FLUMEN" graph "$ROOT/topologies/nodes.yaml" >"$WORK/out" || fail "graph nodes"
grep -qxF '  a1_sinks_kafka -> n2_node [style=bold, label="replicas 2, 4"];' "$WORK/out" \
  || fail "placement: $(cat "$WORK/out")"
set +e
"$FLUMEN" graph "$ROOT/topologies/chain.yaml" --agent colector >"$WORK/out" 2>&1
code=$?
set -e
[[ $code -eq 1 ]] && grep -qE "chain.yaml:[0-9]+:3: agents: no agent named 'colector' \(did you mean 'collector'\?\)" "$WORK/out" \
  || fail "graph --agent colector: $code $(cat "$WORK/out")"
# Several agents and no --agent: a clear refusal.
cat >"$WORK/two.yaml" <<'YAML'
agents:
  a: {sources: {s: {type: seq, count: 1, channels: [c]}}, channels: {c: {type: memory}}, sinks: {k: {type: "null", channel: c}}}
  b: {sources: {s: {type: seq, count: 1, channels: [c]}}, channels: {c: {type: memory}}, sinks: {k: {type: "null", channel: c}}}
YAML
set +e
"$FLUMEN" run "$WORK/two.yaml" >"$WORK/out" 2>&1
code=$?
set -e
[[ $code -eq 2 ]] && grep -q -- "--agent" "$WORK/out" || fail "two agents: $code $(cat "$WORK/out")"
"$FLUMEN" run "$WORK/two.yaml" --agent b --exit-on-eof 2>"$WORK/b.log" || fail "run --agent b"
grep -q "b.sinks.k state=stopped taken=1 committed=1" "$WORK/b.log" || fail "agent b: $(cat "$WORK/b.log")"
# Dead letters: the channel must exist, and the policy must ask for it.
cat >"$WORK/dlq.yaml" <<'YAML'
agents:
  a1:
    sources:
      r1: {type: seq, channels: [c1]}
    channels:
      c1: {type: memory}
      dlq: {type: memory}
    sinks:
      k1:
        type: kafka
        channel: c1
        bootstrap_servers: embedded
        topic: t
        on_permanent_error: dead_letter
        dead_letter_channel: dlqq
      k2: {type: "null", channel: dlq}
YAML
set +e
"$FLUMEN" validate "$WORK/dlq.yaml" >"$WORK/out" 2>&1
code=$?
set -e
[[ $code -eq 1 ]] || fail "dlq: exit $code"
grep -qF "dlq.yaml:15:30: agents.a1.sinks.k1.dead_letter_channel: unknown channel 'dlqq' (did you mean 'dlq'?)" "$WORK/out" \
  || fail "dlq error: $(cat "$WORK/out")"
sed -i 's/dlqq/dlq/' "$WORK/dlq.yaml"
"$FLUMEN" validate "$WORK/dlq.yaml" >/dev/null || fail "a dead-letter channel counts as written"
sed -i 's/on_permanent_error: dead_letter/on_permanent_error: drop/' "$WORK/dlq.yaml"
set +e
"$FLUMEN" validate "$WORK/dlq.yaml" >"$WORK/out" 2>&1
set -e
grep -qF "agents.a1.sinks.k1.dead_letter_channel: is used only with on_permanent_error: dead_letter" "$WORK/out" \
  || fail "dlq without policy: $(cat "$WORK/out")"

# CLI conventions: bare `flumen` prints the usage (exit 0); --version; a
# usage error exits 2 with a message, never an abort.
"$FLUMEN" >"$WORK/out" || fail "bare flumen: exit $?"
grep -q "Usage:" "$WORK/out" || fail "bare flumen: $(cat "$WORK/out")"
[[ $("$FLUMEN" --version) == "flumen "* ]] || fail "--version: $("$FLUMEN" --version)"
expect_usage_error() { # $1: what, rest: arguments
  local what=$1; shift
  set +e
  "$FLUMEN" "$@" >"$WORK/out" 2>&1
  local code=$?
  set -e
  [[ $code -eq 2 ]] || fail "$what: exit $code, expected 2: $(cat "$WORK/out")"
}
expect_usage_error "broker --topic x:-1" broker --topic x:-1
expect_usage_error "broker --topic x:0" broker --topic x:0
expect_usage_error "broker --topic :3" broker --topic :3
expect_usage_error "broker --topic x:abc" broker --topic x:abc
expect_usage_error "--shutdown-timeout -1" run "$WORK/dlq.yaml" --shutdown-timeout -1
expect_usage_error "--shutdown-timeout nan" run "$WORK/dlq.yaml" --shutdown-timeout nan
expect_usage_error "--shutdown-timeout 3x" run "$WORK/dlq.yaml" --shutdown-timeout 3x

# A file for two machines: only the agent that runs here has its `bind`
# tried on this machine.
cat >"$WORK/two.yaml" <<YAML
agents:
  edge:
    sources: {r1: {type: netcat, port: 44444, bind: 192.0.2.1, channels: [c1]}}
    channels: {c1: {type: memory}}
    sinks: {k1: {type: "null", channel: c1}}
  collector:
    sources: {r1: {type: netcat, port: 0, channels: [c1]}}
    channels: {c1: {type: memory}}
    sinks: {k1: {type: "null", channel: c1}}
YAML
if "$FLUMEN" validate "$WORK/two.yaml" 2>"$WORK/out"; then
  fail "192.0.2.1 is no address of this machine"
fi
grep -q "agents.edge.sources.r1.bind: cannot listen on '192.0.2.1'" "$WORK/out" \
  || fail "bind error: $(cat "$WORK/out")"
"$FLUMEN" validate "$WORK/two.yaml" --agent collector >/dev/null \
  || fail "--agent collector must not try edge's address"
"$FLUMEN" graph "$WORK/two.yaml" >/dev/null || fail "graph tries no address"
# A misspelt --agent: a located error with a did-you-mean (run: a usage
# error, exit 2; validate: exit 1).
set +e
"$FLUMEN" validate "$WORK/two.yaml" --agent colector >"$WORK/out" 2>&1
code=$?
"$FLUMEN" run "$WORK/two.yaml" --agent colector >"$WORK/run.out" 2>&1
run_code=$?
set -e
want="two.yaml:6:3: agents: no agent named 'colector' (did you mean 'collector'?)"
[[ $code -eq 1 ]] && grep -qF "$want" "$WORK/out" || fail "validate --agent colector: $code $(cat "$WORK/out")"
[[ $run_code -eq 2 ]] && grep -qF "$want" "$WORK/run.out" || fail "run --agent colector: $run_code $(cat "$WORK/run.out")"

# A file_roll directory that could never be written is a config error; one
# that does not exist yet but can be created is fine.
echo "a file" >"$WORK/afile"
roll() { # $1: directory
  cat <<YAML
agents:
  a1:
    sources: {r1: {type: seq, count: 1, channels: [c1]}}
    channels: {c1: {type: memory}}
    sinks: {k1: {type: file_roll, channel: c1, directory: "$1"}}
YAML
}
roll "$WORK/afile/out" >"$WORK/roll.yaml"
if "$FLUMEN" validate "$WORK/roll.yaml" 2>"$WORK/out"; then
  fail "a directory under a regular file validated"
fi
grep -q "agents.a1.sinks.k1.directory: '$WORK/afile' is not a directory" "$WORK/out" \
  || fail "directory error: $(cat "$WORK/out")"
roll "$WORK/new/deeper" >"$WORK/roll.yaml"
"$FLUMEN" validate "$WORK/roll.yaml" >/dev/null || fail "a creatable directory must validate"
# flumen channel: an empty directory inspects and verifies clean; a missing
# one is exit 2 (the formats' cases are in tests/unit/filelog_test.cpp).
mkdir -p "$WORK/chan"
"$FLUMEN" channel inspect "$WORK/chan" >"$WORK/out" || fail "inspect an empty directory"
grep -q "segments: 0" "$WORK/out" || fail "inspect: $(cat "$WORK/out")"
"$FLUMEN" channel verify "$WORK/chan" >"$WORK/out" || fail "verify an empty directory"
grep -qx "ok" "$WORK/out" || fail "verify: $(cat "$WORK/out")"
"$FLUMEN" channel verify --repair "$WORK/chan" >"$WORK/out" || fail "repair an empty directory"
[[ ! -e $WORK/chan/lock ]] || fail "repair of an empty directory left a lock"
# A directory that holds other things is no channel: refused, untouched.
mkdir -p "$WORK/notchan" && echo hello >"$WORK/notchan/readme"
for cmd in inspect "verify --repair"; do
  set +e
  "$FLUMEN" channel $cmd "$WORK/notchan" >"$WORK/out" 2>&1
  rc=$?
  set -e
  [[ $rc == 2 ]] || fail "channel $cmd of a non-channel directory: exit $rc, want 2"
  grep -q "not a file channel's directory" "$WORK/out" || fail "channel $cmd: $(cat "$WORK/out")"
done
[[ ! -e $WORK/notchan/lock ]] || fail "a non-channel directory got a lock"
set +e
"$FLUMEN" channel verify "$WORK/nochan" 2>"$WORK/out"
rc=$?
set -e
[[ $rc == 2 ]] || fail "verify of a missing directory: exit $rc, want 2"
grep -q "not a directory" "$WORK/out" || fail "verify: $(cat "$WORK/out")"
# Names go into log lines: one with a control character is refused where
# it is written (a newline split the agent's log lines), and a node's --name
# too.
printf 'agents:\n  a1:\n    sources:\n      "r\\n1": {type: seq, channels: [c1]}\n    channels:\n      c1: {type: memory}\n    sinks:\n      k1: {type: "null", channel: c1}\n' >"$WORK/names.yaml"
set +e
"$FLUMEN" validate "$WORK/names.yaml" >"$WORK/out" 2>&1
rc=$?
timeout 10 "$FLUMEN" node --name "$(printf 'n\n1')" --listen "127.0.0.1:$(free_port)" >"$WORK/node.out" 2>&1
node_rc=$?
set -e
[[ $rc == 1 ]] || fail "a name with a newline validated: $(cat "$WORK/out")"
grep -qF "names.yaml:4:7: agents.a1.sources: name 'r\x0a1' holds a control character" "$WORK/out" \
  || fail "name error: $(cat "$WORK/out")"
[[ $node_rc == 2 ]] || fail "node --name with a newline: exit $node_rc: $(cat "$WORK/node.out")"
grep -qF "name 'n\x0a1' holds a control character" "$WORK/node.out" || fail "node: $(cat "$WORK/node.out")"
# flumen test: the cases of a topology and of NAME.tests.yaml beside it
# pass (exit 0); a case that fails says where and exits 1; Flume's User
# Guide examples do what the guide says.
"$FLUMEN" test "$ROOT/topologies/routing.yaml" "$ROOT/topologies/quickstart.yaml" \
  "$ROOT/tests/data/flume_guide.yaml" >"$WORK/out" 2>&1 || fail "flumen test: $(cat "$WORK/out")"
grep -q "^15 of 15 test cases passed$" "$WORK/out" || fail "flumen test: $(cat "$WORK/out")"
grep -q "^PASS .*quickstart.tests.yaml: a log line gets a timestamp and a host$" "$WORK/out" \
  || fail "the tests file beside quickstart.yaml did not run: $(cat "$WORK/out")"
sed 's/c_us: \[us 5\]/c_us: [us 6]/' "$ROOT/topologies/routing.yaml" >"$WORK/routing.yaml"
set +e
"$FLUMEN" test "$WORK/routing.yaml" >"$WORK/out" 2>&1
rc=$?
"$FLUMEN" test "$ROOT/topologies/chain.yaml" >"$WORK/none" 2>&1
none_rc=$?
set -e
[[ $rc == 1 ]] || fail "a failing case exited $rc: $(cat "$WORK/out")"
grep -q "^FAIL $WORK/routing.yaml: dropped lines and lines without a region ($WORK/routing.yaml:6[0-9]:5, source a1.r1)$" "$WORK/out" \
  || fail "no FAIL line: $(cat "$WORK/out")"
grep -qF '  [0] ('"$WORK"'/routing.yaml:' "$WORK/out" && grep -qF 'body: expected "us 6", got "us 5"' "$WORK/out" \
  || fail "no difference shown: $(cat "$WORK/out")"
grep -q "^2 of 3 test cases passed$" "$WORK/out" || fail "summary: $(cat "$WORK/out")"
[[ $none_rc == 1 ]] && grep -q "no test cases in" "$WORK/none" || fail "no cases: exit $none_rc: $(cat "$WORK/none")"
echo "1 passed, 0 failed"
