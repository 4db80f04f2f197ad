#!/usr/bin/env bash
# The crash loop: a writer appends numbered lines to a log file and rotates
# it, both ways (rename + create, and copy + truncate), while an agent runs
# taildir -> file channel -> Kafka; the agent is killed with SIGKILL at
# random moments 20 times and started again. At the end every line is in
# the topic at least once; the duplicates are counted, reported and bounded.
source "$(dirname "$0")/common.sh"

KILLS=${KILLS:-20}
LINES=${LINES:-40000}
start_broker --topic logs:16
mkdir -p "$WORK/logs"
cat >"$WORK/agent.yaml" <<EOF
agents:
  a1:
    sources:
      tail:
        type: taildir
        filegroups: {app: $WORK/logs/*.log}
        positions_file: $WORK/positions.json
        channels: [durable]
    channels:
      durable: {type: file, directory: $WORK/channel, max_file_size: 1MB}
    sinks:
      kafka:
        type: kafka
        channel: durable
        topic: logs
        bootstrap_servers: $BOOTSTRAP
EOF
"$FLUMEN" validate "$WORK/agent.yaml" >/dev/null || fail "the topology does not validate"

# The writer: numbered lines, a rotation every 2,000 lines, alternating
# rename + create and copy + truncate (logrotate's two ways).
writer() {
  local log="$WORK/logs/app.log" n=1 rot=0
  while ((n <= LINES)); do
    for ((i = 0; i < 200 && n <= LINES; i++, n++)); do
      printf 'line-%06d\n' "$n"
    done >>"$log"
    if ((n % 2000 == 1)); then
      rot=$((rot + 1))
      if ((rot % 2)); then
        mv "$log" "$log.$rot"
      else
        cp "$log" "$log.c$rot" && : >"$log"
      fi
    fi
    sleep 0.02
  done
  echo done >"$WORK/writer.done"
}
writer &
WRITER=$!
PIDS+=($WRITER)

start_agent() {
  "$FLUMEN" run "$WORK/agent.yaml" >>"$WORK/agent.log" 2>&1 &
  AGENT=$!
}
for ((k = 1; k <= KILLS; k++)); do
  start_agent
  # A random moment: 0.2 to 1.2 s into the run.
  python3 -c "import random,time; time.sleep(random.uniform(0.2, 1.2))"
  kill -9 "$AGENT"
  wait "$AGENT" 2>/dev/null || true
done
wait_for 120 test -e "$WORK/writer.done" || fail "the writer did not finish"
start_agent
PIDS+=($AGENT)

all_arrived() { [[ $(topic_bodies logs | sort -u | wc -l) -ge $LINES ]]; }
wait_for 120 all_arrived || true
kill -TERM "$AGENT"
wait "$AGENT" || true

[[ -z ${SAVE_LOG:-} ]] || cp "$WORK/agent.log" "$SAVE_LOG"
topic_bodies logs | sort >"$WORK/got"
seq -f 'line-%06g' 1 "$LINES" >"$WORK/want"
missing=$(comm -23 "$WORK/want" <(sort -u "$WORK/got") | wc -l)
total=$(wc -l <"$WORK/got")
unique=$(sort -u "$WORK/got" | wc -l)
dups=$((total - unique))
echo "crash loop: $KILLS kills, $LINES lines written, $total in the topic," \
  "$unique distinct, $missing missing, $dups duplicates"
if ((missing > 0)); then
  comm -23 "$WORK/want" <(sort -u "$WORK/got") | head -5 >&2
  grep -E "error|warn" "$WORK/agent.log" | tail -20 >&2
  fail "$missing lines lost"
fi
extra=$(comm -13 "$WORK/want" <(sort -u "$WORK/got") | wc -l)
((extra == 0)) || fail "$extra lines in the topic that were never written"
# Bounded: each kill may deliver again what was in flight (the source's
# window, the sink's open transactions), never a whole file again.
((dups <= KILLS * 5000)) || fail "$dups duplicates: more than a window per kill"
grep -q "ready in" "$WORK/agent.log" || fail "the channel never said it was ready"
grep -c "reading the copy\|renamed to\|was truncated" "$WORK/agent.log" | sed "s/^/rotation messages in the log: /"
echo "OK"
