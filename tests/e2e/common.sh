# Shared by the end-to-end tests: they drive the built `flumen` binary as a
# user would, with real clients (nc, kcat), and wait on conditions with
# deadlines, never on bare sleeps.
set -euo pipefail
FLUMEN=${FLUMEN:?path of the flumen binary}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
    kill -CONT "$p" 2>/dev/null || true # a frozen one can't stop otherwise
    wait "$p" 2>/dev/null || true
  done
  [[ -n ${KEEP_WORK:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# matches GREP-ARGS...: grep that reads all of its input and prints nothing.
# Use it at the end of a pipe, never `grep -q`: under pipefail, `grep -q`
# quits at the first match and the writer (curl, kcat, flumen) dies of
# SIGPIPE, failing the pipe even though the line was there
# (tests/layout_check.py refuses `| grep -q` here).
matches() { grep "$@" >/dev/null; }

# wait_for SECONDS CMD...: runs CMD every 50 ms until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# listening PORT LOG: waits until LOG says a source listens on PORT. A
# source binds in its own thread after the agent started, so "HTTP on" (or
# any start line) does not mean it is listening yet; a client sent at once
# may find the port closed.
listening() {
  wait_for 20 grep -q "listening on 127.0.0.1:$1" "$2" || fail "nothing listens on $1: $(tail -5 "$2")"
}

# thaw_broker: SIGCONT to the broker frozen with SIGSTOP; a broker that
# ended meanwhile fails the test with its log (not a bare `kill` error).
thaw_broker() {
  kill -CONT "$BROKER_PID" 2>/dev/null || fail "the broker ended while frozen: $(tail -5 "$WORK/broker.log")"
}

# start_broker [--topic NAME:PARTS]...: sets BOOTSTRAP.
start_broker() {
  "$FLUMEN" broker "$@" >"$WORK/bootstrap" 2>"$WORK/broker.log" &
  BROKER_PID=$!
  PIDS+=($!)
  wait_for 20 test -s "$WORK/bootstrap" || fail "broker did not start: $(cat "$WORK/broker.log")"
  BOOTSTRAP=$(head -n1 "$WORK/bootstrap")
}

# free_port: a port nobody listens on now, below the kernel's ephemeral
# range (32768-60999): a port from that range can be taken meanwhile as the
# local end of some outgoing connection (the tests make thousands), and an
# agent that restarts a listener there finds it busy.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo $((20000 + RANDOM % 12000))
}

# Options for a kcat that reads a topic to its end (-e): a fetch at the end
# waits 10 ms for more, not librdkafka's 500 ms (which made every read
# back take 0.5-1 s; the records read are the same).
KCAT_TO_END=(-X fetch.wait.max.ms=10)

# topic_bodies TOPIC: every record body of TOPIC, one per line.
topic_bodies() {
  kcat -C -b "$BOOTSTRAP" -t "$1" -e -q -f '%s\n' "${KCAT_TO_END[@]}" 2>/dev/null
}

# topic_count TOPIC: number of records in TOPIC.
topic_count() {
  topic_bodies "$1" | wc -l
}
