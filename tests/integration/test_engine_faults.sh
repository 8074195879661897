#!/usr/bin/env bash
# Issue 14's reproductions, points 1, 3 and 5: no record stops a partition,
# and a run pointed at the wrong place fails loudly.
#   1. A poison pill: a ~1,020,000-byte value between two good events on a
#      one-partition input (under mm.max.record.bytes, over the producer's
#      default message.max.bytes). The first run exits 0, both good events'
#      moments are out, the big record is a dead letter (whole, or cut to what
#      the broker takes, with headers that say so) with its key and the error
#      and source headers, and the group's offset is at the end. When the
#      broker refuses the dead letter (the development broker: an injected
#      Produce error; Kafka: a dead-letter topic with a small
#      max.message.bytes), the log says what the broker answered.
#      mm.max.record.bytes and message.max.bytes set inconsistently: exit 2
#      naming both.
#   2. Fail loudly: no broker (exit 1 within the start-up bound, naming the
#      bootstrap servers); a missing input topic under --exit-on-eof (exit 1
#      naming it); the same in a continuous run (an error line naming it and
#      mm_input_topics_missing 1 until it exists); a mistyped input topic is
#      not created on the broker.
source "$(dirname "$0")/lib.sh"
AF="$MM_SOURCE_DIR/tests/integration/avro_frame.py"
T0=$SECONDS
BIG=1020000

# The second phase's topics: its dead-letter topic takes less than the big
# record on Kafka (max.message.bytes), so it is created apart there.
R_EVENTS="$RUN_ID.refuse.events"
R_MOMENTS="$RUN_ID.refuse.micro-moments"
R_DLQ="$RUN_ID.refuse.micro-moments.dlq"
if is_mock; then
  start_broker --control --topic "$T_EVENTS:1" --topic "$T_MOMENTS:1" --topic "$T_DLQ:1" \
    --topic "$R_EVENTS:1" --topic "$R_MOMENTS:1" --topic "$R_DLQ:1"
else
  start_broker --topic "$T_EVENTS:1" --topic "$T_MOMENTS:1" --topic "$T_DLQ:1" \
    --topic "$R_EVENTS:1" --topic "$R_MOMENTS:1"
  kafka_tool TopicCommand --bootstrap-server "$BOOTSTRAP" --create --topic "$R_DLQ" \
    --partitions 1 --config max.message.bytes=300000 >"$WORK/dlq-topic.out" 2>&1 ||
    { cat "$WORK/dlq-topic.out" >&2; exit 1; }
  wait_for 30 topic_ready "$R_DLQ" 1
fi

# ---- 1. poison pill -------------------------------------------------------------
# The three records one by one (each kcat waits for its delivery), so their
# offsets are 0, 1, 2. kcat's own producer must be allowed the big one.
good() { printf '%s\t{"user_id":"%s","type":"query","query":"buy shoes"}\n' "$2" "$2" | produce_keyed "$1" /dev/stdin; }
big() {
  python3 -c "import sys; sys.stdout.write('poison\t' + 'x' * $BIG + '\n')" |
    kcat -b "$BOOTSTRAP" -P -t "$1" -K $'\t' -z none -X message.max.bytes=2000000
}

# What the dead-letter topic holds, as key=value lines (read_kcat framing).
dlq_verdict() { # dlq_verdict RAW_FILE > verdict
  python3 - "$AF" "$1" "$T_EVENTS" "$BIG" <<'PY'
import sys
af_path, raw, topic, big = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, af_path.rsplit("/", 1)[0])
import avro_frame as af
recs = af.read_kcat_file(raw)
print("count=%d" % len(recs))
if recs:
    r = recs[0]
    h = r["headers"]
    v = r["value"] or b""
    cut = h.get("mm.value.truncated") == "true"
    print("key=%s" % (r["key"] or b"").decode())
    print("code=%s" % h.get("mm.error.code", "-"))
    print("source=%s/%s/%s" % (h.get("mm.source.topic") == topic, h.get("mm.source.partition"),
                               h.get("mm.source.offset")))
    print("reason=%s" % ("yes" if h.get("mm.error.reason") else "no"))
    print("truncated=%s" % ("yes" if cut else "no"))
    # Whole: the original bytes. Cut: a prefix of them, and the headers say
    # so with the original size.
    if cut:
        ok = (0 < len(v) < big and v == b"x" * len(v)
              and h.get("mm.value.original.size") == str(big))
    else:
        ok = v == b"x" * big and "mm.value.original.size" not in h
    print("value_ok=%s" % ok)
    print("value_len=%d" % len(v))
