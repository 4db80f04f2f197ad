#!/usr/bin/env bash
# Every file under topologies/ validates, and runs (here or in its own
# test: quickstart.sh, netcat_to_kafka.sh, hop_chain.sh, nodes.sh,
# routing.sh); their test cases pass (flumen test).
source "$(dirname "$0")/common.sh"
tested=(quickstart.yaml netcat_kafka.yaml seq_null.yaml exec_file_roll.yaml taildir_file_kafka.yaml chain.yaml nodes.yaml routing.yaml)
for f in "$ROOT"/topologies/*.yaml; do
  [[ $f == *.tests.yaml ]] && continue # test cases (flumen test, below)
  "$FLUMEN" validate "$f" >/dev/null || fail "$f does not validate"
  [[ " ${tested[*]} " == *" $(basename "$f") "* ]] || fail "$(basename "$f") has no run test"
done
# Their test cases (tests: and NAME.tests.yaml) pass.
"$FLUMEN" test "$ROOT"/topologies/*.yaml >"$WORK/test.out" 2>&1 || fail "flumen test: $(cat "$WORK/test.out")"
grep -q " test cases passed$" "$WORK/test.out" || fail "flumen test: $(cat "$WORK/test.out")"
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
# taildir_file_kafka: a log file into Kafka through a file channel, across
# a kill -9 and a restart.
start_broker --topic logs:4
mkdir -p "$WORK/logs"
run_tail() {
  LOG_DIR=$WORK/logs STATE_DIR=$WORK/state KAFKA=$BOOTSTRAP \
    "$FLUMEN" run "$ROOT/topologies/taildir_file_kafka.yaml" >>"$WORK/tail.log" 2>&1 &
  TAIL_PID=$!
  PIDS+=($TAIL_PID)
}
distinct() { topic_bodies logs | sort -u | wc -l; }
has() { [[ $(distinct) -eq $1 ]]; }
run_tail
seq -f 'tail-%g' 1 1000 >"$WORK/logs/app.log"
wait_for 30 has 1000 || fail "taildir_file_kafka: $(distinct) of 1000 arrived"
kill -9 "$TAIL_PID"
wait "$TAIL_PID" 2>/dev/null || true
seq -f 'tail-%g' 1001 2000 >>"$WORK/logs/app.log"
run_tail
wait_for 30 has 2000 || fail "taildir_file_kafka: $(distinct) of 2000 arrived after a restart"
kill -TERM "$TAIL_PID"
wait "$TAIL_PID" || fail "taildir_file_kafka: the agent did not stop cleanly"
kcat -C -b "$BOOTSTRAP" -t logs -e -q -f '%h\n' -c 1 | matches "service=app" \
  || fail "taildir_file_kafka: no service header"
[[ $(stat -c %a "$WORK/state/channel") == 700 ]] || fail "the channel directory is not 0700"
echo "1 passed, 0 failed"
