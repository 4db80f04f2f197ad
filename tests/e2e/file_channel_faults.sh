#!/usr/bin/env bash
# The file channel's promises under faults, on the built binary:
#  1. no descriptors (prlimit --nofile=5) for a second while a restarted
#     agent reads its backlog back: retried, nothing skipped, every event
#     delivered (it used to skip the backlog as damaged and stop "clean");
#  2. every rolled segment is synced before the puts in it are answered
#     (strace: no segment closed with writes after its last fdatasync);
#  3. a small disk with the defaults (64 MB segments and free-space floor
#     on a 100 MB tmpfs): the committed segment is freed and everything
#     flows (it held every put for good at ~300,000 events).
# The tmpfs needs root, as CI has.
source "$(dirname "$0")/common.sh"

# summary_count LOG COMPONENT KEY: KEY=N of COMPONENT's final summary line.
summary_count() {
  grep -E " $2 state=" "$1" | tail -1 | grep -oE "(^| )$3=[0-9]+" | grep -oE '[0-9]+' || echo 0
}

# --- 1. EMFILE while the backlog is read back ------------------------------
N=1000000
cat >"$WORK/fill.yaml" <<EOF
agents:
  a1:
    sources:
      gen: {type: seq, count: $N, body_size: 100, channels: [durable]}
    channels:
      durable: {type: file, directory: $WORK/chan1, transaction_capacity: 1000, min_free_space: 0}
    sinks:
      nowhere: {type: kafka, channel: durable, topic: t, bootstrap_servers: "127.0.0.1:9"}
EOF
"$FLUMEN" run "$WORK/fill.yaml" >"$WORK/fill.log" 2>&1 &
fill=$!
PIDS+=($fill)
accepted_all() { "$FLUMEN" channel inspect "$WORK/chan1" 2>/dev/null | matches "uncommitted: $N events"; }
# The agent holds the directory's lock; inspect reads without it.
wait_for 60 accepted_all || fail "the channel did not take $N events: $(tail -3 "$WORK/fill.log")"
kill -TERM "$fill"
wait "$fill" || fail "fill agent: $(tail -3 "$WORK/fill.log")"
grep -q "$N kept in file channels" "$WORK/fill.log" || fail "fill: $(tail -2 "$WORK/fill.log")"

# Restarted with a null sink and small transactions, so reading back takes a
# while; its descriptors are cut to 5 for a second meanwhile.
cat >"$WORK/drain.yaml" <<EOF
agents:
  a1:
    sources:
      none: {type: stdin, channels: [durable]}
    channels:
      durable: {type: file, directory: $WORK/chan1, transaction_capacity: 100, min_free_space: 0}
    sinks:
      discard: {type: "null", channel: durable, batch_size: 100}
EOF
"$FLUMEN" run "$WORK/drain.yaml" --exit-on-eof \
  </dev/null >"$WORK/drain.log" 2>&1 &
drain=$!
PIDS+=($drain)
wait_for 30 grep -qs "ready in" "$WORK/drain.log" \
  || fail "the drain did not start: $(tail -3 "$WORK/drain.log")"
soft=$(prlimit --pid "$drain" --nofile --output SOFT --noheadings | tr -d ' ')
prlimit --pid "$drain" --nofile=5: || fail "prlimit"
hit() { grep -q "cannot read the log back" "$WORK/drain.log"; }
wait_for 10 hit || echo "note: the read-back did not hit the limit within 10 s"
prlimit --pid "$drain" --nofile="$soft": || fail "prlimit (restore)"
hit || fail "the descriptor limit never hit a read-back: the test proves nothing"
wait "$drain" || fail "drain agent: $(tail -3 "$WORK/drain.log")"
committed=$(summary_count "$WORK/drain.log" a1.sinks.discard committed)
((committed == N)) || fail "$committed of $N events delivered after EMFILE"
! grep -qE "no longer read back|damaged" "$WORK/drain.log" || fail "a transient error was taken for damage"
grep -q "every accepted event delivered" "$WORK/drain.log" || fail "$(tail -1 "$WORK/drain.log")"
echo "EMFILE: $committed of $N delivered, the read-back retried"

# --- 1b. damage: a middle segment cut short; its events are counted lost ------
D=20000
cat >"$WORK/fill2.yaml" <<EOF
agents:
  a1:
    sources:
      gen: {type: seq, count: $D, body_size: 100, batch_size: 100, channels: [durable]}
    channels:
      durable: {type: file, directory: $WORK/chan3, max_file_size: 256KB, min_free_space: 0}
    sinks:
      nowhere: {type: kafka, channel: durable, topic: t, bootstrap_servers: "127.0.0.1:9"}
EOF
cat >"$WORK/drain2.yaml" <<EOF
agents:
  a1:
    sources:
      none: {type: stdin, channels: [durable]}
    channels:
      durable: {type: file, directory: $WORK/chan3, max_file_size: 256KB, min_free_space: 0}
    sinks:
      discard: {type: "null", channel: durable}
