#!/usr/bin/env bash
# Reload under load (docs/operations.md, "Reload"): a client streams numbered lines into
# an agent's netcat source while the file changes four times and the agent
# reloads (SIGHUP): (a) a Kafka sink's option, (b) an added interceptor,
# (d) an invalid file, (c) a removed channel (with its sink). Every line
# the client sent reaches Kafka; the removed channel's topic holds exactly
# the lines up to its removal, without a hole (it was drained, not dropped).
# Then --watch: an edit of the file is picked up without a signal.
source "$(dirname "$0")/common.sh"
command -v strace >/dev/null || fail "strace is missing (./flumen.sh installs it)"
LINES=${LINES:-300000}
start_broker --topic logs:4 --topic side:2
PORT=$(free_port)
CONF=$WORK/agent.yaml

# write_conf LINGER INTERCEPTORS SIDE: the topology; SIDE=1 keeps the second
# channel (and its sink into topic `side`).
write_conf() {
  local linger=$1 interceptors=$2 side=$3 channels="[c1]" line_max=${4:-65536}
  ((side)) && channels="[c1, c2]"
  {
    cat <<EOF
agents:
  a1:
    sources:
      r1:
        type: netcat
        bind: 127.0.0.1
        port: $PORT
        max_line_length: $line_max
        channels: $channels
        interceptors: $interceptors
    channels:
      c1: {type: memory, capacity: 20000, transaction_capacity: 1000}
EOF
    ((side)) && echo "      c2: {type: memory, capacity: 20000, transaction_capacity: 1000}"
    cat <<EOF
    sinks:
      k1:
        type: kafka
        channel: c1
        bootstrap_servers: $BOOTSTRAP
        topic: logs
        batch_size: 1000
        producer: {linger.ms: "$linger"}
EOF
    ((side)) && cat <<EOF
      k2:
        type: kafka
        channel: c2
        bootstrap_servers: $BOOTSTRAP
        topic: side
        batch_size: 1000
EOF
    true
  } >"$CONF.new"
  mv "$CONF.new" "$CONF" # whole at once: a reader never sees half a file
}

write_conf 5 "[]" 1
"$FLUMEN" run "$CONF" --shutdown-timeout 20s 2>"$WORK/agent.log" &
AGENT=$!
PIDS+=($AGENT)
wait_for 20 nc -z 127.0.0.1 "$PORT" || fail "agent not listening: $(cat "$WORK/agent.log")"

# The load: LINES numbered lines, paced (about 60k/s) so the reloads happen
# while it runs; it reports when it is a tenth of the way and when done.
python3 - "$PORT" "$LINES" "$WORK" <<'EOF' &
import socket, sys, time, os
port, n, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
i = 1
while i <= n:
    chunk = b"".join(b"%d\n" % j for j in range(i, min(i + 600, n + 1)))
    s.sendall(chunk)
    i += 600
    if i > n // 10 and not os.path.exists(work + "/tenth"):
        open(work + "/tenth", "w").close()
    time.sleep(0.01)
s.shutdown(socket.SHUT_WR)
s.recv(1)  # the agent closes after reading everything
open(work + "/sent", "w").close()
EOF
CLIENT=$!
PIDS+=($CLIENT)

reloads() { grep -c "reloaded $CONF" "$WORK/agent.log" || true; }
refusals() { grep -c "reload refused" "$WORK/agent.log" || true; }
reloaded_n() { [[ $(reloads) -ge $1 ]]; }
refused_n() { [[ $(refusals) -ge $1 ]]; }
wait_for 30 test -e "$WORK/tenth" || fail "the client did not get going"

# (a) a sink's option: k1 restarts, r1 and the channels keep running.
write_conf 20 "[]" 1
kill -HUP "$AGENT"
wait_for 30 reloaded_n 1 || fail "(a) no reload: $(tail -5 "$WORK/agent.log")"
grep "reloaded $CONF" "$WORK/agent.log" | tail -1 | matches "restarted sinks.k1" \
  || fail "(a) k1 not restarted: $(grep reloaded "$WORK/agent.log")"
grep "reloaded $CONF" "$WORK/agent.log" | tail -1 | matches "sources.r1" \
  && fail "(a) r1 restarted: $(grep reloaded "$WORK/agent.log")"
[[ -e $WORK/sent ]] && fail "(a) the load ended before the reload: raise LINES"

# (b) an interceptor: r1 keeps running (and its client connected) with a new
# route.
write_conf 20 "[{type: static, key: stage, value: b}]" 1
kill -HUP "$AGENT"
wait_for 30 reloaded_n 2 || fail "(b) no reload: $(tail -5 "$WORK/agent.log")"
grep "reloaded $CONF" "$WORK/agent.log" | tail -1 | matches "rerouted sources.r1 (kept running)" \
  || fail "(b) r1 not rerouted: $(grep reloaded "$WORK/agent.log" | tail -1)"

