#!/usr/bin/env bash
# Prometheus metrics of `signal-hub serve --transport http` (docs/production/monitoring/metrics.md):
# the metrics listener on its own (ephemeral) port, a scripted MCP exchange with curl, then a scrape
# that `promtool check metrics` accepts and that counts exactly what the exchange did. Also: GET/HEAD
# only on the metrics path, the metrics port may not be the MCP port, monitoring.metrics.enabled=false
# and stdio open no listener. Embedding tokens as an OpenAI-compatible provider (the fixture
# tests/fixtures/openai_fixture.js, Node.js) reports them; none for the builtin embedder.
source "$(dirname "$0")/lib.sh"
# Metrics are off by default (docs/configuration.md); this test turns them on, as production does.
export SIGNAL_HUB_MONITORING__METRICS__ENABLED=true
command -v node >/dev/null || fail "node is required for the OpenAI fixture (Debian package nodejs, scripts/debian-packages.txt)"
command -v curl >/dev/null || fail "curl is required (scripts/test.sh installs it)"
command -v openssl >/dev/null || fail "openssl is required (scripts/test.sh installs it)"
command -v promtool >/dev/null || fail "promtool is required (Debian package prometheus; scripts/test.sh installs it)"
make_tree "$WORK/repo"
STORE="$WORK/repo/.signal-hub"
run_expect 0 "$SH" -q index "$WORK/repo"

# value SCRAPE_FILE 'series{labels}': the sample's value ("" when absent). Labels in the order rendered.
value() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }
expect_value() { # FILE SERIES WANT
    local got; got="$(value "$1" "$2")"
    [ "$got" = "$3" ] || fail "$2: expected $3, got '${got}' in the scrape:
$(grep -v '^#' "$1" | grep "${2%%\{*}" || true)"
}
expect_positive() { # FILE SERIES
    local got; got="$(value "$1" "$2")"
    python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)" "${got:-0}" || fail "$2: expected > 0, got '$got'"
}

"$SH" --store "$STORE" serve --transport http --port 0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
PID=$!
wait_for_address "$PID" "$WORK/serve.err"
wait_for_metrics "$WORK/serve.err"
case "$METRICS_URL" in http://127.0.0.1:*/metrics) ;; *) fail "metrics address: $METRICS_URL" ;; esac
METRICS_PORT="${METRICS_URL#http://127.0.0.1:}"; METRICS_PORT="${METRICS_PORT%/metrics}"
[ "$METRICS_PORT" != "$PORT" ] || fail "the metrics listener shares the MCP port $PORT"
pass "MCP on 127.0.0.1:$PORT, metrics at $METRICS_URL"

# --- the scripted exchange -------------------------------------------------------------------------
mcp_initialize
mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
[ "$CODE" = 200 ] || fail "tools/list: $CODE $BODY"
mcp '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"search_code","arguments":{"query":"split a url into scheme and host"}}}'
[ "$CODE" = 200 ] || fail "tools/call search_code: $CODE $BODY"
assert_contains "$BODY" "url.py" "search_code result"
mcp '{"jsonrpc":"2.0","id":4,"method":"no/such/method"}'
assert_contains "$BODY" "-32601" "unknown method"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope")" = 404 ] || fail "GET /nope is not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = 200 ] || fail "/health"
pass "exchange: initialize, tools/list, tools/call search_code, an unknown method, GET /nope, GET /health"

# --- the scrape ------------------------------------------------------------------------------------
# HTTP responses are counted once written, which can be just after curl read them: scrape until
# the /health response is counted (bounded).
for _ in $(seq 1 50); do
    curl -s -D "$WORK/scrape.headers" -o "$WORK/scrape.txt" "$METRICS_URL" || fail "scrape failed"
    [ -n "$(value "$WORK/scrape.txt" 'signal_hub_http_requests_total{route="health",method="GET",status="200"}')" ] && break
    sleep 0.1
