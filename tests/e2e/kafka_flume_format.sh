#!/usr/bin/env bash
# Flume's Avro event format across Kafka (`format: flume_avro`, Flume's
# useFlumeEventFormat / parseAsFlumeEvent), with avsc (npm, an Avro
# implementation we did not write) on the other end:
# 1. avsc encodes 300 AvroFlumeEvent datums (headers and a body each), kcat
#    writes them as records, plus one record that is no datum; flumen's
#    kafka source reads them with `format: flume_avro` and a kafka sink
#    writes each event's headers and body as JSON: every datum's headers
#    and body arrive once, the bad record is dropped, named in the log and
#    counted in `malformed_records` and the final line;
# 2. flumen's kafka sink writes events with `format: flume_avro`, avsc
#    decodes every record: headers and bodies as sent.
source "$(dirname "$0")/common.sh"

N=300
AVSC=$ROOT/tests/e2e/node_modules/avsc
[[ -f $AVSC/package.json ]] || fail "avsc is not installed (./flumen.sh test installs it)"
start_broker --topic ff:4 --topic json:4 --topic back:2

# Flume's AvroFlumeEvent schema (flume-ng-sdk's flume.avdl).
cat >"$WORK/codec.js" <<'EOF'
'use strict';
const avro = require(process.env.AVSC);
const fs = require('fs');
const type = avro.Type.forSchema({
  type: 'record', name: 'AvroFlumeEvent', namespace: 'org.apache.flume.source.avro',
  fields: [{name: 'headers', type: {type: 'map', values: 'string'}},
           {name: 'body', type: 'bytes'}]});
const [mode, dir, n] = process.argv.slice(2);
if (mode === 'encode') {
  for (let i = 0; i < +n; i++) {
    const ev = {headers: {seq: String(i), host: 'web-' + (i % 3), 'timestamp': '1600000000000'},
                body: Buffer.from('event ' + i + ' ünïcode\nsecond line')};
    fs.writeFileSync(`${dir}/r${String(i).padStart(4, '0')}`, type.toBuffer(ev));
  }
} else {
  // decode: one file per record (kcat -D of a byte that no datum here holds).
  let ok = 0, bad = 0;
  for (const f of fs.readdirSync(dir)) {
    try {
      const ev = type.fromBuffer(fs.readFileSync(`${dir}/${f}`));
      if (ev.headers.seq && ev.body.toString().startsWith('line ' + ev.headers.seq)) ok++; else bad++;
    } catch (e) { bad++; }
  }
  console.log(JSON.stringify({ok, bad}));
}
EOF

