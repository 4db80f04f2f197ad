#!/usr/bin/env bash
# Files rotated away quickly: 30 files, each written in one burst of 500
# lines and renamed out of the glob 0.1-0.3 s later, while the agent tails
# `*.log` with the default poll_interval (1 s). Every line must arrive
# exactly once: any inotify event leads to a listing within 20 ms, and a
# file seen by inotify is followed through its rename even when it was
# never read under its first name. Before the fix: 501 or 1001 of 15001.
source "$(dirname "$0")/common.sh"
mkdir -p "$WORK/logs"
cat >"$WORK/agent.yaml" <<EOF
agents:
  a1:
    sources:
      t: {type: taildir, filegroups: {app: $WORK/logs/*.log}, positions_file: $WORK/pos.json, channels: [c]}
    channels:
      c: {type: memory}
    sinks:
      k: {type: file_roll, channel: c, directory: $WORK/out, format: line, roll_interval: 0}
EOF
"$FLUMEN" run "$WORK/agent.yaml" >"$WORK/agent.log" 2>&1 &
agent=$!
PIDS+=($agent)
lines() { cat "$WORK"/out/* 2>/dev/null | wc -l; }
has() { [[ $(lines) -ge $1 ]]; }
# The source runs (and watches the directory) once a first file arrives.
echo first >"$WORK/logs/first.log"
wait_for 20 has 1 || fail "the agent did not start: $(tail -3 "$WORK/agent.log")"

files=30
per_file=500
# One writer: each file in one burst, renamed out of the glob 100-300 ms
# later (logrotate's rename, without a new file to follow), the next file
# right after: its creation comes within milliseconds of the rename that
# made the source list the directory.
for i in $(seq 1 "$files"); do
  seq -f "f$i-%g" 1 "$per_file" >"$WORK/logs/f$i.log"
  sleep "0.$((1 + RANDOM % 3))$((RANDOM % 10))"
  mv "$WORK/logs/f$i.log" "$WORK/logs/f$i.log.1"
done

want=$((files * per_file + 1))
# Generous: a rotated file is read within milliseconds once the fix holds;
# without it, the lost files never come, whatever the wait.
wait_for 30 has "$want" || fail "$(lines) of $want lines delivered; files never read: $(
  for i in $(seq 1 "$files"); do grep -q "^f$i-1\$" "$WORK"/out/* 2>/dev/null || printf 'f%d ' "$i"; done)"
kill -TERM "$agent"
wait "$agent" || fail "the agent did not stop cleanly: $(tail -3 "$WORK/agent.log")"
got=$(cat "$WORK"/out/* | sort -u | wc -l)
dups=$(cat "$WORK"/out/* | sort | uniq -d | wc -l)
[[ $got -eq $want ]] || fail "$got distinct lines of $want"
[[ $dups -eq 0 ]] || fail "$dups lines delivered twice"
grep -q 'every accepted event delivered' "$WORK/agent.log" ||
  fail "final line: $(tail -1 "$WORK/agent.log")"
echo "OK: $((want - 1)) lines of $files files rotated 0.1-0.3 s after their burst, each once"
