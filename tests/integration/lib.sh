# Shared helpers of the integration tests: start a broker, drive it with kcat,
# wait on conditions with a bound, assert with a message.
# Sourced by tests/integration/test_*.sh; MM_BIN names the binary under test.
#
# The broker a test talks to (MM_TEST_BROKER):
#   mock      `micromoment broker` (librdkafka's mock cluster), one per test
#             script; fault-control commands (broker_ctl) when the test asks
#             for them (start_broker --control). The default.
#   kafka     a real Apache Kafka (tests/kafka/kafka-broker.sh): the one the
#             ctest fixture started (MM_KAFKA_FIXTURE, an env file with
#             MM_TEST_BOOTSTRAP and MM_KAFKA_STATE), or the one named by
#             MM_TEST_BOOTSTRAP + MM_KAFKA_STATE, else one started for this
#             script. Its process can be killed and restarted (broker_kill,
#             broker_restart).
#   external  a user's cluster at MM_TEST_BOOTSTRAP=host:port (the default
#             when MM_TEST_BOOTSTRAP is set without MM_KAFKA_STATE). Nothing
#             is started, killed or deleted there.
# On a real broker every topic and group name carries $RUN_ID, unique per test
# run, so tests use $T_EVENTS, $T_MOMENTS, $T_DLQ and $RUN_ID, never literal
# names. A test that needs what one kind of broker lacks ends with exit 77
# (ctest: skipped) and one line saying why (require_mock, require_kafka).
set -Eeuo pipefail
# A command that fails outside a check ends the test: say which and where.
trap 'log "FAIL: \"$BASH_COMMAND\" exited $? (${BASH_SOURCE[0]##*/}:$LINENO)"' ERR

MM_BIN=${MM_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/micromoment}
MM_SOURCE_DIR=${MM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MM_BUILD_DIR=$(cd "$(dirname "$MM_BIN")" && pwd)
KAFKA_SH="$MM_SOURCE_DIR/tests/kafka/kafka-broker.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mm-it.XXXXXX")
BROKER_PID=""
OWN_KAFKA_STATE="" # a real broker this script started itself (stopped at exit)
CHECKS=0
FAILS=0

if [ -z "${MM_TEST_BROKER:-}" ]; then
  if [ -n "${MM_TEST_BOOTSTRAP:-}" ] && [ -z "${MM_KAFKA_STATE:-}" ]; then
    MM_TEST_BROKER=external
  else
    MM_TEST_BROKER=mock
  fi
fi
case $MM_TEST_BROKER in
mock | kafka | external) ;;
*) echo "MM_TEST_BROKER must be mock, kafka or external, not '$MM_TEST_BROKER'" >&2; exit 2 ;;
esac

