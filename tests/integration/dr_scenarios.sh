#!/usr/bin/env bash
# The disaster-recovery guide's embedded-store and API-key procedures, extracted from
# docs/production/operations/disaster-recovery.md and run as written:
#  - deleted collection: `migrate drop --yes` of one of two collections; the block restores the newest
#    archive beside the store, copies the collection back, verifies and catches up from the repository:
#    the collection is back with the records written after the archive too, the other one untouched;
#  - corrupted store: store.db overwritten in its header (commands fail); the block keeps the damaged
#    copy, restores over it with --force and catches up: same counts as before the damage;
#  - leaked API key: the block revokes it and creates a replacement; a running server refuses the old
#    secret at once (no restart) and accepts the new one;
#  - leaked pepper: the block re-creates every active key under a new pepper in a new file (same names,
#    scopes, collections, rate limits, expiry); a server with the new pepper and file accepts the new
#    secrets and refuses the old ones; the new pepper with the old file refuses to start.
# Each recovery's time is printed as a `figure:` line.
source "$(dirname "$0")/lib.sh"
REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
GUIDE="$REPO_ROOT/docs/production/operations/disaster-recovery.md"
command -v curl >/dev/null || fail "curl is required (scripts/test.sh installs it)"

# guide_dr NAME: the block of the guide marked "tested: tests/integration/dr_scenarios.sh NAME".
guide_dr() { guide_block "$GUIDE" "tested: tests/integration/dr_scenarios.sh $1"; }

# run_block NAME: runs the block in $SITE with `signal-hub` on PATH and the exported variables.
BIN="$WORK/bin"
mkdir -p "$BIN" && ln -s "$SH" "$BIN/signal-hub"
run_block() {
    guide_dr "$1" >"$WORK/$1.sh"
    (cd "$SITE" && PATH="$BIN:$PATH" bash -euo pipefail "$WORK/$1.sh") >"$WORK/$1.out" 2>"$WORK/$1.err" ||
        fail "the guide's '$1' block failed: $(tail -20 "$WORK/$1.err") $(tail -5 "$WORK/$1.out")"
}
now() { date +%s.%N; }
since() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(now)"; }
count_of() {  # count_of COLLECTION: records of one collection of $SITE/.signal-hub (0 when absent)
    local j; j="$("$SH" --store "$SITE/.signal-hub" status --json)"
    json_get "$j" "sum(c['records'] for c in d['collections'] if c['name'] == '$1')"
}

# --- two collections, one of them a git repository; an archive; then more commits -----------------------
SITE="$WORK/site"
mkdir -p "$SITE/backups"
dr_trees
run_expect 0 "$SH" -q --store "$SITE/.signal-hub" index "$WORK/app" --collection app
run_expect 0 "$SH" -q --store "$SITE/.signal-hub" index "$WORK/lib" --collection lib
run_expect 0 "$SH" --store "$SITE/.signal-hub" backup create "$SITE/backups"
# Written after the archive: the catch-up must bring it back.
dr_commit_late
run_expect 0 "$SH" -q --store "$SITE/.signal-hub" index "$WORK/app" --collection app
app_before="$(count_of app)"; lib_before="$(count_of lib)"
[ "$app_before" -gt 0 ] && [ "$lib_before" -gt 0 ] || fail "setup: app $app_before, lib $lib_before records"
pass "two collections (app $app_before, lib $lib_before records), one archive, one commit after it"

# --- deleted collection ---------------------------------------------------------------------------------
run_expect 0 "$SH" --store "$SITE/.signal-hub" migrate drop --collection app --yes
[ "$(count_of app)" = 0 ] || fail "app still has records after the drop"
export COLLECTION=app REPO="$WORK/app"
t0="$(now)"
run_block deleted-collection
secs="$(since "$t0")"
[ "$(count_of app)" = "$app_before" ] || fail "app has $(count_of app) records after recovery, had $app_before"
[ "$(count_of lib)" = "$lib_before" ] || fail "lib changed: $(count_of lib), had $lib_before"
run_expect 0 "$SH" --store "$SITE/.signal-hub" search "after_the_backup" --collection app --json
assert_contains "$OUT" "late.py" "the record written after the archive is back (catch-up)"
[ ! -e "$SITE/recovered" ] && [ ! -e "$SITE/lost.jsonl.zst" ] || fail "the block left its scratch files"
pass "deleted collection recovered: app $app_before records again, lib untouched"
echo "figure: deleted collection (embedded, $app_before records) recovered in ${secs} s (restore beside + copy + verify + catch-up)"

# --- corrupted store ------------------------------------------------------------------------------------
python3 - "$SITE/.signal-hub/store.db" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.write(b"this is not sqlite")  # the 16-byte magic and more
EOF
set +e; "$SH" --store "$SITE/.signal-hub" status >/dev/null 2>"$WORK/corrupt.err"; rc=$?; set -e
[ "$rc" -ne 0 ] || fail "status succeeded on a corrupted store.db"
t0="$(now)"
run_block corrupted-store
secs="$(since "$t0")"
[ "$(count_of app)" = "$app_before" ] || fail "app has $(count_of app) records after the restore, had $app_before"
[ "$(count_of lib)" = "$lib_before" ] || fail "lib has $(count_of lib) records after the restore, had $lib_before"
damaged="$(ls -d "$SITE"/damaged-store-*)"
[ -f "$damaged/store.db" ] || fail "no copy of the damaged store kept"
pass "corrupted store.db (status exit $rc: $(head -c 200 "$WORK/corrupt.err")) restored, damaged copy kept"
echo "figure: corrupted embedded store ($((app_before + lib_before)) records) recovered in ${secs} s (restore --force + catch-up)"

