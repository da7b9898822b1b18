#!/usr/bin/env bash
# A second concurrent writer gets "store is locked by pid N (`COMMAND`, since T)" with what to do (wait
# for an index; let a `serve --watch` re-index, or stop it); readers still work.
source "$(dirname "$0")/lib.sh"
SRC=/usr/lib/python3.11
mkdir -p "$WORK/corpus"
for d in email json http urllib logging asyncio; do cp -r "$SRC/$d" "$WORK/corpus/"; done
make_tree "$WORK/small"
run_expect 0 "$SH" --store "$WORK/store" index "$WORK/small" --collection small

"$SH" --store "$WORK/store" index "$WORK/corpus" --collection corpus >/dev/null 2>&1 &
pid=$!
# Wait until the first writer holds the lock (its pid is in the LOCK file).
for _ in $(seq 1 100); do
    grep -q "$pid" "$WORK/store/LOCK" 2>/dev/null && break
    sleep 0.05
done
run_expect 4 "$SH" --store "$WORK/store" index "$WORK/small" --collection small
assert_contains "$ERR" "locked by pid $pid" "second writer"
pass "second writer refused: $ERR"

run_expect 0 "$SH" --store "$WORK/store" search "split a url" --collection small --json
pass "reader works while the writer runs"
wait "$pid"
run_expect 0 "$SH" --store "$WORK/store" index "$WORK/small" --collection small
pass "lock released after the writer exits"

# The lock names its holder: the command and since when (issue 20, item 9).
# (corpus2 is a second collection of the same tree: --allow-overlap, else index refuses the duplicate.)
"$SH" --store "$WORK/store" index "$WORK/corpus" --collection corpus2 --allow-overlap >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    grep -q "^command: " "$WORK/store/LOCK" 2>/dev/null && grep -q "^$pid$" "$WORK/store/LOCK" && break
    sleep 0.05
done
run_expect 4 "$SH" --store "$WORK/store" index "$WORK/small" --collection small
assert_contains "$ERR" "locked by pid $pid (\`signal-hub --store $WORK/store index $WORK/corpus" "the index holder"
assert_contains "$ERR" ", since 20" "since when"
assert_contains "$ERR" "wait for it to finish" "advice for an index"
wait "$pid"
pass "an index holding the lock is named: $ERR"

# `serve --watch` holds the lock for as long as it runs: `index` is told so, and what to do.
"$SH" --store "$WORK/store" serve --transport http --port 0 --watch --root "$WORK/small" \
    >"$WORK/watch.out" 2>"$WORK/watch.err" &
spid=$!
wait_for_address "$spid" "$WORK/watch.err"
run_expect 4 "$SH" --store "$WORK/store" index "$WORK/small" --collection small
assert_contains "$ERR" "locked by pid $spid (\`signal-hub serve --watch\`, since 20" "the serve holder"
assert_contains "$ERR" "let it re-index for you" "advice for a watching server"
assert_contains "$ERR" "or stop it (pid $spid)" "how to stop it"
grep -q "wait for it to finish" <<<"$ERR" && fail "a watching server never finishes: $ERR"
HELD="$ERR"
kill -TERM "$spid"
set +e; wait "$spid"; rc=$?; set -e
[ "$rc" -eq 0 ] || fail "serve --watch exited $rc: $(cat "$WORK/watch.err")"
run_expect 0 "$SH" --store "$WORK/store" index "$WORK/small" --collection small
pass "serve --watch holding the store is named, with what to do: $HELD"
