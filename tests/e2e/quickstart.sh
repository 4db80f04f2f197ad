#!/usr/bin/env bash
# The quickstart topology, as the README runs it: stdin -> timestamp, host
# -> memory -> kafka, read back with kcat with its headers; and once more
# with the cluster embedded in the agent itself.
source "$(dirname "$0")/common.sh"
start_broker --topic log_topic:16
KAFKA=$BOOTSTRAP "$FLUMEN" run "$ROOT/topologies/quickstart.yaml" --exit-on-eof \
  <"$ROOT/topologies/quickstart.log" 2>"$WORK/agent.log" || fail "run failed: $(cat "$WORK/agent.log")"
kcat -C -b "$BOOTSTRAP" -t log_topic -e -q -f '%h|%s\n' "${KCAT_TO_END[@]}" >"$WORK/records"
[[ $(wc -l <"$WORK/records") -eq 3 ]] || fail "expected 3 records, got: $(cat "$WORK/records")"
for n in 1 2 3; do
  line=$(grep "|2021-09-01 14:0$((n - 1)):00: log$n\$" "$WORK/records") \
    || fail "log$n missing: $(cat "$WORK/records")"
  [[ $line =~ (^|,)timestamp=[0-9]{13}(,|\|) && $line =~ (^|,)host=[^,|]+(,|\|) ]] \
    || fail "log$n without its timestamp and host headers: $line"
done
# bootstrap_servers: embedded (the default): the cluster lives in the agent.
"$FLUMEN" run "$ROOT/topologies/quickstart.yaml" --exit-on-eof \
  <"$ROOT/topologies/quickstart.log" 2>"$WORK/embedded.log" || fail "embedded run failed"
grep -q "a1.sinks.k1 state=stopped taken=3 committed=3" "$WORK/embedded.log" \
  || fail "embedded run did not commit 3: $(cat "$WORK/embedded.log")"
echo "1 passed, 0 failed"
