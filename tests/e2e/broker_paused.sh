#!/usr/bin/env bash
# `flumen broker` is frozen (SIGSTOP) for 10 s while nc streams lines into an
# agent, then resumed (SIGCONT): every line is in the topic afterwards.
source "$(dirname "$0")/common.sh"
LINES=100000
start_broker --topic logs:16
BROKER=${PIDS[0]}
PORT=$(free_port)
NETCAT_PORT=$PORT KAFKA=$BOOTSTRAP "$FLUMEN" run "$ROOT/topologies/netcat_kafka.yaml" \
  --stats-interval 1 2>"$WORK/agent.log" &
AGENT=$!
PIDS+=($AGENT)
wait_for 20 nc -z 127.0.0.1 "$PORT" || fail "agent not listening: $(cat "$WORK/agent.log")"
# A client that writes slowly enough to be mid-stream during the pause.
(for i in $(seq 1 $LINES); do echo "$i"; ((i % 5000 == 0)) && sleep 0.5; done) \
  | nc -N 127.0.0.1 "$PORT" &
CLIENT=$!
has_some() { [[ $(topic_count logs) -ge 5000 ]]; }
wait_for 30 has_some || fail "nothing arrived before the pause"
kill -STOP "$BROKER"
sleep 10 # the fault itself: the broker is frozen for 10 s
kill -CONT "$BROKER"
wait "$CLIENT" || fail "client failed"
has_all() { [[ $(topic_bodies logs | sort -un | wc -l) -ge $LINES ]]; }
wait_for 120 has_all || fail "only $(topic_bodies logs | sort -un | wc -l) of $LINES lines"
kill -TERM "$AGENT"
wait "$AGENT" || fail "agent exited with $?: $(tail -5 "$WORK/agent.log")"
topic_bodies logs | sort -n | uniq >"$WORK/got"
seq 1 $LINES | diff -q - "$WORK/got" >/dev/null || fail "lines lost"
echo "duplicates: $(($(topic_count logs) - LINES))"
echo "1 passed, 0 failed"
