#!/usr/bin/env bash
# Issue 14, point 9: an output topic deleted while the run writes to it stops
# the run within seconds, in both delivery modes: exit 1, a line naming the
# topic, and no input offset committed past a record whose moment was not
# written.
# What was written is read from the deleted topic's log segments (Kafka keeps
# them on disk, renamed *-delete, for file.delete.delay.ms = 60 s) with
# Kafka's DumpLogSegments, as soon as the topics are gone; exactly-once does
# not count records of aborted transactions (see written_moments). A record that must have a moment is a query whose keywords
# alone give one (lib.sh expected_query_moments).
# Both modes run side by side, each on its own topics and group.
# Real Kafka whose process the suite runs only: the development broker cannot
# delete topics, and an external cluster's disks are not ours to read.
source "$(dirname "$0")/lib.sh"

require_kafka "deleting the output topic (the development broker cannot delete topics) and reading its segments from the broker's disk"
T0=$SECONDS

"$MM_BIN" gen --events 20000 --users 1000 --seed 9 --keyed >"$WORK/events.tsv"
expected_query_moments "$WORK/events.tsv" >"$WORK/expected.ids"
head -n 2000 "$WORK/events.tsv" >"$WORK/first.tsv"
tail -n +2001 "$WORK/events.tsv" >"$WORK/rest.tsv"

# Moments written to TOPIC, from DumpLogSegments --deep-iteration output:
# their event_ids. Exactly-once: records of transactions with a COMMIT
# marker, and of a producer's last transaction when it has no marker at all:
# the broker acknowledged them, and the coordinator's decision could not be
# marked in a topic that is gone (a committed offset past them says it was a
# commit: an aborted transaction's offsets are never committed). Records of
# transactions marked ABORT do not count.
written_moments() { # written_moments DUMP_FILE TOPIC
  python3 - "$1" "$2" <<'PY'
import json, re, sys
dump, topic = sys.argv[1:]
pending = {}  # (segment file, producerId) -> event_ids of its open transaction
out = []
mine = txn = ctl = False
seg = pid = None
for line in open(dump, encoding="utf-8", errors="replace"):
    if line.startswith("Dumping "):
        seg = line.split(" ", 1)[1].strip()
        mine = "/%s-" % topic in seg and ".dlq-" not in seg[seg.index("/%s-" % topic):]
    elif not mine:
        continue
    elif line.startswith("baseOffset:"):
        pid = (seg, re.search(r"producerId: (-?\d+)", line).group(1))
        txn = "isTransactional: true" in line
        ctl = "isControl: true" in line
    elif line.startswith("| offset:"):
        if ctl:
            done = pending.pop(pid, [])
            if "endTxnMarker: COMMIT" in line:
                out.extend(done)
        elif " payload: " in line:
            m = json.loads(line.split(" payload: ", 1)[1])
            (pending.setdefault(pid, []) if txn else out).append(m["event_id"])
for ids in pending.values():  # no marker: the topic went first
    out.extend(ids)
print("\n".join(sorted(set(out))))
PY
}

LABELS=(at-least-once exactly-once)
declare -A ARGS=([at-least-once]="" [exactly-once]="-X mm.delivery=exactly-once -X mm.txn.interval.ms=300")
declare -A FEED=() TOOK=() CODE=()
use_label() { # use_label LABEL: its topics in T_EVENTS, T_MOMENTS, T_DLQ
  T_EVENTS="$RUN_ID.$1.events"
  T_MOMENTS="$RUN_ID.$1.micro-moments"
  T_DLQ="$RUN_ID.$1.micro-moments.dlq"
}
topics=()
for label in "${LABELS[@]}"; do
  use_label "$label"
  topics+=(--topic "$T_EVENTS:4" --topic "$T_MOMENTS:4" --topic "$T_DLQ:1")
done
start_broker "${topics[@]}"

for label in "${LABELS[@]}"; do
  use_label "$label"
  produce_keyed "$T_EVENTS" "$WORK/first.tsv"
  # shellcheck disable=SC2086 # ARGS holds separate words
  start_run "$label" "$RUN_ID-$label" ${ARGS[$label]}
done
for label in "${LABELS[@]}"; do
  use_label "$label"
  wait_for 60 moments_or_gone "$label" 200 || true
  check "$label: moments are being written" moments_at_least 200
  feed "$T_EVENTS" "$WORK/rest.tsv" 200 0.2 # events keep coming
  FEED[$label]=$FEED_PID
done
sleep 1 # writing and committing, not just started
DELETES=()
for label in "${LABELS[@]}"; do
  use_label "$label"
  kafka_tool TopicCommand --bootstrap-server "$BOOTSTRAP" --delete --topic "$T_MOMENTS" >"$WORK/$label.delete.out" 2>&1 &
  DELETES+=($!)
