#!/usr/bin/env bash
# `flumen top` in a real terminal (tmux): the table shows every component
# with non-zero rates, 'q' ends it and the terminal is as it was (canonical
# mode and echo back on), Ctrl-C too; a stopped agent shows as unreachable
# while top keeps trying; SIGTERM ends it as cleanly. Without a terminal it prints
# plain frames (`--frames`); an agent that cannot be reached exits 1.
source "$(dirname "$0")/common.sh"
command -v tmux >/dev/null || fail "tmux is missing (./flumen.sh installs it)"
HTTP=$(free_port); DEAD=$(free_port)
cat >"$WORK/a.yaml" <<YAML
agents:
  a1:
    http: {port: $HTTP}
    sources:
      r1: {type: seq, rate: 5000, channels: [c1]}
    channels:
      c1: {type: memory, capacity: 100000}
    sinks:
      k1: {type: "null", channel: c1}
YAML
"$FLUMEN" run "$WORK/a.yaml" >"$WORK/a.log" 2>&1 &
AGENT=$!; PIDS+=($AGENT)
wait_for 20 grep -q "HTTP on 127.0.0.1:$HTTP" "$WORK/a.log" || fail "no HTTP: $(cat "$WORK/a.log")"

# No terminal: plain frames, a blank line between them, no escapes.
"$FLUMEN" top "127.0.0.1:$HTTP" --frames 2 --interval 300ms >"$WORK/plain" 2>&1 || fail "top --frames: $(cat "$WORK/plain")"
cat "$WORK/plain"
[[ $(grep -c '^flumen top - agent a1 at 127.0.0.1:'"$HTTP" "$WORK/plain") == 2 ]] || fail "two frames expected"
[[ $(grep -c '^$' "$WORK/plain") == 3 ]] || fail "frames not separated by one blank line"
grep -q $'\x1b' "$WORK/plain" && fail "escape codes without a terminal"
grep -q "q quits" "$WORK/plain" && fail "'q quits' without a terminal"
# The second frame has rates.
tail -n 4 "$WORK/plain" | awk '$5 == "-" {bad = 1} END {exit bad}' || fail "no rates in the second frame"

# An agent that cannot be reached: a clear message, exit 1.
"$FLUMEN" top "127.0.0.1:$DEAD" --frames 1 >/dev/null 2>"$WORK/err" && fail "top of a dead port succeeded"
grep -q "flumen top: cannot reach the agent at 127.0.0.1:$DEAD" "$WORK/err" || fail "$(cat "$WORK/err")"

# A terminal of 160x40 in a tmux server of our own.
SOCK="flumen-top-test-$$"
T() { tmux -L "$SOCK" "$@"; }
trap 'T kill-server 2>/dev/null || true; cleanup' EXIT
T new-session -d -s top -x 160 -y 40 "env PS1='$ ' bash --norc --noprofile"
screen() { T capture-pane -p -t top; }
# After top, the shell prints top's exit code and the terminal's modes.
run_top() {
  T send-keys -t top "'$FLUMEN' top 127.0.0.1:$HTTP --interval 500ms; echo top-exit=\$?; stty -a | tr ' ;' '\n\n' | grep -x -e -icanon -e icanon -e -echo -e echo | tr '\n' ' '; echo" Enter
}
# Every component's row with rates in and out that are not 0 or "-".
flowing() {
  screen | awk '
    ($1 == "source" && $2 == "r1") || ($1 == "channel" && $2 == "c1") ||
    ($1 == "sink" && $2 == "k1") {
      if ($4 == "running" && $5 != "-" && $5 != "0" && $6 != "-" && $6 != "0") n++
    }
    END { exit n == 3 ? 0 : 1 }'
}
run_top
wait_for 20 flowing || fail "no rates on the screen: $(screen)"
screen >"$WORK/screen"
echo "--- the screen:"; cat "$WORK/screen"; echo "---"
grep -q "flumen top - agent a1 at 127.0.0.1:$HTTP - up .* - RSS .* MiB - 3 components - q quits" "$WORK/screen" || fail "header: $(head -n1 "$WORK/screen")"
grep -q "^channel  *c1  *memory  *running .*\[.*\] *[0-9]*%" "$WORK/screen" || fail "no fill bar"
T send-keys -t top q
exited() { screen | matches "top-exit=0"; }
wait_for 10 exited || fail "q did not end top: $(screen)"
restored() { screen | matches "^icanon echo *$"; }
wait_for 5 restored || fail "terminal not restored after q: $(screen)"
T send-keys -t top "clear" Enter
wait_for 5 eval '! screen | matches top-exit'

# Ctrl-C (SIGINT from the terminal) ends it the same way.
run_top
wait_for 20 flowing || fail "no rates on the screen: $(screen)"
T send-keys -t top C-c
wait_for 10 exited || fail "Ctrl-C did not end top: $(screen)"
wait_for 5 restored || fail "terminal not restored after Ctrl-C: $(screen)"
T send-keys -t top "clear" Enter
wait_for 5 eval '! screen | matches top-exit'

# The agent stops: top keeps trying and says since when; SIGTERM ends it,
# restoring the terminal too.
run_top
wait_for 20 flowing || fail "no rates on the screen: $(screen)"
top_pid() { ps -o pid= --ppid "$(T list-panes -t top -F '#{pane_pid}')" | tr -d ' '; }
TOP=$(top_pid)
[[ -n $TOP ]] || fail "no top process"
kill -TERM "$AGENT"; wait "$AGENT" || true
unreachable() { screen | matches "UNREACHABLE since [0-9:]*, retrying"; }
wait_for 10 unreachable || fail "a stopped agent is not shown unreachable: $(screen)"
kill -0 "$TOP" || fail "top ended when the agent went away"
kill -TERM "$TOP"
wait_for 10 exited || fail "SIGTERM did not end top: $(screen)"
wait_for 5 restored || fail "terminal not restored after SIGTERM: $(screen)"
kill -0 "$TOP" 2>/dev/null && fail "top is still running"
T kill-server
echo "1 passed, 0 failed"
