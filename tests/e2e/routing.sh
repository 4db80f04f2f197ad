#!/usr/bin/env bash
# Routing as Flume users write it: netcat -> regex_extractor (a region
# header from the line) -> regex_filter (drops 30 % of the lines) -> a
# multiplexing selector -> 4 channels -> 4 Kafka topics. Each topic holds
# exactly its lines (the optional audit channel a copy of eu's); the
# dropped lines are counted `filtered` in /metrics and in the final line,
# and the agent exits 0.
source "$(dirname "$0")/common.sh"
command -v kcat >/dev/null || fail "kcat is missing (./flumen.sh installs it)"
start_broker --topic eu:4 --topic us:4 --topic other:4 --topic audit:4
NC=$(free_port); HTTP=$(free_port)
# topologies/routing.yaml, as its header says to run it; its test cases
# first (no broker, no socket).
"$FLUMEN" test "$ROOT/topologies/routing.yaml" >"$WORK/t.out" 2>&1 || fail "flumen test: $(cat "$WORK/t.out")"
export PORT=$NC HTTP_PORT=$HTTP KAFKA=$BOOTSTRAP
cp "$ROOT/topologies/routing.yaml" "$WORK/r.yaml"
"$FLUMEN" validate "$WORK/r.yaml" >"$WORK/v.out" 2>&1 || fail "validate: $(cat "$WORK/v.out")"
"$FLUMEN" run "$WORK/r.yaml" >"$WORK/agent.log" 2>&1 &
AGENT=$!; PIDS+=($AGENT)
listening "$NC" "$WORK/agent.log"
N=10000
# i % 10: 0-2 drop (30 %), 3-4 eu, 5-6 us, 7-9 fr (no mapping: default).
awk -v n=$N 'BEGIN { split("drop drop drop eu eu us us fr fr fr", r, " ");
  for (i = 1; i <= n; i++) print r[i % 10 + 1] " " i }' >"$WORK/lines"
nc -N 127.0.0.1 "$NC" <"$WORK/lines"
expect() { # TOPIC REGION...: the lines of those regions, sorted
  grep -E "^($(IFS='|'; echo "${*:2}")) " "$WORK/lines" | sort
}
arrived() { # TOPIC COUNT
  [[ $(topic_bodies "$1" | sort -u | wc -l) -ge $2 ]]
}
for t in eu us other audit; do
  case $t in eu | audit) want=eu ;; us) want=us ;; other) want=fr ;; esac
  n=$(expect "$t" "$want" | wc -l)
  wait_for 60 arrived "$t" "$n" || fail "$t: $(topic_bodies "$t" | sort -u | wc -l) of $n"
  topic_bodies "$t" | sort -u >"$WORK/got.$t"
  expect "$t" "$want" | diff -q - "$WORK/got.$t" >/dev/null ||
    fail "$t holds other lines than its own: $(expect "$t" "$want" | diff - "$WORK/got.$t" | head -5)"
  echo "$t: exactly its $n lines"
done
metric() { curl -s "http://127.0.0.1:$HTTP/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
filtered=$(metric 'flumen_events_filtered_total{agent="a1",component="r1",kind="source",type="netcat"}')
[[ $filtered == 3000 ]] || fail "/metrics: filtered $filtered, expected 3000"
kill -TERM "$AGENT"
code=0; wait "$AGENT" || code=$?
[[ $code == 0 ]] || fail "exit code $code: $(tail -3 "$WORK/agent.log")"
grep -q "every accepted event delivered (3000 filtered by interceptors)" "$WORK/agent.log" ||
  fail "final line: $(grep 'agent a1: stopped' "$WORK/agent.log")"
echo "filtered: 3000 of $N (/metrics and the final line), exit 0"
echo "1 passed, 0 failed"
