#!/usr/bin/env bash
# `flumen tap` against a running agent: a source (after its interceptors), a
# channel and a sink with two replicas are tapped at once while lines flow;
# each tap prints its N events, one per line, and exits 0; a long body is
# cut and escaped; an unknown component and an unreachable agent exit 1
# saying why; and the pipeline delivers every line while tapped.
source "$(dirname "$0")/common.sh"
NC=$(free_port); HTTP=$(free_port); DEAD=$(free_port)
cat >"$WORK/a.yaml" <<YAML
agents:
  a1:
    http: {port: $HTTP}
    sources:
      r1:
        type: netcat
        port: $NC
        channels: [c1]
        interceptors: [{type: static, key: env, value: test}]
    channels:
      c1: {type: memory, capacity: 100000}
    sinks:
      k1: {type: "null", channel: c1, replicas: 2}
YAML
"$FLUMEN" run "$WORK/a.yaml" >"$WORK/a.log" 2>&1 &
AGENT=$!; PIDS+=($AGENT)
wait_for 20 grep -q "HTTP on 127.0.0.1:$HTTP" "$WORK/a.log" || fail "no HTTP: $(cat "$WORK/a.log")"

# Lines go in through one connection until every tap has exited (a tap
# sees only what passes after it started); SENT counts them.
listening "$NC" "$WORK/a.log"
mkfifo "$WORK/feed"
nc -N 127.0.0.1 "$NC" <"$WORK/feed" &
FEEDER=$!; PIDS+=($FEEDER)
exec 3>"$WORK/feed"
SENT=0
# feed_until SECONDS PID...: sends numbered lines until the PIDs exited.
feed_until() {
  local deadline=$((SECONDS + $1)); shift
  while :; do
    local alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    ((SECONDS < deadline)) || return 1
    seq -f "line-%06g" $((SENT + 1)) $((SENT + 200)) >&3
    SENT=$((SENT + 200))
    sleep 0.05
  done
}
"$FLUMEN" tap "127.0.0.1:$HTTP" r1 --limit 5 >"$WORK/r1.out" 2>"$WORK/r1.err" &
T1=$!; PIDS+=($T1)
"$FLUMEN" tap "127.0.0.1:$HTTP" sinks.k1 --limit 6 >"$WORK/k1.out" 2>"$WORK/k1.err" &
T2=$!; PIDS+=($T2)
"$FLUMEN" tap "127.0.0.1:$HTTP" c1 --limit 3 >"$WORK/c1.out" 2>"$WORK/c1.err" &
T3=$!; PIDS+=($T3)
feed_until 30 "$T1" "$T2" "$T3" || fail "the taps did not end: $(cat "$WORK"/*.err)"
wait "$T1" || fail "tap r1 exited $?: $(cat "$WORK/r1.err")"
wait "$T2" || fail "tap k1 exited $?: $(cat "$WORK/k1.err")"
wait "$T3" || fail "tap c1 exited $?: $(cat "$WORK/c1.err")"
cat "$WORK/r1.out" "$WORK/k1.out" "$WORK/c1.out"
# The source's events carry the interceptor's header; the sink's name the
# replica that took them.
[[ $(wc -l <"$WORK/r1.out") == 5 ]] || fail "r1: $(cat "$WORK/r1.out")"
grep -Evq '^r1 \{env=test\} "line-[0-9]{6}"$' "$WORK/r1.out" && fail "r1 lines: $(cat "$WORK/r1.out")"
[[ $(wc -l <"$WORK/k1.out") == 6 ]] || fail "k1: $(cat "$WORK/k1.out")"
grep -Evq '^k1#[12] \{env=test\} "line-[0-9]{6}"$' "$WORK/k1.out" && fail "k1 lines: $(cat "$WORK/k1.out")"
[[ $(wc -l <"$WORK/c1.out") == 3 ]] || fail "c1: $(cat "$WORK/c1.out")"
grep -Evq '^c1 \{env=test\} "line-[0-9]{6}"$' "$WORK/c1.out" && fail "c1 lines: $(cat "$WORK/c1.out")"
# In the order they passed: consecutive lines of one connection.
first=$(head -n1 "$WORK/r1.out" | sed 's/.*line-0*\([0-9]*\)"/\1/')
expected=$(seq -f 'r1 {env=test} "line-%06g"' "$first" $((first + 4)))
[[ $(cat "$WORK/r1.out") == "$expected" ]] || fail "r1 not in order: $(cat "$WORK/r1.out")"

