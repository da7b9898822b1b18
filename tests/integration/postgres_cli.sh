#!/usr/bin/env bash
# The CLI on PostgreSQL + pgvector chosen by configuration (database.type: postgresql): index,
# incremental re-index, search, status and serve --transport http against the real server of the
# CTest fixture `postgres`; results match the embedded store's on the same tree; the password never
# appears in output; a wrong password is a clear error; the metrics of serve carry the PostgreSQL
# connection pools (signal_hub_db_pool_*: the store's, serve --watch's writer's, the API keys').
#   postgres_cli.sh path/to/signal-hub     (SIGNAL_HUB_TEST_PG_URL_FILE names the fixture's URL file)
source "$(dirname "$0")/lib.sh"
export SIGNAL_HUB_MONITORING__METRICS__ENABLED=true  # off by default; this test scrapes them
command -v curl >/dev/null || fail "curl is required (scripts/test.sh installs it)"
command -v promtool >/dev/null || fail "promtool is required (Debian package prometheus; scripts/test.sh installs it)"
URL_FILE="${SIGNAL_HUB_TEST_PG_URL_FILE:?the postgres CTest fixture sets SIGNAL_HUB_TEST_PG_URL_FILE}"
[ -s "$URL_FILE" ] || fail "no PostgreSQL URL in $URL_FILE (did the postgres fixture start?)"
BASE_URL="$(cat "$URL_FILE")"
PASSWORD="$(sed -n 's|^postgresql://[^:]*:\([^@]*\)@.*|\1|p' "$URL_FILE")"
[ -n "$PASSWORD" ] || fail "the fixture URL has no password"
# A schema of our own: tests share the cluster.
SCHEMA="cli_$$_$RANDOM"
case "$BASE_URL" in *\?*) export PG_URL="$BASE_URL&schema=$SCHEMA" ;; *) export PG_URL="$BASE_URL?schema=$SCHEMA" ;; esac

make_tree "$WORK/repo"
cat >"$WORK/pg.yaml" <<'YAML'
database:
  type: postgresql
  url: ${PG_URL}
  pool_size: 3
  max_overflow: 2
YAML

value() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }
expect_value() { # FILE SERIES WANT
    local got; got="$(value "$1" "$2")"
    [ "$got" = "$3" ] || fail "$2: expected $3, got '${got}' in the scrape:
$(grep '^signal_hub_db_pool' "$1" || true)"
}

no_password() { # TEXT WHAT
    case "$1" in *"$PASSWORD"*) fail "$2 shows the database password: $1" ;; esac
}

run_expect 0 "$SH" --config "$WORK/pg.yaml" index "$WORK/repo"
assert_contains "$OUT" "postgresql://postgres:***@127.0.0.1" "index summary names the database"
no_password "$OUT$ERR" "index"
assert_contains "$OUT" "added" "index summary"
pass "index into PostgreSQL chosen by database.type ($(echo "$OUT" | sed -n 's/^files: //p'))"
[ ! -e "$WORK/repo/.signal-hub" ] || fail "an embedded store was created although database.type is postgresql"
pass "no embedded store is created"

run_expect 0 "$SH" --config "$WORK/pg.yaml" index "$WORK/repo"
assert_contains "$OUT" "0 added, 0 changed" "second index"
pass "a second index changes nothing"

run_expect 0 "$SH" --config "$WORK/pg.yaml" status --json
no_password "$OUT" "status"
pg_records="$(json_get "$OUT" "sum(c['records'] for c in d['collections'])")"
# Issue 20 item 10: the store line is the URL without its password and without the pool and HNSW
# parameters signal-hub adds internally; the collection shows its tree root and its freshness.
run_expect 0 "$SH" --config "$WORK/pg.yaml" status
no_password "$OUT" "status"
assert_contains "$OUT" "store: postgresql://postgres:***@127.0.0.1" "status names the database"
case "$OUT" in *pool_size*|*max_overflow*|*pool_timeout*|*hnsw_m*|*hnsw_ef_construction*)
    fail "status shows internal URL parameters: $OUT" ;; esac
assert_contains "$OUT" "root:         $WORK/repo" "status root over PostgreSQL"
assert_contains "$OUT" "changes:      none since the last index run" "status changes over PostgreSQL"
run_expect 0 "$SH" -q --store "$WORK/embedded" index "$WORK/repo"
emb_records="$(record_count "$WORK/embedded")"
[ "$pg_records" = "$emb_records" ] || fail "PostgreSQL holds $pg_records records, the embedded store $emb_records"
pass "status: $pg_records records, the same as the embedded store"

