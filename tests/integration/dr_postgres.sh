#!/usr/bin/env bash
# The disaster-recovery guide's "deleted collection" procedure on PostgreSQL (the `postgres` fixture),
# run as written: two collections in a live database; a logical archive; more written after it;
# `migrate drop --yes` of one collection; the archive restored into an empty scratch database; the
# guide's block copies the collection back and verifies it; `index` catches up. The collection is back
# with every record (those written after the archive through the catch-up), the other one untouched.
# Usage: dr_postgres.sh path/to/signal-hub   (SIGNAL_HUB_TEST_PG_URL_FILE names the fixture's URL file)
source "$(dirname "$0")/lib.sh"
REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
URL_FILE="${SIGNAL_HUB_TEST_PG_URL_FILE:?the postgres CTest fixture sets SIGNAL_HUB_TEST_PG_URL_FILE}"
[ -s "$URL_FILE" ] || fail "no PostgreSQL URL in $URL_FILE (did the postgres fixture start?)"
BASE_URL="$(cat "$URL_FILE")"
# Each "database" is a schema of its own in the fixture's cluster (tests share the cluster).
url_for() { case "$BASE_URL" in *\?*) echo "$BASE_URL&schema=$1" ;; *) echo "$BASE_URL?schema=$1" ;; esac; }
LIVE_URL="$(url_for "dr_live_$$_$RANDOM")"
SCRATCH="$(url_for "dr_scratch_$$_$RANDOM")"
count_of() {  # count_of URL COLLECTION
    local j; j="$("$SH" --store "$1" status --json)"
    json_get "$j" "sum(c['records'] for c in d['collections'] if c['name'] == '$2')"
}

dr_trees
run_expect 0 "$SH" -q --store "$LIVE_URL" index "$WORK/app" --collection app
run_expect 0 "$SH" -q --store "$LIVE_URL" index "$WORK/lib" --collection lib
mkdir -p "$WORK/site/backups"
run_expect 0 "$SH" backup create "$WORK/site/backups/live.tar.zst" --database "$LIVE_URL"
dr_commit_late
run_expect 0 "$SH" -q --store "$LIVE_URL" index "$WORK/app" --collection app
app_before="$(count_of "$LIVE_URL" app)"; lib_before="$(count_of "$LIVE_URL" lib)"
[ "$app_before" -gt 0 ] && [ "$lib_before" -gt 0 ] || fail "setup: app $app_before, lib $lib_before"

run_expect 0 "$SH" migrate drop --database "$LIVE_URL" --collection app --yes
[ "$(count_of "$LIVE_URL" app)" = 0 ] || fail "app still has records after the drop"
t0="$(date +%s.%N)"
run_expect 0 "$SH" backup restore "$WORK/site/backups/live.tar.zst" --database "$SCRATCH"
guide_block "$REPO_ROOT/docs/production/operations/disaster-recovery.md" "tested: tests/integration/dr_postgres.sh" >"$WORK/block.sh"
mkdir -p "$WORK/bin" && ln -s "$SH" "$WORK/bin/signal-hub"
(cd "$WORK/site" && PATH="$WORK/bin:$PATH" SCRATCH_URL="$SCRATCH" DATABASE_URL="$LIVE_URL" COLLECTION=app \
    bash -euo pipefail "$WORK/block.sh") >"$WORK/block.out" 2>"$WORK/block.err" ||
    fail "the guide's block failed: $(tail -20 "$WORK/block.err")"
run_expect 0 "$SH" -q --store "$LIVE_URL" index "$WORK/app" --collection app
secs="$(python3 -c "import sys,time; print('%.2f' % (time.time() - float(sys.argv[1])))" "$t0")"
[ "$(count_of "$LIVE_URL" app)" = "$app_before" ] || fail "app: $(count_of "$LIVE_URL" app) records, had $app_before"
[ "$(count_of "$LIVE_URL" lib)" = "$lib_before" ] || fail "lib changed: $(count_of "$LIVE_URL" lib), had $lib_before"
run_expect 0 "$SH" --store "$LIVE_URL" search after_the_backup --collection app --json
assert_contains "$OUT" "late.py" "the record written after the archive is back (catch-up)"
pass "deleted collection recovered on PostgreSQL: app $app_before records, lib untouched"
echo "figure: deleted collection (PostgreSQL, $app_before records) recovered in ${secs} s (restore into scratch + copy + verify + catch-up)"
