#!/usr/bin/env bash
# What profiles and the state changelog cost (issue 18), measured against the
# same run without them, on a real Apache Kafka (tests/kafka/kafka-broker.sh):
#
#   1. The same N keyed events through four configurations in turn (features
#      off, profiles, changelog, both), each with a fresh group and fresh
#      output topics: wall and CPU (user+sys) of the run, bytes written to the
#      profiles and changelog topics per input event.
#   2. Restore: RESTORE_USERS users (one event each) into a changelog, then a
#      run in the same group with nothing new to read restores them all: the
#      users restored and the time the log reports.
#
#   bench/state_cost.sh BUILD_DIR        (N=300000 USERS=100000 RESTORE_USERS=1000000)
set -euo pipefail
BUILD=${1:-build}
BIN="$BUILD/micromoment"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
K="$REPO/tests/kafka/kafka-broker.sh"
N=${N:-300000}
USERS=${USERS:-100000}
RESTORE_USERS=${RESTORE_USERS:-1000000}
PARTS=${PARTS:-8}
W=$(mktemp -d "${TMPDIR:-/tmp}/mm-statecost.XXXXXX")
KSTATE=""
cleanup() {
    [[ -n $KSTATE ]] && "$K" stop "$KSTATE" >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT

kout=$(MM_KAFKA_PARENT_PID=$$ "$K" start "$REPO/build/kafka")
B=$(sed -n 1p <<<"$kout")
KSTATE=$(sed -n 2p <<<"$kout")
topics() {
    for t in "$@"; do
        "$K" tool "$KSTATE" TopicCommand --bootstrap-server "$B" --create --if-not-exists \
            --topic "$t" --partitions "$PARTS" --replication-factor 1 \
            --config cleanup.policy=compact >/dev/null 2>&1 &
    done
    wait
}
bytes() { # total value bytes of a topic
    kcat -b "$B" -C -t "$1" -e -q -f '%S\n' 2>/dev/null | awk '{s += $1} END {print s + 0}'
}

echo "Kafka at $B; $N events over $USERS users, $PARTS partitions"
# 2000 events/s of event time: every user stays within mm.state.ttl.ms (30
# minutes), so each one's state is live and snapshotted, not expired.
"$BIN" gen --events "$N" --users "$USERS" --seed 7 --keyed --rate 2000 >"$W/events.tsv"
topics events dlq
kcat -b "$B" -P -t events -K $'\t' -X enable.idempotence=true -l "$W/events.tsv"

ROUNDS=${ROUNDS:-3}
printf '%-10s %5s %8s %10s %12s %14s %14s\n' config round wall_s cpu_us/ev moments profile_B/ev state_B/ev
# A warm-up run first (the broker's group coordinator loads its topic on first
# use), then the configurations in turn, ROUNDS times, alternating.
"$BIN" run -b "$B" -g g-warm -i events -o dlq -X mm.dlq.topic=dlq -X mm.metrics.listen=127.0.0.1:0 \
    -X mm.profiles=off -X mm.state.changelog=off -X mm.conversions=off --exit-on-eof 2>/dev/null
for round in $(seq "$ROUNDS"); do
for cfg in off profiles changelog both; do
    case $cfg in
    off) feat=(-X mm.profiles=off -X mm.state.changelog=off) ;;
    profiles) feat=(-X mm.profiles=on -X mm.state.changelog=off) ;;
    changelog) feat=(-X mm.profiles=off -X mm.state.changelog=on) ;;
    both) feat=(-X mm.profiles=on -X mm.state.changelog=on) ;;
    esac
    r="$cfg-$round"
    topics "out-$r" "prof-$r" "state-$r"
    /usr/bin/time -f "%e %U %S" -o "$W/time.$r" "$BIN" run -b "$B" -g "g-$r" -i events \
        -o "out-$r" -X mm.dlq.topic=dlq -X mm.metrics.listen=127.0.0.1:0 -X mm.conversions=off \
        -X "mm.profiles.topic=prof-$r" -X "mm.state.changelog.topic=state-$r" \
        "${feat[@]}" --exit-on-eof 2>"$W/run.$r.log"
    read -r wall user sys <"$W/time.$r"
    moments=$(kcat -b "$B" -C -t "out-$r" -e -q 2>/dev/null | wc -l)
    pb=$(bytes "prof-$r")
    sb=$(bytes "state-$r")
    awk -v c="$cfg" -v k="$round" -v w="$wall" -v u="$user" -v s="$sys" -v n="$N" -v m="$moments" \
        -v pb="$pb" -v sb="$sb" \
        'BEGIN { printf "%-10s %5d %8.2f %10.2f %12d %14.1f %14.1f\n", c, k, w, (u + s) * 1e6 / n, m, pb / n, sb / n }'
done
done

echo
echo "restore: $RESTORE_USERS users, one event each"
"$BIN" gen --events "$RESTORE_USERS" --users "$RESTORE_USERS" --zipf 0.01 --seed 8 --keyed \
    --rate 100000 >"$W/users.tsv"
topics restore-in restore-out restore-state
kcat -b "$B" -P -t restore-in -K $'\t' -X enable.idempotence=true -l "$W/users.tsv"
rm -f "$W/users.tsv"
common=(-b "$B" -g g-restore -i restore-in -o restore-out -X mm.dlq.topic=dlq
        -X mm.metrics.listen=127.0.0.1:0 -X mm.conversions=off -X mm.profiles=off
        -X mm.state.changelog=on -X mm.state.changelog.topic=restore-state
        -X mm.state.max.users=1000000 --exit-on-eof)
"$BIN" run "${common[@]}" 2>"$W/restore.1.log"
/usr/bin/time -f "%e %M" -o "$W/time.restore" "$BIN" run "${common[@]}" 2>"$W/restore.2.log"
read -r wall rss <"$W/time.restore"
grep -o 'restored [0-9]* users of [^ ]* \[[0-9]*\] from the changelog in [0-9]* ms' \
    "$W/restore.2.log" | awk -v w="$wall" -v r="$rss" \
    '{ u += $2; if ($(NF - 1) > t) t = $(NF - 1) } END {
       printf "restored %d users; the slowest partition took %d ms; the run %.1f s, %d MB RSS\n", u, t, w, r / 1024 }'
echo "changelog bytes: $(bytes restore-state) for $RESTORE_USERS users"
