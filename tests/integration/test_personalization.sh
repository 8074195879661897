#!/usr/bin/env bash
# What a personalization service reads besides single moments (issue 18):
# profiles on their compacted topic and over GET /users/{id}, conversions with
# the moments they are attributed to, per-type routing, late events, and
# per-user state that survives a restart and a kill -9 through the state
# changelog. Every assertion compares with what one uninterrupted run gives.
source "$(dirname "$0")/lib.sh"

T_PROF="$RUN_ID.profiles"
T_CONV="$RUN_ID.conversions"
T_STATE="$RUN_ID.state"
T_LATE="$RUN_ID.late"
T_REF="$RUN_ID.single"
T_UNINT="$RUN_ID.uninterrupted"
T_STATE2="$RUN_ID.state-kill"
T_EOS="$RUN_ID.exactly-once"
T_STATE3="$RUN_ID.state-eos"
T_KILL="$RUN_ID.after-kill"
T_RESTART="$RUN_ID.after-restart"
TYPES=(know go do buy)
start_broker --topic "$T_EVENTS:4" --topic "$T_MOMENTS:4" --topic "$T_DLQ:1" \
  --topic "$T_PROF:4" --topic "$T_CONV:4" --topic "$T_STATE:4" --topic "$T_LATE:1" \
  --topic "$T_REF:4" --topic "$T_UNINT:4" --topic "$T_KILL:4" --topic "$T_RESTART:4" \
  --topic "$T_STATE2:4" --topic "$T_EOS:4" --topic "$T_STATE3:4" \
  --topic "$T_MOMENTS.know:2" --topic "$T_MOMENTS.go:2" --topic "$T_MOMENTS.do:2" \
  --topic "$T_MOMENTS.buy:2"

# The stream: a synthetic clickstream, then (hand-written, keyed) a buy query
# and a purchase with its value for one user, and an event 10 minutes behind
# its partition's newest one.
"$MM_BIN" gen --events 8000 --users 300 --seed 41 --keyed >"$WORK/gen.tsv"
head -n 4000 "$WORK/gen.tsv" >"$WORK/first.tsv"
tail -n +4001 "$WORK/gen.tsv" >"$WORK/second.tsv"
last_ts=$(tail -n1 "$WORK/first.tsv" | cut -f2- | python3 -c 'import json,sys; print(json.load(sys.stdin)["ts"])')
cat >>"$WORK/first.tsv" <<EOF
u-conv	{"event_id":"conv-1","user_id":"u-conv","type":"query","query":"buy running shoes","ts":$((last_ts - 60000)),"lang":"en"}
u-conv	{"event_id":"conv-2","user_id":"u-conv","type":"purchase","ts":$((last_ts - 30000)),"value":89.5,"currency":"EUR"}
u-late	{"event_id":"late-1","user_id":"u-late","type":"query","query":"pizza near me","ts":$((last_ts - 600000)),"lang":"en"}
EOF
cat "$WORK/first.tsv" "$WORK/second.tsv" >"$WORK/all.tsv"
produce_keyed "$T_EVENTS" "$WORK/first.tsv"
n_first=$(lines "$WORK/first.tsv")

FEATURES=(-X mm.profiles=on -X "mm.profiles.topic=$T_PROF" -X mm.conversions=on
          -X "mm.conversions.topic=$T_CONV" -X mm.state.changelog=on
          -X "mm.state.changelog.topic=$T_STATE" -X "mm.late.topic=$T_LATE"
          -X mm.commit.interval.ms=300)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# ---- a live run: profiles, GET /users/{id}, conversions, late events
