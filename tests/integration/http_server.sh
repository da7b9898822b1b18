#!/usr/bin/env bash
# `signal-hub serve --transport http` over real loopback sockets: /health and /ready (503 while the
# store is gone, 200 again when it is back), the request body limit (413), Origin checks, the
# connection limit, the request timeout, and a graceful drain: SIGTERM during a bounded load
# completes every accepted request and exits 0.
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || fail "curl is required (scripts/test.sh installs it)"
command -v node >/dev/null || fail "node is required (scripts/test.sh installs it)"
make_tree "$WORK/repo"
STORE="$WORK/repo/.signal-hub"
run_expect 0 "$SH" -q index "$WORK/repo"

# start_server NAME [VAR=VALUE...]: starts the server with the given environment on a free port;
# sets PID and PORT. The server prints its address on stderr ($WORK/NAME.err).
start_server() {
    local name="$1"; shift
    env "$@" "$SH" --store "$STORE" serve --transport http --port 0 >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PID=$!
    wait_for_address "$PID" "$WORK/$name.err"
}

# stop_server: SIGTERM, expect exit status 0.
stop_server() {
    kill -TERM "$PID"
    set +e; wait "$PID"; local rc=$?; set -e
    [ "$rc" -eq 0 ] || fail "the server exited with $rc after SIGTERM"
}

# http METHOD PATH [curl args...]: sets CODE and BODY.
http() {
    local method="$1" path="$2"; shift 2
    BODY="$(curl -s -m 10 -o - -w '\n%{http_code}' -X "$method" "$@" "http://127.0.0.1:$PORT$path" || true)"
    CODE="${BODY##*$'\n'}"; BODY="${BODY%$'\n'*}"
}

mcp_post() { # BODY [curl args...]
    local body="$1"; shift
    http POST /mcp -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        --data-binary "$body" "$@"
}

# --- health, readiness, body limit, origins --------------------------------------------------------
start_server main SIGNAL_HUB_PERFORMANCE__MAX_REQUEST_SIZE=64KiB
pass "listening on 127.0.0.1:$PORT"
http GET /health
[ "$CODE" = 200 ] && [ "$(json_get "$BODY" "d['status']")" = ok ] || fail "/health: $CODE $BODY"
pass "/health is 200 {\"status\":\"ok\"}"
http GET /ready
[ "$CODE" = 200 ] && [ "$(json_get "$BODY" "d['status']")" = ready ] || fail "/ready: $CODE $BODY"
pass "/ready is 200 while the store is in place"

mv "$STORE" "$WORK/store-away"
http GET /ready
[ "$CODE" = 503 ] || fail "/ready with the store gone: expected 503, got $CODE $BODY"
reason="$(json_get "$BODY" "d['reason']")"
[ -n "$reason" ] || fail "/ready 503 without a reason: $BODY"
pass "/ready is 503 while the store is gone (reason: $reason)"
http GET /health
[ "$CODE" = 200 ] || fail "/health while the store is gone: $CODE"
pass "/health stays 200 (the process serves)"
mv "$WORK/store-away" "$STORE"
http GET /ready
[ "$CODE" = 200 ] || fail "/ready after the store came back: $CODE $BODY"
pass "/ready is 200 again once the store is back"

head -c 100000 /dev/zero | tr '\0' 'x' >"$WORK/big.json"
mcp_post "@$WORK/big.json"
[ "$CODE" = 413 ] || fail "a 100000-byte body over the 64KiB limit: expected 413, got $CODE $BODY"
pass "a body over performance.max_request_size gets 413"

INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"0"}}}'
mcp_post "$INIT" -H 'Origin: http://evil.example'
[ "$CODE" = 403 ] || fail "initialize from Origin http://evil.example: expected 403, got $CODE $BODY"
pass "a foreign Origin gets 403"
mcp_post "$INIT" -H 'Origin: http://localhost:3000'
[ "$CODE" = 200 ] || fail "initialize from Origin http://localhost:3000: expected 200, got $CODE $BODY"
pass "a loopback Origin is accepted"
mcp_post "$INIT"
[ "$CODE" = 200 ] && [ "$(json_get "$BODY" "d['result']['serverInfo']['name']")" = signal-hub ] ||
    fail "initialize: $CODE $BODY"
