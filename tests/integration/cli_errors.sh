#!/usr/bin/env bash
# Bad input gives a clear error, a non-zero exit code, and leaves the store intact.
source "$(dirname "$0")/lib.sh"
make_tree "$WORK/repo"
run_expect 0 "$SH" index "$WORK/repo"
STORE="$WORK/repo/.signal-hub"
before="$(record_count "$STORE")"
[ "$before" -gt 0 ] || fail "no records after indexing"

# Missing path.
run_expect 3 "$SH" index "$WORK/does-not-exist"
assert_contains "$ERR" "does-not-exist does not exist" "missing path"
pass "missing path -> exit 3"

# A file where a directory is expected.
run_expect 2 "$SH" index "$WORK/repo/src/checksum.go"
assert_contains "$ERR" "is not a directory" "file as root"
pass "file as root -> exit 2"

# Malformed YAML.
printf 'embedding:\n  provider: builtin\n  model: [unclosed\n' > "$WORK/bad.yaml"
run_expect 2 "$SH" --config "$WORK/bad.yaml" index "$WORK/repo"
assert_contains "$ERR" "bad.yaml:" "malformed config names the file"
pass "malformed config -> exit 2: $ERR"

# Unknown key, with its line.
printf 'search:\n  k: 5\n  modee: lexical\n' > "$WORK/unknown.yaml"
run_expect 2 "$SH" --config "$WORK/unknown.yaml" search "split url"
assert_contains "$ERR" "unknown.yaml:3" "unknown key line"
assert_contains "$ERR" "search.modee" "unknown key path"
pass "unknown config key -> exit 2: $ERR"

# Wrong type.
printf 'search:\n  k: many\n' > "$WORK/type.yaml"
run_expect 2 "$SH" --config "$WORK/type.yaml" status
assert_contains "$ERR" "search.k" "wrong type names the key"
pass "wrong type -> exit 2"

# Config file that does not exist.
run_expect 3 "$SH" --config "$WORK/nope.yaml" status
pass "missing config file -> exit 3"

# Unreadable source file: index the rest, report it, exit 1. Permission bits do
# not stop root, so run as an unprivileged user when we are root.
cp -r "$WORK/repo" "$WORK/perm"
rm -rf "$WORK/perm/.signal-hub"
chmod -R a+rwX "$WORK/perm"; chmod a+rx "$WORK"
chmod 000 "$WORK/perm/src/queue.cpp"
AS_USER=()
if [ "$(id -u)" -eq 0 ]; then AS_USER=(setpriv --reuid=nobody --regid=nogroup --clear-groups --); fi
run_expect 1 "${AS_USER[@]}" "$SH" index "$WORK/perm"
assert_contains "$ERR" "src/queue.cpp" "unreadable file named"
assert_contains "$OUT" "3 added" "the readable files were indexed"
pass "unreadable file -> exit 1 naming it: $(echo "$ERR" | head -1)"

# Bad search arguments.
run_expect 2 "$SH" --store "$STORE" search ""
run_expect 2 "$SH" --store "$STORE" search "x" --mode fuzzy
run_expect 3 "$SH" --store "$STORE" search "x" --collection nope
pass "bad search arguments -> exit 2 / 3"

# -k 0 is refused (it used to mean "the default, 10"), as is anything over 1000.
run_expect 2 "$SH" --store "$STORE" search "split url" -k 0
assert_contains "$ERR" "-k/--limit must be from 1 to 1000 (got 0)" "-k 0"
run_expect 2 "$SH" --store "$STORE" search "split url" --limit 1001
assert_contains "$ERR" "(got 1001)" "-k 1001"
run_expect 0 "$SH" --store "$STORE" search "split url" -k 1 --json
[ "$(json_get "$OUT" "len(d['results'])")" = 1 ] || fail "-k 1: $OUT"
pass "-k outside 1..1000 -> exit 2"

# Language names: any case, aliases and extensions mean the canonical id; typos fail with a suggestion.
run_expect 0 "$SH" --store "$STORE" search "checksum of data" --language go --json
canonical="$(json_get "$OUT" "[r['id'] for r in d['results']]")"
[ "$canonical" != "[]" ] || fail "--language go found nothing: $OUT"
for alias in golang Go GOLANG .go; do
    run_expect 0 "$SH" --store "$STORE" search "checksum of data" --language "$alias" --json
    [ "$(json_get "$OUT" "[r['id'] for r in d['results']]")" = "$canonical" ] || fail "--language $alias: $OUT"
done
for alias in py Python python3; do
    run_expect 0 "$SH" --store "$STORE" search "split url" --language "$alias" --json
    [ "$(json_get "$OUT" "sorted({r['language'] for r in d['results']})")" = "['python']" ] || fail "--language $alias: $OUT"
done
run_expect 0 "$SH" --store "$STORE" search "bounded queue" --language c++ --json
[ "$(json_get "$OUT" "d['results'][0]['file_path']")" = "src/queue.cpp" ] || fail "--language c++: $OUT"
run_expect 2 "$SH" --store "$STORE" search "split url" --language pyhton
assert_contains "$ERR" "unknown language 'pyhton'; did you mean 'python'? known: " "language typo"
assert_contains "$ERR" " go, " "known languages listed"
run_expect 2 "$SH" --store "$STORE" search "split url" --language klingon
assert_contains "$ERR" "unknown language 'klingon'; known: " "unknown language"
pass "--language: aliases and case accepted, typos -> exit 2 with a suggestion"

# Commands: a typo names the nearest command; no command at all prints the help.
run_expect 2 "$SH" serch "split url"
assert_contains "$ERR" "unknown command 'serch'; did you mean 'search'?" "command typo"
run_expect 2 "$SH" --store "$STORE" statsu
assert_contains "$ERR" "did you mean 'status'?" "command typo after a global option"
run_expect 2 "$SH" migrate exprot
assert_contains "$ERR" "unknown command 'migrate exprot'; did you mean 'migrate export'?" "nested command typo"
run_expect 2 "$SH" frobnicate
assert_contains "$ERR" "the commands are index, search, status" "far-off command lists the commands"
run_expect 2 "$SH" --store "$STORE"
assert_contains "$ERR" "a command is required: index, search" "options without a command"
run_expect 0 "$SH"
assert_contains "$OUT" "Usage: signal-hub" "plain signal-hub prints the help"
assert_contains "$OUT" "search" "the help lists the commands"
pass "command typos -> exit 2 with a suggestion; plain signal-hub -> help, exit 0"

# Searching where nothing was indexed.
mkdir -p "$WORK/empty"
(cd "$WORK/empty" && run_expect 3 "$SH" search "anything" && assert_contains "$ERR" "signal-hub index" "hint")
pass "no index -> exit 3 with a hint"

# Serving a store that does not exist.
run_expect 3 "$SH" --store "$WORK/no-store" serve --transport stdio </dev/null
assert_contains "$ERR" "no Signal Hub store" "serve without a store"
run_expect 2 "$SH" --store "$STORE" serve --transport carrier-pigeon </dev/null
pass "serve: missing store -> exit 3, unknown transport -> exit 2"

# The store is intact after all of that.
after="$(record_count "$STORE")"
[ "$before" = "$after" ] || fail "record count changed: $before -> $after"
run_expect 0 "$SH" --store "$STORE" search "split a url into scheme and host" --json
[ "$(json_get "$OUT" "d['results'][0]['file_path']")" = "src/net/url.py" ] || fail "search broken after errors: $OUT"
pass "store intact ($after records)"
