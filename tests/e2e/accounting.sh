#!/usr/bin/env bash
# Every event a source received appears in exactly one count of the final
# line, and no put hangs, when channels are full and their sinks dead:
#  1. SIGTERM with a full memory channel and a dead sink: the puts a full
#     channel held (max_inflight batches) were counted nowhere;
#  2. SIGTERM with a file channel held full by byte_capacity: "0 left", no
#     "kept", and the stop took the whole --shutdown-timeout;
#  3. SIGHUP moves a source off a full channel whose sink is stuck (and
#     removes that channel): the source hung at max_inflight and the put the
#     channel held was lost in no count.
source "$(dirname "$0")/common.sh"

# count LOG COMPONENT KEY: KEY=N of COMPONENT's last summary line (0 if absent).
count() {
  local v
  v=$(grep -aE " $2 state=" "$1" | tail -1 | grep -oE "(^| )$3=[0-9]+" | grep -oE '[0-9]+' || true)
  echo "${v:-0}"
}
# loss LOG WHAT: the number before WHAT in the final line (0 if absent).
loss() {
  local v
  v=$(grep -aE "agent a1: stopped" "$1" | tail -1 | grep -oE "[0-9]+ $2" | grep -oE '^[0-9]+' || true)
  echo "${v:-0}"
}

# feed PORT N TAG: N numbered lines into a netcat source, in the background
# (it blocks while the agent pushes back).
feed() {
  seq -f "$3-%07g" 1 "$2" | nc -q 30 127.0.0.1 "$1" >/dev/null 2>&1 &
  PIDS+=($!)
}

full() { grep -qE " $2 state=.*size=$3/" "$1"; }

# --- 1. memory channel full, sink dead, SIGTERM --------------------------------
PORT=$(free_port)
cat >"$WORK/mem.yaml" <<EOF
agents:
  a1:
    sources:
      r1: {type: netcat, port: $PORT, batch_size: 100, max_inflight: 4, channels: [c1]}
    channels:
      c1: {type: memory, capacity: 1000, transaction_capacity: 100}
    sinks:
      dead: {type: kafka, channel: c1, topic: t, bootstrap_servers: "127.0.0.1:9"}
EOF
"$FLUMEN" run "$WORK/mem.yaml" --shutdown-timeout 7s --stats-interval 100ms >"$WORK/mem.log" 2>&1 &
agent=$!
PIDS+=($agent)
wait_for 20 grep -q "state=running" "$WORK/mem.log" || fail "mem: $(tail -3 "$WORK/mem.log")"
listening "$PORT" "$WORK/mem.log"
feed "$PORT" 10000 mem
wait_for 20 full "$WORK/mem.log" a1.channels.c1 1000 || fail "mem: the channel did not fill"
# The source has puts held by the full channel.
wait_for 20 bash -c "grep -E ' a1.sources.r1 state=.*received=([0-9]+)' '$WORK/mem.log' | tail -1 | grep -E 'received=(1[1-9][0-9][0-9]|[2-9][0-9]{3,}|[0-9]{5,})' >/dev/null" \
  || fail "mem: the source did not read past the channel: $(grep a1.sources.r1 "$WORK/mem.log" | tail -1)"
t0=$SECONDS
kill -TERM "$agent"
wait "$agent" || true
received=$(count "$WORK/mem.log" a1.sources.r1 received)
left=$(loss "$WORK/mem.log" "left in channels")
never=$(loss "$WORK/mem.log" "read but never accepted")
echo "memory: received $received = $left left in channels + $never never accepted ($((SECONDS - t0)) s to stop)"
((received > 1000)) || fail "mem: only $received received"
((left == 1000)) || fail "mem: $left left in the channel, want 1000: $(tail -2 "$WORK/mem.log")"
((left + never == received)) || fail "mem: $((received - left - never)) received events in no count: $(tail -2 "$WORK/mem.log")"
! grep -q "a source did not stop in time" "$WORK/mem.log" || fail "mem: $(grep "a source did not stop" "$WORK/mem.log")"
# A stop that waits says what for, every 5 s.
grep -qE "agent a1: stopping for 5 s: .*channels.c1 holds 1000 events.*sinks.dead connecting" "$WORK/mem.log" \
  || fail "mem: no progress line: $(grep 'stopping for' "$WORK/mem.log")"

# --- 2. file channel held full by byte_capacity, sink dead, SIGTERM ------------
PORT=$(free_port)
cat >"$WORK/file.yaml" <<EOF
agents:
  a1:
    sources:
      r1: {type: netcat, port: $PORT, batch_size: 100, max_inflight: 4, channels: [c1]}
    channels:
      c1: {type: file, directory: $WORK/chan, max_file_size: 64KB, byte_capacity: 128KB, min_free_space: 0}
    sinks:
      dead: {type: kafka, channel: c1, topic: t, bootstrap_servers: "127.0.0.1:9"}
