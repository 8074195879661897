#!/usr/bin/env bash
# `micromoment eval` and `classify --compare`: what a user tuning lexicons
# runs. Needs no broker.
source "$(dirname "$0")/lib.sh"

expect_exit() { # expect_exit WHAT CODE NEEDLE ARGS...
  local what=$1 want=$2 needle=$3; shift 3
  local code=0
  "$MM_BIN" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null || code=$?
  check_eq "$what exits $want" "$want" "$code"
  check "$what names '$needle'" grep -qF -- "$needle" "$WORK/err"
}

# ---- eval
"$MM_BIN" eval --help >"$WORK/help" 2>&1
check_eq "eval --help exits 0" 0 $?
check "eval --help prints usage" grep -q "usage: micromoment eval" "$WORK/help"
expect_exit "eval without --labels" 2 "--labels" eval
expect_exit "eval --by region" 2 "--by region" eval --labels x.tsv --by region
expect_exit "eval with an unknown key" 2 "mm.nope" eval --labels x.tsv -X mm.nope=1
expect_exit "eval of a missing file" 1 "nope.tsv" eval --labels "$WORK/nope.tsv"
printf 'query\tlabel\nhow to tie a tie\tdo\nfacebook\tmaybe\n' >"$WORK/bad.tsv"
expect_exit "eval of an unknown label" 1 "bad.tsv:3" eval --labels "$WORK/bad.tsv"
printf 'text\tlabel\nfacebook\tnone\n' >"$WORK/nohead.tsv"
expect_exit "eval without a query column" 1 "nohead.tsv:1" eval --labels "$WORK/nohead.tsv"

# Six rows whose moments the shipped lexicons give for certain; the last is
# labelled know on purpose, so one row is wrong: gold know, predicted none.
cat >"$WORK/labels.tsv" <<'EOF'
# a comment line
query	lang	label	note
how to tie a tie	en	do	x
pharmacy near me	en	go	x
køb løbesko	da	buy	x
what is inflation	en	know	x
facebook	en	none	x
youtube	da	know	x
EOF
"$MM_BIN" eval --labels "$WORK/labels.tsv" --by lang >"$WORK/eval.out" 2>"$WORK/eval.err"
check_eq "eval exits 0" 0 $?
check "eval counts every row" grep -q '^all: 6 rows' "$WORK/eval.out"
# all, then the first matrix row (gold know): 1 know, 0, 0, 0, 1 none
check_eq "eval confusion row of know" "know 1 0 0 0 1" \
  "$(awk '/^all:/{a=1} a && $1=="know" && NF==6 {print $1,$2,$3,$4,$5,$6; exit}' "$WORK/eval.out")"
check_eq "eval none precision" "0.500" \
  "$(awk '/^all:/{a=1} a && $1=="none" && NF==5 {print $2; exit}' "$WORK/eval.out")"
check "eval prints macro-F1" grep -q 'macro-F1 0\.[0-9][0-9][0-9]' "$WORK/eval.out"
check "eval --by lang has en" grep -q '^en: 4 rows' "$WORK/eval.out"
check "eval --by lang has da" grep -q '^da: 2 rows' "$WORK/eval.out"
"$MM_BIN" eval --labels - --no-hint <"$WORK/labels.tsv" >"$WORK/nohint.out"
check_eq "eval reads stdin without the hint" 0 $?
check "eval says the hint is not used" grep -q 'language hint not used' "$WORK/nohint.out"

# ---- classify --compare
expect_exit "compare without --lexicon-dir" 2 "--lexicon-dir" classify --compare
expect_exit "lexicon-dir without --compare" 2 "--compare" classify --lexicon-dir "$WORK"
expect_exit "compare with --explain" 2 "--explain" \
  classify --compare --lexicon-dir "$WORK" --explain
expect_exit "compare --examples abc" 2 "--examples" \
  classify --compare --lexicon-dir "$WORK" --examples abc
expect_exit "compare with lexicons that do not load" 1 "$WORK/none" \
  classify --compare --lexicon-dir "$WORK/none"

# B is the shipped lexicons without the row that makes "facebook" a site.
mkdir "$WORK/lexb"
cp "$MM_SOURCE_DIR"/lexicons/*.tsv "$WORK/lexb/"
sed -i '/^facebook\t/d' "$WORK/lexb/en.tsv"
{
  printf '%s\n' '{"user_id":"a","type":"query","query":"how to tie a tie"}'
  printf '%s\n' '{"user_id":"b","type":"query","query":"facebook"}'
  printf '%s\n' 'not json'
  printf '%s\n' '{"user_id":"c","type":"query","query":"pharmacy near me"}'
} >"$WORK/events.jsonl"
"$MM_BIN" classify --compare --lexicon-dir "$WORK/lexb" <"$WORK/events.jsonl" \
  >"$WORK/cmp.out" 2>"$WORK/cmp.err"
check_eq "compare exits 0" 0 $?
check "compare counts events and skipped records" \
  grep -q '^events 3 (records that are not events, skipped: 1)' "$WORK/cmp.out"
check "compare counts moments of A" grep -q '^A .*: 2 moments' "$WORK/cmp.out"
check "compare counts moments of B" grep -q '^B .*lexb: 3 moments' "$WORK/cmp.out"
check "compare counts changed events" grep -q '^changed: 1 events' "$WORK/cmp.out"
check "compare shows the changed event" grep -q '"facebook": none -> know' "$WORK/cmp.out"
check_eq "compare transition none -> know" "none 1 0 0 0 0" \
  "$(awk '$1=="none" && NF==6 {print $1,$2,$3,$4,$5,$6}' "$WORK/cmp.out")"

finish
