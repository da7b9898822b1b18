#!/usr/bin/env bash
# signal-hub migrate end to end against a real PostgreSQL + pgvector (label postgres):
# embedded -> export -> init-db -> import -> verify; idempotent re-import; tampering detected;
# mismatches and corrupt files refused; reverse direction PostgreSQL -> embedded; drop.
# Usage: migrate_postgres.sh path/to/signal-hub path/to/gen_export_tool
source "$(dirname "$0")/lib.sh"
GEN="${2:?usage: $0 signal-hub gen_export_tool}"
source "$(dirname "$0")/pg_lib.sh"
DB_NAME="sh_mig_$$"
DB_NAMES=("$DB_NAME")
trap 'rc=$?; drop_databases "${DB_NAMES[@]}"; psql -X -q "$PG_SERVER_URL" -c "DROP ROLE IF EXISTS sh_mig_role_$$" >/dev/null 2>&1; jobs -p | xargs -r kill -9 2>/dev/null; rm -rf "$WORK"; exit $rc' EXIT
DB="$(new_database "$DB_NAME")"

make_tree "$WORK/tree"
# A Latin-1 file: indexed as text, its chunks are not valid UTF-8 (exported as base64, lossless).
printf '# Latin-1 source, not UTF-8: caf\xe9\n\ndef greeting():\n    return "Gr\xfc\xdfe aus dem Caf\xe9, willkommen"\n' >"$WORK/tree/src/latin1.py"
"$SH" --store "$WORK/store" -q index "$WORK/tree" >/dev/null
COLL="$(json_get "$("$SH" --store "$WORK/store" status --json)" "d['collections'][0]['name']")"
N="$(record_count "$WORK/store")"
[ "$N" -gt 0 ] || fail "indexing produced no records"

# --- export (plain and zstd) --------------------------------------------------
run_expect 0 "$SH" migrate export --source embedded --store "$WORK/store" --all --output "$WORK/dump.jsonl"
run_expect 0 "$SH" migrate export --source embedded --store "$WORK/store" --collection "$COLL" --output "$WORK/dump.jsonl.zst"
[ "$(head -c4 "$WORK/dump.jsonl.zst" | od -An -tx1 | tr -d ' ')" = "28b52ffd" ] || fail "dump.jsonl.zst is not zstd"
cmp <(zstd -dc "$WORK/dump.jsonl.zst") "$WORK/dump.jsonl" || fail "plain and zstd exports differ"
head -n1 "$WORK/dump.jsonl" | grep -q '"format":"signal-hub-export","version":1' || fail "no header"
[ "$(wc -l <"$WORK/dump.jsonl")" -eq $((N + 2)) ] || fail "expected $N records + header + trailer"
"$SH" migrate export --source embedded --store "$WORK/store" --all --output - -q | cmp - "$WORK/dump.jsonl" ||
    fail "export to stdout differs"
grep -q '"document":{"$base64":"' "$WORK/dump.jsonl" || fail "the Latin-1 chunk was not exported as base64"
pass "export: $N records, plain = zstd = stdout, non-UTF-8 document as base64"

# Without --collection (the guide's original command): every collection, as --all, and it says so.
run_expect 0 "$SH" migrate export --source embedded --store "$WORK/store" --output "$WORK/every.jsonl"
assert_contains "$ERR" "no --collection given: exporting every collection" "export without a collection"
cmp "$WORK/every.jsonl" "$WORK/dump.jsonl" || fail "export without --collection differs from --all"
run_expect 2 "$SH" migrate export --source embedded --store "$WORK/store" --collection x --all --output "$WORK/x.jsonl"
assert_contains "$ERR" "--collection NAME or --all, not both" "export with both"
run_expect 3 "$SH" migrate export --source embedded --store "$WORK/store" --collection nope --output "$WORK/x.jsonl"
assert_contains "$ERR" "no collection 'nope'" "unknown collection"
run_expect 2 "$SH" migrate export --source chromadb --chroma-url ftp://127.0.0.1:1 --all --output "$WORK/x.jsonl"
assert_contains "$ERR" "--chroma-url must be an http:// or https:// URL" "bad --chroma-url"
pass "export errors"

