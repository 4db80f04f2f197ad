#!/usr/bin/env bash
# Hostile peers on a hop source's port (plain and mutual TLS) and on a
# `flumen node`'s port, speaking bad BASP with raw sockets
# (tests/support/hostile_peer.py): a header claiming 4 GiB (before and
# after a valid handshake), a client handshake without payload (CAF 0.17.6
# dereferences a null pointer on it), 4 KB of random bytes from 50 peers,
# and 1,100 connections that never complete a handshake, held open. Each
# listener runs under a 3 GB address-space limit and 1,024 descriptors: it
# must survive, its peak RSS stay small, its open descriptors stay bounded,
# /health answer while the idle connections are held, every refusal be
# logged (rate-limited) and counted, and a real sender deliver every event
# meanwhile (counted in a file_roll sink's files). ONLY=plain|tls|node runs
# one part.
source "$(dirname "$0")/common.sh"
HOSTILE="python3 $ROOT/tests/support/hostile_peer.py"
N=${N:-20000}
AS_LIMIT=3000000000
MAX_HWM_KB=$((300 * 1024)) # peak RSS allowed (an idle agent: ~20 MB)
ONLY=${ONLY:-}

LIMITED=(prlimit --as=$AS_LIMIT --nofile=1024) # execs: the PID is flumen's
alive() { kill -0 "$1" 2>/dev/null || fail "$2 died: $(tail -5 "$3")"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
check_hwm() { # PID WHAT
  local kb; kb=$(hwm_kb "$1")
  ((kb < MAX_HWM_KB)) || fail "$2: peak RSS $((kb / 1024)) MB"
  echo "$2: peak RSS $((kb / 1024)) MB"
}
# lines DIR: lines in the file_roll files of DIR; distinct DIR: distinct ones.
lines() { cat "$1"/* 2>/dev/null | wc -l; }
distinct() { cat "$1"/* 2>/dev/null | sort -u | wc -l; }

# attack HOST PORT PID LOG NAME [hostile_peer options]: the single-socket
# and random attacks, each closed by the listener, which survives.
attack() {
  local port=$1 pid=$2 log=$3 name=$4; shift 4
  local out
  for a in "oversized" "oversized --after-handshake" "empty-handshake"; do
    out=$($HOSTILE $a 127.0.0.1 "$port" "$@" 2>&1) || true
    [[ $out == "closed=1" ]] || fail "$name: $a: not closed: $out"
    alive "$pid" "$name" "$log"
  done
  out=$($HOSTILE random 127.0.0.1 "$port" "$@" 2>&1) || true
  [[ $out == "closed=50 of=50" ]] || fail "$name: random: $out"
  alive "$pid" "$name" "$log"
  grep -q "refused 127.0.0.1:[0-9]*: a BASP direct message announcing 4294967295 bytes, more than" "$log" \
    || fail "$name: 4 GiB header not logged: $(tail -5 "$log")"
  grep -q "refused 127.0.0.1:[0-9]*: a BASP client handshake without payload" "$log" \
    || fail "$name: empty handshake not logged"
  grep -q "refused 127.0.0.1:[0-9]*: not a BASP header" "$log" || fail "$name: random bytes not logged"
  check_hwm "$pid" "$name after 4 GiB headers and 50 random peers"
}

# hold_idle PORT: 1,100 connections that never speak, held until
# release_idle; IDLE_OUT has the peer's status lines.
hold_idle() {
  IDLE_OUT=$WORK/idle-$1.out IDLE_STOP=$WORK/idle-$1.stop
  : >"$IDLE_OUT"
  $HOSTILE idle 127.0.0.1 "$1" --count 1100 --until "$IDLE_STOP" >"$IDLE_OUT" 2>&1 &
  IDLE_PID=$!; PIDS+=($IDLE_PID)
  wait_for 60 grep -q "connected=1100" "$IDLE_OUT" || fail "idle peer: $(tail -3 "$IDLE_OUT")"
}
release_idle() { touch "$IDLE_STOP"; wait "$IDLE_PID" || true; }
# all_idle_closed: the listener closed every idle connection (evicted to
# make room, or timed out), while the peer still holds them.
all_idle_closed() { tail -1 "$IDLE_OUT" | matches "closed=1100"; }

# check_idle PID LOG NAME BASE_FDS LISTENER: what must hold while the idle
# connections are held.
check_idle() {
  local pid=$1 log=$2 name=$3 base=$4 listener=$5
  alive "$pid" "$name" "$log"
  local n; n=$(fds "$pid")
  # max_connections (64) sockets, up to 64 more waiting for CAF to close them.
  ((n <= base + 2 * 64 + 8)) || fail "$name: $n descriptors open (at start: $base)"
  echo "$name: $n descriptors open with 1,100 idle connections held (at start: $base)"
  # Logged, or (past 10 lines a second) counted in the summary line.
  evicted() {
    grep -Eq "refused 127.0.0.1:[0-9]*: no handshake after .*, closed to make room \(max_connections 64\)|more refusals not logged \(.*[0-9]+ $1: closed to make room" "$2"
  }
  wait_for 5 evicted "$listener" "$log" || fail "$name: no eviction logged: $(tail -3 "$log")"
  wait_for 5 grep -q "more refusals not logged" "$log" || fail "$name: refusals not rate-limited"
  local logged; logged=$(grep -c "refused 127.0.0.1" "$log" || true)
  ((logged < 400)) || fail "$name: $logged refusal lines for a flood"
}

edge_yaml() { # NAME PORT COUNT [tls]
  cat <<YAML
agents:
  edge:
    sources:
      s: {type: seq, count: $3, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      h1: {type: hop, channel: c1, host: 127.0.0.1, port: $2${4:+, tls: $4}}
YAML
}

collector_part() { # plain|tls
  local kind=$1 port http tls_opt="" tls_yaml="" hostile_tls=()
  port=$(free_port); http=$(free_port)
  if [[ $kind == tls ]]; then
    bash "$ROOT/tests/e2e/mkcerts.sh" "$WORK" good
    tls_yaml="{certificate: $WORK/good.pem, key: $WORK/good.key, ca_file: $WORK/good-ca.pem}"
    tls_opt=", tls: $tls_yaml"
    hostile_tls=(--tls "$WORK/good.pem" "$WORK/good.key" "$WORK/good-ca.pem")
  fi
  local dir=$WORK/out-$kind log=$WORK/collector-$kind.log
  : >"$log"
  cat >"$WORK/collector-$kind.yaml" <<YAML
agents:
  collector:
    http: {port: $http}
    sources:
      in: {type: hop, port: $port, channels: [c1], handshake_timeout: 3s$tls_opt}
    channels:
      c1: {type: memory}
    sinks:
      f1: {type: file_roll, channel: c1, directory: $dir, roll_interval: 0}
YAML
  "${LIMITED[@]}" "$FLUMEN" run "$WORK/collector-$kind.yaml" --stats-interval 500ms >"$log" 2>&1 &
  local pid=$!; PIDS+=($pid)
  wait_for 20 grep -q "listening on 127.0.0.1:$port" "$log" || fail "collector ($kind): $(cat "$log")"
  wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$http/health" || fail "no /health"
  local base; base=$(fds "$pid")
  attack "$port" "$pid" "$log" "collector ($kind)" "${hostile_tls[@]}"
  hold_idle "$port"
  check_idle "$pid" "$log" "collector ($kind)" "$base" collector.sources.in
  curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$http/health" \
    || fail "collector ($kind): /health does not answer with 1,100 idle connections held"
  # A real sender, while the idle connections are still held.
  edge_yaml edge "$port" "$N" "$tls_yaml" >"$WORK/edge-$kind.yaml"
  "$FLUMEN" run "$WORK/edge-$kind.yaml" >"$WORK/edge-$kind.log" 2>&1 &
  local edge=$!; PIDS+=($edge)
  delivered() { (($(lines "$dir") >= N)); }
  wait_for 60 delivered || fail "collector ($kind): $(lines "$dir") of $N delivered: $(tail -3 "$WORK/edge-$kind.log")"
  wait_for 20 all_idle_closed || fail "collector ($kind): idle connections still open: $(tail -1 "$IDLE_OUT")"
  grep -q "refused 127.0.0.1:[0-9]*: no handshake within 3.0 s" "$log" || fail "collector ($kind): no handshake timeout logged"
  check_idle "$pid" "$log" "collector ($kind)" "$base" collector.sources.in
  check_hwm "$pid" "collector ($kind) after 1,100 idle connections"
  release_idle
  kill -TERM "$edge"; wait "$edge" || true
  kill -TERM "$pid"; wait "$pid" || fail "collector ($kind) exited with $?"
  local total uniq
  total=$(lines "$dir"); uniq=$(distinct "$dir")
  ((uniq == N)) || fail "collector ($kind): $uniq distinct of $N"
  local failures; failures=$(grep "collector.sources.in state=" "$log" | tail -1 | sed -n 's/.*connection_failures=\([0-9]*\).*/\1/p')
  ((failures >= 1100)) || fail "collector ($kind): connection_failures=$failures"
  echo "collector ($kind): $uniq of $N delivered ($((total - uniq)) duplicates), $failures refusals counted"
}

node_part() {
  local port nodelog=$WORK/n1.log dir=$WORK/out-node
  port=$(free_port)
  : >"$nodelog"
  "${LIMITED[@]}" "$FLUMEN" node --listen "127.0.0.1:$port" --name n1 --handshake-timeout 3s \
    --stats-interval 500ms >"$nodelog" 2>&1 &
  local pid=$!; PIDS+=($pid)
  wait_for 20 grep -q "listening on" "$nodelog" || fail "node: $(cat "$nodelog")"
  local base; base=$(fds "$pid")
  attack "$port" "$pid" "$nodelog" "node"
  hold_idle "$port"
  check_idle "$pid" "$nodelog" "node" "$base" "node n1"
  cat >"$WORK/placed.yaml" <<YAML
nodes:
  n1: {host: 127.0.0.1, port: $port}
agents:
  a1:
    sources:
      s: {type: seq, count: $N, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      f1: {type: file_roll, channel: c1, directory: $dir, roll_interval: 0, replicas: 1, placement: [n1]}
YAML
  "$FLUMEN" run "$WORK/placed.yaml" >"$WORK/a1.log" 2>&1 &
  local agent=$!; PIDS+=($agent)
  wait_for 30 grep -q "running on node n1" "$WORK/a1.log" || fail "not placed on n1: $(tail -5 "$WORK/a1.log")"
  delivered() { (($(lines "$dir") >= N)); }
  wait_for 60 delivered || fail "node: $(lines "$dir") of $N delivered"
  grep -q "running in the agent's process" "$WORK/a1.log" && fail "the replica left the node"
  wait_for 20 all_idle_closed || fail "node: idle connections still open: $(tail -1 "$IDLE_OUT")"
  grep -q "refused 127.0.0.1:[0-9]*: no handshake within 3.0 s" "$nodelog" || fail "node: no handshake timeout logged"
  check_idle "$pid" "$nodelog" "node" "$base" "node n1"
  check_hwm "$pid" "node after 1,100 idle connections"
  release_idle
  kill -TERM "$agent"; wait "$agent" || true
  local uniq; uniq=$(distinct "$dir")
  ((uniq == N)) || fail "node: $uniq distinct of $N"
  kill -TERM "$pid"; wait "$pid" || fail "node exited with $?"
  local failures; failures=$(grep "n1.listener state=" "$nodelog" | tail -1 | sed -n 's/.*connection_failures=\([0-9]*\).*/\1/p')
  ((failures >= 1100)) || fail "node: connection_failures=$failures"
  echo "node: $uniq of $N delivered by a replica on the node, $failures refusals counted"
}

parts=0
for part in plain tls node; do
  [[ -z $ONLY || $ONLY == "$part" ]] || continue
  if [[ $part == node ]]; then node_part; else collector_part "$part"; fi
  parts=$((parts + 1))
done
echo "$parts passed, 0 failed"
