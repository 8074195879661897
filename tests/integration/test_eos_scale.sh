#!/usr/bin/env bash
# Issue 14, point 7: exactly-once scales out with the defaults. Three
# instances in one group with mm.delivery=exactly-once and no
# mm.transactional.id all stay up (none fences another); one is killed
# (kill -9) and a fourth joins, while events keep arriving. At the end a
# read_committed reader sees every expected moment exactly once (distinct
# moment_id = received) and the group's committed offsets equal the end
# offsets.
# The killed instance leaves a transaction open: it holds back read_committed
# readers of the partitions it wrote to, and the offsets of its input
# partitions for their next owner, until the transaction coordinator aborts it
# after transaction.timeout.ms. The engine sets none, so librdkafka's 60 s
# would apply, and with a new transactional id at each start no restart
# fences it sooner; the test sets 10 s so that its waits stay short (the
# broker checks for timed-out transactions every 10 s, so up to ~20 s).
# Real brokers only: the development broker has no transactional isolation
# (a read_committed reader sees open and aborted transactions) and does not
# store offsets sent to a transaction.
source "$(dirname "$0")/lib.sh"

is_real || skip_all "exactly-once scale-out needs a real broker (the development broker has no transactional isolation and does not store offsets sent to a transaction); it runs in integration.kafka.$TEST_NAME"
T0=$SECONDS
PARTS=8

start_broker --topic "$T_EVENTS:$PARTS" --topic "$T_MOMENTS:$PARTS" --topic "$T_DLQ:1"
"$MM_BIN" gen --events 12000 --users 800 --seed 7 --keyed >"$WORK/events.tsv"
expected_query_moments "$WORK/events.tsv" >"$WORK/expected.ids"
head -n 6000 "$WORK/events.tsv" >"$WORK/first.tsv"
tail -n +6001 "$WORK/events.tsv" >"$WORK/second.tsv"
log "$(lines "$WORK/expected.ids") keyword-driven query moments expected"
GROUP="$RUN_ID-eos"
# No mm.transactional.id: the defaults under test.
EOS=(-X mm.delivery=exactly-once -X mm.txn.interval.ms=300 -X transaction.timeout.ms=10000)

for n in a b c; do start_run "$n" "$GROUP" "${EOS[@]}"; done
all_joined() { for n in "$@"; do grep -q ' assigned ' "$WORK/$n.log" || return 1; done; }
check "three instances of one group join" wait_for 60 all_joined a b c
feed "$T_EVENTS" "$WORK/first.tsv" 200 0.2
wait_for 60 moments_at_least 300 || true
check "moments come out of the three" moments_at_least 300
for n in a b c; do
  check "instance $n is up with the others (none fenced)" alive "$n"
  check "instance $n owns partitions: $(owned_partitions "$WORK/$n.log" "$T_EVENTS")" \
    test -n "$(owned_partitions "$WORK/$n.log" "$T_EVENTS")"
done

kill9_run b
log "instance b killed (kill -9) with $(topic_count "$T_MOMENTS") moments committed"
start_run d "$GROUP" "${EOS[@]}"
check "a fourth instance joins" wait_for 60 all_joined d
wait "$FEED_PID" || true
feed "$T_EVENTS" "$WORK/second.tsv" 200 0.2
wait "$FEED_PID" || true
log "all $(lines "$WORK/events.tsv") events produced after $((SECONDS - T0)) s"

# Bounded by the zombie's transaction: session timeout (6 s) + transaction
# timeout (10 s) + the broker's abort check (10 s) + processing.
check "every expected moment is readable with read_committed" wait_for 90 none_missing "$WORK/expected.ids"
lag_zero() { [ "$(group_lag "$GROUP" "$T_EVENTS")" = "0 $PARTS" ]; }
check "the group's committed offsets reach the end offsets" wait_for 60 lag_zero
for n in a c d; do check "instance $n is still up" alive "$n"; done
check "no instance was fenced" bash -c "! grep -qi fenced $WORK/a.log $WORK/c.log $WORK/d.log"
for n in a c d; do
  stop_run "$n"
  check_eq "instance $n stops on SIGTERM with exit 0" 0 "$RUN_CODE"
done

consume_all "$T_MOMENTS" -X isolation.level=read_committed >"$WORK/moments.jsonl"
count_moments eos "$WORK/events.tsv" "$WORK/moments.jsonl" "$WORK/expected.ids"
check_eq "every keyword-driven query moment is there" 0 "$(count_of "$WORK/moments.jsonl" missing)"
check_eq "read_committed: every moment exactly once (received = distinct moment_id)" \
  "$(count_of "$WORK/moments.jsonl" distinct)" "$(count_of "$WORK/moments.jsonl" received)"
lag=$(group_lag "$GROUP" "$T_EVENTS" || echo unknown)
check_eq "committed offsets equal end offsets at the end (lag, partitions)" "0 $PARTS" "$lag"
[ "$lag" = "0 $PARTS" ] || cat "$WORK/group.out" "$WORK/group.err" >&2
log "total $((SECONDS - T0)) s"

finish
