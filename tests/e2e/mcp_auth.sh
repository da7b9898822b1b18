#!/usr/bin/env bash
# API keys and rate limits as the official MCP TypeScript SDK sees them (Streamable HTTP client):
#   mcp_auth.sh path/to/signal-hub
# Indexes two collections, creates keys with `signal-hub keys create` (one with its own rate limit,
# --rate-limit), starts `serve --transport http --port 0` with security.api_keys (file) and
# security.rate_limiting (memory), and runs tests/e2e/mcp_auth_client.mjs: no key -> the SDK's
# StreamableHTTPError 401; a key without the tool's scope or the collection -> 403; past the key's
# burst -> 429 whose message carries the retry delay, and after that delay the same client and
# session work again; `keys set-rate-limit` while the server runs changes the limit.
source "$(dirname "$0")/../integration/lib.sh"
E2E_DIR="$(cd "$(dirname "$0")" && pwd)"
[ -d "$E2E_DIR/node_modules/@modelcontextprotocol/sdk" ] ||
    fail "the MCP SDK is not installed: run scripts/fetch-e2e-deps.sh (scripts/test.sh does)"

make_tree "$WORK/repo"
mkdir -p "$WORK/other/pkg"
printf 'def secret_other_function():\n    return "only in other"\n' > "$WORK/other/pkg/mod.py"
STORE="$WORK/store"
run_expect 0 "$SH" -q --store "$STORE" index "$WORK/repo"
run_expect 0 "$SH" -q --store "$STORE" index "$WORK/other"

export SIGNAL_HUB_API_KEY_PEPPER="$(head -c 48 /dev/urandom | base64 -w0)"
CONFIG="$WORK/signal-hub.yaml"
cat > "$CONFIG" <<YAML
security:
  api_keys:
    enabled: true
    storage: file
    file: $WORK/api-keys.json
  rate_limiting:
    enabled: true
    backend: memory
    limits:
      search: {requests_per_second: 100, burst: 200}
YAML
keys() { "$SH" --config "$CONFIG" --store "$STORE" keys "$@"; }
new_key() { keys create "$@" > "$WORK/.key" || fail "keys create $*: $(cat "$WORK/.key")"; tail -1 "$WORK/.key"; }

# 0.5 request/s with a burst of 6 (mcp_auth_client.mjs counts what the SDK sends), then 429 for ~2 s.
LIMITED="$(new_key --name limited --scopes search --rate-limit 0.5:6)"
run_expect 0 keys list
assert_contains "$(cat "$WORK/.out")" "0.5/s:6" "keys list shows the key's own rate limit"
INDEX_ONLY="$(new_key --name writer --scopes index)"
OTHER_ONLY="$(new_key --name other-only --scopes search --collections other)"
run_expect 2 keys create --name bad --rate-limit 0:1
assert_contains "$(cat "$WORK/.err")" "--rate-limit" "a bad --rate-limit names the option"
run_expect 2 keys set-rate-limit limited fast
assert_contains "$(cat "$WORK/.err")" "RPS:BURST" "a bad limit names the expected form"

"$SH" --config "$CONFIG" --store "$STORE" serve --transport http --port 0 2> "$WORK/serve.err" &
SERVER=$!
wait_for_address "$SERVER" "$WORK/serve.err"

# After the client has seen the 429 it asks for the limit to be lifted (file on stdin: one line).
SIGNAL_DIR="$WORK/signals"; mkdir -p "$SIGNAL_DIR"
(
    for _ in $(seq 1 600); do
        if [ -f "$SIGNAL_DIR/lift" ]; then
            keys set-rate-limit limited 1000:1000 > "$SIGNAL_DIR/lift.out" 2>&1
            touch "$SIGNAL_DIR/lifted"; exit 0
        fi
        sleep 0.1
    done
) &
HELPER=$!
node "$E2E_DIR/mcp_auth_client.mjs" "http://127.0.0.1:$PORT/mcp" "$LIMITED" "$INDEX_ONLY" "$OTHER_ONLY" "$SIGNAL_DIR" ||
    fail "the SDK client failed (above); server log: $(cat "$WORK/serve.err")"
wait "$HELPER" 2>/dev/null || true
assert_contains "$(cat "$SIGNAL_DIR/lift.out")" "1000 req/s, burst 1000" "keys set-rate-limit reports the new limit"
kill -TERM "$SERVER"; wait "$SERVER" || fail "serve exited with status $? on SIGTERM"
pass "the SDK client sees 401, 403 and 429 with the retry delay; a running server applies set-rate-limit"
