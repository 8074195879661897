#!/usr/bin/env bash
# Issue 14, points 2 and 4: a record waiting for the schema registry parks its
# own partition, never its worker's others.
# One worker (mm.workers=1) owns a JSON partition (0) and an Avro partition
# (1) whose writer schema only a registry can give. The registry (a small
# HTTP server here) is down, then hangs, answers 500, answers 200 with
# garbage, redirects in a loop, and then recovers:
#   - the JSON partition delivers all its moments within seconds, and keeps
#     delivering what arrives in every one of those states;
#   - /metrics shows mm_partitions_waiting 1 and mm_consumer_lag growing on
#     the waiting partition as records arrive there;
#   - one log line when the partition starts waiting, one when it stops;
#   - nothing is a dead letter; after recovery every Avro moment arrives and
#     the run ends at the end of the input with exit 0.
# With mm.schema.registry.wait.max.ms=2000 a record that waited that long is
# a dead letter (schema_unavailable), unchanged, and the stream goes on.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
AF="$HERE/avro_frame.py"
T0=$SECONDS

# Part 2's topics too (one round of topic creation).
B_EVENTS="$RUN_ID.bound.events"
B_MOMENTS="$RUN_ID.bound.micro-moments"
B_DLQ="$RUN_ID.bound.micro-moments.dlq"
start_broker --topic "$T_EVENTS:2" --topic "$T_MOMENTS:2" --topic "$T_DLQ:1" \
  --topic "$B_EVENTS:2" --topic "$B_MOMENTS:2" --topic "$B_DLQ:1"

# The registry: python3 registry.py HERE EVENT_AVSC PORT MODEFILE LOG.
# MODEFILE holds how it answers now: ok | hang | 500 | garbage | redirect.
# Each request is logged as "MODE PATH".
cat >"$WORK/registry.py" <<'PY'
import http.server, json, sys, time
sys.path.insert(0, sys.argv[1])
import avro_frame as af
v1, _ = af.event_schemas(open(sys.argv[2]).read())
port, modefile, log = int(sys.argv[3]), sys.argv[4], open(sys.argv[5], "a", buffering=1)

class H(http.server.BaseHTTPRequestHandler):
    def answer(self, code, body, ctype="application/vnd.schemaregistry.v1+json", extra=()):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        mode = open(modefile).read().strip()
        log.write("%s %s\n" % (mode, self.path))
        if mode == "hang":
            time.sleep(30)  # longer than any client timeout
            return
        if mode == "500":
            return self.answer(500, json.dumps({"error_code": 50001, "message": "store error"}))
        if mode == "garbage":
            return self.answer(200, "<html>proxy says hello", "text/html")
        if mode == "redirect":
            return self.answer(302, "", extra=[("Location", self.path)])
        if self.path == "/schemas/ids/17":
            return self.answer(200, json.dumps({"schema": json.dumps(v1)}))
        return self.answer(404, json.dumps({"error_code": 40403, "message": "not found"}))

    def log_message(self, *a):
        pass

class S(http.server.ThreadingHTTPServer):
    daemon_threads = True

srv = S(("127.0.0.1", port), H)
open(modefile + ".up", "w").close()
srv.serve_forever()
PY
REG_PID=""
start_registry() { # start_registry PORT MODE
  echo "$2" >"$WORK/registry.mode"
  rm -f "$WORK/registry.mode.up"
  python3 "$WORK/registry.py" "$HERE" "$MM_SOURCE_DIR/schemas/event.avsc" "$1" \
    "$WORK/registry.mode" "$WORK/registry.log" &
  REG_PID=$!
  wait_for 10 test -e "$WORK/registry.mode.up" ||
    { echo "the registry did not start" >&2; exit 1; }
}
registry_mode() { echo "$1" >"$WORK/registry.mode"; }
# Requests the registry got in MODE.
requests_in() { grep -c "^$1 " "$WORK/registry.log" 2>/dev/null || true; }
asked_since() { [ "$(requests_in "$1")" -gt "$2" ]; } # asked_since MODE COUNT_BEFORE

