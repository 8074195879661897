#!/usr/bin/env bash
# Hot reload under load (SIGHUP): 100 reloads while records flow, one of them
# with an invalid lexicon (the old rules stay), then a lexicon change that
# must apply. Nothing lost or doubled: the moments equal `classify` offline
# on the same records, each exactly once.
source "$(dirname "$0")/lib.sh"

start_broker --topic "$T_EVENTS:4" --topic "$T_MOMENTS:4" --topic "$T_DLQ:1"
cp -r "$MM_SOURCE_DIR/lexicons" "$WORK/lex"

"$MM_BIN" gen --events 20000 --users 2000 --seed 11 --keyed >"$WORK/gen.tsv"
head -n 10000 "$WORK/gen.tsv" >"$WORK/first.tsv"
tail -n +10001 "$WORK/gen.tsv" >"$WORK/second.tsv"
produce_keyed "$T_EVENTS" "$WORK/first.tsv"

: >"$WORK/run.err"
"$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-reload" -i "$T_EVENTS" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" -X mm.lexicon.dir="$WORK/lex" -X mm.metrics.listen=127.0.0.1:0 \
  -X session.timeout.ms=6000 2>"$WORK/run.err" &
run_pid=$!
wait_for 30 grep -q assigned "$WORK/run.err"

# The second half of the records is produced while the reloads happen.
produce_keyed "$T_EVENTS" "$WORK/second.tsv" &
producer=$!
ok=0
for i in $(seq 1 100); do
  if [ "$i" = 50 ]; then
    # An invalid lexicon line: the reload fails, the rules in force stay.
    cp "$WORK/lex/en.tsv" "$WORK/en.good"
    printf 'broken line without fields\n' >>"$WORK/lex/en.tsv"
    kill -HUP $run_pid
    wait_for 10 failures_above 0
    cp "$WORK/en.good" "$WORK/lex/en.tsv"
  fi
  before=$(reloads)
  kill -HUP $run_pid
  wait_for 10 reloads_above "$before" && ok=$((ok + 1))
done
wait $producer
check_eq "100 reloads under load succeed" 100 "$ok"
check_eq "an invalid lexicon is refused" 1 "$(failures)"
check "the refusal names the file and line" grep -q "reload failed.*en.tsv:[0-9]" "$WORK/run.err"

# New rules apply: a word no lexicon knows becomes a buy keyword.
printf 'zqxjfrob\tbuy\t0.95\n' >>"$WORK/lex/en.tsv"
before=$(reloads)
kill -HUP $run_pid
wait_for 10 reloads_above "$before"
printf 'newrules\t{"event_id":"new-1","user_id":"newrules","type":"query","query":"zqxjfrob","lang":"en"}\n' \
  >"$WORK/new.tsv"
produce_keyed "$T_EVENTS" "$WORK/new.tsv"

moment_of_new() {
  consume_all "$T_MOMENTS" | grep -F '"event_id":"new-1"' | grep -o '"moment":"[a-z]*"' | head -n1
}
has_moment_of_new() { [ -n "$(moment_of_new)" ]; }
wait_for 30 has_moment_of_new
check_eq "the reloaded lexicon applies" '"moment":"buy"' "$(moment_of_new)"

# Everything produced is processed before the stop: wait for the lag to end.
expected_records=$(( $(wc -l <"$WORK/gen.tsv") + 1 ))
processed() { consume_all "$T_MOMENTS" | wc -l; }
cut -f2- "$WORK/gen.tsv" | "$MM_BIN" classify -X mm.lexicon.dir="$MM_SOURCE_DIR/lexicons" 2>/dev/null \
  | python3 -c 'import json,sys; [print(m["event_id"], m["moment"], m["confidence"]) for m in map(json.loads, sys.stdin)]' \
  | sort >"$WORK/offline"
all_processed() { [ "$(processed)" -ge $(( $(wc -l <"$WORK/offline") + 1 )) ]; }
wait_for 60 all_processed
kill -TERM $run_pid
code=0; wait $run_pid || code=$?
check_eq "run exits 0 after the reloads" 0 "$code"
check "every record was taken in" grep -q "records $expected_records," "$WORK/run.err"

consume_all "$T_MOMENTS" >"$WORK/moments.jsonl"
python3 -c 'import json,sys; [print(m["event_id"], m["moment"], m["confidence"]) for m in map(json.loads, open(sys.argv[1])) if m["event_id"] != "new-1"]' \
  "$WORK/moments.jsonl" | sort >"$WORK/online"
echo "counts: sent=$expected_records moments=$(wc -l <"$WORK/moments.jsonl") offline=$(wc -l <"$WORK/offline")"
check_eq "nothing lost or doubled across the reloads" "$(md5sum <"$WORK/offline")" "$(md5sum <"$WORK/online")"
check_eq "each moment once" "$(wc -l <"$WORK/moments.jsonl")" \
  "$(python3 -c 'import json,sys; print(len({json.loads(l)["moment_id"] for l in open(sys.argv[1])}))' "$WORK/moments.jsonl")"

finish
