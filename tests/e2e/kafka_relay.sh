#!/usr/bin/env bash
# The kafka source in real agents (`flumen run`), a consumer group on
# `flumen broker` clusters, records written and read back with kcat:
# 1. two agents of one group relay a topic into another; one is SIGKILLed
#    halfway: every record arrives, the duplicates are counted and reported;
# 2. a restart of the group goes on from its committed offsets: it reads
#    exactly what came since (no re-read, no gap);
# 3. a rebalance while the sink's cluster is frozen: the member whose
#    channel is full gives partitions away with batches unanswered (left
#    uncommitted, counted); every record arrives once the cluster thaws.
source "$(dirname "$0")/common.sh"

N=${N:-100000}
start_broker --topic in:8 --topic out:8 --topic in2:8
SRC=$BOOTSTRAP
SRC_PID=$BROKER_PID
# The sink's cluster of part 3: a second `flumen broker`, its address in a
# file of its own.
"$FLUMEN" broker --topic out2:8 >"$WORK/bootstrap2" 2>"$WORK/broker2.log" &
DST_PID=$!
PIDS+=($DST_PID)
wait_for 20 test -s "$WORK/bootstrap2" || fail "broker 2 did not start: $(cat "$WORK/broker2.log")"
DST=$(head -n1 "$WORK/bootstrap2")

# relay.yaml: kafka source -> memory -> kafka sink.
cat >"$WORK/relay.yaml" <<'EOF'
agents:
  relay:
    sources:
      r1:
        type: kafka
        bootstrap_servers: ${SRC}
        topics: ["${IN}"]
        group_id: ${GROUP}
        batch_size: "${BATCH:-500}"
        batch_duration: ${DURATION:-100ms}
        max_inflight: "${INFLIGHT:-4}"
        revoke_timeout: 2s
        consumer: {session.timeout.ms: 6000, heartbeat.interval.ms: 500}
        channels: [mem]
    channels:
      mem: {type: memory, capacity: "${CAPACITY}", transaction_capacity: 1000}
    sinks:
      k1:
        type: kafka
        channel: mem
        bootstrap_servers: ${DST}
        topic: ${OUT}
        batch_size: 1000
EOF
SRC=$SRC DST=$SRC IN=in OUT=out GROUP=g CAPACITY=20000 \
  "$FLUMEN" validate "$WORK/relay.yaml" >/dev/null || fail "relay.yaml does not validate"

