#!/usr/bin/env bash
# bench/run.sh: micromoment's benchmark (issue 6). `make bench` runs it with the build dir.
#
#   bench/run.sh [BUILD_DIR] [SECTION...]     SECTION: classifier e2e latency memory alloc
#                                             agreement kafka all (default all); profile (not
#                                             in all). QUICK=1's all: classifier agreement kafka
#                                             latency (on Kafka only): every target of issue 17
#
#   classifier  the classifier alone, in memory: 10k, 100k, 1M, 10M users (Zipf), events/s
#               per core, ns/event, the 10M/10k cost ratio
#   e2e         a preloaded topic through `micromoment run --exit-on-eof` against the kcat
#               relay (kcat -C | kcat -P) on the development broker, rounds alternating
#   latency     input record's send time -> the moment's arrival at a consumer, p50/p99/p99.9
#               at a low rate and 25/50/100 % of the peak rate from e2e, next to one hop
#               (producer -> broker -> consumer, the floor) and the kcat relay
#   memory      resident bytes per tracked user (from classifier; alone it runs 1M users)
#   alloc       jemalloc allocation counts, a run of N/2 vs N events -> allocations per event
#   agreement   the same events (the kafka section's largest input) through `micromoment
#               classify` and the Kafka Streams reference's classifier (no Kafka): moments
#               per type from both and the share of events on which they agree
#   kafka       on a real Apache Kafka (tests/kafka/kafka-broker.sh), 300k and 1M records:
#               micromoment, the kcat relay and the Kafka Streams reference (bench/streams,
#               built with Maven on first use), each with a fresh group and output topic,
#               at-least-once and exactly-once, rounds alternating; Kafka's
#               ProducerPerformance / ConsumerPerformance as a reference
#   profile     perf record of one e2e run; top symbols into the results (needs linux-perf)
#
# Environment: QUICK=1 (a short smoke run), MM_BENCH_OUT (results dir, default
# BUILD_DIR/bench-results; latest.json, latest.png, report.txt), MM_BENCH_EVENTS (e2e
# events, default 1000000), MM_BENCH_ROUNDS (default 5), MM_BENCH_RUN_ARGS (extra `run`
# flags), MM_BENCH_PEAK (records/s for latency when e2e is not run), MM_BENCH_LAT_SECONDS,
# MM_BENCH_LAT_LINGER (linger.ms of every producer in the latency section, default 20),
# MM_BENCH_KAFKA_SIZES (records per kafka run, default "300000 1000000", QUICK "300000"),
# MM_BENCH_KAFKA_ROUNDS (default 3, QUICK 1), MM_BENCH_STREAMS_ARGS (extra Kafka Streams
# properties for the reference, "-X key=value ..."), MM_BENCH_LAT_PCTS (rates of the latency
# section, % of the peak, 0 = the low fixed rate; default "0 25 50 100", QUICK "50"),
# MM_BENCH_LAT_TOOLS (default "hop micromoment kcat", QUICK "hop micromoment"),
# MM_BENCH_LAT_DEV (1: latency on the development broker too; QUICK 0), MM_BENCH_KAFKA_PERF
# (1: Kafka's ProducerPerformance / ConsumerPerformance; QUICK 0).
#
# A section or a system that fails is reported, not fatal to the report: a failed run of one
# system on Kafka is recorded (kafka.jsonl, "failed") and that system is not run again; any
# other failure stops the bench, and the report is still printed with what was measured and,
# for every target not measured, why (failed.jsonl).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
BUILD=${1:-build}
[[ $# -gt 0 ]] && shift
case $BUILD in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
SECTIONS=("$@")
((${#SECTIONS[@]})) || SECTIONS=(all)

MM="$BUILD/micromoment"
BC="$BUILD/bench/bench_classifier"
BL="$BUILD/bench/bench_latency"
LEX="$REPO/lexicons"
OUT=${MM_BENCH_OUT:-$BUILD/bench-results}
QUICK=${QUICK:-0}

if [[ $QUICK == 1 ]]; then
    # every target of issue 17 once, as short as that allows: the classifier at the user counts
    # the targets name, real Kafka at both sizes (one round), latency at half the peak on Kafka
    CL_EVENTS=${MM_BENCH_CL_EVENTS:-300000}
    CL_USERS=${MM_BENCH_CL_USERS:-10000,1000000,10000000}
    N=${MM_BENCH_EVENTS:-200000}
    ROUNDS=${MM_BENCH_ROUNDS:-2}
    KROUNDS=${MM_BENCH_KAFKA_ROUNDS:-1}
    KSIZES=${MM_BENCH_KAFKA_SIZES:-300000 1000000}
    LAT_S=${MM_BENCH_LAT_SECONDS:-5}
    LAT_PCTS=${MM_BENCH_LAT_PCTS:-50}
    LAT_TOOLS=${MM_BENCH_LAT_TOOLS:-hop micromoment}
    LAT_DEV=${MM_BENCH_LAT_DEV:-0}
    KPERF=${MM_BENCH_KAFKA_PERF:-0}
    [[ ${SECTIONS[*]} == all ]] && SECTIONS=(classifier agreement kafka latency)
else
    CL_EVENTS=${MM_BENCH_CL_EVENTS:-4000000}
    CL_USERS=${MM_BENCH_CL_USERS:-10000,100000,1000000,10000000}
    N=${MM_BENCH_EVENTS:-1000000}
    ROUNDS=${MM_BENCH_ROUNDS:-5}
    KROUNDS=${MM_BENCH_KAFKA_ROUNDS:-3}
    KSIZES=${MM_BENCH_KAFKA_SIZES:-300000 1000000}
    LAT_S=${MM_BENCH_LAT_SECONDS:-10}
    LAT_PCTS=${MM_BENCH_LAT_PCTS:-0 25 50 100}
    LAT_TOOLS=${MM_BENCH_LAT_TOOLS:-hop micromoment kcat}
    LAT_DEV=${MM_BENCH_LAT_DEV:-1}
    KPERF=${MM_BENCH_KAFKA_PERF:-1}
fi
read -r -a KSIZES <<<"$KSIZES"
GEN_USERS=1000000 # distinct users in the e2e stream (Zipf 0.8)
GEN_N=$N          # records generated once; every preload takes the first ones
for s in "${KSIZES[@]}"; do ((s > GEN_N)) && GEN_N=$s; done
PARTS=128         # the development broker keeps ~5 MB per partition: 1M x ~220 B needs >64
# 32k users per partition: the stream's ~300k distinct users spread over 128 partitions never
# reach it (no eviction); the default 200k per partition would preallocate 128 x 200k x 185 B
# = 4.7 GB (measured once, as "default config", below).
STATE_ARGS=(-X mm.state.max.users=32768)
RUN_ARGS=(-X mm.workers=2 -X session.timeout.ms=6000 "${STATE_ARGS[@]}")
read -r -a EXTRA_ARGS <<<"${MM_BENCH_RUN_ARGS:-}"
RUN_ARGS+=("${EXTRA_ARGS[@]}")

say() { printf '%s\n' "$*" >&2; }
SECTION=setup # the section running, for failed.jsonl
step() { printf '\n== %s\n' "$*" >&2; }
section() { SECTION=$1; shift; step "$@"; }
json_str() { python3 -c 'import json,sys;print(json.dumps(sys.argv[1]))' "$1"; }
# A failure: its reason goes to WORK/last_error (also from a $(...) subshell, where exit ends
# only the subshell; a caller that handles it reads the reason there), and when it ends the
# bench (the main shell) the EXIT trap records it in failed.jsonl and prints the report.
die() {
    say "bench: $*"
    [[ -n ${WORK:-} && -d $WORK ]] && printf '%s\n' "$*" >"$WORK/last_error"
    exit 1
}
want() { # section selected?
    local s
    for s in "${SECTIONS[@]}"; do [[ $s == "$1" || ($s == all && $1 != profile) ]] && return 0; done
    return 1
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b - a}'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

for t in "$MM" "$BC" "$BL"; do [[ -x $t ]] || die "$t missing: run make build"; done
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing (apt-get install time)"
command -v kcat >/dev/null || die "kcat missing (apt-get install kcat)"
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mm-bench.XXXXXX")
PIDS=()
KSTATE=""
REPORTED=0
finish() { # the end time and load average, then the report
    python3 - "$OUT/meta.json" "$(loadavg)" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1])); m["loadavg_end"] = sys.argv[2]
json.dump(m, open(sys.argv[1], "w"), indent=1)
EOF
    step "results"
    REPORTED=1
    python3 "$SCRIPT_DIR/report.py" final "$OUT"
}
cleanup() {
    local rc=$? p why
    trap - EXIT INT TERM
    if ((rc != 0)) && [[ $REPORTED == 0 && -f $OUT/meta.json ]]; then
        why=$(cat "$WORK/last_error" 2>/dev/null || echo "exit status $rc")
        printf '{"section":"%s","reason":%s}\n' "$SECTION" "$(json_str "$why")" >>"$OUT/failed.jsonl"
        say "bench: the $SECTION section failed ($why); the report follows with what was measured"
        finish || true
    fi
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    # the logs of every run and of the broker stay for a post-mortem
    mkdir -p "$OUT/logs" && cp "$WORK"/*.log "$WORK"/*.err "$OUT/logs/" 2>/dev/null || true
    sleep 0.2
    [[ -n $KSTATE ]] && "$REPO/tests/kafka/kafka-broker.sh" stop "$KSTATE" 2>/dev/null || true
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Results of this run only: every fragment of an earlier run goes, also of sections this run
# does not select (the report would print their figures as this run's).
for s in classifier e2e latency memory alloc agreement kafka profile; do
    rm -f "$OUT/$s".json* "$OUT/$s".txt
done
rm -f "$OUT/e2e_default.json" "$OUT/e2e_group.json" "$OUT/profile-dso.txt" "$OUT/failed.jsonl" \
    "$OUT/throughput.dat" "$OUT/latest.json" "$OUT/report.txt" "$OUT/latest.png"
rm -rf "$OUT/logs" "$OUT"/lat-*.dat
python3 - "$OUT/meta.json" "$QUICK" "$(loadavg)" "$REPO" "${SECTIONS[*]}" <<'EOF'
import json, os, platform, subprocess, sys, time
def sh(c):
    try: return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception: return ""
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
mem = sh("awk '/MemTotal/{printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
json.dump({"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "quick": sys.argv[2] == "1",
           "cpu": cpu, "cores": os.cpu_count(), "memory": mem,
           "kernel": platform.release(), "os": sh(". /etc/os-release; echo $PRETTY_NAME"),
           "git": sh("git -C %s describe --always --dirty" % sys.argv[4]),
           "kcat": sh("kcat -V | sed -n 's/^Version \\(.*\\)/\\1/p'"),
           "librdkafka": sh("pkg-config --modversion rdkafka"),
           "loadavg_start": sys.argv[3], "sections": sys.argv[5].split()},
          open(sys.argv[1], "w"), indent=1)
EOF
say "bench: results in $OUT (load average $(loadavg); quick=$QUICK)"

# ------------------------------------------------------------------ development broker

# Starts a development broker with the given topics; sets DEV_ADDR and DEV_PID. Its stderr
# and exit status land in $WORK/NAME.err: a broker that dies mid-run is reported, not guessed at.
launch_dev_broker() { # NAME TOPIC:PARTITIONS...
    local name=$1 i args=()
    shift
    for i in "$@"; do args+=(--topic "$i"); done
    rm -f "$WORK/$name.pid" "$WORK/$name.out"
    (
        rc=0
        "$MM" broker "${args[@]}" >"$WORK/$name.out" 2>>"$WORK/$name.err" </dev/null &
        echo $! >"$WORK/$name.pid"
        wait $! || rc=$?
        { echo "$(date +%T) exit status $rc" >>"$WORK/$name.err"; } 2>/dev/null || true
    ) &
    for i in $(seq 50); do [[ -s $WORK/$name.pid ]] && break; sleep 0.1; done
    DEV_PID=$(cat "$WORK/$name.pid")
    PIDS+=("$DEV_PID")
    for i in $(seq 100); do [[ -s $WORK/$name.out ]] && break; sleep 0.1; done
    DEV_ADDR=$(head -n1 "$WORK/$name.out")
    [[ -n $DEV_ADDR ]] || die "the development broker did not start: $(tail -3 "$WORK/$name.err")"
}

BROKER=""
start_dev_broker() {
    [[ -n $BROKER ]] && return 0
    launch_dev_broker broker "events:$PARTS" "micro-moments:$PARTS" "relay:$PARTS" \
        "micro-moments.dlq:4" "events-half:$PARTS"
    BROKER=$DEV_ADDR
    say "development broker at $BROKER"
}

broker_post_mortem() { # BROKER: say what happened to the development broker, if it was ours
    [[ $1 == "$BROKER" && -f $WORK/broker.err ]] || return 0
    cp "$WORK/broker.err" "$OUT/broker.err" 2>/dev/null || true
    say "development broker's stderr (copied to $OUT/broker.err):"
    tail -5 "$WORK/broker.err" >&2
}

# Sum of the end offsets of a topic's partitions (kcat -Q with timestamp -1 = end).
topic_end() { # BROKER TOPIC PARTS
    local args=() p
    for ((p = 0; p < $3; p++)); do args+=(-t "$2:$p:-1"); done
    kcat -Q -b "$1" "${args[@]}" 2>/dev/null | awk '/offset/{s+=$NF} END{print s+0}'
}

# gen's keyed records, GEN_N of them, generated once: every input of the bench is a prefix
gen_events() {
    [[ -s $WORK/events.tsv ]] || "$MM" gen --events "$GEN_N" --users "$GEN_USERS" --zipf 0.8 \
        --seed 1 --keyed >"$WORK/events.tsv"
}

preload() { # BROKER TOPIC EVENTS  (keyed gen records, same seed every time)
    local t0 t1
    gen_events
    t0=$(now)
    head -n "$3" "$WORK/events.tsv" | kcat -P -b "$1" -t "$2" -K$'\t' -X linger.ms=50 \
        -X batch.num.messages=10000 -X queue.buffering.max.messages=1000000
    t1=$(now)
    local got
    got=$(topic_end "$1" "$2" "$(kcat -L -b "$1" -t "$2" | awk '/partitions:/{print $(NF-1); exit}')")
    say "preloaded $got records into $2 in $(elapsed "$t0" "$t1") s"
    ((got == $3)) || die "$2 holds $got records, not $3 (the broker dropped some: more partitions?)"
}

# Runs CMD bounded by MM_BENCH_RUN_TIMEOUT (a run whose broker went away retries for ever
# instead of exiting) under /usr/bin/time, its output into LOG; prints the run's JSON
# (report.py mmlog: the summary line, the first assignment, the TIME line).
timed_run() { # LOG CMD...
    local log=$1 t0
    shift
    t0=$(now)
    timeout -k 5 "${MM_BENCH_RUN_TIMEOUT:-300}" /usr/bin/time -f 'TIME %e %U %S %M' \
        -o "$WORK/time.txt" "$@" >"$log" 2>&1 || { tail -5 "$log" >&2; return 1; }
    cat "$WORK/time.txt" >>"$log"
    python3 "$SCRIPT_DIR/report.py" mmlog "$log" "$t0"
}

# One `run --exit-on-eof`; prints a JSON object (report.py mmlog) on stdout.
mm_round() { # BROKER GROUP IN OUT LOGNAME [ENV...] -- [extra run args]
    local b=$1 g=$2 in=$3 out=$4 log="$WORK/$5.log"
    shift 5
    local envs=()
    while (($#)) && [[ $1 != -- ]]; do envs+=("$1"); shift; done
    (($#)) && shift
    timed_run "$log" env "${envs[@]}" "$MM" run -b "$b" -g "$g" -i "$in" -o "$out" --exit-on-eof \
        -X mm.metrics.listen="127.0.0.1:$(free_port)" "${RUN_ARGS[@]}" "$@" ||
        { broker_post_mortem "$b"; die "micromoment run failed (log above)"; }
}

# The kcat relay: consumer and producer in one pipeline under /usr/bin/time (the shell's
# rusage holds both kcat processes). With GROUP it reads as a member of a fresh group (-G,
# which commits its offsets on exit), else it is assigned the partitions (-C).
kcat_round() { # BROKER IN OUT PARTS [GROUP]
    local before after src=(-C -o beginning -t)
    [[ -n ${5:-} ]] && src=(-G "$5" -X auto.offset.reset=earliest)
    before=$(topic_end "$1" "$3" "$4")
    # shellcheck disable=SC2016 # the inner shell expands its own arguments
    /usr/bin/time -f 'TIME %e %U %S %M' -o "$WORK/time.txt" bash -c 'set -o pipefail
        b=$1 in=$2 out=$3 tab=$4
        shift 4
        kcat -b "$b" "$@" "$in" -e -q -K"$tab" -f "%k\t%s\n" | kcat -P -b "$b" -t "$out" -K"$tab"' \
        _ "$1" "$2" "$3" $'\t' "${src[@]}" || die "the kcat relay failed"
    after=$(topic_end "$1" "$3" "$4")
    python3 "$SCRIPT_DIR/report.py" timed "$WORK/time.txt" "$((after - before))"
}

# e2e rounds: alternate micromoment and the kcat relay on one broker.
# micromoment reads the input's partitions by name (-i events:0-N), as kcat -C assigns them:
# neither waits for a consumer group to form (the development broker holds a first join for
# 3 s). One more run with the group is measured apart (e2e_group.json).
compare_rounds() { # BROKER ROUNDS FRAGMENT TAG PARTS
    local b=$1 rounds=$2 frag=$3 tag=$4 parts=$5 r j
    for ((r = 1; r <= rounds; r++)); do
        j=$(mm_round "$b" "bench-$tag-$r-$$" "events:0-$((parts - 1))" micro-moments "$tag-mm-$r")
        printf '{"round":%d,"tool":"micromoment",%s\n' "$r" "${j#\{}" >>"$frag"
        say "  [$tag] round $r/$rounds micromoment: $(python3 "$SCRIPT_DIR/report.py" brief "$j")"
        j=$(kcat_round "$b" events relay "$parts")
        printf '{"round":%d,"tool":"kcat",%s\n' "$r" "${j#\{}" >>"$frag"
        say "  [$tag] round $r/$rounds kcat relay:  $(python3 "$SCRIPT_DIR/report.py" brief "$j")"
    done
}

# ------------------------------------------------------------------ sections

if want classifier || want memory; then
    users=$CL_USERS
    want classifier || users=1000000
    section classifier "classifier alone: $CL_EVENTS Zipf(0.8) events per user count, table pre-filled"
    IFS=, read -r -a ulist <<<"$users"
    for u in "${ulist[@]}"; do
        say "  $u users ..."
        t0=$(now)
        "$BC" "$LEX" "$CL_EVENTS" "$u" 0.8 1 >"$WORK/classifier.json" ||
            die "bench_classifier failed at $u users"
        tee -a "$OUT/classifier.jsonl" <"$WORK/classifier.json" |
            python3 "$SCRIPT_DIR/report.py" brief-classifier
        say "    ($(elapsed "$t0" "$(now)") s with corpus generation)"
    done
fi

# latency on the development broker needs e2e's peak (or MM_BENCH_PEAK)
DEV_LAT=0
want latency && [[ $LAT_DEV == 1 ]] && DEV_LAT=1
if want e2e || want alloc || { ((DEV_LAT)) && [[ -z ${MM_BENCH_PEAK:-} ]]; } || want profile; then
    SECTION=e2e
    start_dev_broker
    preload "$BROKER" events "$N"
fi

if want e2e || { ((DEV_LAT)) && [[ -z ${MM_BENCH_PEAK:-} ]]; }; then
    r=$ROUNDS
    want e2e || r=1
    section e2e "end to end on the development broker: $N records, $PARTS partitions, $r rounds alternating"
    compare_rounds "$BROKER" "$r" "$OUT/e2e.jsonl" e2e "$PARTS"
    if want e2e; then
        say "  once more as a consumer group member (-i events: waits for the group to form):"
        j=$(mm_round "$BROKER" "bench-e2e-group-$$" events micro-moments e2e-group)
        echo "$j" >"$OUT/e2e_group.json"
        say "    $(python3 "$SCRIPT_DIR/report.py" brief "$j")"
    fi
    if want e2e && [[ $QUICK != 1 ]]; then
        say "  once more with the default state sizing (mm.state.max.users=200000 per partition):"
        j=$(mm_round "$BROKER" "bench-e2e-default-$$" "events:0-$((PARTS - 1))" micro-moments \
            e2e-default -- -X mm.state.max.users=200000)
        echo "$j" >"$OUT/e2e_default.json"
        say "    $(python3 "$SCRIPT_DIR/report.py" brief "$j")"
    fi
fi

if want alloc; then
    section alloc "allocations (jemalloc stats_print at exit): $((N / 2)) vs $N records"
    preload "$BROKER" events-half $((N / 2))
    j1=$(mm_round "$BROKER" "bench-alloc-1-$$" "events-half:0-$((PARTS - 1))" micro-moments alloc-half \
        MALLOC_CONF=stats_print:true)
    j2=$(mm_round "$BROKER" "bench-alloc-2-$$" "events:0-$((PARTS - 1))" micro-moments alloc-full \
        MALLOC_CONF=stats_print:true)
    python3 "$SCRIPT_DIR/report.py" alloc "$WORK/alloc-half.log" "$WORK/alloc-full.log" \
        "$j1" "$j2" >"$OUT/alloc.json"
    python3 "$SCRIPT_DIR/report.py" brief-alloc "$OUT/alloc.json"
fi

# Latency at a low fixed rate and at 25/50/100 % of PEAK, three ways through the same broker:
#   hop          bench_latency's producer -> broker -> its consumer: the floor of one hop
#   micromoment  producer -> input topic -> micromoment -> moments topic -> consumer
#   kcat         the same two hops through `kcat -C | kcat -P`, no work done
# Every producer batches for LAT_LINGER ms (linger.ms): on these 2 vCPUs a single-node Kafka
# falls behind from ~10k records/s when every producer sends 1-5 ms batches (measured: one hop
# p50 0.9 s at 10k/s with 1 ms), and the point here is what micromoment adds, not that.
# The development broker does not wake a waiting fetch when data arrives, so the consumers in
# front of it fetch with fetch.wait.max.ms=10 (real Kafka answers as soon as data is there),
# and it slows as its partitions fill, so each rate gets a fresh one.
LAT_LINGER=${MM_BENCH_LAT_LINGER:-20}
LAT_WARMUP=3
LAT_PARTS=32
lat_broker_start() { # dev: a fresh development broker for one measurement
    launch_dev_broker lat-broker "lat-events:$LAT_PARTS" "lat-moments:$LAT_PARTS" \
        "lat-relay:$LAT_PARTS" "lat-hop:$LAT_PARTS" "micro-moments.dlq:4"
    LAT_BROKER=$DEV_ADDR
    LAT_BROKER_PID=$DEV_PID
}
lat_broker_stop() {
    kill "$LAT_BROKER_PID" 2>/dev/null || true
    while kill -0 "$LAT_BROKER_PID" 2>/dev/null; do sleep 0.1; done
}

lat_tool_start() { # TOOL BROKER TAG: start the tool between the topics; sets LAT_PIDS
    local tool=$1 b=$2 tag=$3 fetch=() log="$WORK/lat-$3-$1.log"
    [[ $tag == dev ]] && fetch=(-X fetch.wait.max.ms=10)
    : >>"$log"
    LAT_PIDS=()
    case $tool in
    hop) ;;
    micromoment)
        "$MM" run -b "$b" -g "bench-lat-$tag-$$-$RANDOM" -i "lat-events:0-$((LAT_PARTS - 1))" \
            -o lat-moments -X auto.offset.reset=latest -X linger.ms="$LAT_LINGER" "${fetch[@]}" \
            -X mm.metrics.listen="127.0.0.1:$(free_port)" "${RUN_ARGS[@]}" >>"$log" 2>&1 &
        LAT_PIDS=($!)
        local i
        for i in $(seq 100); do grep -q "named partitions" "$log" && break; sleep 0.1; done
        grep -q "named partitions" "$log" || die "micromoment run did not start: $(tail -3 "$log")"
        ;;
    kcat)
        rm -f "$WORK/relay.fifo"
        mkfifo "$WORK/relay.fifo"
        kcat -C -b "$b" -t lat-events -o end -u -q -K$'\t' -f '%k\t%s\n' "${fetch[@]}" \
            >"$WORK/relay.fifo" 2>>"$log" &
        LAT_PIDS=($!)
        kcat -P -b "$b" -t lat-relay -K$'\t' -X linger.ms="$LAT_LINGER" <"$WORK/relay.fifo" 2>>"$log" &
        LAT_PIDS+=($!)
        ;;
    esac
    PIDS+=("${LAT_PIDS[@]}")
    # Its consumer finds the partitions' ends (on Kafka: the group coordinator, the
    # committed offsets, the log ends) before the first record is sent; the first
    # LAT_WARMUP seconds of sends are not counted either.
    [[ $tool == hop ]] || sleep 2
}
lat_tool_stop() {
    ((${#LAT_PIDS[@]})) || return 0
    kill "${LAT_PIDS[@]}" 2>/dev/null || true
    wait "${LAT_PIDS[@]}" 2>/dev/null || true
}

latency_section() { # TAG BROKER PEAK FRAGMENT  (BROKER ignored for dev: fresh per rate)
    local tag=$1 b=$2 peak=$3 frag=$4 tool pct rate j in out
    for tool in $LAT_TOOLS; do
        case $tool in
        hop) in=lat-hop out=lat-hop ;;
        micromoment) in=lat-events out=lat-moments ;;
        kcat) in=lat-events out=lat-relay ;;
        esac
        # pct 0: a low fixed rate (MM_BENCH_LAT_FLOOR), the latency of a pipeline at rest
        for pct in $LAT_PCTS; do
            rate=$((pct ? peak * pct / 100 : ${MM_BENCH_LAT_FLOOR:-2000}))
            if [[ $tag == dev ]]; then
                lat_broker_start
                b=$LAT_BROKER
            fi
            lat_tool_start "$tool" "$b" "$tag"
            j=$("$BL" "$b" "$in" "$out" "$rate" "$LAT_S" "$LAT_WARMUP" 100000 "$LAT_LINGER") || true
            lat_tool_stop
            [[ $tag == dev ]] && lat_broker_stop
            [[ -n $j ]] || { say "  [$tag $tool] $pct %: no result"; continue; }
            printf '{"broker":"%s","tool":"%s","pct":%d,"linger_ms":%d,%s\n' "$tag" "$tool" \
                "$pct" "$LAT_LINGER" "${j#\{}" >>"$frag"
            say "  [$tag $tool] $([[ $pct == 0 ]] && echo floor || echo "$pct %") ($rate/s): $(python3 "$SCRIPT_DIR/report.py" brief-latency "$j")"
        done
    done
}

if ((DEV_LAT)); then
    peak=${MM_BENCH_PEAK:-$(python3 "$SCRIPT_DIR/report.py" peak "$OUT/e2e.jsonl")}
    section latency "latency: send -> arrival, ${LAT_S} s per rate (+$LAT_WARMUP s warm-up), peak $peak records/s, linger.ms=$LAT_LINGER"
    latency_section dev "" "$peak" "$OUT/latency.jsonl"
fi

# ------------------------------------------------------------------ Kafka Streams reference

# bench/streams: the same job written with Kafka Streams (see its pom.xml). Maven builds it
# (bench/streams/build.sh) into BUILD/bench-streams on first use and again whenever its
# sources change; the jars come from Maven Central through ~/.m2 (or MM_M2_REPO), as the test
# broker's do. Sets STREAMS_CP; returns 1 with STREAMS_WHY set when it cannot be built.
STREAMS_SRC="$SCRIPT_DIR/streams"
STREAMS_DIR="$BUILD/bench-streams"
STREAMS_CP=""
STREAMS_WHY=""
streams_build() {
    local rc=0
    STREAMS_CP=$("$STREAMS_SRC/build.sh" "$STREAMS_DIR" 2>"$WORK/streams-build.err") || rc=$?
    if ((rc != 0)); then
        cat "$WORK/streams-build.err" >&2
        STREAMS_CP=""
        STREAMS_WHY=$( ((rc == 3)) && sed -n 's/^bench\/streams: //p' "$WORK/streams-build.err" | head -n1 ||
            echo "its build failed (log: $STREAMS_DIR.log)")
        return 1
    fi
    grep -q building "$WORK/streams-build.err" && say "  built the Kafka Streams reference into $STREAMS_DIR"
    # the reference's keyword matcher on known queries: a broken loader would make it cheap
    if ! streams_tool selfcheck "$LEX" 2>"$WORK/streams-selfcheck.log"; then
        cat "$WORK/streams-selfcheck.log" >&2
        STREAMS_WHY="its selfcheck failed: $(grep -m1 -v 'queries as expected' "$WORK/streams-selfcheck.log")"
        STREAMS_CP=""
        return 1
    fi
}
streams_ready() { # built and checked once per bench run
    [[ -n $STREAMS_CP ]] && return 0
    [[ -n $STREAMS_WHY ]] && return 1
    streams_build
}
streams_tool() { java -Xmx512m -cp "$STREAMS_CP" dev.micromoment.bench.MomentsApp "$@"; }

# One run of the reference, like mm_round: prints a JSON object (report.py mmlog) on stdout.
streams_round() { # BROKER GROUP IN OUT LOGNAME [-X KEY=VALUE]...
    local b=$1 g=$2 in=$3 out=$4 log="$WORK/$5.log" extra=()
    shift 5
    read -r -a extra <<<"${MM_BENCH_STREAMS_ARGS:-}"
    timed_run "$log" java -cp "$STREAMS_CP" dev.micromoment.bench.MomentsApp run "$b" "$g" "$in" \
        "$out" "$LEX" "$@" "${extra[@]}" ||
        die "the Kafka Streams reference failed: $(grep -m1 -E 'failed|Exception|MomentsApp:' "$log" || tail -n1 "$log")"
}

# Real Kafka: per size, rounds alternating the systems over the same preloaded input, each run
# with a fresh group (every system here is a group member: Kafka Streams and exactly-once
# need one) and a fresh output topic. After each run, untimed, `verify` checks that the
# group's committed offsets are the input's ends and that a read_committed reader finds
# every record the system said it produced. A system whose run or check fails is recorded as
# failed (a row with "failed": why) and not run again (KAFKA_FAILED); the others go on.
KAFKA_FAILED=" "
kafka_failed() { # SIZE MODE ROUND TOOL WHY
    say "  [$(printf %-7s "$1") $2] round $3/$KROUNDS $(printf %-12s "$4") FAILED: $5 (not run again)"
    printf '{"size":%d,"mode":"%s","round":%d,"tool":"%s","failed":%s}\n' "$1" "$2" "$3" "$4" \
        "$(json_str "$5")" >>"$OUT/kafka.jsonl"
    KAFKA_FAILED+="$4:$2 "
}
kafka_rounds() { # BROKER SIZE ROUNDS FRAGMENT
    local b=$1 size=$2 rounds=$3 frag=$4 in="events-$2" r sys tool mode name j out g want
    local mm_eos st_eos ok
    local systems=(micromoment:alos kcat:alos)
    [[ -n $STREAMS_CP ]] && systems+=(streams:alos)
    systems+=(micromoment:eos)
    [[ -n $STREAMS_CP ]] && systems+=(streams:eos)
    for ((r = 1; r <= rounds; r++)); do
        for sys in "${systems[@]}"; do
            tool=${sys%:*} mode=${sys#*:}
            [[ $KAFKA_FAILED == *" $sys "* ]] && continue
            name="k$size-$r-$tool-$mode"
            out="out-$name" g="bench-$name-$$"
            mm_eos=() st_eos=()
            [[ $mode == eos ]] && mm_eos=(-- -X mm.delivery=exactly-once) &&
                st_eos=(-X processing.guarantee=exactly_once_v2)
            rm -f "$WORK/last_error"
            ok=1
            case $tool in
            micromoment) j=$(mm_round "$b" "$g" "$in" "$out" "$name" "${mm_eos[@]}") || ok=0 ;;
            kcat) j=$(kcat_round "$b" "$in" "$out" 32 "$g") || ok=0 ;;
            streams) j=$(streams_round "$b" "$g" "$in" "$out" "$name" "${st_eos[@]}") || ok=0 ;;
            esac
            if ((!ok)); then
                kafka_failed "$size" "$mode" "$r" "$tool" "$(cat "$WORK/last_error" 2>/dev/null ||
                    echo "the run failed (log: $OUT/logs/$name.log)")"
                continue
            fi
            printf '{"size":%d,"mode":"%s","round":%d,"tool":"%s",%s\n' "$size" "$mode" "$r" \
                "$tool" "${j#\{}" >>"$frag"
            say "  [$(printf %-7s "$size") $mode] round $r/$rounds $(printf %-12s "$tool") $(python3 "$SCRIPT_DIR/report.py" brief "$j")"
            if ! want=$(python3 "$SCRIPT_DIR/report.py" expect "$j" "$size"); then
                kafka_failed "$size" "$mode" "$r" "$tool" "$want"
                continue
            fi
            if [[ -n $STREAMS_CP ]] &&
                ! streams_tool verify "$b" "$g" "$in" "$out" "$want" 2>"$WORK/verify.log"; then
                cat "$WORK/verify.log" >&2
                kafka_failed "$size" "$mode" "$r" "$tool" \
                    "did not do what it said: $(grep -m1 'verify:' "$WORK/verify.log" || tail -n1 "$WORK/verify.log")"
            fi
        done
    done
}

# Creates topics on real Kafka: one JVM for all of them with the reference's helper, else one
# TopicCommand each.
kafka_topics() { # PARTITIONS TOPIC...
    local parts=$1 t
    shift
    if [[ -n $STREAMS_CP ]]; then
        streams_tool topics "$KADDR" "$parts" "$@" || die "could not create topics on Kafka"
        return
    fi
    for t in "$@"; do
        "$K" tool "$KSTATE" TopicCommand --bootstrap-server "$KADDR" --create --if-not-exists \
            --topic "$t" --partitions "$parts" --replication-factor 1 >/dev/null 2>&1 || true
    done
}

# The Kafka Streams reference classifies as micromoment does as far as a stateless keyword
# classifier can: both classify the same events (the kafka section's largest input) offline,
# and report.py compares them event by event.
if want agreement; then
    big=$(printf "%s\n" "${KSIZES[@]}" | sort -n | tail -n1)
    section agreement "agreement: $big events through micromoment classify and the Kafka Streams reference's classifier (no Kafka)"
    if ! streams_ready; then
        say "  NOT RUN: $STREAMS_WHY"
        printf '{"skipped":true,"reason":%s}\n' "$(json_str "$STREAMS_WHY")" >"$OUT/agreement.json"
    else
        gen_events
        head -n "$big" "$WORK/events.tsv" | cut -f2- >"$WORK/ag-events.jsonl"
        "$MM" classify -X mm.lexicon.dir="$LEX" <"$WORK/ag-events.jsonl" >"$WORK/ag-mm.jsonl" \
            2>"$WORK/ag-mm.log" || die "micromoment classify failed: $(tail -n1 "$WORK/ag-mm.log")"
        streams_tool classify "$LEX" <"$WORK/ag-events.jsonl" >"$WORK/ag-streams.jsonl" \
            2>"$WORK/ag-streams.log" ||
            die "the reference's classify failed: $(tail -n1 "$WORK/ag-streams.log")"
        python3 "$SCRIPT_DIR/report.py" agreement "$WORK/ag-events.jsonl" "$WORK/ag-mm.jsonl" \
            "$WORK/ag-streams.jsonl" >"$OUT/agreement.json"
        python3 "$SCRIPT_DIR/report.py" brief-agreement "$OUT/agreement.json"
        rm -f "$WORK"/ag-*.jsonl
    fi
fi

if want kafka; then
    section kafka "real Apache Kafka (tests/kafka/kafka-broker.sh): ${KSIZES[*]} records, $KROUNDS rounds alternating"
    K="$REPO/tests/kafka/kafka-broker.sh"
    rc=0
    kout=$(MM_KAFKA_PARENT_PID=$$ MM_KAFKA_PROPS="num.partitions=32" "$K" start "$BUILD/kafka" \
        2>"$WORK/kafka-start.err") || rc=$?
    if ((rc != 0)); then
        reason=$(grep -m1 'cannot provision' "$WORK/kafka-start.err" || tail -n1 "$WORK/kafka-start.err")
        say "  SKIPPED: real Kafka cannot be provisioned here: ${reason#kafka-broker: }"
        printf '{"skipped":true,"reason":%s}\n' "$(json_str "$reason")" >"$OUT/kafka.json"
    else
        KADDR=$(sed -n 1p <<<"$kout")
        KSTATE=$(sed -n 2p <<<"$kout")
        say "  Kafka at $KADDR (32 partitions per topic)"
        streams_ready ||
            say "  the Kafka Streams reference is NOT run: $STREAMS_WHY"
        topics=(micro-moments.dlq lat-events lat-moments lat-relay lat-hop)
        for size in "${KSIZES[@]}"; do
            topics+=("events-$size")
            for ((r = 1; r <= KROUNDS; r++)); do
                for t in micromoment-alos kcat-alos streams-alos micromoment-eos streams-eos; do
                    topics+=("out-k$size-$r-$t")
                done
            done
        done
        kafka_topics 32 "${topics[@]}"
        # Kafka creates its offsets and transaction topics (50 partitions each) on first use:
        # once here, so that no timed run pays for it
        [[ -n $STREAMS_CP ]] && { streams_tool warmup "$KADDR" 2>"$WORK/warmup.log" ||
            { cat "$WORK/warmup.log" >&2; die "warm-up on Kafka failed"; }; }
        for size in "${KSIZES[@]}"; do
            preload "$KADDR" "events-$size" "$size"
            kafka_rounds "$KADDR" "$size" "$KROUNDS" "$OUT/kafka.jsonl"
        done
        big=$(printf "%s\n" "${KSIZES[@]}" | sort -n | tail -n1)
        : >"$WORK/pperf.txt"
        : >"$WORK/cperf.txt"
        if [[ $KPERF == 1 ]]; then
            say "  Kafka's ProducerPerformance ($big x 220 B, acks=1) ..."
            "$K" tool "$KSTATE" ProducerPerformance --topic perf --num-records "$big" --record-size 220 \
                --throughput -1 --producer-props bootstrap.servers="$KADDR" acks=1 \
                >"$WORK/pperf.txt" 2>&1 || true
            say "  Kafka's ConsumerPerformance ($big records of events-$big) ..."
            "$K" tool "$KSTATE" ConsumerPerformance --bootstrap-server "$KADDR" --topic "events-$big" \
                --messages "$big" --timeout 60000 >"$WORK/cperf.txt" 2>&1 || true
        fi
        python3 "$SCRIPT_DIR/report.py" kafkaperf "$WORK/pperf.txt" "$WORK/cperf.txt" \
            "$STREAMS_WHY" "$KPERF" >"$OUT/kafka.json"
        python3 "$SCRIPT_DIR/report.py" brief-kafka "$OUT/kafka.json"
        if want latency; then
            SECTION=latency
            kpeak=$(python3 "$SCRIPT_DIR/report.py" peak "$OUT/kafka.jsonl")
            say "  latency on real Kafka, peak $kpeak records/s (micromoment after its group join):"
            latency_section kafka "$KADDR" "$kpeak" "$OUT/latency.jsonl"
        fi
        "$K" stop "$KSTATE" || true
        KSTATE=""
    fi
fi

if want profile; then
    section profile "profile: perf record -g of one e2e run"
    command -v perf >/dev/null || die "perf missing (apt-get install linux-perf)"
    perf record -F 999 -g -o "$WORK/perf.data" -- "$MM" run -b "$BROKER" -g "bench-prof-$$" \
        -i events -o micro-moments --exit-on-eof "${RUN_ARGS[@]}" \
        -X mm.metrics.listen="127.0.0.1:$(free_port)" >"$WORK/prof.log" 2>&1 || true
    perf report -i "$WORK/perf.data" --no-children --stdio --sort dso,symbol 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -40 >"$OUT/profile.txt" || true
    perf report -i "$WORK/perf.data" --no-children --stdio --sort dso 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -15 >"$OUT/profile-dso.txt" || true
    say "$(head -25 "$OUT/profile.txt")"
fi

SECTION=report
finish