PY
}
dv() { sed -n "s/^$1=//p" "$WORK/$2.verdict"; }

# The reproduction's run: the one partition by name (-i TOPIC:0, no group
# rebalance), offsets committed to GROUP; bounded; prints the exit code.
pill_run() { # pill_run NAME GROUP
  local code=0
  timeout -s KILL 90 "$MM_BIN" run -b "$BOOTSTRAP" -g "$2" -i "$T_EVENTS:0" -o "$T_MOMENTS" \
    -X mm.dlq.topic="$T_DLQ" -X mm.metrics.listen=127.0.0.1:0 --exit-on-eof 2>"$WORK/$1.log" || code=$?
  echo "$code"
}

# The run, its outputs, its offsets. MOMENTS: "key user type" of each moment
# expected, comma-separated; the big record is at offset AT, the end at END.
check_pill() { # check_pill LABEL GROUP MOMENTS AT END
  local label=$1 group=$2 moments=$3 at=$4 end=$5 t=$SECONDS
  local code
  code=$(pill_run "$label.1" "$group")
  check_eq "$label: the first run exits 0" 0 "$code"
  log "$label: run took $((SECONDS - t)) s"
  [ "$code" = 0 ] || tail -n 20 "$WORK/$label.1.log" | cut -c1-300 >&2
  consume_all "$T_MOMENTS" -f '%k %s\n' >"$WORK/$label.moments"
  check_eq "$label: the good events' moments are out (key, user, type)" "$moments" \
    "$(python3 -c '
import json, sys
print(",".join(sorted("%s %s %s" % (l.split(" ", 1)[0], m["user_id"], m["moment"])
                      for l in open(sys.argv[1]) if l.strip() for m in [json.loads(l.split(" ", 1)[1])])))' \
      "$WORK/$label.moments")"
  consume_raw "$T_DLQ" "$WORK/$label.dlq.raw"
  dlq_verdict "$WORK/$label.dlq.raw" >"$WORK/$label.verdict"
  log "$label: dead letter: $(tr '\n' ' ' <"$WORK/$label.verdict")"
  check_eq "$label: one dead letter" 1 "$(dv count "$label")"
  check_eq "$label: the dead letter keeps the record's key" poison "$(dv key "$label")"
  check_eq "$label: mm.error.code names the error" bad_json "$(dv code "$label")"
  check_eq "$label: source topic, partition and offset headers" "True/0/$at" "$(dv source "$label")"
  check_eq "$label: mm.error.reason is set" yes "$(dv reason "$label")"
  check_eq "$label: the value is the record's bytes (whole, or a prefix with mm.value.truncated and mm.value.original.size=$BIG)" \
    True "$(dv value_ok "$label")"
  # The group's offset is at the end: a second run reads nothing.
  check_eq "$label: a second run exits 0" 0 "$(pill_run "$label.2" "$group")"
  check "$label: the second run reads nothing (offset $end was committed)" grep -q 'records 0,' "$WORK/$label.2.log"
}

# The issue's reproduction: a good event, the big one, a good event, each
# produced on its own (kcat waits for delivery), so at offsets 0, 1, 2.
good "$T_EVENTS" u1
big "$T_EVENTS"
good "$T_EVENTS" u2
check_pill pill "$RUN_ID-pill" "u1 u1 buy,u2 u2 buy" 1 3
log "pill: the broker took the dead letter $([ "$(dv truncated pill)" = yes ] && echo cut || echo whole) ($(dv value_len pill) bytes)"

