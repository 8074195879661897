#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) into build-fuzz/ and runs
# each for FUZZ_SECONDS (default 60) on a copy of its seed corpus, so the
# committed corpus only changes by hand. A crash leaves its reproducer in
# build-fuzz/artifacts/<target>/ and makes this script exit 1; copy it to
# fuzz/regressions/<target>/ with the fix, where every later run replays it.
#   FUZZ_SECONDS=20 fuzz/run.sh              every target, 20 s each
#   FUZZ_TARGETS="fuzz_avro_decode" fuzz/run.sh
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${FUZZ_BUILD:-$SRC/build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-fuzz_json_decode fuzz_avro_decode fuzz_classify}
CC_FUZZ=${CC_FUZZ:-clang}

command -v "$CC_FUZZ" >/dev/null || { echo "fuzz: $CC_FUZZ not found (apt-get install clang)" >&2; exit 2; }
cmake -S "$SRC/fuzz" -B "$BUILD" -DCMAKE_C_COMPILER="$CC_FUZZ" -DCMAKE_BUILD_TYPE= >/dev/null
cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)" -- $TARGETS >/dev/null

status=0
for t in $TARGETS; do
  work="$BUILD/corpus/$t" art="$BUILD/artifacts/$t"
  mkdir -p "$work" "$art"
  cp -n "$SRC/fuzz/corpus/$t/"* "$work/" 2>/dev/null || true
  # Replay the reproducers of fixed bugs first: each must pass.
  if compgen -G "$SRC/fuzz/regressions/$t/*" >/dev/null; then
    if ! "$BUILD/$t" -runs=0 "$SRC/fuzz/regressions/$t/"* >"$BUILD/$t.regress.log" 2>&1; then
      echo "fuzz: $t fails a regression input (see $BUILD/$t.regress.log)" >&2
      status=1
      continue
    fi
  fi
  log="$BUILD/$t.log"
  if "$BUILD/$t" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/" \
       "$work" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    echo "fuzz: $t ok, ${SECONDS_EACH}s, ${execs:-?} executions"
  else
    echo "fuzz: $t FAILED, reproducer in $art/ (log: $log)" >&2
    grep -m1 -A12 'ERROR:\|runtime error' "$log" >&2 || tail -n 20 "$log" >&2
    status=1
  fi
done
exit $status
