#!/usr/bin/env bash
# Runs docs/production/database-migration as written (labels chroma;postgres): the command block
# of chromadb-to-pgvector.md, extracted from the Markdown, and the scripts of migration-scripts/,
# against a real ChromaDB (seeded by the official chromadb JS client) and a real PostgreSQL +
# pgvector (the CTest fixtures' servers on 127.0.0.1).
# Usage: migration_guide.sh path/to/signal-hub
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_lib.sh"
[ -n "${SIGNAL_HUB_TEST_CHROMA_URL_FILE:-}" ] && [ -s "$SIGNAL_HUB_TEST_CHROMA_URL_FILE" ] ||
    fail "no ChromaDB: run through 'ctest -L chroma' (fixture)"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
GUIDE="$REPO/docs/production/database-migration"
HTTP="$(head -n1 "$SIGNAL_HUB_TEST_CHROMA_URL_FILE")"; HTTP="${HTTP#chroma+}"
DBS=("sh_guide_$$" "sh_guide_script_$$")
trap 'rc=$?; drop_databases "${DBS[@]}"; rm -rf "$WORK"; exit $rc' EXIT
unset CHROMA_TOKEN SIGNAL_HUB_CONFIG
mkdir -p "$WORK/bin" && ln -s "$(cd "$(dirname "$SH")" && pwd)/$(basename "$SH")" "$WORK/bin/signal-hub"
export PATH="$WORK/bin:$PATH"
node "$REPO/tests/chroma/seed.mjs" --url "$HTTP" --database "sh_guide_$$" --records 3000 >/dev/null 2>"$WORK/seed.err" ||
    fail "seeding Chroma: $(cat "$WORK/seed.err")"

# --- the guide's command block, as written ----------------------------------------------
python3 - "$GUIDE/chromadb-to-pgvector.md" >"$WORK/guide.sh" <<'EOF' || fail "no tested block in the guide"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r"<!-- tested:[^>]*-->\s*```sh\n(.*?)\n```", text, re.S)
if not m: sys.exit(1)
print(m.group(1))
EOF
grep -q 'migrate import' "$WORK/guide.sh" || fail "the extracted block has no import: $(cat "$WORK/guide.sh")"
mkdir -p "$WORK/guide"
(
    cd "$WORK/guide"
    export CHROMA_URL="$HTTP?database=sh_guide_$$" DATABASE_URL="$(new_database "${DBS[0]}")"
    bash -euo pipefail "$WORK/guide.sh"
) >"$WORK/guide.out" 2>"$WORK/guide.err" || fail "the guide's commands failed: $(tail -20 "$WORK/guide.err") $(tail -20 "$WORK/guide.out")"
for want in "exported collection code_384: 3000 records" "exported collection docs_1536: 200 records" \
            "exported collection notes_ip: 46 records" "wrote 3246 records" "created database schema v1"; do
    assert_contains "$(cat "$WORK/guide.err")" "$want" "guide output (stderr)"
done
for want in "imported collection code_384: 3000 records in file, 3000 written, 0 already imported (checkpoint)" \
            "collection code_384: OK" "collection docs_1536: OK" "collection notes_ip: OK" "result: OK" \
            "records:   source 3000, target 3000" "missing:   0" "different: 0" "store: postgresql://" \
            "recall@10: 1.0000 over 100 sampled queries"; do
    assert_contains "$(cat "$WORK/guide.out")" "$want" "guide output (stdout)"
done
[ "$(grep -c 'result: OK' "$WORK/guide.out")" = 2 ] || fail "expected two verify reports"
pass "chromadb-to-pgvector.md: the command block runs as written; outputs as documented"

# --- migration-scripts/ -------------------------------------------------------------------
export SIGNAL_HUB="$SH" WORKDIR="$WORK/script" CHROMA_URL="$HTTP?database=sh_guide_$$"
export DATABASE_URL; DATABASE_URL="$(new_database "${DBS[1]}")"
run_expect 0 bash "$GUIDE/migration-scripts/chroma-to-pgvector.sh"
assert_contains "$OUT" "migration verified" "chroma-to-pgvector.sh"
run_expect 0 bash "$GUIDE/migration-scripts/chroma-to-pgvector.sh"   # re-run: reuses the file, writes nothing
assert_contains "$OUT" "reusing $WORK/script/chroma-export.jsonl.zst" "re-run reuses the export"
assert_contains "$OUT" "0 written, 3000 already imported" "re-run imports nothing"
run_expect 0 bash "$GUIDE/migration-scripts/chroma-to-pgvector.sh" --collection notes_ip --collection docs_1536
run_expect 2 bash "$GUIDE/migration-scripts/chroma-to-pgvector.sh" --collection
pass "migration-scripts/chroma-to-pgvector.sh: full, re-run, chosen collections"

export WORKDIR="$WORK/rollback" CHROMA_URL="$HTTP?database=sh_guide_back_$$" STORE_DIR="$WORK/restored"
run_expect 0 bash "$GUIDE/migration-scripts/pgvector-rollback.sh" chromadb
assert_contains "$OUT" "rollback copy verified" "rollback into Chroma"
run_expect 0 bash "$GUIDE/migration-scripts/pgvector-rollback.sh" embedded
assert_contains "$OUT" "result: OK" "rollback into an embedded store"
run_expect 0 "$SH" migrate verify --store "$STORE_DIR" --against "$WORK/script/chroma-export.jsonl.zst"
run_expect 2 bash "$GUIDE/migration-scripts/pgvector-rollback.sh" elsewhere
pass "migration-scripts/pgvector-rollback.sh: into Chroma and into an embedded store, verified"