EOF
"$FLUMEN" run "$WORK/file.yaml" --stats-interval 100ms >"$WORK/file.log" 2>&1 &
agent=$!
PIDS+=($agent)
wait_for 20 grep -q "ready in" "$WORK/file.log" || fail "file: $(tail -3 "$WORK/file.log")"
listening "$PORT" "$WORK/file.log"
feed "$PORT" 20000 file
held() {
  local a b
  a=$(count "$WORK/file.log" a1.sources.r1 received)
  b=$(count "$WORK/file.log" a1.sources.r1 accepted)
  ((a > b + 100 && b > 0))
}
wait_for 20 held || fail "file: no put held by the full channel: $(grep a1.sources.r1 "$WORK/file.log" | tail -1)"
t0=$SECONDS
kill -TERM "$agent"
wait "$agent" || true
took=$((SECONDS - t0))
received=$(count "$WORK/file.log" a1.sources.r1 received)
kept=$(loss "$WORK/file.log" "kept in file channels")
never=$(loss "$WORK/file.log" "read but never accepted")
echo "file: received $received = $kept kept + $never never accepted ($took s to stop)"
((kept > 0)) || fail "file: nothing said kept: $(tail -2 "$WORK/file.log")"
((kept + never == received)) || fail "file: $((received - kept - never)) received events in no count: $(tail -3 "$WORK/file.log")"
((took < 15)) || fail "file: the stop took $took s (the whole --shutdown-timeout)"
inspected=$("$FLUMEN" channel inspect "$WORK/chan" | grep -oE "uncommitted: [0-9]+" | grep -oE '[0-9]+')
((inspected == kept)) || fail "file: the final line says $kept kept, the directory holds $inspected"

# --- 3. SIGHUP moves a source off a full channel with a stuck sink -------------
N=20000
write_conf() {
  local to=$1
  {
    cat <<EOF
agents:
  a1:
    sources:
      gen: {type: seq, count: $N, rate: 20000, batch_size: 50, max_inflight: 2, channels: [$to]}
      idle: {type: stdin, channels: [c2]}
    channels:
EOF
    [[ $to == c1 ]] && cat <<EOF
      c1: {type: memory, capacity: 100, transaction_capacity: 50}
EOF
    cat <<EOF
      c2: {type: memory, capacity: 1000, transaction_capacity: 50}
    sinks:
EOF
    [[ $to == c1 ]] && cat <<EOF
      stuck: {type: kafka, channel: c1, topic: t, bootstrap_servers: "127.0.0.1:9"}
EOF
    cat <<EOF
      out: {type: "null", channel: c2}
EOF
  } >"$WORK/reload.yaml.new"
  mv "$WORK/reload.yaml.new" "$WORK/reload.yaml"
}
write_conf c1
"$FLUMEN" run "$WORK/reload.yaml" --exit-on-eof --shutdown-timeout 3s --stats-interval 100ms </dev/null >"$WORK/reload.log" 2>&1 &
agent=$!
PIDS+=($agent)
wait_for 20 full "$WORK/reload.log" a1.channels.c1 100 || fail "reload: c1 did not fill: $(tail -3 "$WORK/reload.log")"
write_conf c2
kill -HUP "$agent"
wait_for 20 grep -q "reloaded" "$WORK/reload.log" || fail "reload: no reload: $(tail -3 "$WORK/reload.log")"
# The source goes on into c2 at once: no put hangs on c1.
moving() { (($(count "$WORK/reload.log" a1.sources.gen accepted) > 1000)); }
wait_for 20 moving || fail "reload: the source hangs at accepted=$(count "$WORK/reload.log" a1.sources.gen accepted)"
wait "$agent" || true
received=$(count "$WORK/reload.log" a1.sources.gen received)
delivered=$(count "$WORK/reload.log" a1.sinks.out committed)
left=$(loss "$WORK/reload.log" "left in channels")
never=$(loss "$WORK/reload.log" "read but never accepted")
echo "reload: received $received = $delivered delivered + $left left in the removed channel + $never never accepted"
((received == N)) || fail "reload: received $received of $N: $(tail -3 "$WORK/reload.log")"
((delivered + left + never == received)) || fail "reload: $((received - delivered - left - never)) events in no count: $(tail -3 "$WORK/reload.log")"
((left == 100)) || fail "reload: $left left, want the 100 c1 held"
! grep -q "a source did not stop in time" "$WORK/reload.log" || fail "reload: $(grep "a source did not stop" "$WORK/reload.log")"
# --- 4. a SIGTERM during a reload's drain, and behind a stream of SIGHUPs ----
# The reload waits (up to --shutdown-timeout, 20 s here) for c1 to drain,
# which its stuck sink never does; a SIGTERM meanwhile ends the wait, and a
# stream of SIGHUPs does not keep the SIGTERM waiting.
write_conf c1
"$FLUMEN" run "$WORK/reload.yaml" --shutdown-timeout 20s --stats-interval 100ms </dev/null >"$WORK/stop.log" 2>&1 &
agent=$!
PIDS+=($agent)
wait_for 20 full "$WORK/stop.log" a1.channels.c1 100 || fail "stop: c1 did not fill: $(tail -3 "$WORK/stop.log")"
write_conf c2
kill -HUP "$agent"
wait_for 10 grep -q "SIGHUP received, reloading" "$WORK/stop.log" || fail "stop: no reload"
t0=$SECONDS
for _ in $(seq 20); do kill -HUP "$agent" 2>/dev/null || true; done
kill -TERM "$agent"
for _ in $(seq 20); do kill -HUP "$agent" 2>/dev/null || true; done
wait "$agent" || true
took=$((SECONDS - t0))
echo "stop: a SIGTERM during a reload and 40 SIGHUPs: stopped in $took s"
((took < 12)) || fail "stop: the SIGTERM waited $took s behind the reload and SIGHUPs: $(grep -E 'SIGHUP|SIGTERM|reload' "$WORK/stop.log" | tail -5)"
grep -q "SIGTERM received, stopping" "$WORK/stop.log" || fail "stop: $(tail -3 "$WORK/stop.log")"
echo "1 passed, 0 failed"
