#!/usr/bin/env bash
# Issue 9 (e): exactly-once fencing. A second instance with the same
# mm.transactional.id (each worker's producer is <prefix>-<worker index>)
# fences the first: the first exits non-zero (exit 1) with a message that says
# "fenced"; the second carries on. Real brokers only: librdkafka 2.0.2's mock
# cluster hands the second instance a new producer epoch but never rejects the
# old one (measured: both instances kept committing transactions for 8
# minutes), so the development broker cannot show fencing.
source "$(dirname "$0")/lib.sh"

is_real || skip_all "exactly-once fencing needs a real broker (the development broker does not reject an older producer epoch); it runs in integration.kafka.$TEST_NAME"

start_broker --topic "$T_EVENTS:4" --topic "$T_MOMENTS:4" --topic "$T_DLQ:1"
"$MM_BIN" gen --events 20000 --users 500 --seed 25 --keyed >"$WORK/events.tsv"
head -n 2000 "$WORK/events.tsv" >"$WORK/first.tsv"
tail -n +2001 "$WORK/events.tsv" >"$WORK/rest.tsv"
eos=(-X mm.delivery=exactly-once -X mm.transactional.id="$RUN_ID-txn" -X mm.txn.interval.ms=200)

produce_keyed "$T_EVENTS" "$WORK/first.tsv"
start_run first "$RUN_ID-first" "${eos[@]}"
wait_for 60 moments_or_gone first 100 || true
check "the first instance processes in transactions" moments_at_least 100
check "the first instance is running" alive first

# The second instance: the same transactional id, its own group (so it does
# not just take the first's partitions away); events keep coming, so the
# first keeps opening transactions and meets the fence.
feed "$T_EVENTS" "$WORK/rest.tsv" 500 0.2
start_run second "$RUN_ID-second" "${eos[@]}"
first_gone() { ! alive first; }
check "the first instance exits once fenced" wait_for 90 first_gone
if alive first; then
  stop_run first 10
  code="still running (stopped: $RUN_CODE)"
else
  code=0; wait "${RUN_PID[first]}" || code=$?
fi
check_eq "the fenced instance exits 1" 1 "$code"
check "its message says fenced" grep -qi 'fenced' "$WORK/first.log"
grep -i 'fenced' "$WORK/first.log" | head -n 3 >&2 || tail -n 5 "$WORK/first.log" >&2
check "the second instance is still running" alive second
wait "$FEED_PID" || true
stop_run second
check_eq "the second instance stops on SIGTERM with exit 0" 0 "$RUN_CODE"
finish
