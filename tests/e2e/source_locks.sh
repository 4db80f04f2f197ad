#!/usr/bin/env bash
# Two agents started on one spool directory and one taildir positions file
# (a deploy that starts the new agent before the old one is gone, a copied
# unit file): the second one's sources wait for the locks, `degraded` and
# naming the first's pid, and take over when the first stops; every line is
# delivered once (before the locks: everything twice).
source "$(dirname "$0")/common.sh"
mkdir -p "$WORK/spool" "$WORK/logs"
agent_yaml() { # NAME OUT
  cat <<YAML
agents:
  $1:
    sources:
      s: {type: spooldir, spool_dir: $WORK/spool, poll_delay: 100ms, channels: [c]}
      t: {type: taildir, filegroups: {app: $WORK/logs/*.log}, positions_file: $WORK/state/pos.json, poll_interval: 200ms, channels: [c]}
    channels:
      c: {type: memory}
    sinks:
      k: {type: file_roll, channel: c, directory: $2, format: line, roll_interval: 0}
YAML
}
agent_yaml a1 "$WORK/out1" >"$WORK/a1.yaml"
agent_yaml a2 "$WORK/out2" >"$WORK/a2.yaml"
"$FLUMEN" run "$WORK/a1.yaml" >"$WORK/a1.log" 2>&1 &
A1=$!; PIDS+=($A1)
lines() { cat "$WORK"/out1/* "$WORK"/out2/* 2>/dev/null | wc -l; }
has() { [[ $(lines) -ge $1 ]]; }
# a1 runs both sources once it delivered a line of each.
echo spool-0 >"$WORK/spool/first.txt"
echo tail-0 >"$WORK/logs/app.log"
wait_for 20 has 2 || fail "a1 did not start: $(tail -5 "$WORK/a1.log")"
"$FLUMEN" run "$WORK/a2.yaml" >"$WORK/a2.log" 2>&1 &
A2=$!; PIDS+=($A2)
refused() {
  grep -q "a2.sources.s: spool directory $WORK/spool is read by another running agent (pid $A1)" "$WORK/a2.log" &&
    grep -q "a2.sources.t: positions file $WORK/state/pos.json is used by another running agent (pid $A1)" "$WORK/a2.log"
}
wait_for 20 refused || fail "a2 was not refused: $(grep -m5 'a2.sources' "$WORK/a2.log")"
# Files and lines arrive while both run.
for i in $(seq 1 20); do
  seq -f "spool-$i-%g" 1 100 >"$WORK/spool/.f$i.tmp"
  mv "$WORK/spool/.f$i.tmp" "$WORK/spool/f$i.txt"
  seq -f "tail-$i-%g" 1 100 >>"$WORK/logs/app.log"
done
want=$((2 + 20 * 100 * 2))
wait_for 60 has "$want" || fail "$(lines) of $want lines"
[[ $(cat "$WORK"/out2/* 2>/dev/null | wc -l) -eq 0 ]] || fail "a2 read while a1 held the locks"
# a1 stops: a2 takes over where a1's positions (and done files) end.
kill -TERM "$A1"
wait "$A1" || fail "a1 did not stop cleanly: $(tail -3 "$WORK/a1.log")"
for i in $(seq 21 30); do
  seq -f "spool-$i-%g" 1 100 >"$WORK/spool/.f$i.tmp"
  mv "$WORK/spool/.f$i.tmp" "$WORK/spool/f$i.txt"
  seq -f "tail-$i-%g" 1 100 >>"$WORK/logs/app.log"
done
want=$((want + 10 * 100 * 2))
wait_for 60 has "$want" || fail "$(lines) of $want lines after a1 stopped: $(grep -m5 'a2.sources' "$WORK/a2.log")"
kill -TERM "$A2"
wait "$A2" || fail "a2 did not stop cleanly: $(tail -3 "$WORK/a2.log")"
dups=$(cat "$WORK"/out1/* "$WORK"/out2/* | sort | uniq -d | wc -l)
[[ $dups -eq 0 ]] || fail "$dups lines delivered twice (both agents read them)"
[[ $(lines) -eq $want ]] || fail "$(lines) lines, want $want"
echo "OK: $want lines once; the second agent waited (naming the first's pid) and took over"
