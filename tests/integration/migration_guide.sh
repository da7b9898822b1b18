#!/usr/bin/env bash
# Runs docs/production/database-migration as written (labels chroma;postgres): the command block
# of chromadb-to-pgvector.md, extracted from the Markdown, and the scripts of migration-scripts/,
# against a real ChromaDB (seeded by the official chromadb JS client) and a real PostgreSQL +
# pgvector (the CTest fixtures' servers on 127.0.0.1); then the embedded -> PostgreSQL runbook and
# its rollback, as README.md of that directory and docs/cli.md write them, with the re-index they
# ask for after a change to the tree in between (normal use).
# Usage: migration_guide.sh path/to/signal-hub
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_lib.sh"
[ -n "${SIGNAL_HUB_TEST_CHROMA_URL_FILE:-}" ] && [ -s "$SIGNAL_HUB_TEST_CHROMA_URL_FILE" ] ||
    fail "no ChromaDB: run through 'ctest -L chroma' (fixture)"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
GUIDE="$REPO/docs/production/database-migration"
HTTP="$(head -n1 "$SIGNAL_HUB_TEST_CHROMA_URL_FILE")"; HTTP="${HTTP#chroma+}"
DBS=("sh_guide_$$" "sh_guide_script_$$" "sh_guide_runbook_$$" "sh_guide_cli_$$")
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

# --- the runbook (README.md) and cli.md: embedded -> PostgreSQL, re-index, rollback ---------------
# Each command line of the blocks runs as written (/srv/repo is the test's tree, NAME its collection);
# a comment "(exit N)" on a line is the exit code it must give, else 0.
python3 - "$GUIDE/README.md" "$REPO/docs/cli.md" "$WORK" <<'EOF' || fail "cannot extract the runbook blocks"
import re, sys
readme, cli, work = open(sys.argv[1], encoding="utf-8").read(), open(sys.argv[2], encoding="utf-8").read(), sys.argv[3]
def block_after(text, marker):
    at = text.index(marker)
    m = re.compile(r"^```[a-z]*\n(.*?)^```", re.S | re.M).search(text, at)
    return m.group(1)
blocks = {
    "runbook": block_after(readme, "## Runbook: embedded"),
    "reindex": block_after(readme, "bring the database up to date with the tree"),
    "rollback": block_after(readme, "## Rollback: PostgreSQL"),
    "cli": block_after(cli, "Typical move to PostgreSQL, and back"),
}
assert "signal-hub index" in blocks["reindex"], blocks["reindex"]
assert "signal-hub index" in blocks["cli"], blocks["cli"]
for name, body in blocks.items():
    open(f"{work}/{name}.sh", "w", encoding="utf-8").write(body)
EOF
run_block() { # FILE: each command line of FILE, in the working directory, with the exported environment
    local line want rc
    while IFS= read -r line; do
        case "$line" in '' | '#'*) continue ;; esac
        line="${line//\/srv\/repo/$TREE}"; line="${line//--collection NAME/--collection $COLL}"
        want=0; [[ "$line" =~ \(exit\ ([0-9]+)\) ]] && want="${BASH_REMATCH[1]}"
        set +e; bash -c "$line" >"$WORK/line.out" 2>"$WORK/line.err"; rc=$?; set -e
        cat "$WORK/line.out" >>"$WORK/block.out"; cat "$WORK/line.err" >>"$WORK/block.err"
        [ "$rc" -eq "$want" ] || fail "$(basename "$1"): '$line' exited $rc, expected $want:
$(tail -20 "$WORK/line.err") $(tail -20 "$WORK/line.out")"
    done <"$1"
}
unset CHROMA_URL WORKDIR STORE_DIR
TREE="$WORK/repo"; make_tree "$TREE"
"$SH" -q index "$TREE" >/dev/null
COLL="$(json_get "$("$SH" --store "$TREE/.signal-hub" status --json)" "d['collections'][0]['name']")"
mkdir -p "$WORK/runbook" && cd "$WORK/runbook"
export DATABASE_URL; DATABASE_URL="$(new_database "${DBS[2]}")"
run_block "$WORK/runbook.sh"
# Normal use after the move: the tree changes, and the configuration points at the database.
cat >"$TREE/src/added.py" <<'PY'
def added_after_the_migration(x):
    """A function written after the move to PostgreSQL."""
    return x * 2
PY
export SIGNAL_HUB_DATABASE__TYPE=postgresql SIGNAL_HUB_DATABASE__URL="$DATABASE_URL"
run_block "$WORK/reindex.sh"
unset SIGNAL_HUB_DATABASE__TYPE SIGNAL_HUB_DATABASE__URL
run_block "$WORK/rollback.sh"
assert_contains "$(cat "$WORK/block.out")" "result: OK" "the rollback's verify"
assert_contains "$(cat "$WORK/block.err")" "dropped collection $COLL" "the rollback's drop"
# Why the runbook verifies against PostgreSQL: the first export no longer matches after the re-index.
run_expect 7 "$SH" migrate verify --store "$TREE/.signal-hub-restored" --against "$WORK/runbook/dump.jsonl.zst"
assert_contains "$OUT" "extra:" "verify of the restored store against the first export"
pass "README.md runbook: export, init-db, import, verify, re-index after a change, rollback verified, drop"

# cli.md's "Typical move to PostgreSQL, and back", in the tree, with database.type: postgresql.
rm -rf "$TREE/.signal-hub-restored" && "$SH" -q index "$TREE" >/dev/null
cd "$TREE" && : >"$WORK/block.out" && : >"$WORK/block.err"
DATABASE_URL="$(new_database "${DBS[3]}")"
export SIGNAL_HUB_DATABASE__TYPE=postgresql SIGNAL_HUB_DATABASE__URL="$DATABASE_URL"
cat >"$TREE/src/later.py" <<'PY'
def written_later():
    return "changed between the move and the re-index"
PY
run_block "$WORK/cli.sh"
[ "$(grep -c 'result: OK' "$WORK/block.out")" = 3 ] || fail "cli.md: expected three verify reports: $(cat "$WORK/block.out")"
pass "cli.md: move to PostgreSQL, re-index, rollback verified against PostgreSQL"
