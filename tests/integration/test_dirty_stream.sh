#!/usr/bin/env bash
# Issue 4, point 6: a dirty stream of 20 000 records, a fifth of them
# malformed in every way the decoders know, the good ones JSON and Avro (two
# writer schemas, one adding fields) mixed, through `run --exit-on-eof`:
#   - the good records give exactly the moments offline `classify` gives for
#     the same events (JSON lines, same per-user order): the online path is
#     not trusted for the expected values;
#   - one moment for every good intent query;
#   - exactly one dead letter per bad record, with the error code this
#     script's generator expects for it, the original key and bytes, and
#     headers naming the source topic, partition and offset of that record;
#   - exit 0.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
T0=$SECONDS
AF="$HERE/avro_frame.py"
# Produces a file written by avro_frame.write_kcat_input (binary-safe).
produce_binary() { # produce_binary TOPIC FILE [kcat args]
  kcat -b "$BOOTSTRAP" -P -t "$1" -z none -K "$(python3 "$AF" const KCAT_KEY_DELIM)" \
    -D "$(python3 "$AF" const KCAT_REC_DELIM)" -l "$2" "${@:3}"
}

N_TOTAL=20000
N_BAD=$((N_TOTAL / 5))
N_GOOD=$((N_TOTAL - N_BAD))
MAX_FIELD=2048     # mm.max.field.bytes: a longer string field is a dead letter
MAX_RECORD=16384   # mm.max.record.bytes: a longer record is a dead letter
ID_V1=17           # writer schema = schemas/event.avsc
ID_V2=18           # writer schema: event.avsc reordered, plus fields the reader lacks
ID_UNKNOWN=4242    # in no file, no registry

start_broker --topic "$T_EVENTS:8" --topic "$T_MOMENTS:8" --topic "$T_DLQ:4"

# ---- the stream -----------------------------------------------------------------
# Good events: `gen --keyed` (every event type; keyed by user_id, so a user's
# events stay in order on one partition). A share of them is re-encoded as
# Avro with avro_frame.py (an encoder written from the spec, not the
# product's). Bad records are interleaved at random positions; each carries
# the error code it must get.
"$MM_BIN" gen --events "$N_GOOD" --users 1500 --seed 4242 --keyed >"$WORK/gen.tsv"
python3 - "$HERE" "$WORK" "$MM_SOURCE_DIR/schemas/event.avsc" "$N_BAD" \
  "$MAX_FIELD" "$MAX_RECORD" "$ID_V1" "$ID_V2" "$ID_UNKNOWN" <<'PY'
import collections, json, random, sys
here, work, event_avsc, n_bad, max_field, max_record, id_v1, id_v2, id_unknown = sys.argv[1:]
n_bad, max_field, max_record = int(n_bad), int(max_field), int(max_record)
id_v1, id_v2, id_unknown = int(id_v1), int(id_v2), int(id_unknown)
sys.path.insert(0, here)
import avro_frame as af

rnd = random.Random(20000)

# Writer schemas: v1 = schemas/event.avsc, v2 = reordered plus fields the
# reader lacks (avro_frame.event_schemas).
enc = af.EventEncoder(open(event_avsc).read(), id_v1, id_v2)
for name, obj in (("writer_v1.avsc", enc.v1_obj), ("writer_v2.avsc", enc.v2_obj)):
    with open(work + "/" + name, "w") as f:
        json.dump(obj, f)
avro_v1, avro_v2 = enc.v1, enc.v2

good = []
for line in open(work + "/gen.tsv", "rb"):
    key, value = line.rstrip(b"\n").split(b"\t", 1)
    good.append((key, value))
users = sorted({k for k, _ in good})

# ---- bad records: (kind, code, key, value) ----
serial = [0]
def n():
    serial[0] += 1
    return serial[0]

