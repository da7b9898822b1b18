#!/usr/bin/env bash
# The operator guide's original "Database Migration Process" (export from ChromaDB, init-db, import
# --batch-size 1000, verify --database), its four signal-hub commands verbatim with only the
# database URL and the file path replaced, against a real ChromaDB seeded by the official
# chromadb JS client (tests/chroma/seed.mjs) and a real PostgreSQL + pgvector (labels
# chroma;postgres). The ChromaDB server comes from the environment (CHROMA_URL) or the
# configuration, as the guide leaves it out. Then: verify without a file reports 0 missing /
# 0 different against what the import recorded; a record tampered in PostgreSQL makes it fail
# naming the record; a database without a recorded import is refused with the way out.
# Usage: migration_ticket.sh path/to/signal-hub
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_lib.sh"
[ -n "${SIGNAL_HUB_TEST_CHROMA_URL_FILE:-}" ] && [ -s "$SIGNAL_HUB_TEST_CHROMA_URL_FILE" ] ||
    fail "no ChromaDB: run through 'ctest -L chroma' (fixture)"
HTTP="$(head -n1 "$SIGNAL_HUB_TEST_CHROMA_URL_FILE")"; HTTP="${HTTP#chroma+}"
CH_DB="sh_ticket_$$"
DBS=("sh_ticket_$$" "sh_ticket_bare_$$")
trap 'rc=$?; drop_databases "${DBS[@]}"; rm -rf "$WORK"; exit $rc' EXIT
unset DATABASE_URL CHROMA_URL CHROMA_TOKEN SIGNAL_HUB_CONFIG
mkdir -p "$WORK/bin" "$WORK/backup" && ln -s "$SH" "$WORK/bin/signal-hub"
export PATH="$WORK/bin:$PATH"
RECORDS=1500
TOTAL=$((RECORDS + 200 + 46))
node "$TESTS_DIR/../chroma/seed.mjs" --url "$HTTP" --database "$CH_DB" --records "$RECORDS" >/dev/null 2>"$WORK/seed.err" ||
    fail "seeding Chroma: $(cat "$WORK/seed.err")"
DB="$(new_database "${DBS[0]}")"
pass "seeded Chroma database $CH_DB with $TOTAL records"

# Without a server named anywhere, the guide's export says where to name it.
run_expect 2 signal-hub migrate export --source chromadb --output "$WORK/backup/none.json"
assert_contains "$ERR" "no ChromaDB server named" "export without a Chroma server"
assert_contains "$ERR" "CHROMA_URL" "the error names the environment variable"
assert_contains "$ERR" "database.type: chromadb" "the error names the configuration"
[ ! -e "$WORK/backup/none.json" ] || fail "a file was written without a source"
pass "export --source chromadb without a server: exit 2, names --chroma-url, CHROMA_URL and the configuration"

# --- the ticket's commands (only the URL and the file path replaced) -----------------------
export CHROMA_URL="$HTTP?database=$CH_DB"
# 1. Export from ChromaDB
run_expect 0 signal-hub migrate export \
  --source chromadb \
  --output "$WORK/backup/chromadb-export.json"
assert_contains "$ERR" "no --collection given: exporting every collection" "export says it takes every collection"
for want in "exported collection code_384: $RECORDS records" "exported collection docs_1536: 200 records" \
            "exported collection notes_ip: 46 records" "wrote $TOTAL records"; do
    assert_contains "$ERR" "$want" "export summary"
done
unset CHROMA_URL
# 3. Initialize schema
run_expect 0 signal-hub migrate init-db \
  --database "$DB"
# 4. Import data
run_expect 0 signal-hub migrate import \
  --input "$WORK/backup/chromadb-export.json" \
  --database "$DB" \
  --batch-size 1000
assert_contains "$OUT" "imported collection code_384: $RECORDS records in file" "import summary"
# 5. Verify migration
run_expect 0 signal-hub migrate verify \
  --database "$DB"
