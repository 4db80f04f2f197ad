#!/usr/bin/env bash
# A hop over a slow link (issue 17, item 4): edge (seq: 6,000 events of
# 1.2 KB -> memory -> hop) -> fault_proxy --throttle 400000 (400 KB/s towards
# the collector) -> collector (hop -> memory -> file_roll). A take of 5,000
# such events is 6 MB, 15 s on that link: three times the 5 s after which
# CAF closes a link that delivered no whole message. Sent as one message it
# was cut at every attempt and sent again the same size for ever (0 of 6,000
# arrived in 60 s). Every event must arrive within the deadline, and none
# twice; the link losses the edge saw are counted and printed.
source "$(dirname "$0")/common.sh"
N=${N:-6000}
RATE=${RATE:-400000}
DEADLINE=${DEADLINE:-90}
PROXY_PORT=$(free_port)
COLL_PORT=$(free_port)
cat >"$WORK/slow.yaml" <<YAML
agents:
  edge:
    sources:
      gen: {type: seq, count: $N, start: 1, body_size: 1200, channels: [c1]}
    channels:
      c1: {type: memory, capacity: 20000}
    sinks:
      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $PROXY_PORT}
  collector:
    sources:
      in: {type: hop, port: $COLL_PORT, channels: [c1]}
    channels:
      c1: {type: memory, capacity: 20000}
    sinks:
      f1: {type: file_roll, channel: c1, directory: $WORK/out, roll_interval: 0, batch_size: 1000}
YAML
"$FLUMEN" validate "$WORK/slow.yaml" >/dev/null || fail "slow.yaml invalid"
"$FLUMEN" run "$WORK/slow.yaml" --agent collector >"$WORK/collector.log" 2>&1 &
COLL=$!; PIDS+=($COLL)
wait_for 20 grep -q "collector.sources.in: listening" "$WORK/collector.log" \
  || fail "collector not listening: $(cat "$WORK/collector.log")"
"$FAULT_PROXY" "$PROXY_PORT" "$COLL_PORT" --throttle "$RATE" >"$WORK/proxy.out" &
PROXY=$!; PIDS+=($PROXY)
wait_for 10 grep -q ready "$WORK/proxy.out" || fail "proxy did not start"
start=$SECONDS
"$FLUMEN" run "$WORK/slow.yaml" --agent edge >"$WORK/edge.log" 2>&1 &
EDGE=$!; PIDS+=($EDGE)

lines() { cat "$WORK/out"/* 2>/dev/null | wc -l; }
has_all() { [[ $(lines) -ge $N ]]; }
losses() { grep -c "edge.sinks.h1: 127.0.0.1:$PROXY_PORT: connection lost" "$WORK/edge.log" || true; }
wait_for "$DEADLINE" has_all \
  || fail "$(lines) of $N events arrived in $DEADLINE s over a $RATE B/s link ($(losses) link losses): $(grep -h 'sinks.h1' "$WORK/edge.log" | tail -3)"
took=$((SECONDS - start))
cat "$WORK/out"/* | sed 's/\.*$//' | sort >"$WORK/got"
seq 1 "$N" | sort >"$WORK/want"
distinct=$(sort -u "$WORK/got" | wc -l)
dups=$(($(wc -l <"$WORK/got") - distinct))
sort -u "$WORK/got" | diff -q "$WORK/want" - >/dev/null || fail "events lost or changed"
[[ $dups -eq 0 ]] || fail "$dups duplicates"
for p in "$EDGE" "$COLL"; do
  kill -TERM "$p"
  wait "$p" || fail "an agent exited with $? after SIGTERM: $(tail -3 "$WORK/edge.log" "$WORK/collector.log")"
done
grep -q "edge: stopped, every accepted event delivered" "$WORK/edge.log" || fail "edge: $(tail -3 "$WORK/edge.log")"
echo "slow link: $N events of 1.2 KB at $RATE B/s in $took s, none lost, $dups duplicates, $(losses) link losses"
echo "1 passed, 0 failed"
