#!/usr/bin/env bash
# README command 1: set everything up, index a codebase into the embedded
# store, and answer a search.
# Usage: scripts/quickstart.sh [PATH] [QUERY]
#   PATH   tree to index (default: this repository)
#   QUERY  search to run afterwards (default: a question about this code)
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
case "${1:-}" in -h|--help) sed -n '2,7p' "$0"; exit 0 ;; esac

TARGET="${1:-$REPO_ROOT}"
QUERY="${2:-split identifiers into sub-words}"
[ -d "$TARGET" ] || die "$TARGET is not a directory"

"$REPO_ROOT/scripts/setup.sh"
BIN="$REPO_ROOT/build/src/cli/signal-hub"

log "indexing $TARGET"
"$BIN" index "$TARGET"
log "searching: $QUERY"
"$BIN" --store "$(cd "$TARGET" && pwd)/.signal-hub" search "$QUERY" -k 5

cat >&2 <<MSG

Next steps:
  export PATH="$REPO_ROOT/build/src/cli:\$PATH"
  cd $TARGET && signal-hub search "your question" [--json] [--language python] [--path 'src/**']
  signal-hub status                  # collections, record counts, model, size
  signal-hub index                   # re-run after edits: only changed files are re-indexed
See docs/getting-started.md.
MSG
