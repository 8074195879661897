#!/usr/bin/env bash
# bench/test_streams.sh: smoke test of the Kafka Streams reference (bench/streams), ctest label
# "bench" (not in make test): `ctest -L bench` in the build directory, or
#   bench/test_streams.sh [BUILD_DIR]
#
# Builds the reference (bench/streams/build.sh, into BUILD_DIR/bench-streams), starts a real
# Kafka (tests/kafka/kafka-broker.sh, as run.sh's kafka section does), produces a tiny
# hand-written input and a few hundred of `micromoment gen`'s events with kcat, runs the
# reference over them as run.sh does
# and checks its output: every moment keyed by its event's user; the hand-written events'
# moments exactly as written below, type by type, and the same as micromoment's own; gen's
# events' moments the same, event by event, as the reference's offline classifier gives
# (MomentsApp classify, what run.sh's agreement section compares with micromoment).
#
# Not on the development broker (`micromoment broker`): that is librdkafka 2.0.2's mock cluster,
# which answers the ApiVersions v4 request of Kafka's Java clients (4.x) with an error in v0's
# layout, which the Java client reads as a throttle time of 1,179,648 ms: every Java client
# (Kafka Streams, its admin client) then waits ~20 minutes before it sends anything.
#
# Exit: 0 passed, 1 failed, 77 skipped (no kcat, no mvn/javac, Maven cannot fetch its jars, or
# real Kafka cannot be provisioned here: one line says which).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-${MM_BUILD_DIR:-$SRC/build}}
case $BUILD in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
MM=${MM_BIN:-$BUILD/micromoment}
LEX="$SRC/lexicons"
SKIP=77

say() { printf 'test_streams: %s\n' "$*" >&2; }
skip() { say "SKIP: $*"; exit "$SKIP"; }
FAILS=0
check() { # WHAT CONDITION...: one line per check
    local what=$1
    shift
    if "$@"; then say "ok: $what"; else say "FAIL: $what"; FAILS=$((FAILS + 1)); fi
}