# The same when the broker refuses the whole dead letter: it is cut to what
# the broker takes, and the log names the broker's answer. The development
# broker refuses the next Produce request whatever it carries, so the input
# is the big record alone: the run's only Produce request is its dead letter.
T_EVENTS=$R_EVENTS T_MOMENTS=$R_MOMENTS T_DLQ=$R_DLQ
big "$T_EVENTS"
if is_mock; then
  check_eq "development broker: the next Produce request is refused as too large" ok \
    "$(broker_ctl errors Produce 1 MSG_SIZE_TOO_LARGE)"
fi
check_pill refused "$RUN_ID-refused" "" 0 1
check_eq "refused: the dead letter is cut to what the broker takes" yes "$(dv truncated refused)"
check "refused: the log names what the broker answered (Message size too large)" \
  grep -qi 'refused.*message size too large' "$WORK/refused.1.log"
grep -i 'refused' "$WORK/refused.1.log" | head -n 3 >&2 || true

# mm.max.record.bytes and message.max.bytes set inconsistently: a record the
# first lets through could never be dead-lettered under the second. Once with
# message.max.bytes at librdkafka's default value written out (the value of
# the issue's reproduction), once with another value.
for mmb in 1000000 1500000; do
  code=0
  "$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-bounds" -i "$T_EVENTS" -o "$T_MOMENTS" -X mm.dlq.topic="$T_DLQ" \
    -X mm.max.record.bytes=2000000 -X message.max.bytes=$mmb -X mm.metrics.listen=127.0.0.1:0 \
    --exit-on-eof >/dev/null 2>"$WORK/bounds.$mmb.log" || code=$?
  check_eq "mm.max.record.bytes=2000000 with message.max.bytes=$mmb: exit 2" 2 "$code"
  check "the message names mm.max.record.bytes and message.max.bytes ($mmb)" \
    grep -q 'mm.max.record.bytes.*message.max.bytes' "$WORK/bounds.$mmb.log"
  head -n 1 "$WORK/bounds.$mmb.log" >&2
done
log "poison pill part: $((SECONDS - T0)) s"

# ---- 2. fail loudly ---------------------------------------------------------------
T1=$SECONDS
# No broker: exit 1 within the start-up bound (3 s here), naming where it looked.
code=0
t=$SECONDS
timeout -s KILL 30 "$MM_BIN" run -b 127.0.0.1:1 -g "$RUN_ID-nobroker" -i "$T_EVENTS" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" -X mm.metrics.listen=127.0.0.1:0 -X mm.startup.timeout.ms=3000 \
  --exit-on-eof >/dev/null 2>"$WORK/nobroker.log" || code=$?
took=$((SECONDS - t))
check_eq "no broker at 127.0.0.1:1: exit 1" 1 "$code"
check "no broker: it ends within 6 s of the 3 s bound (took $took s)" test "$took" -le 6
# micromoment's own line, not librdkafka's connection errors.
grep -v ' librdkafka ' "$WORK/nobroker.log" >"$WORK/nobroker.own" || true
check "no broker: micromoment's error names 127.0.0.1:1" grep -q '127\.0\.0\.1:1\b' "$WORK/nobroker.own"
head -n 1 "$WORK/nobroker.own" >&2

# Does this broker create topics nobody declared? (Probed with a producer,
# which asks for that.) Kafka here does (auto.create.topics.enable); the
# development broker must not.
topic_exists() { kcat -b "$BOOTSTRAP" -L -m 10 2>/dev/null | grep -qF "topic \"$1\" with"; }
topic_absent() { ! topic_exists "$1"; }
PROBE="$RUN_ID.probe-undeclared"
UNDECLARED_ON_PURPOSE+=("$PROBE")
echo probe | kcat -b "$BOOTSTRAP" -P -t "$PROBE" -m 10 >/dev/null 2>&1 || true
AUTO_CREATES=no
topic_exists "$PROBE" && AUTO_CREATES=yes
log "the broker creates undeclared topics on a producer's request: $AUTO_CREATES"

