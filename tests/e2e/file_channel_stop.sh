#!/usr/bin/env bash
# What a stop does with a file channel: after SIGTERM it keeps what it holds
# (exit 0, "N kept", without waiting for the shutdown timeout), and the next
# start delivers it; --exit-on-eof drains it.
source "$(dirname "$0")/common.sh"
[[ -z ${SAVE_LOG:-} ]] || trap 'cp "$WORK"/run1.log "$SAVE_LOG"; cleanup' EXIT
start_broker --topic kept:4
cat >"$WORK/agent.yaml" <<EOF
agents:
  a1:
    sources:
      in: {type: stdin, channels: [durable]}
    channels:
      durable: {type: file, directory: $WORK/channel}
    sinks:
      out: {type: kafka, channel: durable, topic: kept, bootstrap_servers: "\${KAFKA}"}
EOF
# 1. No broker: 1000 lines are accepted; SIGTERM keeps them, at once.
mkfifo "$WORK/in"
KAFKA=127.0.0.1:9 "$FLUMEN" run "$WORK/agent.yaml" --stats-interval 100ms \
  <"$WORK/in" >"$WORK/run1.log" 2>&1 &
agent=$!
PIDS+=($agent)
exec 7>"$WORK/in"
seq -f 'kept-%g' 1 1000 >&7
wait_for 20 grep -q "a1.channels.durable .*put=1000 " "$WORK/run1.log" ||
  fail "the channel did not take the 1000 lines: $(tail -3 "$WORK/run1.log")"
# The tools beside the running agent: inspect reads, --repair is refused.
"$FLUMEN" channel inspect "$WORK/channel" >"$WORK/inspect" || fail "inspect beside an agent"
grep -qi "uncommitted.*1000\|1000.*uncommitted" "$WORK/inspect" || fail "inspect: $(cat "$WORK/inspect")"
rc=0
"$FLUMEN" channel verify "$WORK/channel" --repair >/dev/null 2>"$WORK/refused" || rc=$?
((rc == 2)) && grep -q "pid $agent" "$WORK/refused" || fail "repair beside an agent: exit $rc, $(cat "$WORK/refused")"
t0=$SECONDS
kill -TERM "$agent"
code=0
wait "$agent" || code=$?
exec 7>&-
((code == 0)) || fail "exit code $code after SIGTERM: $(tail -3 "$WORK/run1.log")"
((SECONDS - t0 < 10)) || fail "the stop waited $((SECONDS - t0)) s for a channel it keeps"
grep -q "1000 kept in file channels" "$WORK/run1.log" || fail "no '1000 kept': $(tail -3 "$WORK/run1.log")"
[[ $(topic_count kept) -eq 0 ]] || fail "records reached a broker that was not there"
# inspect / verify on a healthy, a torn and a corrupted copy of it.
cp -a "$WORK/channel" "$WORK/healthy"
"$FLUMEN" channel verify "$WORK/healthy" >"$WORK/v" || fail "verify a healthy directory: $(cat "$WORK/v")"
seg=$(ls "$WORK"/healthy/log-*.seg | head -n1)
cp -a "$WORK/healthy" "$WORK/torn"
tseg="$WORK/torn/$(basename "$seg")"
truncate -s $(($(stat -c %s "$tseg") - 5)) "$tseg"
rc=0
"$FLUMEN" channel verify "$WORK/torn" >"$WORK/v" || rc=$?
((rc == 1)) && grep -q "torn tail" "$WORK/v" || fail "verify a torn directory: exit $rc, $(cat "$WORK/v")"
"$FLUMEN" channel verify "$WORK/torn" --repair >/dev/null || fail "repair a torn tail"
"$FLUMEN" channel verify "$WORK/torn" >/dev/null || fail "still damaged after --repair"
cp -a "$WORK/healthy" "$WORK/corrupt"
cseg="$WORK/corrupt/$(basename "$seg")"
printf 'X' | dd of="$cseg" bs=1 seek=$(($(stat -c %s "$cseg") / 2)) conv=notrunc status=none
rc=0
"$FLUMEN" channel verify "$WORK/corrupt" >"$WORK/v" || rc=$?
((rc == 1)) && grep -q "$(basename "$seg")" "$WORK/v" || fail "verify a corrupted directory: exit $rc, $(cat "$WORK/v")"
# 2. With the broker and --exit-on-eof (no new input): the kept lines are
#    delivered before the agent exits.
KAFKA=$BOOTSTRAP "$FLUMEN" run "$WORK/agent.yaml" --exit-on-eof </dev/null >"$WORK/run2.log" 2>&1 ||
  fail "the second run failed: $(tail -3 "$WORK/run2.log")"
grep -q "every accepted event delivered$" "$WORK/run2.log" || fail "not drained: $(tail -2 "$WORK/run2.log")"
[[ $(topic_bodies kept | sort -u | wc -l) -eq 1000 ]] || fail "$(topic_bodies kept | sort -u | wc -l) of 1000 delivered"
echo "OK"
