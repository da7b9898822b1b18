#!/usr/bin/env bash
# Issue 15: each collection records the git commit it was indexed at; `status` shows it and how far
# HEAD moved since (commits, files); `index` says which commit it caught up from, how many chunks it
# re-embedded and reused, and what a full rebuild would re-embed. A store restored from an older copy
# catches up from the commit that copy recorded. A root outside git records nothing and does not fail.
#   indexed_commit.sh path/to/signal-hub [postgres|chromadb]
# With "postgres" (ctest label postgres, SIGNAL_HUB_TEST_PG_URL_FILE set) the store is PostgreSQL; with
# "chromadb" (label chroma, SIGNAL_HUB_TEST_CHROMA_URL_FILE set) a database of the ChromaDB fixture.
source "$(dirname "$0")/lib.sh"
BACKEND="${2:-embedded}"
command -v git >/dev/null || fail "git is required (Debian package git)"

CFG=()
if [ "$BACKEND" = postgres ]; then
    source "$TESTS_DIR/pg_lib.sh"
    DB="indexed_commit_$$"
    trap 'rc=$?; jobs -p | xargs -r kill -9 2>/dev/null; drop_databases "$DB"; rm -rf "$WORK"; exit $rc' EXIT
    DB_URL="$(new_database "$DB")"
    echo "database: {type: postgresql, url: '$DB_URL', pool_size: 2}" >"$WORK/pg.yaml"
    CFG=(--config "$WORK/pg.yaml")
elif [ "$BACKEND" = chromadb ]; then
    [ -s "${SIGNAL_HUB_TEST_CHROMA_URL_FILE:-}" ] || fail "no ChromaDB: run through 'ctest -L chroma' (fixture)"
    CHROMA_SERVER="$(head -n1 "$SIGNAL_HUB_TEST_CHROMA_URL_FILE")"   # chroma+http://127.0.0.1:PORT
    echo "database: {type: chromadb, url: '${CHROMA_SERVER#chroma+}?database=indexed_commit_$$'}" >"$WORK/chroma.yaml"
    CFG=(--config "$WORK/chroma.yaml")
fi
sh_() { "$SH" "${CFG[@]}" "$@"; }
g() { git -C "$WORK/repo" -c user.name=test -c user.email=test@example.com "$@"; }

# A corpus whose chunks we know: every top-level Python function is one chunk.
mkdir -p "$WORK/repo"
cat >"$WORK/repo/a.py" <<'PY'
def alpha():
    return 1


def beta():
    return 2
PY
cat >"$WORK/repo/b.py" <<'PY'
def gamma():
    return 3


def delta():
    return 4


def epsilon():
    return 5
PY
g init -q
g add a.py b.py
g commit -q -m first
FIRST="$(g rev-parse HEAD)"
cd "$WORK/repo"

# --- first run: everything embedded, the commit recorded ---------------------------------------
run_expect 0 sh_ index --json
J="$OUT"
[ "$(json_get "$J" "d['git']['commit']")" = "$FIRST" ] || fail "index --json git.commit: $J"
[ "$(json_get "$J" "d['git']['dirty']")" = False ] || fail "a clean tree (the store's own directory is not a change): $J"
[ "$(json_get "$J" "d['caught_up_from']")" = None ] || fail "first run caught up from nothing: $J"
[ "$(json_get "$J" "d['chunks']['re_embedded']")" = 5 ] || fail "first run embeds 5 chunks: $J"
[ "$(json_get "$J" "d['chunks']['reused']")" = 0 ] || fail "first run reuses nothing: $J"
[ "$(json_get "$J" "d['full_rebuild']['chunks']")" = 5 ] || fail "full rebuild = 5 chunks: $J"
BYTES="$(json_get "$J" "d['full_rebuild']['text_bytes']")"
[ "$(json_get "$J" "d['full_rebuild']['tokens_estimate']")" = "$(( (BYTES + 3) / 4 ))" ] || fail "tokens = bytes/4: $J"
[ "$BYTES" -gt "$(cat a.py b.py | wc -c)" ] || fail "embedding text holds the code and a header: $BYTES bytes"
pass "first run: 5 chunks embedded, commit ${FIRST:0:7} recorded, rebuild ~$(( (BYTES + 3) / 4 )) tokens"

