#!/usr/bin/env bash
# nc writes lines to an agent's netcat source; the agent (a separate
# process) sends them to `flumen broker`; kcat reads every one back; SIGTERM
# stops the agent cleanly.
source "$(dirname "$0")/common.sh"
LINES=50000
start_broker --topic logs:16
PORT=$(free_port)
NETCAT_PORT=$PORT KAFKA=$BOOTSTRAP "$FLUMEN" run "$ROOT/topologies/netcat_kafka.yaml" \
  2>"$WORK/agent.log" &
AGENT=$!
PIDS+=($AGENT)
wait_for 20 nc -z 127.0.0.1 "$PORT" || fail "agent not listening: $(cat "$WORK/agent.log")"
# Two clients at once.
seq 1 $((LINES / 2)) | nc -N 127.0.0.1 "$PORT" &
FIRST=$!
seq $((LINES / 2 + 1)) $LINES | nc -N 127.0.0.1 "$PORT"
wait "$FIRST"
has_all() { [[ $(topic_count logs) -ge $LINES ]]; }
wait_for 60 has_all || fail "only $(topic_count logs) of $LINES lines in Kafka"
kill -TERM "$AGENT"
wait "$AGENT" || fail "agent exited with $? after SIGTERM: $(tail -5 "$WORK/agent.log")"
grep -q "stopped, every accepted event delivered" "$WORK/agent.log" \
  || fail "no clean stop in the log: $(tail -5 "$WORK/agent.log")"
topic_bodies logs | sort -n | uniq >"$WORK/got"
seq 1 $LINES >"$WORK/want"
diff -q "$WORK/want" "$WORK/got" >/dev/null || fail "lines lost: $(diff "$WORK/want" "$WORK/got" | head -5)"
# Headers made it too: every record has a timestamp header.
kcat -C -b "$BOOTSTRAP" -t logs -e -q -c 5 -f '%h\n' | matches '^timestamp=' \
  || fail "timestamp header missing"
echo "1 passed, 0 failed"
