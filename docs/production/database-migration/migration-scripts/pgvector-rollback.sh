#!/usr/bin/env bash
# The way back: copies every collection of PostgreSQL + pgvector into ChromaDB or into an embedded
# store, and verifies the copy against PostgreSQL (counts, per-record checksums, recall@10).
# Idempotent: re-running rewrites the same records by id (no duplicates). PostgreSQL is only read;
# dropping anything there is a separate, explicit step (rollback.md).
#
# Environment:
#   DATABASE_URL   postgresql://... the store to roll back from (required)
#   CHROMA_URL     http(s)://HOST:PORT[?database=D] for `chromadb` (CHROMA_TOKEN when it has auth)
#   STORE_DIR      the embedded store directory for `embedded` (created; e.g. /srv/repo/.signal-hub)
#   WORKDIR        where the export file goes (default ./signal-hub-rollback)
#   SIGNAL_HUB     the signal-hub binary (default: signal-hub on PATH)
# Usage: pgvector-rollback.sh chromadb|embedded
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL to the PostgreSQL store to roll back from}"
WORKDIR="${WORKDIR:-./signal-hub-rollback}"
SH="${SIGNAL_HUB:-signal-hub}"
case "${1:-}" in
    chromadb) : "${CHROMA_URL:?set CHROMA_URL to the Chroma server to restore into}"; TARGET=(--chroma-url "$CHROMA_URL") ;;
    embedded) : "${STORE_DIR:?set STORE_DIR to the embedded store directory to restore into}"; TARGET=(--store "$STORE_DIR") ;;
    *) echo "usage: $0 chromadb|embedded" >&2; exit 2 ;;
esac
mkdir -p "$WORKDIR"
DUMP="$WORKDIR/pgvector-export.jsonl.zst"
step() { printf '\n==> %s\n' "$*"; }

step "1/3 export from PostgreSQL"
# --force: this script's own file from an earlier run; the old one stays until the new one is complete
"$SH" migrate export --source postgresql --database "$DATABASE_URL" --all --output "$DUMP" --force
step "2/3 import into $1"
"$SH" migrate import --input "$DUMP" "${TARGET[@]}"
step "3/3 verify against PostgreSQL"
"$SH" migrate verify --source postgresql --database "$DATABASE_URL" "${TARGET[@]}" | tee "$WORKDIR/verify.txt"
echo "rollback copy verified; switch the configuration back (rollback.md)"
