#!/usr/bin/env bash
# The PostgreSQL + pgvector store behind a real PgBouncer in transaction pooling mode (ADR-12: no
# session state): a private PgBouncer (default_pool_size = 2) in front of the CTest fixture's
# cluster; through it: migrate init-db (also two at once: transaction-scoped advisory lock), index,
# search equal to the embedded store's, concurrent CLI searches, migrate export/import/verify (the
# import's ON COMMIT DROP staging table and COPY), and serve --transport http answering concurrent
# search_code calls. SHOW POOLS on PgBouncer's admin console (sampled during the concurrent searches)
# and pg_stat_activity show that the clients really shared at most 2 server connections.
#   pgbouncer.sh path/to/signal-hub     (SIGNAL_HUB_TEST_PG_URL_FILE names the fixture's URL file)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_lib.sh"
command -v curl >/dev/null || fail "curl is required (scripts/test.sh installs it)"
DB_NAME="sh_pgb_$$"
source "$(dirname "$0")/pgbouncer_lib.sh"
PGB_BASE="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PGB_PORT/$DB_NAME"
PGB_URL="$PGB_BASE?schema=pgb_index"
pass "PgBouncer $("$PGBOUNCER" --version | head -1 | awk '{print $2}') on 127.0.0.1:$PGB_PORT, pool_mode = transaction, 2 server connections for $DB_NAME"

# admin SHOW_COMMAND: PgBouncer's admin console (simple protocol only) as CSV with a header.
admin() { psql -X -q --csv "$ADMIN_URL" -c "$1"; }
# results JSON: "file:line" of each search result, one list.
results() { json_get "$1" "[r['file_path'] + ':' + str(r['start_line']) for r in d['results']]"; }
pgb_log_tail() { tail -n 20 "$PGB_DIR/pgbouncer.log" 2>/dev/null; }
# pool_counts: "CLIENTS SERVERS" of our database's pool (SHOW POOLS: the cl_* and sv_* columns added up).
pool_counts() {
    admin "SHOW POOLS" | python3 -c '
import csv, sys
rows = [r for r in csv.DictReader(sys.stdin) if r["database"] == sys.argv[1]]
print(sum(int(v) for r in rows for k, v in r.items() if k.startswith("cl_")),
      sum(int(v) for r in rows for k, v in r.items() if k.startswith("sv_")))' "$DB_NAME"
}

# --- init-db: one, then two at once on a fresh schema (the advisory lock is transaction-scoped) ----
run_expect 0 "$SH" migrate init-db --database "$PGB_URL"
"$SH" migrate init-db --database "$PGB_BASE?schema=pgb_race" >"$WORK/race1.out" 2>&1 & r1=$!
"$SH" migrate init-db --database "$PGB_BASE?schema=pgb_race" >"$WORK/race2.out" 2>&1 & r2=$!
set +e; wait "$r1"; rc1=$?; wait "$r2"; rc2=$?; set -e
[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ] ||
    fail "concurrent init-db through PgBouncer: exit $rc1/$rc2: $(cat "$WORK/race1.out" "$WORK/race2.out")"
[ "$(sql "$DB" "SELECT count(*) FROM pgb_race.signal_hub_schema_migrations")" = \
  "$(sql "$DB" "SELECT count(*) FROM pgb_index.signal_hub_schema_migrations")" ] || fail "concurrent init-db applied migrations twice"
pass "migrate init-db through PgBouncer; two concurrent init-db on one schema apply the migrations once"

# --- index + search, compared with the embedded store -----------------------------------------
make_tree "$WORK/repo"
run_expect 0 "$SH" --store "$PGB_URL" index "$WORK/repo"
assert_contains "$OUT" "added" "index summary"
run_expect 0 "$SH" --store "$PGB_URL" index "$WORK/repo"
assert_contains "$OUT" "0 added, 0 changed" "second index through PgBouncer"
run_expect 0 "$SH" -q --store "$WORK/embedded" index "$WORK/repo"
run_expect 0 "$SH" --store "$PGB_URL" status --json
pg_records="$(json_get "$OUT" "sum(c['records'] for c in d['collections'])")"
emb_records="$(record_count "$WORK/embedded")"
[ "$pg_records" = "$emb_records" ] && [ "$pg_records" -gt 0 ] ||
    fail "PostgreSQL (via PgBouncer) holds $pg_records records, the embedded store $emb_records"
pass "index through PgBouncer: $pg_records records like the embedded store; a second index changes nothing"

QUERIES=("split a url into scheme and host" "adler checksum" "bounded queue" "how to deploy and roll back")
for mode in lexical vector hybrid; do
    for q in "${QUERIES[@]}"; do
        run_expect 0 "$SH" --store "$PGB_URL" search "$q" --mode "$mode" --json
        pg="$(results "$OUT")"
        run_expect 0 "$SH" --store "$WORK/embedded" search "$q" --mode "$mode" --json
        emb="$(results "$OUT")"
        [ "$pg" = "$emb" ] || fail "$mode '$q': through PgBouncer $pg, embedded $emb"
    done
