#!/usr/bin/env bash
# SIGTERM while nc is still streaming into an agent's netcat source: the
# agent stops reading, drains what it accepted into Kafka within
# --shutdown-timeout and exits 0; every line its source accepted (the exit
# log's `accepted=N`) is in the topic, and the lines there are exactly
# 1..K, K >= N, with no gaps (one client sends 1..LINES in order).
source "$(dirname "$0")/common.sh"
LINES=10000000  # far more than gets through before the signal
BEFORE=100000   # lines in Kafka before the signal is sent
TIMEOUT=10      # --shutdown-timeout
MARGIN=3        # seconds allowed on top of it (process exit, SECONDS' 1 s grain)
PARTS=16
start_broker --topic logs:$PARTS
PORT=$(free_port)
NETCAT_PORT=$PORT KAFKA=$BOOTSTRAP "$FLUMEN" run "$ROOT/topologies/netcat_kafka.yaml" \
  --shutdown-timeout "$TIMEOUT" 2>"$WORK/agent.log" &
AGENT=$!
PIDS+=($AGENT)
wait_for 20 nc -z 127.0.0.1 "$PORT" || fail "agent not listening: $(cat "$WORK/agent.log")"
# No -N: nc keeps the connection until the agent closes it, then exits.
seq 1 $LINES | nc 127.0.0.1 "$PORT" 2>/dev/null &
CLIENT=$!
PIDS+=($CLIENT)
# Records in the topic: its end offsets summed. topic_count reads every
# record back and is ~3x slower than the pipeline writes, so waiting on it
# would send the signal only after a million lines or more, past what the
# embedded cluster keeps (~5 MiB, ~130,000 of these records, per partition).
watermarks() { # $1: -1 (end offsets) or -2 (start offsets)
  local args=()
  for p in $(seq 0 $((PARTS - 1))); do args+=(-t "logs:$p:$1"); done
  kcat -Q -b "$BOOTSTRAP" "${args[@]}" 2>/dev/null | awk '{ s += $NF } END { print s + 0 }'
}
has_some() { [[ $(watermarks -1) -ge $BEFORE ]]; }
wait_for 60 has_some || fail "only $(watermarks -1) lines in Kafka before the signal"
# Exited (a zombie until bash reaps it, or already reaped).
agent_gone() {
  ! kill -0 "$AGENT" 2>/dev/null || [[ $(ps -o stat= -p "$AGENT" 2>/dev/null) == Z* ]]
}
kill -TERM "$AGENT"
start=$SECONDS
wait_for $((TIMEOUT + MARGIN)) agent_gone \
  || fail "agent still running $((SECONDS - start)) s after SIGTERM: $(tail -5 "$WORK/agent.log")"
elapsed=$((SECONDS - start))
code=0
wait "$AGENT" || code=$?
((code == 0)) || fail "agent exited with $code after SIGTERM: $(tail -5 "$WORK/agent.log")"
grep -q "stopped, every accepted event delivered" "$WORK/agent.log" \
  || fail "no clean stop in the log: $(tail -5 "$WORK/agent.log")"
# The agent closed the connection; the client goes down with it.
wait_for 10 bash -c "! kill -0 $CLIENT 2>/dev/null" || fail "client still running"
ACCEPTED=$(grep -o 'edge\.sources\.tcp state=[a-z_]* .*' "$WORK/agent.log" | tail -1 \
  | grep -o ' accepted=[0-9]*' | cut -d= -f2)
[[ -n $ACCEPTED ]] || fail "no accepted count in the exit log: $(tail -5 "$WORK/agent.log")"
((ACCEPTED >= BEFORE)) || fail "accepted=$ACCEPTED, fewer than the $BEFORE lines seen in Kafka"
((ACCEPTED < LINES)) || fail "the client had sent everything before the signal; raise LINES"
topic_bodies logs >"$WORK/all"
TOTAL=$(wc -l <"$WORK/all")
sort -n -u "$WORK/all" >"$WORK/distinct"
DISTINCT=$(wc -l <"$WORK/distinct")
# Sorted distinct lines are 1..K exactly when line i holds i.
gap=$(awk 'NR != $0 { print "line " NR " is \"" $0 "\""; exit }' "$WORK/distinct")
[[ -z $gap ]] || fail "not exactly 1..$DISTINCT in Kafka: $gap" \
  "(records dropped by the cluster's retention: $(watermarks -2))"
((DISTINCT >= ACCEPTED)) || fail "accepted=$ACCEPTED but only 1..$DISTINCT in Kafka"
echo "SIGTERM after $BEFORE+ lines in Kafka: exit 0 in ${elapsed}s (timeout ${TIMEOUT}s);" \
  "accepted=$ACCEPTED, in Kafka 1..$DISTINCT, duplicates: $((TOTAL - DISTINCT))"
echo "1 passed, 0 failed"
