#!/usr/bin/env bash
# Distributed tracing (monitoring.tracing, docs/production/monitoring/tracing.md), end to end:
# `signal-hub serve` exports OTLP/HTTP to tests/fixtures/otlp_receiver.py, which decodes and validates
# every payload against the OTLP specification (Jaeger itself cannot run here). Embeddings come from
# tests/fixtures/openai_fixture.js, so the propagation of traceparent to a downstream HTTP service is
# seen where it arrives.
#   - a request with a sampled traceparent yields spans with that trace id: the HTTP server span
#     (child of the caller's span, tracestate kept), tools/call, search, embeddings, the embedding
#     HTTP client span, the store spans — each a child of the one above — and the embeddings
#     endpoint receives traceparent naming the client span;
#   - the access log carries the trace id;
#   - no traceparent (or a malformed one) starts a new trace; an unsampled traceparent records
#     nothing but still travels downstream;
#   - a collector answering 503 loses batches (one retry) without failing requests, and the loss is
#     counted in signal_hub_tracing_*; promtool accepts the scrape;
#   - SIGTERM exports what is still queued (export_interval 1 h: only the shutdown flush sends);
#   - over stdio each MCP request is the root of a trace;
#   - with tracing off, nothing is propagated.
#   tracing.sh path/to/signal-hub [postgres]
# With "postgres" (ctest label postgres, SIGNAL_HUB_TEST_PG_URL_FILE set) the store is PostgreSQL and
# each store span has the database round trips (client spans, db.system.name postgresql) as children.
source "$(dirname "$0")/lib.sh"
export SIGNAL_HUB_MONITORING__METRICS__ENABLED=true  # off by default; this test scrapes them
BACKEND="${2:-embedded}"
command -v curl >/dev/null || fail "curl is required (scripts/test.sh installs it)"
command -v node >/dev/null || fail "node is required (scripts/test.sh installs it)"
command -v promtool >/dev/null || fail "promtool is required (scripts/test.sh installs it)"
FIXTURES="$TESTS_DIR/../fixtures"

# --- the fixtures: their stdin is a FIFO this script holds open; when the script ends (however it
# ends) the FIFO closes and they exit. They are background jobs too, which lib.sh's EXIT trap kills.
FIXTURE_PIDS=(); FIXTURE_FDS=()
start_fixture() { # NAME COMMAND...: starts it, sets FIXTURE_PORT from its "PORT n" line
    local name="$1" fd; shift
    mkfifo "$WORK/$name.in"
    "$@" <"$WORK/$name.in" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    FIXTURE_PIDS+=("$!")
    exec {fd}>"$WORK/$name.in"
    FIXTURE_FDS+=("$fd")
    FIXTURE_PORT=""
    for _ in $(seq 1 100); do
        FIXTURE_PORT="$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$WORK/$name.out" 2>/dev/null | head -1)"
        [ -n "$FIXTURE_PORT" ] && return 0
        sleep 0.1
    done
    fail "$name did not start: $(cat "$WORK/$name.err")"
}
FIXTURE_MAX_LIFETIME_MS=1200000 start_fixture openai node "$FIXTURES/openai_fixture.js"
EMBED_PORT="$FIXTURE_PORT"
OTLP_FIXTURE_MAX_LIFETIME_S=1200 start_fixture otlp python3 "$FIXTURES/otlp_receiver.py"
OTLP_PORT="$FIXTURE_PORT"
RECEIVER="http://127.0.0.1:$OTLP_PORT"
pass "fixtures: embeddings on $EMBED_PORT, OTLP receiver on $OTLP_PORT"

make_tree "$WORK/repo"
STORE_ARGS=(--store "$WORK/repo/.signal-hub")
DB_YAML=""
if [ "$BACKEND" = postgres ]; then
    source "$TESTS_DIR/pg_lib.sh"
    DB="tracing_$$"
    trap 'rc=$?; jobs -p | xargs -r kill -9 2>/dev/null; drop_databases "$DB"; rm -rf "$WORK"; exit $rc' EXIT
    DB_URL="$(new_database "$DB")"
    STORE_ARGS=()
    DB_YAML="database: {type: postgresql, url: '$DB_URL', pool_size: 2}"
