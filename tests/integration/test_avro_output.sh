#!/usr/bin/env bash
# Avro on both sides of the pipeline (issue 4, points 1-3):
#   1. mm.output.format=avro: every moment is Confluent-framed (magic 0, the
#      configured schema id), its body decodes against schemas/moment.avsc
#      with this suite's own decoder (avro_frame.py), and carries the same
#      fields and values as the JSON output of a second run over the same
#      input (fresh group, own output topic), detected_ts aside.
#   2. Avro input through a Schema Registry (GET /schemas/ids/{id}, served
#      here by a small python3 HTTP server), no schema files: records of two
#      writer schema versions decode into the moments offline `classify`
#      gives; an id the registry lacks (404) is a dead letter unknown_schema;
#      schemas are fetched once and cached, not once per record.
#   3. A registry that is down (its URL with user info): records wait, the
#      log says so without the credentials, which reach the registry as
#      basic auth once it is up.
#   4. mm.output.format=avro without an id, over HTTPS with a CA file: the
#      moment schema is registered at start as <topic>-value and the
#      moments carry the id the registry answered.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
AF="$HERE/avro_frame.py"
T0=$SECONDS
SCHEMA_ID=42
T_AVRO="$RUN_ID.micro-moments.avro"
T_REG_EVENTS="$RUN_ID.events.registry"
T_REG_MOMENTS="$RUN_ID.micro-moments.registry"
T_REG_DLQ="$RUN_ID.micro-moments.registry.dlq"
T_OUT_EVENTS="$RUN_ID.events.outage"
T_OUT_MOMENTS="$RUN_ID.micro-moments.outage"
T_OUT_DLQ="$RUN_ID.micro-moments.outage.dlq"
T_AVRO_REG="$RUN_ID.micro-moments.avro-registered"
COMMON=(-X session.timeout.ms=6000 -X mm.metrics.listen=127.0.0.1:0 --exit-on-eof)
# Runs are bounded like lib.sh's run_to_end (SIGKILL after 90 s: exit 137),
# on this test's own topics.
run_bounded() { timeout -s KILL 90 "$MM_BIN" run "$@"; }

produce_binary() { # produce_binary TOPIC FILE (written by avro_frame.write_kcat_input)
  kcat -b "$BOOTSTRAP" -P -t "$1" -z none -K "$(python3 "$AF" const KCAT_KEY_DELIM)" \
    -D "$(python3 "$AF" const KCAT_REC_DELIM)" -l "$2"
}
KFMT=$(python3 "$AF" const KCAT_FORMAT)

start_broker --topic "$T_EVENTS:4" --topic "$T_MOMENTS:4" --topic "$T_AVRO:4" --topic "$T_DLQ:1" \
  --topic "$T_REG_EVENTS:4" --topic "$T_REG_MOMENTS:4" --topic "$T_REG_DLQ:1" \
  --topic "$T_OUT_EVENTS:2" --topic "$T_OUT_MOMENTS:2" --topic "$T_OUT_DLQ:1" \
  --topic "$T_AVRO_REG:4"

# ---- 1. Avro output == JSON output --------------------------------------------
"$MM_BIN" gen --events 3000 --users 200 --seed 42 --keyed >"$WORK/gen.tsv"
produce_keyed "$T_EVENTS" "$WORK/gen.tsv"

rc=0
run_bounded -b "$BOOTSTRAP" -g "$RUN_ID-avro" -i "$T_EVENTS" -o "$T_AVRO" -X mm.dlq.topic="$T_DLQ" \
  -X mm.output.format=avro -X mm.output.schema.id=$SCHEMA_ID "${COMMON[@]}" 2>"$WORK/run-avro.err" || rc=$?
check_eq "run with mm.output.format=avro exits 0" 0 "$rc"
rc=0
run_bounded -b "$BOOTSTRAP" -g "$RUN_ID-json" -i "$T_EVENTS" -o "$T_MOMENTS" -X mm.dlq.topic="$T_DLQ" \
  -X mm.output.format=json "${COMMON[@]}" 2>"$WORK/run-json.err" || rc=$?
