#!/usr/bin/env bash
# Runs the benchmarks, each beside its peer on the same data in the same run,
# prints tables and writes bench/results/*.json.
#   1. retrieval quality on the Python 3.11 standard library (docstrings removed):
#      MRR@10 / recall@10 for lexical, vector, hybrid
#   2. indexing: cold throughput on the PostgreSQL 15 source; no-change re-index
#      vs `git ls-files` + stat and `git status` on the same tree
#   3. query latency: our HNSW search vs raw hnswlib (same vectors, same
#      parameters), hybrid search, exact scan vs the memory-bandwidth floor
#   4. MCP over HTTP: search_code through POST /mcp on a running
#      `serve --transport http` (keep-alive, loopback) vs in-process search
# Usage: bench/run.sh [retrieval|indexing|query|mcp ...]   (default: all)
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
case "${1:-}" in -h|--help) sed -n '2,12p' "$0"; exit 0 ;; esac
WHAT=("${@:-retrieval indexing query mcp}"); WHAT=(${WHAT[*]})
DATA="$REPO_ROOT/bench/data"; RESULTS="$REPO_ROOT/bench/results"
BUILD="$REPO_ROOT/build"
mkdir -p "$DATA" "$RESULTS"
install_packages <(printf "python3 python3\nlibpython3.11-stdlib\ngit git\n")
"$REPO_ROOT/scripts/setup.sh" >/dev/null
cmake --build "$BUILD" -j "$(build_jobs)" --target retrieval_bench query_bench raw_hnswlib_bench mcp_http_bench >/dev/null
SH="$BUILD/src/cli/signal-hub"
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }
want() { [[ " ${WHAT[*]} " == *" $1 "* ]]; }

PY="$DATA/retrieval"
if want retrieval || want query || want mcp; then
    if [ ! -f "$PY/queries.jsonl" ]; then
        log "building the docstring benchmark from /usr/lib/python3.11"
        rm -rf "$PY"; python3 "$REPO_ROOT/bench/make_docstring_corpus.py" /usr/lib/python3.11 "$PY" --max-queries 2000
    fi
    rm -rf "$PY/store"
    log "indexing the stripped corpus"
    "$SH" -q --store "$PY/store" index "$PY/corpus" --collection stdlib
fi

if want retrieval; then
    log "1. retrieval quality"
    "$BUILD/bench/retrieval_bench" --store "$PY/store" --queries "$PY/queries.jsonl" --json "$RESULTS/retrieval.json"
fi

if want indexing; then
    log "2. indexing throughput (PostgreSQL 15 source)"
    PG="$("$REPO_ROOT/bench/fetch-postgres-source.sh" "$DATA/postgresql-15")"
    if [ ! -d "$PG/.git" ]; then
        (cd "$PG" && git init -q && git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm tree)
    fi
    rm -rf "$DATA/pg-store"
    sync
    t0=$(now); "$SH" --store "$DATA/pg-store" index "$PG" --collection postgres | tee "$RESULTS/index-cold.txt"; t1=$(now)
    cold=$(elapsed "$t0" "$t1")
    t0=$(now); "$SH" --store "$DATA/pg-store" index "$PG" --collection postgres | tee "$RESULTS/index-warm.txt"; t1=$(now)
    warm=$(elapsed "$t0" "$t1")
    t0=$(now); (cd "$PG" && git ls-files -z | xargs -0 stat -c '%s %Y' >/dev/null); t1=$(now)
    lsstat=$(elapsed "$t0" "$t1")
    t0=$(now); (cd "$PG" && git status --porcelain >/dev/null); t1=$(now)
    gitstatus=$(elapsed "$t0" "$t1")
    files=$(cd "$PG" && git ls-files | wc -l)
    bytes=$(cd "$PG" && git ls-files -z | xargs -0 stat -c '%s' | awk '{s+=$1} END {print s}')
    chunks=$("$SH" --store "$DATA/pg-store" status --json | python3 -c "import json,sys; print(json.load(sys.stdin)['collections'][0]['records'])")
    python3 - "$RESULTS/indexing.json" "$cold" "$warm" "$lsstat" "$gitstatus" "$files" "$bytes" "$chunks" <<'PYEOF'
import json, sys
out, cold, warm, lsstat, gs, files, size, chunks = sys.argv[1], *map(float, sys.argv[2:])
r = {"tree": "postgresql-15 (Debian source)", "files_in_git": int(files), "bytes_in_git": int(size),
     "chunks": int(chunks), "cold_s": cold, "cold_mb_per_s": size / 1e6 / cold, "cold_chunks_per_s": chunks / cold,
     "noop_reindex_s": warm, "noop_vs_cold": warm / cold, "git_ls_files_stat_s": lsstat, "git_status_s": gs}
json.dump(r, open(out, "w"), indent=2)
print(f"{'cold index':28s} {cold:8.2f} s  {r['cold_mb_per_s']:.2f} MB/s  {r['cold_chunks_per_s']:.0f} chunks/s")
print(f"{'no-change re-index':28s} {warm:8.2f} s  ({warm / cold:.3f} of cold)")
print(f"{'git ls-files + stat (peer)':28s} {lsstat:8.2f} s")
print(f"{'git status (peer)':28s} {gs:8.2f} s")
PYEOF
fi

if want query; then
    log "3. query latency (stdlib store)"
    mkdir -p "$DATA/query-dump"
    "$BUILD/bench/query_bench" --store "$PY/store" --queries "$PY/queries.jsonl" --dump "$DATA/query-dump" \
        --json "$RESULTS/query.json"
    "$BUILD/bench/raw_hnswlib_bench" --dump "$DATA/query-dump" --json "$RESULTS/query-raw-hnswlib.json"
fi
if want mcp; then
    log "4. search through MCP Streamable HTTP vs in-process (stdlib store)"
    # The server's result cache is off: every request searches, as in-process does.
    SIGNAL_HUB_PERFORMANCE__CACHING__ENABLED=false "$SH" --store "$PY/store" serve --transport http --port 0 \
        2>"$DATA/serve.err" &
    SERVE_PID=$!
    trap 'kill $SERVE_PID 2>/dev/null || true' EXIT
    PORT=""
    for _ in $(seq 1 300); do
        PORT="$(sed -n 's|.*http://127\.0\.0\.1:\([0-9]*\)/mcp.*|\1|p' "$DATA/serve.err" | head -1)"
        [ -n "$PORT" ] && break
        kill -0 "$SERVE_PID" 2>/dev/null || die "serve exited: $(cat "$DATA/serve.err")"
        sleep 0.1
    done
    [ -n "$PORT" ] || die "serve printed no address: $(cat "$DATA/serve.err")"
    "$BUILD/bench/mcp_http_bench" --store "$PY/store" --queries "$PY/queries.jsonl" \
        --url "http://127.0.0.1:$PORT/mcp" --threads 1,4 --json "$RESULTS/mcp-http.json"
    kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || die "serve did not exit cleanly after SIGTERM"
    trap - EXIT
fi
log "results in $RESULTS"