# --- export never silently replaces a file (the backup) -------------------------------------
cp "$WORK/dump.jsonl" "$WORK/backup.jsonl"
echo "an older backup" >"$WORK/old.jsonl"
run_expect 4 "$SH" migrate export --source embedded --store "$WORK/store" --all --output "$WORK/old.jsonl"
assert_contains "$ERR" "$WORK/old.jsonl exists" "export onto an existing file"
assert_contains "$ERR" "--force" "export onto an existing file names the way out"
[ "$(cat "$WORK/old.jsonl")" = "an older backup" ] || fail "a refused export changed the existing file"
[ ! -e "$WORK/old.jsonl.partial" ] || fail "a refused export left a .partial file"
run_expect 0 "$SH" migrate export --source embedded --store "$WORK/store" --all --output "$WORK/old.jsonl" --force
cmp "$WORK/old.jsonl" "$WORK/dump.jsonl" || fail "export --force did not replace the file"
pass "export: an existing file is refused (exit 4, unchanged) unless --force"

# --- export --source embedded finds the store as search does ---------------------------------
mkdir -p "$WORK/tree/src/deeper"
cp -r "$WORK/store" "$WORK/tree/.signal-hub"
HERE="$PWD"
cd "$WORK/tree/src/deeper"
run_expect 0 "$SH" migrate export --source embedded --all --output "$WORK/found.jsonl"
cmp "$WORK/found.jsonl" "$WORK/dump.jsonl" || fail "export of the discovered store differs"
assert_contains "$ERR" "source: embedded store $WORK/tree/.signal-hub" "export names the store it found"
SIGNAL_HUB_STORE__PATH="$WORK/no-store-here" run_expect 3 "$SH" migrate export --source embedded --all --output "$WORK/none.jsonl"
assert_contains "$ERR" "--store" "export without a store to find"
cd "$HERE"
rm -rf "$WORK/tree/.signal-hub"
pass "export --source embedded without --store: the store search finds (nearest parent), named on stderr"

# --- progress into a file: plain lines, no bar, no carriage return ---------------------------
"$SH" migrate export --source embedded --store "$WORK/store" --all --output "$WORK/progress.jsonl" 2>"$WORK/progress.log"
grep -q "^export $COLL: $N/$N records (100%)" "$WORK/progress.log" || fail "no plain progress line: $(cat "$WORK/progress.log")"
if grep -q $'\r' "$WORK/progress.log" || grep -q '\[#' "$WORK/progress.log"; then
    fail "progress bar written into a file: $(cat -A "$WORK/progress.log")"
fi
pass "export progress into a file: plain lines"

# --- init-db (idempotent) ------------------------------------------------------
run_expect 0 "$SH" migrate init-db --database "$DB"
assert_contains "$ERR" "created database schema v1" "first init-db"
run_expect 0 "$SH" migrate init-db --database "$DB"
assert_contains "$ERR" "database schema v1 is current; nothing to do" "second init-db"
case "$ERR" in *created*) fail "the second init-db says it created the schema: $ERR" ;; esac
[ "$(sql "$DB" "SELECT count(*) FROM signal_hub_schema_migrations")" = 1 ] || fail "migrations applied twice"
pass "init-db twice: 'created database schema v1', then 'v1 is current'"

# Without the right to CREATE EXTENSION (pgvector is not a trusted extension), init-db says what a
# superuser must run.
ROLE="sh_mig_role_$$"
psql -X -q -v ON_ERROR_STOP=1 "$PG_SERVER_URL" -c "CREATE ROLE \"$ROLE\" LOGIN PASSWORD 'pw-$$'" >/dev/null
DB_NAMES+=("${DB_NAME}_noext")
NOEXT="$(new_database "${DB_NAME}_noext")"
psql -X -q -v ON_ERROR_STOP=1 "$PG_SERVER_URL" -c "ALTER DATABASE \"${DB_NAME}_noext\" OWNER TO \"$ROLE\"" >/dev/null
NOEXT_URL="$(echo "$NOEXT" | sed -E "s#//[^@]*@#//$ROLE:pw-$$@#")"
run_expect 4 "$SH" migrate init-db --database "$NOEXT_URL"
assert_contains "$ERR" "must run once, in database ${DB_NAME}_noext: CREATE EXTENSION IF NOT EXISTS vector;" "init-db without CREATE EXTENSION"
psql -X -q "$NOEXT" -c "CREATE EXTENSION vector" >/dev/null
run_expect 0 "$SH" migrate init-db --database "$NOEXT_URL"
pass "init-db without the extension privilege names the superuser statement; works once it ran"

