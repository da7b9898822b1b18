#!/usr/bin/env bash
# ChromaDB -> PostgreSQL + pgvector and back, on the real servers of the CTest fixtures `chroma`
# and `postgres` (labels chroma;postgres). Chroma is seeded by the official `chromadb` JS client
# (tests/chroma/seed.mjs: 384 and 1536 dimensions, cosine / l2 / ip, unicode, ids with spaces and
# slashes, every scalar metadata type, records without a document). Then: export -> init-db ->
# import (killed -9 mid-way, resumed) -> verify against the file and against Chroma; tampering in
# PostgreSQL detected; reverse migration into a fresh Chroma database and an embedded store gives
# the same records; connections from the configuration; no token in any output.
# Usage: migrate_chroma.sh path/to/signal-hub
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_lib.sh"
[ -n "${SIGNAL_HUB_TEST_CHROMA_URL_FILE:-}" ] && [ -s "$SIGNAL_HUB_TEST_CHROMA_URL_FILE" ] ||
    fail "no ChromaDB: run through 'ctest -L chroma' (fixture)"
CHROMA_SERVER="$(head -n1 "$SIGNAL_HUB_TEST_CHROMA_URL_FILE")"   # chroma+http://127.0.0.1:PORT
HTTP="${CHROMA_SERVER#chroma+}"
SEED="$(cd "$(dirname "$0")/../chroma" && pwd)/seed.mjs"
DB_NAME="sh_mig_chroma_$$"
CH_DB="sh_seed_$$"        # the Chroma database the "existing user" filled
CH_BACK="sh_back_$$"      # the Chroma database the reverse migration fills
trap 'rc=$?; drop_databases "$DB_NAME"; jobs -p | xargs -r kill -9 2>/dev/null; rm -rf "$WORK"; exit $rc' EXIT
DB="$(new_database "$DB_NAME")"
RECORDS="${MIGRATE_CHROMA_RECORDS:-6000}"
SRC="$HTTP?database=$CH_DB"
unset DATABASE_URL CHROMA_URL CHROMA_TOKEN SIGNAL_HUB_CONFIG

node "$SEED" --url "$HTTP" --database "$CH_DB" --records "$RECORDS" >"$WORK/seed.json" 2>"$WORK/seed.err" ||
    fail "seeding Chroma: $(cat "$WORK/seed.err")"
TOTAL=$((RECORDS + 200 + 46))
pass "seeded Chroma database $CH_DB: $(cat "$WORK/seed.json")"

# --- 1. export ------------------------------------------------------------------
run_expect 0 "$SH" migrate export --source chromadb --chroma-url "$SRC" --all --output "$WORK/dump.jsonl.zst"
assert_contains "$ERR" "wrote $TOTAL records" "export summary"
zstd -dc "$WORK/dump.jsonl.zst" >"$WORK/dump.jsonl"
[ "$(wc -l <"$WORK/dump.jsonl")" -eq $((TOTAL + 6)) ] || fail "expected $TOTAL records + 3 headers + 3 trailers"
python3 - "$WORK/dump.jsonl" "$RECORDS" <<'EOF' || fail "export content"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
heads = {l["collection"]: l for l in lines if l.get("type") == "header"}
want = {"code_384": ("cosine", 384, int(sys.argv[2])), "docs_1536": ("l2", 1536, 200), "notes_ip": ("ip", 384, 46)}
for name, (metric, dim, count) in want.items():
    h = heads[name]
    assert (h["source"], h["metric"], h["dimension"], h["records"]) == ("chromadb", metric, dim, count), h
recs = {l["id"]: l for l in lines if l.get("type") == "record"}
n = recs["notes/with slash/and space"]
assert n["document"] == "Grüße aus Köln — naïve café, 東京, emoji 🚀", n["document"]
assert n["metadata"] == {"s": "ünïcödé ✓", "i": -42, "f": 3.25, "b": True}, n["metadata"]
assert "document" not in recs["no-document-1"] and "document" not in recs["no-document-2"]
assert recs["no-document-1"]["metadata"]["i"] == 9007199254740991
assert recs["/leading/slash"]["document"] == "" and recs["/leading/slash"]["metadata"]["f"] == 1e-30
assert recs["id with  two spaces"]["metadata"] == {"s": "", "i": 0, "f": -0.5, "b": False}
raw = open(sys.argv[1], encoding="utf-8").read()
assert '"f":3.25' in raw and '"i":-42' in raw and '"half":0.25' in raw, "metadata types"
assert len(recs["doc-0001"]["embedding"]) == 1536
EOF
pass "export from Chroma: 3 collections, $TOTAL records, unicode, odd ids, metadata types, absent documents"

