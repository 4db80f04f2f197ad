#!/usr/bin/env bash
# Writes app/startup-order.txt: the sections of the functions of flumen's own
# code that an agent runs while it starts, waits and moves lines (netcat ->
# memory -> null), for the linker to lay them out together (gold's
# --section-ordering-file; app/CMakeLists.txt). Scattered over the binary,
# those functions made the kernel map 3 MB of its 4 MB of code into every
# idle agent (it maps 64 KB around each page touched); together they take
# well under 1 MB (bench/README.md, part 13, sixth pass).
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
cleanup() {
  [[ -z $VG ]] || { kill -KILL "$VG" 2>/dev/null || true; wait "$VG" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=
for _ in $(seq 50); do
  PORT=$((20000 + RANDOM % 12000))
  nc -z 127.0.0.1 "$PORT" 2>/dev/null || break
done
cat >"$WORK/agent.yaml" <<EOF
agents:
  order:
    sources:
      tcp: {type: netcat, port: $PORT, channels: [ch]}
    channels:
      ch: {type: memory}
    sinks:
      drop: {type: "null", channel: ch}
EOF

# wait_for SECONDS WHAT CMD...: polls CMD every 100 ms until it succeeds.
wait_for() {
  local end=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    kill -0 "$VG" 2>/dev/null || { echo "startup_order.sh: the agent exited while waiting for $what" >&2; exit 1; }
    ((SECONDS < end)) || { echo "startup_order.sh: timed out waiting for $what" >&2; exit 1; }
    sleep 0.1
  done
}
committed() { grep -Eq "order\.sinks\.drop .* committed=$1( |$)" "$WORK/agent.log"; }
dumped() { [[ -s $WORK/cg.out.1 ]]; }

valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no \
  --callgrind-out-file="$WORK/cg.out" "$BIN" run "$WORK/agent.yaml" \
  --stats-interval 0.1 2>"$WORK/agent.log" &
VG=$!
wait_for 300 "the agent's port" nc -z 127.0.0.1 "$PORT"
seq 1 20000 | nc -N 127.0.0.1 "$PORT"
wait_for 120 "the lines to be committed" committed 20000
callgrind_control -d "$VG" >/dev/null
wait_for 120 "callgrind's dump" dumped

# The functions of the binary that ran, then the section each came from in
# the objects it was linked from (with -ffunction-sections, one a function:
# .text.NAME, a static initializer's .text.startup.NAME; a constructor's C1
# alias sits in its C2's section).
awk -v bin="$BIN" '
  /^ob=/ { ob = substr($0, 4) }
  /^fn=/ && ob == bin { print substr($0, 4) }' "$WORK/cg.out.1" | sort -u >"$WORK/ran"
find "$BUILD/app" "$BUILD/actors" "$BUILD/runtime" -name '*.o' -print0 |
  xargs -0 objdump -t 2>/dev/null |
  awk '$0 ~ / F \.text/ { for (i = 1; i <= NF; i++) if ($i ~ /^\.text/) { print $NF, $i; break } }' |
  sort -u -k1,1 >"$WORK/sections"
join "$WORK/ran" "$WORK/sections" | awk '{ print $2 }' | sort -u >"$WORK/order"
n=$(wc -l <"$WORK/order")
((n > 100)) || { echo "startup_order.sh: only $n functions of $BIN ran: not written" >&2; exit 1; }
mv "$WORK/order" "$OUT"
echo "startup_order.sh: $n sections in $OUT ($(wc -l <"$WORK/ran") functions of the binary ran)"
