#!/usr/bin/env bash
# The documentation is true and the repository self-contained:
#  1. docs/events.md: its field tables list exactly the fields of
#     schemas/event.avsc and schemas/moment.avsc; its journey, run through
#     `micromoment classify`, gives the moments its table says and no error;
#     its example moment has exactly the output's fields; each bad record in
#     its dead-letter table gets the code the table names.
#  2. No file cites or reads a path outside the repository (the design brief
#     the project started from lives outside it). tests/unit/test_quality.c
#     and its MM_SHARED_DIR are being moved into the repository elsewhere.
# No broker: runs in integration.mock.test_docs only.
source "$(dirname "$0")/lib.sh"
is_mock || skip_all "checks files only; it runs in integration.mock.$TEST_NAME"
SRC=$MM_SOURCE_DIR
DOC=$SRC/docs/events.md
check "docs/events.md exists" test -s "$DOC"
check "docs/design.md exists" test -s "$SRC/docs/design.md"
[ -s "$DOC" ] || finish

python3 - "$DOC" "$SRC/schemas/event.avsc" "$SRC/schemas/moment.avsc" "$WORK" <<'PY' >"$WORK/doc.verdict"
import json, re, sys
doc, event_avsc, moment_avsc, work = sys.argv[1:]
text = open(doc).read()
def section(title):
    m = re.search(r"^## " + re.escape(title) + r".*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    return m.group(1) if m else ""
def table_fields(sec):  # first column of table rows: `a`, `b` -> a, b
    out = set()
    for row in re.findall(r"^\| (`[^|]*) \|", sec, re.M):
        out.update(re.findall(r"`([a-z_]+)`", row))
    return out
def block(tag):
    m = re.search(r"^```" + tag + r"\n(.*?)^```", text, re.M | re.S)
    return m.group(1) if m else ""
ev_fields = {f["name"] for f in json.load(open(event_avsc))["fields"]}
mo_fields = {f["name"] for f in json.load(open(moment_avsc))["fields"]}
print("input_fields=%s" % (table_fields(section("Input")) == ev_fields))
print("output_fields=%s" % (table_fields(section("Output")) == mo_fields))
example = json.loads(block("json moment"))
only_late = {"late", "lateness_ms"}  # present only on a late event's moment
print("example_fields=%s" % (set(example) == mo_fields - only_late))
open(work + "/journey.jsonl", "w").write(block("jsonl events"))
# | `e-2` | buy | why |
want = dict(re.findall(r"^\| `(e-\d+)` \| (know|go|do|buy) \|", section("Input"), re.M))
open(work + "/journey.want", "w").write("".join("%s %s\n" % kv for kv in sorted(want.items())))
types = {json.loads(l)["type"] for l in block("jsonl events").splitlines() if l.strip()}
print("journey_types=%d" % len(types))
# | mistake | `record` | `code` |  (rows whose example is a literal record)
bad = re.findall(r"^\|[^|]*\| `([^`]+)` \| `([a-z_]+)` \|$", section("Dead letters"), re.M)
open(work + "/bad.tsv", "w").write("".join("%s\t%s\n" % (code, rec) for rec, code in bad))
print("bad_rows=%d" % len(bad))
PY
dv() { sed -n "s/^$1=//p" "$WORK/doc.verdict"; }
check_eq "the input table lists exactly schemas/event.avsc's fields" True "$(dv input_fields)"
check_eq "the output table lists exactly schemas/moment.avsc's fields" True "$(dv output_fields)"
check_eq "the example moment has exactly the output's fields (late ones aside)" True "$(dv example_fields)"
check_eq "the journey has one event of each of the 8 types" 8 "$(dv journey_types)"
"$MM_BIN" classify <"$WORK/journey.jsonl" >"$WORK/journey.out" 2>"$WORK/journey.err"
check_eq "the journey has no bad record" 0 "$(wc -l <"$WORK/journey.err")"
python3 -c 'import json,sys; [print(m["event_id"], m["moment"]) for m in map(json.loads, sys.stdin)]' \
  <"$WORK/journey.out" | sort >"$WORK/journey.got"
check_eq "the journey gives the moments the table says" "$(cat "$WORK/journey.want")" "$(cat "$WORK/journey.got")"
check "the dead-letter table has example records" test "$(dv bad_rows)" -ge 10
while IFS=$'\t' read -r code record; do
  got=$(printf '%s\n' "$record" | "$MM_BIN" classify 2>&1 >/dev/null |
    python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["error"])' 2>/dev/null || echo none)
  check_eq "dead letter '${record:0:40}'" "$code" "$got"
done <"$WORK/bad.tsv"

# 2. Self-contained.
cd "$SRC"
git ls-files -z 2>/dev/null | xargs -0 grep -lE 'DESIGN\.md|\.\./shared|/work/shared' 2>/dev/null |
  grep -vxE 'tests/unit/test_quality\.c|tests/CMakeLists\.txt|tests/integration/test_docs\.sh' >"$WORK/outside.txt" || true
grep -nE '\.\./shared' tests/CMakeLists.txt | grep -v 'MM_SHARED_DIR=' >>"$WORK/outside.txt" || true
check_eq "no file cites a path outside the repository" "" "$(cat "$WORK/outside.txt")"
finish
