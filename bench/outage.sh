#!/usr/bin/env bash
# Benchmark: the Kafka brokers go down for 5 s every 30 s (figures go to
# bench/README.md, "Brokers down 5 s every 30 s"). Not a test: it measures
# and reports; it fails only when it cannot measure.
#
#   bench/outage.sh           RATE=12000 SECONDS_TOTAL=70 by default
#
# netcat -> memory -> kafka (bench/netcat_kafka.yaml, --stats-interval 1)
# into its own `flumen broker` (3 brokers, one topic of 64 partitions). One
# nc client sends RATE numbered 100-byte lines a second for SECONDS_TOTAL
# seconds (RATE x SECONDS_TOTAL lines in all, in order on one connection);
# when it is pushed back it falls behind and then catches up as fast as the
# agent reads. The broker process (the whole embedded cluster) is frozen
# with SIGSTOP at 30 s, 60 s, ... for 5 s each, then resumed with SIGCONT.
#
# The rate is bounded by what the embedded cluster keeps, not by flumen:
# ~5 MiB per partition (~47,000 of these ~110-byte records), older records
# dropped silently. librdkafka's sticky partitioner sends whatever is
# produced within 10 ms (a sink batch or more) to one partition, so
# partitions fill unevenly: at 18,000 lines/s (mean 19,700 records per
# partition) the fullest held 35,000 without outages and 41,000-46,000
# with them (the catch-up bursts); at 28,000 lines/s one overflowed. The
# default 12,000 lines/s (840,000 lines) keeps the fullest near 3 MiB.
# Whether the cluster dropped anything is checked (start offsets) and
# reported with the fullest partition.
#
# Reports: throughput (distinct lines delivered / wall time from the first
# line sent to the sink's counters showing every accepted line committed),
# the agent's peak RSS, lost lines (lines the source accepted, from its
# exit log, that are not in the topic), duplicated lines (records - distinct).
set -euo pipefail
cd "$(dirname "$0")/.."
FLUMEN=${FLUMEN:-build/flumen}
RATE=${RATE:-12000}
SECONDS_TOTAL=${SECONDS_TOTAL:-70}
PERIOD=30 # seconds between outages
DOWN=5    # seconds each outage lasts
PARTS=64
TOPIC=bench_outage
LINES=$((RATE * SECONDS_TOTAL))
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do
    kill -CONT "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Microseconds since the epoch.
now_us() { echo "${EPOCHREALTIME/./}"; }
# sleep_until US: the fault schedule and the client's pacing (not waiting
# for a condition).
sleep_until() {
  local us=$(($1 - $(now_us)))
  if ((us > 0)); then sleep "$(printf '%d.%06d' $((us / 1000000)) $((us % 1000000)))"; fi
}
# The start (-2) or end (-1) offset of every partition, one a line.
offsets() {
  local args=()
  for p in $(seq 0 $((PARTS - 1))); do args+=(-t "$TOPIC:$p:$1"); done
  kcat -Q -b "$BOOTSTRAP" "${args[@]}" 2>/dev/null | awk '{ print $NF }'
}

"$FLUMEN" broker --topic "$TOPIC:$PARTS" >"$WORK/bootstrap" 2>/dev/null &
BROKER=$!
PIDS+=($BROKER)
for _ in $(seq 200); do [[ -s $WORK/bootstrap ]] && break; sleep 0.05; done
BOOTSTRAP=$(head -n1 "$WORK/bootstrap")
[[ -n $BOOTSTRAP ]] || { echo "broker did not start"; exit 1; }

PORT=$((20000 + RANDOM % 20000))
NETCAT_PORT=$PORT KAFKA=$BOOTSTRAP TOPIC=$TOPIC "$FLUMEN" run bench/netcat_kafka.yaml \
  --stats-interval 1 2>"$WORK/agent.log" &
AGENT=$!
PIDS+=($AGENT)
for _ in $(seq 200); do nc -z 127.0.0.1 "$PORT" 2>/dev/null && break; sleep 0.05; done

echo "== brokers down ${DOWN} s every ${PERIOD} s: $LINES lines of 100 B at $RATE lines/s" \
  "for ${SECONDS_TOTAL} s, nc -> netcat -> memory -> kafka ($PARTS partitions)"
# The client: a tenth of a second's lines at a time, "%-99d\n" like run.sh,
# paced against the clock so that it catches up after being pushed back.
client() {
  local chunk=$((RATE / 10)) start c
  start=$(now_us)
  for ((c = 0; c * chunk < LINES; c++)); do
    awk -v a=$((c * chunk + 1)) -v b=$(((c + 1) * chunk)) -v n="$LINES" \
      'BEGIN { if (b > n) b = n; for (i = a; i <= b; i++) printf "%-99d\n", i }'
    sleep_until $((start + (c + 1) * 100000))
  done
}
T0=$(now_us)
START_STAMP=$(date +%s.%N)
client | nc -N 127.0.0.1 "$PORT" &
CLIENT=$!
PIDS+=($CLIENT)
for ((at = PERIOD; at < SECONDS_TOTAL; at += PERIOD)); do
  sleep_until $((T0 + at * 1000000))
  kill -STOP "$BROKER"
  echo "t=${at}s: brokers frozen (SIGSTOP)"
  sleep_until $((T0 + (at + DOWN) * 1000000))
  kill -CONT "$BROKER"
  echo "t=$((at + DOWN))s: brokers resumed (SIGCONT)"
