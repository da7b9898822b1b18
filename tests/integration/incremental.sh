#!/usr/bin/env bash
# Re-indexing reads and embeds only what changed; deleted and renamed files
# disappear from results.
source "$(dirname "$0")/lib.sh"
make_tree "$WORK/repo"
cd "$WORK/repo"
run_expect 0 "$SH" index
assert_contains "$OUT" "4 added" "first run"
first="$(record_count .signal-hub)"

run_expect 0 "$SH" index
assert_contains "$OUT" "0 added, 0 changed, 4 unchanged, 0 removed" "no-change run"
assert_contains "$OUT" "read 0 B" "no-change run reads nothing"
[ "$(record_count .signal-hub)" = "$first" ] || fail "record count changed on a no-change run"
pass "unchanged tree: nothing read"

# Touch without content change: read again (mtime differs) but not re-embedded.
touch -d '2001-01-01' src/checksum.go
run_expect 0 "$SH" index
assert_contains "$OUT" "0 changed, 4 unchanged" "touched file counts as unchanged content"
assert_contains "$OUT" "0 written" "nothing re-embedded"
pass "touched file: re-hashed, not re-embedded"

# Change one function.
sed -i 's/65521/65521 \/\/ largest prime below 2^16/' src/checksum.go
run_expect 0 "$SH" index
assert_contains "$OUT" "1 changed" "modified file"
pass "modified file re-indexed"

# Rename: the old path disappears from results, the new one appears.
mv src/net/url.py src/net/urls.py
run_expect 0 "$SH" index
assert_contains "$OUT" "1 added" "renamed file added"
assert_contains "$OUT" "1 removed" "old name removed"
run_expect 0 "$SH" search "split a url into scheme host and path" --json
paths="$(json_get "$OUT" "' '.join(r['file_path'] for r in d['results'])")"
assert_contains "$paths" "src/net/urls.py" "renamed file found"
case "$paths" in *"src/net/url.py"*) fail "deleted path still in results: $paths" ;; esac
pass "rename: old path gone, new path found"

# Delete.
rm src/queue.cpp
run_expect 0 "$SH" index
assert_contains "$OUT" "1 removed" "deleted file"
run_expect 0 "$SH" search "BoundedQueue TryPush" --json --mode lexical
paths="$(json_get "$OUT" "' '.join(r['file_path'] for r in d['results'])")"
case "$paths" in *"queue.cpp"*) fail "deleted file still searchable" ;; esac
pass "delete: file gone from results"

# Newly ignored files are removed too.
echo "docs/" > .signalhubignore
run_expect 0 "$SH" index
assert_contains "$OUT" "1 removed" "ignored directory removed"
pass "newly ignored file removed"