def base(**kw):  # a valid event, then the one fault
    d = {"event_id": "bad-%d" % n(), "user_id": rnd.choice(users).decode(),
         "ts": 1763900000000 + rnd.randrange(10**6), "type": "query",
         "query": "coffee near me", "device": "mobile"}
    d.update(kw)
    return {k: v for k, v in d.items() if v is not ...}

def js(d):
    return json.dumps(d, ensure_ascii=False).encode()

def deep(k):
    return ("[" * k) + "1" + ("]" * k)

def too_large_json():
    d = base()
    i = 0
    while len(js(d)) <= max_record + 500:
        d["pad%d" % i] = "p" * 200
        i += 1
    return js(d)

def too_large_avro():
    d = base(type="purchase", query=None)
    d["items"] = [{"sku": "SKU-%06d" % i, "qty": 1} for i in range(max_record // 10)]
    body = avro_v2(d)
    assert len(body) > max_record
    return body

def truncated_avro():
    full = avro_v1(base())
    return full[:rnd.randrange(5, len(full))]  # every strict prefix lacks a field

def bad_union_avro():
    full = avro_v1(base())
    # the first field (event_id) is a ["null","string"] union: branch 5 does not exist
    return full[:5] + af.zigzag(5) + full[6:]

def neg_len_avro():
    # event_id branch 1 (string) with length -3
    return af.frame(id_v1, af.zigzag(1) + af.zigzag(-3) + b"abc")

kinds = [
    # JSON decoding
    ("not_json", "bad_json", lambda: b"this is not json %d" % n()),
    ("unterminated", "bad_json", lambda: js(base())[:-1]),
    ("trailing_comma", "bad_json", lambda: js(base())[:-1] + b",}"),
    ("trailing_garbage", "bad_json", lambda: js(base()) + b" x"),
    ("single_quotes", "bad_json", lambda: b"{'user_id':'u1','type':'query','n':%d}" % n()),
    ("array", "not_object", lambda: b"[1,2,%d]" % n()),
    ("number", "not_object", lambda: b"%d" % n()),
    ("string", "not_object", lambda: b'"a string %d"' % n()),
    ("missing_user_id", "missing_user_id", lambda: js(base(user_id=...))),
    ("null_user_id", "null_user_id", lambda: js(base(user_id=None))),
    ("empty_user_id", "null_user_id", lambda: js(base(user_id=""))),
    ("missing_type", "missing_type", lambda: js(base(type=...))),
    ("unknown_type", "unknown_type", lambda: js(base(type="teleport"))),
    ("ts_seconds", "ts_out_of_range", lambda: js(base(ts=1763900000))),
    ("ts_far_future", "ts_out_of_range", lambda: js(base(ts=99999999999999))),
    ("ts_negative", "ts_out_of_range", lambda: js(base(ts=-5))),
    ("ts_string", "bad_field_type", lambda: js(base(ts="yesterday"))),
    ("lat_string", "bad_field_type", lambda: js(base(type="location", query=..., lat="north", lon=12.5))),
    ("query_too_long", "field_too_long", lambda: js(base(query="x" * (max_field + 1)))),
    ("url_too_long", "field_too_long", lambda: js(base(type="page_view", query=...,
                                                       url="https://e.example/" + "a" * max_field))),
    ("utf8_query", "bad_utf8", lambda: js(base(query="Q")).replace(b'"Q"', b'"caf\xff\xfe"')),
    ("utf8_overlong", "bad_utf8", lambda: js(base(query="Q")).replace(b'"Q"', b'"a\xc0\xafb"')),
    ("utf8_surrogate", "bad_utf8", lambda: js(base(query="Q")).replace(b'"Q"', b'"a\xed\xa0\x80b"')),
    ("utf8_truncated", "bad_utf8", lambda: js(base(query="Q")).replace(b'"Q"', b'"ab\xe2\x82"')),
    ("utf8_user_id", "bad_utf8", lambda: js(base(user_id="U")).replace(b'"U"', b'"u\xc3\x28"')),
    ("utf8_unknown_field", "bad_utf8", lambda: js(base(note="N")).replace(b'"N"', b'"n\xff"')),
    ("deep_array", "too_deep", lambda: js(base(x="D")).replace(b'"D"', deep(20).encode())),
    ("deep_object", "too_deep", lambda: js(base(x="D")).replace(
        b'"D"', (b'{"a":' * 20) + b"1" + b"}" * 20)),
    ("empty", "empty_record", lambda: b""),
    ("tombstone", "empty_record", lambda: None),  # a NULL value (kcat -Z, second half)
    ("too_large_json", "too_large", too_large_json),
    # Avro decoding
    ("avro_unknown_id", "unknown_schema", lambda: avro_v1(base(), sid=id_unknown)),
    ("avro_truncated", "bad_avro", truncated_avro),
    ("avro_header_only", "bad_avro", lambda: af.frame(id_v1, b"")),
    ("avro_bad_union", "bad_avro", bad_union_avro),
    ("avro_negative_length", "bad_avro", neg_len_avro),
    ("avro_too_large", "too_large", too_large_avro),
    # Avro that decodes but is not a valid event
    ("avro_empty_user_id", "null_user_id", lambda: avro_v1(base(user_id=""))),
    ("avro_unknown_type", "unknown_type", lambda: avro_v1(base(type="teleport"))),
    ("avro_ts_seconds", "ts_out_of_range", lambda: avro_v1(base(ts=1763900000))),
    ("avro_query_too_long", "field_too_long", lambda: avro_v1(base(query="y" * (max_field + 1)))),
    ("avro_utf8_query", "bad_utf8", lambda: avro_v1(base(query=b"caf\xff\xfe"))),
    ("avro_v2_unknown_type", "unknown_type", lambda: avro_v2(base(type="teleport"))),
]
# Large records are few (the development broker keeps ~5 MB per partition).
LARGE = {"too_large_json", "avro_too_large"}
n_large = 25
per_kind = (n_bad - len(LARGE) * n_large) // (len(kinds) - len(LARGE))
plan = []
for name, code, make in kinds:
    plan += [(name, code, make)] * (n_large if name in LARGE else per_kind)
while len(plan) < n_bad:
    plan.append(rnd.choice([k for k in kinds if k[0] not in LARGE]))
rnd.shuffle(plan)

bad = []
for name, code, make in plan:
    value = make()
    r = rnd.random()  # keys: mostly a real user's (so bad records sit among good ones)
    key = rnd.choice(users) if r < 0.8 else (b"bad-%d" % n())
    bad.append((name, code, key, value))

# ---- good records: JSON as gen wrote it, or Avro of the same event ----
good_out = []
formats = collections.Counter()
for key, line in good:
    ev = json.loads(line)
    r = rnd.random()
    if r < 0.20:
        good_out.append((key, avro_v1(ev))); formats["avro_v1"] += 1
    elif r < 0.40:
        good_out.append((key, avro_v2(ev))); formats["avro_v2"] += 1
    else:
        good_out.append((key, line)); formats["json"] += 1

# ---- interleave: bad records at random places, good ones in gen order ----
# Two files, produced one after the other: the first without kcat -Z (an
# empty value stays empty), the second with it (an empty value is sent as
# NULL: the tombstones). Empty values go to the first half, NULL ones to
# the second.
slots = [False] * len(good_out) + [True] * len(bad)
rnd.shuffle(slots)
half = len(slots) // 2
empties = [i for i, b in enumerate(bad) if b[3] == b""]
nulls = [i for i, b in enumerate(bad) if b[3] is None]
bad_slots = [i for i, is_bad in enumerate(slots) if is_bad]
first = [i for i in bad_slots if i < half]
second = [i for i in bad_slots if i >= half]
rnd.shuffle(first)
rnd.shuffle(second)
assert len(empties) <= len(first) and len(nulls) <= len(second)
# bad record -> slot: empties into the first half, NULLs into the second, the rest anywhere
rest_slots = first[len(empties):] + second[len(nulls):]
rnd.shuffle(rest_slots)
slot_of = {}
for i, sl in zip(empties, first):
    slot_of[sl] = i
for i, sl in zip(nulls, second):
    slot_of[sl] = i
rest = [i for i, b in enumerate(bad) if b[3] not in (b"", None)]
for i, sl in zip(rest, rest_slots):
    slot_of[sl] = i
good_it = iter(good_out)
records = []
for sl, is_bad in enumerate(slots):
    if is_bad:
        _, _, key, value = bad[slot_of[sl]]
        records.append((key, b"" if value is None else value))
    else:
        records.append(next(good_it))
af.write_kcat_input(work + "/input1.bin", records[:half])
af.write_kcat_input(work + "/input2.bin", records[half:])

with open(work + "/good.jsonl", "wb") as f:
    for _, line in good:
        f.write(line + b"\n")
with open(work + "/expected_bad.json", "w") as f:
    json.dump([{"kind": k, "code": c, "key": key.hex(),
                "value": None if v is None else v.hex()}
               for k, c, key, v in bad], f)
codes = collections.Counter(c for _, c, _, _ in bad)
print("generated: %d good (%s), %d bad in %d kinds, %d error codes: %s" % (
    len(good_out), " ".join("%s=%d" % kv for kv in sorted(formats.items())), len(bad),
    len(kinds), len(codes), " ".join("%s=%d" % kv for kv in sorted(codes.items()))),
    file=sys.stderr)
PY
log "stream generated ($((SECONDS - T0)) s)"

produce_binary "$T_EVENTS" "$WORK/input1.bin"
produce_binary "$T_EVENTS" "$WORK/input2.bin" -Z
log "produced ($((SECONDS - T0)) s)"

# ---- the expected moments, offline -----------------------------------------------
# `classify` (same binary, JSON lines, no Kafka) on the good events in gen
# order, with the same decode bounds as the run.
LIMITS=(-X "mm.max.field.bytes=$MAX_FIELD" -X "mm.max.record.bytes=$MAX_RECORD")
"$MM_BIN" classify "${LIMITS[@]}" <"$WORK/good.jsonl" >"$WORK/offline.jsonl" 2>"$WORK/offline.err"
check_eq "offline classify accepts every good event" 0 "$(grep -c . "$WORK/offline.err" || true)"

# ---- the run ---------------------------------------------------------------------
# Bounded (run_to_end: SIGKILL after 90 s, exit 137): a hang is a failure.
T_RUN=$SECONDS
rc=$(run_to_end dirty "$RUN_ID-dirty" 90 "${LIMITS[@]}" \
  -X mm.schema.files="$ID_V1=$WORK/writer_v1.avsc,$ID_V2=$WORK/writer_v2.avsc")
check_eq "run --exit-on-eof exits 0" 0 "$rc"
log "run took $((SECONDS - T_RUN)) s"
[ "$rc" = 0 ] || tail -n 20 "$WORK/dirty.log" >&2

consume_all "$T_MOMENTS" -f '%s\n' >"$WORK/online.jsonl"
KFMT=$(python3 "$AF" const KCAT_FORMAT)
consume_all "$T_DLQ" -f "$KFMT" >"$WORK/dlq.bin"
consume_all "$T_EVENTS" -f "$KFMT" >"$WORK/events.bin"

# ---- moments: online == offline --------------------------------------------------
python3 - "$WORK" "$N_TOTAL" "$N_GOOD" "$N_BAD" "$T_EVENTS" <<'PY' >"$WORK/moments.verdict"
import collections, json, sys
work, n_total, n_good, n_bad, t_events = sys.argv[1:]
def triples(path):
    out = collections.Counter()
    for l in open(path, encoding="utf-8"):
        if l.strip():
            m = json.loads(l)
            out[(m["event_id"], m["moment"], repr(m["confidence"]))] += 1
    return out
off, on = triples(work + "/offline.jsonl"), triples(work + "/online.jsonl")
missing, extra = off - on, on - off
print("offline_moments=%d" % sum(off.values()))
print("online_moments=%d" % sum(on.values()))
print("multiset_equal=%s" % (off == on))
for what, c in (("missing online", missing), ("extra online", extra)):
    for t in sorted(c)[:10]:
        print("  %s: %s x%d" % (what, t, c[t]), file=sys.stderr)
# One moment for every good intent query: each query event that has a moment
# offline has exactly one online.
queries = set()
for l in open(work + "/good.jsonl", encoding="utf-8"):
    e = json.loads(l)
    if e["type"] == "query":
        queries.add(e["event_id"])
off_q = {e for (e, _, _) in off if e in queries}
on_per_event = collections.Counter(e for (e, _, _), k in on.items() for _ in range(k))
bad_q = sorted(e for e in off_q if on_per_event[e] != 1)
print("intent_queries=%d" % len(off_q))
print("intent_queries_not_exactly_one=%d" % len(bad_q))
for e in bad_q[:10]:
    print("  query %s: %d online moments" % (e, on_per_event[e]), file=sys.stderr)
# Moments come only from good events, and name the input topic.
ids = {json.loads(l)["event_id"] for l in open(work + "/good.jsonl", encoding="utf-8")}
srcs = collections.Counter()
for l in open(work + "/online.jsonl", encoding="utf-8"):
    if l.strip():
        m = json.loads(l)
        srcs[m["event_id"] in ids and m["source"]["topic"] == t_events] += 1
print("online_from_good_events=%d" % srcs[True])
print("types=%s" % ",".join(sorted({m for (_, m, _) in on})))
PY
verdict() { sed -n "s/^$1=//p" "$WORK/moments.verdict"; }
check_eq "online moments (event_id, moment, confidence) equal offline classify" True "$(verdict multiset_equal)"
check_eq "moment count" "$(verdict offline_moments)" "$(verdict online_moments)"
check "good intent queries yield moments" test "$(verdict intent_queries)" -gt 1000
check_eq "one moment for every good intent query" 0 "$(verdict intent_queries_not_exactly_one)"
check_eq "every moment comes from a good event of $T_EVENTS" "$(verdict online_moments)" "$(verdict online_from_good_events)"
check_eq "all four moment types" "buy,do,go,know" "$(verdict types)"

# ---- dead letters: one per bad record, as sent, with its error and source ----------
python3 - "$HERE" "$WORK" "$T_EVENTS" <<'PY' >"$WORK/dlq.verdict"
import collections, hashlib, json, sys
here, work, t_events = sys.argv[1:]
sys.path.insert(0, here)
import avro_frame as af
exp = json.load(open(work + "/expected_bad.json"))
for e in exp:  # bytes; a NULL value (tombstone) is None, as read_kcat gives it
    e["key"] = bytes.fromhex(e["key"])
    e["value"] = None if e["value"] is None else bytes.fromhex(e["value"])
dlq = af.read_kcat_file(work + "/dlq.bin")
events = {(r["partition"], r["offset"]): r for r in af.read_kcat_file(work + "/events.bin")}
print("events_in_topic=%d" % len(events))
print("dlq=%d" % len(dlq))

want = collections.Counter((e["key"], e["value"], e["code"]) for e in exp)
got = collections.Counter((r["key"], r["value"], r["headers"].get("mm.error.code")) for r in dlq)
print("dlq_records_equal=%s" % (want == got))
print("tombstones_sent=%d" % sum(1 for e in exp if e["value"] is None))
print("tombstones_dlq=%d" % sum(1 for r in dlq if r["value"] is None))
kind_of = {(e["key"], e["value"]): e["kind"] for e in exp}
for what, c in (("expected, not in the DLQ", want - got), ("in the DLQ, not expected", got - want)):
    shown = collections.Counter()
    for (k, v, code), cnt in sorted(c.items(), key=lambda kv: repr(kv[0])):
        kind = kind_of.get((k, v), "?")
        shown[kind] += 1
        if shown[kind] <= 2:
            print("  %s: kind=%s code=%s key=%r value=%r x%d" % (
                what, kind, code, k, v[:80], cnt), file=sys.stderr)
    if c:
        print("  %s by kind: %s" % (what, dict(collections.Counter(
            kind_of.get((k, v), "?") for (k, v, _) in c.elements()))), file=sys.stderr)

# The checksum of the set of (key, bytes), regardless of the error code.
def digest(pairs):
    h = hashlib.sha256()
    for k, v in sorted(pairs, key=lambda kv: (kv[0], kv[1] is not None, kv[1] or b"")):
        h.update(b"%d:%s" % (len(k), k))
        h.update(b"null;" if v is None else b"%d:%s" % (len(v), v))
    return h.hexdigest()
print("sent_sha256=%s" % digest((e["key"], e["value"]) for e in exp))
print("dlq_sha256=%s" % digest((r["key"], r["value"]) for r in dlq))

wc = collections.Counter(e["code"] for e in exp)
gc = collections.Counter(r["headers"].get("mm.error.code") for r in dlq)
print("codes_expected=%s" % " ".join("%s:%d" % kv for kv in sorted(wc.items())))
print("codes_got=%s" % " ".join("%s:%d" % kv for kv in sorted(gc.items(), key=lambda kv: str(kv[0]))))

# Headers: the source topic, partition and offset name the very record (its
# key and bytes there are the dead letter's), each source record once;
# a reason and a time on every one.
src_ok = reason_ok = 0
seen = collections.Counter()
for r in dlq:
    h = r["headers"]
    try:
        src = (int(h["mm.source.partition"]), int(h["mm.source.offset"]))
    except (KeyError, ValueError):
        src = None
    seen[src] += 1
    e = events.get(src)
    if (h.get("mm.source.topic") == t_events and e is not None
            and e["key"] == r["key"] and e["value"] == r["value"]):
        src_ok += 1
    elif src_ok + reason_ok < 5:
        print("  bad source headers: %r" % h, file=sys.stderr)
    if h.get("mm.error.reason") and h.get("mm.error.time"):
        reason_ok += 1
print("dlq_source_names_the_record=%d" % src_ok)
print("dlq_sources_distinct=%d" % len([s for s in seen if s is not None]))
print("dlq_with_reason_and_time=%d" % reason_ok)
PY
dv() { sed -n "s/^$1=//p" "$WORK/dlq.verdict"; }
check_eq "every record sent is in $T_EVENTS" "$N_TOTAL" "$(dv events_in_topic)"
check_eq "one dead letter per bad record" "$N_BAD" "$(dv dlq)"
check_eq "dead letters per error code" "$(dv codes_expected)" "$(dv codes_got)"
check_eq "each dead letter: the bad record's key, bytes and expected code" True "$(dv dlq_records_equal)"
check "tombstones (NULL values) among the bad records" test "$(dv tombstones_sent)" -gt 0
check_eq "tombstones stay NULL in the dead letter topic" "$(dv tombstones_sent)" "$(dv tombstones_dlq)"
check_eq "dead letters keep key and bytes (checksum of the set)" "$(dv sent_sha256)" "$(dv dlq_sha256)"
check_eq "dead letter headers name source topic, partition, offset of that record" "$(dv dlq)" "$(dv dlq_source_names_the_record)"
check_eq "dead letters name distinct source records" "$(dv dlq)" "$(dv dlq_sources_distinct)"
check_eq "dead letters carry mm.error.reason and mm.error.time" "$(dv dlq)" "$(dv dlq_with_reason_and_time)"
log "dead letters by code: $(dv codes_got)"

echo "counts: sent=$N_TOTAL good=$N_GOOD bad=$N_BAD moments=$(verdict online_moments) dlq=$(dv dlq)" \
  "(offline moments=$(verdict offline_moments), intent queries=$(verdict intent_queries); $((SECONDS - T0)) s)"
finish
