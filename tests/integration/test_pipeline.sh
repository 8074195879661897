#!/usr/bin/env bash
# End to end over real sockets: events produced with kcat into the broker
# (the development broker or a real Kafka, see lib.sh), `micromoment run
# --exit-on-eof`, moments and dead letters read back with kcat.
source "$(dirname "$0")/lib.sh"

start_broker --topic "$T_EVENTS:4" --topic "$T_MOMENTS:4" --topic "$T_DLQ:1"

# Moments (JSON lines) in, "event_id moment confidence" lines out.
moment_triples() {
  python3 -c 'import json,sys; [print(m["event_id"], m["moment"], m["confidence"]) for m in map(json.loads, sys.stdin)]'
}

# 1. A hand-labelled set: each query has one intent (or none), one user each
#    so no behavioural signal mixes in; malformed records of every kind.
cat >"$WORK/labelled.tsv" <<'ROWS'
u1	{"event_id":"k1","user_id":"u1","ts":1763900000000,"type":"query","query":"what is machine learning","lang":"en"}	know
u2	{"event_id":"k2","user_id":"u2","ts":1763900000000,"type":"query","query":"hvad er en micro moment","lang":"da"}	know
u3	{"event_id":"g1","user_id":"u3","ts":1763900000000,"type":"query","query":"coffee shop near me","device":"mobile","lang":"en"}	go
u4	{"event_id":"g2","user_id":"u4","ts":1763900000000,"type":"query","query":"apotek nær mig","lang":"da"}	go
u5	{"event_id":"d1","user_id":"u5","ts":1763900000000,"type":"query","query":"how to fix a bike chain","lang":"en"}	do
u6	{"event_id":"d2","user_id":"u6","ts":1763900000000,"type":"query","query":"kuidas vahetada rehvi"}	do
u7	{"event_id":"b1","user_id":"u7","ts":1763900000000,"type":"query","query":"buy running shoes","lang":"en"}	buy
u8	{"event_id":"b2","user_id":"u8","ts":1763900000000,"type":"query","query":"zapatillas comprar online precio"}	buy
u9	{"event_id":"n1","user_id":"u9","ts":1763900000000,"type":"query","query":"facebook","lang":"en"}	none
ROWS
printf 'bad1\tthis is not json\n' >"$WORK/bad.tsv"
printf 'bad2\t[1,2,3]\n' >>"$WORK/bad.tsv"
printf 'bad3\t{"type":"query","query":"no user"}\n' >>"$WORK/bad.tsv"
printf 'bad4\t{"user_id":"u1","type":"teleport"}\n' >>"$WORK/bad.tsv"
printf 'bad5\t{"user_id":"u1","type":"query","query":"\xff\xfe"}\n' >>"$WORK/bad.tsv"
printf 'bad6\t{"user_id":"u1","type":"query","x":[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]}\n' >>"$WORK/bad.tsv"
printf 'bad7\t{"user_id":null,"type":"query"}\n' >>"$WORK/bad.tsv"
printf 'bad8\t{"user_id":"u1"}\n' >>"$WORK/bad.tsv"
expected_codes="bad_json bad_utf8 missing_type missing_user_id not_object null_user_id too_deep unknown_type"

cut -f1,2 "$WORK/labelled.tsv" >"$WORK/input.tsv"
cat "$WORK/bad.tsv" >>"$WORK/input.tsv"
produce_keyed "$T_EVENTS" "$WORK/input.tsv"

"$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-pipeline" -i "$T_EVENTS" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" -X session.timeout.ms=6000 --exit-on-eof 2>"$WORK/run1.err"
check_eq "run --exit-on-eof exits 0" 0 $?

consume_all "$T_MOMENTS" >"$WORK/moments.jsonl"
intent=$(awk -F'\t' '$3 != "none"' "$WORK/labelled.tsv" | wc -l)
check_eq "one moment per intent query" "$intent" "$(wc -l <"$WORK/moments.jsonl")"
while IFS=$'\t' read -r user json label; do
  got=$(python3 - "$WORK/moments.jsonl" "$user" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m["user_id"] == sys.argv[2]:
        print(m["moment"])
PY
)
  [ "$label" = none ] && label=""
  check_eq "moment of $user ($label)" "$label" "$got"
done <"$WORK/labelled.tsv"

# Every contract field on every moment, with the right types.
python3 - "$WORK/moments.jsonl" "$T_EVENTS" <<'PY' && ok=yes || ok=no
import json, sys
need = {"moment_id": str, "moment": str, "confidence": (int, float), "scores": dict,
        "signals": list, "user_id": str, "session_id": (str, type(None)),
        "event_id": (str, type(None)), "event_ts": int, "detected_ts": int,
        "journey_stage": str, "strategy": dict, "context": dict, "source": dict}
for line in open(sys.argv[1]):
    m = json.loads(line)
    for k, t in need.items():
        assert isinstance(m[k], t), (k, m)
    assert set(m["scores"]) == {"know", "go", "do", "buy"}, m
    assert m["moment"] in ("know", "go", "do", "buy"), m
    assert 0 <= m["confidence"] <= 1, m
    assert len(m["moment_id"]) == 32, m
    assert m["journey_stage"] in ("awareness", "consideration", "decision", "post-purchase")
    assert set(m["strategy"]) == {"goal", "content", "horizon"}, m
    assert m["source"]["topic"] == sys.argv[2], m
    assert any(s["name"] == "keyword" for s in m["signals"]), m
