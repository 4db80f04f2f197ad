#!/usr/bin/env bash
# Back-pressure across a hop, between real processes: the collector's Kafka
# broker frozen, its small channel fills, the hop source holds its answers
# and then says "busy", the edge's window and channel fill, and its netcat
# source stops reading (nc blocks). Memory on both sides stays flat. Then
# the broker resumes and every line arrives, none twice.
# Also: a sender of another wire version is refused, logged on both sides;
# a sender beyond max_connections is refused, logged on both sides.
source "$(dirname "$0")/common.sh"
N=${N:-300000}
start_broker --topic bp:16
NC=$(free_port); NC_OLD=$(free_port); NC_EXTRA=$(free_port); HOP=$(free_port)
pad=$(printf '%0100d' 0)
cat >"$WORK/bp.yaml" <<YAML
agents:
  collector:
    sources:
      in: {type: hop, port: $HOP, channels: [c1], max_connections: 2}
    channels:
      c1: {type: memory, capacity: 5000, transaction_capacity: 1000}
    sinks:
      k1: {type: kafka, channel: c1, bootstrap_servers: '$BOOTSTRAP', topic: bp}
  edge:
    sources:
      r1: {type: netcat, port: $NC, channels: [c1]}
    channels:
      c1: {type: memory, capacity: 20000}
    sinks:
      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $HOP, request_timeout: 2s}
  old:
    sources:
      r1: {type: netcat, port: $NC_OLD, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $HOP, test_wire_version: 99}
  extra:
    sources:
      r1: {type: netcat, port: $NC_EXTRA, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $HOP}
      h2: {type: hop, channel: c1, host: 127.0.0.1, port: $HOP}
YAML
run() {
  "$FLUMEN" run "$WORK/bp.yaml" --agent "$1" --stats-interval 500ms >"$WORK/$1.log" 2>&1 &
  PIDS+=($!); eval "${1^^}_PID=$!"
}
run collector
wait_for 20 grep -q "listening on" "$WORK/collector.log" || fail "collector: $(cat "$WORK/collector.log")"
run edge
wait_for 20 nc -z 127.0.0.1 "$NC" || fail "edge not listening"
wait_for 20 grep -q "sender edge.sinks.h1#.* connected" "$WORK/collector.log" || fail "edge not connected"

# Another wire version: refused, in words, on both sides.
run old
wait_for 20 grep -q "refused sender old.sinks.h1#.*wire version 99, this agent speaks 2" "$WORK/collector.log" \
  || fail "collector did not log the version refusal"
wait_for 20 grep -q "old.sinks.h1: 127.0.0.1:$HOP refused this agent" "$WORK/old.log" \
  || fail "old agent did not log the refusal: $(tail -3 "$WORK/old.log")"
kill -TERM "$OLD_PID"; wait "$OLD_PID" || true
# max_connections 2: the edge and one of extra's sinks get in, the other not.
run extra
wait_for 20 grep -q "max_connections (2) reached" "$WORK/collector.log" \
  || fail "collector did not refuse a third sender"
wait_for 20 grep -q "extra.sinks.h[12]: .*max_connections (2) reached" "$WORK/extra.log" \
  || fail "extra did not log the refusal: $(tail -3 "$WORK/extra.log")"
kill -TERM "$EXTRA_PID"; wait "$EXTRA_PID" || true

kill -STOP "$BROKER_PID"
seq -f "%.0f-$pad" 1 "$N" | nc -N 127.0.0.1 "$NC" &
SENDER=$!
# counter AGENT CHANNEL_OR_SINK KEY: from its last counter line.
counter() {
  local line; line=$(grep "$1.$2 state" "$WORK/$1.log" | tail -1)
  [[ $line == *" $3="* ]] || { echo 0; return; }
  local v=${line##* $3=}; echo "${v%% *}"
}
full() { grep "$1.channels.c1 state" "$WORK/$1.log" | tail -1 | matches "size=$2/$2"; }
wait_for 60 full collector 5000 || fail "collector channel not full: $(grep 'collector.channels' "$WORK/collector.log" | tail -1)"
wait_for 60 full edge 20000 || fail "edge channel not full: $(grep 'edge.channels' "$WORK/edge.log" | tail -1)"
busy() { [[ $(counter collector sources.in hop_batches_busy) -ge 1 ]]; }
wait_for 30 busy || fail "the hop source never answered busy"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
edge1=$(rss "$EDGE_PID"); coll1=$(rss "$COLLECTOR_PID")
recv1=$(counter edge sources.r1 received)
sleep 5 # a span of time to compare memory and reading over, not a wait for a result
edge2=$(rss "$EDGE_PID"); coll2=$(rss "$COLLECTOR_PID")
recv2=$(counter edge sources.r1 received)
kill -0 "$SENDER" 2>/dev/null || fail "nc finished: the edge read everything instead of pushing back"
echo "held 5 s: edge RSS ${edge1}->${edge2} KiB, collector ${coll1}->${coll2} KiB, edge read ${recv1}->${recv2} lines"
((edge2 - edge1 < 8192)) || fail "edge memory grew by $((edge2 - edge1)) KiB"
((coll2 - coll1 < 8192)) || fail "collector memory grew by $((coll2 - coll1)) KiB"
((recv2 - recv1 < 2000)) || fail "the edge kept reading while full ($recv1 -> $recv2)"
thaw_broker
wait "$SENDER" || fail "nc failed"
count() { topic_bodies bp | wc -l; }
has_all() { [[ $(topic_bodies bp | cut -d- -f1 | sort -u | wc -l) -ge $N ]]; }
wait_for 120 has_all || fail "only $(count) of $N lines"
dups=$(($(count) - N))
[[ $dups -eq 0 ]] || fail "$dups duplicates"
echo "back-pressure: $N lines held and then delivered, none lost, none twice; busy answers: $(counter collector sources.in hop_batches_busy)"
echo "1 passed, 0 failed"
