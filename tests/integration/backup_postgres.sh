#!/usr/bin/env bash
# signal-hub backup create | restore on a PostgreSQL store (the `postgres` fixture), end to end:
#  - a corpus indexed into a fresh schema (the "source database") and an API key created there
#    (security.api_keys.storage: database);
#  - backup create --database: one snapshot, records + key table + schema version in the archive;
#  - restore --database into a second fresh schema: per-collection counts match the manifest,
#    `migrate verify` against an export of the source reports 0 missing / 0 different, and the
#    restored key authenticates an MCP request of `serve --transport http` on the restored database;
#  - restore onto the (non-empty) source is refused without --force (exit 4);
#  - a tampered archive (one flipped byte) is refused by verify and restore (exit 7);
#  - an archive whose manifest claims more records than it holds fails restore with exit 7 and is rolled
#    back: a fresh schema is gone again; in a schema that held a table of its own before, that table stays
#    and nothing the restore created remains;
#  - backup drill of a directory holding the PostgreSQL archive passes (records loaded into a scratch
#    embedded store, drill metrics labelled source="postgresql"); of the inflated archive it fails (exit 7).
# Usage: backup_postgres.sh path/to/signal-hub   (SIGNAL_HUB_TEST_PG_URL_FILE names the fixture's URL file)
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || fail "curl is required"
URL_FILE="${SIGNAL_HUB_TEST_PG_URL_FILE:?the postgres CTest fixture sets SIGNAL_HUB_TEST_PG_URL_FILE}"
[ -s "$URL_FILE" ] || fail "no PostgreSQL URL in $URL_FILE (did the postgres fixture start?)"
BASE_URL="$(cat "$URL_FILE")"
sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$BASE_URL" -c "$1"; }
# Each "database" is a schema of its own in the fixture's cluster (tests share the cluster).
url_for() { case "$BASE_URL" in *\?*) echo "$BASE_URL&schema=$1" ;; *) echo "$BASE_URL?schema=$1" ;; esac; }
SRC_URL="$(url_for "bk_src_$$_$RANDOM")"
DST_URL="$(url_for "bk_dst_$$_$RANDOM")"
BAD_SCHEMA="bk_bad_$$_$RANDOM"
BAD_URL="$(url_for "$BAD_SCHEMA")"
OWN_SCHEMA="bk_own_$$_$RANDOM"
OWN_URL="$(url_for "$OWN_SCHEMA")"
export SIGNAL_HUB_API_KEY_PEPPER="$(head -c 48 /dev/urandom | base64 -w0)"
cfg() { # FILE URL
    cat >"$1" <<YAML
database:
  type: postgresql
  url: $2
security:
  api_keys: { enabled: true, storage: database }
YAML
}
cfg "$WORK/src.yaml" "$SRC_URL"
cfg "$WORK/dst.yaml" "$DST_URL"
mkdir -p "$WORK/backups"

# --- the source: a small corpus and an API key -----------------------------------------------------
make_tree "$WORK/repo"
SRC=/usr/lib/python3.11
for d in json email; do [ -d "$SRC/$d" ] && cp -r "$SRC/$d" "$WORK/repo/"; done
find "$WORK/repo" -name __pycache__ -prune -exec rm -rf {} +
run_expect 0 "$SH" --config "$WORK/src.yaml" index "$WORK/repo" --collection corpus
run_expect 0 "$SH" --config "$WORK/src.yaml" index "$WORK/repo/json" --collection second --allow-overlap
KEY="$("$SH" --config "$WORK/src.yaml" keys create --name restored --scopes search | tail -n 1)"
[[ "$KEY" =~ ^shk_ ]] || fail "keys create in the database: $KEY"
pass "source indexed (collections corpus, second), API key created"

# --- backup create ---------------------------------------------------------------------------------
run_expect 0 "$SH" --config "$WORK/src.yaml" backup create "$WORK/backups/pg.tar.zst" --json
records="$(json_get "$OUT" "d['records']")"
corpus="$(json_get "$OUT" "[c['records'] for c in d['collections'] if c['name']=='corpus'][0]")"
[ "$records" -gt 0 ] && [ "$corpus" -gt 0 ] || fail "backup holds no records: $OUT"
[ "$(json_get "$OUT" "d['source']")" = postgresql ] || fail "manifest source: $OUT"
[ "$(json_get "$OUT" "d['schema_version']")" -ge 1 ] || fail "no schema version: $OUT"
assert_contains "$ERR" "1 API key(s)" "key table in the archive"
case "$OUT" in *"$(sed -n 's|^postgresql://[^:]*:\([^@]*\)@.*|\1|p' "$URL_FILE")"*) fail "the archive summary shows the password" ;; esac
run_expect 0 "$SH" backup verify "$WORK/backups/pg.tar.zst"
assert_contains "$OUT" "OK" "verify"
tar --zstd -tf "$WORK/backups/pg.tar.zst" >"$WORK/members" || fail "tar cannot read the archive"
assert_contains "$(cat "$WORK/members")" "data/records.jsonl" "records member"
assert_contains "$(cat "$WORK/members")" "keys/api-keys.jsonl" "key table member"
pass "backup create --database: $records records, verify OK"

# --- restore into a second, empty database ---------------------------------------------------------
run_expect 0 "$SH" --config "$WORK/dst.yaml" backup restore "$WORK/backups/pg.tar.zst" --database "$DST_URL"
assert_contains "$OUT" "restored collection corpus: $corpus records (manifest: $corpus)" "restore counts"
assert_contains "$OUT" "restored 1 API key(s)" "restored keys"
run_expect 0 "$SH" migrate export --source postgresql --database "$SRC_URL" --all --output "$WORK/src.jsonl"
run_expect 0 "$SH" migrate verify --database "$DST_URL" --against "$WORK/src.jsonl"
missing="$(grep -c '^  missing:   0' <<<"$OUT" || true)"
different="$(grep -c '^  different: 0' <<<"$OUT" || true)"
[ "$missing" = 2 ] && [ "$different" = 2 ] || fail "migrate verify after restore: $OUT"
pass "restore --database: counts match; migrate verify: 0 missing / 0 different in both collections"

