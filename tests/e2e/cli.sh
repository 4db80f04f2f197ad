#!/usr/bin/env bash
# The command line as a user meets it: help, version, validate's located
# errors, graph.
source "$(dirname "$0")/common.sh"
"$FLUMEN" --help | grep -q "run" || fail "--help"
"$FLUMEN" run --help | grep -q -- "--agent" || fail "run --help"
"$FLUMEN" version | grep -q "^flumen [0-9]" || fail "version"
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
# validate runs nothing: no port was opened, no broker started.
"$FLUMEN" graph "$ROOT/topologies/quickstart.yaml" | grep -q "digraph" || fail "graph dot"
"$FLUMEN" graph "$ROOT/topologies/quickstart.yaml" --format mermaid | grep -q "flowchart LR" \
  || fail "graph mermaid"
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
echo "1 passed, 0 failed"
