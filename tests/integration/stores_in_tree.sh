#!/usr/bin/env bash
# Issue 20 items 2 and 13c: a Signal Hub store is never indexed as source code, wherever it lies
# in the tree and whatever it is called (an old .signal-hub left after moving the index elsewhere,
# the migration runbook's .signal-hub-restored copy), and a new store directory is ignored by git.
source "$(dirname "$0")/lib.sh"
make_tree "$WORK/repo"
cd "$WORK/repo"

# A new store tells git to ignore it.
run_expect 0 "$SH" index
[ -f .signal-hub/.gitignore ] || fail "no .gitignore in the new store directory"
grep -qx '\*' .signal-hub/.gitignore || fail ".gitignore does not ignore everything: $(cat .signal-hub/.gitignore)"
if command -v git >/dev/null; then
    git init -q . && git add -A
    staged="$(git diff --cached --name-only)"
    case "$staged" in *".signal-hub"*) fail "git would commit the store: $staged" ;; esac
    rm -rf .git
fi
pass "new store directory ignored by git"

# Stores written by older builds have no .gitignore; one is restored next to it under another name.
rm .signal-hub/.gitignore
cp -a .signal-hub .signal-hub-restored
[ -f .signal-hub/store.db-wal ] || : > .signal-hub/store.db-wal
ls .signal-hub/hnsw/*.json >/dev/null || fail "expected HNSW sidecars in the old store"

# Index into a store elsewhere (as after moving to PostgreSQL): the old stores must be skipped.
run_expect 0 "$SH" --store "$WORK/elsewhere" index
assert_contains "$OUT" "4 added" "only the source files are indexed"
for q in "LOCK" "hnsw json sidecar collection_id xxh3" "store.db-wal" "SQLite format"; do
    run_expect 0 "$SH" --store "$WORK/elsewhere" search "$q" --json -k 50
    paths="$(json_get "$OUT" "' '.join(r['file_path'] for r in d['results'])")"
    case "$paths" in *".signal-hub"*) fail "search '$q' returned store files: $paths" ;; esac
done
pass "old store and restored copy not indexed, not in search results"

# --dry-run names them as skipped, with the reason.
run_expect 0 "$SH" --store "$WORK/elsewhere2" index --dry-run
assert_contains "$OUT" ".signal-hub/  (a Signal Hub store)" "dry-run names the old store"
assert_contains "$OUT" ".signal-hub-restored/  (a Signal Hub store)" "dry-run names the restored copy"
[ ! -e "$WORK/elsewhere2" ] || fail "--dry-run created the store directory"
pass "dry-run reports stores as skipped"
