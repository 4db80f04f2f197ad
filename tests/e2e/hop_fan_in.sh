#!/usr/bin/env bash
# Fan-in: 8 edge agents (separate processes, netcat -> memory -> hop) into
# one collector (hop -> memory -> kafka): every line of each edge arrives.
source "$(dirname "$0")/common.sh"
EDGES=8
N=${N:-25000}
start_broker --topic fan:8
COLL_PORT=$(free_port)
{
  echo "agents:"
  echo "  collector:"
  echo "    sources:"
  echo "      in: {type: hop, port: $COLL_PORT, channels: [c1]}"
  echo "    channels:"
  echo "      c1: {type: memory, capacity: 100000}"
  echo "    sinks:"
  echo "      k1: {type: kafka, channel: c1, bootstrap_servers: '$BOOTSTRAP', topic: fan}"
  for i in $(seq 1 $EDGES); do
    port=$(free_port)
    echo "$port" >"$WORK/port$i"
    echo "  edge$i:"
    echo "    sources:"
    echo "      r1: {type: netcat, port: $port, channels: [c1]}"
    echo "    channels:"
    echo "      c1: {type: memory}"
    echo "    sinks:"
    echo "      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $COLL_PORT}"
  done
} >"$WORK/fan.yaml"
"$FLUMEN" validate "$WORK/fan.yaml" >/dev/null || fail "fan.yaml invalid"
run() { "$FLUMEN" run "$WORK/fan.yaml" --agent "$1" >"$WORK/$1.log" 2>&1 & PIDS+=($!); }
run collector
for i in $(seq 1 $EDGES); do run "edge$i"; done
for i in $(seq 1 $EDGES); do
  wait_for 20 nc -z 127.0.0.1 "$(cat "$WORK/port$i")" || fail "edge$i not listening"
done
senders=()
for i in $(seq 1 $EDGES); do
  seq -f "e$i-%.0f" 1 "$N" | nc -N 127.0.0.1 "$(cat "$WORK/port$i")" &
  senders+=($!)
done
for p in "${senders[@]}"; do wait "$p" || fail "nc failed"; done
total=$((EDGES * N))
distinct() { topic_bodies fan | sort -u | wc -l; }
has_all() { [[ $(distinct) -ge $total ]]; }
wait_for 120 has_all || fail "only $(distinct) of $total lines"
for i in $(seq 1 $EDGES); do
  got=$(topic_bodies fan | grep "^e$i-" | sort -u | wc -l)
  [[ $got -eq $N ]] || fail "edge$i: $got of $N lines"
done
[[ $(grep -c "connected" "$WORK/collector.log") -ge $EDGES ]] || fail "collector saw fewer than $EDGES senders"
echo "fan-in: $EDGES edges x $N lines, every one arrived ($(($(topic_count fan) - total)) duplicates)"
echo "1 passed, 0 failed"