"$SH" --config "$WORK/dst.yaml" serve --transport http --port 0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
PID=$!
wait_for_address "$PID" "$WORK/serve.err"
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"it","version":"0"}}}'
code() { curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/mcp" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' "$@" --data-binary "$init" || true; }
[ "$(code -H "Authorization: Bearer $KEY")" = 200 ] || fail "the restored key does not authenticate"
[ "$(code -H "Authorization: Bearer shk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")" = 401 ] ||
    fail "a wrong key is not refused by the restored server"
kill -TERM "$PID"; wait "$PID" || true
pass "the API key authenticates against the restored database (HTTP 200; a wrong key 401)"

# --- a non-empty target is refused ----------------------------------------------------------------
run_expect 4 "$SH" --config "$WORK/dst.yaml" backup restore "$WORK/backups/pg.tar.zst" --database "$DST_URL"
assert_contains "$ERR" "not empty" "non-empty target"
pass "restore onto a non-empty database: exit 4 without --force"

# --- a tampered archive ---------------------------------------------------------------------------
cp "$WORK/backups/pg.tar.zst" "$WORK/backups/tampered.tar.zst"
size="$(stat -c %s "$WORK/backups/tampered.tar.zst")"
python3 - "$WORK/backups/tampered.tar.zst" "$((size * 2 / 3))" <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, 'rb').read()); b[off] ^= 0x40; open(p, 'wb').write(bytes(b))
PY
run_expect 7 "$SH" backup verify "$WORK/backups/tampered.tar.zst"
run_expect 7 "$SH" --config "$WORK/dst.yaml" backup restore "$WORK/backups/tampered.tar.zst" --database "$BAD_URL"
pass "a tampered archive: verify and restore exit 7"

# --- a manifest claiming more records than the archive holds ---------------------------------------
mkdir -p "$WORK/repack" && tar --zstd -xf "$WORK/backups/pg.tar.zst" -C "$WORK/repack"
python3 - "$WORK/repack/manifest.json" <<'PY'
import json, sys
p = sys.argv[1]; m = json.load(open(p))
m['collections'][0]['records'] += 5
if 'records' in m: m['records'] += 5
json.dump(m, open(p, 'w'))
PY
(cd "$WORK/repack" && tar --format=ustar -cf - manifest.json data keys | zstd -q -o "$WORK/backups/more.tar.zst")
run_expect 7 "$SH" --config "$WORK/dst.yaml" backup restore "$WORK/backups/more.tar.zst" --database "$BAD_URL"
assert_contains "$ERR" "manifest says" "count mismatch message"
pass "a manifest claiming more records: restore exits 7 ($(echo "$ERR" | head -c 200))"
# ... and the failed restore is rolled back: the schema it created is gone.
assert_contains "$ERR" "the restore was rolled back" "rollback message"
[ "$(sql "SELECT count(*) FROM pg_namespace WHERE nspname = '$BAD_SCHEMA'")" = 0 ] ||
    fail "schema $BAD_SCHEMA left behind by the failed restore: $(sql "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = '$BAD_SCHEMA'")"
# A schema that held a table of the operator's before: that stays, nothing of the restore's remains.
sql "CREATE SCHEMA \"$OWN_SCHEMA\"; CREATE TABLE \"$OWN_SCHEMA\".notes(id int PRIMARY KEY); INSERT INTO \"$OWN_SCHEMA\".notes VALUES (1)" >/dev/null
run_expect 7 "$SH" --config "$WORK/dst.yaml" backup restore "$WORK/backups/more.tar.zst" --database "$OWN_URL"
assert_contains "$ERR" "the restore was rolled back" "rollback message"
echo "rollback: $ERR"
left="$(sql "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = '$OWN_SCHEMA' AND relkind IN ('r', 'p')")"
[ "$left" = notes ] || fail "after the failed restore schema $OWN_SCHEMA holds: $left (expected only notes)"
[ "$(sql "SELECT count(*) FROM \"$OWN_SCHEMA\".notes")" = 1 ] || fail "the operator's table lost its row"
sql "DROP SCHEMA \"$OWN_SCHEMA\" CASCADE" >/dev/null
pass "the failed restore was rolled back: a fresh schema is gone; a schema's own table stays, nothing of the restore remains"

# --- restore drill of a PostgreSQL archive -------------------------------------------------------
mkdir -p "$WORK/drill" "$WORK/baddrill"
cp "$WORK/backups/pg.tar.zst" "$WORK/drill/"
run_expect 0 "$SH" backup drill "$WORK/drill" --metrics-file "$WORK/drill.prom"
assert_contains "$OUT" "$records records" "drill records"
drilled="$(grep '^drill of' <<<"$OUT" || true)"
assert_contains "$(cat "$WORK/drill.prom")" 'signal_hub_backup_drill_success{source="postgresql"} 1' "drill metrics"
cp "$WORK/backups/more.tar.zst" "$WORK/baddrill/"
run_expect 7 "$SH" backup drill "$WORK/baddrill" --metrics-file "$WORK/baddrill.prom"
assert_contains "$ERR" "manifest says" "drill of the inflated archive"
assert_contains "$(cat "$WORK/baddrill.prom")" 'signal_hub_backup_drill_success{source="postgresql"} 0' "failed drill metrics"
pass "backup drill of the PostgreSQL archive: passed ($drilled); of the inflated one: exit 7"