done
pass "lexical, vector and hybrid results through PgBouncer equal the embedded store's (${#QUERIES[@]} queries each)"

# Concurrent CLI processes: more clients than PgBouncer's 2 server connections.
pids=()
for i in 0 1 2 3 4 5; do
    q="${QUERIES[$((i % ${#QUERIES[@]}))]}"
    "$SH" --store "$PGB_URL" search "$q" --json >"$WORK/par$i.json" 2>"$WORK/par$i.err" & pids+=($!)
done
for i in "${!pids[@]}"; do
    set +e; wait "${pids[$i]}"; rc=$?; set -e
    [ "$rc" -eq 0 ] || fail "concurrent search $i through PgBouncer exited $rc: $(cat "$WORK/par$i.err")"
    q="${QUERIES[$((i % ${#QUERIES[@]}))]}"
    run_expect 0 "$SH" --store "$WORK/embedded" search "$q" --json
    [ "$(results "$(cat "$WORK/par$i.json")")" = "$(results "$OUT")" ] || fail "concurrent search '$q' differs from the embedded store's"
done
pass "6 concurrent search processes through PgBouncer: all succeed with the embedded store's results"

# --- migrate: embedded -> export -> import (ON COMMIT DROP staging + COPY) -> verify ----------
IMP_URL="$PGB_BASE?schema=pgb_import"
run_expect 0 "$SH" migrate export --source embedded --store "$WORK/embedded" --all --output "$WORK/dump.jsonl.zst"
run_expect 0 "$SH" migrate init-db --database "$IMP_URL"
run_expect 0 "$SH" migrate import --input "$WORK/dump.jsonl.zst" --database "$IMP_URL" --batch-size 3
assert_contains "$OUT" "$emb_records written" "import through PgBouncer"
run_expect 0 "$SH" migrate verify --database "$IMP_URL" --against "$WORK/dump.jsonl.zst" --json
[ "$(json_get "$OUT" "(d['ok'], sum(c['missing'] + c['different'] + c['extra'] for c in d['collections']))")" = "(True, 0)" ] ||
    fail "verify through PgBouncer: $OUT"
run_expect 0 "$SH" migrate import --input "$WORK/dump.jsonl.zst" --database "$IMP_URL" --no-resume --batch-size 4
assert_contains "$OUT" "$emb_records written" "re-import through PgBouncer"
run_expect 0 "$SH" migrate verify --database "$IMP_URL" --against "$WORK/dump.jsonl.zst"
assert_contains "$OUT" "result: OK" "verify after re-import"
run_expect 0 "$SH" migrate verify --database "$IMP_URL" --source embedded --store "$WORK/embedded"
assert_contains "$OUT" "result: OK" "verify against the source store"
[ "$(sql "$DB" "SELECT count(*) FROM pg_class WHERE relname = 'signal_hub_import_staging'")" = 0 ] ||
    fail "an import staging table outlived its transaction"
run_expect 0 "$SH" --store "$IMP_URL" search "adler checksum" --mode lexical --json
[ "$(json_get "$OUT" "d['results'][0]['file_path']")" = src/checksum.go ] || fail "search in the imported store: $OUT"
pass "migrate export / import (batches of 3, then --no-resume) / verify through PgBouncer: OK, no staging table left"

# --- serve --transport http: 3 replicas, concurrent search_code calls ---------------------------
# ADR-12's deployment: stateless replicas share the database through PgBouncer. Each replica keeps its
# pooled connection(s) to PgBouncer open between requests; PgBouncer gives them 2 server connections.
NREPLICAS=3
CALLS_EACH=3
declare -a SERVE_PIDS SERVE_PORTS SESSIONS
for r in $(seq 1 $NREPLICAS); do
    "$SH" --store "$PGB_URL&pool_size=3&max_overflow=1" serve --transport http --port 0 --root "$WORK/repo" \
        >"$WORK/serve$r.out" 2>"$WORK/serve$r.err" &
    SERVE_PIDS[$r]=$!
    wait_for_address "${SERVE_PIDS[$r]}" "$WORK/serve$r.err"
    SERVE_PORTS[$r]="$PORT"
    ready="$(curl -s -m 10 "http://127.0.0.1:$PORT/ready")"
    [ "$(json_get "$ready" "d['status']")" = ready ] || fail "/ready of replica $r through PgBouncer: $ready"
    mcp_initialize
    SESSIONS[$r]="$SESSION"