done
grep -qi '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "$WORK/scrape.headers" \
    || fail "scrape content type: $(cat "$WORK/scrape.headers")"
promtool check metrics <"$WORK/scrape.txt" >"$WORK/promtool.out" 2>&1 \
    || fail "promtool check metrics: $(cat "$WORK/promtool.out")"
pass "promtool check metrics accepts the scrape ($(grep -vc '^#' "$WORK/scrape.txt") samples)"

S="$WORK/scrape.txt"
expect_value "$S" 'signal_hub_mcp_requests_total{method="initialize",outcome="ok"}' 1
expect_value "$S" 'signal_hub_mcp_requests_total{method="tools/list",outcome="ok"}' 1
expect_value "$S" 'signal_hub_mcp_requests_total{method="tools/call",outcome="ok"}' 1
expect_value "$S" 'signal_hub_mcp_requests_total{method="other",outcome="error"}' 1
expect_value "$S" 'signal_hub_mcp_tool_calls_total{tool="search_code",outcome="ok"}' 1
expect_value "$S" 'signal_hub_mcp_tool_duration_seconds_count{tool="search_code"}' 1
expect_value "$S" 'signal_hub_mcp_tool_duration_seconds_bucket{tool="search_code",le="+Inf"}' 1
grep -q 'method="no/such/method"' "$S" && fail "an unknown MCP method became a label value"
pass "MCP: one request per method (the unknown one as \"other\"), search_code called once"
expect_value "$S" 'signal_hub_http_requests_total{route="mcp",method="POST",status="200"}' 4
expect_value "$S" 'signal_hub_http_requests_total{route="mcp",method="POST",status="202"}' 1
expect_value "$S" 'signal_hub_http_requests_total{route="other",method="GET",status="404"}' 1
expect_value "$S" 'signal_hub_http_requests_total{route="health",method="GET",status="200"}' 1
expect_value "$S" 'signal_hub_http_request_duration_seconds_count{route="health"}' 1
grep -q '/nope' "$S" && fail "a request path became a label value"
expect_value "$S" 'signal_hub_mcp_sessions_active' 1
expect_value "$S" 'signal_hub_http_connections_refused_total' 0
pass "HTTP: responses by route, method and status; one open MCP session"
expect_value "$S" 'signal_hub_search_duration_seconds_count{backend="embedded",mode="hybrid"}' 1
expect_positive "$S" 'signal_hub_embedding_requests_total{provider="builtin",outcome="ok"}'
expect_value "$S" 'signal_hub_embedding_requests_total{provider="builtin",outcome="error"}' 0
expect_value "$S" 'signal_hub_cache_requests_total{backend="memory",result="miss"}' 1
expect_value "$S" 'signal_hub_cache_requests_total{backend="memory",result="hit"}' 0
records="$(json_get "$("$SH" --store "$STORE" status --json)" "d['collections'][0]['records']")"
expect_value "$S" 'signal_hub_collection_records{collection="repo"}' "$records"
expect_positive "$S" 'signal_hub_collection_last_indexed_timestamp_seconds{collection="repo"}'
pass "search, embedding, cache and collection series ($records records in collection repo)"
expect_value "$S" 'signal_hub_ready' 1
grep -q '^signal_hub_build_info{version="0.1.0",compiler="gcc [^"]*"} 1$' "$S" || fail "signal_hub_build_info"
expect_positive "$S" 'process_resident_memory_bytes'
expect_positive "$S" 'process_open_fds'
expect_positive "$S" 'process_start_time_seconds'
expect_value "$S" 'signal_hub_auth_failures_total{reason="missing"}' 0
pass "build_info, ready, process_* and zero-initialised security counters"
grep -q '^signal_hub_db_pool_' "$S" && fail "the embedded store has no connection pool, yet: $(grep '^signal_hub_db_pool_' "$S")"
grep -q '^signal_hub_embedding_tokens_total' "$S" && fail "the builtin embedder reports no tokens, yet the series exists"
pass "no signal_hub_db_pool_* (embedded store) and no signal_hub_embedding_tokens_total (builtin embedder)"