start_run live "$RUN_ID-live" "${FEATURES[@]}" -X "mm.metrics.listen=127.0.0.1:$port"
metric() { curl -s "http://127.0.0.1:$port/metrics" | sed -n "s/^$1 //p"; }
wait_for 60 bash -c "[ \"\$(curl -s http://127.0.0.1:$port/metrics | sed -n 's/^mm_events_in_total //p')\" = $n_first ]"
check_eq "the live run takes every record in" "$n_first" "$(metric mm_events_in_total)"
check "the log says the features are on" grep -q 'mm.state.changelog: on' "$WORK/live.log"
curl -s -o "$WORK/u-conv.json" -w '%{http_code}' "http://127.0.0.1:$port/users/u-conv" >"$WORK/u-conv.code"
check_eq "GET /users/u-conv answers 200" 200 "$(cat "$WORK/u-conv.code")"
check_eq "its profile: a buy moment, the purchase with value and currency" "buy purchase 89.5 EUR" \
  "$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); c=p["last_conversion"]
print(("buy" if p["last"]["buy"] else "-"), c["type"], c["value"], c["currency"])' "$WORK/u-conv.json")"
code=$(curl -s -o "$WORK/nobody.json" -w '%{http_code}' "http://127.0.0.1:$port/users/nobody-at-all")
check_eq "GET /users/ of an unknown user answers 404" 404 "$code"
check "... saying it is not tracked" grep -q '"tracked":false' "$WORK/nobody.json"
check "late events are counted" test "$(metric mm_late_events_total)" -ge 1
check "conversions are counted by moment" test "$(metric 'mm_conversions_total{moment="buy"}')" -ge 1
stop_run live
check_eq "the live run stops with exit 0" 0 "$RUN_CODE"

consume_all "$T_MOMENTS" >"$WORK/live.moments"
consume_all "$T_CONV" >"$WORK/conv.jsonl"
consume_all "$T_PROF" -K $'\t' >"$WORK/profiles.tsv"
consume_all "$T_LATE" >"$WORK/late.jsonl"
python3 - "$WORK" >"$WORK/verdict" <<'PY'
import json, sys
w = sys.argv[1]
moments = [json.loads(l) for l in open(w + "/live.moments") if l.strip()]
by_id = {m["moment_id"]: m for m in moments}
convs = [json.loads(l) for l in open(w + "/conv.jsonl") if l.strip()]
c = [x for x in convs if x["event_id"] == "conv-2"]
att = c[0]["attributed_to"] if c else []
print("conv_found=%d" % len(c))
print("conv_value=%s %s" % (c[0]["value"], c[0]["currency"]) if c else "conv_value=none")
print("conv_attributed_buy=%d" % sum(1 for a in att if a["moment"] == "buy"
                                     and by_id.get(a["moment_id"], {}).get("event_id") == "conv-1"))
print("attributed_all_known=%s" % all(a["moment_id"] in by_id and by_id[a["moment_id"]]["moment"] == a["moment"]
                                      for x in convs for a in x["attributed_to"]))
print("attributed_before=%s" % all(a["age_ms"] >= 0 for x in convs for a in x["attributed_to"]))
profiles = [l.split("\t", 1) for l in open(w + "/profiles.tsv") if "\t" in l]
print("profiles=%d" % len(profiles))
print("profiles_keyed=%s" % all(json.loads(v)["user_id"] == k for k, v in profiles))
late = [m for m in moments if m["event_id"] == "late-1"]
print("late_flagged=%s" % (bool(late) and late[0].get("late") is True and late[0].get("lateness_ms", 0) >= 540000))
print("late_copies=%d" % sum(1 for l in open(w + "/late.jsonl") if "late-1" in l))
print("others_not_late=%d" % sum(1 for m in moments if m.get("late") and m["event_id"] != "late-1"))
PY
v() { sed -n "s/^$1=//p" "$WORK/verdict"; }
check_eq "the purchase comes out as a conversion" 1 "$(v conv_found)"
check_eq "... with its value and currency" "89.5 EUR" "$(v conv_value)"
check_eq "... attributed to the buy moment of the query before it" 1 "$(v conv_attributed_buy)"
check_eq "every attributed moment_id is a moment of that type" True "$(v attributed_all_known)"
check_eq "attribution looks only backwards" True "$(v attributed_before)"
check "profiles are written" test "$(v profiles)" -gt 0
check_eq "profiles are keyed by user_id" True "$(v profiles_keyed)"
check_eq "the late event's moment says late, with its lateness" True "$(v late_flagged)"
check_eq "the late event is copied to the late topic" 1 "$(v late_copies)"