check_eq "run with mm.output.format=json exits 0" 0 "$rc"

consume_all "$T_AVRO" -f "$KFMT" >"$WORK/avro.bin"
consume_all "$T_MOMENTS" -f '%k\t%s\n' >"$WORK/json.tsv"

python3 - "$HERE" "$WORK" "$MM_SOURCE_DIR/schemas/moment.avsc" "$SCHEMA_ID" "$T_EVENTS" <<'PY' >"$WORK/avro.verdict"
import json, sys, time
here, work, moment_avsc, schema_id, t_events = sys.argv[1:]
sys.path.insert(0, here)
import avro_frame as af
sch = af.Schema(open(moment_avsc).read())
recs = af.read_kcat_file(work + "/avro.bin")
print("avro_records=%d" % len(recs))
framed = decoded = keyed = 0
avro = {}
for r in recs:
    v = r["value"]
    if v is not None and len(v) >= 5 and v[0] == 0 and int.from_bytes(v[1:5], "big") == int(schema_id):
        framed += 1
    try:
        sid, m = af.unframe(sch, v)
    except Exception as e:  # noqa: BLE001 - reported, counted
        if decoded == 0:
            print("  cannot decode %r: %s" % (v[:60], e), file=sys.stderr)
        continue
    decoded += 1
    keyed += r["key"] == m["user_id"].encode()
    avro[m["moment_id"]] = m
print("framed=%d" % framed)
print("decoded=%d" % decoded)
print("keyed=%d" % keyed)

js = {}
for line in open(work + "/json.tsv", encoding="utf-8"):
    k, _, v = line.rstrip("\n").partition("\t")
    m = json.loads(v)
    js[m["moment_id"]] = m
print("json_records=%d" % len(js))
print("same_moment_ids=%s" % (set(js) == set(avro)))

# The Avro record has every field of the schema, optional ones null; the JSON
# writer leaves an absent signal attribute out, the top-level fields only a
# late event carries, and a strategy's offer when its row has none. Same
# fields, same values.
LATE_ONLY = {"late", "lateness_ms"}
def norm(m):
    m = {k: v for k, v in m.items() if not (k in LATE_ONLY and v is None)}
    m.pop("detected_ts")
    m["signals"] = [{k: v for k, v in s.items() if v is not None} for s in m["signals"]]
    m["strategy"] = {k: v for k, v in m["strategy"].items() if not (k == "offer" and v is None)}
    return m
fields_json = set().union(*(set(m) for m in js.values())) if js else set()
fields_avro = {f["name"] for f in sch.root["fields"]}
print("same_field_names=%s" % (fields_json - LATE_ONLY == fields_avro - LATE_ONLY
                               and fields_json <= fields_avro))
equal = 0
shown = 0
for mid, a in avro.items():
    j = js.get(mid)
    if j is not None and norm(a) == norm(j):
        equal += 1
    elif shown < 3:
        shown += 1
        na, nj = norm(a), norm(j) if j else {}
        diff = {k: (na.get(k), nj.get(k)) for k in set(na) | set(nj) if na.get(k) != nj.get(k)}
        print("  moment %s differs (avro, json): %s" % (mid, diff), file=sys.stderr)
print("equal=%d" % equal)
now = int(time.time() * 1000)
print("detected_ts_recent=%d" % sum(1 for a in avro.values() if now - 600000 < a["detected_ts"] <= now))
print("types=%s" % ",".join(sorted({a["moment"] for a in avro.values()})))
print("source_topic_ok=%d" % sum(1 for a in avro.values() if a["source"]["topic"] == t_events))
PY
av() { sed -n "s/^$1=//p" "$WORK/avro.verdict"; }
n_avro=$(av avro_records)
check "the Avro run wrote moments" test "${n_avro:-0}" -gt 300
check_eq "every Avro moment has magic 0 and schema id $SCHEMA_ID" "$n_avro" "$(av framed)"
check_eq "every Avro moment decodes against schemas/moment.avsc (whole record)" "$n_avro" "$(av decoded)"
check_eq "Avro moments keyed by user_id" "$n_avro" "$(av keyed)"
check_eq "as many JSON moments as Avro ones" "$n_avro" "$(av json_records)"
check_eq "same moment_ids in both formats" True "$(av same_moment_ids)"
check_eq "same field names in both formats" True "$(av same_field_names)"
check_eq "same values in both formats (detected_ts aside)" "$n_avro" "$(av equal)"
check_eq "detected_ts is a recent epoch ms" "$n_avro" "$(av detected_ts_recent)"
check_eq "source.topic names the input" "$n_avro" "$(av source_topic_ok)"
check_eq "all four moment types" "buy,do,go,know" "$(av types)"