# A second tools/call shows up in the next scrape (counters move; nothing is cached for long).
mcp '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"search_code","arguments":{"query":"split a url into scheme and host"}}}'
curl -s -o "$WORK/scrape2.txt" "$METRICS_URL"
expect_value "$WORK/scrape2.txt" 'signal_hub_mcp_tool_calls_total{tool="search_code",outcome="ok"}' 2
expect_value "$WORK/scrape2.txt" 'signal_hub_cache_requests_total{backend="memory",result="hit"}' 1
pass "a second search_code call is counted (and hits the result cache)"

# --- the listener: GET/HEAD on the path only --------------------------------------------------------
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code -I "$METRICS_URL")" = 200 ] || fail "HEAD $METRICS_URL"
[ "$(code -X POST "$METRICS_URL")" = 405 ] || fail "POST $METRICS_URL is not 405"
[ "$(code "http://127.0.0.1:$METRICS_PORT/")" = 404 ] || fail "GET / on the metrics port is not 404"
[ "$(code "http://127.0.0.1:$METRICS_PORT/mcp")" = 404 ] || fail "the metrics port serves /mcp"
[ "$(code "http://127.0.0.1:$PORT/metrics")" = 404 ] || fail "the MCP port serves /metrics"
pass "metrics listener: HEAD 200, POST 405, other paths 404; /metrics is not on the MCP port"

kill -TERM "$PID"
set +e; wait "$PID"; rc=$?; set -e
[ "$rc" -eq 0 ] || fail "serve exited $rc after SIGTERM: $(cat "$WORK/serve.err")"
curl -s -m 5 -o /dev/null "$METRICS_URL" && fail "the metrics listener outlived the server"
pass "SIGTERM stops both listeners"

# --- TLS: the served certificate's notAfter, and a failed handshake ---------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/server.key" -out "$WORK/server.crt" -days 30 \
    -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
want="$(python3 -c 'import calendar, sys, time; print(calendar.timegm(time.strptime(sys.argv[1], "%b %d %H:%M:%S %Y GMT")))' \
    "$(openssl x509 -in "$WORK/server.crt" -noout -enddate | sed 's/^notAfter=//')")"
SIGNAL_HUB_SECURITY__TLS__ENABLED=true SIGNAL_HUB_SECURITY__TLS__CERT_FILE="$WORK/server.crt" \
    SIGNAL_HUB_SECURITY__TLS__KEY_FILE="$WORK/server.key" \
    "$SH" --store "$STORE" serve --transport http --port 0 >"$WORK/tls.out" 2>"$WORK/tls.err" &
PID=$!
wait_for_address "$PID" "$WORK/tls.err"
wait_for_metrics "$WORK/tls.err"
code="$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health" || true)"
[ "$code" = 400 ] || fail "plain HTTP to the TLS port: $code, expected 400 (use https)"
for _ in $(seq 1 50); do
    curl -s -o "$WORK/tls-scrape.txt" "$METRICS_URL"
    [ "$(value "$WORK/tls-scrape.txt" signal_hub_tls_handshake_failures_total)" = 1 ] && break
    sleep 0.1
done
expect_value "$WORK/tls-scrape.txt" signal_hub_tls_handshake_failures_total 1
expect_value "$WORK/tls-scrape.txt" signal_hub_tls_certificate_expiry_timestamp_seconds "$want"
kill -TERM "$PID"
set +e; wait "$PID"; set -e
pass "TLS: certificate expiry $want (openssl's notAfter) and one failed handshake (plain HTTP) counted"

# --- serve --watch: index passes and chunks written ------------------------------------------------
"$SH" --store "$STORE" serve --transport http --port 0 --watch --root "$WORK/repo" >"$WORK/watch.out" 2>"$WORK/watch.err" &
PID=$!
wait_for_address "$PID" "$WORK/watch.err"
wait_for_metrics "$WORK/watch.err"
printf 'def watched_function():\n    return 42\n' >"$WORK/repo/src/watched.py"
runs=""
for _ in $(seq 1 100); do
    curl -s -o "$WORK/watch-scrape.txt" "$METRICS_URL"
    chunks="$(value "$WORK/watch-scrape.txt" 'signal_hub_index_chunks_total{collection="repo"}')"
    [ -n "$chunks" ] && [ "$chunks" != 0 ] && break
    sleep 0.2
done
runs="$(value "$WORK/watch-scrape.txt" 'signal_hub_index_runs_total{collection="repo",outcome="ok"}')"
[ -n "$runs" ] && [ "$runs" -ge 2 ] || fail "index runs after the start pass and a change: '$runs'"
[ -n "$chunks" ] && [ "$chunks" -ge 1 ] || fail "chunks written for the new file: '$chunks'"
kill -TERM "$PID"
set +e; wait "$PID"; set -e
pass "serve --watch: $runs index passes, $chunks chunks written counted"

# --- configuration ---------------------------------------------------------------------------------
run_expect 2 env SIGNAL_HUB_MONITORING__METRICS__PORT=18999 "$SH" --store "$STORE" serve --transport http --port 18999
assert_contains "$ERR" "monitoring.metrics.port: must differ from server.port (18999)" "same port"
pass "the metrics port may not be the MCP port: $(echo "$ERR" | head -1)"

for off in false default; do
    if [ "$off" = default ]; then
        env -u SIGNAL_HUB_MONITORING__METRICS__ENABLED "$SH" --store "$STORE" serve --transport http --port 0 \
            >"$WORK/off.out" 2>"$WORK/off.err" &
    else
        SIGNAL_HUB_MONITORING__METRICS__ENABLED=false "$SH" --store "$STORE" serve --transport http --port 0 \
            >"$WORK/off.out" 2>"$WORK/off.err" &
    fi
    PID=$!
    wait_for_address "$PID" "$WORK/off.err"
    kill -TERM "$PID"
    set +e; wait "$PID"; rc=$?; set -e
    [ "$rc" -eq 0 ] || fail "serve (metrics $off) exited $rc"
    grep -q "metrics at" "$WORK/off.err" && fail "metrics $off still opened a listener: $(cat "$WORK/off.err")"
    pass "monitoring.metrics.enabled $off: no metrics listener"
done

# --- embedding tokens: the usage an OpenAI-compatible provider reports -----------------------------
# The fixture runs while its stdin (a FIFO we hold open on fd 8) is open.
mkfifo "$WORK/fx.in"
node "$TESTS_DIR/../fixtures/openai_fixture.js" <"$WORK/fx.in" >"$WORK/fx.out" 2>"$WORK/fx.err" &
FX_PID=$!
exec 8>"$WORK/fx.in"
FX_PORT=""
for _ in $(seq 1 100); do
    FX_PORT="$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$WORK/fx.out")"
    [ -n "$FX_PORT" ] && break
    sleep 0.1
done
[ -n "$FX_PORT" ] || fail "the OpenAI fixture printed no port: $(cat "$WORK/fx.out" "$WORK/fx.err")"
cat >"$WORK/openai.yaml" <<YAML
embedding:
  provider: openai
  base_url: http://127.0.0.1:$FX_PORT/v1
  model: test-model
  dimension: 8
  api_key_env: ""
YAML
make_tree "$WORK/oa-repo"
run_expect 0 "$SH" -q --config "$WORK/openai.yaml" index "$WORK/oa-repo"
curl -s -m 5 -X POST "http://127.0.0.1:$FX_PORT/reset" >/dev/null || fail "fixture reset"
"$SH" --config "$WORK/openai.yaml" --store "$WORK/oa-repo/.signal-hub" serve --transport http --port 0 \
    >"$WORK/oa.out" 2>"$WORK/oa.err" &
PID=$!
wait_for_address "$PID" "$WORK/oa.err"
wait_for_metrics "$WORK/oa.err"
mcp_initialize
for q in "split a url into scheme and host" "adler checksum"; do
    mcp '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_code","arguments":{"query":"'"$q"'"}}}'
    [ "$CODE" = 200 ] || fail "search_code over the openai provider: $CODE $BODY"
done
curl -s -o "$WORK/oa-scrape.txt" "$METRICS_URL"
promtool check metrics <"$WORK/oa-scrape.txt" >"$WORK/promtool.out" 2>&1 \
    || fail "promtool check metrics: $(cat "$WORK/promtool.out")"
reported="$(json_get "$(curl -s -m 5 "http://127.0.0.1:$FX_PORT/stats")" "d['tokens']")"
[ "$reported" -gt 0 ] || fail "the fixture reported no tokens"
expect_value "$WORK/oa-scrape.txt" 'signal_hub_embedding_tokens_total{provider="openai"}' "$reported"
expect_value "$WORK/oa-scrape.txt" 'signal_hub_embedding_inputs_total{provider="openai"}' 2
kill -TERM "$PID"
set +e; wait "$PID"; rc=$?; set -e
[ "$rc" -eq 0 ] || fail "serve (openai) exited $rc after SIGTERM: $(cat "$WORK/oa.err")"
pass "signal_hub_embedding_tokens_total{provider=\"openai\"} is the usage the provider reported ($reported tokens)"
exec 8>&-  # the fixture exits on EOF
wait "$FX_PID" || true

run_expect 0 "$SH" --store "$STORE" serve </dev/null
case "$ERR" in *"metrics at"*) fail "stdio opened a metrics listener: $ERR" ;; esac
pass "stdio: no metrics listener"

