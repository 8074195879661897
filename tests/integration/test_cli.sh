#!/usr/bin/env bash
# The command-line contract: --help and --version everywhere, exit 2 naming
# the offending flag or key, SIGTERM stops `run` cleanly with exit 0.
source "$(dirname "$0")/lib.sh"

for cmd in run broker demo classify gen; do
  "$MM_BIN" $cmd --help >"$WORK/help" 2>&1
  check_eq "$cmd --help exits 0" 0 $?
  check "$cmd --help prints usage" grep -q "usage: micromoment $cmd" "$WORK/help"
  check_eq "$cmd --version" "micromoment $("$MM_BIN" --version | cut -d' ' -f2)" "$("$MM_BIN" $cmd --version)"
done

expect_usage_error() { # expect_usage_error WHAT NEEDLE ARGS...
  local what=$1 needle=$2; shift 2
  local code=0
  "$MM_BIN" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null || code=$?
  check_eq "$what exits 2" 2 "$code"
  check "$what names '$needle'" grep -qF -- "$needle" "$WORK/err"
}
expect_usage_error "unknown command" "frobnicate" frobnicate
expect_usage_error "unknown flag" "--bogus" run --bogus
expect_usage_error "unknown mm. key" "mm.nope" run -b 127.0.0.1:1 -X mm.nope=1
expect_usage_error "bad enum value" "mm.delivery" run -b 127.0.0.1:1 -X mm.delivery=sometimes
expect_usage_error "out-of-range number" "mm.max.depth" run -b 127.0.0.1:1 -X mm.max.depth=0
expect_usage_error "unknown librdkafka key" "no.such.property" run -b 127.0.0.1:1 -X no.such.property=1
expect_usage_error "bad librdkafka value" "session.timeout.ms" run -b 127.0.0.1:1 -X session.timeout.ms=abc
expect_usage_error "missing bootstrap" "bootstrap.servers" run
expect_usage_error "bad partition range" "mm.input.topics" run -b 127.0.0.1:1 -i events:3-1
expect_usage_error "partitions and topics mixed" "mm.input.topics" run -b 127.0.0.1:1 -i a:0,b
expect_usage_error "named partitions with exactly-once" "mm.input.topics" run \
  -b 127.0.0.1:1 -i events:0 -X mm.delivery=exactly-once
expect_usage_error "bad broker count" "--brokers" broker --brokers 0
expect_usage_error "bad gen flag" "--events" gen --events -5
printf 'mm.output.topic=x\nthis line is wrong\n' >"$WORK/bad.conf"
expect_usage_error "bad config file line" "bad.conf:2" run -c "$WORK/bad.conf"

# Known-bad values are configuration errors (2), found before anything starts.
expect_usage_error "a metrics address that is not HOST:PORT" "mm.metrics.listen" run \
  -b 127.0.0.1:1 -X mm.metrics.listen=nonsense
expect_usage_error "a registry URL that is not http(s)" "mm.schema.registry.url" run \
  -b 127.0.0.1:1 -X mm.schema.registry.url=file:///etc/passwd
expect_usage_error "a lexicon folder that is a file" "mm.lexicon.dir" run \
  -b 127.0.0.1:1 -X mm.lexicon.dir=/etc/passwd
expect_usage_error "a directory as configuration file" "is a directory" run -c "$WORK"
code=0
timeout 20 "$MM_BIN" run -c /dev/zero --print-config >/dev/null 2>"$WORK/err" || code=$?
check_eq "-c /dev/zero ends with exit 2 (a bounded read)" 2 "$code"
check "-c /dev/zero says why" grep -q "larger than" "$WORK/err"
{ printf '# %05000d\n' 0; echo 'mm.output.topic=x'; echo 'this line is wrong'; } >"$WORK/long.conf"
expect_usage_error "a bad line after a 5 KB line has its own number" "long.conf:3:" run \
  -c "$WORK/long.conf"
# A file given by mistake is never quoted (here a shadow-like line).
echo 'hunter2:$6$saltandhash:19000:0:99999:7:::' >"$WORK/shadow"
code=0
"$MM_BIN" run -c "$WORK/shadow" >/dev/null 2>"$WORK/err" || code=$?
check_eq "the same file as -c exits 2" 2 "$code"
check "and is not quoted either" bash -c "grep -q 'shadow:1:' '$WORK/err' && ! grep -q hunter '$WORK/err'"

