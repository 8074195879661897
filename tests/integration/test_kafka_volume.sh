#!/usr/bin/env bash
# Volume and retention beyond the development broker (which keeps ~5 MB per
# partition): a million events through ONE partition of a real Kafka, all of
# them processed, every moment out, the group's offset at the end.
source "$(dirname "$0")/lib.sh"

require_kafka "a million events through one partition (the development broker keeps ~5 MB per partition)"
start_broker --topic "$T_EVENTS:1" --topic "$T_MOMENTS:4" --topic "$T_DLQ:1"

N=1000000
"$MM_BIN" gen --events $N --users 100000 --seed 31 --keyed >"$WORK/events.tsv"
produce_keyed "$T_EVENTS" "$WORK/events.tsv"
log "produced $N events ($(du -m "$WORK/events.tsv" | cut -f1) MB) into one partition"
cut -f2- "$WORK/events.tsv" | "$MM_BIN" classify 2>/dev/null | wc -l >"$WORK/offline.count"
rm -f "$WORK/events.tsv"

code=$(run_to_end volume "$RUN_ID-volume" 300)
check_eq "run over a million records exits 0" 0 "$code"
check "every record was taken in" grep -q "records $N," "$WORK/volume.log"
moments=$(topic_count "$T_MOMENTS")
echo "counts: sent=$N moments=$moments offline=$(cat "$WORK/offline.count") dlq=$(topic_count "$T_DLQ")"
check_eq "every moment is out" "$(cat "$WORK/offline.count")" "$moments"
check_eq "nothing went to the dead-letter topic" 0 "$(topic_count "$T_DLQ")"
check_eq "committed offset at the partition's end (lag, partitions)" "0 1" \
  "$(group_lag "$RUN_ID-volume" "$T_EVENTS" || echo unknown)"

finish
