#!/usr/bin/env bash
# Every file under topologies/ validates, and runs (here or in its own
# test: quickstart.sh, netcat_to_kafka.sh).
source "$(dirname "$0")/common.sh"
tested=(quickstart.yaml netcat_kafka.yaml seq_null.yaml exec_file_roll.yaml)
for f in "$ROOT"/topologies/*.yaml; do
  "$FLUMEN" validate "$f" >/dev/null || fail "$f does not validate"
  [[ " ${tested[*]} " == *" $(basename "$f") "* ]] || fail "$(basename "$f") has no run test"
done
# seq_null: generated events through three interceptors into a null sink.
SEQ_COUNT=200000 "$FLUMEN" run "$ROOT/topologies/seq_null.yaml" --exit-on-eof \
  2>"$WORK/seq.log" || fail "seq_null failed: $(tail "$WORK/seq.log")"
grep -q "bench.sinks.drop state=stopped taken=200000 committed=200000" "$WORK/seq.log" \
  || fail "seq_null: $(cat "$WORK/seq.log")"
# exec_file_roll: a command's lines into files and the log.
OUT_DIR=$WORK/out COMMAND="seq 1 1000" "$FLUMEN" run "$ROOT/topologies/exec_file_roll.yaml" \
  --exit-on-eof 2>"$WORK/exec.log" || fail "exec_file_roll failed: $(tail "$WORK/exec.log")"
cat "$WORK"/out/* | sort -n >"$WORK/got"
seq 1 1000 | diff -q - "$WORK/got" >/dev/null || fail "file_roll output differs"
[[ $(grep -c "a1.sinks.log: event {origin=exec}" "$WORK/exec.log") -eq 1000 ]] \
  || fail "logger did not print 1000 events"
echo "1 passed, 0 failed"