# --- import + verify -------------------------------------------------------------
run_expect 0 "$SH" migrate import --input "$WORK/dump.jsonl.zst" --database "$DB" --batch-size 7
assert_contains "$OUT" "$N written" "import output"
TABLE="$(sql "$DB" "SELECT 'signal_hub_records_' || id FROM signal_hub_collections WHERE name = convert_to('$COLL', 'UTF8')")"
[ "$(sql "$DB" "SELECT count(*) FROM $TABLE")" = "$N" ] || fail "row count after import"
[ "$(sql "$DB" "SELECT records FROM signal_hub_collections")" = "$N" ] || fail "records counter after import"
[ -n "$(sql "$DB" "SELECT to_regclass('${TABLE}_hnsw')")" ] || fail "HNSW index missing after import"
run_expect 0 "$SH" migrate verify --database "$DB" --against "$WORK/dump.jsonl.zst" --json
[ "$(json_get "$OUT" "(d['ok'], d['collections'][0]['missing'], d['collections'][0]['different'], d['collections'][0]['extra'])")" = "(True, 0, 0, 0)" ] ||
    fail "verify after import: $OUT"
python3 -c "import json,sys; r=json.loads(sys.argv[1])['collections'][0]['recall']; assert r >= 0.95, r" "$OUT" || fail "recall: $OUT"
run_expect 0 "$SH" migrate verify --database "$DB" --source embedded --store "$WORK/store"
assert_contains "$OUT" "result: OK" "verify against the source store"
pass "import + verify (file and source store)"

# The PostgreSQL store serves searches like the embedded one.
run_expect 0 "$SH" migrate import --input "$WORK/dump.jsonl.zst" --database "$DB"
assert_contains "$OUT" "0 written, $N already imported" "re-import uses the checkpoint"
run_expect 0 "$SH" migrate import --input "$WORK/dump.jsonl" --database "$DB" --no-resume
assert_contains "$OUT" "$N written" "re-import without resume"
[ "$(sql "$DB" "SELECT count(*) FROM $TABLE")" = "$N" ] || fail "duplicates after re-import"
[ "$(sql "$DB" "SELECT records FROM signal_hub_collections")" = "$N" ] || fail "records counter after re-import"
pass "re-import: no duplicates"

# --- tampering -------------------------------------------------------------------
mapfile -t IDS < <(sql "$DB" "SELECT convert_from(id, 'UTF8') FROM $TABLE ORDER BY id LIMIT 3")
sql "$DB" "DELETE FROM $TABLE WHERE id = convert_to('${IDS[0]}', 'UTF8')" >/dev/null
sql "$DB" "UPDATE $TABLE SET embedding = (SELECT array_agg(CASE WHEN o = 1 THEN v + 0.001 ELSE v END ORDER BY o)::real[]::vector FROM unnest(embedding::real[]) WITH ORDINALITY AS t(v, o)) WHERE id = convert_to('${IDS[1]}', 'UTF8')" >/dev/null
sql "$DB" "UPDATE $TABLE SET metadata = (metadata::jsonb || '{\"start_line\": 99999}')::json WHERE id = convert_to('${IDS[2]}', 'UTF8')" >/dev/null
run_expect 7 "$SH" migrate verify --database "$DB" --against "$WORK/dump.jsonl.zst" --json
[ "$(json_get "$OUT" "(d['ok'], d['collections'][0]['missing'], d['collections'][0]['different'])")" = "(False, 1, 2)" ] ||
    fail "tampering not detected: $OUT"
[ "$(json_get "$OUT" "d['collections'][0]['missing_ids'][0]")" = "${IDS[0]}" ] || fail "missing id not listed: $OUT"
[ "$(json_get "$OUT" "sorted(d['collections'][0]['different_ids'])")" = "$(python3 -c "import sys; print(sorted(sys.argv[1:]))" "${IDS[1]}" "${IDS[2]}")" ] ||
    fail "different ids not listed: $OUT"
run_expect 7 "$SH" migrate verify --database "$DB" --against "$WORK/dump.jsonl.zst"
assert_contains "$OUT" "missing:   1" "text report"
assert_contains "$OUT" "result: FAILED" "text report"
run_expect 0 "$SH" migrate import --input "$WORK/dump.jsonl.zst" --database "$DB" --no-resume
run_expect 0 "$SH" migrate verify --database "$DB" --against "$WORK/dump.jsonl.zst"
pass "verify detects a deleted row, an altered embedding value and an altered metadata value; re-import repairs"