# 1. avsc -> Kafka -> flumen's kafka source (flume_avro) -> JSON records.
mkdir "$WORK/datums"
AVSC=$AVSC node "$WORK/codec.js" encode "$WORK/datums" "$N" || fail "avsc could not encode"
printf 'plain text, no datum' >"$WORK/plain"
# kcat -P FILE...: each file is one record.
kcat -P -b "$BOOTSTRAP" -t ff "$WORK"/datums/* "$WORK/plain" || fail "kcat -P"
cat >"$WORK/read.yaml" <<EOF
agents:
  a1:
    sources:
      r1: {type: kafka, bootstrap_servers: '$BOOTSTRAP', topics: [ff], group_id: g1, format: flume_avro, batch_duration: 100ms, channels: [c1]}
    channels:
      c1: {type: memory}
    sinks:
      k1: {type: kafka, channel: c1, bootstrap_servers: '$BOOTSTRAP', topic: json, format: json}
EOF
"$FLUMEN" run "$WORK/read.yaml" --stats-interval 0.1 >"$WORK/read.log" 2>&1 &
A=$!
PIDS+=($A)
has_all() { [[ $(topic_count json) -ge $N ]]; }
wait_for 60 has_all || fail "$(topic_count json) of $N datums arrived: $(tail -3 "$WORK/read.log")"
wait_for 20 grep -q "malformed_records=1" "$WORK/read.log" || fail "the bad record was not counted: $(grep -m1 'a1.sources.r1 state' "$WORK/read.log")"
kill -TERM $A
wait $A || fail "the agent did not stop cleanly: $(tail -3 "$WORK/read.log")"
matches -F "a1.sources.r1: dropped the record at ff [" "$WORK/read.log" || fail "the bad record is not named in the log"
matches -F "is no Flume Avro event (format: flume_avro)" "$WORK/read.log" || fail "no reason logged"
line=$(grep "agent a1: stopped" "$WORK/read.log")
[[ $line == *"0 left in channels"* && $line == *"0 read but never accepted"* && $line == *"by policy: 1 dropped"* ]] ||
  fail "final line: $line"
topic_bodies json >"$WORK/json.txt"
python3 - "$WORK/json.txt" "$N" <<'EOF' || fail "the datums' headers and bodies did not arrive as avsc wrote them"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding='utf-8') if l.strip()]
n = int(sys.argv[2])
seen = {}
for r in rows:
    h = r['headers']
    i = int(h['seq'])
    assert h['host'] == 'web-%d' % (i % 3), h
    assert h['timestamp'] == '1600000000000', h  # the datum's, not the record's
    assert h['topic'] == 'ff' and 'offset' in h and 'partition' in h, h
    assert r['body'] == 'event %d ünïcode\nsecond line' % i, r['body']
    seen[i] = seen.get(i, 0) + 1
assert sorted(seen) == list(range(n)), 'missing: %s' % (set(range(n)) - set(seen))
assert all(c == 1 for c in seen.values()), 'duplicates'
print('%d datums once each, headers and bodies as sent' % n)
EOF

# 2. flumen's kafka sink (flume_avro) -> Kafka -> avsc decodes.
P=$(free_port)
cat >"$WORK/write.yaml" <<EOF
agents:
  a2:
    sources:
      r1:
        type: netcat
        port: $P
        channels: [c1]
        interceptors:
          - {type: regex_extractor, regex: '^line (\\d+)', serializers: [{name: seq}]}
    channels:
      c1: {type: memory}
    sinks:
      k1: {type: kafka, channel: c1, bootstrap_servers: '$BOOTSTRAP', topic: back, format: flume_avro}
EOF
"$FLUMEN" run "$WORK/write.yaml" --stats-interval 0.1 >"$WORK/write.log" 2>&1 &
B=$!
PIDS+=($B)
listening "$P" "$WORK/write.log"
for i in $(seq 0 $((N - 1))); do echo "line $i of the sink"; done | nc -N 127.0.0.1 "$P"
back_all() { [[ $(topic_count back) -ge $N ]]; }
wait_for 60 back_all || fail "$(topic_count back) of $N records written: $(tail -3 "$WORK/write.log")"
kill -TERM $B
wait $B || fail "the writer did not stop cleanly"
mkdir "$WORK/back"
# One record per file: kcat writes the values with a delimiter byte after
# each, python3 splits them. The byte is 0x1e, the zig-zag varint of 15:
# no string of these datums is 15 bytes long, and their text is letters,
# digits and spaces.
kcat -C -b "$BOOTSTRAP" -t back -e -q -f "%s"$'\x1e' "${KCAT_TO_END[@]}" >"$WORK/back.bin" 2>/dev/null
python3 - "$WORK/back.bin" "$WORK/back" <<'EOF'
import sys
data = open(sys.argv[1], 'rb').read().split(b'\x1e')
for i, d in enumerate(x for x in data if x):
    open('%s/%05d' % (sys.argv[2], i), 'wb').write(d)
EOF
out=$(AVSC=$AVSC node "$WORK/codec.js" decode "$WORK/back")
[[ $out == "{\"ok\":$N,\"bad\":0}" ]] || fail "avsc decoded $out of the sink's records"
echo "PASS: $N datums of avsc read by the kafka source; $N written by the kafka sink decoded by avsc"