run_expect 0 sh_ status
assert_contains "$OUT" "git commit:   $FIRST" "status shows the indexed commit"
assert_contains "$OUT" "git HEAD:     ${FIRST:0:7}, the indexed commit" "status: HEAD is the indexed commit"
run_expect 0 sh_ status --json
[ "$(json_get "$OUT" "d['collections'][0]['git']['commit']")" = "$FIRST" ] || fail "status --json git: $OUT"
[ "$(json_get "$OUT" "d['collections'][0]['git']['commits_behind']")" = 0 ] || fail "status --json: 0 behind: $OUT"
pass "status shows the indexed commit"

# A copy of the store as it is now: "the backup" restored below.
[ "$BACKEND" = embedded ] && cp -a .signal-hub "$WORK/store-backup"

# --- one commit later: b.py edited (one function changed, one added), c.py new -------------------
cat >b.py <<'PY'
def gamma():
    return 3


def delta():
    return 4 + 40


def epsilon():
    return 5


def zeta():
    return 6
PY
cat >c.py <<'PY'
def eta():
    return 7
PY
g add b.py c.py
g commit -q -m second
SECOND="$(g rev-parse HEAD)"
run_expect 0 sh_ status
assert_contains "$OUT" "git HEAD:     ${SECOND:0:7}, 1 commit and 2 files ahead of the indexed commit" "status behind"
run_expect 0 sh_ status --json
[ "$(json_get "$OUT" "d['collections'][0]['git']['commits_behind']")" = 1 ] || fail "1 commit behind: $OUT"
[ "$(json_get "$OUT" "d['collections'][0]['git']['files_behind']")" = 2 ] || fail "2 files behind: $OUT"
[ "$(json_get "$OUT" "d['collections'][0]['git']['head']")" = "$SECOND" ] || fail "head: $OUT"
pass "status: 1 commit and 2 files behind HEAD"

# b.py is re-chunked whole (4 chunks) and c.py is new (1): 5 re-embedded; a.py's 2 are reused.
CATCHUP="caught up from ${FIRST:0:7} (1 commit to ${SECOND:0:7}): 2 files changed, 5 chunks re-embedded, 2 reused"
run_expect 0 sh_ index
assert_contains "$OUT" "$CATCHUP" "catch-up summary"
assert_contains "$OUT" "chunks: 5 written (re-embedded), 2 reused, 0 deleted" "chunk counts"
assert_contains "$OUT" "git: recorded commit ${SECOND:0:7}" "recorded the new commit"
assert_contains "$OUT" "full rebuild would re-embed 7 chunks (~" "rebuild figure"
pass "re-index: $CATCHUP"

run_expect 0 sh_ status
assert_contains "$OUT" "git HEAD:     ${SECOND:0:7}, the indexed commit" "status after catching up"
run_expect 0 sh_ index --json
[ "$(json_get "$OUT" "d['chunks']['re_embedded']")" = 0 ] || fail "a no-change run embeds nothing: $OUT"
[ "$(json_get "$OUT" "d['chunks']['reused']")" = 7 ] || fail "a no-change run reuses all 7: $OUT"
[ "$(json_get "$OUT" "d['caught_up_from']['commits']")" = 0 ] || fail "caught up from the same commit: $OUT"
[ "$(json_get "$OUT" "d['full_rebuild']['chunks']")" = 7 ] || fail "rebuild = 7: $OUT"
pass "no-change run: 0 re-embedded, 7 reused"

