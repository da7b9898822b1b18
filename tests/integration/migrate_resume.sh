#!/usr/bin/env bash
# signal-hub migrate import survives kill -9 (label postgres): a generated file of 30000 records
# is imported, the importer is killed mid-way, the same command resumes from the checkpoint;
# verify passes and nothing is duplicated.
# Usage: migrate_resume.sh path/to/signal-hub path/to/gen_export_tool
source "$(dirname "$0")/lib.sh"
GEN="${2:?usage: $0 signal-hub gen_export_tool}"
source "$(dirname "$0")/pg_lib.sh"
DB_NAME="sh_mig_resume_$$"
trap 'rc=$?; drop_databases "$DB_NAME"; jobs -p | xargs -r kill -9 2>/dev/null; rm -rf "$WORK"; exit $rc' EXIT
DB="$(new_database "$DB_NAME")"
TOTAL="${MIGRATE_RESUME_RECORDS:-30000}"

"$GEN" "$WORK/gen.jsonl.zst" big "$TOTAL" 64 cosine
run_expect 0 "$SH" migrate init-db --database "$DB"

"$SH" migrate import --input "$WORK/gen.jsonl.zst" --database "$DB" --batch-size 500 >"$WORK/first.out" 2>&1 &
PID=$!
done_rows=0
for _ in $(seq 1 600); do
    done_rows="$(sql "$DB" "SELECT coalesce(max(records), 0) FROM signal_hub_import_checkpoints" 2>/dev/null || echo 0)"
    [ "${done_rows:-0}" -ge $((TOTAL / 4)) ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
done
kill -9 "$PID" 2>/dev/null || fail "the import finished before it could be killed (raise MIGRATE_RESUME_RECORDS)"
wait "$PID" 2>/dev/null || true
killed_at="$(sql "$DB" "SELECT records FROM signal_hub_import_checkpoints")"
TABLE="$(sql "$DB" "SELECT 'signal_hub_records_' || id FROM signal_hub_collections WHERE name = convert_to('big', 'UTF8')")"
rows="$(sql "$DB" "SELECT count(*) FROM $TABLE")"
[ "$rows" = "$killed_at" ] || fail "rows ($rows) and checkpoint ($killed_at) disagree after kill -9"
[ "$killed_at" -gt 0 ] && [ "$killed_at" -lt "$TOTAL" ] || fail "killed at $killed_at of $TOTAL"
pass "killed -9 after $killed_at of $TOTAL records"
# The load into the empty collection runs without its secondary indexes (built at the end, ADR-30):
# killed mid-way, the collection has none of them, and a search still answers (sequential scan).
for ix in hnsw lexemes language; do
    [ -z "$(sql "$DB" "SELECT to_regclass('${TABLE}_$ix')")" ] || fail "index ${TABLE}_$ix present during the load"
done

# The killed run loaded from the records its validation pass kept (the default --memory-budget);
# the resume gets 1 MiB, too little for the file: it drops what it kept and reads the file again
# to load (ADR-33). Both paths write the same rows.
run_expect 0 "$SH" migrate import --input "$WORK/gen.jsonl.zst" --database "$DB" --batch-size 500 --memory-budget 1
assert_contains "$OUT" "$((TOTAL - killed_at)) written, $killed_at already imported" "resume from the checkpoint"
assert_contains "$OUT" "the file was read again to load" "resume over the memory budget reads the file again"
[ "$(sql "$DB" "SELECT count(*) FROM $TABLE")" = "$TOTAL" ] || fail "row count after resume"
[ "$(sql "$DB" "SELECT count(DISTINCT id) FROM $TABLE")" = "$TOTAL" ] || fail "duplicates after resume"
[ "$(sql "$DB" "SELECT records FROM signal_hub_collections")" = "$TOTAL" ] || fail "records counter after resume"
for ix in hnsw lexemes language; do
    [ -n "$(sql "$DB" "SELECT to_regclass('${TABLE}_$ix')")" ] || fail "index ${TABLE}_$ix not rebuilt after resume"
done
run_expect 0 "$SH" migrate verify --database "$DB" --against "$WORK/gen.jsonl.zst" --sample 50 --json
[ "$(json_get "$OUT" "(d['ok'], d['collections'][0]['missing'], d['collections'][0]['different'], d['collections'][0]['target_records'])")" = "(True, 0, 0, $TOTAL)" ] ||
    fail "verify after resume: $OUT"
echo "recall@10: $(json_get "$OUT" "d['collections'][0]['recall']")"
run_expect 0 "$SH" migrate import --input "$WORK/gen.jsonl.zst" --database "$DB"
assert_contains "$OUT" "0 written, $TOTAL already imported" "third run"
assert_contains "$OUT" "loaded from the validated records in memory" "third run: the file read once"
pass "resume after kill -9: verify OK, $TOTAL rows, no duplicates"