# Events of users split over the two partitions (a user's events on one
# partition, so per-user state is the same as offline): JSON on 0, Avro on 1.
"$MM_BIN" gen --events 1200 --users 120 --seed 14 --keyed >"$WORK/gen.tsv"
# Events (key<TAB>json) as Confluent-framed Avro of schema id 17.
encode_avro() { # encode_avro EVENTS_TSV OUT_BIN
  python3 - "$HERE" "$MM_SOURCE_DIR/schemas/event.avsc" "$1" "$2" <<'PY'
import json, sys
here, avsc, tsv, out = sys.argv[1:]
sys.path.insert(0, here)
import avro_frame as af
enc = af.EventEncoder(open(avsc).read(), 17, 18)
af.write_kcat_input(out, [(l.split(b"\t", 1)[0], enc.v1(json.loads(l.split(b"\t", 1)[1])))
                          for l in open(tsv, "rb") if l.strip()])
PY
}
# A user's events all go to one side: PREFIX.json.tsv (partition 0) or
# PREFIX.avro.tsv and its encoding PREFIX.avro.bin (partition 1).
split_events() { # split_events GEN_TSV PREFIX
  python3 - "$1" "$2" <<'PY'
import sys, zlib
gen, prefix = sys.argv[1:]
js, avro = open(prefix + ".json.tsv", "wb"), open(prefix + ".avro.tsv", "wb")
for line in open(gen, "rb"):
    (avro if zlib.crc32(line.split(b"\t", 1)[0]) % 2 else js).write(line)
PY
  encode_avro "$2.avro.tsv" "$2.avro.bin"
}
produce_json() { kcat -b "$BOOTSTRAP" -P -t "$1" -p "$2" -K $'\t' -z none -l "$3"; } # TOPIC PARTITION FILE
produce_avro() { # produce_avro TOPIC PARTITION FILE (avro_frame.write_kcat_input)
  kcat -b "$BOOTSTRAP" -P -t "$1" -p "$2" -z none -K "$(python3 "$AF" const KCAT_KEY_DELIM)" \
    -D "$(python3 "$AF" const KCAT_REC_DELIM)" -l "$3"
}
offline() { cut -f2- "$1" | "$MM_BIN" classify 2>/dev/null | moment_triples_sorted; } # offline EVENTS_TSV
online() { consume_all "$T_MOMENTS" | moment_triples_sorted; }
# True when every moment of the expected triples file is out.
all_out() { [ -z "$(online | comm -13 - "$1")" ]; } # all_out EXPECTED

split_events "$WORK/gen.tsv" "$WORK/a"
offline "$WORK/a.json.tsv" >"$WORK/a.json.expected"
offline "$WORK/a.avro.tsv" >"$WORK/a.avro.expected"
log "$(lines "$WORK/a.json.tsv") JSON events on partition 0 ($(lines "$WORK/a.json.expected") moments)," \
  "$(lines "$WORK/a.avro.tsv") Avro events on partition 1 ($(lines "$WORK/a.avro.expected") moments)"
produce_avro "$T_EVENTS" 1 "$WORK/a.avro.bin"
produce_json "$T_EVENTS" 0 "$WORK/a.json.tsv"

# ---- 1. the registry cannot answer, in every way, then recovers ------------------
REG_PORT=$(free_port)
MPORT=$(free_port)
"$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-wait" -i "$T_EVENTS" -o "$T_MOMENTS" -X mm.dlq.topic="$T_DLQ" \
  -X mm.workers=1 -X session.timeout.ms=6000 -X mm.metrics.listen=127.0.0.1:$MPORT \
  -X mm.schema.registry.url="http://127.0.0.1:$REG_PORT" \
  -X mm.schema.registry.retry.ms=100 -X mm.schema.registry.timeout.ms=500 \
  --exit-on-eof 2>"$WORK/wait.log" &
RUN=$!
t=$SECONDS
check "registry down: the JSON partition delivers all its moments within 20 s" \
  wait_for 20 all_out "$WORK/a.json.expected"
log "registry down: JSON moments out after $((SECONDS - t)) s"
check "registry down: the log says partition 1 waits for the registry" \
  wait_for 10 grep -q "$T_EVENTS \[1\] waits for the schema registry" "$WORK/wait.log"
