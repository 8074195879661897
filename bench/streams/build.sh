#!/usr/bin/env bash
# bench/streams/build.sh OUT_DIR: build the Kafka Streams reference (this directory's pom.xml)
# with Maven into OUT_DIR, unless OUT_DIR holds a build of the same sources (OUT_DIR/.stamp: a
# hash of pom.xml and src/); print its Java class path on stdout. Maven's output goes to
# OUT_DIR.log. The jars come from Maven Central through ~/.m2 (or MM_M2_REPO).
#
# Exit status: 0 built or up to date; 3 it cannot be built here (no mvn or javac, or Maven
# cannot fetch its jars: offline), with one line on stderr saying which; 1 the build failed
# (the end of Maven's log on stderr); 2 usage.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
(($# == 1)) || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
OUT=$1
case $OUT in /*) ;; *) OUT="$PWD/$OUT" ;; esac
LOG="$OUT.log"

cannot() { echo "bench/streams: cannot build the Kafka Streams reference here: $*" >&2; exit 3; }
command -v mvn >/dev/null || cannot "no mvn on PATH (apt-get install maven)"
command -v javac >/dev/null || cannot "no javac on PATH (a JDK 17+: apt-get install default-jdk-headless)"

hash=$(cd "$SRC" && find pom.xml src -type f | LC_ALL=C sort | xargs sha256sum | sha256sum)
hash=${hash%% *}
if [[ ! -f $OUT/.stamp || $(cat "$OUT/.stamp") != "$hash" ]]; then
    echo "bench/streams: building the Kafka Streams reference (Maven) into $OUT ..." >&2
    rm -rf "$OUT"
    mkdir -p "$(dirname "$OUT")"
    args=(-q -B -f "$SRC/pom.xml" package -Dmm.streams.dir="$OUT")
    [[ -n ${MM_M2_REPO:-} ]] && args+=(-Dmaven.repo.local="$MM_M2_REPO")
    if ! mvn "${args[@]}" >"$LOG" 2>&1 </dev/null; then
        # no network and no cached jars: nothing to build with, not a broken build
        if grep -qE 'Could not (resolve|transfer|download)|Unknown host|Non-resolvable|Network is unreachable' "$LOG" &&
            ! grep -q 'COMPILATION ERROR' "$LOG"; then
            cannot "Maven could not fetch its jars (offline?): $(grep -m1 -E 'Could not|Unknown host|Non-resolvable|unreachable' "$LOG" | cut -c1-200)"
        fi
        echo "bench/streams: the build failed (log: $LOG):" >&2
        grep -E 'ERROR' "$LOG" | head -n 20 >&2 || tail -n 20 "$LOG" >&2
        exit 1
    fi
    echo "$hash" >"$OUT/.stamp"
fi
echo "$OUT/mm-streams-bench.jar:$OUT/lib/*"