for q in "split a url into scheme and host" "adler checksum" "bounded queue"; do
    run_expect 0 "$SH" --config "$WORK/pg.yaml" search "$q" --mode lexical --json
    pg_files="$(json_get "$OUT" "[r['file_path'] + ':' + str(r['start_line']) for r in d['results']]")"
    run_expect 0 "$SH" --store "$WORK/embedded" search "$q" --mode lexical --json
    emb_files="$(json_get "$OUT" "[r['file_path'] + ':' + str(r['start_line']) for r in d['results']]")"
    [ "$pg_files" = "$emb_files" ] || fail "lexical '$q': PostgreSQL $pg_files, embedded $emb_files"
done
pass "lexical rankings equal the embedded store's for three queries"
run_expect 0 "$SH" --config "$WORK/pg.yaml" search "split a url into scheme and host" --json
[ "$(json_get "$OUT" "d['results'][0]['file_path']")" = src/net/url.py ] || fail "hybrid search: $OUT"
pass "hybrid search finds src/net/url.py first"
run_expect 0 "$SH" --store "$PG_URL" search "adler checksum" --json
[ "$(json_get "$OUT" "d['results'][0]['file_path']")" = src/checksum.go ] || fail "--store URL search: $OUT"
pass "--store accepts a postgresql:// URL"

# serve over HTTP from the database: /ready and a search through MCP.
"$SH" --config "$WORK/pg.yaml" serve --transport http --port 0 --root "$WORK/repo" >"$WORK/serve.out" 2>"$WORK/serve.err" &
PID=$!
wait_for_address "$PID" "$WORK/serve.err"
no_password "$(cat "$WORK/serve.err")" "serve"
ready="$(curl -s -m 10 "http://127.0.0.1:$PORT/ready")"
[ "$(json_get "$ready" "d['status']")" = ready ] || fail "/ready: $ready"
pass "/ready is 200 with the store in PostgreSQL"
mcp_initialize
mcp '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"index_status","arguments":{}}}'
reply="$BODY"
[ "$(json_get "$reply" "d['result']['structuredContent']['collections'][0]['tree']['up_to_date']")" = True ] ||
    fail "index_status over PostgreSQL: $reply"
pass "index_status through MCP: the tree is up to date with the database"
# The store's pool, idle between requests: database.pool_size 3 + max_overflow 2.
wait_for_metrics "$WORK/serve.err"
curl -s -m 10 -o "$WORK/scrape.txt" "$METRICS_URL" || fail "scrape $METRICS_URL"
promtool check metrics <"$WORK/scrape.txt" >"$WORK/promtool.out" 2>&1 || fail "promtool: $(cat "$WORK/promtool.out")"
expect_value "$WORK/scrape.txt" 'signal_hub_db_pool_max_connections{pool="store"}' 5
expect_value "$WORK/scrape.txt" 'signal_hub_db_pool_connections{pool="store",state="in_use"}' 0
idle="$(value "$WORK/scrape.txt" 'signal_hub_db_pool_connections{pool="store",state="idle"}')"
[ -n "$idle" ] && [ "$idle" -ge 1 ] && [ "$idle" -le 3 ] || fail "idle store connections: '$idle' (1 to pool_size 3)"
expect_value "$WORK/scrape.txt" 'signal_hub_db_pool_waiting{pool="store"}' 0
expect_value "$WORK/scrape.txt" 'signal_hub_db_pool_acquire_timeouts_total{pool="store"}' 0
grep -q '^signal_hub_db_pool_[a-z_]*{pool="\(store_writer\|api_keys\)"' "$WORK/scrape.txt" &&
    fail "pools this serve does not have: $(grep '^signal_hub_db_pool' "$WORK/scrape.txt")"
grep -q '^signal_hub_embedding_tokens_total' "$WORK/scrape.txt" && fail "the builtin embedder reports tokens"
pass "metrics: the store's pool ($idle idle, 0 in use, max 5, nobody waiting, no timeout); no token series"
kill -TERM "$PID"
set +e; wait "$PID"; rc=$?; set -e
[ "$rc" -eq 0 ] || fail "serve exited with $rc after SIGTERM"
pass "serve from PostgreSQL shuts down cleanly"

# serve --watch with API keys in the database: three pools, each with its own label.
export SIGNAL_HUB_API_KEY_PEPPER="$(head -c 48 /dev/urandom | base64 -w0)"
cat "$WORK/pg.yaml" - >"$WORK/pg-keys.yaml" <<'YAML'
security:
  api_keys: { enabled: true, storage: database }