# Every line the run loop logs after a reload names the agent (its name was
# a reference into the topology a reload replaces: "agent @" and then an
# abort at the next refused reload).
names=$(grep -a "SIGHUP received, reloading" "$WORK/agent.log" | grep -avc "agent a1: SIGHUP received" || true)
((names == 0)) || fail "a line after a reload misnames the agent: $(grep -a "SIGHUP received" "$WORK/agent.log")"

# (d) invalid: refused with located errors; everything keeps running.
cp "$CONF" "$WORK/good.yaml"
sed 's/capacity: 20000, transaction/capacity: lots, transaction/' "$WORK/good.yaml" >"$CONF.new"
mv "$CONF.new" "$CONF"
kill -HUP "$AGENT"
wait_for 30 refused_n 1 || fail "(d) not refused: $(tail -5 "$WORK/agent.log")"
grep -q "agent.yaml:[0-9]*:[0-9]*: .*agents.a1.channels.c1.capacity" "$WORK/agent.log" \
  || fail "(d) no located error: $(grep -B3 'reload refused' "$WORK/agent.log")"

# (c) remove channel c2 and its sink: c2 drains into k2 first.
write_conf 20 "[{type: static, key: stage, value: b}]" 0
kill -HUP "$AGENT"
wait_for 60 reloaded_n 3 || fail "(c) no reload: $(tail -5 "$WORK/agent.log")"
grep "reloaded $CONF" "$WORK/agent.log" | tail -1 | matches "removed channels.c2 (drained)" \
  || fail "(c) c2 not drained: $(grep reloaded "$WORK/agent.log" | tail -1)"
[[ -e $WORK/sent ]] && fail "(c) the load ended before the last reload: raise LINES"

wait_for 120 test -e "$WORK/sent" || fail "the client did not finish"
# Unique lines: a restarted sink may deliver a batch twice (at least once).
has_all() { [[ $(topic_bodies logs | sort -u | wc -l) -ge $LINES ]]; }
wait_for 60 has_all || fail "only $(topic_count logs) of $LINES lines in topic logs"
topic_bodies logs | sort -n | uniq >"$WORK/got"
seq 1 "$LINES" >"$WORK/want"
diff -q "$WORK/want" "$WORK/got" >/dev/null \
  || fail "lines lost: $(diff "$WORK/want" "$WORK/got" | head -5)"
# The side topic: 1..M for some M, nothing missing below M.
topic_bodies side | sort -n | uniq >"$WORK/side"
M=$(tail -1 "$WORK/side")
[[ -n $M && $M -gt 0 ]] || fail "nothing in topic side"
seq 1 "$M" | diff -q - "$WORK/side" >/dev/null \
  || fail "holes in topic side up to $M: $(seq 1 "$M" | diff - "$WORK/side" | head -5)"
((M < LINES)) || fail "c2 got every line: it was not removed under load"
# (b) took effect: the last lines carry the header.
last_has_header() {
  kcat -C -b "$BOOTSTRAP" -t logs -e -q -f '%h %s\n' "${KCAT_TO_END[@]}" 2>/dev/null >"$WORK/with_headers"
  grep -q "stage=b $LINES\$" "$WORK/with_headers"
}
wait_for 20 last_has_header \
  || fail "line $LINES has no stage=b header: $(grep " $LINES\$" "$WORK/with_headers")"
echo "reload under load: $LINES lines, all in topic logs ($(( $(topic_count logs) - LINES )) delivered twice); side holds 1..$M"

# (e) a changed memory channel whose sink can't drain it (the broker
# frozen): at the reload's timeout what it holds moves into its successor
# instead of being lost, and arrives once the broker is back.
kill -TERM "$AGENT"
wait "$AGENT" || fail "agent exited with $? after SIGTERM: $(tail -5 "$WORK/agent.log")"
grep -q "stopped, every accepted event delivered" "$WORK/agent.log" \
  || fail "no clean stop: $(tail -5 "$WORK/agent.log")"
