#!/usr/bin/env bash
# What used to be lost without a word, run as a user would (issue "part 3"):
# - Flume's own channel defaults (capacity 1000, transaction_capacity 100)
#   with a source at its default batch_size (1000): every event arrives;
# - a byte_capacity smaller than a batch: every event arrives;
# - an agent that truncated lines never says "every accepted event
#   delivered", and its final line gives the count.
source "$(dirname "$0")/common.sh"

summary() { grep -o "$1 state=[a-z_]* .*" "$2" | tail -1; }
counter() { summary "$1" "$3" | grep -o " $2=[0-9]*" | cut -d= -f2; }

cat >"$WORK/flume_defaults.yaml" <<YAML
agents:
  a1:
    sources: {r1: {type: seq, count: 100000, channels: [c1]}}
    channels: {c1: {type: memory, capacity: 1000, transaction_capacity: 100}}
    sinks: {k1: {type: "null", channel: c1}}
YAML
"$FLUMEN" validate "$WORK/flume_defaults.yaml" >/dev/null \
  || fail "a default batch_size above transaction_capacity must validate"
timeout 60 "$FLUMEN" run "$WORK/flume_defaults.yaml" --exit-on-eof 2>"$WORK/a.log" \
  || fail "exit $?: $(tail -3 "$WORK/a.log")"
[[ $(counter a1.sinks.k1 committed "$WORK/a.log") == 100000 ]] \
  || fail "flume defaults: $(summary a1.sinks.k1 "$WORK/a.log")"
# The default batch_size adapted to the channel: batches of 100.
[[ $(counter a1.sources.r1 batches "$WORK/a.log") == 1000 ]] \
  || fail "default batch_size did not adapt: $(summary a1.sources.r1 "$WORK/a.log")"
grep -q "dropped" "$WORK/a.log" && fail "something dropped: $(grep dropped "$WORK/a.log")"
grep -q "every accepted event delivered" "$WORK/a.log" || fail "no clean final line"

# A stated batch_size above transaction_capacity stays a config error.
sed 's/count: 100000,/count: 100000, batch_size: 1000,/' "$WORK/flume_defaults.yaml" \
  >"$WORK/stated.yaml"
if "$FLUMEN" validate "$WORK/stated.yaml" 2>"$WORK/stated.err"; then
  fail "a stated batch_size 1000 above transaction_capacity 100 validated"
fi
grep -q "batch_size" "$WORK/stated.err" || fail "error does not name batch_size: $(cat "$WORK/stated.err")"

cat >"$WORK/bytes.yaml" <<YAML
agents:
  a1:
    sources: {r1: {type: seq, count: 10000, body_size: 100, channels: [c1]}}
    channels: {c1: {type: memory, byte_capacity: 64KB}}
    sinks: {k1: {type: "null", channel: c1}}
YAML
timeout 60 "$FLUMEN" run "$WORK/bytes.yaml" --exit-on-eof 2>"$WORK/b.log" \
  || fail "exit $?: $(tail -3 "$WORK/b.log")"
[[ $(counter a1.sinks.k1 committed "$WORK/b.log") == 10000 ]] \
  || fail "byte_capacity: $(summary a1.sinks.k1 "$WORK/b.log")"
grep -q "every accepted event delivered" "$WORK/b.log" || fail "no clean final line"

# Over-long lines are truncated (counted), so the final line says so.
cat >"$WORK/trunc.yaml" <<YAML
agents:
  a1:
    sources: {r1: {type: stdin, max_line_length: 10, channels: [c1]}}
    channels: {c1: {type: memory}}
    sinks: {k1: {type: "null", channel: c1}}
YAML
printf 'short\n%s\nshort\n' "$(head -c 100 /dev/zero | tr '\0' x)" \
  | timeout 60 "$FLUMEN" run "$WORK/trunc.yaml" --exit-on-eof 2>"$WORK/t.log" \
  || fail "exit $?: $(tail -3 "$WORK/t.log")"
grep -q "every accepted event delivered" "$WORK/t.log" \
  && fail "claims a clean delivery after truncating: $(tail -2 "$WORK/t.log")"
grep -q "1 delivered truncated" "$WORK/t.log" || fail "final line: $(tail -1 "$WORK/t.log")"
echo "1 passed, 0 failed"
