#!/usr/bin/env bash
# ctest FIXTURES_CLEANUP of the real-Kafka half: stops the broker that
# fixture-start.sh started (an external cluster is left alone).
#   fixture-stop.sh FIXTURE_FILE
set -uo pipefail
FILE=${1:?usage: fixture-stop.sh FIXTURE_FILE}
K="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kafka-broker.sh"
[ -r "$FILE" ] || exit 0
MM_TEST_BROKER="" MM_KAFKA_STATE=""
# shellcheck source=/dev/null
source "$FILE"
if [ "$MM_TEST_BROKER" = kafka ] && [ -n "$MM_KAFKA_STATE" ]; then
  "$K" stop "$MM_KAFKA_STATE" && echo "kafka fixture: broker stopped"
fi
rm -f "$FILE"
