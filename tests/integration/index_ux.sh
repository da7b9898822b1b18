#!/usr/bin/env bash
# Issue 20 items 6, 10 and 13: index finds its tree like search does, refuses nested and duplicate
# indexes, status tells the truth (root, files, interrupted runs, imports, changes since), the
# collections command lists and deletes, and index --dry-run explains without writing.
source "$(dirname "$0")/lib.sh"
make_tree "$WORK/repo"
cd "$WORK/repo"

# --- 13b: --dry-run names what would be indexed, skipped and ignored, and writes nothing.
printf 'docs/\n' > .signalhubignore
head -c 3000000 /dev/zero | tr '\0' 'x' > src/huge.py
printf '\x89PNG\r\n' > logo.png
run_expect 0 "$SH" index --dry-run
assert_contains "$ERR" "no PATH given: indexing $WORK/repo (the current directory)" "index without PATH says what it indexes"
assert_contains "$OUT" "index   src/net/url.py  (python" "dry-run: a file to index"
assert_contains "$OUT" "skip    src/huge.py  (too large" "dry-run: too large"
assert_contains "$OUT" "skip    logo.png  (binary file type)" "dry-run: binary"
assert_contains "$OUT" "ignore  docs/  (ignored by .signalhubignore (\"docs/\"))" "dry-run: ignored, with the rule"
[ ! -e .signal-hub ] || fail "--dry-run created the store"
pass "dry-run explains and writes nothing"

# --- 6a: index without PATH in a subdirectory updates the parent's index.
run_expect 0 "$SH" index
cd src/net
run_expect 0 "$SH" index
assert_contains "$ERR" "no PATH given: updating the index of $WORK/repo (store $WORK/repo/.signal-hub)" "uses the parent's index"
assert_contains "$OUT" "indexed $WORK/repo into collection 'repo'" "re-indexes the parent's tree"
[ ! -e .signal-hub ] || fail "index without PATH created a nested store"
# An explicit PATH inside the indexed tree is refused (exit 4) with the way out.
run_expect 4 "$SH" index .
assert_contains "$ERR" "lies inside $WORK/repo, which has its own index" "nested index refused"
assert_contains "$ERR" "signal-hub index $WORK/repo" "hint names the parent"
[ ! -e .signal-hub ] || fail "refused index created a nested store"
run_expect 0 "$SH" index . --allow-overlap
[ -d .signal-hub ] || fail "--allow-overlap did not create the separate index"
rm -rf .signal-hub
cd "$WORK/repo"
pass "index finds the parent's index; nested PATH refused unless --allow-overlap"

# --- 6b: the same tree under another collection name is refused, naming the existing one.
run_expect 4 "$SH" index -c copy "$WORK/repo"
assert_contains "$ERR" "already indexed as collection 'repo'" "duplicate collection refused"
assert_contains "$ERR" "collections delete repo --yes" "hint: delete"
assert_contains "$ERR" "-c repo" "hint: use the existing name"
[ "$(json_get "$("$SH" status --json)" "len(d['collections'])")" = 1 ] || fail "a duplicate collection was created"
pass "duplicate collection refused"

# --- 10: status shows root, files, changes since; interrupted runs; imports.
run_expect 0 "$SH" status --json
[ "$(json_get "$OUT" "d['collections'][0]['root']")" = "$WORK/repo" ] || fail "status root: $OUT"
[ "$(json_get "$OUT" "d['collections'][0]['files']")" = 4 ] || fail "status files: $OUT"
[ "$(json_get "$OUT" "d['collections'][0]['changes']['files_changed']")" = 0 ] || fail "status changes: $OUT"
[ "$(json_get "$OUT" "d['collections'][0]['incomplete']")" = False ] || fail "status incomplete: $OUT"
echo 'def added(): pass' > src/added.py
rm src/queue.cpp
run_expect 0 "$SH" status
assert_contains "$OUT" "root:         $WORK/repo" "status root line"
assert_contains "$OUT" "files:        4" "status files line"
assert_contains "$OUT" "2 files changed since (1 new, 0 modified, 1 deleted)" "status changes line"
case "$OUT" in *incomplete*) fail "a finished index reported incomplete: $OUT" ;; esac

# An interrupted run (kill -9 while indexing a tree large enough to take seconds): status says the
# index is incomplete. The run marks itself unfinished in its first commit, right after the scan.
mkdir -p "$WORK/big"
python3 -c "
import sys
for i in range(2000):
    open(f'{sys.argv[1]}/m{i}.py', 'w').write(f'def f{i}(x):\\n    return x * {i}\\n')" "$WORK/big"
cd "$WORK/big"
"$SH" index >/dev/null 2>&1 &
pid=$!
seen=""
for _ in $(seq 1 400); do
    seen="$("$SH" status --json 2>/dev/null | python3 -c 'import json,sys; c=json.load(sys.stdin)["collections"]; print("y" if c and c[0]["incomplete"] else "")' 2>/dev/null || true)"
    [ -n "$seen" ] && break
    sleep 0.05
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ -n "$seen" ] || fail "status never showed the running index as incomplete"
run_expect 0 "$SH" status
assert_contains "$OUT" "incomplete:   an index run was interrupted" "status after kill -9"
run_expect 0 "$SH" index
run_expect 0 "$SH" status
case "$OUT" in *incomplete*) fail "still incomplete after a finished run: $OUT" ;; esac
cd "$WORK/repo"
pass "status: root, files, changes since, interrupted runs"

# Import into a new store: "imported <time>", not "never".
run_expect 0 "$SH" migrate export --source embedded --store .signal-hub --all --output "$WORK/dump.jsonl"
run_expect 0 "$SH" migrate import --input "$WORK/dump.jsonl" --store "$WORK/restored"
run_expect 0 "$SH" --store "$WORK/restored" status
assert_contains "$OUT" "last indexed: imported 20" "status after import"
[ "$(json_get "$("$SH" --store "$WORK/restored" status --json)" "d['collections'][0]['imported_at'] is not None")" = True ] ||
    fail "status --json imported_at"
pass "status after an import"

# --- 13a: collections list / delete.
run_expect 0 "$SH" collections list
assert_contains "$OUT" "repo" "collections list names the collection"
assert_contains "$OUT" "$WORK/repo" "collections list shows the root"
run_expect 0 "$SH" collections list --json
[ "$(json_get "$OUT" "d['collections'][0]['name']")" = repo ] || fail "collections list --json: $OUT"
records="$(json_get "$OUT" "d['collections'][0]['records']")"
run_expect 3 "$SH" collections delete nope --yes
assert_contains "$ERR" "no collection 'nope'" "unknown collection"
assert_contains "$ERR" "its collections: repo" "unknown collection lists the existing ones"
run_expect 2 "$SH" collections delete repo
assert_contains "$ERR" "--yes" "delete without --yes"
run_expect 0 "$SH" collections delete repo --yes
assert_contains "$OUT" "deleted collection 'repo'" "delete output"
assert_contains "$OUT" "$records records" "delete says how many records"
[ "$(json_get "$("$SH" collections list --json)" "len(d['collections'])")" = 0 ] || fail "collection not deleted"
run_expect 0 "$SH" index -c copy "$WORK/repo"
pass "collections list and delete"
