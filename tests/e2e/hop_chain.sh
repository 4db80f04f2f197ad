#!/usr/bin/env bash
# A three-agent chain of real processes, as in issue "part 6": nc -> edge
# (netcat -> memory -> hop) -> relay (hop -> memory -> hop) -> collector
# (hop -> file -> kafka). 500,000 lines: every one in the topic, none twice.
# Then the shipped topologies/chain.yaml runs as its header says.
source "$(dirname "$0")/common.sh"
LINES=${LINES:-500000}
start_broker --topic chain:8 --topic logs:4
NC_PORT=$(free_port)
RELAY_PORT=$(free_port)
COLL_PORT=$(free_port)
cat >"$WORK/chain.yaml" <<YAML
agents:
  edge:
    sources:
      r1: {type: netcat, port: $NC_PORT, channels: [c1]}
    channels:
      c1: {type: memory, capacity: 100000}
    sinks:
      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $RELAY_PORT}
  relay:
    sources:
      in: {type: hop, port: $RELAY_PORT, channels: [c1]}
    channels:
      c1: {type: memory, capacity: 100000}
    sinks:
      out: {type: hop, channel: c1, host: 127.0.0.1, port: $COLL_PORT}
  collector:
    sources:
      in: {type: hop, port: $COLL_PORT, channels: [c1]}
    channels:
      c1: {type: file, directory: $WORK/collector}
    sinks:
      k1: {type: kafka, channel: c1, bootstrap_servers: '$BOOTSTRAP', topic: chain}
YAML
"$FLUMEN" validate "$WORK/chain.yaml" >/dev/null || fail "chain.yaml invalid"
start() { # NAME
  "$FLUMEN" run "$WORK/chain.yaml" --agent "$1" >>"$WORK/$1.log" 2>&1 &
  PIDS+=($!)
  eval "${1^^}_PID=$!"
}
start collector
start relay
start edge
wait_for 20 nc -z 127.0.0.1 "$NC_PORT" || fail "edge not listening: $(cat "$WORK/edge.log")"
seq -f 'line-%.0f' 1 "$LINES" | nc -N 127.0.0.1 "$NC_PORT"
count() { topic_count chain; }
has_all() { [[ $(count) -ge $LINES ]]; }
wait_for 120 has_all || fail "only $(count) of $LINES lines in Kafka"
topic_bodies chain | sort >"$WORK/got"
seq -f 'line-%.0f' 1 "$LINES" | sort >"$WORK/want"
dups=$(($(wc -l <"$WORK/got") - $(sort -u "$WORK/got" | wc -l)))
sort -u "$WORK/got" | diff -q "$WORK/want" - >/dev/null || fail "lines lost or changed"
[[ $dups -eq 0 ]] || fail "$dups duplicates without any fault"
for a in edge relay collector; do
  pid_var="${a^^}_PID"
  kill -TERM "${!pid_var}"
  wait "${!pid_var}" || fail "$a exited with $? after SIGTERM: $(tail -3 "$WORK/$a.log")"
done
grep -q "edge: stopped, every accepted event delivered" "$WORK/edge.log" || fail "edge: $(tail -3 "$WORK/edge.log")"
grep -q "relay: stopped, every accepted event delivered" "$WORK/relay.log" || fail "relay: $(tail -3 "$WORK/relay.log")"
echo "chain: $LINES lines, $dups duplicates"

# The shipped example, as its header says.
HOP=$(free_port)
NP=$(free_port)
export HOP_PORT=$HOP NETCAT_PORT=$NP STATE_DIR=$WORK/shipped KAFKA=$BOOTSTRAP
"$FLUMEN" run "$ROOT/topologies/chain.yaml" --agent collector >"$WORK/s_coll.log" 2>&1 &
SC=$!; PIDS+=($SC)
"$FLUMEN" run "$ROOT/topologies/chain.yaml" --agent edge >"$WORK/s_edge.log" 2>&1 &
SE=$!; PIDS+=($SE)
wait_for 20 nc -z 127.0.0.1 "$NP" || fail "shipped edge not listening: $(cat "$WORK/s_edge.log")"
seq 1 1000 | nc -N 127.0.0.1 "$NP"
has_1000() { [[ $(topic_count logs) -ge 1000 ]]; }
wait_for 60 has_1000 || fail "chain.yaml: $(topic_count logs) of 1000"
kill -TERM "$SE" "$SC"
wait "$SE" || fail "shipped edge did not stop cleanly"
wait "$SC" || fail "shipped collector did not stop cleanly"
echo "1 passed, 0 failed"
