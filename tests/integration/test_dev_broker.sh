#!/usr/bin/env bash
# The development broker (`micromoment broker`), as a new user meets it:
#  1. started with `&` in an interactive shell it keeps running (it reads no
#     stdin unless asked with --control, so the terminal does not stop it
#     with SIGTTIN) and SIGTERM ends it;
#  2. only declared topics exist: a run with a mistyped input topic does not
#     create it; a producer that creates one is warned about and refused
#     from then on;
#  3. --control names stdin or a FIFO, nothing else.
# Development broker only (it is what is tested).
source "$(dirname "$0")/lib.sh"
is_mock || skip_all "this script tests the development broker itself"

# 1. An interactive shell with job control, on a pseudo-terminal (script(1)).
cat >"$WORK/interactive.sh" <<SH
"$MM_BIN" broker --topic events:1 >"$WORK/tty-broker.out" 2>&1 &
for i in \$(seq 50); do [ -s "$WORK/tty-broker.out" ] && break; sleep 0.1; done
sleep 1
jobs -l
sed 's/.*) //' /proc/\$!/stat | cut -c1 >"$WORK/tty-broker.state"
kill -TERM %1
wait %1
echo "exit \$?"
SH
timeout -s KILL 30 script -qec "bash --norc -i '$WORK/interactive.sh'" /dev/null \
  >"$WORK/interactive.out" 2>&1 </dev/null || true
tr -d '\r' <"$WORK/interactive.out" >"$WORK/interactive.txt"
cat "$WORK/interactive.txt" >&2
check "a background broker in an interactive shell is not stopped by the terminal" \
  bash -c "! grep -q 'Stopped' '$WORK/interactive.txt'"
check_eq "its process state is running or sleeping" yes \
  "$(grep -qx '[RS]' "$WORK/tty-broker.state" && echo yes || echo no)"
check "SIGTERM ends it with exit 0" grep -qx 'exit 0' "$WORK/interactive.txt"

# 2. Declared topics only.
start_broker --topic "$T_EVENTS:2" --topic "$T_MOMENTS:2" --topic "$T_DLQ:1"
typo="$RUN_ID.evnets"
"$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-typo" -i "$typo" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" -X mm.metrics.listen=127.0.0.1:0 --exit-on-eof \
  2>"$WORK/typo.log" &
typo_pid=$!
wait_for 20 grep -q "$typo" "$WORK/typo.log" || true
sleep 2 # several metadata rounds of the consumer
kill -TERM "$typo_pid" 2>/dev/null || true
wait "$typo_pid" 2>/dev/null || true
kcat -b "$BOOTSTRAP" -L -m 5 >"$WORK/topics.txt" 2>&1
check "the run's consumer asked for the mistyped topic" grep -q "$typo" "$WORK/typo.log"
check "a mistyped input topic is not created" bash -c "! grep -qF '\"$typo\"' '$WORK/topics.txt'"
check "the declared topics are there" grep -qF "\"$T_EVENTS\" with 2 partitions" "$WORK/topics.txt"

ALLOW_UNDECLARED_TOPICS=1
stray="$RUN_ID.stray"
echo '{"user_id":"u1","type":"query","query":"buy shoes"}' |
  kcat -b "$BOOTSTRAP" -P -t "$stray" -X message.timeout.ms=5000 2>/dev/null || true
wait_for 10 grep -q "'$stray'" "$WORK/broker.err" || true
check "a producer's stray topic is warned about, by name" \
  grep -q "created topic '$stray', which was not declared" "$WORK/broker.err"
kcat -b "$BOOTSTRAP" -L -t "$stray" -m 5 >"$WORK/stray.txt" 2>&1 || true
check "the stray topic answers UNKNOWN_TOPIC_OR_PART afterwards" \
  grep -q "Unknown topic or partition" "$WORK/stray.txt"
code=0
echo 'again' | kcat -b "$BOOTSTRAP" -P -t "$stray" -X message.timeout.ms=3000 \
  >/dev/null 2>&1 || code=$?
check_eq "a second produce to it fails" 1 "$code"

# 3. --control takes stdin or a FIFO.
code=0
timeout 10 "$MM_BIN" broker --control /dev/null >"$WORK/ctl.out" 2>"$WORK/ctl.err" || code=$?
check_eq "--control with a file that is not a FIFO exits 2" 2 "$code"
check "and says why" grep -q "not a FIFO" "$WORK/ctl.err"
printf 'topic %s 3\nbogus\n' "$RUN_ID.ctl" |
  timeout 10 "$MM_BIN" broker --control stdin >"$WORK/stdin.out" 2>&1 &
stdin_pid=$!
wait_for 10 bash -c "[ \$(wc -l <'$WORK/stdin.out') -ge 3 ]" || true
kill -TERM "$stdin_pid" 2>/dev/null || true
wait "$stdin_pid" 2>/dev/null || true
check_eq "--control stdin: a command is answered ok" ok "$(sed -n 2p "$WORK/stdin.out")"
check "--control stdin: an unknown one is an error" grep -q "^error: unknown command 'bogus'" "$WORK/stdin.out"

finish