# mm.output.format=avro without a schema id is a configuration error (exit 2).
rc=0
run_bounded -b "$BOOTSTRAP" -g "$RUN_ID-noid" -i "$T_EVENTS" -o "$T_AVRO" \
  -X mm.output.format=avro "${COMMON[@]}" >/dev/null 2>"$WORK/run-noid.err" || rc=$?
check_eq "avro output without mm.output.schema.id: exit 2" 2 "$rc"
check "the message names mm.output.schema.id" grep -q 'mm.output.schema.id' "$WORK/run-noid.err"

# ---- 2. Avro input through a schema registry -----------------------------------
# ids 17 (event.avsc) and 18 (v2: reordered, added fields) are served; 77 is
# not (404, as a Confluent registry answers: error_code 40403).
# The registry: python3 registry.py HERE EVENT_AVSC PORTFILE LOG PORT (0: any).
cat >"$WORK/registry.py" <<'PY'
import http.server, json, sys
sys.path.insert(0, sys.argv[1])
import avro_frame as af
v1, v2 = af.event_schemas(open(sys.argv[2]).read())
schemas = {17: json.dumps(v1), 18: json.dumps(v2)}
log = open(sys.argv[4], "a", buffering=1)

auth = open(sys.argv[4] + ".auth", "a", buffering=1)

class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # registering a schema: remembered, answered id 99
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(sys.argv[4] + ".post", "ab") as f:
            f.write(self.path.encode() + b"\t" + body + b"\n")
        data = b'{"id":99}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        log.write(self.path + "\n")
        auth.write(self.headers.get("Authorization", "-") + "\n")
        parts = self.path.split("/")
        sid = int(parts[3]) if len(parts) == 4 and parts[1:3] == ["schemas", "ids"] and parts[3].isdigit() else None
        if sid in schemas:
            code, body = 200, {"schema": schemas[sid]}
        else:
            code, body = 404, {"error_code": 40403, "message": "Schema %s not found" % sid}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass

srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[5])), H)
if len(sys.argv) > 6:  # HTTPS: CERT KEY
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[6], sys.argv[7])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(sys.argv[3] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(sys.argv[3] + ".tmp", sys.argv[3])
srv.serve_forever()
PY
start_registry() { # start_registry PORTFILE LOG PORT [CERT KEY]
  python3 "$WORK/registry.py" "$HERE" "$MM_SOURCE_DIR/schemas/event.avsc" "$@" &
  wait_for 10 test -s "$1" || { echo "registry did not start" >&2; exit 1; }
}
start_registry "$WORK/registry.port" "$WORK/registry.log" 0
REG_PORT=$(cat "$WORK/registry.port")
log "schema registry at http://127.0.0.1:$REG_PORT"

"$MM_BIN" gen --events 2000 --users 150 --seed 77 --keyed >"$WORK/reg-gen.tsv"
python3 - "$HERE" "$WORK" "$MM_SOURCE_DIR/schemas/event.avsc" <<'PY'
import json, random, sys
here, work, event_avsc = sys.argv[1:]
sys.path.insert(0, here)
import avro_frame as af
enc = af.EventEncoder(open(event_avsc).read(), 17, 18)
rnd = random.Random(77)
out, bad = [], []
for i, line in enumerate(open(work + "/reg-gen.tsv", "rb")):
    key, value = line.rstrip(b"\n").split(b"\t", 1)
    ev = json.loads(value)
    r = rnd.random()
    # Avro v1, Avro v2, JSON; every 100th record also one the registry lacks.
    out.append((key, enc.v1(ev) if r < 0.4 else enc.v2(ev) if r < 0.8 else value))
    if i % 100 == 50:
        rec = (b"nobody-%d" % i, enc.v1(dict(ev, event_id="unknown-%d" % i), sid=77))
        out.append(rec)
        bad.append(rec)
af.write_kcat_input(work + "/reg-input.bin", out)
json.dump([[k.hex(), v.hex()] for k, v in bad], open(work + "/reg-bad.json", "w"))
print("registry input: %d records, %d with id 77" % (len(out), len(bad)), file=sys.stderr)
PY
produce_binary "$T_REG_EVENTS" "$WORK/reg-input.bin"
cut -f2- "$WORK/reg-gen.tsv" | "$MM_BIN" classify >"$WORK/reg-offline.jsonl" 2>/dev/null

rc=0
run_bounded -b "$BOOTSTRAP" -g "$RUN_ID-registry" -i "$T_REG_EVENTS" -o "$T_REG_MOMENTS" \
  -X mm.dlq.topic="$T_REG_DLQ" -X mm.workers=2 \
  -X mm.schema.registry.url="http://127.0.0.1:$REG_PORT" "${COMMON[@]}" 2>"$WORK/run-registry.err" || rc=$?
check_eq "run with a schema registry exits 0" 0 "$rc"

consume_all "$T_REG_MOMENTS" -f '%s\n' >"$WORK/reg-online.jsonl"
consume_all "$T_REG_DLQ" -f "$KFMT" >"$WORK/reg-dlq.bin"
python3 - "$HERE" "$WORK" <<'PY' >"$WORK/reg.verdict"
import collections, json, sys
here, work = sys.argv[1:]
sys.path.insert(0, here)
import avro_frame as af
def triples(path):
    return collections.Counter((m["event_id"], m["moment"], repr(m["confidence"]))
                               for m in map(json.loads, open(path, encoding="utf-8")))
off, on = triples(work + "/reg-offline.jsonl"), triples(work + "/reg-online.jsonl")
print("offline=%d" % sum(off.values()))
print("online=%d" % sum(on.values()))
print("equal=%s" % (off == on))
for t in sorted((off - on))[:5]:
    print("  missing online: %s" % (t,), file=sys.stderr)
for t in sorted((on - off))[:5]:
    print("  extra online: %s" % (t,), file=sys.stderr)
want = collections.Counter((bytes.fromhex(k), bytes.fromhex(v)) for k, v in json.load(open(work + "/reg-bad.json")))
dlq = af.read_kcat_file(work + "/reg-dlq.bin")
got = collections.Counter((r["key"], r["value"]) for r in dlq)
print("dlq=%d" % len(dlq))
print("dlq_expected=%d" % sum(want.values()))
print("dlq_same_records=%s" % (want == got))
print("dlq_codes=%s" % ",".join(sorted({r["headers"].get("mm.error.code", "-") for r in dlq})))
reqs = collections.Counter(l.strip() for l in open(work + "/registry.log") if l.strip())
print("requests=%s" % " ".join("%s:%d" % kv for kv in sorted(reqs.items())))
print("max_requests_per_id=%d" % max(reqs.values() or [0]))
print("ids_asked=%s" % ",".join(sorted(p.rsplit("/", 1)[-1] for p in reqs)))
PY
rv() { sed -n "s/^$1=//p" "$WORK/reg.verdict"; }
check "registry run yields moments" test "$(rv online)" -gt 200
check_eq "registry: online moments (event_id, moment, confidence) equal offline classify" True "$(rv equal)"
check_eq "registry: one dead letter per record with an id the registry lacks" "$(rv dlq_expected)" "$(rv dlq)"
check_eq "registry: those dead letters are the records sent, unchanged" True "$(rv dlq_same_records)"
check_eq "registry: their code is unknown_schema" unknown_schema "$(rv dlq_codes)"
check_eq "registry: the ids asked for" "17,18,77" "$(rv ids_asked)"
# Cached: at most one request per id and worker (caches are per worker;
# a 404 is remembered for mm.schema.registry.negative.ttl.ms, 60 s).
check "registry: schemas cached, not fetched per record ($(rv requests))" test "$(rv max_requests_per_id)" -le 2

# ---- 3. Registry down: records wait (not dead letters), then go through -------
# A registry that cannot be reached is not the record's fault: the record
# waits and is retried (mm.schema.registry.retry.ms); once the registry
# answers, the stream completes with nothing in the DLQ.
OUT_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$HERE" "$WORK" "$MM_SOURCE_DIR/schemas/event.avsc" <<'PY'
import json, sys
here, work, event_avsc = sys.argv[1:]
sys.path.insert(0, here)
import avro_frame as af
enc = af.EventEncoder(open(event_avsc).read(), 17, 18)
out = []
for i, line in enumerate(open(work + "/reg-gen.tsv", "rb")):
    if i >= 300:
        break
    key, value = line.rstrip(b"\n").split(b"\t", 1)
    ev = json.loads(value)
    out.append((key, (enc.v1, enc.v2, lambda e: value)[i % 3](ev)))
af.write_kcat_input(work + "/out-input.bin", out)
PY
head -n 300 "$WORK/reg-gen.tsv" | cut -f2- | "$MM_BIN" classify 2>/dev/null |
  python3 -c 'import json,sys; [print(m["event_id"], m["moment"], m["confidence"]) for m in map(json.loads, sys.stdin)]' |
  sort >"$WORK/out-offline"
produce_binary "$T_OUT_EVENTS" "$WORK/out-input.bin"
"$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-outage" -i "$T_OUT_EVENTS" -o "$T_OUT_MOMENTS" \
  -X mm.dlq.topic="$T_OUT_DLQ" -X mm.schema.registry.url="http://mmuser:outage%40secret@127.0.0.1:$OUT_PORT" \
  -X mm.schema.registry.retry.ms=300 -X mm.schema.registry.timeout.ms=1000 \
  "${COMMON[@]}" 2>"$WORK/run-outage.err" &
OUT_PID=$!
check "registry down: the run says records wait for the registry" \
  wait_for 30 grep -q 'waits for the schema registry' "$WORK/run-outage.err"
sleep 2
check_eq "registry down: no dead letters" 0 "$(topic_count "$T_OUT_DLQ")"
check "registry down: the run keeps waiting" kill -0 "$OUT_PID"
start_registry "$WORK/outage.port" "$WORK/outage.log" "$OUT_PORT"
log "registry up at 127.0.0.1:$OUT_PORT"
wait_for 60 bash -c "! kill -0 $OUT_PID 2>/dev/null" ||
  { log "run still going 60 s after the registry came back: SIGKILL"; kill -KILL "$OUT_PID" 2>/dev/null || true; }
rc=0
wait "$OUT_PID" || rc=$?
check_eq "registry back: the run completes, exit 0" 0 "$rc"
consume_all "$T_OUT_MOMENTS" -f '%s\n' |
  python3 -c 'import json,sys; [print(m["event_id"], m["moment"], m["confidence"]) for m in map(json.loads, sys.stdin)]' |
  sort >"$WORK/out-online"
check "registry back: moments" test "$(wc -l <"$WORK/out-online")" -gt 50
check_eq "registry back: online moments equal offline classify" "$(md5sum <"$WORK/out-offline")" "$(md5sum <"$WORK/out-online")"
check_eq "registry back: still no dead letters" 0 "$(topic_count "$T_OUT_DLQ")"
check "registry down: the log never shows the URL's credentials" \
  bash -c "! grep -Eq 'outage(@|%40)secret|mmuser' '$WORK/run-outage.err'"
# base64("mmuser:outage@secret")
check_eq "registry back: the credentials arrive as basic auth" "Basic bW11c2VyOm91dGFnZUBzZWNyZXQ=" \
  "$(sort -u "$WORK/outage.log.auth")"

# ---- 4. Output schema registered at start, over HTTPS ----------------------------
# The registry side does not depend on the broker: the development broker's
# run shows it, the real one's would only take longer.
registered_output_checks() {
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$WORK/reg.key" -out "$WORK/reg.pem" 2>"$WORK/openssl.err" ||
  { cat "$WORK/openssl.err" >&2; exit 1; }
start_registry "$WORK/tls.port" "$WORK/tls.log" 0 "$WORK/reg.pem" "$WORK/reg.key"
TLS_URL="https://localhost:$(cat "$WORK/tls.port")"
rc=0
run_bounded -b "$BOOTSTRAP" -g "$RUN_ID-noca" -i "$T_EVENTS" -o "$T_AVRO_REG" -X mm.dlq.topic="$T_DLQ" \
  -X mm.output.format=avro -X mm.schema.registry.url="$TLS_URL" "${COMMON[@]}" 2>"$WORK/run-noca.err" || rc=$?
check_eq "https registry whose CA is not given: exit 1 at start" 1 "$rc"
check "and the log says registering failed" grep -q 'mm.output.schema.id: .*registry request' "$WORK/run-noca.err"
rc=0
run_bounded -b "$BOOTSTRAP" -g "$RUN_ID-reg" -i "$T_EVENTS" -o "$T_AVRO_REG" -X mm.dlq.topic="$T_DLQ" \
  -X mm.output.format=avro -X mm.schema.registry.url="$TLS_URL" \
  -X mm.schema.registry.ssl.ca.location="$WORK/reg.pem" "${COMMON[@]}" 2>"$WORK/run-reg.err" || rc=$?
check_eq "avro output without an id, registry with its CA: exit 0" 0 "$rc"
python3 - "$WORK/tls.log.post" "$MM_SOURCE_DIR/schemas/moment.avsc" "$T_AVRO_REG" <<'PY' >"$WORK/post.verdict"
import json, sys
lines = [l.rstrip(b"\n").split(b"\t", 1) for l in open(sys.argv[1], "rb")]
path, body = lines[-1]
print("posts=%d" % len(lines))
print("path_ok=%s" % (path.decode() == "/subjects/%s-value/versions" % sys.argv[3]))
def nodoc(x):  # the binary carries the schema without its "doc" strings
    if isinstance(x, dict):
        return {k: nodoc(v) for k, v in x.items() if k != "doc"}
    return [nodoc(v) for v in x] if isinstance(x, list) else x
print("schema_ok=%s" % (nodoc(json.loads(json.loads(body)["schema"])) == nodoc(json.load(open(sys.argv[2])))))
PY
pv() { sed -n "s/^$1=//p" "$WORK/post.verdict"; }
check_eq "the moment schema is posted once" 1 "$(pv posts)"
check_eq "as subject <output topic>-value" True "$(pv path_ok)"
check_eq "and it is schemas/moment.avsc" True "$(pv schema_ok)"
check "the run logs the id it was given" grep -q 'schema id 99' "$WORK/run-reg.err"
consume_all "$T_AVRO_REG" -f "$KFMT" >"$WORK/avro-reg.bin"
python3 - "$HERE" "$WORK/avro-reg.bin" <<'PY' >"$WORK/ids.verdict"
import sys
sys.path.insert(0, sys.argv[1])
import avro_frame as af
ids = {int.from_bytes(r["value"][1:5], "big") for r in af.read_kcat_file(sys.argv[2])}
print(",".join(map(str, sorted(ids))))
PY
check_eq "every moment carries the registered id" 99 "$(cat "$WORK/ids.verdict")"
}
if is_mock; then
  registered_output_checks
else
  skip_part "4. output schema registration: the same on every broker; it runs in integration.mock.$TEST_NAME"
fi

echo "counts: avro_moments=$n_avro json_moments=$(av json_records) equal=$(av equal)" \
  "registry_moments=$(rv online) registry_dlq=$(rv dlq) registry_requests=$(rv requests) outage_moments=$(wc -l <"$WORK/out-online") ($((SECONDS - T0)) s)"
finish