YAML
KEY="$("$SH" --config "$WORK/pg-keys.yaml" keys create --name metrics --scopes search | tail -n 1)"
[[ "$KEY" =~ ^shk_ ]] || fail "keys create in the database: $KEY"
"$SH" --config "$WORK/pg-keys.yaml" serve --transport http --port 0 --watch --root "$WORK/repo" \
    >"$WORK/keys.out" 2>"$WORK/keys.err" &
PID=$!
wait_for_address "$PID" "$WORK/keys.err"
wait_for_metrics "$WORK/keys.err"
code="$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/mcp" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -H "Authorization: Bearer $KEY" \
    --data-binary '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"it","version":"0"}}}' || true)"
[ "$code" = 200 ] || fail "initialize with a key from the database: HTTP $code"
curl -s -m 10 -o "$WORK/scrape.txt" "$METRICS_URL" || fail "scrape $METRICS_URL"
promtool check metrics <"$WORK/scrape.txt" >"$WORK/promtool.out" 2>&1 || fail "promtool: $(cat "$WORK/promtool.out")"
for pool in store store_writer; do
    expect_value "$WORK/scrape.txt" "signal_hub_db_pool_max_connections{pool=\"$pool\"}" 5
done
expect_value "$WORK/scrape.txt" 'signal_hub_db_pool_max_connections{pool="api_keys"}' 15  # the URL's defaults 5 + 10
for pool in store store_writer api_keys; do
    for state in idle in_use; do
        n="$(value "$WORK/scrape.txt" "signal_hub_db_pool_connections{pool=\"$pool\",state=\"$state\"}")"
        [ -n "$n" ] && [ "$n" -ge 0 ] || fail "pool $pool, $state: '$n'"
    done
    expect_value "$WORK/scrape.txt" "signal_hub_db_pool_waiting{pool=\"$pool\"}" 0
    expect_value "$WORK/scrape.txt" "signal_hub_db_pool_acquire_timeouts_total{pool=\"$pool\"}" 0
done
n="$(value "$WORK/scrape.txt" 'signal_hub_db_pool_connections{pool="api_keys",state="idle"}')"
[ "$n" -ge 1 ] || fail "the API-key pool has no idle connection after authenticating a request: '$n'"
kill -TERM "$PID"
set +e; wait "$PID"; rc=$?; set -e
[ "$rc" -eq 0 ] || fail "serve (--watch, database keys) exited with $rc after SIGTERM"
pass "metrics: pools store, store_writer and api_keys, each with its own size"

BAD_URL="${PG_URL/:$PASSWORD@/:wrong-$RANDOM@}"
run_expect 5 "$SH" --store "$BAD_URL" status
no_password "$ERR" "a login error"
case "$ERR" in *wrong-*) fail "the error repeats the wrong password: $ERR" ;; esac
pass "a wrong password: exit 5 and a message without the password ($ERR)"

# Issue 20 item 13a: collections list and delete work on PostgreSQL too; a duplicate collection
# of the same tree is refused (item 6b) on a shared database as well.
run_expect 4 "$SH" --config "$WORK/pg.yaml" index -c repo-copy "$WORK/repo"
assert_contains "$ERR" "already indexed as collection 'repo'" "duplicate collection refused on PostgreSQL"
run_expect 0 "$SH" --config "$WORK/pg.yaml" collections list --json
[ "$(json_get "$OUT" "[c['name'] for c in d['collections']]")" = "['repo']" ] || fail "collections list: $OUT"
[ "$(json_get "$OUT" "d['collections'][0]['root']")" = "$WORK/repo" ] || fail "collections list root: $OUT"
records="$(json_get "$OUT" "d['collections'][0]['records']")"
run_expect 3 "$SH" --config "$WORK/pg.yaml" collections delete nope --yes
assert_contains "$ERR" "its collections: repo" "unknown collection on PostgreSQL"
run_expect 0 "$SH" --config "$WORK/pg.yaml" collections delete repo --yes
assert_contains "$OUT" "deleted collection 'repo'" "delete on PostgreSQL"
assert_contains "$OUT" "$records records" "delete counts the records"
no_password "$OUT" "collections delete"
[ "$(json_get "$("$SH" --config "$WORK/pg.yaml" collections list --json)" "len(d['collections'])")" = 0 ] ||
    fail "the collection is still listed after delete"
pass "collections list and delete on PostgreSQL"
