#!/usr/bin/env bash
# Issue 9 (b): two instances in one group; one is killed (kill -9) part way.
# The other takes over its partitions (its log says "assigned" for each of
# them) and nothing is lost: every keyword-driven query moment is there and
# every copy of an (event_id, moment) carries one moment_id. Both brokers
# (a dead member keeps its partitions until session.timeout.ms, 6 s here).
source "$(dirname "$0")/lib.sh"

start_broker --topic "$T_EVENTS:4" --topic "$T_MOMENTS:4" --topic "$T_DLQ:1"
"$MM_BIN" gen --events 6000 --users 500 --seed 22 --keyed >"$WORK/events.tsv"
expected_query_moments "$WORK/events.tsv" >"$WORK/expected.ids"
offline=$(cut -f2- "$WORK/events.tsv" | "$MM_BIN" classify 2>/dev/null | wc -l)
group="$RUN_ID-rebalance"

two_own_partitions() {
  [ -n "$(owned_partitions "$WORK/a.log" "$T_EVENTS")" ] &&
    [ -n "$(owned_partitions "$WORK/b.log" "$T_EVENTS")" ] &&
    [ "$(printf '%s %s\n' "$(owned_partitions "$WORK/a.log" "$T_EVENTS")" \
      "$(owned_partitions "$WORK/b.log" "$T_EVENTS")" | wc -w)" = 4 ]
}

start_run a "$group"
wait_for 30 joined_or_gone a || true
start_run b "$group"
wait_for 60 two_own_partitions || true
a_parts=$(owned_partitions "$WORK/a.log" "$T_EVENTS")
b_parts=$(owned_partitions "$WORK/b.log" "$T_EVENTS")
log "a owns [$a_parts], b owns [$b_parts]"
check "the two instances share the 4 partitions" two_own_partitions

# Only the first half exists until a is killed, so the kill lands part way
# however fast the machine is; the second half follows.
half=$(( $(lines "$WORK/events.tsv") / 2 ))
head -n "$half" "$WORK/events.tsv" >"$WORK/first.tsv"
tail -n +$((half + 1)) "$WORK/events.tsv" >"$WORK/second.tsv"
feed "$T_EVENTS" "$WORK/first.tsv" 250 0.15
a_moments() { # moments a produced so far (sources on a's partitions)
  consume_all "$T_MOMENTS" -f '%s\n' | python3 -c '
import json, sys
own = set(sys.argv[1].split())
print(sum(1 for l in sys.stdin if l.strip() and str(json.loads(l)["source"]["partition"]) in own))' "$a_parts"
}
a_busy() { alive a || return 0; [ "$(a_moments)" -ge 100 ]; }
wait_for 90 a_busy || true
check "a produced moments before the kill" test "$(a_moments)" -ge 100
check "a still running at the kill" alive a
lines_before=$(wc -l <"$WORK/b.log")
kill9_run a
log "a killed (kill -9) with $(topic_count "$T_MOMENTS") moments out"
check "killed part way" test "$(topic_count "$T_MOMENTS")" -lt "$offline"
wait "$FEED_PID"
produce_keyed "$T_EVENTS" "$WORK/second.tsv"

b_took_over() {
  local p
  for p in $a_parts; do
    tail -n +"$((lines_before + 1))" "$WORK/b.log" | grep -qF "assigned $T_EVENTS [$p]" || return 1
  done
}
check "b takes over a's partitions [$a_parts] (its log says assigned)" wait_for 60 b_took_over
check "b's moments cover every keyword-driven query event" wait_for 60 none_missing "$WORK/expected.ids"
check "b stayed up" alive b
stop_run b
check_eq "b stops on SIGTERM with exit 0" 0 "$RUN_CODE"

consume_all "$T_MOMENTS" >"$WORK/moments"
count_moments rebalance "$WORK/events.tsv" "$WORK/moments" "$WORK/expected.ids"
check_eq "nothing lost (keyword-driven query moments missing)" 0 "$(count_of "$WORK/moments" missing)"
check_eq "copies of an (event_id, moment) share one moment_id" 0 "$(count_of "$WORK/moments" split)"
check_eq "a moment_id names one source record" 0 "$(count_of "$WORK/moments" sources)"
check_eq "without duplicate moment_ids a query record has one moment" 0 \
  "$(count_of "$WORK/moments" multi)"
finish