# ---- per-type routing: each moment in its type's topic, none elsewhere
code=$(run_to_end routed "$RUN_ID-routed" 120 -X mm.output.routing=per-type)
check_eq "a per-type run exits 0" 0 "$code"
single=$(run_to_end single "$RUN_ID-single" 120 -o "$T_REF")
total=0
for t in "${TYPES[@]}"; do
  consume_all "$T_MOMENTS.$t" >"$WORK/routed.$t"
  n=$(lines "$WORK/routed.$t"); total=$((total + n))
  check_eq "per-type: $T_MOMENTS.$t holds only $t moments" 0 \
    "$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["moment"] != sys.argv[2]))' "$WORK/routed.$t" "$t")"
done
check_eq "per-type: as many moments as one topic gets" "$(topic_count "$T_REF")" "$total"

# ---- state survives: a restart, and a kill -9, give the moments of one
# uninterrupted run, which reads the whole stream in one go.
# The kill: a run of its own group (and changelog: state belongs to one
# group's deployment) while the second part arrives in batches, killed part
# way through it, then run to the end.
KILL_FEATURES=("${FEATURES[@]}" -X "mm.state.changelog.topic=$T_STATE2" -o "$T_KILL")
# Exactly-once alike, on a real broker (the development broker has no
# transactional isolation): snapshots in the transactions that commit the
# offsets; the killed run's open transaction is aborted by the broker after
# transaction.timeout.ms (10 s here), and the restore reads only what was
# committed.
EOS_FEATURES=("${FEATURES[@]}" -X mm.delivery=exactly-once -X "mm.state.changelog.topic=$T_STATE3"
              -o "$T_EOS" -X mm.txn.interval.ms=200)
committed() { kcat -b "$BOOTSTRAP" -C -t "$1" -X isolation.level=read_committed -e -q 2>/dev/null | wc -l; }
start_run killed "$RUN_ID-kill" "${KILL_FEATURES[@]}"
is_real && start_run eos "$RUN_ID-eos" "${EOS_FEATURES[@]}"
first_moments=$(topic_count "$T_REF")
wait_for 60 bash -c "[ \$(kcat -b '$BOOTSTRAP' -C -t '$T_KILL' -e -q 2>/dev/null | wc -l) -ge $first_moments ]" || true
is_real && { wait_for 60 bash -c "$(declare -f committed); BOOTSTRAP='$BOOTSTRAP'; [ \$(committed '$T_EOS') -ge $first_moments ]" || true; }
feed "$T_EVENTS" "$WORK/second.tsv" 200 0.3
wait_for 90 bash -c "[ \$(kcat -b '$BOOTSTRAP' -C -t '$T_KILL' -e -q 2>/dev/null | wc -l) -ge $((first_moments + 400)) ]" || true
check "the run to kill is still running" alive killed
kill9_run killed
at_kill=$(topic_count "$T_KILL")
log "killed (kill -9) with $at_kill moments out ($first_moments from the first part)"
if is_real; then
  wait_for 90 bash -c "$(declare -f committed); BOOTSTRAP='$BOOTSTRAP'; [ \$(committed '$T_EOS') -ge $((first_moments + 400)) ]" || true
  check "exactly-once: the run to kill is still running" alive eos
  kill9_run eos
  log "exactly-once: killed (kill -9) with $(committed "$T_EOS") committed moments out"
