#!/usr/bin/env bash
# Rollback into ChromaDB gives the user's applications back exactly what they had (ADR-25): a
# Chroma database seeded by the official `chromadb` JS client (tests/chroma/rollback_fixture.mjs:
# collection metadata of every scalar type, a tuned HNSW configuration, str/int/float/bool record
# metadata, documents, records without document or metadata) goes Chroma -> PostgreSQL -> a fresh
# Chroma database, with the commands of docs/production/database-migration/rollback.md. Both
# databases are then read with the chromadb client and over the REST API and compared: the same
# collections (none added), ids, documents, metadata (no key added, types kept), collection
# metadata and configuration; embeddings equal within 1e-6 of each vector's norm (Chroma re-rounds
# cosine vectors; l2/ip ones must be bit-equal). A control import with --bookkeeping on must make the
# comparison fail, so the test fails when bookkeeping leaks into a rollback.
# Usage: chroma_rollback_exact.sh path/to/signal-hub   (ctest labels postgres;chroma)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_lib.sh"
[ -n "${SIGNAL_HUB_TEST_CHROMA_URL_FILE:-}" ] && [ -s "$SIGNAL_HUB_TEST_CHROMA_URL_FILE" ] ||
    fail "no ChromaDB: run through 'ctest -L chroma' (fixture)"
CHROMA_SERVER="$(head -n1 "$SIGNAL_HUB_TEST_CHROMA_URL_FILE")"
HTTP="${CHROMA_SERVER#chroma+}"
FIXTURE="$(cd "$(dirname "$0")/../chroma" && pwd)/rollback_fixture.mjs"
DB_NAME="sh_rollback_$$"
CH_SRC="sh_rb_src_$$" CH_BACK="sh_rb_back_$$" CH_BK="sh_rb_bk_$$"
trap 'rc=$?; drop_databases "$DB_NAME"; rm -rf "$WORK"; exit $rc' EXIT
DB="$(new_database "$DB_NAME")"
unset DATABASE_URL CHROMA_URL CHROMA_TOKEN SIGNAL_HUB_CONFIG

node "$FIXTURE" seed --url "$HTTP" --database "$CH_SRC" >"$WORK/seed.out" 2>"$WORK/seed.err" ||
    fail "seeding Chroma: $(cat "$WORK/seed.err")"
pass "seeded Chroma database $CH_SRC with the chromadb client"

# --- the way in (chromadb-to-pgvector.md) and the way back (rollback.md), as documented ---------
run_expect 0 "$SH" migrate export --source chromadb --chroma-url "$HTTP?database=$CH_SRC" --all --output "$WORK/chroma-export.jsonl.zst"
run_expect 0 "$SH" migrate init-db --database "$DB"
run_expect 0 "$SH" migrate import --input "$WORK/chroma-export.jsonl.zst" --database "$DB" --batch-size 1000
run_expect 0 "$SH" migrate verify --database "$DB" --against "$WORK/chroma-export.jsonl.zst"
run_expect 0 "$SH" migrate export --source postgresql --database "$DB" --all --output "$WORK/pg-export.jsonl.zst"
zstd -qdc "$WORK/pg-export.jsonl.zst" | grep '"type":"header"' >"$WORK/pg-headers.jsonl"
python3 - "$WORK/pg-headers.jsonl" <<'PY' || fail "the PostgreSQL export lost the Chroma collection metadata: $(cat "$WORK/pg-headers.jsonl")"
import json, sys
heads = {h["collection"]: h for h in map(json.loads, open(sys.argv[1]))}
assert heads["orders.v2"]["version"] == 2, heads["orders.v2"]
assert heads["orders.v2"]["chroma"]["metadata"] == {"hnsw:space": "cosine", "owner": "team-a", "version": 3, "ratio": 0.5, "public": True}
assert heads["tuned_l2"]["chroma"]["configuration"]["hnsw"]["max_neighbors"] == 20
assert "metadata" not in heads["tuned_l2"]["chroma"]
PY
pass "Chroma -> PostgreSQL: imported, verified, exported again with each collection's Chroma metadata and configuration"

run_expect 0 "$SH" migrate import --input "$WORK/pg-export.jsonl.zst" --chroma-url "$HTTP?database=$CH_BACK"
run_expect 0 "$SH" migrate verify --source postgresql --database "$DB" --chroma-url "$HTTP?database=$CH_BACK"
assert_contains "$OUT" "re-rounding of cosine vectors" "verify names Chroma's re-rounding"
run_expect 0 "$SH" migrate verify --chroma-url "$HTTP?database=$CH_BACK" --against "$WORK/chroma-export.jsonl.zst"
pass "PostgreSQL -> fresh Chroma: imported, verify passes against PostgreSQL and against the original export"

# --- read both with the chromadb client and over REST; compare exactly ------------------------
cat >"$WORK/compare.py" <<'PY'
import json, math, sys, urllib.request
http, a_db, b_db, a_dump, b_dump = sys.argv[1:6]
problems = []
def check(cond, what):
    if not cond: problems.append(what)