assert_contains "$OUT" "against the imports recorded in it" "verify says what it compared with"
assert_contains "$OUT" "$WORK/backup/chromadb-export.json" "verify names the imported file"
assert_contains "$OUT" "records:   recorded $RECORDS, target $RECORDS" "counts"
assert_contains "$OUT" "(consistent)" "the record counter checked"
assert_contains "$OUT" "HNSW index present" "the index checked"
assert_contains "$OUT" "result: OK" "verify result"
run_expect 0 signal-hub migrate verify --database "$DB" --json
[ "$(json_get "$OUT" "(d['ok'], d['recorded'], len(d['collections']), sum(c['missing'] + c['different'] + c['extra'] for c in d['collections']), sum(c['source_records'] for c in d['collections']), min(c['recall'] for c in d['collections']) >= 0.95)")" = "(True, True, 3, 0, $TOTAL, True)" ] ||
    fail "verify --database --json: $OUT"
pass "the ticket's export / init-db / import --batch-size 1000 / verify --database work as written: 0 missing, 0 different"

# The same export with the server named by the configuration instead of the environment.
cat >"$WORK/chroma.yaml" <<EOF
database:
  type: chromadb
  url: $HTTP?database=$CH_DB
EOF
SIGNAL_HUB_CONFIG="$WORK/chroma.yaml" run_expect 0 signal-hub migrate export \
  --source chromadb \
  --output "$WORK/backup/from-config.json"
cmp <(grep -v '"type":"header"' "$WORK/backup/chromadb-export.json") <(grep -v '"type":"header"' "$WORK/backup/from-config.json") ||
    fail "the export through the configuration differs"
pass "export --source chromadb with the server from the configuration: the same file"

# --- tampering in PostgreSQL: verify --database fails naming the records ---------------------
T_NOTES="$(sql "$DB" "SELECT 'signal_hub_records_' || id FROM signal_hub_collections WHERE name = convert_to('notes_ip', 'UTF8')")"
T_CODE="$(sql "$DB" "SELECT 'signal_hub_records_' || id FROM signal_hub_collections WHERE name = convert_to('code_384', 'UTF8')")"
sql "$DB" "UPDATE $T_NOTES SET metadata = (metadata::jsonb || '{\"i\": -43}'::jsonb)::json WHERE id = convert_to('notes/with slash/and space', 'UTF8')" >/dev/null
run_expect 7 signal-hub migrate verify --database "$DB"
assert_contains "$OUT" "different: 1" "one different record"
assert_contains "$OUT" "notes/with slash/and space" "the tampered record named"
assert_contains "$OUT" "result: FAILED" "verify result"
pass "a metadata value changed in PostgreSQL: verify --database exits 7 naming the record"
sql "$DB" "DELETE FROM $T_CODE WHERE id = convert_to('src/module_0/file_7.py:7', 'UTF8')" >/dev/null
run_expect 7 signal-hub migrate verify --database "$DB" --json
[ "$(json_get "$OUT" "sorted((c['collection'], c['missing'], c['different'], c['missing_ids'] + c['different_ids']) for c in d['collections'] if not c['ok'])")" = \
  "[('code_384', 1, 0, ['src/module_0/file_7.py:7']), ('notes_ip', 0, 1, ['notes/with slash/and space'])]" ] ||
    fail "verify after a deleted row: $OUT"
pass "a deleted row: named as missing"
# The counter is the store's own consistency: a row removed behind its back is noticed by it too.
assert_contains "$(json_get "$OUT" "[(c['collection'], c['target_counter'], c['target_records']) for c in d['collections']]")" \
    "('code_384', $RECORDS, $((RECORDS - 1)))" "the record counter vs the rows"
# Re-importing the same file (no resume) repairs it; verify agrees again.
run_expect 0 signal-hub migrate import --input "$WORK/backup/chromadb-export.json" --database "$DB" --no-resume
run_expect 0 signal-hub migrate verify --database "$DB"
run_expect 0 signal-hub migrate verify --database "$DB" --input "$WORK/backup/chromadb-export.json" --sample 20
pass "re-import repairs; verify --input FILE agrees"

# --- a database without a recorded import ------------------------------------------------
BARE="$(new_database "${DBS[1]}")"
run_expect 0 signal-hub migrate init-db --database "$BARE"
run_expect 4 signal-hub migrate verify --database "$BARE"
assert_contains "$ERR" "no import is recorded in the database" "no recorded import"
assert_contains "$ERR" "pass --input FILE" "the way out"
run_expect 2 signal-hub migrate verify --store "$WORK/nowhere"
assert_contains "$ERR" "pass --input FILE" "embedded target without a file"
pass "no recorded import (or not PostgreSQL): refused, saying to pass --input FILE"