done
cpids=()
for r in $(seq 1 $NREPLICAS); do
    for c in $(seq 1 $CALLS_EACH); do
        i=$(( (r - 1) * CALLS_EACH + c ))
        q="${QUERIES[$((i % ${#QUERIES[@]}))]} $i"   # distinct queries: no answer comes from the result cache
        body="$(python3 -c 'import json,sys; print(json.dumps({"jsonrpc":"2.0","id":int(sys.argv[2]),"method":"tools/call","params":{"name":"search_code","arguments":{"query":sys.argv[1],"limit":5}}}))' "$q" "$((100 + i))")"
        curl -s -m 60 -o "$WORK/call$i.json" -w '%{http_code}' -X POST "http://127.0.0.1:${SERVE_PORTS[$r]}/mcp" \
            -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
            -H "Mcp-Session-Id: ${SESSIONS[$r]}" --data-binary "$body" >"$WORK/call$i.code" & cpids+=($!)
    done
done
for p in "${cpids[@]}"; do wait "$p" || true; done
NCALLS=$((NREPLICAS * CALLS_EACH))
for i in $(seq 1 $NCALLS); do
    r=$(( (i - 1) / CALLS_EACH + 1 ))
    [ "$(cat "$WORK/call$i.code")" = 200 ] || fail "search_code call $i (replica $r): HTTP $(cat "$WORK/call$i.code") $(cat "$WORK/call$i.json")
server stderr: $(tail -20 "$WORK/serve$r.err")
pgbouncer log: $(pgb_log_tail)"
    reply="$(cat "$WORK/call$i.json")"
    [ "$(json_get "$reply" "'error' not in d and not d['result'].get('isError', False) and len(d['result']['structuredContent']['results']) > 0")" = True ] ||
        fail "search_code call $i (replica $r): $reply"
done
pass "serve --transport http x$NREPLICAS on the PgBouncer store: $NCALLS concurrent search_code calls all answered with results"

# The replicas' idle pooled connections are PgBouncer clients; the server connections stay at 2.
read -r clients servers < <(pool_counts)
backends="$(sql "$PG_SERVER_URL" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB_NAME'")"
[ "$servers" -le 2 ] && [ "$backends" -le 2 ] ||
    fail "more than PgBouncer's 2 server connections: SHOW POOLS $servers, pg_stat_activity $backends"
[ "$clients" -ge "$NREPLICAS" ] && [ "$clients" -gt "$servers" ] ||
    fail "expected at least $NREPLICAS PgBouncer clients (one per replica) sharing fewer server connections, got $clients clients, $servers servers"
pass "SHOW POOLS: $clients client connections (the replicas') share $servers server connection(s); pg_stat_activity: $backends backend(s)"

# Once more, after the server connections have been passed around between the replicas' clients.
for r in $(seq 1 $NREPLICAS); do
    PORT="${SERVE_PORTS[$r]}" SESSION="${SESSIONS[$r]}"
    mcp '{"jsonrpc":"2.0","id":201,"method":"tools/call","params":{"name":"search_code","arguments":{"query":"adler checksum","mode":"lexical","limit":3}}}'
    [ "$CODE" = 200 ] && [ "$(json_get "$BODY" "d['result']['structuredContent']['results'][0]['file_path']")" = src/checksum.go ] ||
        fail "replica $r, second round: HTTP $CODE $BODY"
done
pass "every replica answers again on shared server connections"

for r in $(seq 1 $NREPLICAS); do
    kill -TERM "${SERVE_PIDS[$r]}"
    set +e; wait "${SERVE_PIDS[$r]}"; rc=$?; set -e
    [ "$rc" -eq 0 ] || fail "serve replica $r exited with $rc after SIGTERM: $(tail -20 "$WORK/serve$r.err")"
done
pass "the serve replicas on the PgBouncer store shut down cleanly"

# PgBouncer saw no protocol or session-state trouble (e.g. a named prepared statement, an error on a
# pooled server connection that had to be closed).
if grep -E -i "prepared statement|server conn crashed|closing because: (client unexpected eof|server conn crashed|unexpected)|(^| )ERROR " "$PGB_DIR/pgbouncer.log" >"$WORK/pgb.errors"; then
    fail "PgBouncer logged problems: $(head -20 "$WORK/pgb.errors")"
fi
logins="$(grep -c "$DB_NAME/.* login attempt" "$PGB_DIR/pgbouncer.log" || true)"
opened="$(grep -c "$DB_NAME/.* new connection to server" "$PGB_DIR/pgbouncer.log" || true)"
read -r xacts queries < <(admin "SHOW STATS" | python3 -c 'import csv,sys; r=[r for r in csv.DictReader(sys.stdin) if r["database"] == sys.argv[1]][0]; print(r["total_xact_count"], r["total_query_count"])' "$DB_NAME")
# Never more than the pool's 2 server connections were opened: none was closed on an error and replaced,
# and every client's transactions ran on those two backends.
[ "$opened" -le 2 ] && [ "$logins" -gt "$opened" ] ||
    fail "PgBouncer opened $opened server connections for $logins client logins: $(pgb_log_tail)"
pass "PgBouncer log clean: $logins client logins, $xacts transactions ($queries queries) on $opened server connection(s) opened in all"
