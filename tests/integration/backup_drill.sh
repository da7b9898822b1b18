#!/usr/bin/env bash
# signal-hub backup drill DIR: the newest archive restored into a scratch directory, checked and queried.
#  - index, backup create, drill passes: counts, consistency, every query of the seeded set finds its
#    record; the --metrics-file holds success 1, the records, the queries, a success timestamp; the
#    scratch directory is gone afterwards;
#  - a second, newer archive with a flipped byte: the drill picks it, fails (exit 7, names it), the
#    metrics say failed and keep the first drill's success timestamp; scratch removed;
#  - an empty DIR: exit 3, "no backup archives"; a missing DIR: exit 3;
#  - the drill block of docs/production/operations/backup-restore.md, extracted and run as written;
#  - retention: backup create DIR --keep 2, three times, leaves the newest 2 archives (a non-archive kept).
source "$(dirname "$0")/lib.sh"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
SRC=/usr/lib/python3.11
[ -d "$SRC" ] || fail "$SRC missing (install python3.11)"
STORE="$WORK/.signal-hub"
mkdir -p "$WORK/corpus" "$WORK/backups" "$WORK/scratch" "$WORK/empty"
for d in email json; do cp -r "$SRC/$d" "$WORK/corpus/"; done
find "$WORK/corpus" -name __pycache__ -prune -exec rm -rf {} +
run_expect 0 "$SH" --store "$STORE" index "$WORK/corpus" --collection corpus
mkdir -p "$WORK/corpus2" && cp -r "$SRC/logging" "$WORK/corpus2/"
find "$WORK/corpus2" -name __pycache__ -prune -exec rm -rf {} +
run_expect 0 "$SH" --store "$STORE" index "$WORK/corpus2" --collection logs
records="$(record_count "$STORE")"
pass "indexed $records records in two collections"

run_expect 0 "$SH" --store "$STORE" backup create "$WORK/backups"
first="$(ls "$WORK/backups"/*.tar.zst)"

# --- a passing drill ------------------------------------------------------------------------------------
PROM="$WORK/signal_hub_backup_drill.prom"
run_expect 0 "$SH" backup drill "$WORK/backups" --metrics-file "$PROM" --scratch "$WORK/scratch" --json
[ "$(json_get "$OUT" "d['ok']")" = True ] || fail "drill not ok: $OUT"
[ "$(json_get "$OUT" "d['archive']")" = "$first" ] || fail "drilled $(json_get "$OUT" "d['archive']"), want $first"
[ "$(json_get "$OUT" "d['records_restored']")" = "$records" ] || fail "restored $(json_get "$OUT" "d['records_restored']"), want $records"
[ "$(json_get "$OUT" "d['consistent']")" = True ] || fail "consistency: $OUT"
queries="$(json_get "$OUT" "d['queries']")"
# 3 records per collection, 2 queries each, in both collections.
[ "$queries" = 12 ] || fail "want 12 queries (3 records x 2 kinds x 2 collections), got $queries: $OUT"
[ "$(json_get "$OUT" "d['queries_passed']")" = 12 ] || fail "queries failed: $OUT"
[ "$(json_get "$OUT" "sorted({q['collection'] for q in d['query_results']})")" = "['corpus', 'logs']" ] ||
    fail "queries do not cover both collections: $OUT"
[ "$(json_get "$OUT" "all(1 <= q['rank'] <= 10 for q in d['query_results'])")" = True ] || fail "ranks: $OUT"
[ "$(json_get "$OUT" "any(q['kind'] == 'symbol' for q in d['query_results'])")" = True ] || fail "no symbol query: $OUT"
restore_s="$(json_get "$OUT" "d['restore_seconds']")"
ids1="$(json_get "$OUT" "[q['record'] for q in d['query_results']]")"
[ -z "$(ls -A "$WORK/scratch")" ] || fail "scratch directory left behind: $(ls -A "$WORK/scratch")"
prom="$(cat "$PROM")"
assert_contains "$prom" "signal_hub_backup_drill_success{source=\"embedded\"} 1" "metrics: success"
assert_contains "$prom" "signal_hub_backup_drill_records{source=\"embedded\"} $records" "metrics: records"
assert_contains "$prom" "signal_hub_backup_drill_queries_passed{source=\"embedded\"} 12" "metrics: queries passed"
assert_contains "$prom" "signal_hub_backup_drill_restore_duration_seconds{source=\"embedded\"}" "metrics: restore time"
success_ts="$(grep '^signal_hub_backup_drill_last_success_timestamp_seconds{source="embedded"} ' "$PROM" | cut -d' ' -f2)"
now="$(date +%s)"
python3 -c "import sys; t=float('$success_ts'); sys.exit(0 if $now - 120 <= t <= $now + 5 else 1)" ||
    fail "success timestamp $success_ts is not now ($now)"
pass "drill passed: $records records restored in ${restore_s}s, 12/12 queries, metrics written"