# --- leaked API key -------------------------------------------------------------------------------------
export SIGNAL_HUB_API_KEY_PEPPER="$(head -c 48 /dev/urandom | base64 -w0)"
export OLD_KEYS="$WORK/keys/api-keys.json"
cat >"$SITE/signal-hub.yaml" <<YAML
security:
  api_keys:
    enabled: true
    storage: file
    file: $OLD_KEYS
YAML
CFG="$SITE/signal-hub.yaml"
run_expect 0 "$SH" --config "$CFG" keys create --name ci-bot --scopes search --expires 90d
bot_old="$(echo "$OUT" | tail -n 1)"
run_expect 0 "$SH" --config "$CFG" --store "$SITE/.signal-hub" keys create --name adm --scopes search,index,admin --collections app,lib --rate-limit 5:10
adm_old="$(echo "$OUT" | tail -n 1)"

SERVE_PID=""
start_serve() {  # start_serve: serve over HTTP with $CFG and the current pepper; sets PORT
    "$SH" --config "$CFG" --store "$SITE/.signal-hub" serve --transport http --port 0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
    SERVE_PID=$!
    wait_for_address "$SERVE_PID" "$WORK/serve.err"
}
stop_serve() { kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; }
http_code() {  # http_code KEY: the status of an MCP initialize with that key
    curl -s -m 20 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/mcp" \
        -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        --data-binary '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"it","version":"0"}}}' || true
}
start_serve
[ "$(http_code "$bot_old")" = 200 ] || fail "the key works before the leak"
t0="$(now)"
run_block leaked-key
code="$(http_code "$bot_old")"
secs="$(since "$t0")"
[ "$code" = 401 ] || fail "the revoked key got HTTP $code from the running server"
[ "$(http_code "$(cat "$SITE/ci-bot-2.secret")")" = 200 ] || fail "the replacement key is refused"
assert_contains "$(cat "$WORK/leaked-key.out")" "revoked" "keys list shows the revocation"
pass "leaked key revoked: 401 from the running server without a restart; the replacement works"
echo "figure: leaked API key: revoke + replacement + list took ${secs} s; the first request after it was refused (no restart)"
stop_serve

# --- leaked pepper --------------------------------------------------------------------------------------
bot2_old="$(cat "$SITE/ci-bot-2.secret")"
guide_dr leaked-pepper >"$WORK/leaked-pepper.sh"
t0="$(now)"
(cd "$SITE" && PATH="$BIN:$PATH" bash -euo pipefail -c 'source "$1"; printf "%s" "$NEW_PEPPER" > "$2"' _ \
    "$WORK/leaked-pepper.sh" "$WORK/new-pepper") >"$WORK/pepper.out" 2>"$WORK/pepper.err" ||
    fail "the guide's leaked-pepper block failed: $(tail -20 "$WORK/pepper.err")"
NEW_KEYS="${OLD_KEYS%.json}.new.json"
[ -s "$NEW_KEYS" ] || fail "no new key file $NEW_KEYS"
old_list="$("$SH" --config "$CFG" keys list --json)"
new_list="$(SIGNAL_HUB_API_KEY_PEPPER="$(cat "$WORK/new-pepper")" SIGNAL_HUB_SECURITY__API_KEYS__FILE="$NEW_KEYS" \
    "$SH" --config "$CFG" keys list --json)"
python3 - "$old_list" "$new_list" <<'EOF' || fail "the re-created keys differ from the active old ones"
import datetime, json, sys
old = {k["name"]: k for k in json.loads(sys.argv[1])["keys"] if k["state"] in ("active", "rotating")}
new = {k["name"]: k for k in json.loads(sys.argv[2])["keys"]}
assert sorted(old) == sorted(new) == ["adm", "ci-bot-2"], (sorted(old), sorted(new))
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")) if s else None
for name, o in old.items():
    n = new[name]
    assert n["id"] != o["id"], name
    for f in ("scopes", "collections", "rate_limit"):
        assert n[f] == o[f], (name, f, o[f], n[f])
    if o["expires"]:
        assert abs((t(n["expires"]) - t(o["expires"])).total_seconds()) < 120, (name, o["expires"], n["expires"])
    else:
        assert n["expires"] is None, (name, n["expires"])
EOF
mv "$NEW_KEYS" "$OLD_KEYS"
export SIGNAL_HUB_API_KEY_PEPPER="$(cat "$WORK/new-pepper")"
start_serve
secs="$(since "$t0")"
for name in adm ci-bot-2; do
    [ "$(http_code "$(cat "$SITE/$name.secret")")" = 200 ] || fail "the re-issued key $name is refused"
done
for old in "$adm_old" "$bot2_old"; do
    [ "$(http_code "$old")" = 401 ] || fail "an old secret still works after the pepper change"
done
stop_serve
pass "leaked pepper: every active key re-created under the new pepper (same names, scopes, collections, limits, expiry); old secrets refused"
echo "figure: leaked pepper: keys re-issued and a replica restarted in ${secs} s (2 keys)"

# The new pepper with a key file written under the old one: refused at start, not silently.
printf '%s' "$(head -c 48 /dev/urandom | base64 -w0)" >"$WORK/other-pepper"
run_expect 4 env SIGNAL_HUB_API_KEY_PEPPER="$(cat "$WORK/other-pepper")" \
    "$SH" --config "$CFG" --store "$SITE/.signal-hub" serve --transport http --port 0
assert_contains "$ERR" "another pepper" "a key file of another pepper is refused at start"
pass "a server given a pepper the key file was not written with refuses to start"