# --- 2. init-db, import killed -9 mid-way, resume ---------------------------------
run_expect 0 "$SH" migrate init-db --database "$DB"
run_expect 0 "$SH" migrate init-db --database "$DB"   # idempotent
"$SH" migrate import --input "$WORK/dump.jsonl.zst" --database "$DB" --batch-size 100 >"$WORK/first.out" 2>&1 &
PID=$!
done_rows=0
for _ in $(seq 1 1200); do
    done_rows="$(sql "$DB" "SELECT coalesce(sum(records), 0) FROM signal_hub_import_checkpoints" 2>/dev/null || echo 0)"
    [ "${done_rows:-0}" -ge $((RECORDS / 4)) ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
done
kill -9 "$PID" 2>/dev/null || fail "the import finished before it could be killed (raise MIGRATE_CHROMA_RECORDS)"
wait "$PID" 2>/dev/null || true
killed_at="$(sql "$DB" "SELECT coalesce(sum(records), 0) FROM signal_hub_import_checkpoints")"
[ "$killed_at" -gt 0 ] && [ "$killed_at" -lt "$TOTAL" ] || fail "killed at $killed_at of $TOTAL"
pass "import killed -9 after $killed_at of $TOTAL records"
run_expect 0 "$SH" migrate import --input "$WORK/dump.jsonl.zst" --database "$DB" --batch-size 100
assert_contains "$OUT" "already imported (checkpoint)" "resumed import"
for t in $(sql "$DB" "SELECT 'signal_hub_records_' || id FROM signal_hub_collections"); do
    [ "$(sql "$DB" "SELECT count(*) - count(DISTINCT id) FROM $t")" = 0 ] || fail "duplicates in $t"
done
[ "$(sql "$DB" "SELECT sum(records) FROM signal_hub_collections")" = "$TOTAL" ] || fail "records after resume"
pass "resumed: $TOTAL records, no duplicates"

# --- 3. verify against the file and against Chroma itself --------------------------
run_expect 0 "$SH" migrate verify --database "$DB" --against "$WORK/dump.jsonl.zst" --json
[ "$(json_get "$OUT" "(d['ok'], sum(c['missing'] + c['different'] + c['extra'] for c in d['collections']), len(d['collections']))")" = "(True, 0, 3)" ] ||
    fail "verify against the file: $OUT"
run_expect 0 "$SH" migrate verify --source chromadb --chroma-url "$SRC" --database "$DB" --sample 50
assert_contains "$OUT" "OK" "verify against Chroma"
run_expect 0 "$SH" migrate verify --source chromadb --chroma-url "$SRC" --database "$DB" --sample 50 --json
python3 -c "
import json, sys
d = json.loads(sys.argv[1])
for c in d['collections']:
    assert c['missing'] == 0 and c['different'] == 0 and c['extra'] == 0, c
    assert c['recall'] >= 0.95, c
print('recall@10:', {c['collection']: c['recall'] for c in d['collections']})
" "$OUT" || fail "verify against Chroma: $OUT"
pass "verify: 0 missing, 0 different, recall@10 >= 0.95 against the file and against Chroma"

# --- 4. tampering in PostgreSQL is detected ----------------------------------------
T_CODE="$(sql "$DB" "SELECT 'signal_hub_records_' || id FROM signal_hub_collections WHERE name = convert_to('code_384', 'UTF8')")"
T_NOTES="$(sql "$DB" "SELECT 'signal_hub_records_' || id FROM signal_hub_collections WHERE name = convert_to('notes_ip', 'UTF8')")"
sql "$DB" "DELETE FROM $T_CODE WHERE id = convert_to('src/module_0/file_7.py:7', 'UTF8')" >/dev/null
sql "$DB" "UPDATE $T_CODE SET embedding = (SELECT array_agg(CASE WHEN o = 1 THEN x + 0.001 ELSE x END ORDER BY o)::real[]::vector FROM unnest(embedding::real[]) WITH ORDINALITY AS u(x, o)) WHERE id = convert_to('src/module_1/file_0.py:40', 'UTF8')" >/dev/null
sql "$DB" "UPDATE $T_NOTES SET metadata = (metadata::jsonb || '{\"i\": -43}'::jsonb)::json WHERE id = convert_to('notes/with slash/and space', 'UTF8')" >/dev/null
run_expect 7 "$SH" migrate verify --source chromadb --chroma-url "$SRC" --database "$DB" --sample 20
assert_contains "$OUT" "src/module_0/file_7.py:7" "deleted row named"
assert_contains "$OUT" "src/module_1/file_0.py:40" "altered embedding named"
assert_contains "$OUT" "notes/with slash/and space" "altered metadata named"
pass "verify detects a deleted row, an altered embedding value and an altered metadata value (exit 7)"
run_expect 0 "$SH" migrate import --input "$WORK/dump.jsonl.zst" --database "$DB" --no-resume
run_expect 0 "$SH" migrate verify --database "$DB" --against "$WORK/dump.jsonl.zst" --sample 20
pass "re-import --no-resume repairs the target"

# --- 5. reverse: PostgreSQL -> a fresh Chroma database, and -> an embedded store -------
run_expect 0 "$SH" migrate export --source postgresql --database "$DB" --all --output "$WORK/back.jsonl.zst"
run_expect 0 "$SH" migrate import --input "$WORK/back.jsonl.zst" --chroma-url "$HTTP?database=$CH_BACK" --bookkeeping on
run_expect 0 "$SH" migrate verify --source postgresql --database "$DB" --chroma-url "$HTTP?database=$CH_BACK" --sample 20
run_expect 0 "$SH" migrate export --source chromadb --chroma-url "$HTTP?database=$CH_BACK" --all --output "$WORK/again.jsonl"
# Same records, same per-collection checksums: everything but the headers' "source" is equal.
cmp <(grep -v '"type":"header"' "$WORK/dump.jsonl") <(grep -v '"type":"header"' "$WORK/again.jsonl") ||
    fail "Chroma -> PostgreSQL -> Chroma changed records"
run_expect 0 "$SH" migrate import --input "$WORK/back.jsonl.zst" --store "$WORK/embedded"
run_expect 0 "$SH" migrate verify --store "$WORK/embedded" --against "$WORK/dump.jsonl.zst" --sample 20
pass "reverse migration: PostgreSQL -> Chroma and -> embedded give records equal to the original"

# --- 6. connections from the configuration and the environment; secrets stay hidden ----
cat >"$WORK/pg.yaml" <<EOF
database:
  type: postgresql
  url: $DB
EOF
run_expect 0 "$SH" --config "$WORK/pg.yaml" migrate verify --against "$WORK/dump.jsonl.zst" --sample 10
cat >"$WORK/chroma.yaml" <<EOF
database:
  type: chromadb
  url: $HTTP?database=$CH_BACK
EOF
run_expect 0 "$SH" --config "$WORK/chroma.yaml" migrate verify --against "$WORK/dump.jsonl.zst" --sample 10
run_expect 0 "$SH" --config "$WORK/chroma.yaml" status --json
assert_contains "$OUT" "notes_ip" "status on the configured Chroma store"
CHROMA_URL="$SRC" run_expect 0 "$SH" migrate export --source chromadb --collection notes_ip --output "$WORK/env.jsonl"
run_expect 2 "$SH" migrate import --input "$WORK/env.jsonl" --database "$DB" --chroma-url "$SRC"
assert_contains "$ERR" "give one target" "two targets refused"
run_expect 6 "$SH" migrate export --source chromadb --chroma-url "http://127.0.0.1:1?token=sekret-token-value" --all --output "$WORK/x.jsonl"
assert_contains "$ERR" "127.0.0.1:1" "unreachable Chroma named"
[[ "$OUT$ERR" != *sekret-token-value* ]] || fail "the Chroma token was printed"
pass "configuration and CHROMA_URL defaults; two targets refused; the token never printed"

# --- 7. dropping a migrated collection is explicit, on Chroma too -------------------------
run_expect 2 "$SH" migrate drop --chroma-url "$HTTP?database=$CH_BACK" --collection notes_ip
run_expect 0 "$SH" migrate drop --chroma-url "$HTTP?database=$CH_BACK" --collection notes_ip --yes
run_expect 3 "$SH" migrate export --source chromadb --chroma-url "$HTTP?database=$CH_BACK" --collection notes_ip --output "$WORK/gone.jsonl"
pass "drop on Chroma: refused without --yes, done with it"
