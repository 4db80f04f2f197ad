#!/usr/bin/env bash
# Part 6 benchmarks (figures in bench/README.md, "Part 6"): hops and nodes.
# Not a test: it measures, as ratios against a baseline run in the same
# round (these machines are noisy).
#
#   bench/hop.sh                 every row, ROUNDS (default 3) paired rounds
#   bench/hop.sh hop_null tls    some rows
#
# Rows (N lines of 100 B from one `nc -N`, default N=1,000,000):
#   hop_null   nc -> edge (netcat -> memory -> hop) -> collector (hop ->
#              memory -> null), against nc -> netcat -> memory -> null in
#              one agent. Target >= 0.8x.
#   tls        the hop with mutual TLS against the plaintext hop. Target
#              >= 0.6x.
#   lz4, zstd  the hop with compression against no compression.
#   avro       nc -> edge (netcat -> memory -> avro sink) -> collector (avro
#              source -> memory -> null): Flume's Avro RPC between two
#              flumen agents, with the avro sink's defaults (1,000 events a
#              call, 4 calls out) and with Flume's (batch_size 100,
#              max_inflight 1, as `flumen import` writes), against the hop
#              chain. Target >= 0.8x.
#   avsc       avsc (npm; tests/support/avro_peer.js, one appendBatch of
#              1000 at a time, as Flume's clients) -> avro source -> memory
#              -> null, against the hop chain. Target >= 0.8x.
# Each agent's CPU-seconds per million lines (/proc/PID/stat, from the
# first byte sent to the last commit) follow each row.
#   nodes      nc -> netcat -> memory -> kafka with 4 replicas on 2
#              `flumen node`s, against one local kafka sink, both into the
#              same `flumen broker` (64 partitions); kcat -P in the same
#              round for scale.
# Each run is timed from the first byte sent until the last sink's counters
# (logged every 20 ms) show every line committed: the log line's timestamp.
set -euo pipefail
cd "$(dirname "$0")/.."
FLUMEN=${FLUMEN:-$PWD/build/flumen}
ROUNDS=${ROUNDS:-3}
N=${N:-1000000}
ROWS=${*:-hop_null tls lz4 zstd nodes avro avsc}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { local d=$((SECONDS + $1)); shift; until "$@"; do ((SECONDS < d)) || return 1; sleep 0.02; done; }
log_epoch() { local d t; read -r d t _ <<<"$1"; date -d "$d $t" +%s.%N; }
pad=$(printf '%0093d' 0)
seq -f "%07.0f$pad" 1 "$N" >"$WORK/lines" # 100 B lines
bash tests/e2e/mkcerts.sh "$WORK" b >/dev/null
TLS="{certificate: $WORK/b.pem, key: $WORK/b.key, ca_file: $WORK/b-ca.pem}"