# The text report, and the same query set for the same content (seeded).
run_expect 0 "$SH" backup drill "$WORK/backups" --scratch "$WORK/scratch"
assert_contains "$OUT" "queries: 12 of 12 passed" "text report"
assert_contains "$OUT" "PASSED" "text report verdict"
run_expect 0 "$SH" backup drill "$WORK/backups" --scratch "$WORK/scratch" --json
[ "$(json_get "$OUT" "[q['record'] for q in d['query_results']]")" = "$ids1" ] || fail "the query set changed between runs"
pass "text report; the seeded query set is the same on every run"

# --- a tampered newest archive --------------------------------------------------------------------------
sleep 1  # a newer creation time (seconds) than the first archive
run_expect 0 "$SH" --store "$STORE" backup create "$WORK/backups/newer.tar.zst"
python3 - "$WORK/backups/newer.tar.zst" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x01
open(p, "wb").write(bytes(b))
EOF
run_expect 7 "$SH" backup drill "$WORK/backups" --metrics-file "$PROM" --scratch "$WORK/scratch"
assert_contains "$ERR" "backup drill of $WORK/backups/newer.tar.zst" "the failure names the archive"
assert_contains "$ERR" "is damaged" "the failure says why"
[ -z "$(ls -A "$WORK/scratch")" ] || fail "failed drill left scratch files: $(ls -A "$WORK/scratch")"
prom="$(cat "$PROM")"
assert_contains "$prom" "signal_hub_backup_drill_success{source=\"embedded\"} 0" "metrics: failed"
assert_contains "$prom" "signal_hub_backup_drill_last_success_timestamp_seconds{source=\"embedded\"} $success_ts" \
    "metrics keep the last success"
assert_contains "$prom" "signal_hub_backup_drill_records{source=\"embedded\"} 0" "metrics: nothing restored"
run_expect 7 "$SH" backup drill "$WORK/backups" --json --scratch "$WORK/scratch"
[ "$(json_get "$OUT" "d['ok']")" = False ] || fail "json says ok for a tampered archive: $OUT"
pass "tampered newest archive: exit 7, metrics say failed and keep the last success: $(echo "$ERR" | head -1)"

# --- no archives ---------------------------------------------------------------------------------------
run_expect 3 "$SH" backup drill "$WORK/empty" --metrics-file "$WORK/empty.prom"
assert_contains "$ERR" "no backup archives (*.tar.zst) in $WORK/empty" "empty dir"
assert_contains "$(cat "$WORK/empty.prom")" "signal_hub_backup_drill_success{source=\"embedded\"} 0" "empty dir metrics"
run_expect 3 "$SH" backup drill "$WORK/no-such-dir"
assert_contains "$ERR" "no directory $WORK/no-such-dir" "missing dir"
pass "empty DIR: exit 3 ($ERR)"

# --- the guide's drill block, as written -----------------------------------------------------------------
guide_block "$REPO/docs/production/operations/backup-restore.md" "tested: tests/integration/backup_drill.sh" >"$WORK/guide.sh"
grep -q 'backup drill' "$WORK/guide.sh" || fail "the extracted block has no drill: $(cat "$WORK/guide.sh")"
mkdir -p "$WORK/guide/bin" && ln -s "$SH" "$WORK/guide/bin/signal-hub"
cp -r "$STORE" "$WORK/guide/.signal-hub"
(
    cd "$WORK/guide"
    export PATH="$WORK/guide/bin:$PATH"
    bash -euo pipefail "$WORK/guide.sh"
) >"$WORK/guide.out" 2>"$WORK/guide.err" || fail "the guide's commands failed: $(tail -20 "$WORK/guide.err") $(tail -20 "$WORK/guide.out")"
assert_contains "$(cat "$WORK/guide.out")" "PASSED" "guide drill output"
grep -q 'signal_hub_backup_drill_success{source="embedded"} 1' "$WORK/guide/backups/signal_hub_backup_drill.prom" ||
    fail "guide drill metrics file"
pass "the guide's drill commands run as written"

# --- retention: backup create DIR --keep N ---------------------------------------------------------
mkdir -p "$WORK/keep"
echo "not an archive" > "$WORK/keep/notes.tar.zst"   # unreadable as an archive: never removed
for i in 1 2 3; do
    run_expect 0 "$SH" --store "$STORE" backup create "$WORK/keep" --keep 2
    [ "$i" = 3 ] || sleep 1.1   # archive names carry the UTC second
done
assert_contains "$ERR" "removed $WORK/keep/signal-hub-" "the removed archive is named"
n="$(find "$WORK/keep" -name 'signal-hub-*.tar.zst' | wc -l)"
[ "$n" = 2 ] || fail "--keep 2 left $n archives: $(ls "$WORK/keep")"
[ -f "$WORK/keep/notes.tar.zst" ] || fail "--keep removed a file that is not an archive"
run_expect 2 "$SH" --store "$STORE" backup create "$WORK/keep/x.tar.zst" --keep 2
assert_contains "$ERR" "ARCHIVE must be an existing directory" "--keep with a file"
pass "backup create --keep 2: the oldest of three archives removed, a non-archive file kept; --keep needs a directory"
