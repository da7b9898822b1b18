#!/usr/bin/env bash
# Installs the pinned end-to-end test dependencies (tests/e2e/package-lock.json: the official MCP
# TypeScript SDK and zod) into tests/e2e/node_modules, where tests/e2e/mcp_client.mjs imports them.
#
#   scripts/fetch-e2e-deps.sh           # no-op when node_modules matches the lock file
#   scripts/fetch-e2e-deps.sh --force   # reinstall regardless
#
# Runs `npm ci --ignore-scripts`: the SDK is plain JavaScript, so no install scripts need to run.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${root}/scripts/lib/npm_pinned.sh"
dir="${root}/tests/e2e"

force=0
if [[ "${1:-}" == "--force" ]]; then
  force=1
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--force]" >&2
  exit 2
fi

for tool in node npm; do
  if ! command -v "${tool}" >/dev/null 2>&1; then
    echo "fetch-e2e-deps: ${tool} is required (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
done

# The SDK declares node >= 18 (Debian 12 ships 18); one of its dependencies,
# the HTTP server adapter, asks for node >= 20, but the stdio client the tests
# use never loads it. Tested here with node 20.
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [[ "${node_major}" -lt 18 ]]; then
  echo "fetch-e2e-deps: node $(node --version) is too old; the MCP SDK needs node >= 18" >&2
  exit 1
fi

# Every entry point tests/e2e/*.mjs imports.
entries=(
  @modelcontextprotocol/sdk/package.json
  @modelcontextprotocol/sdk/dist/esm/client/index.js
  @modelcontextprotocol/sdk/dist/esm/client/stdio.js
  @modelcontextprotocol/sdk/dist/esm/types.js
  zod/package.json
)

if [[ ${force} -eq 0 ]] && npm_pinned_current "${dir}" "${entries[@]}"; then
  echo "fetch-e2e-deps: ${dir}/node_modules is current"
  exit 0
fi

echo "fetch-e2e-deps: installing e2e test dependencies into ${dir}/node_modules"
npm_pinned_install "${dir}" "${entries[@]}"

npm_pinned_stamp "${dir}"
echo "fetch-e2e-deps: done"
