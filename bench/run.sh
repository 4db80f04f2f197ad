#!/usr/bin/env bash
# flumen's benchmarks (figures go to bench/README.md). Not a test: it
# measures, and reports each rate next to a baseline measured in the same
# run on the same machine, because these machines are noisy.
#
#   bench/run.sh [LINES]      default 1000000 (SKIP_OUTAGE=1: no outage case)
#
# 1. Kafka: LINES lines of 100 bytes sent with nc into netcat -> memory ->
#    kafka, against `kcat -P` producing the same file into the same
#    embedded cluster (64 partitions per topic). Reports both rates, their
#    ratio and flumen's peak RSS.
# 2. In-process: seq -> timestamp, host, static -> memory -> null.
# 3. Brokers down 5 s every 30 s (bench/outage.sh, its own broker): the
#    Kafka pipeline under a steady stream; throughput, RSS, lost and
#    duplicated lines.
set -euo pipefail
cd "$(dirname "$0")/.."
FLUMEN=${FLUMEN:-build/flumen}
LINES=${1:-1000000}
ROUNDS=${ROUNDS:-3}
WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }

# End offsets of every partition of a topic, summed.
topic_total() {
  local args=()
  for p in $(seq 0 63); do args+=(-t "$1:$p:-1"); done
  kcat -Q -b "$BOOTSTRAP" "${args[@]}" 2>/dev/null | awk '{ s += $NF } END { print s + 0 }'
}

topics=()
for r in $(seq "$ROUNDS"); do topics+=(--topic "bench_kcat_$r:64" --topic "bench_flumen_$r:64"); done
"$FLUMEN" broker "${topics[@]}" >"$WORK/bootstrap" 2>/dev/null &
BROKER=$!
PIDS+=($BROKER)
for _ in $(seq 200); do [[ -s $WORK/bootstrap ]] && break; sleep 0.05; done
BOOTSTRAP=$(head -n1 "$WORK/bootstrap")

# 100-byte lines: a number padded to 99 characters, then '\n'.
awk -v n="$LINES" 'BEGIN { for (i = 1; i <= n; i++) printf "%-99d\n", i }' >"$WORK/lines"

RATIOS=()
for r in $(seq "$ROUNDS"); do
echo "-- round $r of $ROUNDS"
echo "== kcat -P baseline: $LINES lines of 100 B"
# kcat: from start until it exits (it exits once every message was
# acknowledged). flumen: from the first byte sent until the sink's counters
# (logged every 20 ms) show every line committed, i.e. acknowledged by the
# cluster. No polling process runs during either measurement.
t0=$(now)
kcat -P -b "$BOOTSTRAP" -t bench_kcat_$r -l "$WORK/lines"
t1=$(now)
KCAT_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
[[ $(topic_total bench_kcat_$r) -ge $LINES ]] || { echo "kcat did not produce everything"; exit 1; }
KCAT_RATE=$(rate "$LINES" "$KCAT_S")
echo "kcat: ${KCAT_S}s, $KCAT_RATE msg/s"

echo "== flumen: nc -> netcat -> memory -> kafka"
PORT=$((20000 + RANDOM % 20000))
NETCAT_PORT=$PORT KAFKA=$BOOTSTRAP TOPIC=bench_flumen_$r "$FLUMEN" run bench/netcat_kafka.yaml \
  --stats-interval 0.02 2>"$WORK/agent.log" &
AGENT=$!
PIDS+=($AGENT)
for _ in $(seq 200); do nc -z 127.0.0.1 "$PORT" 2>/dev/null && break; sleep 0.05; done
t0=$(now)
nc -N 127.0.0.1 "$PORT" <"$WORK/lines"
until grep -q "bench.sinks.kafka .* committed=$LINES " "$WORK/agent.log"; do sleep 0.1; done
kill -TERM "$AGENT"; wait "$AGENT" || true
[[ $(topic_total bench_flumen_$r) -ge $LINES ]] || { echo "flumen did not deliver everything"; exit 1; }
stamp=$(grep -m1 "bench.sinks.kafka .* committed=$LINES " "$WORK/agent.log" | awk '{ print $1 " " $2 }')
t1=$(date -d "$stamp" +%s.%N)
FLUMEN_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
FLUMEN_RATE=$(rate "$LINES" "$FLUMEN_S")
RSS=$(grep -o 'peak RSS [0-9]* MiB' "$WORK/agent.log" | grep -o '[0-9]*')
echo "flumen: ${FLUMEN_S}s, $FLUMEN_RATE msg/s, peak RSS ${RSS} MiB"
RATIO=$(awk -v a="$FLUMEN_RATE" -v b="$KCAT_RATE" 'BEGIN { printf "%.2f", a / b }')
echo "ratio flumen / kcat: $RATIO (target >= 0.80)"
RATIOS+=("$RATIO")

done
MEDIAN=$(printf "%s\n" "${RATIOS[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "median ratio of $ROUNDS rounds: $MEDIAN (target >= 0.80)"

echo "== flumen in process: seq -> timestamp, host, static -> memory -> null"
COUNT=$((LINES * 5))
SEQ_COUNT=$COUNT "$FLUMEN" run topologies/seq_null.yaml --exit-on-eof 2>"$WORK/seq.log"
# From the start line to the line saying every source reached its end.
SEQ_S=$(grep -E 'starting|reached its end' "$WORK/seq.log" | awk '{ split($2, t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3]; if (NR == 1) a = s; else b = s } END { print b - a }')
SEQ_RATE=$(rate "$COUNT" "$SEQ_S")
SEQ_RSS=$(grep -o 'peak RSS [0-9]* MiB' "$WORK/seq.log" | grep -o '[0-9]*')
echo "in-process: $COUNT events in ${SEQ_S}s: $SEQ_RATE events/s (target >= 2000000), peak RSS ${SEQ_RSS} MiB"

# The first cluster is no longer needed (it holds several hundred MB);
# outage.sh starts its own.
kill "$BROKER" 2>/dev/null || true
wait "$BROKER" 2>/dev/null || true
[[ ${SKIP_OUTAGE:-} ]] || FLUMEN=$FLUMEN bench/outage.sh
