#!/usr/bin/env bash
# ctest FIXTURES_SETUP of the real-Kafka half: starts ONE real broker for the
# whole ctest run (the JVM starts once) and writes what the tests need to
# FIXTURE_FILE as shell assignments (MM_TEST_BROKER, MM_TEST_BOOTSTRAP,
# MM_KAFKA_STATE), which tests/integration/lib.sh reads.
#
#   fixture-start.sh BUILD_DIR FIXTURE_FILE
#
# MM_TEST_BOOTSTRAP=host:port set: an external cluster; nothing is started.
# No real Kafka here (kafka-broker.sh exit 3): the file says why
# (MM_KAFKA_UNAVAILABLE), one line is printed and the fixture passes, so the
# kafka tests skip; with MM_REQUIRE_KAFKA=1 the fixture fails instead.
# The broker lives as long as ctest (its watchdog follows our parent, ctest)
# unless fixture-stop.sh stops it first.
set -euo pipefail
BUILD_DIR=${1:?usage: fixture-start.sh BUILD_DIR FIXTURE_FILE}
FILE=${2:?usage: fixture-start.sh BUILD_DIR FIXTURE_FILE}
K="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kafka-broker.sh"
mkdir -p "$(dirname "$FILE")"
rm -f "$FILE" "$(dirname "$FILE")/unavailable"

if [ -n "${MM_TEST_BOOTSTRAP:-}" ]; then
  printf 'MM_TEST_BROKER=external\nMM_TEST_BOOTSTRAP=%q\n' "$MM_TEST_BOOTSTRAP" >"$FILE"
  echo "kafka fixture: external cluster at $MM_TEST_BOOTSTRAP"
  exit 0
fi

start=$SECONDS
rc=0
out=$(MM_KAFKA_PARENT_PID=$PPID "$K" start "$BUILD_DIR/kafka" 2>"$FILE.err") || rc=$?
if [ "$rc" = 0 ]; then
  printf 'MM_TEST_BROKER=kafka\nMM_TEST_BOOTSTRAP=%q\nMM_KAFKA_STATE=%q\n' \
    "$(sed -n 1p <<<"$out")" "$(sed -n 2p <<<"$out")" >"$FILE"
  rm -f "$FILE.err"
  echo "kafka fixture: Apache Kafka at $(sed -n 1p <<<"$out") (state $(sed -n 2p <<<"$out")), ready in $((SECONDS - start)) s"
  exit 0
fi
if [ "$rc" = 3 ]; then
  reason=$(sed -n 's/^kafka-broker: cannot provision real Kafka: //p' "$FILE.err" | head -n1)
else
  reason="kafka-broker.sh start failed (exit $rc): $(grep -v '^ *$' "$FILE.err" | tail -n1)"
fi
printf 'MM_KAFKA_UNAVAILABLE=%q\n' "$reason" >"$FILE"
line="real Kafka not available: $reason; running the development-broker half only"
echo "$line" | tee "$(dirname "$FILE")/unavailable"
if [ "${MM_REQUIRE_KAFKA:-0}" = 1 ]; then
  cat "$FILE.err" >&2
  echo "MM_REQUIRE_KAFKA=1: that is a failure"
  exit 1
fi
exit 0
