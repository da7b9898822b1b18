#!/usr/bin/env bash
# A second concurrent writer gets "store is locked by pid N"; readers still work.
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