# What --print-config shows: the names operators know, the group in force.
"$MM_BIN" run -b 127.0.0.1:1 --print-config >"$WORK/conf" 2>&1
check "print-config shows bootstrap.servers" grep -qx 'bootstrap.servers=127.0.0.1:1' "$WORK/conf"
check "print-config shows the default group.id" grep -qx 'group.id=micromoment' "$WORK/conf"
"$MM_BIN" run -b 127.0.0.1:1 -g g7 --print-config >"$WORK/conf" 2>&1
check "print-config shows -g" grep -qx 'group.id=g7' "$WORK/conf"

# Secrets never printed.
"$MM_BIN" run -b 127.0.0.1:1 -X mm.schema.registry.url=http://user:regsecret@127.0.0.1:1 \
  --print-config >"$WORK/conf" 2>&1
check "print-config masks a registry URL's user info" \
  grep -qx 'mm.schema.registry.url=http://\[masked\]@127.0.0.1:1' "$WORK/conf"
check "print-config hides the registry password" bash -c "! grep -q regsecret '$WORK/conf'"
"$MM_BIN" run -b 127.0.0.1:1 -X sasl.password=hunter2 --print-config >"$WORK/conf" 2>&1
check "print-config masks secrets" grep -q 'sasl.password=\[masked\]' "$WORK/conf"
check "print-config hides the secret" bash -c "! grep -q hunter2 '$WORK/conf'"

# SIGTERM: stop consuming, flush, commit, exit 0.
start_broker --topic "$T_EVENTS:2" --topic "$T_MOMENTS:2" --topic "$T_DLQ:1"
# Schema files are read once a broker answers: a file that is not a schema
# is named, never quoted (the same on every broker: the development one's).
is_mock && timeout 60 "$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-shadow" -i "$T_EVENTS" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" -X mm.schema.files=17="$WORK/shadow" \
  -X mm.metrics.listen=127.0.0.1:0 --exit-on-eof >/dev/null 2>"$WORK/err" || true
if is_mock; then
  check "a schema file that is not one is named" grep -q "shadow: not an Avro schema" "$WORK/err"
  check "and not quoted" bash -c "! grep -q hunter '$WORK/err'"
fi
: >"$WORK/run.err"
"$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-cli" -i "$T_EVENTS" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" -X session.timeout.ms=6000 2>"$WORK/run.err" &
run_pid=$!
wait_for 20 grep -q assigned "$WORK/run.err"
check "run joins the group" grep -q assigned "$WORK/run.err"
kill -TERM $run_pid
code=0; wait $run_pid || code=$?
check_eq "SIGTERM exits 0" 0 "$code"

# classify: moments on stdout, bad records on stderr, exit 0.
printf '%s\n' '{"user_id":"a","type":"query","query":"how to tie a tie"}' 'not json' \
  | "$MM_BIN" classify >"$WORK/c.out" 2>"$WORK/c.err"
check_eq "classify exits 0 with a bad line" 0 $?
check_eq "classify prints one moment" 1 "$(wc -l <"$WORK/c.out")"
check "classify reports the bad line" grep -q '"error":"bad_json"' "$WORK/c.err"
# mm.output.fields: a lean JSON moment through the record path (write_moments).
printf '%s\n' '{"user_id":"a","type":"query","query":"how to tie a tie"}' \
  | "$MM_BIN" classify -X mm.output.fields=confidence,event_id >"$WORK/lean.out"
check_eq "lean output has the listed and the required top-level fields, in order" \
  "moment_id moment confidence user_id event_id source" \
  "$(python3 -c 'import json,sys; print(" ".join(json.loads(sys.stdin.readline())))' <"$WORK/lean.out")"
code=0
"$MM_BIN" run -b 127.0.0.1:1 -X mm.output.format=avro -X mm.output.schema.id=1 \
  -X mm.output.fields=moment 2>"$WORK/lean.err" || code=$?
check_eq "a lean list with Avro output exits 2" 2 "$code"
check "and names mm.output.fields" grep -q 'mm.output.fields' "$WORK/lean.err"
printf '%s\n' '{"user_id":"a","type":"query","query":"facebook"}' \
  | "$MM_BIN" classify --explain >"$WORK/e.out"
check "explain prints scores for a query without a moment" grep -q '"scores"' "$WORK/e.out"

finish
