#!/usr/bin/env bash
# End to end over MCP stdio with the official MCP TypeScript SDK as the client:
# index a small tree, then tests/e2e/mcp_stdio.mjs spawns `signal-hub serve
# --transport stdio`, initializes, lists tools, calls them and checks results.
source "$(dirname "$0")/../integration/lib.sh"
E2E_DIR="$(cd "$(dirname "$0")" && pwd)"
[ -d "$E2E_DIR/node_modules/@modelcontextprotocol/sdk" ] ||
    fail "the MCP SDK is not installed: run scripts/fetch-e2e-deps.sh (scripts/test.sh does)"
make_tree "$WORK/repo"
run_expect 0 "$SH" -q index "$WORK/repo"
node "$E2E_DIR/mcp_stdio.mjs" "$SH" "$WORK/repo/.signal-hub"