pass "initialize over HTTP answers with serverInfo"
mcp_post '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
[ "$CODE" = 400 ] || fail "tools/list without Mcp-Session-Id: expected 400, got $CODE"
pass "a request without Mcp-Session-Id gets 400"
mcp_post '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' -H 'Mcp-Session-Id: 0123456789abcdef0123456789abcdef'
[ "$CODE" = 404 ] || fail "tools/list with an unknown session: expected 404, got $CODE"
pass "an unknown Mcp-Session-Id gets 404"
stop_server
pass "SIGTERM: exit status 0"

# --- connection limit and request timeout ----------------------------------------------------------
start_server limits SIGNAL_HUB_PERFORMANCE__MAX_CONNECTIONS=3 SIGNAL_HUB_PERFORMANCE__REQUEST_TIMEOUT=2
exec 5<>"/dev/tcp/127.0.0.1/$PORT" 6<>"/dev/tcp/127.0.0.1/$PORT" 7<>"/dev/tcp/127.0.0.1/$PORT"
sleep 0.3
http GET /health
[ "$CODE" = 503 ] || [ "$CODE" = 000 ] || fail "a 4th connection with max_connections=3: expected 503 or refusal, got $CODE"
pass "a connection beyond performance.max_connections is refused (HTTP $CODE)"
printf 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n' >&5
IFS= read -r -t 5 status_line <&5 || fail "an established connection got no answer while the limit was reached"
case "$status_line" in *" 200 "*) ;; *) fail "an established connection: $status_line" ;; esac
pass "connections within the limit keep working ($status_line)"
exec 5>&- 6>&- 7>&-
ok=""
for _ in $(seq 1 50); do
    http GET /health
    [ "$CODE" = 200 ] && { ok=1; break; }
    sleep 0.1
done
[ -n "$ok" ] || fail "after closing the connections, /health: $CODE"
pass "new connections are accepted again once others closed"

exec 5<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"json' >&5
t0=$(date +%s)
set +e; timeout 20 cat <&5 >"$WORK/slow.out"; rc=$?; set -e
exec 5>&-
[ "$rc" -ne 124 ] || fail "a client that stopped sending half-way was not disconnected within 20 s"
pass "a slow client is disconnected after performance.request_timeout ($(( $(date +%s) - t0 )) s; reply: $(head -1 "$WORK/slow.out" | tr -d '\r'))"
http GET /health
[ "$CODE" = 200 ] || fail "/health after the slow client: $CODE"
pass "other clients are unaffected by the slow one"
stop_server

# --- graceful drain under load ---------------------------------------------------------------------
start_server drain SIGNAL_HUB_PERFORMANCE__WORKERS=2
set +e
node "$TESTS_DIR/http_load.mjs" --url "http://127.0.0.1:$PORT/mcp" --connections 8 --requests 4000 \
    --sigterm "$PID" --after 200 --timeout-ms 120000 >"$WORK/load.out"
load_rc=$?
summary="$(tail -1 "$WORK/load.out")"
if [ "$load_rc" -ne 0 ]; then  # it may have failed before sending SIGTERM: do not wait for the server
    kill -9 "$PID" 2>/dev/null
    fail "load during SIGTERM: $summary
server stderr: $(tail -20 "$WORK/drain.err")"
fi
wait "$PID"; server_rc=$?
set -e
[ "$server_rc" -eq 0 ] || fail "the server exited with $server_rc after SIGTERM under load: $(tail -20 "$WORK/drain.err")"
[ "$(json_get "$summary" "d['failed']")" = 0 ] || fail "failed requests: $summary"
# Only an idle connection closed at shutdown can cross a new request: at most one per connection.
[ "$(json_get "$summary" "d['closed_unread'] <= 8")" = True ] || fail "more unread requests than connections: $summary"
pass "SIGTERM under load: every accepted request completed, server exited 0 ($summary)"