def rest(db, path, body=None):
    url = f"{http}/api/v2/tenants/default_tenant/databases/{db}/collections{path}"
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="GET" if body is None else "POST")
    return json.load(urllib.request.urlopen(req))

A, B = json.load(open(a_dump)), json.load(open(b_dump))
names_a, names_b = [c["name"] for c in A], [c["name"] for c in B]
check(names_a == names_b, f"collections differ: {names_a} vs {names_b}")
for n in names_b:
    check(not n.endswith(".sh-files") and n != "signal-hub-meta", f"bookkeeping collection {n}")
for ca, cb in zip(A, B):
    name = ca["name"]
    check(ca["metadata"] == cb["metadata"], f"{name}: collection metadata {ca['metadata']} vs {cb['metadata']}")
    check(ca["configuration"] == cb["configuration"], f"{name}: configuration {ca['configuration']} vs {cb['configuration']}")
    ids_a, ids_b = [r["id"] for r in ca["records"]], [r["id"] for r in cb["records"]]
    check(ids_a == ids_b, f"{name}: ids differ")
    cosine = ca["configuration"]["hnsw"]["space"] == "cosine"
    worst = 0.0
    for ra, rb in zip(ca["records"], cb["records"]):
        check(ra["document"] == rb["document"], f"{name}/{ra['id']}: document {ra['document']!r} vs {rb['document']!r}")
        check(ra["metadata"] == rb["metadata"], f"{name}/{ra['id']}: metadata {ra['metadata']} vs {rb['metadata']}")
        for k in (rb["metadata"] or {}):
            check(not k.startswith("signal_hub:"), f"{name}/{ra['id']}: bookkeeping key {k}")
        ea, eb = ra["embedding"], rb["embedding"]
        check(len(ea) == len(eb), f"{name}/{ra['id']}: dimension")
        norm = math.sqrt(sum(x * x for x in ea))
        diff = max((abs(x - y) for x, y in zip(ea, eb)), default=0.0)
        worst = max(worst, diff / norm if norm else diff)
        check(diff <= 1e-6 * norm if cosine else ea == eb, f"{name}/{ra['id']}: embedding moved by {diff}")
    print(f"{name}: {len(ids_b)} records, largest embedding change {worst:.2e} of the norm")
    # The REST API's JSON keeps int and float apart (the JS client cannot): compare it too.
    meta_a, meta_b = rest(a_db, "/" + name), rest(b_db, "/" + name)
    check(json.dumps(meta_a["metadata"], sort_keys=True) == json.dumps(meta_b["metadata"], sort_keys=True),
          f"{name}: REST collection metadata {meta_a['metadata']} vs {meta_b['metadata']}")
    got = [rest(db, f"/{m['id']}/get", {"include": ["documents", "metadatas"], "limit": 1000}) for db, m in ((a_db, meta_a), (b_db, meta_b))]
    rows = [sorted(zip(g["ids"], g["documents"], (json.dumps(m, sort_keys=True) for m in g["metadatas"]))) for g in got]
    check(rows[0] == rows[1], f"{name}: REST records (typed metadata) differ")
for p in problems[:20]:
    print("DIFF:", p)
sys.exit(1 if problems else 0)
PY
node "$FIXTURE" dump --url "$HTTP" --database "$CH_SRC" >"$WORK/src.json" 2>/dev/null || fail "reading $CH_SRC"
node "$FIXTURE" dump --url "$HTTP" --database "$CH_BACK" >"$WORK/back.json" 2>/dev/null || fail "reading $CH_BACK"
python3 "$WORK/compare.py" "$HTTP" "$CH_SRC" "$CH_BACK" "$WORK/src.json" "$WORK/back.json" >"$WORK/cmp.out" 2>&1 ||
    fail "the rolled-back Chroma differs from the original: $(cat "$WORK/cmp.out")"
pass "rolled-back Chroma equals the original: $(tr '\n' ';' <"$WORK/cmp.out")"

# --- control: with --bookkeeping the same comparison must fail ---------------------------------
run_expect 0 "$SH" migrate import --input "$WORK/pg-export.jsonl.zst" --chroma-url "$HTTP?database=$CH_BK" --bookkeeping on
node "$FIXTURE" dump --url "$HTTP" --database "$CH_BK" >"$WORK/bk.json" 2>/dev/null || fail "reading $CH_BK"
if python3 "$WORK/compare.py" "$HTTP" "$CH_SRC" "$CH_BK" "$WORK/src.json" "$WORK/bk.json" >"$WORK/cmp-bk.out" 2>&1; then
    fail "the comparison did not notice Signal Hub's bookkeeping (--bookkeeping on import)"
fi
assert_contains "$(cat "$WORK/cmp-bk.out")" "bookkeeping collection orders.v2.sh-files" "bookkeeping collection seen"
assert_contains "$(cat "$WORK/cmp-bk.out")" "bookkeeping key signal_hub:embedding" "bookkeeping key seen"
pass "control: an import with --bookkeeping on is told apart (extra collections and signal_hub:* keys)"