# Unique names per run: a shared or external broker keeps what earlier runs
# left. Topic names use letters, digits, '-' and '.' only.
TEST_NAME=$(basename "$0" .sh)
RUN_ID="mmit-${TEST_NAME#test_}-$(date +%s)-$$"
RUN_ID=${RUN_ID//_/-}
T_EVENTS="$RUN_ID.events"
T_MOMENTS="$RUN_ID.micro-moments"
T_DLQ="$RUN_ID.micro-moments.dlq"

cleanup() {
  local pids
  pids=$(jobs -p 2>/dev/null || true)
  [ -n "$pids" ] && kill $pids 2>/dev/null || true
  [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "$OWN_KAFKA_STATE" ] && "$KAFKA_SH" stop "$OWN_KAFKA_STATE" 2>/dev/null || true
  if [ "${MM_KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

check() { # check "what" CONDITION...
  local what=$1; shift
  CHECKS=$((CHECKS + 1))
  if "$@"; then
    log "ok   $what"
  else
    log "FAIL $what"
    FAILS=$((FAILS + 1))
  fi
}

check_eq() { # check_eq "what" EXPECTED ACTUAL
  CHECKS=$((CHECKS + 1))
  if [ "$2" = "$3" ]; then
    log "ok   $1 ($3)"
  else
    log "FAIL $1: expected '$2', got '$3'"
    FAILS=$((FAILS + 1))
  fi
}

# The development broker warns when a client created a topic nobody declared
# (a typo, or a test that forgot a --topic): that fails the test, unless the
# test is about it (ALLOW_UNDECLARED_TOPICS=1), or the topic is one the test
# asks for on purpose (its name in UNDECLARED_ON_PURPOSE).
ALLOW_UNDECLARED_TOPICS=0
UNDECLARED_ON_PURPOSE=()
undeclared_topics() { # the broker's warnings about topics nobody declared
  local line t
  grep 'was not declared' "$WORK/broker.err" | while IFS= read -r line; do
    for t in "${UNDECLARED_ON_PURPOSE[@]}"; do
      case $line in *"'$t'"*) continue 2 ;; esac
    done
    printf '%s\n' "$line"
  done
}
no_undeclared_topics() { [ -z "$(undeclared_topics | tee /dev/stderr)" ]; }
finish() {
  if is_mock && [ "$ALLOW_UNDECLARED_TOPICS" = 0 ] && [ -f "$WORK/broker.err" ]; then
    check "every topic used was declared to the development broker" no_undeclared_topics
  fi
  echo "$((CHECKS - FAILS)) passed, $FAILS failed ($MM_TEST_BROKER broker)"
  [ "$FAILS" -eq 0 ]
}

wait_for() { # wait_for SECONDS COMMAND...: poll until COMMAND succeeds
  local limit=$1; shift
  local deadline=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}

# ---- which broker -------------------------------------------------------------

is_mock() { [ "$MM_TEST_BROKER" = mock ]; }
is_real() { [ "$MM_TEST_BROKER" != mock ]; }
# A broker whose process this suite runs, so a test may kill and restart it.
owns_broker_process() { [ "$MM_TEST_BROKER" = kafka ]; }

# Ends the whole script as skipped (ctest SKIP_RETURN_CODE 77), with checks so
# far still reported.
skip_all() { # skip_all REASON
  echo "SKIP ($MM_TEST_BROKER broker): $*"
  if [ "$FAILS" -ne 0 ]; then finish; fi
  exit 77
}

# A part of a test that cannot run on this broker: say so in one line.
skip_part() { log "skip $*"; }

require_mock() { # require_mock WHAT
  is_mock || skip_all "$1 needs the development broker's fault control (broker_ctl); it runs in integration.mock.$TEST_NAME"
}
require_kafka() { # require_kafka WHAT
  owns_broker_process || skip_all "$1 needs a real Kafka broker whose process the suite runs; it runs in integration.kafka.$TEST_NAME"
}

# No real Kafka here: skip (77), or fail when MM_REQUIRE_KAFKA=1.
kafka_unavailable() { # kafka_unavailable REASON
  echo "real Kafka not available: $1; running the development-broker half only"
  if [ "${MM_REQUIRE_KAFKA:-0}" = 1 ]; then
    echo "MM_REQUIRE_KAFKA=1: that is a failure"
    exit 1
  fi
  exit 77
}

# The kafka kind: the broker the ctest fixture started (or the external
# cluster it was pointed at), or one named in the environment; else (lazily,
# in start_broker) one of our own.
if [ "$MM_TEST_BROKER" = kafka ] && [ -z "${MM_KAFKA_STATE:-}" ] && [ -n "${MM_KAFKA_FIXTURE:-}" ]; then
  [ -r "$MM_KAFKA_FIXTURE" ] || kafka_unavailable "the kafka fixture did not run ($MM_KAFKA_FIXTURE missing)"
  # shellcheck source=/dev/null
  source "$MM_KAFKA_FIXTURE"
  [ -z "${MM_KAFKA_UNAVAILABLE:-}" ] || kafka_unavailable "$MM_KAFKA_UNAVAILABLE"
fi
if [ "$MM_TEST_BROKER" != mock ] && [ -n "${MM_TEST_BOOTSTRAP:-}" ]; then
  BOOTSTRAP=$MM_TEST_BOOTSTRAP
fi

start_own_kafka() {
  local out rc=0
  out=$(MM_KAFKA_PARENT_PID=$$ "$KAFKA_SH" start "$MM_BUILD_DIR/kafka" 2>"$WORK/kafka-start.err") || rc=$?
  if [ "$rc" = 3 ]; then
    kafka_unavailable "$(sed -n 's/^kafka-broker: cannot provision real Kafka: //p' "$WORK/kafka-start.err" | head -n1)"
  elif [ "$rc" != 0 ]; then
    cat "$WORK/kafka-start.err" >&2
    echo "kafka-broker.sh start failed (exit $rc)" >&2
    exit 1
  fi
  BOOTSTRAP=$(sed -n 1p <<<"$out")
  MM_KAFKA_STATE=$(sed -n 2p <<<"$out")
  OWN_KAFKA_STATE=$MM_KAFKA_STATE
}

# Runs a Kafka tool (TopicCommand, consumer.group.ConsumerGroupCommand, ...)
# against the real broker; stdout is the tool's.
kafka_tool() { # kafka_tool CLASS ARGS...
  if [ -n "${MM_KAFKA_STATE:-}" ]; then
    "$KAFKA_SH" tool "$MM_KAFKA_STATE" "$@"
  else
    MM_KAFKA_BUILD_DIR="$MM_BUILD_DIR/kafka" "$KAFKA_SH" tool - "$@" # external: jars only
  fi
}

# Every partition of TOPIC has a leader in the metadata, PARTS of them.
topic_ready() { # topic_ready TOPIC PARTS
  local md
  md=$(kcat -b "$BOOTSTRAP" -L -t "$1" -m 5 2>/dev/null) || return 1
  [ "$(grep -c '^    partition .*leader [0-9]' <<<"$md")" = "$2" ]
}

# Creates topics NAME:PARTS on a real broker (in parallel: one JVM each).
create_topics() { # create_topics NAME:PARTS...
  local spec name parts pids=() i=0 rc=0
  for spec in "$@"; do
    name=${spec%%:*}; parts=4
    [ "$name" != "$spec" ] && parts=${spec#*:}
    kafka_tool TopicCommand --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
      --topic "$name" --partitions "$parts" >"$WORK/topic.$i.out" 2>&1 &
    pids+=($!); i=$((i + 1))
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { rc=1; cat "$WORK/topic.$i.out" >&2; }
  done
  [ "$rc" = 0 ] || { echo "creating topics failed" >&2; return 1; }
  for spec in "$@"; do
    name=${spec%%:*}; parts=4
    [ "$name" != "$spec" ] && parts=${spec#*:}
    wait_for 30 topic_ready "$name" "$parts" || { echo "topic $name not ready" >&2; return 1; }
  done
}

# start_broker [--control] [--brokers N] [--topic NAME[:PARTITIONS]]...
# mock: starts `micromoment broker` with these arguments (only declared topics
# exist there, as on Kafka with auto-creation off); --control asks it for
# fault-control commands on a FIFO (broker_ctl; use_topics needs it too), and
# without it the broker reads nothing. kafka/external: uses the real broker
# (started here when no fixture provides one) and creates the topics
# (--control and --brokers are the mock's and ignored there). The bootstrap
# address goes to $BOOTSTRAP.
BROKER_CONTROL=0
start_broker() {
  local args=()
  while [ $# -gt 0 ]; do
    case $1 in
    --control) BROKER_CONTROL=1; shift ;;
    *) args+=("$1"); shift ;;
    esac
  done
  set -- "${args[@]}"
  if is_mock; then
    local control=()
    if [ "$BROKER_CONTROL" = 1 ]; then
      mkfifo "$WORK/broker.ctl"
      exec 9<>"$WORK/broker.ctl" # our end stays open; never blocks
      control=(--control "$WORK/broker.ctl")
    fi
    "$MM_BIN" broker "${control[@]}" "$@" >"$WORK/broker.out" 2>"$WORK/broker.err" &
    BROKER_PID=$!
    wait_for 60 test -s "$WORK/broker.out" || { log "the development broker printed no address in 60 s"; cat "$WORK/broker.err" >&2; return 1; }
    BOOTSTRAP=$(head -n1 "$WORK/broker.out")
    log "broker at $BOOTSTRAP (development broker)"
    return 0
  fi
  local topics=()
  while [ $# -gt 0 ]; do
    case $1 in
    --topic) topics+=("$2"); shift 2 ;;
    --topic=*) topics+=("${1#--topic=}"); shift ;;
    --brokers) shift 2 ;;
    *) echo "start_broker: unknown argument '$1'" >&2; return 1 ;;
    esac
  done
  if [ "$MM_TEST_BROKER" = kafka ] && [ -z "${BOOTSTRAP:-}" ]; then
    start_own_kafka
  fi
  [ -n "${BOOTSTRAP:-}" ] || { echo "MM_TEST_BOOTSTRAP is not set" >&2; return 1; }
  [ ${#topics[@]} -eq 0 ] || create_topics "${topics[@]}"
  log "broker at $BOOTSTRAP ($MM_TEST_BROKER), topics ${topics[*]:-none}"
}

# Sends one fault-control command to the development broker and waits for its
# answer. Only the mock has them, and only when the test asked for them
# (start_broker --control): guard the test with require_mock / is_mock.
broker_ctl() {
  is_mock || { log "broker_ctl '$*': only the development broker has fault control"; return 1; }
  [ "$BROKER_CONTROL" = 1 ] || { log "broker_ctl '$*': start_broker --control was not asked for"; return 1; }
  local before
  before=$(wc -l <"$WORK/broker.out")
  echo "$*" >&9
  wait_for 10 test "$(wc -l <"$WORK/broker.out")" -gt "$before"
  tail -n1 "$WORK/broker.out"
}

# The real broker's process (kind kafka only): SIGKILL, keeping its log dir;
# restart on the same log dir and ports, waiting until it serves again.
broker_kill() { "$KAFKA_SH" kill "$MM_KAFKA_STATE"; }
broker_restart() { "$KAFKA_SH" restart "$MM_KAFKA_STATE" >/dev/null; }

# Produces "key<TAB>value" lines from a file, keyed.
produce_keyed() { # produce_keyed TOPIC FILE
  kcat -b "$BOOTSTRAP" -P -t "$1" -K $'\t' -z none -l "$2"
}

# Reads a whole topic: one line per record (value only), stops at the end.
# kcat (librdkafka) reads with isolation.level=read_committed by default.
consume_all() { # consume_all TOPIC [extra kcat args]
  local topic=$1; shift
  kcat -b "$BOOTSTRAP" -C -t "$topic" -o beginning -e -q -u "$@" 2>/dev/null
}

# Records in a topic (sum over partitions of high watermark - low).
topic_count() { # topic_count TOPIC
  consume_all "$1" -f 'x\n' | wc -l
}

# The consumer group's lag on TOPIC summed over partitions, from Kafka's
# ConsumerGroupCommand (real brokers): 0 = committed offsets equal end offsets.
# Prints "LAG PARTITIONS" or fails.
group_lag() { # group_lag GROUP TOPIC
  kafka_tool consumer.group.ConsumerGroupCommand --bootstrap-server "$BOOTSTRAP" \
    --describe --group "$1" 2>"$WORK/group.err" >"$WORK/group.out" || return 1
  awk -v t="$2" '$2 == t { n++; if ($6 == "-") bad = 1; else lag += $6 }
    END { if (!n || bad) exit 1; print lag, n }' "$WORK/group.out"
}

# Moments read back against the events sent: prints "counts: ..." and leaves
# key=value lines in $WORK/counts.<label> for check_eq. Arguments: the events
# file (key<TAB>json), the moments file (JSON lines), and the file of event_ids
# that must each have at least one moment.
# received: moments read; distinct: distinct moment_id; pairs: distinct
# (event_id, moment); missing: expected event_ids with no moment; split:
# (event_id, moment) pairs whose copies carry more than one moment_id;
# sources: moment_ids seen with more than one source (topic, partition,
# offset); multi: query records with more than one moment once duplicate
# moment_ids are dropped (downstream's rule); retyped: moment_ids whose
# copies carry different types (a replay with less per-user history).
count_moments() { # count_moments LABEL EVENTS MOMENTS EXPECTED_IDS
  python3 - "$@" <<'PY'
import json, sys
label, events, moments, expected = sys.argv[1:5]
sent, queries = 0, set()
for l in open(events):
    if l.strip():
        sent += 1
        e = json.loads(l.split("\t", 1)[-1])
        if e.get("type") == "query":
            queries.add(e.get("event_id"))
recv, ids, pairs, id_src, id_types, rec_ids = 0, set(), {}, {}, {}, {}
for l in open(moments):
    if not l.strip():
        continue
    m = json.loads(l)
    recv += 1
    ids.add(m["moment_id"])
    pairs.setdefault((m["event_id"], m["moment"]), set()).add(m["moment_id"])
    src = (m["source"]["topic"], m["source"]["partition"], m["source"]["offset"])
    id_src.setdefault(m["moment_id"], set()).add(src)
    id_types.setdefault(m["moment_id"], set()).add(m["moment"])
    if m["event_id"] in queries:
        rec_ids.setdefault(src, set()).add(m["moment_id"])
want = set(l.strip() for l in open(expected) if l.strip())
have = set(e for e, _ in pairs)
missing = sorted(want - have)
split = sum(1 for v in pairs.values() if len(v) > 1)
c = dict(sent=sent, received=recv, distinct=len(ids), pairs=len(pairs),
         expected=len(want), missing=len(missing), split=split,
         sources=sum(1 for v in id_src.values() if len(v) > 1),
         multi=sum(1 for v in rec_ids.values() if len(v) > 1),
         retyped=sum(1 for v in id_types.values() if len(v) > 1))
print(f"counts ({label}): " + " ".join(f"{k}={v}" for k, v in c.items()), flush=True)
with open(f"{moments}.counts", "w") as f:
    for k, v in c.items():
        print(f"{k}={v}", file=f)
if missing:
    print(f"missing event_ids (first 10): {' '.join(missing[:10])}", file=sys.stderr)
PY
}
count_of() { sed -n "s/^$2=//p" "$1.counts"; } # count_of MOMENTS_FILE KEY

# Event ids that must have a moment whatever per-user state the processor had
# (a restart or rebalance starts it empty): query events whose moment comes
# from their own keywords, i.e. offline `classify` gives them a moment both on
# the whole stream and on the query alone (its user seen for the first time).
expected_query_moments() { # expected_query_moments EVENTS_TSV > event_ids
  cut -f2- "$1" | "$MM_BIN" classify 2>/dev/null |
    python3 -c 'import json,sys; [print(json.loads(l)["event_id"]) for l in sys.stdin]' |
    sort -u >"$WORK/expected.full"
  cut -f2- "$1" | python3 -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    if e.get("type") == "query":
        e["user_id"] = "solo-" + e["event_id"]; e["session_id"] = None
        print(json.dumps(e))' | "$MM_BIN" classify 2>/dev/null |
    python3 -c 'import json,sys; [print(json.loads(l)["event_id"]) for l in sys.stdin]' |
    sort -u >"$WORK/expected.solo"
  comm -12 "$WORK/expected.full" "$WORK/expected.solo"
}

# (event_id moment) pairs `classify` finds on the whole stream: what one
# uninterrupted process must produce.
offline_pairs() { # offline_pairs EVENTS_TSV > "event_id moment" lines
  cut -f2- "$1" | "$MM_BIN" classify 2>/dev/null |
    python3 -c 'import json,sys; [print(m["event_id"], m["moment"]) for m in map(json.loads, sys.stdin)]' |
    sort -u
}
online_pairs() { # online_pairs MOMENTS_JSONL > "event_id moment" lines
  python3 -c 'import json,sys; [print(m["event_id"], m["moment"]) for m in map(json.loads, sys.stdin)]' <"$1" |
    sort -u
}

# Number of lines in FILE (0 when missing).
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# ---- SIGHUP ---------------------------------------------------------------------

# Reloads a `run` logging to $WORK/run.err has done and refused; the _above
# forms are conditions for wait_for (re-evaluated on every poll).
reloads() { grep -c "reloaded rules" "$WORK/run.err" || true; }
failures() { grep -c "reload failed" "$WORK/run.err" || true; }
reloads_above() { [ "$(reloads)" -gt "$1" ]; }
failures_above() { [ "$(failures)" -gt "$1" ]; }

# ---- fault tests ----------------------------------------------------------------

# Points $T_EVENTS, $T_MOMENTS, $T_DLQ at a fresh set of topics (a second
# phase of a test) and creates them: NAME_SUFFIX PARTITIONS. On the
# development broker that is a control command: start_broker --control.
use_topics() { # use_topics SUFFIX PARTITIONS
  T_EVENTS="$RUN_ID.$1.events"
  T_MOMENTS="$RUN_ID.$1.micro-moments"
  T_DLQ="$RUN_ID.$1.micro-moments.dlq"
  if is_mock; then
    local t
    for t in "$T_EVENTS:$2" "$T_MOMENTS:$2" "$T_DLQ:1"; do
      check_eq "development broker creates ${t%%:*}" ok "$(broker_ctl topic "${t%%:*}" "${t#*:}")"
    done
  else
    create_topics "$T_EVENTS:$2" "$T_MOMENTS:$2" "$T_DLQ:1"
  fi
}

# `micromoment run` in the background on this test's topics; its log (stderr)
# is $WORK/NAME.log, its pid ${RUN_PID[NAME]}. No metrics endpoint (several
# instances share the host).
declare -A RUN_PID
start_run() { # start_run NAME GROUP [ARGS...]
  local name=$1 group=$2; shift 2
  "$MM_BIN" run -b "$BOOTSTRAP" -g "$group" -i "$T_EVENTS" -o "$T_MOMENTS" \
    -X mm.dlq.topic="$T_DLQ" -X session.timeout.ms=6000 -X mm.metrics.listen=127.0.0.1:0 \
    "$@" 2>"$WORK/$name.log" &
  RUN_PID[$name]=$!
}
# The same in the foreground with --exit-on-eof, bounded; prints the exit code.
run_to_end() { # run_to_end NAME GROUP SECONDS [ARGS...]
  local name=$1 group=$2 limit=$3 code=0; shift 3
  timeout -s KILL "$limit" "$MM_BIN" run -b "$BOOTSTRAP" -g "$group" -i "$T_EVENTS" \
    -o "$T_MOMENTS" -X mm.dlq.topic="$T_DLQ" -X session.timeout.ms=6000 \
    -X mm.metrics.listen=127.0.0.1:0 --exit-on-eof "$@" 2>"$WORK/$name.log" || code=$?
  echo "$code"
}
alive() { kill -0 "${RUN_PID[$1]}" 2>/dev/null; }
# SIGTERM, then the exit code in $RUN_CODE (bounded: SIGKILL after SECONDS,
# code 137). Not in $(...): the process is a child of this shell only.
stop_run() { # stop_run NAME [SECONDS]
  local pid=${RUN_PID[$1]}
  RUN_CODE=0
  kill -TERM "$pid" 2>/dev/null || true
  wait_for "${2:-60}" bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" || RUN_CODE=$?
}
kill9_run() { # kill9_run NAME
  kill -KILL "${RUN_PID[$1]}" 2>/dev/null || true
  wait "${RUN_PID[$1]}" 2>/dev/null || true
}

# Produces FILE in batches in the background (a stream arriving while the
# processor runs); its pid is FEED_PID.
feed() { # feed TOPIC FILE [BATCH] [PAUSE]
  local topic=$1 file=$2 batch=${3:-250} pause=${4:-0.1}
  split -l "$batch" -d -a 4 "$file" "$WORK/feed.$topic."
  (
    for part in "$WORK/feed.$topic."*; do
      produce_keyed "$topic" "$part"
      sleep "$pause"
    done
  ) &
  FEED_PID=$!
}

moments_at_least() { [ "$(topic_count "$T_MOMENTS")" -ge "$1" ]; }

# True when every expected event id has a moment on $T_MOMENTS.
none_missing() { # none_missing EXPECTED_IDS
  consume_all "$T_MOMENTS" |
    python3 -c 'import json,sys; [print(json.loads(l)["event_id"]) for l in sys.stdin if l.strip()]' |
    sort -u >"$WORK/seen.ids"
  [ -z "$(comm -23 "$1" "$WORK/seen.ids")" ]
}

# Partitions NAME's log says it owns now ("assigned"/"revoked"/"lost" lines).
owned_partitions() { # owned_partitions LOGFILE TOPIC
  awk -v t="$2" '
    $0 ~ ("assigned " t " \\[") { p = $NF; gsub(/[][]/, "", p); own[p] = 1 }
    $0 ~ ("(revoked|lost) " t " \\[") { p = $NF; gsub(/[][]/, "", p); delete own[p] }
    END { for (p in own) print p }' "$1" | sort -n | tr '\n' ' ' | sed 's/ $//'
}

# Does this build know exactly-once?
eos_available() { "$MM_BIN" run --help-config 2>/dev/null | grep -q 'exactly-once'; }
# Wait conditions that give up at once when the process has exited.
joined_or_gone() { # joined_or_gone NAME: its log says "assigned" (or it exited: false)
  alive "$1" || return 0
  grep -q ' assigned ' "$WORK/$1.log"
}
moments_or_gone() { # moments_or_gone NAME N
  alive "$1" || return 0
  moments_at_least "$2"
}

# ---- engine fault tests (test_engine_faults, test_registry_wait, ...) ---------

# A TCP port nobody listens on now (the OS picks it).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# One sample of a Prometheus endpoint: the value of NAME whose labels contain
# every LABEL="VALUE" given (fails when there is none).
metric() { # metric PORT NAME [LABEL=VALUE]...
  local port=$1 name=$2; shift 2
  curl -fsS --max-time 3 "http://127.0.0.1:$port/metrics" 2>/dev/null |
    python3 -c '
import sys
name, want = sys.argv[1], [f"{k}=\"{v}\"" for k, v in (a.split("=", 1) for a in sys.argv[2:])]
for line in sys.stdin:
    if line.startswith("#"):
        continue
    series, _, value = line.rstrip("\n").rpartition(" ")
    base, _, labels = series.partition("{")
    if base == name and all(w in labels for w in want):
        v = float(value)
        print(int(v) if v.is_integer() else v)
        sys.exit(0)
sys.exit(1)' "$name" "$@"
}
metric_is() { [ "$(metric "$1" "$2" "${@:4}")" = "$3" ]; } # metric_is PORT NAME VALUE [LABEL=VALUE]...

# Reads a topic binary-safe (values of any bytes, headers) into FILE, in the
# framing tests/integration/avro_frame.py reads back (read_kcat_file).
consume_raw() { # consume_raw TOPIC FILE [extra kcat args]
  local topic=$1 file=$2; shift 2
  consume_all "$topic" -f "$(python3 "$MM_SOURCE_DIR/tests/integration/avro_frame.py" const KCAT_FORMAT)" "$@" >"$file"
}

# "event_id moment confidence" of each moment (JSON lines on stdin), sorted:
# what offline `classify` and a run are compared on.
moment_triples_sorted() {
  python3 -c 'import json,sys; [print(m["event_id"], m["moment"], m["confidence"]) for m in map(json.loads, sys.stdin) if m]' | sort
}
