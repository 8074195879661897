# Shared helpers of the integration tests: start the development broker,
# drive it with kcat, wait on conditions with a bound, assert with a message.
# Sourced by tests/integration/test_*.sh; MM_BIN names the binary under test.
set -euo pipefail

MM_BIN=${MM_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/micromoment}
MM_SOURCE_DIR=${MM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mm-it.XXXXXX")
BROKER_PID=""
CHECKS=0
FAILS=0

cleanup() {
  local pids
  pids=$(jobs -p 2>/dev/null || true)
  [ -n "$pids" ] && kill $pids 2>/dev/null || true
  [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
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

finish() {
  echo "$((CHECKS - FAILS)) passed, $FAILS failed"
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

# Starts `micromoment broker` with the given arguments; its stdin is a fifo
# (fault commands: broker_ctl), its bootstrap address goes to $BOOTSTRAP.
start_broker() {
  mkfifo "$WORK/broker.ctl"
  "$MM_BIN" broker "$@" <"$WORK/broker.ctl" >"$WORK/broker.out" 2>"$WORK/broker.err" &
  BROKER_PID=$!
  exec 9>"$WORK/broker.ctl"   # keep the fifo open for writing
  wait_for 20 test -s "$WORK/broker.out" || { cat "$WORK/broker.err" >&2; return 1; }
  BOOTSTRAP=$(head -n1 "$WORK/broker.out")
  log "broker at $BOOTSTRAP"
}

# Sends one fault-control command to the broker and waits for its answer.
broker_ctl() {
  local before
  before=$(wc -l <"$WORK/broker.out")
  echo "$*" >&9
  wait_for 10 test "$(wc -l <"$WORK/broker.out")" -gt "$before"
  tail -n1 "$WORK/broker.out"
}

# Produces "key<TAB>value" lines from a file, keyed.
produce_keyed() { # produce_keyed TOPIC FILE
  kcat -b "$BOOTSTRAP" -P -t "$1" -K $'\t' -z none -l "$2"
}

# Reads a whole topic: one line per record (value only), stops at the end.
consume_all() { # consume_all TOPIC [extra kcat args]
  local topic=$1; shift
  kcat -b "$BOOTSTRAP" -C -t "$topic" -o beginning -e -q -u "$@" 2>/dev/null
}