fi
wait "$FEED_PID"
code=$(run_to_end killed2 "$RUN_ID-kill" 180 "${KILL_FEATURES[@]}")
check_eq "the run after the kill exits 0" 0 "$code"
check "it restored users from the changelog" grep -Eq 'restored [1-9][0-9]* users' "$WORK/killed2.log"
code=$(run_to_end reference "$RUN_ID-reference" 180 -o "$T_UNINT")
check_eq "the uninterrupted run exits 0" 0 "$code"
# The live run committed the first part with its state: the restart restores
# it and goes on from there.
code=$(run_to_end restarted "$RUN_ID-live" 180 "${FEATURES[@]}" -o "$T_RESTART")
check_eq "the restarted run exits 0" 0 "$code"
check "it restored users from the changelog" grep -Eq 'restored [1-9][0-9]* users' "$WORK/restarted.log"

if is_real; then
  code=$(run_to_end eos2 "$RUN_ID-eos" 180 "${EOS_FEATURES[@]}")
  check_eq "exactly-once: the run after the kill exits 0" 0 "$code"
  check "exactly-once: it restored users from the changelog" grep -Eq 'restored [1-9][0-9]* users' "$WORK/eos2.log"
  consume_all "$T_EOS" -X isolation.level=read_committed >"$WORK/eos.jsonl"
else
  skip_part "exactly-once with the changelog: the development broker has no transactional isolation"
fi

consume_all "$T_UNINT" >"$WORK/ref.jsonl"
consume_all "$T_RESTART" >"$WORK/restart.jsonl"
consume_all "$T_KILL" >"$WORK/kill.jsonl"
python3 - "$WORK" "$n_first" >"$WORK/same" <<'PY'
import json, sys
w, n_first = sys.argv[1], int(sys.argv[2])
def load(f):
    d = {}
    for l in open(f):
        if not l.strip():
            continue
        m = json.loads(l)
        m.pop("detected_ts")
        d.setdefault(m["moment_id"], set()).add(json.dumps(m, sort_keys=True))
    return d
ref = load(w + "/ref.jsonl")
import os
names = ["restart", "kill"] + (["eos"] if os.path.exists(w + "/eos.jsonl") else [])
for name in names:
    got = load(w + "/%s.jsonl" % name)
    want = ref
    if name == "restart": # the second part only: the first was committed
        second = {json.loads(l.split("\t", 1)[1])["event_id"] for l in open(w + "/second.tsv")}
        want = {k: v for k, v in ref.items() if json.loads(next(iter(v)))["event_id"] in second}
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    differ = [k for k in want if k in got and got[k] != want[k]]
    print("%s_missing=%d" % (name, len(missing)))
    print("%s_extra=%d" % (name, len(extra)))
    print("%s_differ=%d" % (name, len(differ)))
    print("%s_compared=%d" % (name, len(want)))
    print("%s_copies=%d" % (name, sum(len(open(w + "/%s.jsonl" % name).readlines()) for _ in [0])))
    for k in (missing + differ)[:2]:
        print("  %s: %s\n   got %s" % (name, sorted(want[k])[0][:400], sorted(got.get(k, {"-"}))[0][:400]), file=sys.stderr)
PY
s() { sed -n "s/^$1=//p" "$WORK/same"; }
log "compared: restart $(s restart_compared) moments, kill -9 $(s kill_compared)"
names=(restart kill)
is_real && names+=(eos)
for name in "${names[@]}"; do
  check_eq "$name: no moment of the uninterrupted run is missing" 0 "$(s ${name}_missing)"
  check_eq "$name: no moment the uninterrupted run does not have" 0 "$(s ${name}_extra)"
  check_eq "$name: every moment identical to the uninterrupted run's (detected_ts aside)" 0 "$(s ${name}_differ)"
done
if is_real; then
  check_eq "exactly-once: a read_committed reader sees each moment once" "$(s eos_compared)" "$(s eos_copies)"
fi

finish