# run_agents FILE SINK_METRIC AGENT...: starts the agents (last one gets the
# lines), sends the lines, prints the seconds until SINK_METRIC committed N.
run_agents() {
  local file=$1 metric=$2; shift 2
  local pids=() a port
  for a in "$@"; do
    "$FLUMEN" run "$file" --agent "$a" --stats-interval 0.02 >"$WORK/$a.log" 2>&1 &
    pids+=($!); PIDS+=($!)
  done
  port=$(grep -o "netcat, port: [0-9]*" "$file" | grep -o "[0-9]*$")
  wait_for 30 nc -z 127.0.0.1 "$port" || fail "no listener: $(tail -3 "$WORK/$a.log")"
  if [[ " $* " == *" edge "* ]]; then # its hop sink connected
    wait_for 30 grep -q "connected to" "$WORK/edge.log" || fail "edge not connected"
  fi
  # CPU from the first byte to the last commit, as bench/run.sh's Kafka
  # rows count it: an agent's start (~0.03 CPU-s) is not a per-line cost,
  # and the chain has two.
  local ticks0=() p
  for p in "${pids[@]}"; do ticks0+=("$(ticks "$p")"); done
  local t0; t0=$(date +%s.%N)
  nc -N 127.0.0.1 "$port" <"$WORK/lines"
  local log="$WORK/${metric%%.*}.log"
  wait_for 300 grep -Eq "$metric .*committed=$N( |$)" "$log" || fail "$metric did not commit $N: $(tail -3 "$log")"
  local t1; t1=$(log_epoch "$(grep -Em1 "$metric .*committed=$N( |$)" "$log")")
  local i=0
  CPU=
  for a in "$@"; do
    CPU+="${CPU:+, }$a $(cpu_per_million "${pids[$i]}" "${ticks0[$i]}")"
    i=$((i + 1))
  done
  echo "$CPU" >"$WORK/cpu"
  for p in "${pids[@]}"; do kill -TERM "$p"; wait "$p" || true; done
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
# ticks PID: its CPU time so far (utime + stime), in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# cpu_per_million PID TICKS0: its CPU-seconds since TICKS0 per million
# lines (of N).
cpu_per_million() {
  awk -v n="$N" -v h="$(getconf CLK_TCK)" -v t0="$2" '{ printf "%.2f", ($14 + $15 - t0) / h / (n / 1e6) }' "/proc/$1/stat"
}

chain_yaml() { # FILE HOP_SINK_EXTRA HOP_SOURCE_EXTRA
  local np hp; np=$(free_port); hp=$(free_port)
  cat >"$1" <<YAML
agents:
  collector:
    sources:
      in: {type: hop, port: $hp, channels: [c1]$3}
    channels:
      c1: {type: memory}
    sinks:
      drop: {type: "null", channel: c1}
  edge:
    sources:
      r1: {type: netcat, port: $np, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $hp$2}
YAML
}
single_yaml() {
  cat >"$1" <<YAML
agents:
  single:
    sources:
      r1: {type: netcat, port: $(free_port), channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      drop: {type: "null", channel: c1}
YAML
}
rate() { awk -v n="$N" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; } # time a / time b as a rate ratio

row_hop_null() {
  single_yaml "$WORK/single.yaml"; chain_yaml "$WORK/chain.yaml" "" ""
  local base hop c_base
  base=$(run_agents "$WORK/single.yaml" single.sinks.drop single)
  c_base=$(cat "$WORK/cpu")
  hop=$(run_agents "$WORK/chain.yaml" collector.sinks.drop collector edge)
  echo "hop_null: one agent $(rate "$base") lines/s ($c_base CPU-s/M), edge->hop->collector $(rate "$hop") lines/s: $(ratio "$hop" "$base")x ($(cat "$WORK/cpu") CPU-s/M)"
}
row_tls() {
  chain_yaml "$WORK/plain.yaml" "" ""
  chain_yaml "$WORK/tls.yaml" ", tls: $TLS" ", tls: $TLS"
  local plain tls c_plain
  plain=$(run_agents "$WORK/plain.yaml" collector.sinks.drop collector edge)
  c_plain=$(cat "$WORK/cpu")
  tls=$(run_agents "$WORK/tls.yaml" collector.sinks.drop collector edge)
  echo "tls: plaintext hop $(rate "$plain") lines/s ($c_plain CPU-s/M), mutual TLS $(rate "$tls") lines/s: $(ratio "$tls" "$plain")x ($(cat "$WORK/cpu") CPU-s/M)"
}
row_codec() { # lz4|zstd
  chain_yaml "$WORK/none.yaml" "" ""
  chain_yaml "$WORK/c.yaml" ", compression: $1" ""
  local none c
  none=$(run_agents "$WORK/none.yaml" collector.sinks.drop collector edge)
  c=$(run_agents "$WORK/c.yaml" collector.sinks.drop collector edge)
  echo "$1: no compression $(rate "$none") lines/s, $1 $(rate "$c") lines/s: $(ratio "$c" "$none")x"
}
avro_chain_yaml() { # FILE SINK_EXTRA
  local np hp; np=$(free_port); hp=$(free_port)
  cat >"$1" <<YAML
agents:
  acollector:
    sources:
      in: {type: avro, port: $hp, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      drop: {type: "null", channel: c1}
  aedge:
    sources:
      r1: {type: netcat, port: $np, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      a1: {type: avro, channel: c1, hostname: 127.0.0.1, port: $hp$2}
YAML
}
row_avro() {
  chain_yaml "$WORK/hop.yaml" "" ""
  avro_chain_yaml "$WORK/avro.yaml" ""
  avro_chain_yaml "$WORK/avro_flume.yaml" ", batch_size: 100, max_inflight: 1"
  local hop avro fl c_hop c_avro
  hop=$(run_agents "$WORK/hop.yaml" collector.sinks.drop collector edge)
  c_hop=$(cat "$WORK/cpu")
  avro=$(run_agents "$WORK/avro.yaml" acollector.sinks.drop acollector aedge)
  c_avro=$(cat "$WORK/cpu")
  fl=$(run_agents "$WORK/avro_flume.yaml" acollector.sinks.drop acollector aedge)
  echo "avro: hop $(rate "$hop") lines/s ($c_hop CPU-s/M); avro, defaults (1000 a call, 4 out) $(rate "$avro") lines/s: $(ratio "$avro" "$hop")x ($c_avro); avro, Flume's batch_size 100, max_inflight 1 $(rate "$fl") lines/s: $(ratio "$fl" "$hop")x ($(cat "$WORK/cpu"))"
}
row_avsc() {
  chain_yaml "$WORK/hop.yaml" "" ""
  local hop c_hop ap
  hop=$(run_agents "$WORK/hop.yaml" collector.sinks.drop collector edge)
  c_hop=$(cat "$WORK/cpu")
  ap=$(free_port)
  cat >"$WORK/avsc.yaml" <<YAML
agents:
  acollector:
    sources:
      in: {type: avro, port: $ap, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      drop: {type: "null", channel: c1}
YAML
  "$FLUMEN" run "$WORK/avsc.yaml" --stats-interval 0.02 >"$WORK/acollector.log" 2>&1 &
  local pid=$!; PIDS+=($pid)
  wait_for 30 nc -z 127.0.0.1 "$ap" || fail "no avro listener: $(tail -3 "$WORK/acollector.log")"
  local t0 t1 c_node k0
  k0=$(ticks "$pid")
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$WORK/node_cpu" node tests/support/avro_peer.js client "$ap" "$N" 1000 --prefix b >/dev/null
  wait_for 300 grep -Eq "acollector.sinks.drop .*committed=$N( |$)" "$WORK/acollector.log" || fail "avsc: not committed"
  t1=$(log_epoch "$(grep -Em1 "acollector.sinks.drop .*committed=$N( |$)" "$WORK/acollector.log")")
  local cpu; cpu=$(cpu_per_million "$pid" "$k0")
  kill -TERM "$pid"; wait "$pid" || true
  c_node=$(awk -v n="$N" '{ printf "%.2f", ($1 + $2) / (n / 1e6) }' "$WORK/node_cpu")
  local av; av=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  echo "avsc: hop $(rate "$hop") lines/s ($c_hop CPU-s/M); avsc client -> avro source $(rate "$av") lines/s: $(ratio "$av" "$hop")x (acollector $cpu, node $c_node CPU-s/M)"
}
row_lz4() { row_codec lz4; }
row_zstd() { row_codec zstd; }
row_nodes() {
  "$FLUMEN" broker --brokers 3 >"$WORK/boot$R" 2>/dev/null & PIDS+=($!)
  local broker=$!
  wait_for 20 test -s "$WORK/boot$R" || fail "broker"
  local b; b=$(head -n1 "$WORK/boot$R")
  [[ -n $b ]] || fail "no broker address"
  local p1 p2; p1=$(free_port); p2=$(free_port)
  "$FLUMEN" node --listen "127.0.0.1:$p1" --name n1 >"$WORK/n1.log" 2>&1 & PIDS+=($!); local n1=$!
  "$FLUMEN" node --listen "127.0.0.1:$p2" --name n2 >"$WORK/n2.log" 2>&1 & PIDS+=($!); local n2=$!
  wait_for 20 grep -q listening "$WORK/n1.log"; wait_for 20 grep -q listening "$WORK/n2.log"
  local t
  for t in local placed kcat; do
    kcat -b "$b" -L -t "$t-$R" >/dev/null 2>&1 || true
  done
  cat >"$WORK/local.yaml" <<YAML
agents:
  local:
    sources:
      r1: {type: netcat, port: $(free_port), channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      k1: {type: kafka, channel: c1, bootstrap_servers: '$b', topic: local-$R}
YAML
  cat >"$WORK/placed.yaml" <<YAML
nodes:
  n1: {host: 127.0.0.1, port: $p1}
  n2: {host: 127.0.0.1, port: $p2}
agents:
  placed:
    sources:
      r1: {type: netcat, port: $(free_port), channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      k1: {type: kafka, channel: c1, replicas: 4, placement: [n1, n2], bootstrap_servers: '$b', topic: placed-$R}
YAML
  local t0 t1 kc loc pl
  t0=$(date +%s.%N); kcat -P -b "$b" -t "kcat-$R" -l "$WORK/lines"; t1=$(date +%s.%N)
  kc=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  loc=$(run_agents "$WORK/local.yaml" local.sinks.k1 local)
  # The placed sink's replicas commit separately: sum them from the last
  # counter lines of the channel instead.
  pl=$(run_agents_channel "$WORK/placed.yaml" placed)
  echo "nodes: kcat -P $(rate "$kc") msg/s; 1 local sink $(rate "$loc") ($(ratio "$loc" "$kc")x kcat); 4 replicas on 2 nodes $(rate "$pl") ($(ratio "$pl" "$kc")x kcat, $(ratio "$pl" "$loc")x the local sink)"
  kill -TERM "$n1" "$n2" "$broker"; wait "$n1" || true; wait "$n2" || true; wait "$broker" || true
}
# Like run_agents, timed until the channel (not one sink) committed N.
run_agents_channel() {
  local file=$1 a=$2
  "$FLUMEN" run "$file" --agent "$a" --stats-interval 0.02 >"$WORK/$a.log" 2>&1 &
  local pid=$!; PIDS+=($pid)
  local port; port=$(grep -o "netcat, port: [0-9]*" "$file" | grep -o "[0-9]*$")
  wait_for 30 nc -z 127.0.0.1 "$port" || fail "no listener"
  placed4() { [[ $(grep -c "running on node" "$WORK/$a.log") -ge 4 ]]; }
  wait_for 30 placed4 || fail "replicas not placed"
  local t0; t0=$(date +%s.%N)
  nc -N 127.0.0.1 "$port" <"$WORK/lines"
  wait_for 300 grep -Eq "$a.channels.c1 .*committed=$N( |$)" "$WORK/$a.log" || fail "placed: not committed"
  local t1; t1=$(log_epoch "$(grep -Em1 "$a.channels.c1 .*committed=$N( |$)" "$WORK/$a.log")")
  kill -TERM "$pid"; wait "$pid" || true
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

echo "# bench/hop.sh: N=$N lines of 100 B, $ROUNDS rounds, $(nproc) cores, $(date -u +%F)"
for R in $(seq 1 "$ROUNDS"); do
  for row in $ROWS; do
    echo "round $R: $("row_$row")"
  done
done