[[ -x $MM ]] || { say "FAIL: $MM missing (make build)"; exit 1; }
command -v kcat >/dev/null || skip "no kcat (apt-get install kcat)"
command -v java >/dev/null || skip "no java (a JDK 17+: make deps-bench)"
rc=0
CP=$("$SRC/bench/streams/build.sh" "$BUILD/bench-streams") || rc=$?
((rc == 3)) && skip "the reference cannot be built here (above)"
((rc == 0)) || { say "FAIL: the reference did not build (above)"; exit 1; }
app() { java -Xmx256m -cp "$CP" dev.micromoment.bench.MomentsApp "$@"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mm-test-streams.XXXXXX")
K="$SRC/tests/kafka/kafka-broker.sh"
KSTATE=""
cleanup() {
    [[ -n $KSTATE ]] && "$K" stop "$KSTATE" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

# The hand-written events: one query each whose moment the lexicons decide alone (no context
# that moves it: desktop, search channel, 20:00 local), and events that yield none (a page
# view, a site name, stop words). EXPECT: the reference's moments per type on them.
TS=1763928000000 # 2025-11-23 20:00 UTC
hand() { # N USER TYPE QUERY LANG
    local q=""
    [[ $3 == query ]] && q=",\"query\":\"$4\",\"lang\":\"$5\""
    printf '%s\t{"event_id":"t-%s","user_id":"%s","session_id":"s-%s","ts":%d,"type":"%s"%s,"device":"desktop","channel":"search","tz_offset_min":0}\n' \
        "$2" "$1" "$2" "$2" $((TS + $1 * 1000)) "$3" "$q"
}
{
    hand 1 ua query "what is a heat pump" en          # know
    hand 2 ub query "who invented the telephone" en   # know
    hand 3 uc query "pharmacy near me" en             # go
    hand 4 ud query "apotek i nærheden" da            # go
    hand 5 ue query "how to change a bike tyre" en    # do
    hand 6 uf query "cómo cambiar una rueda" es       # do
    hand 7 ug query "anleitung heizkörper entlüften" de # do
    hand 8 uh query "buy running shoes" en            # buy
    hand 9 ui query "cheap winter jackets" en         # buy
    hand 10 uj query "facebook" en                    # none: a site name
    hand 11 uk query "the and of" en                  # none: function words
    hand 12 ul page_view
} >"$WORK/hand.tsv"
EXPECT="know 2 go 2 do 3 buy 2"
"$MM" gen --events 400 --users 50 --seed 7 --keyed >"$WORK/gen.tsv"
cat "$WORK/hand.tsv" "$WORK/gen.tsv" >"$WORK/input.tsv"
N=$(wc -l <"$WORK/input.tsv")

rc=0
kout=$(MM_KAFKA_PARENT_PID=$$ "$K" start "$BUILD/kafka" 2>"$WORK/kafka.err") || rc=$?
((rc == 3)) && skip "$(grep -m1 'cannot provision' "$WORK/kafka.err" || tail -n1 "$WORK/kafka.err")"
((rc == 0)) || { tail -n 5 "$WORK/kafka.err" >&2; say "FAIL: Kafka did not start (above)"; exit 1; }
B=$(sed -n 1p <<<"$kout")
KSTATE=$(sed -n 2p <<<"$kout")
app topics "$B" 4 events moments
kcat -P -b "$B" -t events -K$'\t' <"$WORK/input.tsv"
say "produced $N events (12 hand-written, $((N - 12)) of gen's) to Kafka at $B"

# the run, as bench/run.sh's kafka section does it: it stops by itself at the input's end
if ! timeout -k 5 180 java -cp "$CP" dev.micromoment.bench.MomentsApp run "$B" "test-streams-$$" \
    events moments "$LEX" >"$WORK/run.log" 2>&1; then
    tail -n 20 "$WORK/run.log" >&2
    say "FAIL: the reference's run failed (above)"
    exit 1
fi
summary=$(grep -m1 'records [0-9]*, moments' "$WORK/run.log" || true)
say "run: ${summary#* }"
kcat -C -b "$B" -t moments -e -q -f '%k\t%s\n' >"$WORK/out.tsv"

# what is in the output, by event: key, user, moment
python3 - "$WORK/out.tsv" >"$WORK/out.txt" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    key, _, value = line.rstrip("\n").partition("\t")
    m = json.loads(value)
    print(m["event_id"], key or "-", m["user_id"], m["moment"])
EOF
per_type() { # FILE (event moment lines) -> "know N go N do N buy N"
    awk '{n[$2]++} END{printf "know %d go %d do %d buy %d", n["know"], n["go"], n["do"], n["buy"]}' "$1"
}
awk '{print $1, $4}' "$WORK/out.txt" | sort >"$WORK/all-got.txt"
awk '$1 ~ /^t-/ {print $1, $4}' "$WORK/out.txt" | sort >"$WORK/hand-got.txt"
awk '$1 !~ /^t-/ {print $1, $4}' "$WORK/out.txt" | sort >"$WORK/gen-got.txt"
event_moments() { # moments (JSON lines) on stdin -> sorted "event_id moment" lines
    python3 -c 'import json,sys
for l in sys.stdin: m = json.loads(l); print(m["event_id"], m["moment"])' | sort
}
cut -f2- "$WORK/gen.tsv" | app classify "$LEX" 2>/dev/null | event_moments >"$WORK/gen-offline.txt"
# micromoment's own moments of the hand-written events: the expectation is the product's
cut -f2- "$WORK/hand.tsv" | "$MM" classify -X mm.lexicon.dir="$LEX" 2>/dev/null |
    event_moments >"$WORK/hand-mm.txt"

got_hand=$(per_type "$WORK/hand-got.txt")
say "hand-written input: $got_hand (expected $EXPECT)"
check "the output's records are keyed by their event's user" \
    test "$(awk '$2 != $3' "$WORK/out.txt" | wc -l)" -eq 0
check "the output holds moments" test -s "$WORK/out.txt"
check "the run read every record ($N)" grep -q "records $N, " "$WORK/run.log"
check "the hand-written events' moments per type are $EXPECT" test "$got_hand" = "$EXPECT"
check "no moment for a site name, stop words or a page view" \
    test "$(grep -cE '^t-(10|11|12) ' "$WORK/hand-got.txt" || true)" -eq 0
check "gen's events: the run's moments are the offline classifier's ($(per_type "$WORK/gen-offline.txt"))" \
    cmp -s "$WORK/gen-got.txt" "$WORK/gen-offline.txt"
check "micromoment gives the hand-written events the same moments" \
    cmp -s "$WORK/hand-got.txt" "$WORK/hand-mm.txt"
check "the summary line counts what the output holds ($(per_type "$WORK/all-got.txt"))" \
    grep -qF "moments $(per_type "$WORK/all-got.txt")," <<<"$summary"
((FAILS == 0)) || { say "$FAILS check(s) failed"; exit 1; }
say "passed"
