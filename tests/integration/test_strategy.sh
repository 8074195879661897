#!/usr/bin/env bash
# Strategy as data (issue 18, point 7): each moment carries the strategy row
# of its event's language from the strategy files (English when there is no
# file for it), with the operator's offer when the row has one; the files
# reload on SIGHUP with the rules; a bad file is refused (exit 2 at start,
# the old rules kept on reload).
source "$(dirname "$0")/lib.sh"

start_broker --topic "$T_EVENTS:1" --topic "$T_MOMENTS:1" --topic "$T_DLQ:1"
T0=1763900000000

# The shipped files, with the operator's offers on two rows.
cp -r "$MM_SOURCE_DIR/lexicons/strategy" "$WORK/strategy"
sed -i 's/^\(buy\t.*\)$/\1\tspring-sale-17/' "$WORK/strategy/en.tsv"
sed -i 's/^\(go\t.*\)$/\1\tbutikskort/' "$WORK/strategy/da.tsv"

"$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-strategy" -i "$T_EVENTS" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" -X mm.metrics.listen=127.0.0.1:0 -X session.timeout.ms=6000 \
  -X mm.strategy.dir="$WORK/strategy" 2>"$WORK/run.err" &
run_pid=$!
wait_for 60 grep -qs assigned "$WORK/run.err"

q() { # q EVENT_ID LANG|- QUERY: one keyed query event
  python3 -c '
import json, sys
i, lang, text, ts = sys.argv[1:]
e = {"event_id": i, "user_id": "u-" + i, "type": "query", "query": text, "ts": int(ts)}
if lang != "-": e["lang"] = lang
print(e["user_id"] + "\t" + json.dumps(e, ensure_ascii=False))' "$1" "$2" "$3" "$T0"
}
# "moment|goal|offer" of EVENT_ID's moment ("" while it has not come).
strategy_of() {
  consume_all "$T_MOMENTS" | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m["event_id"] == sys.argv[1]:
        s = m["strategy"]
        print(m["moment"], s["goal"], s.get("offer", "-"), sep="|")
        break' "$1"
}
has_moment() { [ -n "$(strategy_of "$1")" ]; }

{
  q da-1 da "kaffe i nærheden"
  q es-1 - "cómo llegar a la farmacia más cercana"
  q de-1 de-DE "apotheke in der nähe"
  q et-1 - "kuidas parandada jalgratast"
  q fr-1 fr "buy running shoes"
  q en-1 - "buy running shoes"
  for i in 0 1 2; do # a location burst (go) hinted French: no query, no French file
    printf 'u-burst\t{"event_id":"burst-%d","user_id":"u-burst","type":"location","lang":"fr",' "$i"
    printf '"lat":55.6761,"lon":12.5683,"ts":%d}\n' $((T0 + i * 60000))
  done
} >"$WORK/a.tsv"
produce_keyed "$T_EVENTS" "$WORK/a.tsv"
wait_for 60 has_moment burst-2
check_eq "a Danish query: Danish strategy, the Danish row's offer" \
  "go|find muligheder i nærheden|butikskort" "$(strategy_of da-1)"
check_eq "a Spanish query without a hint: Spanish" "go|encontrar opciones cercanas|-" \
  "$(strategy_of es-1)"
check_eq "an Estonian query without a hint: Estonian" "do|õppida, kuidas|-" "$(strategy_of et-1)"
check_eq "a query hinted de-DE: German" "go|Angebote in der Nähe finden|-" "$(strategy_of de-1)"
check_eq "an English query hinted fr: English, with the English row's offer" \
  "buy|complete a transaction|spring-sale-17" "$(strategy_of fr-1)"
check_eq "a burst hinted fr (no French file): English" "go|find options nearby|-" \
  "$(strategy_of burst-2)"
check_eq "English" "buy|complete a transaction|spring-sale-17" "$(strategy_of en-1)"
check "every moment's strategy has the contract's fields (offer only when set)" \
  bash -c "[ \"\$(kcat -b '$BOOTSTRAP' -C -t '$T_MOMENTS' -e -q | python3 -c '
import json, sys
bad = [m for m in map(json.loads, sys.stdin)
       if not {\"goal\", \"content\", \"horizon\"} <= set(m[\"strategy\"]) <= {\"goal\", \"content\", \"horizon\", \"offer\"}]
print(len(bad))')\" = 0 ]"

# ---- SIGHUP with an edited file: the new offer applies.
sed -i 's/spring-sale-17/summer-sale-18/' "$WORK/strategy/en.tsv"
before=$(reloads)
kill -HUP $run_pid
check "the edited strategy is reloaded" wait_for 10 reloads_above "$before"
q en-2 - "buy running shoes" >"$WORK/b.tsv"
produce_keyed "$T_EVENTS" "$WORK/b.tsv"
wait_for 30 has_moment en-2
check_eq "the reloaded row applies" "buy|complete a transaction|summer-sale-18" "$(strategy_of en-2)"

# ---- SIGHUP with a bad file: refused, named, the rules in force stay.
cp "$WORK/strategy/da.tsv" "$WORK/da.good"
grep -v $'^do\t' "$WORK/da.good" >"$WORK/strategy/da.tsv"
before=$(failures)
kill -HUP $run_pid
check "a strategy file without a do row is refused" wait_for 10 failures_above "$before"
check "the refusal names the file" \
  grep -q "reload failed, the current rules stay in force: $WORK/strategy/da.tsv: no row for 'do'" \
  "$WORK/run.err"
q da-2 da "kaffe i nærheden" >"$WORK/c.tsv"
produce_keyed "$T_EVENTS" "$WORK/c.tsv"
wait_for 30 has_moment da-2
check_eq "after the refused reload the last good rows still apply" \
  "go|find muligheder i nærheden|butikskort" "$(strategy_of da-2)"

kill -TERM $run_pid
code=0; wait $run_pid || code=$?
check_eq "run exits 0" 0 "$code"

# ---- a bad file at start: exit 2 naming it.
code=0
timeout -s KILL 30 "$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-bad" -i "$T_EVENTS" \
  -o "$T_MOMENTS" -X mm.metrics.listen=127.0.0.1:0 -X mm.strategy.dir="$WORK/strategy" \
  2>"$WORK/start.err" || code=$?
check_eq "a bad strategy file stops the start with exit 2" 2 "$code"
check "... naming it" grep -q "$WORK/strategy/da.tsv: no row for 'do'" "$WORK/start.err"

finish