# What `flumen validate` refuses, located: topics and topics_regex both,
# neither, a regex that does not compile; and the relay-loop warning.
cat >"$WORK/bad.yaml" <<'EOF'
agents:
  a1:
    sources:
      both: {type: kafka, bootstrap_servers: 'b:1', topics: [t], topics_regex: 't.*', channels: [c1]}
      neither: {type: kafka, bootstrap_servers: 'b:1', channels: [c1]}
      broken: {type: kafka, bootstrap_servers: 'b:1', topics_regex: 'logs-(web', channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      k1: {type: "null", channel: c1}
EOF
if "$FLUMEN" validate "$WORK/bad.yaml" >"$WORK/out" 2>&1; then fail "validate accepted bad.yaml"; fi
matches -F "bad.yaml:4:80: agents.a1.sources.both.topics_regex: give either topics or topics_regex, not both" "$WORK/out" ||
  fail "both: $(cat "$WORK/out")"
matches -F "bad.yaml:5:16: agents.a1.sources.neither: missing required key 'topics' (or 'topics_regex')" "$WORK/out" ||
  fail "neither: $(cat "$WORK/out")"
matches -F "bad.yaml:6:69: agents.a1.sources.broken.topics_regex: 'logs-(web' is not a valid POSIX extended regular expression" "$WORK/out" ||
  fail "bad regex: $(cat "$WORK/out")"
[[ $(grep -c "bad.yaml:" "$WORK/out") -eq 3 ]] || fail "not three errors: $(cat "$WORK/out")"
SRC=b:1 DST=b:1 IN=in OUT=in GROUP=g CAPACITY=2000 "$FLUMEN" validate "$WORK/relay.yaml" >"$WORK/out" 2>&1 ||
  fail "a relay into its own topic is refused, not warned: $(cat "$WORK/out")"
matches -F "agents.relay.sinks.k1.topic: topic 'in' is one kafka source 'r1' reads from the same cluster" "$WORK/out" ||
  fail "no loop warning: $(cat "$WORK/out")"

# agent NAME SRC DST IN OUT GROUP CAPACITY: starts an agent, logging to
# $WORK/NAME.log; sets AGENT to its pid.
agent() {
  SRC=$2 DST=$3 IN=$4 OUT=$5 GROUP=$6 CAPACITY=$7 \
    "$FLUMEN" run "$WORK/relay.yaml" --stats-interval 1 2>"$WORK/$1.log" &
  AGENT=$!
  PIDS+=($AGENT)
}

# counter LOG NAME: the last value of source r1's counter NAME in LOG (its
# stats lines), 0 when none.
counter() {
  local v
  v=$(grep -o "relay.sources.r1 state=.*" "$1" | tail -n1 | grep -o " $2=[0-9]*" | cut -d= -f2 || true)
  echo "${v:-0}"
}

bodies_of() { kcat -C -b "$1" -t "$2" -e -q -f '%s\n' "${KCAT_TO_END[@]}" 2>/dev/null; }
unique_of() { bodies_of "$1" "$2" | sort -un | wc -l; }

# -- 1. two members, one SIGKILLed halfway ------------------------------------
agent a "$SRC" "$SRC" in out g 20000
A=$AGENT
agent b "$SRC" "$SRC" in out g 20000
B=$AGENT
# Both members own partitions before the records come (the group's join
# takes a few seconds), then the records come in chunks, so the agents are
# mid-stream at the kill, a having committed some of what it read (every
# second) and not the rest.
owns() { [[ $(counter "$WORK/$1.log" partitions_assigned) -gt 0 ]]; }
wait_for 60 owns a || fail "agent a owns no partition: $(tail -3 "$WORK/a.log")"
wait_for 60 owns b || fail "agent b owns no partition: $(tail -3 "$WORK/b.log")"
(
  for ((c = 0; c < 20; c++)); do
    seq $((c * N / 20 + 1)) $(((c + 1) * N / 20)) | kcat -P -b "$SRC" -t in
    sleep 0.3
  done
) &
PRODUCER=$!
PIDS+=($PRODUCER)
half() { [[ $(bodies_of "$SRC" out | wc -l) -ge $((N / 2)) ]]; }
wait_for 120 half || fail "half the records did not arrive: $(tail -3 "$WORK/a.log")"
# a has partitions and reads (its counters, logged every second, say so).
a_reads() { [[ $(counter "$WORK/a.log" received) -gt 0 ]]; }
wait_for 30 a_reads || fail "agent a reads nothing: $(tail -3 "$WORK/a.log")"
a_had=$(counter "$WORK/a.log" received)
kill -KILL "$A"
wait "$A" 2>/dev/null || true
wait "$PRODUCER" || fail "the producer failed"
all() { [[ $(unique_of "$SRC" out) -eq $N ]]; }
wait_for 180 all || fail "only $(unique_of "$SRC" out) of $N records after the kill: $(tail -3 "$WORK/b.log")"
kill -TERM "$B"
wait "$B" || fail "agent b exited with $?: $(tail -5 "$WORK/b.log")"
total=$(bodies_of "$SRC" out | wc -l)
bodies_of "$SRC" out | sort -n | uniq | diff -q <(seq 1 "$N") - >/dev/null || fail "records lost"
echo "SIGKILL halfway: $N of $N records, $((total - N)) duplicates (agent a had read $a_had)"
[[ $(counter "$WORK/b.log" undelivered) -eq 0 ]] || fail "agent b: $(grep -o 'relay.sources.r1 state=.*' "$WORK/b.log" | tail -n1)"

# -- 2. a restart goes on from the committed offsets ---------------------------
M=10000
seq $((N + 1)) $((N + M)) | kcat -P -b "$SRC" -t in
agent c "$SRC" "$SRC" in out g 20000
C=$AGENT
all2() { [[ $(unique_of "$SRC" out) -eq $((N + M)) ]]; }
wait_for 60 all2 || fail "only $(unique_of "$SRC" out) of $((N + M)) after the restart"
kill -TERM "$C"
wait "$C" || fail "agent c exited with $?: $(tail -5 "$WORK/c.log")"
c_read=$(counter "$WORK/c.log" received)
[[ $c_read -eq $M ]] || fail "the restarted group read $c_read records, not the $M new ones"
echo "restart: read exactly the $M new records"

# -- 3. a rebalance while the sink's cluster is frozen -------------------------
# Batches of 1,000 (or what came within 5 s), one in flight, a channel of
# 1,000: with the sink stuck, the batch after the one that filled the
# channel stays unanswered. Each partition gets 125 records at a time, so
# every batch holds some of each.
per_partition() { # FROM COUNT: COUNT records to each of in2's 8 partitions
  local p
  for p in 0 1 2 3 4 5 6 7; do
    seq $(($1 + p * $2)) $(($1 + (p + 1) * $2 - 1)) | kcat -P -b "$SRC" -t in2 -p "$p"
  done
}
R=5000
per_partition 1 125
BATCH=1000 DURATION=5s INFLIGHT=1 agent d "$SRC" "$DST" in2 out2 g2 1000
D=$AGENT
some() { [[ $(bodies_of "$DST" out2 | wc -l) -eq 1000 ]]; }
wait_for 60 some || fail "the first records were not relayed to the second cluster: $(tail -3 "$WORK/d.log")"
kill -STOP "$DST_PID"
per_partition 1001 125 # fills the channel: the sink took it and is stuck
d_accepted() { [[ $(counter "$WORK/d.log" accepted) -eq 2000 ]]; }
wait_for 60 d_accepted || fail "agent d: $(grep -o 'relay.sources.r1 state=.*' "$WORK/d.log" | tail -n1)"
per_partition 2001 125 # unanswered while the sink is frozen
d_read() { [[ $(counter "$WORK/d.log" received) -eq 3000 ]]; }
wait_for 60 d_read || fail "agent d: $(grep -o 'relay.sources.r1 state=.*' "$WORK/d.log" | tail -n1)"
per_partition 3001 250 # no room for it: d pauses
paused() { [[ $(counter "$WORK/d.log" pauses) -gt 0 ]]; }
wait_for 60 paused || fail "agent d never paused: $(tail -3 "$WORK/d.log")"
BATCH=1000 DURATION=5s INFLIGHT=1 agent e "$SRC" "$DST" in2 out2 g2 1000
E=$AGENT
revoked() { [[ $(counter "$WORK/d.log" uncommitted_at_revoke) -gt 0 ]]; }
wait_for 60 revoked || fail "agent d gave nothing away unanswered: $(tail -3 "$WORK/d.log")"
assigned() { [[ $(counter "$WORK/e.log" partitions_assigned) -gt 0 ]]; }
wait_for 60 assigned || fail "agent e got no partition: $(tail -3 "$WORK/e.log")"
BROKER_PID=$DST_PID thaw_broker
all3() { [[ $(unique_of "$DST" out2) -eq $R ]]; }
wait_for 180 all3 || fail "only $(unique_of "$DST" out2) of $R after the thaw"
kill -TERM "$D" "$E"
wait "$D" || fail "agent d exited with $?: $(tail -5 "$WORK/d.log")"
wait "$E" || fail "agent e exited with $?: $(tail -5 "$WORK/e.log")"
total=$(bodies_of "$DST" out2 | wc -l)
left=$(counter "$WORK/d.log" uncommitted_at_revoke)
bodies_of "$DST" out2 | sort -n | uniq | diff -q <(seq 1 "$R") - >/dev/null || fail "records lost"
echo "rebalance with the sink frozen: $R of $R records, $((total - R)) duplicates, $left events left uncommitted at the revoke"
((total - R <= left)) || fail "more duplicates ($((total - R))) than the revoke left uncommitted ($left)"
echo "1 passed, 0 failed"
