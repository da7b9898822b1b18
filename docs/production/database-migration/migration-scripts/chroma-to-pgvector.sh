#!/usr/bin/env bash
# Moves every collection of a ChromaDB server into PostgreSQL + pgvector and proves nothing was lost:
# export -> init-db -> import -> verify against the file -> verify against Chroma itself.
# Re-running after a failure or a kill continues where it stopped (the export is reused when it is
# complete; the import resumes from its checkpoint). Exit 0 only when both verifications pass.
#
# Environment:
#   CHROMA_URL     http(s)://HOST:PORT[?tenant=T&database=D] of the Chroma server (required)
#   CHROMA_TOKEN   its token, when it has auth (optional; never printed)
#   DATABASE_URL   postgresql://USER:PASSWORD@HOST:PORT/DB of the target (required)
#   WORKDIR        where the export file and the reports go (default ./signal-hub-migration)
#   SIGNAL_HUB     the signal-hub binary (default: signal-hub on PATH)
#   MIN_RECALL     verify's recall@10 threshold (default 0.95)
# Usage: chroma-to-pgvector.sh [--collection NAME ...]   (default: every collection)
set -euo pipefail
: "${CHROMA_URL:?set CHROMA_URL to the Chroma server, e.g. http://chroma.internal:8000}"
: "${DATABASE_URL:?set DATABASE_URL to the target, e.g. postgresql://signal_hub@db.internal:5432/signal_hub}"
WORKDIR="${WORKDIR:-./signal-hub-migration}"
SH="${SIGNAL_HUB:-signal-hub}"
MIN_RECALL="${MIN_RECALL:-0.95}"
NAMES=()
while [ $# -gt 0 ]; do
    [ "$1" = "--collection" ] && [ $# -ge 2 ] || { echo "usage: $0 [--collection NAME ...]" >&2; exit 2; }
    NAMES+=("$2"); shift 2
done
WHICH=(--all)
if [ ${#NAMES[@]} -gt 0 ]; then WHICH=(); for n in "${NAMES[@]}"; do WHICH+=(--collection "$n"); done; fi
mkdir -p "$WORKDIR"
DUMP="$WORKDIR/chroma-export.jsonl.zst"
step() { printf '\n==> %s\n' "$*"; }

step "1/5 export from ChromaDB"
if [ -s "$DUMP" ]; then
    echo "reusing $DUMP (delete it to export again)"
else
    "$SH" migrate export --source chromadb --chroma-url "$CHROMA_URL" "${WHICH[@]}" --output "$DUMP"
fi
step "2/5 schema"
"$SH" migrate init-db --database "$DATABASE_URL"
step "3/5 import (resumes from its checkpoint when re-run)"
"$SH" migrate import --input "$DUMP" --database "$DATABASE_URL"
step "4/5 verify against the export file"
"$SH" migrate verify --database "$DATABASE_URL" --against "$DUMP" --min-recall "$MIN_RECALL" | tee "$WORKDIR/verify-file.txt"
step "5/5 verify against ChromaDB"
verify_chroma() { # [--collection NAME]
    "$SH" migrate verify --database "$DATABASE_URL" --source chromadb --chroma-url "$CHROMA_URL" "$@" \
        --min-recall "$MIN_RECALL"
}
if [ ${#NAMES[@]} -eq 0 ]; then
    verify_chroma | tee "$WORKDIR/verify-chroma.txt"
else
    for n in "${NAMES[@]}"; do verify_chroma --collection "$n" | tee "$WORKDIR/verify-chroma-$n.txt"; done
fi
echo "migration verified; keep $DUMP as the backup and the way back (rollback.md)"