# Every line sent so far passed (a tap started now sees only new ones).
counters() {
  curl -s --max-time 2 "http://127.0.0.1:$HTTP/stats.json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
received = sum(c["counters"]["events_received"] for c in d["components"] if c["name"] == "r1")
committed = sum(c["counters"]["events_committed"] for c in d["components"] if c["name"].startswith("k1#"))
print(received, committed)'
}
all_in() { [[ $(counters) == "$SENT $SENT" ]]; }
wait_for 30 all_in || fail "sent $SENT, received and committed: $(counters)"

# A long line with a tab and a byte that is not UTF-8: escaped, cut at 200
# bytes with a marker.
"$FLUMEN" tap "127.0.0.1:$HTTP" r1 --limit 1 >"$WORK/long.out" 2>"$WORK/long.err" &
T4=$!; PIDS+=($T4)
deadline=$((SECONDS + 30))
while kill -0 "$T4" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "the long-line tap did not end"
  printf 'a\tb\377%0300d\n' 0 >&3
  SENT=$((SENT + 1))
  sleep 0.05
done
wait "$T4" || fail "tap exited $?: $(cat "$WORK/long.err")"
cat "$WORK/long.out"
grep -q "^r1 {env=test} \"a\\\\tb\\\\xff$(printf '%0196d' 0)\"...(+104 bytes)$" "$WORK/long.out" || fail "long line: $(cat "$WORK/long.out")"

# A tap whose client stops reading (its output is a pipe nobody reads) does
# not hold the pipeline back: its queue fills, the rest is missed, and
# 40,000 lines of 200 bytes (more than the socket buffers between them
# hold) are delivered meanwhile. Once the client goes, the tap ends.
tappers() {
  curl -s --max-time 2 "http://127.0.0.1:$HTTP/stats.json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(next(c["tappers"] for c in d["components"] if c["name"] == "r1"))'
}
mkfifo "$WORK/stall"
exec 4<>"$WORK/stall" # a reader that never reads
"$FLUMEN" tap "127.0.0.1:$HTTP" r1 --limit 100000 >"$WORK/stall" 2>/dev/null &
STALLED=$!; PIDS+=($STALLED)
tapped() { [[ $(tappers) == 1 ]]; }
wait_for 10 tapped || fail "the tap did not start"
seq -f "%0200g" 1 40000 >&3
SENT=$((SENT + 40000))
wait_for 60 all_in || fail "a stalled tap held the pipeline: sent $SENT, received and committed: $(counters)"
kill -0 "$STALLED" || fail "the stalled tap ended early"
[[ $(tappers) == 1 ]] || fail "the stalled tap is not tapping"
kill "$STALLED"; wait "$STALLED" 2>/dev/null || true
exec 4>&-
untapped() { [[ $(tappers) == 0 ]]; }
wait_for 10 untapped || fail "the tap of a client that went away goes on"

# What does not exist, clearly.
"$FLUMEN" tap "127.0.0.1:$HTTP" nope --limit 1 >/dev/null 2>"$WORK/err" && fail "tapping an unknown component succeeded"
grep -q "answered 404: no component 'nope' in agent a1; there are: channels.c1, sinks.k1, sources.r1" "$WORK/err" || fail "$(cat "$WORK/err")"
"$FLUMEN" tap "127.0.0.1:$DEAD" r1 >/dev/null 2>"$WORK/err" && fail "tapping a dead port succeeded"
grep -q "cannot reach the agent at 127.0.0.1:$DEAD" "$WORK/err" || fail "$(cat "$WORK/err")"

# Every line sent was delivered, taps or not: the source received them all
# and the sink's replicas committed them all.
exec 3>&-
wait "$FEEDER" || true
wait_for 30 all_in || fail "sent $SENT, received and committed: $(counters)"
kill -TERM "$AGENT"
wait "$AGENT" || fail "the agent exited with $?: $(tail -5 "$WORK/a.log")"
grep -q "every accepted event delivered" "$WORK/a.log" || fail "$(tail -5 "$WORK/a.log")"
echo "sent $SENT lines, all delivered while tapped"
echo "1 passed, 0 failed"
