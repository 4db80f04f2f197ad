#!/usr/bin/env bash
# The avro source out of file descriptors: the agent's RLIMIT_NOFILE is
# lowered (prlimit) to a few more than it uses, then more silent clients
# connect and stay than it has descriptors for. accept fails with EMFILE;
# the source must back off, not spin (its CPU time over a few seconds stays
# low), count the failures, and serve a Flume client (avsc) once the
# others left: every event it was answered OK for arrives.
source "$(dirname "$0")/common.sh"
PEER=$ROOT/tests/support/avro_peer.js
[[ -d $ROOT/tests/e2e/node_modules/avsc ]] || fail "avsc is missing: ./flumen.sh installs it (tests/e2e/node_modules)"
SPARE=10     # descriptors left to the agent for clients
HELD=40      # clients that connect and stay; the rest of them wait
WINDOW=3     # seconds of CPU time measured while accept fails
MAX_CPU=0.5  # seconds of CPU allowed in that window (a spin takes ~WINDOW)
PORT=$(free_port)
mkdir -p "$WORK/out"
cat >"$WORK/topology.yaml" <<EOF
agents:
  a1:
    sources:
      r1:
        type: avro
        port: $PORT
        handshake_timeout: 10m
        channels: [c1]
    channels:
      c1: {type: memory}
    sinks:
      k1: {type: file_roll, channel: c1, directory: $WORK/out}
EOF
"$FLUMEN" run "$WORK/topology.yaml" --stats-interval 0.5 2>"$WORK/agent.log" &
AGENT=$!
PIDS+=("$AGENT")
listening "$PORT" "$WORK/agent.log"
open_fds=$(find "/proc/$AGENT/fd" -mindepth 1 | wc -l)
hard=$(prlimit --pid "$AGENT" --nofile --output HARD --raw --noheadings)
prlimit --pid "$AGENT" --nofile=$((open_fds + SPARE)):"$hard" \
  || fail "cannot lower the agent's RLIMIT_NOFILE"
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
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$AGENT/stat"; }
before=$(cpu_ticks)
sleep "$WINDOW" # the measured interval itself, not a wait for a condition
after=$(cpu_ticks)
cpu=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')
awk -v c="$cpu" -v m="$MAX_CPU" 'BEGIN { exit !(c <= m) }' \
  || fail "the agent used ${cpu}s of CPU in ${WINDOW}s while out of descriptors (spinning)"
warnings=$(grep -c 'cannot accept a client' "$WORK/agent.log" || true)
((warnings >= 1 && warnings <= 10)) || fail "$warnings warnings about failed accepts"
# The silent clients leave: descriptors free up, a Flume client is served.
for fd in "${fds[@]}"; do exec {fd}>&-; done
out=$(node "$PEER" client "$PORT" 500 50 --prefix fd)
[[ $out == '{"ok_events":500,"failed_calls":0,"errors":0,"matches":["BOTH"]}' ]] || fail "not served after: $out"
arrived() { (($(cat "$WORK/out"/* 2>/dev/null | wc -l) >= 500)); }
wait_for 20 arrived || fail "only $(cat "$WORK/out"/* | wc -l) of 500 arrived"
kill -TERM "$AGENT"
wait "$AGENT" || fail "agent exited with $?: $(tail -5 "$WORK/agent.log")"
(($(cat "$WORK/out"/* | sort -u | wc -l) == 500)) || fail "events not once each"
echo "out of descriptors: $(failures) failed accepts, ${cpu}s CPU in ${WINDOW}s, $warnings warning(s);" \
  "a Flume client served after descriptors freed up, 500 of 500"
echo "1 passed, 0 failed"
