#!/usr/bin/env bash
# An agent out of file descriptors: its RLIMIT_NOFILE is lowered (prlimit)
# to a few more than it uses, then more clients connect and stay than it has
# descriptors for. accept fails with EMFILE; the source must back off, not
# spin (its CPU time over a few seconds stays low), count the failures,
# log them once, and serve the waiting clients once descriptors free up:
# every line they wrote arrives.
source "$(dirname "$0")/common.sh"
SPARE=10     # descriptors left to the agent for clients
HELD=40      # clients that connect and stay; the rest of them wait
WINDOW=3     # seconds of CPU time measured while accept fails
MAX_CPU=0.5  # seconds of CPU allowed in that window (a spin takes ~WINDOW)
cat >"$WORK/topology.yaml" <<EOF
agents:
  a1:
    sources:
      r1:
        type: netcat
        port: 0
        channels: [c1]
    channels:
      c1:
        type: memory
    sinks:
      k1:
        type: "null"
        channel: c1
EOF
"$FLUMEN" run "$WORK/topology.yaml" --stats-interval 0.5 2>"$WORK/agent.log" &
AGENT=$!
PIDS+=("$AGENT")
listening() { grep -q 'listening on 127\.0\.0\.1:[1-9]' "$WORK/agent.log" 2>/dev/null; }
wait_for 20 listening || fail "agent not listening: $(cat "$WORK/agent.log")"
PORT=$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$WORK/agent.log" | head -1 | cut -d: -f2)
# The agent's own descriptors, and a soft limit SPARE above them.
open_fds=$(find "/proc/$AGENT/fd" -mindepth 1 | wc -l)
hard=$(prlimit --pid "$AGENT" --nofile --output HARD --raw --noheadings)
prlimit --pid "$AGENT" --nofile=$((open_fds + SPARE)):"$hard" \
  || fail "cannot lower the agent's RLIMIT_NOFILE"
# HELD connections from this shell: the first ~SPARE are accepted, the
# others wait in the listen backlog.
fds=()
for ((i = 0; i < HELD; i++)); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || fail "client $i could not connect"
  fds+=("$fd")
done
failures() {
  grep -o 'a1\.sources\.r1 state=.*' "$WORK/agent.log" | tail -1 \
    | grep -o ' connection_failures=[0-9]*' | cut -d= -f2 | grep . || echo 0
}
some_failed() { (($(failures) > 0)); }
wait_for 10 some_failed || fail "no failed accept counted: $(tail -3 "$WORK/agent.log")"
# CPU time (user + system, clock ticks) of the agent over WINDOW seconds while
# clients wait and accept keeps failing.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$AGENT/stat"; }
before=$(cpu_ticks)
sleep "$WINDOW" # the measured interval itself, not a wait for a condition
after=$(cpu_ticks)
cpu=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')
awk -v c="$cpu" -v m="$MAX_CPU" 'BEGIN { exit !(c <= m) }' \
  || fail "the agent used ${cpu}s of CPU in ${WINDOW}s while out of descriptors (spinning)"
warnings=$(grep -c 'cannot accept a client' "$WORK/agent.log" || true)
((warnings == 1)) || fail "$warnings warnings about failed accepts, expected one per burst"
# Every client writes a line and closes: descriptors free up, the waiting
# clients are accepted in turn, and every line arrives.
for ((i = 0; i < HELD; i++)); do
  fd=${fds[i]}
  printf 'held-%d\n' "$i" >&"$fd"
  exec {fd}>&-
done
committed() {
  grep -o 'a1\.sinks\.k1 state=.*' "$WORK/agent.log" | tail -1 \
    | grep -o ' committed=[0-9]*' | cut -d= -f2 | grep . || echo 0
}
all_arrived() { (($(committed) == HELD)); }
wait_for 20 all_arrived || fail "only $(committed) of $HELD lines arrived: $(tail -3 "$WORK/agent.log")"
grep -q 'accepting clients again' "$WORK/agent.log" || fail "no recovery logged"
kill -TERM "$AGENT"
code=0
wait "$AGENT" || code=$?
((code == 0)) || fail "agent exited with $code: $(tail -5 "$WORK/agent.log")"
echo "out of descriptors: $(failures) failed accepts, ${cpu}s CPU in ${WINDOW}s," \
  "all $HELD lines arrived after descriptors freed up"
echo "1 passed, 0 failed"
