#!/usr/bin/env bash
# Signals do what people expect:
# - SIGHUP (systemctl reload) reloads the file: unchanged, everything keeps
#   running (reload itself: reload.sh);
# - with the brokers frozen, SIGTERM ends the agent within
#   --shutdown-timeout (plus process exit), and the final line names what
#   was not delivered (exit code 3);
# - a second signal ends the process at once.
source "$(dirname "$0")/common.sh"
start_broker --topic logs:4
BROKER=${PIDS[0]}
trap 'kill -CONT "$BROKER" 2>/dev/null || true; cleanup' EXIT

start_agent() { # $1: log file, rest: flags
  local log=$1; shift
  PORT=$(free_port)
  NETCAT_PORT=$PORT KAFKA=$BOOTSTRAP "$FLUMEN" run "$ROOT/topologies/netcat_kafka.yaml" \
    "$@" 2>"$log" &
  AGENT=$!
  PIDS+=($AGENT)
  wait_for 20 nc -z 127.0.0.1 "$PORT" || fail "agent not listening: $(cat "$log")"
}
gone() { ! kill -0 "$AGENT" 2>/dev/null || [[ $(ps -o stat= -p "$AGENT") == Z* ]]; }

# 1. SIGHUP with the file unchanged: a reload that keeps everything running;
#    the agent goes on delivering.
start_agent "$WORK/hup.log"
seq 1 1000 | nc -N 127.0.0.1 "$PORT"
kill -HUP "$AGENT"
logged() { grep -q "SIGHUP received" "$WORK/hup.log" && grep -q "reloaded .*: kept 3 running$" "$WORK/hup.log"; }
wait_for 10 logged || fail "SIGHUP not logged as a reload that kept all: $(tail -3 "$WORK/hup.log")"
seq 1001 2000 | nc -N 127.0.0.1 "$PORT"
all() { [[ $(topic_count logs) -ge 2000 ]]; }
wait_for 30 all || fail "after SIGHUP only $(topic_count logs) of 2000 lines"
kill -0 "$AGENT" || fail "SIGHUP ended the agent"
kill -TERM "$AGENT"
wait "$AGENT" || fail "exit $?: $(tail -3 "$WORK/hup.log")"

# 2. Brokers frozen: the stop fits --shutdown-timeout 2s, and says what is
#    left.
start_agent "$WORK/frozen.log" --shutdown-timeout 2s
kill -STOP "$BROKER"
seq 1 5000 | nc -N 127.0.0.1 "$PORT"
kill -TERM "$AGENT"
start=$SECONDS
wait_for 6 gone || fail "agent still running $((SECONDS - start)) s after SIGTERM (timeout 2s)"
code=0
wait "$AGENT" || code=$?
((code == 3)) || fail "exit code $code, expected 3: $(tail -3 "$WORK/frozen.log")"
grep -q "every accepted event delivered" "$WORK/frozen.log" && fail "claims a clean stop"
grep -q "not delivered: [1-9][0-9]* left in channels" "$WORK/frozen.log" \
  || fail "final line: $(tail -1 "$WORK/frozen.log")"

# 3. A second signal ends the process at once, whatever the timeout.
start_agent "$WORK/twice.log" --shutdown-timeout 5m
seq 1 5000 | nc -N 127.0.0.1 "$PORT"
kill -TERM "$AGENT"
stopping() { grep -q "SIGTERM received, stopping" "$WORK/twice.log"; }
wait_for 10 stopping || fail "first SIGTERM not seen"
kill -TERM "$AGENT"
start=$SECONDS
wait_for 3 gone || fail "a second SIGTERM did not end the agent"
code=0
wait "$AGENT" || code=$?
((code == 130)) || fail "exit code $code after a second signal, expected 130"
kill -CONT "$BROKER"
echo "1 passed, 0 failed"