# --- backup metrics: `migrate export --metrics-file` (a scheduled export is the monitored backup) ---
mkdir -p "$WORK/textfile"
PROM="$WORK/textfile/signal_hub_backup.prom"
before="$(date +%s)"
run_expect 0 "$SH" migrate export --source embedded --store "$STORE" --all --output "$WORK/backup.jsonl.zst" \
    --metrics-file "$PROM"
after="$(date +%s)"
promtool check metrics <"$PROM" >"$WORK/promtool.out" 2>&1 || fail "promtool check metrics (backup): $(cat "$WORK/promtool.out")"
written="$(echo "$ERR" | sed -n 's/^wrote \([0-9]*\) records.*/\1/p')"
[ -n "$written" ] && [ "$written" -gt 0 ] || fail "no record count in the export summary: $ERR"
expect_value "$PROM" 'signal_hub_backup_records{source="embedded"}' "$written"
expect_value "$PROM" 'signal_hub_backup_collections{source="embedded"}' 1
expect_value "$PROM" 'signal_hub_backup_bytes{source="embedded"}' "$(stat -c %s "$WORK/backup.jsonl.zst")"
stamp="$(value "$PROM" 'signal_hub_backup_last_success_timestamp_seconds{source="embedded"}')"
python3 -c 'import sys; s, b, a = map(float, sys.argv[1:]); sys.exit(0 if b <= s <= a + 1 else 1)' "$stamp" "$before" "$after" \
    || fail "backup timestamp $stamp is not between $before and $after"
[ ! -e "$PROM.tmp" ] || fail "the temporary metrics file was left behind"
cp "$PROM" "$WORK/prom.before"
run_expect 3 "$SH" migrate export --source embedded --store "$WORK/no-such-store" --all --output "$WORK/b2.jsonl" \
    --metrics-file "$PROM"
cmp -s "$PROM" "$WORK/prom.before" || fail "a failed export changed the backup metrics file"
pass "migrate export --metrics-file: signal_hub_backup_* ($written records) pass promtool; a failed export leaves the file alone"