# --- refusals ----------------------------------------------------------------------
DIM="$(json_get "$(head -n1 "$WORK/dump.jsonl")" "d['dimension']")"
"$GEN" "$WORK/l2.jsonl" "$COLL" 10 "$DIM" l2
run_expect 4 "$SH" migrate import --input "$WORK/l2.jsonl" --database "$DB"
assert_contains "$ERR" "metric" "metric mismatch"
"$GEN" "$WORK/dim.jsonl" "$COLL" 10 $((DIM + 1)) cosine
run_expect 4 "$SH" migrate import --input "$WORK/dim.jsonl" --database "$DB"
assert_contains "$ERR" "dimension" "dimension mismatch"
head -n 4 "$WORK/dump.jsonl" >"$WORK/trunc.jsonl"
run_expect 7 "$SH" migrate import --input "$WORK/trunc.jsonl" --database "$DB"
assert_contains "$ERR" "trunc.jsonl:4:" "truncated file names the line"
sed '3s/"document":"/"document":"X/' "$WORK/dump.jsonl" >"$WORK/altered.jsonl"
run_expect 7 "$SH" migrate import --input "$WORK/altered.jsonl" --database "$DB"
assert_contains "$ERR" "checksum mismatch" "altered file"
sed '3s/^{/{{/' "$WORK/dump.jsonl" >"$WORK/broken.jsonl"
run_expect 2 "$SH" migrate import --input "$WORK/broken.jsonl" --database "$DB"
assert_contains "$ERR" "broken.jsonl:3: not valid JSON" "malformed line"
# The same refusals whether the validation pass keeps the records for the load or not (ADR-33).
run_expect 7 "$SH" migrate import --input "$WORK/altered.jsonl" --database "$DB" --memory-budget 0
assert_contains "$ERR" "checksum mismatch" "altered file, --memory-budget 0"
run_expect 2 "$SH" migrate import --input "$WORK/broken.jsonl" --database "$DB" --memory-budget 0
assert_contains "$ERR" "broken.jsonl:3: not valid JSON" "malformed line, --memory-budget 0"
[ "$(sql "$DB" "SELECT count(*) FROM $TABLE")" = "$N" ] || fail "a refused import wrote rows"
pass "dimension/metric mismatch, truncated, altered and malformed files refused"

# --- reverse: PostgreSQL -> embedded --------------------------------------------------
run_expect 0 "$SH" migrate export --source postgresql --database "$DB" --all --output "$WORK/back.jsonl.zst"
cmp <(zstd -dc "$WORK/back.jsonl.zst" | tail -n +2) <(tail -n +2 "$WORK/dump.jsonl") ||
    fail "PostgreSQL export differs from the embedded export (records or trailer)"
run_expect 0 "$SH" migrate import --input "$WORK/back.jsonl.zst" --store "$WORK/store2"
run_expect 0 "$SH" migrate verify --store "$WORK/store2" --against "$WORK/dump.jsonl"
run_expect 0 "$SH" migrate verify --store "$WORK/store2" --source postgresql --database "$DB"
run_expect 0 "$SH" --store "$WORK/store2" search "split url scheme"
assert_contains "$OUT" "url.py" "search in the rolled-back store"
pass "reverse: PostgreSQL -> embedded verified"

# --- drop -----------------------------------------------------------------------------
run_expect 2 "$SH" migrate drop --database "$DB" --collection "$COLL"
assert_contains "$ERR" "without --yes" "drop without --yes"
M="$(sql "$DB" "SELECT records FROM signal_hub_collections")"  # what the database holds now
assert_contains "$ERR" "refusing to drop collection '$COLL' ($M records)" "drop without --yes names the count"
run_expect 3 "$SH" migrate drop --database "$DB" --collection nope --yes
assert_contains "$ERR" "has no collection 'nope' (it has: $COLL)" "drop of a missing collection"
run_expect 0 "$SH" migrate drop --database "$DB" --collection "$COLL" --yes
assert_contains "$ERR" "dropped collection $COLL ($M records)" "drop names the count"
run_expect 7 "$SH" migrate verify --database "$DB" --against "$WORK/dump.jsonl"
assert_contains "$OUT" "has no collection" "verify after drop"
# A fresh import after the drop ignores the old checkpoint (it belonged to the dropped collection).
run_expect 0 "$SH" migrate import --input "$WORK/dump.jsonl.zst" --database "$DB"
assert_contains "$OUT" "$N written" "import after drop"
run_expect 0 "$SH" migrate verify --database "$DB" --against "$WORK/dump.jsonl"
pass "drop needs --yes; re-import after drop"

# --- help -------------------------------------------------------------------------------
for sub in export init-db import verify drop; do
    run_expect 0 "$SH" migrate "$sub" --help
    assert_contains "$OUT" "--database" "migrate $sub --help"
done
pass "help"
