#!/usr/bin/env bash
# `signal-hub serve --transport http --watch` over a real tree: an added file, an edit and a deletion
# reach search_code answers without a restart, while the query cache is on (the same query asked
# before and after each change must not be answered from the cache), and `index` is refused while the
# watching server holds the store's writer lock.
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || fail "curl is required (scripts/test.sh installs it)"
make_tree "$WORK/repo"
STORE="$WORK/repo/.signal-hub"
run_expect 0 "$SH" -q index "$WORK/repo"

(cd "$WORK/repo" && exec "$SH" serve --transport http --port 0 --watch) >"$WORK/serve.out" 2>"$WORK/serve.err" &
PID=$!
wait_for_address "$PID" "$WORK/serve.err"
pass "serve --watch inside the tree listens on 127.0.0.1:$PORT"

mcp_initialize

# files_for QUERY: the file paths search_code returns (lexical mode, 10 results), one per line.
files_for() {
    mcp "$(python3 -c 'import json,sys; print(json.dumps({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_code","arguments":{"query":sys.argv[1],"mode":"lexical","limit":10}}}))' "$1")"
    [ "$CODE" = 200 ] || fail "search_code '$1': HTTP $CODE $BODY"
    json_get "$BODY" "'\n'.join(r['file_path'] for r in d['result']['structuredContent']['results'])"
}

# wait_for QUERY PREDICATE WHAT: polls search_code until PREDICATE (a bash test on $FILES) holds.
wait_for() {
    local query="$1" predicate="$2" what="$3"
    for _ in $(seq 1 150); do
        FILES="$(files_for "$query")"
        if eval "$predicate"; then pass "$what"; return 0; fi
        sleep 0.2
    done
    fail "$what: not seen within 30 s; search_code '$query' returns: $FILES
server stderr: $(tail -20 "$WORK/serve.err")"
}

# Ask first, so a cached answer exists that must not be served after the change.
FILES="$(files_for "levenshtein distance")"
[ -z "$FILES" ] || fail "levenshtein is not in the tree yet, but search_code returns: $FILES"
cat >"$WORK/repo/src/edit.py" <<'PY'
def levenshtein_distance(a, b):
    """Edit distance between two strings."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
PY
wait_for "levenshtein distance" '[[ "$FILES" == *src/edit.py* ]]' "a new file is searchable without a restart"

FILES="$(files_for "adler checksum")"
[[ "$FILES" == *src/checksum.go* ]] || fail "checksum.go should match 'adler checksum': $FILES"
sed -i 's/Adler32/Fletcher16/g; s/Adler-32/Fletcher-16/' "$WORK/repo/src/checksum.go"
wait_for "fletcher16" '[[ "$FILES" == *src/checksum.go* ]]' "an edited file's new content is searchable"
FILES="$(files_for "adler")"
[[ "$FILES" != *src/checksum.go* ]] || fail "the edited file still matches its old content: $FILES"
pass "the edited file's old content is gone"

rm "$WORK/repo/src/edit.py"
wait_for "levenshtein distance" '[[ "$FILES" != *src/edit.py* ]]' "a deleted file leaves the results"

run_expect 4 "$SH" -q index "$WORK/repo"
assert_contains "$ERR" "locked by pid $PID" "index while serve --watch runs"
pass "index is refused while serve --watch holds the writer lock (exit 4)"

kill -TERM "$PID"
set +e; wait "$PID"; rc=$?; set -e
[ "$rc" -eq 0 ] || fail "serve --watch exited with $rc after SIGTERM: $(tail -5 "$WORK/serve.err")"
pass "SIGTERM: exit status 0"
run_expect 0 "$SH" -q index "$WORK/repo"
pass "the writer lock is released after shutdown"