sed -i "s/topic: logs/topic: frozen/" "$CONF"
"$FLUMEN" run "$CONF" --shutdown-timeout 2s 2>"$WORK/frozen.log" &
AGENT=$!
PIDS+=($AGENT)
wait_for 20 nc -z 127.0.0.1 "$PORT" || fail "agent not listening: $(cat "$WORK/frozen.log")"
kill -STOP "$BROKER_PID"
seq 1 5000 | nc -N 127.0.0.1 "$PORT"
sed "s/c1: {type: memory, capacity: 20000/c1: {type: memory, capacity: 30000/" "$CONF" >"$CONF.new"
mv "$CONF.new" "$CONF"
kill -HUP "$AGENT"
moved() { grep -q "moved the [0-9]* events it still held into the new channels.c1" "$WORK/frozen.log"; }
wait_for 30 moved || { kill -CONT "$BROKER_PID"; fail "(e) nothing moved: $(tail -5 "$WORK/frozen.log")"; }
wait_for 30 grep -q "reloaded $CONF" "$WORK/frozen.log" || { kill -CONT "$BROKER_PID"; fail "(e) no reload"; }
kill -CONT "$BROKER_PID"
grep -q "are lost" "$WORK/frozen.log" && fail "(e) events lost: $(grep 'are lost' "$WORK/frozen.log")"
has_frozen() { [[ $(topic_bodies frozen | sort -u | wc -l) -ge 5000 ]]; }
wait_for 60 has_frozen || fail "(e) only $(topic_bodies frozen | sort -u | wc -l) of 5000 lines after the broker came back"
seq 1 5000 | diff -q - <(topic_bodies frozen | sort -n | uniq) >/dev/null || fail "(e) lines lost"
echo "(e): $(grep -o 'moved the [0-9]* events' "$WORK/frozen.log"), all 5000 arrived"

# --watch: an edit alone (no signal) reloads.
kill -TERM "$AGENT"
wait "$AGENT" || fail "agent exited with $? after SIGTERM: $(tail -5 "$WORK/agent.log")"
grep -q "stopped, every accepted event delivered" "$WORK/agent.log" \
  || fail "no clean stop: $(tail -5 "$WORK/agent.log")"
"$FLUMEN" run "$CONF" --watch 2>"$WORK/watch.log" &
AGENT=$!
PIDS+=($AGENT)
wait_for 20 nc -z 127.0.0.1 "$PORT" || fail "agent not listening: $(cat "$WORK/watch.log")"
# A file that can't be read (a FIFO, which must not hang the agent; then
# over 4 MiB) is refused, reported once per reason, and changes nothing.
cp "$CONF" "$WORK/kept.yaml"
rm "$CONF"
mkfifo "$CONF"
fifo_refused() { grep -q "cannot read file: not a regular file (a FIFO)" "$WORK/watch.log"; }
wait_for 20 fifo_refused || fail "--watch: a FIFO not refused: $(tail -3 "$WORK/watch.log")"
rm "$CONF"
head -c 5000000 /dev/zero | tr '\0' '#' >"$CONF.new"
mv "$CONF.new" "$CONF"
big_refused() { grep -q "cannot read file: too large" "$WORK/watch.log"; }
wait_for 20 big_refused || fail "--watch: a 5 MB file not refused: $(tail -3 "$WORK/watch.log")"
# Not reported again while it stays so (a negative): proven over two more
# looks at the file, each seen as a stat of it (strace), not over a time.
strace -f -qq -e trace=stat,newfstatat,statx,lstat -o "$WORK/watch.strace" -p "$AGENT" 2>/dev/null &
STRACE=$!
PIDS+=($STRACE)
looks() { [[ $(grep -c "\"$CONF\"" "$WORK/watch.strace" 2>/dev/null || true) -ge $1 ]]; }
wait_for 20 looks 2 || fail "--watch did not look at the file twice more: $(cat "$WORK/watch.strace")"
kill "$STRACE"; wait "$STRACE" 2>/dev/null || true
(($(grep -c "cannot read file: too large" "$WORK/watch.log") == 1)) \
  || fail "--watch reported the same unreadable file more than once"
grep -q "reloaded $CONF" "$WORK/watch.log" && fail "--watch reloaded an unreadable file"
# The sink and the source change: both restart, the source on its port.
write_conf 30 "[{type: static, key: stage, value: b}]" 0 4096
watched() { grep -q "agent.yaml changed, reloading" "$WORK/watch.log" && grep -q "reloaded $CONF" "$WORK/watch.log"; }
wait_for 20 watched || fail "--watch did not reload: $(tail -5 "$WORK/watch.log")"
grep "reloaded $CONF" "$WORK/watch.log" | matches "restarted sources.r1.*restarted sinks.k1" \
  || fail "--watch: r1 and k1 not restarted: $(grep reloaded "$WORK/watch.log")"
grep -q "lines up to 4096 bytes" "$WORK/watch.log" || fail "r1 did not restart with the new option"
wait_for 20 nc -z 127.0.0.1 "$PORT" || fail "the restarted source does not listen"
seq -f 'w%.0f' 1 100 | nc -N 127.0.0.1 "$PORT"
watch_lines() { [[ $(topic_bodies logs | grep -c '^w') -ge 100 ]]; }
wait_for 30 watch_lines || fail "the restarted source's lines did not arrive: $(topic_bodies logs | grep -c '^w') of 100"
kill -TERM "$AGENT"
wait "$AGENT" || fail "watching agent exited with $?: $(tail -5 "$WORK/watch.log")"
grep -q "stopped, every accepted event delivered" "$WORK/watch.log" \
  || fail "no clean stop after --watch: $(tail -5 "$WORK/watch.log")"
echo "1 passed, 0 failed"