check "registry down: mm_partitions_waiting is 1" wait_for 10 metric_is "$MPORT" mm_partitions_waiting 1
lag1=$(metric "$MPORT" mm_consumer_lag topic="$T_EVENTS" partition=1 || echo none)
log "registry down: mm_consumer_lag of partition 1: $lag1"
[ "$lag1" != none ] || curl -s "http://127.0.0.1:$MPORT/metrics" | grep -E '^mm_(consumer_lag|partitions)' >&2 || true
check "registry down: mm_consumer_lag of the waiting partition is above 0 ($lag1)" test "${lag1/none/0}" -gt 0

# More Avro records arrive on the waiting partition: its lag grows.
for i in $(seq 0 49); do
  printf 'late-%d\t{"event_id":"late-%d","user_id":"late-%d","ts":1763900000000,"type":"query","query":"buy running shoes"}\n' $i $i $i
done >"$WORK/late.avro.tsv"
encode_avro "$WORK/late.avro.tsv" "$WORK/late.avro.bin"
produce_avro "$T_EVENTS" 1 "$WORK/late.avro.bin"
lag_grew() { local l; l=$(metric "$MPORT" mm_consumer_lag topic="$T_EVENTS" partition=1) && [ "$l" -ge $((${lag1/none/0} + 50)) ]; }
check "registry down: 50 more records on the waiting partition raise its mm_consumer_lag by 50" wait_for 15 lag_grew
log "registry down: mm_consumer_lag of partition 1 now $(metric "$MPORT" mm_consumer_lag topic="$T_EVENTS" partition=1 || echo none)"

# The registry comes up but cannot answer, in four ways; the JSON partition
# keeps delivering what arrives meanwhile (one query per state).
start_registry "$REG_PORT" hang
for mode in hang 500 garbage redirect; do
  registry_mode "$mode"
  before=$(requests_in "$mode")
  check "registry $mode: it is asked again" wait_for 20 asked_since "$mode" "$before"
  printf 'j-%s\t{"event_id":"j-%s","user_id":"j-%s","ts":1763900000000,"type":"query","query":"buy running shoes"}\n' \
    "$mode" "$mode" "$mode" >"$WORK/j-$mode.tsv"
  offline "$WORK/j-$mode.tsv" >"$WORK/j-$mode.expected"
  produce_json "$T_EVENTS" 0 "$WORK/j-$mode.tsv"
  check "registry $mode: a JSON record arriving now has its moment within 10 s" wait_for 10 all_out "$WORK/j-$mode.expected"
  check "registry $mode: partition 1 still waits (mm_partitions_waiting 1)" metric_is "$MPORT" mm_partitions_waiting 1
  check "registry $mode: the run goes on" kill -0 "$RUN"
done
check_eq "no dead letter while the registry cannot answer" 0 "$(topic_count "$T_DLQ")"

# Recovery: every Avro moment arrives, the run ends at the end of its input.
registry_mode ok
wait_for 60 bash -c "! kill -0 $RUN 2>/dev/null" || { log "the run is still going 60 s after the registry recovered: SIGKILL"; kill -KILL "$RUN" 2>/dev/null || true; }
code=0
wait "$RUN" || code=$?
check_eq "registry back: the run ends at the end of the input, exit 0" 0 "$code"
sort -m "$WORK/a.json.expected" "$WORK/a.avro.expected" "$WORK"/j-*.expected >"$WORK/all.expected"
offline "$WORK/late.avro.tsv" | sort -m - "$WORK/all.expected" >"$WORK/all.expected.2"
online >"$WORK/all.online"
check_eq "registry back: every moment, JSON and Avro, exactly as offline classify" \
  "$(md5sum <"$WORK/all.expected.2")" "$(md5sum <"$WORK/all.online")"