done
wait "$CLIENT" || { echo "client failed"; exit 1; }
CLIENT_S=$(awk -v a="$T0" -v b="$(now_us)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
echo "client done after ${CLIENT_S}s"

# Every line read and committed: the source's received count reaches LINES
# (the client closed cleanly) and the sink's committed count equals it.
last_stats() { grep "bench\.$1 state=" "$WORK/agent.log" | tail -1; }
counter() { grep -o " $2=[0-9]*" <<<"$1" | cut -d= -f2 || true; }
deadline=$((SECONDS + 180))
until [[ $(counter "$(last_stats sources.tcp)" received) == "$LINES" &&
  $(counter "$(last_stats sinks.kafka)" committed) == "$LINES" ]]; do
  ((SECONDS < deadline)) || { echo "not everything committed after 180 s:"; tail -3 "$WORK/agent.log"; break; }
  sleep 0.2
done
kill -TERM "$AGENT"
AGENT_CODE=0
wait "$AGENT" || AGENT_CODE=$?

# Wall time: first line sent -> first stats line showing every accepted line
# committed (stats every second, so up to 1 s late).
ACCEPTED=$(counter "$(last_stats sources.tcp)" accepted)
ACCEPTED=${ACCEPTED:-0}
stamp=$(grep -m1 "bench\.sinks\.kafka .* committed=$ACCEPTED " "$WORK/agent.log" | awk '{ print $1 " " $2 }')
END_STAMP=$(date -d "$stamp" +%s.%N)
WALL_S=$(awk -v a="$START_STAMP" -v b="$END_STAMP" 'BEGIN { printf "%.1f", b - a }')
RSS=$(grep -o 'peak RSS [0-9]* MiB' "$WORK/agent.log" | grep -o '[0-9]*')
SINK=$(last_stats sinks.kafka)
ROLLED_BACK=$(counter "$SINK" rolled_back)
MAX_CHANNEL=$(grep -o 'bench\.channels\.mem .* size=[0-9]*' "$WORK/agent.log" \
  | grep -o 'size=[0-9]*' | cut -d= -f2 | sort -n | tail -1)
# The sink's best second (committed delta between two stats lines ~1 s apart).
PEAK_RATE=$(grep 'bench\.sinks\.kafka state=' "$WORK/agent.log" | awk '{
  split($2, t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3]
  c = 0; for (i = 3; i <= NF; i++) if ($i ~ /^committed=/) { split($i, kv, "="); c = kv[2] }
  if (NR > 1 && s > ps) { r = (c - pc) / (s - ps); if (r > best) best = r }
  ps = s; pc = c } END { printf "%.0f", best }')

# What the topic holds.
DROPPED_BY_CLUSTER=$(offsets -2 | awk '{ s += $1 } END { print s + 0 }')
FULLEST=$(offsets -1 | sort -n | tail -1)
kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -e -q -f '%s\n' 2>/dev/null | awk '{ print $1 }' >"$WORK/all"
TOTAL=$(wc -l <"$WORK/all")
sort -n -u "$WORK/all" >"$WORK/distinct"
DISTINCT=$(wc -l <"$WORK/distinct")
# Accepted lines are 1..ACCEPTED (one client, in order): count those present.
PRESENT=$(awk -v a="$ACCEPTED" '$1 >= 1 && $1 <= a { c++ } END { print c + 0 }' "$WORK/distinct")
LOST=$((ACCEPTED - PRESENT))
DUPS=$((TOTAL - DISTINCT))
THROUGHPUT=$(awk -v n="$DISTINCT" -v t="$WALL_S" 'BEGIN { printf "%.0f", n / t }')

echo "client sent $LINES lines; source accepted $ACCEPTED; agent exit code $AGENT_CODE"
echo "wall time ${WALL_S}s (first line sent -> every accepted line committed)"
echo "throughput: $DISTINCT distinct lines / ${WALL_S}s = $THROUGHPUT lines/s" \
  "(offered: $RATE lines/s; best second of the sink: $PEAK_RATE lines/s)"
echo "peak RSS: ${RSS} MiB; channel size peaked at ${MAX_CHANNEL:-0}; events rolled back: ${ROLLED_BACK:-0}"
echo "lost lines (accepted, not in the topic): $LOST"
echo "duplicated lines (records - distinct): $DUPS ($TOTAL records, $DISTINCT distinct)"
echo "fullest partition: $FULLEST records (mean $((TOTAL / PARTS))); dropped by the cluster's retention: $DROPPED_BY_CLUSTER"
if ((DROPPED_BY_CLUSTER > 0)); then
  echo "WARNING: the embedded cluster dropped $DROPPED_BY_CLUSTER old records (retention);" \
    "lost lines are not meaningful; lower RATE or SECONDS_TOTAL"
fi
