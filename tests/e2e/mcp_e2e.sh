#!/usr/bin/env bash
# End to end with the official MCP TypeScript SDK as the client, over one transport:
#   mcp_e2e.sh path/to/signal-hub stdio|http
# Indexes a small tree, then tests/e2e/mcp_client.mjs connects (stdio: spawns `signal-hub serve
# --transport stdio`; http: starts `serve --transport http --port 0` and connects to the address it
# prints), lists the six tools, calls each of them and checks the structured results.
source "$(dirname "$0")/../integration/lib.sh"
MODE="${2:?usage: $0 path/to/signal-hub stdio|http}"
E2E_DIR="$(cd "$(dirname "$0")" && pwd)"
[ -d "$E2E_DIR/node_modules/@modelcontextprotocol/sdk" ] ||
    fail "the MCP SDK is not installed: run scripts/fetch-e2e-deps.sh (scripts/test.sh does)"
make_tree "$WORK/repo"
run_expect 0 "$SH" -q index "$WORK/repo"
node "$E2E_DIR/mcp_client.mjs" "$MODE" "$SH" "$WORK/repo/.signal-hub"