log "moments: $(lines "$WORK/all.online") online, $(lines "$WORK/all.expected.2") offline"
check_eq "registry back: still no dead letter" 0 "$(topic_count "$T_DLQ")"
check_eq "one log line when partition 1 starts waiting" 1 "$(grep -c "$T_EVENTS \[1\] waits for the schema registry" "$WORK/wait.log" || true)"
check_eq "one log line when it stops waiting" 1 "$(grep -c "$T_EVENTS \[1\] stops waiting for the schema registry" "$WORK/wait.log" || true)"
check_eq "partition 0 never waits" 0 "$(grep -c "$T_EVENTS \[0\] waits" "$WORK/wait.log" || true)"
grep -E 'waits for|stops waiting' "$WORK/wait.log" | cut -c1-220 >&2 || true
log "registry requests by state: $(cut -d' ' -f1 "$WORK/registry.log" | sort | uniq -c | tr -s ' \n' ' ')"
kill "$REG_PID" 2>/dev/null || true
log "part 1: $((SECONDS - T0)) s"

# ---- 2. a bound on the wait: the record becomes a dead letter -------------------
T1=$SECONDS
T_EVENTS=$B_EVENTS T_MOMENTS=$B_MOMENTS T_DLQ=$B_DLQ
head -n 2 "$WORK/late.avro.tsv" >"$WORK/b.avro.tsv"
encode_avro "$WORK/b.avro.tsv" "$WORK/b.avro.bin"
produce_avro "$T_EVENTS" 1 "$WORK/b.avro.bin"
head -n 200 "$WORK/a.json.tsv" >"$WORK/b.json.tsv"
produce_json "$T_EVENTS" 0 "$WORK/b.json.tsv"
offline "$WORK/b.json.tsv" >"$WORK/b.json.expected"
REG_PORT=$(free_port)
start_registry "$REG_PORT" 500
code=0
t=$SECONDS
timeout -s KILL 90 "$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-bound" -i "$T_EVENTS" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" -X mm.workers=1 -X session.timeout.ms=6000 -X mm.metrics.listen=127.0.0.1:0 \
  -X mm.schema.registry.url="http://127.0.0.1:$REG_PORT" -X mm.schema.registry.retry.ms=100 \
  -X mm.schema.registry.wait.max.ms=2000 --exit-on-eof 2>"$WORK/bound.log" || code=$?
check_eq "wait.max.ms=2000, registry answering 500: the run ends, exit 0" 0 "$code"
log "bounded wait: the run took $((SECONDS - t)) s"
consume_raw "$T_DLQ" "$WORK/bound.dlq.raw"
python3 - "$HERE" "$WORK" "$T_EVENTS" <<'PY' >"$WORK/bound.verdict"
import sys
sys.path.insert(0, sys.argv[1])
import avro_frame as af
work, topic = sys.argv[2], sys.argv[3]
sent = [(k, v) for k, v in (r.split(b"\x1f\x1f<k>\x1f") for r in open(work + "/b.avro.bin", "rb").read().split(b"\x1e\x1e<r>\x1e") if r)]
dlq = af.read_kcat_file(work + "/bound.dlq.raw")
print("count=%d" % len(dlq))
print("codes=%s" % ",".join(sorted({r["headers"].get("mm.error.code", "-") for r in dlq})))
print("unchanged=%s" % (sorted((r["key"], r["value"]) for r in dlq) == sorted(sent)))
print("sources=%s" % ",".join("%s/%s/%s" % (r["headers"].get("mm.source.topic") == topic, r["headers"].get("mm.source.partition"), r["headers"].get("mm.source.offset")) for r in dlq))
PY
bv() { sed -n "s/^$1=//p" "$WORK/bound.verdict"; }
check_eq "wait.max.ms: each waiting record is a dead letter" 2 "$(bv count)"
check_eq "wait.max.ms: code schema_unavailable" schema_unavailable "$(bv codes)"
check_eq "wait.max.ms: the dead letters are the records, unchanged (key and bytes)" True "$(bv unchanged)"
check_eq "wait.max.ms: source headers name partition 1, offsets 0 and 1" "True/1/0,True/1/1" "$(bv sources)"
check_eq "wait.max.ms: the JSON partition's moments are all out" "$(md5sum <"$WORK/b.json.expected")" "$(online | md5sum)"
log "part 2: $((SECONDS - T1)) s; total $((SECONDS - T0)) s"

finish
