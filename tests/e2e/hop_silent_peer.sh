#!/usr/bin/env bash
# A hop sink whose peer accepts connections and never speaks (nc -l): the
# connect times out (connect_timeout), is tried again, nothing hangs: the
# agent keeps taking lines, its counters keep coming, and SIGTERM stops it
# within its shutdown timeout, counting what it could not deliver.
source "$(dirname "$0")/common.sh"
SILENT=$(free_port); NC=$(free_port)
nc -l -k 127.0.0.1 "$SILENT" >/dev/null &
PIDS+=($!)
wait_for 10 nc -z 127.0.0.1 "$SILENT" || fail "silent listener did not start"
cat >"$WORK/silent.yaml" <<YAML
agents:
  a1:
    sources:
      r1: {type: netcat, port: $NC, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $SILENT, connect_timeout: 1s}
YAML
"$FLUMEN" run "$WORK/silent.yaml" --stats-interval 200ms --shutdown-timeout 3s >"$WORK/a1.log" 2>&1 &
AGENT=$!; PIDS+=($AGENT)
wait_for 20 nc -z 127.0.0.1 "$NC" || fail "agent not listening"
seq 1 100 | nc -N 127.0.0.1 "$NC"
timed_out() { grep -q "a1.sinks.h1: 127.0.0.1:$SILENT: cannot connect: .*\(request_timeout\|connection_timeout\)" "$WORK/a1.log"; }
wait_for 20 timed_out || fail "no connect timeout logged: $(tail -3 "$WORK/a1.log")"
accepted() { grep "a1.sources.r1 state" "$WORK/a1.log" | tail -1 | matches "accepted=100"; }
wait_for 10 accepted || fail "the source did not accept the lines"
grep "a1.sinks.h1 state" "$WORK/a1.log" | tail -1 | matches "state=connecting" \
  || fail "sink not connecting: $(grep 'a1.sinks.h1 state' "$WORK/a1.log" | tail -1)"
start=$SECONDS
kill -TERM "$AGENT"
code=0; wait "$AGENT" || code=$?
((SECONDS - start <= 6)) || fail "the stop took $((SECONDS - start)) s"
grep -q "not delivered: 100 left in channels" "$WORK/a1.log" || fail "the loss is not counted: $(tail -2 "$WORK/a1.log")"
echo "silent peer: connect timed out and retried; stop in $((SECONDS - start)) s (exit $code), 100 undelivered counted"
echo "1 passed, 0 failed"
