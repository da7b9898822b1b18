#!/usr/bin/env bash
# Installs the pinned tree-sitter grammar sources (third_party/grammars/package-lock.json)
# into third_party/grammars/node_modules, where third_party/CMakeLists.txt compiles them.
#
#   scripts/fetch-grammars.sh           # no-op when node_modules matches the lock file
#   scripts/fetch-grammars.sh --force   # reinstall regardless
#
# Runs `npm ci --ignore-scripts`: only the sources are needed, never the packages' node
# bindings, so no install scripts (node-gyp builds) run.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${root}/scripts/lib/npm_pinned.sh"
dir="${root}/third_party/grammars"

force=0
if [[ "${1:-}" == "--force" ]]; then
  force=1
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--force]" >&2
  exit 2
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "fetch-grammars: npm is required (Debian: apt-get install npm)" >&2
  exit 1
fi

# Every grammar source third_party/CMakeLists.txt expects.
parsers=(
  tree-sitter-c/src/parser.c
  tree-sitter-cpp/src/parser.c
  tree-sitter-go/src/parser.c
  tree-sitter-java/src/parser.c
  tree-sitter-javascript/src/parser.c
  tree-sitter-python/src/parser.c
  tree-sitter-rust/src/parser.c
  tree-sitter-typescript/typescript/src/parser.c
  tree-sitter-typescript/tsx/src/parser.c
)

if [[ ${force} -eq 0 ]] && npm_pinned_current "${dir}" "${parsers[@]}"; then
  echo "fetch-grammars: ${dir}/node_modules is current"
  exit 0
fi

echo "fetch-grammars: installing grammar sources into ${dir}/node_modules"
npm_pinned_install "${dir}" "${parsers[@]}"

# Refuse grammars the runtime cannot load (libtree-sitter 0.20.7 accepts ABI 13..14).
for p in "${parsers[@]}"; do
  f="${dir}/node_modules/${p}"
  abi="$(sed -n 's/^#define LANGUAGE_VERSION \([0-9][0-9]*\).*/\1/p' "${f}" | head -n1)"
  if [[ -z "${abi}" || "${abi}" -lt 13 || "${abi}" -gt 14 ]]; then
    echo "fetch-grammars: ${p} has grammar ABI '${abi}'; libtree-sitter 0.20 needs 13 or 14" >&2
    exit 1
  fi
done

npm_pinned_stamp "${dir}"
echo "fetch-grammars: done"