# --- uncommitted changes are recorded as such ----------------------------------------------------
echo "# a comment" >>a.py
run_expect 0 sh_ index --json
[ "$(json_get "$OUT" "d['git']['dirty']")" = True ] || fail "dirty tree: $OUT"
run_expect 0 sh_ status
assert_contains "$OUT" "git commit:   $SECOND (the tree had uncommitted changes)" "status shows the dirty mark"
git -C "$WORK/repo" checkout -q -- a.py
pass "uncommitted changes recorded"

# --- untracked files: those the run indexes count, those it does not read do not (ADR-36b) ----------
mkdir -p node_modules && echo "module.exports = 1" >node_modules/m.js   # excluded by default
# git ignores *.tmp.py through core.excludesFile, which the scanner does not read: indexed, yet no change
echo "*.tmp.py" >"$WORK/global-ignore"; g config core.excludesFile "$WORK/global-ignore"
echo "def ignored(): pass" >scratch.tmp.py
[ -z "$(g status --porcelain -- a.py b.py scratch.tmp.py)" ] || fail "git should ignore scratch.tmp.py"
run_expect 0 sh_ index --json
[ "$(json_get "$OUT" "d['git']['dirty']")" = False ] || fail "untracked files the run does not index are no change: $OUT"
echo "def zeta(): return 6" >untracked_new.py
run_expect 0 sh_ index --json
[ "$(json_get "$OUT" "d['git']['dirty']")" = True ] || fail "an indexed untracked file is a change: $OUT"
rm -rf untracked_new.py node_modules scratch.tmp.py; g config --unset core.excludesFile
run_expect 0 sh_ index --json
[ "$(json_get "$OUT" "d['git']['dirty']")" = False ] || fail "clean again: $OUT"
pass "untracked: indexed files count, excluded and git-ignored ones do not"

# --- a restored (older) store catches up from the commit it recorded -----------------------------
if [ "$BACKEND" = embedded ]; then
    rm -rf .signal-hub
    cp -a "$WORK/store-backup" .signal-hub
    run_expect 0 sh_ status
    assert_contains "$OUT" "git commit:   $FIRST" "restored store's commit"
    run_expect 0 sh_ index
    assert_contains "$OUT" "$CATCHUP" "restored store catches up like the original did"
    pass "restored store: $CATCHUP"
fi

# --- a root outside git: nothing recorded, no failure --------------------------------------------
mkdir -p "$WORK/plain"
cp "$WORK/repo/a.py" "$WORK/plain/"
cd "$WORK/plain"
run_expect 0 sh_ index --json "$WORK/plain" -c plain
[ "$(json_get "$OUT" "d['git']")" = None ] || fail "no git state outside a work tree: $OUT"
[ "$(json_get "$OUT" "d['caught_up_from']")" = None ] || fail "nothing to catch up from: $OUT"
run_expect 0 sh_ status --json
[ "$(json_get "$OUT" "[c['git'] for c in d['collections'] if c['name'] == 'plain'][0]")" = None ] ||
    fail "status --json git is null: $OUT"
run_expect 0 sh_ index "$WORK/plain" -c plain
case "$OUT" in *"git:"* | *"caught up"*) fail "no git lines outside a work tree: $OUT" ;; esac
assert_contains "$OUT" "full rebuild would re-embed 2 chunks" "rebuild figure without git"
pass "a root outside git records nothing and does not fail"

# --- git not installed: nothing recorded, no failure ---------------------------------------------
mkdir -p "$WORK/nogit-bin"
for tool in dirname basename; do ln -sf "$(command -v $tool)" "$WORK/nogit-bin/$tool"; done
cd "$WORK/repo"
echo "def theta():" >d.py
echo "    return 8" >>d.py
run_expect 0 env PATH="$WORK/nogit-bin" "$SH" "${CFG[@]}" index --json
[ "$(json_get "$OUT" "d['git']")" = None ] || fail "without git nothing is recorded: $OUT"
pass "without a git binary: index works, records nothing"
