#!/usr/bin/env bash
# SIGTERM to an agent running an exec source: flumen blocks SIGTERM in its
# threads and ignores SIGPIPE, which a child must not inherit. The agent
# exits within a few seconds, the line the command printed is delivered, and
# nothing of the command's process group survives.
source "$(dirname "$0")/common.sh"
mkdir -p "$WORK/out"
cat >"$WORK/exec.yaml" <<YAML
agents:
  a1:
    sources:
      cmd:
        type: exec
        # A background sleep and the shell turned sleep: a group of two.
        command: "sleep 1000 & echo started; exec sleep 1000"
        stop_timeout: 2s
        channels: [c]
    channels: {c: {type: memory}}
    sinks:
      files: {type: file_roll, channel: c, directory: "$WORK/out", format: line}
YAML
"$FLUMEN" run "$WORK/exec.yaml" 2>"$WORK/flumen.log" &
AGENT=$!
PIDS+=($AGENT)
# On a failure, flumen may be the hang under test and the group may have
# outlived it: SIGKILL both, by id, before common.sh's cleanup.
PASSED=
on_exit() {
  if [[ -z $PASSED ]]; then
    kill -KILL "$AGENT" 2>/dev/null || true
    [[ -z ${PGID:-} ]] || kill -KILL -- "-$PGID" 2>/dev/null || true
  fi
  cleanup
}
trap on_exit EXIT
# The command is flumen's only child, and leads its own process group.
child() { CHILD=$(pgrep -P "$AGENT" | head -n1) && [[ -n $CHILD ]]; }
wait_for 20 child || fail "no child of flumen: $(cat "$WORK/flumen.log")"
wait_for 5 grep -q "a1.sources.cmd: started .*(pid $CHILD)" "$WORK/flumen.log" \
  || fail "child $CHILD is not the command: $(cat "$WORK/flumen.log")"
PGID=$(ps -o pgid= -p "$CHILD" | tr -d ' ')
[[ $PGID == "$CHILD" ]] || fail "child $CHILD is in group $PGID, not its own"
# Processes of the group that still run (zombies don't: an orphan's may
# stay where PID 1 does not reap).
running() { ps -e -o pgid=,stat= | awk -v g="$PGID" '$1 == g && $2 !~ /^Z/' | wc -l; }
two() { [[ $(running) -eq 2 ]]; }
wait_for 10 two || fail "expected the shell and its sleep in group $PGID: $(ps -e -o pid=,pgid=,stat=,args= | awk -v g="$PGID" '$2 == g')"
# Gone, or a zombie until the `wait` below reaps it.
agent_ended() {
  [[ ! -e /proc/$AGENT ]] || [[ $(awk '{print $3}' "/proc/$AGENT/stat" 2>/dev/null) == Z ]]
}
kill -TERM "$AGENT"
wait_for 8 agent_ended || fail "flumen still runs 8 s after SIGTERM: $(tail -5 "$WORK/flumen.log")"
set +e
wait "$AGENT"
code=$?
set -e
[[ $code -eq 0 ]] || fail "flumen exited with $code: $(tail -5 "$WORK/flumen.log")"
[[ $(running) -eq 0 ]] || fail "group $PGID survived: $(ps -e -o pid=,pgid=,stat=,args= | awk -v g="$PGID" '$2 == g')"
grep -q "a1.sources.cmd: stopping .*SIGTERM to process group $PGID" "$WORK/flumen.log" \
  || fail "no SIGTERM to the group: $(cat "$WORK/flumen.log")"
! grep -q "SIGKILL" "$WORK/flumen.log" || fail "SIGTERM was not enough: $(cat "$WORK/flumen.log")"
[[ $(cat "$WORK"/out/*) == started ]] || fail "output: $(cat "$WORK"/out/* 2>&1)"

# A second SIGTERM ends flumen at once (exit 130), and the command's group
# with it, even one that ignores SIGTERM and would outlast stop_timeout.
cat >"$WORK/stubborn.yaml" <<YAML
agents:
  a1:
    sources:
      cmd:
        type: exec
        command: "trap '' TERM; echo started; while :; do sleep 0.1; done"
        stop_timeout: 5m
        channels: [c]
    channels: {c: {type: memory}}
    sinks:
      files: {type: "null", channel: c}
YAML
"$FLUMEN" run "$WORK/stubborn.yaml" --shutdown-timeout 10m 2>"$WORK/stubborn.log" &
AGENT=$!
PIDS+=($AGENT)
wait_for 20 child || fail "no child of flumen: $(cat "$WORK/stubborn.log")"
PGID=$(ps -o pgid= -p "$CHILD" | tr -d ' ')
kill -TERM "$AGENT"
wait_for 10 grep -q "SIGTERM to process group $PGID" "$WORK/stubborn.log" \
  || fail "the stop did not reach the group: $(tail -5 "$WORK/stubborn.log")"
kill -TERM "$AGENT"
wait_for 3 agent_ended || fail "a second SIGTERM did not end flumen"
set +e
wait "$AGENT"
code=$?
set -e
[[ $code -eq 130 ]] || fail "exit code $code after a second SIGTERM, expected 130"
none() { [[ $(running) -eq 0 ]]; }
wait_for 3 none || fail "group $PGID outlived flumen's exit: $(ps -e -o pid=,pgid=,stat=,args= | awk -v g="$PGID" '$2 == g')"
PASSED=1
echo "1 passed, 0 failed"
