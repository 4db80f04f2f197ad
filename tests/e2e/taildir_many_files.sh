#!/usr/bin/env bash
# More files than file descriptors: taildir reads every line of 1,500 files
# with 256 descriptors, exactly once (files read to their end are closed to
# make room and opened again when they grow), and goes on reading appends.
source "$(dirname "$0")/common.sh"
mkdir -p "$WORK/logs"
for i in $(seq 1 1500); do printf 'f%d-1\nf%d-2\n' "$i" "$i" >"$WORK/logs/f$i.log"; done
cat >"$WORK/agent.yaml" <<EOF
agents:
  a1:
    sources:
      t: {type: taildir, filegroups: {app: $WORK/logs/*.log}, positions_file: $WORK/pos.json, poll_interval: 200ms, channels: [c]}
    channels:
      c: {type: memory}
    sinks:
      k: {type: file_roll, channel: c, directory: $WORK/out, format: line, roll_interval: 0}
EOF
(
  ulimit -n 256
  exec "$FLUMEN" run "$WORK/agent.yaml" >"$WORK/agent.log" 2>&1
) &
agent=$!
PIDS+=($agent)
lines() { cat "$WORK"/out/* 2>/dev/null | wc -l; }
has() { [[ $(lines) -ge $1 ]]; }
wait_for 60 has 3000 || fail "$(lines) of 3000 lines read with 256 descriptors: $(grep -m3 warn "$WORK/agent.log")"
# Appends to files that were closed are read too.
for i in 1 750 1500; do printf 'f%d-3\n' "$i" >>"$WORK/logs/f$i.log"; done
wait_for 30 has 3003 || fail "appends to closed files not read: $(lines) of 3003"
kill -TERM "$agent"
wait "$agent" || fail "the agent did not stop cleanly: $(tail -3 "$WORK/agent.log")"
[[ $(cat "$WORK"/out/* | sort | uniq -d | wc -l) -eq 0 ]] || fail "lines read twice"
[[ $(cat "$WORK"/out/* | sort -u | wc -l) -eq 3003 ]] || fail "not every line: $(cat "$WORK"/out/* | sort -u | wc -l)"
echo "OK"
