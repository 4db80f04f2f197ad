#!/usr/bin/env bash
# Writes app/startup-order.txt: the sections of the functions of flumen's own
# code that an agent runs while it starts and waits (netcat -> memory ->
# null), then those one runs besides while it moves lines (into a memory
# channel to null, a memory channel to Kafka, a file channel to null), for
# the linker to lay them out together in that order (gold's
# --section-ordering-file; app/CMakeLists.txt). Scattered over the binary,
# those functions made the kernel map 3 MB of its 4 MB of code into every
# idle agent (it maps 64 KB around each page touched); together they take
# well under 1 MB (bench/README.md, part 13, seventh pass).
#
#   app/startup_order.sh [BUILD_DIR]  (default build: its flumen and the
#                                      objects it was linked from; needs
#                                      valgrind and binutils' objdump)
#
# The list is a layout hint, not a contract: a function missing from it
# (new code, renamed code) still links and runs, only elsewhere in the
# binary. Run this again after large changes and commit the result.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
BUILD=$(realpath "${1:-build}")
BIN=$BUILD/flumen
[[ -x $BIN ]] || { echo "startup_order.sh: no $BIN (build it first)" >&2; exit 1; }
OUT=app/startup-order.txt
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
  { echo "startup_order.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
WORK=$(mktemp -d)
VG=
BROKER=
stop_all() {
  local p
  for p in $VG $BROKER; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  VG= BROKER=
}
trap 'stop_all; rm -rf "$WORK"' EXIT

PORT=
for _ in $(seq 50); do
  PORT=$((20000 + RANDOM % 12000))
  nc -z 127.0.0.1 "$PORT" 2>/dev/null || break
done

# wait_for SECONDS WHAT PID CMD...: polls CMD every 100 ms until it
# succeeds; fails when process PID exits first.
wait_for() {
  local end=$((SECONDS + $1)) what=$2 pid=$3
  shift 3
  until "$@"; do
    kill -0 "$pid" 2>/dev/null || { echo "startup_order.sh: the process ($pid) exited while waiting for $what" >&2; exit 1; }
    ((SECONDS < end)) || { echo "startup_order.sh: timed out waiting for $what" >&2; exit 1; }
    sleep 0.1
  done
}
committed() { grep -Eq "order\.sinks\.$1 .* committed=$2( |$)" "$WORK/$3.log"; }
dumped() { [[ -s $WORK/$1.cg.1 ]]; }

# profile NAME: runs the agent of $WORK/NAME.yaml under callgrind until it
# listens, then (busy) sends it 20,000 lines and waits until every sink
# committed them; the functions of the binary that ran, in $WORK/NAME.ran.
profile() {
  local name=$1 sink
  valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no \
    --callgrind-out-file="$WORK/$name.cg" "$BIN" run "$WORK/$name.yaml" \
    --stats-interval 0.1 2>"$WORK/$name.log" &
  VG=$!
  wait_for 300 "the agent's port" "$VG" nc -z 127.0.0.1 "$PORT"
  if [[ $name == busy ]]; then
    seq 1 20000 | nc -N 127.0.0.1 "$PORT"
    for sink in drop kafka fdrop; do
      wait_for 300 "sink $sink to commit the lines" "$VG" committed "$sink" 20000 "$name"
    done
  else
    sleep 1 # what an idle agent runs while it waits (its timers)
  fi
  callgrind_control -d "$VG" >/dev/null 2>&1
  wait_for 120 "callgrind's dump" "$VG" dumped "$name"
  stop_all
  awk -v bin="$BIN" '
    /^ob=/ { ob = substr($0, 4) }
    /^fn=/ && ob == bin { print substr($0, 4) }' "$WORK/$name.cg.1" | sort -u >"$WORK/$name.ran"
}

# An idle agent: netcat -> memory -> null, as it starts and waits.
cat >"$WORK/idle.yaml" <<EOF
agents:
  order:
    sources:
      tcp: {type: netcat, port: $PORT, channels: [ch]}
    channels:
      ch: {type: memory}
    sinks:
      drop: {type: "null", channel: ch}
EOF
profile idle

# An agent at work: lines into a memory channel to null, a memory channel
# to Kafka (the embedded cluster) and a file channel to null.
"$BIN" broker --topic order:4 >"$WORK/bootstrap" 2>"$WORK/broker.log" &
BROKER=$!
wait_for 60 "the embedded cluster's address" "$BROKER" test -s "$WORK/bootstrap"
cat >"$WORK/busy.yaml" <<EOF
agents:
  order:
    sources:
      tcp: {type: netcat, port: $PORT, channels: [ch, kch, fch]}
    channels:
      ch: {type: memory}
      kch: {type: memory}
      fch: {type: file, directory: $WORK/fc}
    sinks:
      drop: {type: "null", channel: ch}
      kafka: {type: kafka, channel: kch, bootstrap_servers: "$(head -n1 "$WORK/bootstrap")", topic: order}
      fdrop: {type: "null", channel: fch}
EOF
profile busy

# The section each function came from in the objects the binary was linked
# from (with -ffunction-sections, one a function: .text.NAME, a static
# initializer's .text.startup.NAME; a constructor's C1 alias sits in its
# C2's section). First what the idle agent ran, then what the busy one ran
# besides, so that an idle agent's code lies in the first part.
find "$BUILD/app" "$BUILD/actors" "$BUILD/runtime" -name '*.o' -print0 |
  xargs -0 objdump -t 2>/dev/null |
  awk '$0 ~ / F \.text/ { for (i = 1; i <= NF; i++) if ($i ~ /^\.text/) { print $NF, $i; break } }' |
  sort -u -k1,1 >"$WORK/sections"
join "$WORK/idle.ran" "$WORK/sections" | awk '{ print $2 }' | sort -u >"$WORK/idle.order"
join "$WORK/busy.ran" "$WORK/sections" | awk '{ print $2 }' | sort -u |
  comm -23 - "$WORK/idle.order" >"$WORK/busy.order"
cat "$WORK/idle.order" "$WORK/busy.order" >"$WORK/order"
n=$(wc -l <"$WORK/idle.order") m=$(wc -l <"$WORK/busy.order")
((n > 100 && m > 100)) || { echo "startup_order.sh: only $n + $m functions of $BIN ran: not written" >&2; exit 1; }
mv "$WORK/order" "$OUT"
echo "startup_order.sh: $((n + m)) sections in $OUT ($n run by an idle agent, $m more by a busy one)"
