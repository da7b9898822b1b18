#!/usr/bin/env bash
# kill -9 during `index`, then `index` again: the store opens and holds exactly
# what an uninterrupted run produces.
source "$(dirname "$0")/lib.sh"
# A corpus big enough to take a while: a copy of part of the Python stdlib.
SRC=/usr/lib/python3.11
[ -d "$SRC" ] || fail "$SRC missing (install python3.11)"
mkdir -p "$WORK/corpus"
for d in email json http urllib logging asyncio xml multiprocessing concurrent; do
    cp -r "$SRC/$d" "$WORK/corpus/"
done
find "$WORK/corpus" -name __pycache__ -prune -exec rm -rf {} +

# Reference: an uninterrupted run.
run_expect 0 "$SH" --store "$WORK/ref" index "$WORK/corpus" --collection corpus
want="$(record_count "$WORK/ref")"
[ "$want" -gt 1000 ] || fail "reference run too small ($want records)"

# Interrupted runs: kill -9 at several points, then finish.
for delay in 0.3 1 2; do
    "$SH" --store "$WORK/crash" index "$WORK/corpus" --collection corpus >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    # The store opens after every kill; or, killed before its schema was committed (on a loaded
    # machine the first run can take longer than the delay to get there), it holds no index yet and
    # says so (exit 3). Anything else, a corrupt store above all, fails.
    if [ -d "$WORK/crash" ]; then
        set +e
        "$SH" --store "$WORK/crash" status --json >"$WORK/.out" 2>"$WORK/.err"
        rc=$?
        set -e
        case "$rc" in
            0) ;;
            3) assert_contains "$(cat "$WORK/.err")" "no index at" "status of a store killed before its schema" ;;
            *) fail "status after kill -9 at ${delay}s: exit $rc: $(cat "$WORK/.err")" ;;
        esac
    fi
done
run_expect 0 "$SH" --store "$WORK/crash" index "$WORK/corpus" --collection corpus
got="$(record_count "$WORK/crash")"
[ "$got" = "$want" ] || fail "after kill -9 and resume: $got records, uninterrupted run has $want"
pass "kill -9 then resume: $got records == $want"

# And it holds the same data: BM25 rankings are deterministic functions of the
# stored documents, so equal stores rank equally. (Vector rankings come from
# HNSW graphs built in a different order and may legitimately differ.)
same_lexical_answers() {
    for q in "parse an email address" "encode a python object as JSON" "start an HTTP server"; do
        a="$("$SH" --store "$WORK/ref" search "$q" --json -k 10 --mode lexical)"
        b="$("$SH" --store "$WORK/crash" search "$q" --json -k 10 --mode lexical)"
        ida="$(json_get "$a" "[r['id'] for r in d['results']]")"
        idb="$(json_get "$b" "[r['id'] for r in d['results']]")"
        [ "$ida" = "$idb" ] || fail "results differ for '$q' ($1): $ida vs $idb"
    done
}
same_lexical_answers "after kill -9 and resume"
pass "resumed store answers like the uninterrupted one"
# The lexical index is derived data (ADR-28): deleted, a search rebuilds it (in memory, read-only),
# and the next writer on disk; the answers stay the same.
[ -d "$WORK/crash/lexical" ] || fail "no lexical index directory in $WORK/crash"
rm -rf "$WORK/crash/lexical"
same_lexical_answers "lexical index deleted"
run_expect 0 "$SH" --store "$WORK/crash" index "$WORK/corpus" --collection corpus
[ -d "$WORK/crash/lexical" ] || fail "the writer did not rebuild the lexical index"
same_lexical_answers "lexical index rebuilt by the writer"
pass "a deleted lexical index is rebuilt with the same answers"

# A run interrupted with SIGINT says how to resume and exits 130.
"$SH" --store "$WORK/int" index "$WORK/corpus" --collection corpus >"$WORK/int.out" 2>"$WORK/int.err" &
pid=$!
sleep 1
kill -INT "$pid"
set +e; wait "$pid"; rc=$?; set -e
if [ "$rc" -ne 0 ]; then
    [ "$rc" -eq 130 ] || fail "SIGINT exit code $rc, want 130"
    assert_contains "$(cat "$WORK/int.err")" "run \`index\` again" "resume hint"
fi
run_expect 0 "$SH" --store "$WORK/int" index "$WORK/corpus" --collection corpus
[ "$(record_count "$WORK/int")" = "$want" ] || fail "after SIGINT and resume: wrong count"
pass "SIGINT: exit 130 with a hint, resume completes"
