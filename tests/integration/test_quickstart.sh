#!/usr/bin/env bash
# A new user's first hour, as the README tells it:
#  1. the README's manual flow, typed into an interactive shell (job control,
#     a terminal): the broker started with & keeps running, every step ends,
#     `kcat ... -c 10` prints 10 moments and no "Broken pipe", the dead
#     letter is there;
#  2. `make build` (what `make demo` runs before the demo) prints one line on
#     an up-to-date tree, not make's and the compiler's progress;
#  3. a skipped test is listed with its reason (scripts/ctest-skips.py, the
#     end of `make test`);
#  4. scripts/install-deps.sh covers what a minimal Debian 12 lacks and the
#     tests and packaging use (file for CPack's DEB generator, ...).
# Development broker only (its own); 2 needs a RelWithDebInfo build tree.
source "$(dirname "$0")/lib.sh"
is_mock || skip_all "the quick start uses its own development broker; it runs in integration.mock.$TEST_NAME"
SRC=$MM_SOURCE_DIR

# 1. The manual flow, from the README's code block, run as typed.
python3 - "$SRC/README.md" >"$WORK/flow.sh" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
sec = text.split("## The manual flow, step by step", 1)[1]
block = re.search(r"```sh\n(.*?)```", sec, re.S).group(1)
print(block)
PY
check "the README has a manual flow" grep -q 'micromoment broker' "$WORK/flow.sh"
check "it reads moments with kcat -c, not through head" \
  bash -c "grep -q 'kcat .*-C -t micro-moments .*-c 10' '$WORK/flow.sh' && ! grep -q '| *head' '$WORK/flow.sh'"
# As typed, with three substitutions: the binary under test, the address the
# broker printed (the README shows an example one), no rebuild.
{
  echo "set -m"
  sed -e "s|^make build$|: make build|" \
      -e "s|build/micromoment|'$MM_BIN'|g" \
      -e "s|^\(.*micromoment' broker .*\) &\$|\1 >'$WORK/flow-broker.out' \&|" \
      -e "s|^B=.*|for i in \$(seq 100); do [ -s '$WORK/flow-broker.out' ] \&\& break; sleep 0.1; done; B=\$(head -n1 '$WORK/flow-broker.out'); sleep 1; jobs -l %1|" \
      "$WORK/flow.sh"
  echo 'jobs -l'
  echo 'wait; echo "flow done"'
} >"$WORK/flow-typed.sh"
cat "$WORK/flow-typed.sh" >&2
(cd "$WORK" && timeout -s KILL 120 script -qec "bash --norc -i '$WORK/flow-typed.sh'" /dev/null \
  </dev/null >"$WORK/flow.out" 2>&1) || true
tr -d '\r' <"$WORK/flow.out" >"$WORK/flow.txt"
tail -n 30 "$WORK/flow.txt" >&2
check "the broker was not stopped by the terminal" bash -c "! grep -q 'Stopped' '$WORK/flow.txt'"
check "no Broken pipe" bash -c "! grep -qi 'broken pipe' '$WORK/flow.txt'"
check_eq "kcat -c 10 printed 10 moments" 10 "$(grep -c '^{"moment_id"' "$WORK/flow.txt" || true)"
check "the bad record is a dead letter with its code" grep -q 'mm.error.code=bad_json' "$WORK/flow.txt"
check "every step ended and the broker with kill %1" grep -qx 'flow done' "$WORK/flow.txt"

# 2. A quiet build.
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$MM_BUILD_DIR/CMakeCache.txt")
if [ "$build_type" = RelWithDebInfo ] && grep -q '^MM_SANITIZE:BOOL=OFF' "$MM_BUILD_DIR/CMakeCache.txt"; then
  make -s -C "$SRC" build BUILD="$MM_BUILD_DIR" JOBS=2 >"$WORK/make.out" 2>&1 || true
  cat "$WORK/make.out" >&2
  check_eq "make build on an up-to-date tree prints one line" 1 "$(wc -l <"$WORK/make.out")"
  check "and that line says what was built" grep -q '^built .*micromoment' "$WORK/make.out"
else
  skip_part "the quiet-build check: $MM_BUILD_DIR is a $build_type build (it runs on make test's RelWithDebInfo tree)"
fi

# 3. Skipped tests are listed with their reasons.
mkdir -p "$WORK/skips"
cat >"$WORK/skips/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(skips NONE)
enable_testing()
add_test(NAME a.skipped COMMAND sh -c "echo noise; echo 'SKIP (mock broker): needs a real Kafka'; exit 77")
set_tests_properties(a.skipped PROPERTIES SKIP_RETURN_CODE 77)
add_test(NAME b.runs COMMAND sh -c "echo fine")
CM
(cmake -S "$WORK/skips" -B "$WORK/skips/b" >/dev/null &&
  cd "$WORK/skips/b" && ctest --output-junit junit.xml >/dev/null 2>&1) || true
python3 "$SRC/scripts/ctest-skips.py" "$WORK/skips/b/junit.xml" >"$WORK/skips.out" 2>&1 || true
cat "$WORK/skips.out" >&2
check "a skipped test is listed with its reason" \
  grep -qx '  a.skipped: SKIP (mock broker): needs a real Kafka' "$WORK/skips.out"
check "a test that ran is not" bash -c "! grep -q b.runs '$WORK/skips.out'"

# 4. What a minimal Debian 12 lacks and the project uses, by package.
MM_DEPS_LIST=1 MM_DEPS_TEST=1 "$SRC/scripts/install-deps.sh" >"$WORK/deps.txt"
for need in file:cpack-deb kcat:tests python3:tests openssl:registry-tls lintian:deb jq:packaging \
  dpkg-dev:shlibdeps groff-base:man man-db:man build-essential:compiler cmake:build \
  pkg-config:build default-jre-headless:kafka maven:kafka clang:fuzz; do
  check "install-deps installs ${need%%:*} (${need#*:})" grep -qx "${need%%:*}" "$WORK/deps.txt"
done
finish
