#!/usr/bin/env bash
# Issue 14, point 6: the same input gives the same moments, detected_ts
# aside, whatever the number of workers (so the placement of partitions on
# threads) and the batch boundaries.
# 120,000 keyed events are loaded once with an idempotent producer (so the
# order within each partition is fixed) and run three times, each with a
# fresh group and a fresh output topic: 1 worker with batches of 256, 2 with
# batches of 7, 4 with batches of 1. The moments, every field but
# detected_ts, sorted canonically, must be identical; and they are what
# offline `classify` finds on the same events.
# Sizes: the development broker keeps about 5 MB per partition, so 16
# partitions (these events: under 2 MB of input and 2.5 MB of moments on the
# fullest one); that nothing was dropped is checked.
# ctest runs it on the development broker only (tests/CMakeLists.txt says
# why); MM_TEST_BROKER=kafka runs the same script on a real Kafka by hand.
source "$(dirname "$0")/lib.sh"
T0=$SECONDS
PARTS=16
EVENTS=120000
RUNS=("1 256" "2 7" "4 1") # workers, batch records

topics=(--topic "$T_EVENTS:$PARTS" --topic "$T_DLQ:1")
for i in "${!RUNS[@]}"; do topics+=(--topic "$T_MOMENTS.$i:$PARTS"); done
start_broker "${topics[@]}"

"$MM_BIN" gen --events $EVENTS --users 50000 --zipf 0.6 --seed 614 --keyed >"$WORK/events.tsv"
kcat -b "$BOOTSTRAP" -P -t "$T_EVENTS" -K $'\t' -z none -X enable.idempotence=true -l "$WORK/events.tsv"
check_eq "the input topic holds every event (loaded once, idempotent producer)" $EVENTS "$(topic_count "$T_EVENTS")"
log "loaded $EVENTS events in $((SECONDS - T0)) s"

# Moments with detected_ts removed, one canonical JSON line each, sorted.
canonical() { # canonical < MOMENTS_JSONL
  python3 -c '
import json, sys
out = []
for l in sys.stdin:
    if l.strip():
        m = json.loads(l)
        del m["detected_ts"]
        out.append(json.dumps(m, sort_keys=True, separators=(",", ":")))
out.sort()
sys.stdout.write("\n".join(out) + ("\n" if out else ""))'
}

for i in "${!RUNS[@]}"; do
  read -r workers batch <<<"${RUNS[$i]}"
  t=$SECONDS
  code=$(timeout -s KILL 180 "$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-$i" -i "$T_EVENTS" -o "$T_MOMENTS.$i" \
    -X mm.dlq.topic="$T_DLQ" -X session.timeout.ms=6000 -X mm.metrics.listen=127.0.0.1:0 \
    -X mm.workers="$workers" -X mm.batch.records="$batch" --exit-on-eof 2>"$WORK/run.$i.log" >/dev/null && echo 0 || echo $?)
  check_eq "run $i (mm.workers=$workers, mm.batch.records=$batch) exits 0" 0 "$code"
  check "run $i reads every event" grep -q "records $EVENTS," "$WORK/run.$i.log"
  consume_all "$T_MOMENTS.$i" >"$WORK/moments.$i.jsonl"
  canonical <"$WORK/moments.$i.jsonl" >"$WORK/canon.$i"
  n=$(grep -o 'moments know [0-9]* go [0-9]* do [0-9]* buy [0-9]*' "$WORK/run.$i.log" | awk '{print $3 + $5 + $7 + $9}')
  check_eq "run $i: the output topic holds every moment the run wrote" "${n:-?}" "$(lines "$WORK/canon.$i")"
  log "run $i (workers $workers, batch $batch): $(lines "$WORK/canon.$i") moments in $((SECONDS - t)) s"
done
check_eq "no dead letters (the events are all valid)" 0 "$(topic_count "$T_DLQ")"

# The same moments, field for field (detected_ts aside), in every run; on a
# difference, the first differing moments for a diagnosis.
for i in 1 2; do
  same=no
  cmp -s "$WORK/canon.0" "$WORK/canon.$i" && same=yes
  check_eq "run $i (${RUNS[$i]}) gives the same moments as run 0 (${RUNS[0]})" yes "$same"
  if [ $same = no ]; then
    diff "$WORK/canon.0" "$WORK/canon.$i" >"$WORK/diff.$i" || true
    log "$(grep -c '^<' "$WORK/diff.$i") moments only in run 0, $(grep -c '^>' "$WORK/diff.$i") only in run $i; the first:"
    grep '^[<>]' "$WORK/diff.$i" | head -n 6 | cut -c1-600 >&2
  fi
done

# And what offline classify finds on the same events (per-user state only
# depends on the user's own events, which share a partition).
cut -f2- "$WORK/events.tsv" | "$MM_BIN" classify 2>/dev/null | moment_triples_sorted >"$WORK/offline"
moment_triples_sorted <"$WORK/moments.0.jsonl" >"$WORK/online"
check_eq "the moments (event_id, moment, confidence) are offline classify's" \
  "$(md5sum <"$WORK/offline")" "$(md5sum <"$WORK/online")"
log "offline: $(lines "$WORK/offline") moments; total $((SECONDS - T0)) s"

finish