fi
write_config() { # FILE EXTRA_TRACING_YAML
    cat >"$1" <<YAML
$DB_YAML
embedding:
  provider: openai
  model: fixture-embed
  dimension: 384
  base_url: http://127.0.0.1:$EMBED_PORT/v1
  api_key_env: ""
  max_retries: 0
monitoring:
  logging: {format: json}
  tracing:
    enabled: true
    jaeger_endpoint: $RECEIVER
    service_name: hub-under-test
$2
YAML
}
write_config "$WORK/hub.yaml" "    export_interval: 0.2"
run_expect 0 "$SH" --config "$WORK/hub.yaml" "${STORE_ARGS[@]}" -q index "$WORK/repo"
pass "indexed ($BACKEND store, embeddings from the fixture)"

"$SH" --config "$WORK/hub.yaml" "${STORE_ARGS[@]}" serve --transport http --port 0 \
    >"$WORK/serve.out" 2>"$WORK/serve.err" &
PID=$!
wait_for_address "$PID" "$WORK/serve.err"
wait_for_metrics "$WORK/serve.err"
log_has "$WORK/serve.err" "tracing to an OTLP/HTTP collector" "url=$RECEIVER/v1/traces" "service_name=hub-under-test" \
    || fail "no start-up record naming the collector: $(cat "$WORK/serve.err")"
mcp_initialize

# traced_call QUERY [HEADER...]: tools/call search_code with extra headers; sets CODE, BODY, REQUEST_ID.
traced_call() {
    local query="$1"; shift
    local args=() h
    for h in "$@"; do args+=(-H "$h"); done
    BODY="$(curl -s -m 30 -D "$WORK/call.headers" -o - -w '\n%{http_code}' -X POST "http://127.0.0.1:$PORT/mcp" \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        -H "Mcp-Session-Id: $SESSION" "${args[@]}" \
        --data-binary '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_code","arguments":{"query":"'"$query"'"}}}')"
    CODE="${BODY##*$'\n'}"; BODY="${BODY%$'\n'*}"
    REQUEST_ID="$(sed -n 's/^[Xx]-[Rr]equest-[Ii]d: *\([^ ]*\).*/\1/p' "$WORK/call.headers" | tr -d '\r')"
    [ "$CODE" = 200 ] || fail "tools/call ($query): HTTP $CODE $BODY"
}
# wait_for_trace TRACE_ID NAME: polls the receiver until a span NAME of the trace has arrived.
wait_for_trace() {
    for _ in $(seq 1 100); do
        curl -s "$RECEIVER/spans" >"$WORK/spans.json"
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if any(s["traceId"]==sys.argv[2] and s["name"]==sys.argv[3] for s in d["spans"]) else 1)' \
            "$WORK/spans.json" "$1" "$2" && return 0
        sleep 0.1
    done
    fail "no span '$2' of trace $1 reached the receiver: $(head -c 3000 "$WORK/spans.json")"
}
embed_stats() { curl -s "http://127.0.0.1:$EMBED_PORT/stats"; }

# --- 1. a sampled traceparent ------------------------------------------------------------------------
T1=4bf92f3577b34da6a3ce929d0e0e4736
P1=00f067aa0ba902b7
traced_call "split a url into scheme and host" "traceparent: 00-$T1-$P1-01" "tracestate: vendor=opaque1"
wait_for_trace "$T1" "POST /mcp"
wait_for_trace "$T1" "POST"
embed_stats >"$WORK/embed1.json"
python3 - "$WORK/spans.json" "$T1" "$P1" "$REQUEST_ID" "$WORK/embed1.json" "$BACKEND" <<'PY' || fail "the spans of trace $T1 are wrong (above)"
import json, sys
spans_file, trace, caller, request_id, embed_file, backend = sys.argv[1:]
d = json.load(open(spans_file))
spans = [s for s in d["spans"] if s["traceId"] == trace]
by_id = {s["spanId"]: s for s in spans}
problems = []
def one(name, parent=None):
    found = [s for s in spans if s["name"] == name and (parent is None or s["parentSpanId"] == parent["spanId"])]
    if len(found) != 1:
        problems.append(f"expected one span {name!r}" + (f" under {parent['name']!r}" if parent else "") +
                        f", found {len(found)}")
        return None
    return found[0]
def expect(span, key, want):
    if span is not None and span["attributes"].get(key) != want:
        problems.append(f"{span['name']}: {key} = {span['attributes'].get(key)!r}, expected {want!r}")