EOF
"$FLUMEN" run "$WORK/fill2.yaml" >"$WORK/fill2.log" 2>&1 &
fill=$!
PIDS+=($fill)
filled() { "$FLUMEN" channel inspect "$WORK/chan3" 2>/dev/null | matches "uncommitted: $D events"; }
wait_for 60 filled || fail "the channel did not take $D events"
kill -TERM "$fill"
wait "$fill" || fail "fill2: $(tail -3 "$WORK/fill2.log")"
mapfile -t segs < <(ls "$WORK/chan3"/log-*.seg)
((${#segs[@]} >= 3)) || fail "want 3 segments at least, have ${#segs[@]}"
truncate -s 100000 "${segs[1]}" # the middle of the second segment
set +e
"$FLUMEN" run "$WORK/drain2.yaml" --exit-on-eof </dev/null >"$WORK/drain2.log" 2>&1
rc=$?
set -e
committed=$(summary_count "$WORK/drain2.log" a1.sinks.discard committed)
lost=$(grep -oE "[0-9]+ lost to damage in file channels" "$WORK/drain2.log" | grep -oE '^[0-9]+' || echo 0)
echo "damage: $committed delivered + $lost lost to damage of $D (exit $rc)"
((lost > 0)) || fail "the cut segment's events are in no count: $(tail -2 "$WORK/drain2.log")"
((committed + lost == D)) || fail "$committed + $lost != $D"
((rc == 3)) || fail "a loss to damage must not exit 0 (exit $rc)"
"$FLUMEN" channel verify "$WORK/chan3" >/dev/null 2>&1 || fail "verify after the drain: the lost events are past now"

# --- 2. strace: no segment closed unsynced -------------------------------------
cat >"$WORK/roll.yaml" <<EOF
agents:
  a1:
    sources:
      g1: {type: seq, count: 20000, body_size: 50, batch_size: 20, channels: [durable]}
      g2: {type: seq, count: 20000, body_size: 50, batch_size: 20, channels: [durable]}
      g3: {type: seq, count: 20000, body_size: 50, batch_size: 20, channels: [durable]}
    channels:
      durable: {type: file, directory: $WORK/chan2, max_file_size: 4KB, min_free_space: 0}
    sinks:
      discard: {type: "null", channel: durable}
EOF
strace -f -qq -e trace=openat,write,fdatasync,close -o "$WORK/strace.out" \
  "$FLUMEN" run "$WORK/roll.yaml" --exit-on-eof >"$WORK/roll.log" 2>&1 \
  || fail "roll agent: $(tail -3 "$WORK/roll.log")"
python3 - "$WORK/strace.out" <<'PY' || fail "segments closed with unsynced writes"
import re, sys
seg = {}        # fd -> [path, dirty]
opened = closed_dirty = closed = 0
pending = {}    # pid -> (call, args) of a call strace split in two
def calls(path):
    for line in open(path):
        m = re.match(r'(\d+)\s+(openat|write|fdatasync|close)\((.*) <unfinished \.\.\.>', line)
        if m:
            pending[m.group(1)] = (m.group(2), m.group(3))
            continue
        m = re.match(r'(\d+)\s+<\.\.\. (\w+) resumed>.*\)\s+=\s+(-?\d+)', line)
        if m and m.group(1) in pending:
            call, args = pending.pop(m.group(1))
            yield call, args, int(m.group(3))
            continue
        m = re.match(r'\d+\s+(openat|write|fdatasync|close)\((.*)\)\s+=\s+(-?\d+)', line)
        if m:
            yield m.group(1), m.group(2), int(m.group(3))
for call, args, rc in calls(sys.argv[1]):
    if call == 'openat':
        p = re.search(r'"([^"]+\.seg)"', args)
        if p and rc >= 0:
            seg[rc] = [p.group(1), False]
            opened += 1
        continue
    fd = int(args.split(',')[0])
    if fd not in seg:
        continue
    if call == 'write' and rc > 0:
        seg[fd][1] = True
    elif call == 'fdatasync' and rc == 0:
        seg[fd][1] = False
    elif call == 'close':
        closed += 1
        closed_dirty += seg[fd][1]
        del seg[fd]
print(f"strace: {opened} segments opened, {closed} closed, {closed_dirty} closed with writes after their last fdatasync")
sys.exit(1 if closed_dirty or opened < 50 else 0)
PY
committed=$(summary_count "$WORK/roll.log" a1.sinks.discard committed)
((committed == 60000)) || fail "roll: $committed of 60000 delivered"

# --- 3. a small disk with the defaults -------------------------------------------
DISK="$WORK/disk"
mkdir -p "$DISK"
mount -t tmpfs -o size=100m tmpfs "$DISK" || fail "cannot mount a tmpfs (root is needed)"
trap 'umount -l "$DISK" 2>/dev/null; cleanup' EXIT
M=1000000
cat >"$WORK/small.yaml" <<EOF
agents:
  a1:
    sources:
      gen: {type: seq, count: $M, body_size: 150, channels: [durable]}
    channels:
      durable: {type: file, directory: $DISK/chan}
    sinks:
      discard: {type: "null", channel: durable}
EOF
timeout 120 "$FLUMEN" run "$WORK/small.yaml" --exit-on-eof >"$WORK/small.log" 2>&1 \
  || fail "small disk: $(tail -3 "$WORK/small.log")"
committed=$(summary_count "$WORK/small.log" a1.sinks.discard committed)
((committed == M)) || fail "small disk: $committed of $M delivered"
echo "small disk: $M events through a 100 MB disk with 64 MB segments"
echo "1 passed, 0 failed"
