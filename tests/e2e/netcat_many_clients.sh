#!/usr/bin/env bash
# CLIENTS clients at once each write LINES lines to an agent's netcat source
# and close. The source serves fewer clients at a time (max_connections) than
# there are, so most wait in the listen backlog: every line must still reach
# the file_roll sink's files, exactly once. Meanwhile another client sends one
# BIG_LINE-byte line with no newline: it arrives truncated to max_line_length,
# counted, and the agent's memory stays far below its size. Then the same
# clients with SIGTERM sent right after the last one closed: every line
# written is in the files or counted as undelivered in the final summary.
source "$(dirname "$0")/common.sh"
CLIENTS=${CLIENTS:-1000}
LINES=${LINES:-100}
TOTAL=$((CLIENTS * LINES))
SEQ=$(seq 1 "$LINES")
BIG_LINE=100000000 # bytes
MAX_LINE=65536     # the netcat source's default max_line_length
MAX_RSS=64         # MiB

# write_topology NAME [SINK_BATCH SYNC]: $WORK/NAME.yaml, files to
# $WORK/NAME.out. Port 0: the agent logs the port the kernel chose.
write_topology() {
  mkdir -p "$WORK/$1.out"
  cat >"$WORK/$1.yaml" <<EOF
agents:
  a1:
    sources:
      r1:
        type: netcat
        port: 0
        max_connections: 50
        batch_size: 100
        channels: [c1]
    channels:
      c1:
        type: memory
        capacity: 1000
        transaction_capacity: 100
    sinks:
      k1:
        type: file_roll
        channel: c1
        directory: $WORK/$1.out
        batch_size: ${2:-100}
        sync: ${3:-false}
EOF
}

# start_agent NAME: runs $WORK/NAME.yaml, logging to $WORK/NAME.log; sets
# AGENT and PORT.
start_agent() {
  local log="$WORK/$1.log"
  "$FLUMEN" run "$WORK/$1.yaml" 2>"$log" &
  AGENT=$!
  PIDS+=("$AGENT")
  listening() { grep -q 'a1\.sources\.r1: listening on 127\.0\.0\.1:[1-9]' "$log" 2>/dev/null; }
  wait_for 20 listening || fail "agent not listening: $(cat "$log")"
  PORT=$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$log" | head -1 | cut -d: -f2)
}

# run_clients: client i connects, writes "i-1" .. "i-LINES", closes (its
# subshell exits); all at once. Fails unless every client succeeded.
run_clients() {
  local pids=() i p failed=0
  for ((i = 1; i <= CLIENTS; i++)); do
    # shellcheck disable=SC2086 # one printf argument per line number
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT" && printf "$i-%s\n" $SEQ >&3) 2>/dev/null &
    pids+=($!)
  done
  for p in "${pids[@]}"; do
    wait "$p" || failed=$((failed + 1))
  done
  ((failed == 0)) || fail "$failed of $CLIENTS clients could not connect or write"
}

# stop_agent NAME: SIGTERM, then the exit code must be 0.
stop_agent() {
  kill -TERM "$AGENT"
  local code=0
  wait "$AGENT" || code=$?
  ((code == 0)) || fail "agent exited with $code: $(tail -5 "$WORK/$1.log")"
}

# counter NAME COMPONENT KEY: KEY=N of COMPONENT's last summary line (0 when
# absent: zero counters are left out).
counter() {
  grep -o "a1\.$2 state=.*" "$WORK/$1.log" | tail -1 | grep -o " $3=[0-9]*" \
    | cut -d= -f2 | grep . || echo 0
}

# check_lines NAME: the lines of the many clients in the files, checked
# (each once, nothing else but the big line truncated); prints how many.
check_lines() {
  local got="$WORK/$1.got"
  cat "$WORK/$1.out"/* 2>/dev/null | grep -v -x "$(printf "%${MAX_LINE}s" | tr ' ' x)" \
    | sort >"$got" || true
  local dups
  dups=$(uniq -d "$got" | head -3)
  [[ -z $dups ]] || fail "$1: lines delivered twice: $dups"
  local stray
  stray=$(grep -v -E "^[0-9]+-[0-9]+$" "$got" | head -3 | cut -c1-40 || true)
  [[ -z $stray ]] || fail "$1: lines no client wrote: $stray"
  wc -l <"$got"
}

start=$SECONDS
# 1. All lines arrive while the agent runs, the big line too (truncated).
write_topology run
start_agent run
head -c "$BIG_LINE" /dev/zero | tr '\0' x | nc -N 127.0.0.1 "$PORT" &
BIG=$!
PIDS+=("$BIG")
run_clients
wait "$BIG" || fail "the client of the big line failed"
in_files() { [[ $(cat "$WORK/run.out"/* 2>/dev/null | wc -l) -ge $((TOTAL + 1)) ]]; }
wait_for 30 in_files || fail "only $(cat "$WORK/run.out"/* | wc -l) of $((TOTAL + 1)) lines arrived"
stop_agent run
[[ $(check_lines run) -eq $TOTAL ]] || fail "not every line arrived"
[[ $(counter run sources.r1 received) -eq $((TOTAL + 1)) ]] || fail "received != $TOTAL + 1"
[[ $(counter run sources.r1 connection_failures) -eq 0 ]] || fail "clients were refused"
[[ $(counter run sources.r1 truncated) -eq 1 ]] || fail "the big line was not counted as truncated"
[[ $(grep -c 'a1\.sources\.r1: truncated a line' "$WORK/run.log") -eq 1 ]] \
  || fail "truncation not logged once"
rss=$(grep -o 'peak RSS [0-9]* MiB' "$WORK/run.log" | grep -o '[0-9]*')
((rss < MAX_RSS)) || fail "peak RSS $rss MiB with a $BIG_LINE-byte line"
echo "$CLIENTS clients x $LINES lines: all $TOTAL arrived, once each;" \
  "a $BIG_LINE-byte line arrived truncated (peak RSS $rss MiB)"

# 2. SIGTERM right after the last client closed. The sink syncs every 20
# lines, so most of what the clients wrote still waits in sockets or in the
# backlog: the stop reads it and hands it over.
write_topology term 20 true
start_agent term
run_clients
kill -TERM "$AGENT"
code=0
wait "$AGENT" || code=$?
# 3: events left in a channel at the shutdown timeout (named in the log).
((code == 0 || code == 3)) || fail "agent exited with $code: $(tail -5 "$WORK/term.log")"
delivered=$(check_lines term)
committed=$(counter term sinks.k1 committed)
undelivered=$(counter term sources.r1 undelivered)
received=$(counter term sources.r1 received)
((delivered == committed)) || fail "$delivered lines in the files, sink committed=$committed"
((delivered + undelivered == TOTAL)) \
  || fail "delivered $delivered + undelivered $undelivered != $TOTAL written" \
    "(received=$received): $(grep -E 'a1\.sources\.r1|stopping' "$WORK/term.log" | tail -3)"
if ((undelivered > 0)); then
  grep -q "a1\.sources\.r1 state=.* undelivered=$undelivered" "$WORK/term.log" \
    || fail "undelivered lines not named in the final log"
fi
read_at_stop=$(grep -o 'stopping: read [0-9]* bytes that [0-9]* client(s)' "$WORK/term.log" || true)
echo "SIGTERM after the last client: delivered $delivered + undelivered $undelivered" \
  "= $TOTAL (${read_at_stop:-nothing left to read at the stop}); $((SECONDS - start)) s in all"
echo "1 passed, 0 failed"