server = one("POST /mcp")
if server:
    if server["parentSpanId"] != caller: problems.append(f"server span's parent {server['parentSpanId']} != caller {caller}")
    if server["kind"] != 2: problems.append(f"server span kind {server['kind']} != 2 (SERVER)")
    if server["traceState"] != "vendor=opaque1": problems.append(f"tracestate not kept: {server['traceState']!r}")
    expect(server, "http.request.method", "POST")
    expect(server, "http.route", "/mcp")
    expect(server, "http.response.status_code", 200)
    expect(server, "signal_hub.request_id", request_id)
    if server["resource"].get("service.name") != "hub-under-test": problems.append(f"resource {server['resource']}")
    if server["scope"]["name"] != "signal-hub": problems.append(f"scope {server['scope']}")
tool = one("tools/call search_code", server) if server else None
expect(tool, "gen_ai.tool.name", "search_code")
expect(tool, "mcp.method.name", "tools/call")
search = one("search", tool) if tool else None
expect(search, "signal_hub.search.mode", "hybrid")
expect(search, "signal_hub.search.cache_hit", False)
emb = one("embeddings fixture-embed", search) if search else None
expect(emb, "gen_ai.request.model", "fixture-embed")
expect(emb, "gen_ai.provider.name", "openai")
expect(emb, "signal_hub.embedding.inputs", 1)
client = one("POST", emb) if emb else None
if client:
    if client["kind"] != 3: problems.append(f"embedding HTTP span kind {client['kind']} != 3 (CLIENT)")
    expect(client, "server.address", "127.0.0.1")
    expect(client, "http.response.status_code", 200)
    got = json.load(open(embed_file))["last"]["headers"]
    want = f"00-{trace}-{client['spanId']}-01"
    if got.get("traceparent") != want:
        problems.append(f"the embeddings endpoint got traceparent {got.get('traceparent')!r}, expected {want!r}")
    if got.get("tracestate") != "vendor=opaque1":
        problems.append(f"the embeddings endpoint got tracestate {got.get('tracestate')!r}")
db_system = {"embedded": "embedded", "postgres": "postgresql"}[backend]
for name in ("store.vector_search", "store.lexical_search"):
    st = one(name, search) if search else None
    expect(st, "db.system.name", db_system)
    if st and backend == "postgres":
        rounds = [s for s in spans if s["parentSpanId"] == st["spanId"]]
        if not rounds or any(r["kind"] != 3 or r["attributes"].get("db.system.name") != "postgresql" for r in rounds):
            problems.append(f"{name}: expected PostgreSQL round-trip client spans under it, got {rounds}")
        elif not any(r["name"] == "SELECT" and "db.query.text" in r["attributes"] for r in rounds):
            problems.append(f"{name}: no SELECT round trip with db.query.text: {[r['name'] for r in rounds]}")
for s in spans:
    if s["parentSpanId"] and s["parentSpanId"] not in by_id and s is not server:
        problems.append(f"span {s['name']} has a parent {s['parentSpanId']} that is not in the trace")
    if s["end"] < s["start"]: problems.append(f"span {s['name']} ends before it starts")
for p in problems: print("  " + p)
print("  spans: " + ", ".join(sorted(f"{s['name']}" for s in spans)))
sys.exit(1 if problems else 0)
PY
pass "traceparent $T1: server, tool, search, embeddings, HTTP client and store spans in one tree; the embeddings endpoint got the client span's traceparent"
log_has "$WORK/serve.err" request "trace_id=$T1" "request_id=$REQUEST_ID" "status=200" \
    || fail "no access record with trace_id $T1: $(grep "$REQUEST_ID" "$WORK/serve.err")"
pass "the access record carries trace_id $T1"

# --- 2. no traceparent, a malformed one: new traces ---------------------------------------------------
traced_call "html template rendering"
NEW_TRACE="$(log_records "$WORK/serve.err" | python3 -c '
import json, sys
rid = sys.argv[1]
for line in sys.stdin:
    r = json.loads(line)
    if r.get("msg") == "request" and r.get("request_id") == rid: print(r.get("trace_id", ""))' "$REQUEST_ID")"
[ -n "$NEW_TRACE" ] && [ "$NEW_TRACE" != "$T1" ] || fail "no new trace id in the access record: '$NEW_TRACE'"
wait_for_trace "$NEW_TRACE" "POST /mcp"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s=[s for s in d["spans"] if s["traceId"]==sys.argv[2] and s["name"]=="POST /mcp"][0]; sys.exit(0 if s["parentSpanId"]=="" else 1)' \
    "$WORK/spans.json" "$NEW_TRACE" || fail "a request without traceparent did not start a root span"