# A mistyped input topic under --exit-on-eof: exit 1 naming it, and it is
# not created by the run.
MISSING="$RUN_ID.evnets"
code=0
t=$SECONDS
timeout -s KILL 60 "$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-missing" -i "$MISSING" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" -X mm.metrics.listen=127.0.0.1:0 --exit-on-eof >/dev/null \
  2>"$WORK/missing.log" || code=$?
check_eq "missing input topic with --exit-on-eof: exit 1" 1 "$code"
check "missing input topic: it ends within 10 s (took $((SECONDS - t)) s)" test $((SECONDS - t)) -le 10
check "missing input topic: the error names it" grep -qF "'$MISSING'" "$WORK/missing.log"
grep -m1 -F "$MISSING" "$WORK/missing.log" >&2 || tail -n 2 "$WORK/missing.log" >&2

# The same topic in a continuous run: an error line naming it, the gauge
# mm_input_topics_missing at 1, the process up; once the topic exists the
# gauge goes back to 0 and its records are processed.
MPORT=$(free_port)
"$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-waiting" -i "$MISSING" -o "$T_MOMENTS" -X mm.dlq.topic="$T_DLQ" \
  -X mm.metrics.listen=127.0.0.1:$MPORT -X session.timeout.ms=6000 \
  -X topic.metadata.refresh.interval.ms=1000 2>"$WORK/waiting.log" &
WAIT_PID=$!
check "continuous run, missing input topic: an error line names it" \
  wait_for 15 grep -qiF "$MISSING" "$WORK/waiting.log"
grep -m1 -F "$MISSING" "$WORK/waiting.log" >&2 || true
check "continuous run: mm_input_topics_missing is 1" wait_for 15 metric_is "$MPORT" mm_input_topics_missing 1
sleep 3 # time to subscribe and refresh metadata a few times: a creation would show
check "continuous run: still running, waiting for the topic" kill -0 "$WAIT_PID"
# Kafka here creates a topic when a client asks for it (auto.create.topics.enable):
# micromoment must not ask. The development broker must not create it at all;
# one that still creates undeclared topics on any request cannot show that.
if is_real || [ "$AUTO_CREATES" = no ]; then
  check "a mistyped input topic is not created on the broker" topic_absent "$MISSING"
else
  skip_part "a mistyped input topic is not created: this development broker still creates undeclared topics (a producer's request created $PROBE)"
fi
if topic_exists "$MISSING"; then
  log "$MISSING exists already (created on a subscriber's request by a broker that auto-creates)"
elif is_mock; then
  check_eq "the topic appears (development broker creates $MISSING)" ok "$(broker_ctl topic "$MISSING" 1)"
else
  create_topics "$MISSING:1"
fi
printf 'u3\t{"user_id":"u3","type":"query","query":"buy shoes"}\n' | produce_keyed "$MISSING" /dev/stdin
check "once the topic exists, mm_input_topics_missing goes back to 0" wait_for 30 metric_is "$MPORT" mm_input_topics_missing 0
u3_out() { consume_all "$T_MOMENTS" | grep -q '"user_id":"u3"'; }
check "and its record's moment comes out" wait_for 30 u3_out
kill -TERM "$WAIT_PID" 2>/dev/null || true
code=0
wait_for 30 bash -c "! kill -0 $WAIT_PID 2>/dev/null" || kill -KILL "$WAIT_PID" 2>/dev/null || true
wait "$WAIT_PID" || code=$?
check_eq "continuous run: SIGTERM ends it with exit 0" 0 "$code"
log "fail-loudly part: $((SECONDS - T1)) s"

finish
