#!/usr/bin/env bash
# Restart intensity as a user meets it: a netcat source whose port is taken
# fails, is restarted with backoff, and past max_restarts is marked failed;
# on_component_failure decides whether the agent exits (code 4) or goes on.
source "$(dirname "$0")/common.sh"
PORT=$(free_port)
cat >"$WORK/holder.yaml" <<YAML
agents:
  holder:
    sources: {tcp: {type: netcat, port: $PORT, channels: [c]}}
    channels: {c: {type: memory}}
    sinks: {k: {type: "null", channel: c}}
YAML
"$FLUMEN" run "$WORK/holder.yaml" 2>"$WORK/holder.log" &
PIDS+=($!)
wait_for 20 nc -z 127.0.0.1 "$PORT" || fail "holder not listening"
topology() { # $1: on_component_failure
  cat <<YAML
agents:
  a1:
    supervision:
      max_restarts: 2
      restart_window: 1m
      on_component_failure: $1
    sources: {tcp: {type: netcat, port: $PORT, channels: [c]}}
    channels: {c: {type: memory}}
    sinks: {k: {type: "null", channel: c}}
YAML
}
topology exit >"$WORK/exit.yaml"
set +e
timeout 30 "$FLUMEN" run "$WORK/exit.yaml" 2>"$WORK/exit.log"
code=$?
set -e
[[ $code -eq 4 ]] || fail "expected exit code 4, got $code: $(tail -5 "$WORK/exit.log")"
grep -q "a1.sources.tcp: down .*restarting in 100 ms" "$WORK/exit.log" || fail "no first restart"
grep -q "a1.sources.tcp: down .*restarting in 200 ms" "$WORK/exit.log" || fail "no backoff"
grep -q "a1.sources.tcp: .*failed 3 times in a row" "$WORK/exit.log" || fail "not marked failed"
grep -q "a1.sources.tcp state=failed .*restarts=2" "$WORK/exit.log" || fail "summary: $(cat "$WORK/exit.log")"
topology keep_running >"$WORK/keep.yaml"
"$FLUMEN" run "$WORK/keep.yaml" 2>"$WORK/keep.log" &
KEEP=$!
PIDS+=($KEEP)
failed() { grep -q "not restarting it again" "$WORK/keep.log"; }
wait_for 20 failed || fail "keep_running: never failed"
kill -0 "$KEEP" || fail "keep_running: the agent exited"
kill -TERM "$KEEP"
wait "$KEEP" || fail "keep_running: exit code $?"
echo "1 passed, 0 failed"
