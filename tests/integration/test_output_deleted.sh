#!/usr/bin/env bash
# Issue 14, point 9: an output topic deleted while the run writes to it stops
# the run within seconds, in both delivery modes: exit 1, a line naming the
# topic, and no input offset committed past a record whose moment was not
# written.
# What was written is read from the deleted topic's log segments (Kafka keeps
# them on disk, renamed *-delete, for file.delete.delay.ms = 60 s) with
# Kafka's DumpLogSegments; exactly-once counts only records of committed
# transactions. A record that must have a moment is a query whose keywords
# alone give one (lib.sh expected_query_moments).
# Real Kafka whose process the suite runs only: the development broker cannot
# delete topics, and an external cluster's disks are not ours to read.
source "$(dirname "$0")/lib.sh"

require_kafka "deleting the output topic (the development broker cannot delete topics) and reading its segments from the broker's disk"
T0=$SECONDS

"$MM_BIN" gen --events 20000 --users 1000 --seed 9 --keyed >"$WORK/events.tsv"
expected_query_moments "$WORK/events.tsv" >"$WORK/expected.ids"
head -n 2000 "$WORK/events.tsv" >"$WORK/first.tsv"
tail -n +2001 "$WORK/events.tsv" >"$WORK/rest.tsv"

# Moments a read_committed reader would have seen in the deleted topic, from
# DumpLogSegments --deep-iteration output: "event_id" lines.
written_moments() { # written_moments DUMP_FILE
  python3 - "$1" <<'PY'
import json, re, sys
pending = {}  # producerId -> payloads of its open transaction
out = []
txn = ctl = False
pid = None
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if line.startswith("baseOffset:"):
        pid = re.search(r"producerId: (-?\d+)", line).group(1)
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
print("\n".join(sorted(set(out))))
PY
}

deleted_while_running() { # deleted_while_running LABEL [RUN ARGS...]
  local label=$1 t code took
  shift
  use_topics "$label" 4
  produce_keyed "$T_EVENTS" "$WORK/first.tsv"
  start_run "$label" "$RUN_ID-$label" "$@"
  wait_for 60 moments_or_gone "$label" 200 || true
  check "$label: moments are being written" moments_at_least 200
  feed "$T_EVENTS" "$WORK/rest.tsv" 200 0.2 # events keep coming
  sleep 1 # writing and committing, not just started
  kafka_tool TopicCommand --bootstrap-server "$BOOTSTRAP" --delete --topic "$T_MOMENTS" >"$WORK/$label.delete.out" 2>&1
  t=$SECONDS
  log "$label: $T_MOMENTS deleted"
  gone() { ! alive "$label"; }
  wait_for 60 gone || { log "$label: still running 60 s after the deletion: SIGKILL"; kill -KILL "${RUN_PID[$label]}" 2>/dev/null || true; }
  took=$((SECONDS - t))
  code=0
  wait "${RUN_PID[$label]}" || code=$?
  kill "$FEED_PID" 2>/dev/null || true
  wait "$FEED_PID" 2>/dev/null || true
  check_eq "$label: the run exits 1" 1 "$code"
  check "$label: it stops within 10 s of the deletion (took $took s)" test "$took" -le 10
  grep -v ' librdkafka ' "$WORK/$label.log" | grep -F "$T_MOMENTS" | grep -vF "$T_MOMENTS.dlq" >"$WORK/$label.named" || true
  check "$label: micromoment's log names the topic" test -s "$WORK/$label.named"
  head -n 2 "$WORK/$label.named" | cut -c1-300 >&2
  grep ' error ' "$WORK/$label.log" | tail -n 2 | cut -c1-300 >&2 || true

  # What was written, what was committed.
  local files
  files=$(ls -d "$MM_KAFKA_STATE/data/$T_MOMENTS"-[0-9]*-delete/*.log 2>/dev/null | paste -sd, -)
  check "$label: the deleted topic's segments are on disk" test -n "$files"
  kafka_tool DumpLogSegments --files "$files" --print-data-log --deep-iteration >"$WORK/$label.dump" 2>"$WORK/$label.dump.err" || true
  written_moments "$WORK/$label.dump" >"$WORK/$label.written"
  group_lag "$RUN_ID-$label" "$T_EVENTS" >/dev/null || true # describes the group into group.out
  awk -v t="$T_EVENTS" '$2 == t { print $3, $4 }' "$WORK/group.out" >"$WORK/$label.committed"
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
}

deleted_while_running at-least-once
deleted_while_running exactly-once -X mm.delivery=exactly-once -X mm.txn.interval.ms=300
log "total $((SECONDS - T0)) s"

finish