PY
check_eq "moments carry every contract field" yes "$ok"

# Output keyed by user_id.
keys_ok=$(consume_all "$T_MOMENTS" -f '%k %s\n' | python3 -c '
import json, sys
print(all(l.split(" ",1)[0] == json.loads(l.split(" ",1)[1])["user_id"] for l in sys.stdin if l.strip()))')
check_eq "moments keyed by user_id" True "$keys_ok"

# Dead letters: the original bytes, the error and the source in headers.
consume_all "$T_DLQ" -f '%h\n' >"$WORK/dlq.headers"
check_eq "one dead letter per malformed record" "$(wc -l <"$WORK/bad.tsv")" "$(wc -l <"$WORK/dlq.headers")"
codes=$(grep -o 'mm.error.code=[a-z0-9_]*' "$WORK/dlq.headers" | cut -d= -f2 | sort | tr '\n' ' ' | sed 's/ $//')
check_eq "dead letters name each error" "$expected_codes" "$codes"
check_eq "dead letters name the source topic" "$(wc -l <"$WORK/bad.tsv")" \
  "$(grep -cF "mm.source.topic=$T_EVENTS" "$WORK/dlq.headers")"
check "dead letters carry partition and offset" grep -q 'mm.source.partition=[0-9].*mm.source.offset=[0-9]' "$WORK/dlq.headers"
consume_all "$T_DLQ" -f '%k\t%s\n' | sort >"$WORK/dlq.records"
check_eq "dead letters keep key and bytes unchanged" "$(sort "$WORK/bad.tsv" | md5sum)" "$(md5sum <"$WORK/dlq.records")"

# 2. At-least-once: everything processed was committed. A second run of the
#    same group finds nothing new to do.
"$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-pipeline" -i "$T_EVENTS" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" -X session.timeout.ms=6000 --exit-on-eof 2>"$WORK/run2.err"
check_eq "second run exits 0" 0 $?
check_eq "second run re-reads nothing (offsets were committed)" "$intent" \
  "$(consume_all "$T_MOMENTS" | wc -l)"

# 3. A synthetic stream: the online result equals `classify` on the same
#    records (per-user state lives with the user's partition).
"$MM_BIN" gen --events 5000 --users 300 --seed 7 --keyed >"$WORK/gen.tsv"
produce_keyed "$T_EVENTS" "$WORK/gen.tsv"
"$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-pipeline" -i "$T_EVENTS" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" -X session.timeout.ms=6000 --exit-on-eof 2>"$WORK/run3.err"
check_eq "run over the synthetic stream exits 0" 0 $?
cut -f2- "$WORK/gen.tsv" | "$MM_BIN" classify 2>/dev/null \
  | moment_triples | sort >"$WORK/offline"
consume_all "$T_MOMENTS" | moment_triples | grep '^e-' | sort >"$WORK/online"
check "synthetic stream yields moments" test "$(wc -l <"$WORK/online")" -gt 500
check_eq "online moments equal offline classify" "$(md5sum <"$WORK/offline")" "$(md5sum <"$WORK/online")"
types=$(cut -d' ' -f2 "$WORK/online" | sort -u | tr '\n' ' ')
check_eq "all four types in the synthetic stream" "buy do go know " "$types"

# 4. Named partitions (-i TOPIC:0-3): no group rebalance, the same moments,
#    offsets committed to the group all the same.
in_topic=$(($(wc -l <"$WORK/input.tsv") + 5000))
consume_all "$T_MOMENTS" | moment_triples >"$WORK/before_named"
"$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-named" -i "$T_EVENTS:0-3" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" --exit-on-eof 2>"$WORK/run4.err"
check_eq "named-partition run exits 0" 0 $?
check "named-partition run assigns without a rebalance" \
  grep -q 'assigned 4 named partitions' "$WORK/run4.err"
check "named-partition run reads every record" grep -q "records $in_topic," "$WORK/run4.err"
# This run reads the labelled users' events before the synthetic ones (u1..u9
# are in both), so compare with classify over the whole topic in that order.
cat "$WORK/input.tsv" "$WORK/gen.tsv" | cut -f2- | "$MM_BIN" classify 2>/dev/null \
  | moment_triples | sort >"$WORK/offline_all"
consume_all "$T_MOMENTS" | moment_triples \
  | python3 -c '
import collections, sys
new = collections.Counter(sys.stdin.read().splitlines())
new.subtract(open(sys.argv[1]).read().splitlines())  # what runs 1 and 3 wrote
for line, n in new.items():
    for _ in range(n):
        print(line)' "$WORK/before_named" | sort >"$WORK/online_named"
check_eq "named-partition run writes the moments classify finds" \
  "$(md5sum <"$WORK/offline_all")" "$(md5sum <"$WORK/online_named")"
"$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-named" -i "$T_EVENTS:0-3" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" --exit-on-eof 2>"$WORK/run5.err"
check "named-partition rerun reads nothing (offsets committed)" \
  grep -q 'records 0,' "$WORK/run5.err"
code=0
"$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-named" -i "$T_EVENTS:4" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" --exit-on-eof 2>"$WORK/run6.err" || code=$?
check_eq "a partition the topic lacks exits 1" 1 "$code"
check "and names it" grep -q "$T_EVENTS has 4 partitions, there is no partition 4" "$WORK/run6.err"

finish
