#!/usr/bin/env bash
# Issue 9 (a): kill -9 of `micromoment run` part way through a stream, then a
# restart in the same group. At-least-once (both brokers): every query event
# whose keywords carry intent has a moment, and the rule downstream uses to
# drop replays holds: a moment_id names one source record (topic, partition,
# offset), every copy of a record's moment carries the same moment_id even
# when the replay classified it differently, so once duplicate moment_ids are
# dropped a query record has one moment.
# Exactly-once: on a real Kafka, a read_committed reader sees every moment
# exactly once and the group's committed offsets equal the end offsets; the
# development broker has no transactional isolation, so there only "nothing
# lost" is asserted.
# The restarted process starts with empty per-user state, so behavioural
# moments (rapid queries, location bursts, cart attribution) may differ
# around the crash; keyword-driven query moments may not.
source "$(dirname "$0")/lib.sh"

start_broker --control --topic "$T_EVENTS:4" --topic "$T_MOMENTS:4" --topic "$T_DLQ:1"
"$MM_BIN" gen --events 5000 --users 500 --seed 21 --keyed >"$WORK/events.tsv"
expected_query_moments "$WORK/events.tsv" >"$WORK/expected.ids"
offline=$(cut -f2- "$WORK/events.tsv" | "$MM_BIN" classify 2>/dev/null | wc -l)
log "offline classify: $offline moments, $(lines "$WORK/expected.ids") keyword-driven query moments"

# Feeds the first half of the events in batches, kills the first process once
# a quarter of the moments are out (so the kill lands part way whatever the
# machine's speed: the second half is not even produced yet), produces the
# second half and restarts the processor in the same group to the end.
half=$(( $(lines "$WORK/events.tsv") / 2 ))
head -n "$half" "$WORK/events.tsv" >"$WORK/first.tsv"
tail -n +$((half + 1)) "$WORK/events.tsv" >"$WORK/second.tsv"
crash_and_restart() { # crash_and_restart LABEL GROUP [RUN ARGS...]
  local label=$1 group=$2; shift 2
  start_run "$label.1" "$group" "$@"
  wait_for 30 joined_or_gone "$label.1" || true
  check "$label: first process joins the group" grep -q ' assigned ' "$WORK/$label.1.log"
  feed "$T_EVENTS" "$WORK/first.tsv" 250 0.15
  wait_for 90 moments_or_gone "$label.1" $((offline / 4)) || true
  check "$label: moments appear before the kill" moments_at_least $((offline / 4))
  check "$label: first process still running at the kill" alive "$label.1"
  kill9_run "$label.1"
  local at_kill
  at_kill=$(topic_count "$T_MOMENTS")
  log "$label: killed (kill -9) with $at_kill moments out"
  check "$label: killed part way ($at_kill < $offline moments)" test "$at_kill" -lt "$offline"
  wait "$FEED_PID"
  produce_keyed "$T_EVENTS" "$WORK/second.tsv"
  check_eq "$label: restart runs to the end, exit 0" 0 "$(run_to_end "$label.2" "$group" 120 "$@")"
  consume_all "$T_MOMENTS" -X isolation.level=read_committed >"$WORK/$label.moments"
  count_moments "$label" "$WORK/events.tsv" "$WORK/$label.moments" "$WORK/expected.ids"
  check_eq "$label: every keyword-driven query moment is there" 0 "$(count_of "$WORK/$label.moments" missing)"
  check_eq "$label: copies of an (event_id, moment) share one moment_id" 0 "$(count_of "$WORK/$label.moments" split)"
  check_eq "$label: a moment_id names one source record" 0 "$(count_of "$WORK/$label.moments" sources)"
  check_eq "$label: without duplicate moment_ids a query record has one moment" 0 \
    "$(count_of "$WORK/$label.moments" multi)"
  log "$label: $(count_of "$WORK/$label.moments" retyped) moment_ids came again with another type (a replay with less per-user history; downstream keeps one)"
}

# ---- at-least-once
crash_and_restart at-least-once "$RUN_ID-alo"
d=$(( $(count_of "$WORK/at-least-once.moments" received) - $(count_of "$WORK/at-least-once.moments" distinct) ))
log "at-least-once: $d duplicates re-delivered after the crash (allowed, same moment_id)"

# ---- exactly-once
use_topics eos 4
crash_and_restart exactly-once "$RUN_ID-eos" \
  -X mm.delivery=exactly-once -X mm.transactional.id="$RUN_ID-txn"
if is_real; then
  check_eq "exactly-once: a read_committed reader sees every moment exactly once (received = distinct)" \
    "$(count_of "$WORK/exactly-once.moments" distinct)" "$(count_of "$WORK/exactly-once.moments" received)"
  lag=$(group_lag "$RUN_ID-eos" "$T_EVENTS" || echo "unknown")
  check_eq "exactly-once: committed offsets equal end offsets (lag, partitions)" "0 4" "$lag"
  [ "$lag" = "0 4" ] || cat "$WORK/group.out" "$WORK/group.err" >&2
else
  log "exactly-once duplicate-free proof needs a real broker (the development broker has no transactional isolation)"
fi

finish