traced_call "parse json configuration" "traceparent: 00-NOT-A-TRACE-ID-01"
pass "no traceparent: new root trace $NEW_TRACE; a malformed traceparent is ignored (HTTP 200)"

# --- 3. an unsampled caller: nothing recorded, context still propagated -------------------------------
T2=0af7651916cd43dd8448eb211c80319c
P2=b7ad6b7169203331
traced_call "read a file line by line" "traceparent: 00-$T2-$P2-00"
embed_stats >"$WORK/embed2.json"
GOT="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["last"]["headers"].get("traceparent",""))' "$WORK/embed2.json")"
[ "$GOT" = "00-$T2-$P2-00" ] || fail "unsampled: the embeddings endpoint got traceparent '$GOT', expected 00-$T2-$P2-00"
# A later sampled request's spans arriving means the unsampled one's would have too (one FIFO queue).
T3=11111111111111111111111111111111
traced_call "compute a checksum" "traceparent: 00-$T3-2222222222222222-01"
wait_for_trace "$T3" "POST /mcp"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(1 if any(s["traceId"]==sys.argv[2] for s in d["spans"]) else 0)' \
    "$WORK/spans.json" "$T2" || fail "spans of the unsampled trace $T2 were exported"
pass "unsampled traceparent: no span exported, the embeddings endpoint still got 00-$T2-$P2-00"

# --- 4. the receiver validated every payload ----------------------------------------------------------
python3 - "$WORK/spans.json" <<'PY' || fail "the receiver refused payloads (above)"
import json, sys
d = json.load(open(sys.argv[1]))
bad = [c for c in d["content_types"] if c.split(";")[0] != "application/json"]
for e in d["errors"]: print("  receiver: " + e)
for c in bad: print("  content type: " + c)
sys.exit(1 if d["errors"] or bad or d["requests"] == 0 else 0)
PY
pass "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["spans"]), "spans in", d["requests"], "OTLP/JSON requests, all valid")' "$WORK/spans.json")"

# --- 5. the collector fails: batches lost and counted, requests unaffected ----------------------------
scrape() { curl -s "$METRICS_URL" >"$WORK/scrape.txt" || fail "scrape failed"; }
value() { awk -v s="$1" '$1 == s { print $2 }' "$WORK/scrape.txt"; }
curl -s -X POST "$RECEIVER/control" -d '{"fail_503": 2}' >/dev/null
traced_call "format a date" "traceparent: 00-33333333333333333333333333333333-4444444444444444-01"
for _ in $(seq 1 100); do
    scrape
    [ "$(value 'signal_hub_tracing_export_requests_total{outcome="error"}')" = 2 ] && break
    sleep 0.1
done
[ "$(value 'signal_hub_tracing_export_requests_total{outcome="error"}')" = 2 ] \
    || fail "export errors: $(grep signal_hub_tracing "$WORK/scrape.txt")"
python3 - "$WORK/scrape.txt" <<'PY' || fail "tracing metrics are wrong: $(grep signal_hub_tracing "$WORK/scrape.txt")"
import sys
v = {}
for line in open(sys.argv[1]):
    if line.startswith("signal_hub_tracing"):
        k, x = line.rsplit(" ", 1)
        v[k] = float(x)
ok = (v['signal_hub_tracing_spans_dropped_total{reason="export_failed"}'] > 0
      and v['signal_hub_tracing_spans_dropped_total{reason="queue_full"}'] == 0
      and v["signal_hub_tracing_spans_exported_total"] > 0
      and v['signal_hub_tracing_export_requests_total{outcome="ok"}'] > 0
      and v["signal_hub_tracing_queue_capacity_spans"] == 2048
      and v["signal_hub_tracing_spans_started_total"] >= v["signal_hub_tracing_spans_exported_total"])
sys.exit(0 if ok else 1)
PY
promtool check metrics <"$WORK/scrape.txt" >"$WORK/promtool.out" 2>&1 || fail "promtool: $(cat "$WORK/promtool.out")"
traced_call "open a socket" "traceparent: 00-55555555555555555555555555555555-6666666666666666-01"
wait_for_trace 55555555555555555555555555555555 "POST /mcp"
log_has "$WORK/serve.err" "trace export failed; the batch is dropped (more failures within a minute are not logged)" \
    "error~HTTP 503" || fail "no warning about the failed export"