done
wait "${DELETES[@]}" || true
t=$SECONDS
log "both output topics deleted"
# Their segments are read as soon as the broker has moved them aside (it
# removes them 60 s later), while the runs are timed: from the deletion to
# each one's exit, bounded at 60 s (then SIGKILL).
segments_moved() {
  [ "$(ls -d "$MM_KAFKA_STATE/data/$RUN_ID".*.micro-moments-[0-9]*-delete 2>/dev/null | wc -l)" = 8 ]
}
TOOLS=()
while { [ ${#TOOK[@]} -lt ${#LABELS[@]} ] || [ ${#TOOLS[@]} = 0 ]; } && [ $((SECONDS - t)) -lt 60 ]; do
  for label in "${LABELS[@]}"; do
    [ -z "${TOOK[$label]:-}" ] && ! alive "$label" && TOOK[$label]=$((SECONDS - t))
  done
  if [ ${#TOOLS[@]} = 0 ] && segments_moved; then
    files=$(ls -d "$MM_KAFKA_STATE/data/$RUN_ID".*.micro-moments-[0-9]*-delete/*.log | paste -sd, -)
    kafka_tool DumpLogSegments --files "$files" --print-data-log --deep-iteration >"$WORK/dump" 2>"$WORK/dump.err" &
    TOOLS=($!)
  fi
  sleep 0.2
done
check "the deleted topics' segments were on disk" test ${#TOOLS[@]} = 1
for label in "${LABELS[@]}"; do
  if [ -z "${TOOK[$label]:-}" ]; then
    log "$label: still running 60 s after the deletion: SIGKILL"
    kill -KILL "${RUN_PID[$label]}" 2>/dev/null || true
    TOOK[$label]=60
  fi
  CODE[$label]=0
  wait "${RUN_PID[$label]}" || CODE[$label]=$?
  kill "${FEED[$label]}" 2>/dev/null || true
  wait "${FEED[$label]}" 2>/dev/null || true
done

# What was committed (the groups' offsets), what was written (the dump),
# where each event is (the input topics).
for label in "${LABELS[@]}"; do
  kafka_tool consumer.group.ConsumerGroupCommand --bootstrap-server "$BOOTSTRAP" --describe \
    --group "$RUN_ID-$label" >"$WORK/$label.group" 2>"$WORK/$label.group.err" &
  TOOLS+=($!)
done
wait "${TOOLS[@]}" || true
for label in "${LABELS[@]}"; do
  use_label "$label"
  check_eq "$label: the run exits 1" 1 "${CODE[$label]}"
  check "$label: it stops within 10 s of the deletion (took ${TOOK[$label]} s)" test "${TOOK[$label]}" -le 10
  grep -v ' librdkafka ' "$WORK/$label.log" | grep -F "$T_MOMENTS" | grep -vF "$T_MOMENTS.dlq" >"$WORK/$label.named" || true
  check "$label: micromoment's log names the topic" test -s "$WORK/$label.named"
  head -n 1 "$WORK/$label.named" | cut -c1-300 >&2
  grep ' error ' "$WORK/$label.log" | tail -n 2 | cut -c1-300 >&2 || true

  written_moments "$WORK/dump" "$T_MOMENTS" >"$WORK/$label.written"
  awk -v t="$T_EVENTS" '$2 == t { print $3, $4 }' "$WORK/$label.group" >"$WORK/$label.committed"
  kcat -b "$BOOTSTRAP" -C -t "$T_EVENTS" -o beginning -e -q -f '%p %o %s\n' >"$WORK/$label.input"
  python3 - "$WORK/$label.input" "$WORK/$label.committed" "$WORK/expected.ids" "$WORK/$label.written" \
    >"$WORK/$label.verdict" <<'PY'
import json, sys
inp, committed, expected, written = sys.argv[1:]
where = {}
for line in open(inp):
    p, o, v = line.split(" ", 2)
    where[json.loads(v)["event_id"]] = (int(p), int(o))
com = {}
for line in open(committed):
    p, o = line.split()
    com[int(p)] = int(o) if o.isdigit() else 0
want = set(l.strip() for l in open(expected) if l.strip())
have = set(l.strip() for l in open(written) if l.strip())
below = [e for e in want if e in where and where[e][1] < com.get(where[e][0], 0)]
lost = sorted(e for e in below if e not in have)
print("committed_records=%d" % sum(com.values()))
print("expected_below_committed=%d" % len(below))
print("written=%d" % len(have))
print("lost=%d" % len(lost))
for e in lost[:5]:
    print("  committed past %s (partition %d offset %d) with no moment written" % ((e,) + where[e]), file=sys.stderr)
PY
  v() { sed -n "s/^$1=//p" "$WORK/$label.verdict"; }
  log "$label: $(tr '\n' ' ' <"$WORK/$label.verdict")"
  check "$label: offsets were committed before the deletion" test "$(v committed_records)" -gt 0
  check "$label: moments were written before the deletion" test "$(v written)" -gt 0
  check_eq "$label: no offset committed past a record whose moment was not written" 0 "$(v lost)"
done
log "total $((SECONDS - T0)) s"

finish
