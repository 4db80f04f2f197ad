#!/usr/bin/env bash
# A full disk under the file channel (a 16 MB tmpfs; the test mounts it, so
# it needs root, as CI has): with min_free_space, puts are held and the
# source stops reading; with min_free_space 0, writes fail with ENOSPC and
# are retried (the channel is degraded). Either way nothing is lost and
# everything flows once space returns.
source "$(dirname "$0")/common.sh"

DISK="$WORK/disk"
mkdir -p "$DISK"
mount -t tmpfs -o size=16m tmpfs "$DISK" || fail "cannot mount a tmpfs (root is needed)"
unmount() { umount "$DISK" 2>/dev/null || umount -l "$DISK" 2>/dev/null || true; }
trap 'cleanup_all' EXIT
cleanup_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  unmount
  rm -rf "$WORK"
}

start_broker --topic full:8 --topic enospc:8
LINES=20000

# run_case NAME MIN_FREE FILLER_LEAVES: fills the tmpfs until FILLER_LEAVES
# bytes are free, writes LINES lines to a tailed file, and checks that
# nothing reaches Kafka until the filler goes, then that everything does.
run_case() {
  local name=$1 min_free=$2 leave=$3
  local dir="$WORK/$name"
  mkdir -p "$dir/logs"
  cat >"$dir/agent.yaml" <<EOF
agents:
  a1:
    sources:
      tail:
        type: taildir
        filegroups: {app: $dir/logs/*.log}
        positions_file: $dir/positions.json
        poll_interval: 100ms
        channels: [durable]
    channels:
      durable:
        type: file
        directory: $DISK/$name
        max_file_size: 256KB
        min_free_space: $min_free
    sinks:
      kafka: {type: kafka, channel: durable, topic: $name, bootstrap_servers: "$BOOTSTRAP"}
EOF
  local avail
  avail=$(df --output=avail -B1 "$DISK" | tail -1)
  fallocate -l $((avail - leave)) "$DISK/filler" || dd if=/dev/zero of="$DISK/filler" bs=1M count=$(((avail - leave) >> 20)) 2>/dev/null
  "$FLUMEN" run "$dir/agent.yaml" >"$dir/agent.log" 2>&1 &
  local agent=$!
  PIDS+=($agent)
  wait_for 20 grep -q "ready in" "$dir/agent.log" || fail "$name: the agent did not start: $(tail "$dir/agent.log")"
  seq -f "$name-%06g-padding-padding-padding-padding-padding-padding-padding-padding" 1 $LINES >"$dir/logs/app.log"
  # The disk is full: the channel says so, and nothing passes.
  wait_for 30 grep -qE "$4" "$dir/agent.log" || fail "$name: no sign of the full disk: $(tail "$dir/agent.log")"
  local n
  n=$(topic_count "$name")
  ((n < LINES)) || fail "$name: everything arrived although the disk was full"
  if [[ $name == full ]]; then ((n == 0)) || fail "full: $n lines passed a held put"; fi
  # Space returns: everything flows.
  rm -f "$DISK/filler"
  all_in() { [[ $(topic_bodies "$name" | sort -u | wc -l) -eq $LINES ]]; }
  wait_for 60 all_in || fail "$name: only $(topic_bodies "$name" | sort -u | wc -l) of $LINES lines arrived after space returned"
  kill -TERM "$agent"
  wait "$agent" || fail "$name: the agent did not stop cleanly: $(tail -3 "$dir/agent.log")"
  # The closing lines come once (issue 17 saw them twice after a full disk).
  local finals
  finals=$(grep -c "agent a1: stopped" "$dir/agent.log" || true)
  ((finals == 1)) || fail "$name: the final line came $finals times: $(grep 'agent a1: stopped' "$dir/agent.log")"
  finals=$(grep -c "agent a1: peak RSS" "$dir/agent.log" || true)
  ((finals == 1)) || fail "$name: the closing lines came $finals times"
  local total
  total=$(topic_count "$name")
  echo "$name: $LINES lines, $total records, $n had arrived while the disk was full"
  ((total == LINES)) || echo "$name: $((total - LINES)) duplicates"
}

# Held: below min_free_space (8 MB) puts wait, the source stops reading.
run_case full 8MB $((4 << 20)) "puts are held"
grep -q "free space is back" "$WORK/full/agent.log" || fail "full: no 'free space is back'"
# Refused by the disk itself: writes fail (ENOSPC), are retried, and the
# channel is degraded meanwhile.
run_case enospc 0 $((96 << 10)) "cannot write to .*No space left"
echo "OK"