pass "collector 503 twice: the batch is dropped after one retry, counted (export_failed), warned once; requests stay 200; the next batch gets through"

kill -TERM "$PID"; wait "$PID" || fail "serve exited with $?"

# --- 6. SIGTERM exports what is queued ------------------------------------------------------------------
write_config "$WORK/slow.yaml" "    export_interval: 3600"
"$SH" --config "$WORK/slow.yaml" "${STORE_ARGS[@]}" serve --transport http --port 0 \
    >"$WORK/serve2.out" 2>"$WORK/serve2.err" &
PID=$!
wait_for_address "$PID" "$WORK/serve2.err"
mcp_initialize
T4=77777777777777777777777777777777
traced_call "walk a directory tree" "traceparent: 00-$T4-8888888888888888-01"
curl -s "$RECEIVER/spans" >"$WORK/spans.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(1 if any(s["traceId"]==sys.argv[2] for s in d["spans"]) else 0)' \
    "$WORK/spans.json" "$T4" || fail "spans were sent before the 1 h export interval or shutdown"
kill -TERM "$PID"; wait "$PID" || fail "serve exited with $?"
wait_for_trace "$T4" "tools/call search_code"
log_has "$WORK/serve2.err" "tracing stopped" || fail "no 'tracing stopped' record: $(tail -5 "$WORK/serve2.err")"
pass "SIGTERM: the queued spans of trace $T4 were exported on the way out"

# --- 7. stdio: each request is a trace of its own ------------------------------------------------------
printf '%s\n' \
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"it","version":"0"}}}' \
    '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_code","arguments":{"query":"stdio traced query"}}}' |
    "$SH" --config "$WORK/hub.yaml" "${STORE_ARGS[@]}" serve --transport stdio >"$WORK/stdio.out" 2>"$WORK/stdio.err" \
    || fail "serve --transport stdio: $(cat "$WORK/stdio.err")"
assert_contains "$(cat "$WORK/stdio.out")" '"id":2' "stdio reply"
for _ in $(seq 1 50); do
    curl -s "$RECEIVER/spans" >"$WORK/spans.json"
    python3 - "$WORK/spans.json" <<'PY' && break
import json, sys
d = json.load(open(sys.argv[1]))
roots = [s for s in d["spans"] if s["name"] == "tools/call search_code" and s["parentSpanId"] == "" and s["kind"] == 2]
ok = any(any(c["traceId"] == r["traceId"] and c["name"] == "search" and c["parentSpanId"] == r["spanId"]
             for c in d["spans"]) for r in roots)
sys.exit(0 if ok else 1)
PY
    sleep 0.1
done || true
python3 - "$WORK/spans.json" <<'PY' || fail "stdio: no root tools/call span (SERVER) with its search child"
import json, sys
d = json.load(open(sys.argv[1]))
roots = [s for s in d["spans"] if s["name"] == "tools/call search_code" and s["parentSpanId"] == "" and s["kind"] == 2]
sys.exit(0 if any(any(c["traceId"] == r["traceId"] and c["name"] == "search" for c in d["spans"]) for r in roots) else 1)
PY
pass "stdio: tools/call is the root (SERVER) span of its own trace, search under it"

# --- 8. tracing off: nothing propagated --------------------------------------------------------------
sed 's/enabled: true/enabled: false/' "$WORK/hub.yaml" >"$WORK/off.yaml"
"$SH" --config "$WORK/off.yaml" "${STORE_ARGS[@]}" serve --transport http --port 0 \
    >"$WORK/serve3.out" 2>"$WORK/serve3.err" &
PID=$!
wait_for_address "$PID" "$WORK/serve3.err"
mcp_initialize
traced_call "tracing is off here" "traceparent: 00-99999999999999999999999999999999-aaaaaaaaaaaaaaaa-01"
GOT="$(embed_stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["last"]["headers"].get("traceparent","none"))')"
[ "$GOT" = none ] || fail "tracing off, yet the embeddings endpoint got traceparent $GOT"
if log_has "$WORK/serve3.err" request trace_id~9999; then fail "tracing off, yet the access record has a trace id"; fi
kill -TERM "$PID"; wait "$PID" || fail "serve exited with $?"
pass "tracing off: no traceparent downstream, no trace id in the access log"

# The fixtures exit when their stdin closes.
for fd in "${FIXTURE_FDS[@]}"; do exec {fd}>&-; done
wait "${FIXTURE_PIDS[@]}" 2>/dev/null || true
