# ChromaDB 1.0 for the tests (label `chroma`). Source after scripts/lib/common.sh.
#
#   chroma_ensure_installed         `npm ci` of tests/chroma (package.json + package-lock.json pin
#                                   chromadb 3.0.12 and, through an npm `overrides` entry, the native
#                                   server bindings chromadb-js-bindings-linux-x64-gnu 1.0.5: newer
#                                   bindings need glibc >= 2.38, Debian 12 has 2.36). Only the npm
#                                   registry is used. Idempotent; a no-op when node_modules matches the
#                                   lock file.
#   chroma_server_start STATE_DIR   starts a throw-away server (`chroma run`) on 127.0.0.1 and a free
#                                   port, data in STATE_DIR/data; waits until /api/v2/heartbeat answers.
#                                   Writes STATE_DIR/url (chroma+http://127.0.0.1:PORT), STATE_DIR/pid,
#                                   STATE_DIR/server.log. Fails (non-zero) when the server cannot start.
#   chroma_server_stop STATE_DIR    stops that server and removes STATE_DIR. Idempotent.

CHROMA_NPM_DIR="${REPO_ROOT}/tests/chroma"
# Every file the server needs (checked after install and by the up-to-date test).
CHROMA_NPM_ENTRIES=(
    chromadb/package.json
    chromadb/dist/cli.mjs
    chromadb-js-bindings-linux-x64-gnu/package.json
    chromadb-js-bindings-linux-x64-gnu/chromadb-js-bindings.linux-x64-gnu.node
)

chroma_ensure_installed() {
    source "${REPO_ROOT}/scripts/lib/npm_pinned.sh"
    local tool
    for tool in node npm; do
        command -v "$tool" >/dev/null 2>&1 || die "chroma: $tool is required (Debian: apt-get install nodejs npm)"
    done
    # chromadb 3.0.12 declares node >= 20 (tested here with node 20); the server itself is the
    # native bindings, so an older node may work, but say so when it fails.
    local node_major
    node_major="$(node -p 'process.versions.node.split(".")[0]')"
    if [ "$node_major" -lt 20 ]; then
        log "chroma: warning: node $(node --version) is older than chromadb's declared node >= 20"
    fi
    if npm_pinned_current "$CHROMA_NPM_DIR" "${CHROMA_NPM_ENTRIES[@]}"; then
        log "chroma: $CHROMA_NPM_DIR/node_modules is current"
        return 0
    fi
    log "chroma: installing the pinned ChromaDB server into $CHROMA_NPM_DIR/node_modules"
    npm_pinned_install "$CHROMA_NPM_DIR" "${CHROMA_NPM_ENTRIES[@]}" || die "chroma: npm ci failed"
    npm_pinned_stamp "$CHROMA_NPM_DIR"
}

# A TCP port free on 127.0.0.1 right now.
chroma_free_port() {
    node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Exit status 0 when http://127.0.0.1:PORT/api/v2/heartbeat answers 200.
chroma_heartbeat() {
    node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
        .then((r) => process.exit(r.ok ? 0 : 1)).catch(() => process.exit(1));' \
        "http://127.0.0.1:$1/api/v2/heartbeat"
}

chroma_server_start() {
    local state="$1" port pid i
    chroma_ensure_installed
    chroma_server_stop "$state"
    mkdir -p "$state/data"
    port="$(chroma_free_port)"
    # Its own session (setsid) so that stop can end the server and nothing else.
    (cd "$CHROMA_NPM_DIR" && CHROMADB_VERSION=3.0.12 exec setsid node node_modules/chromadb/dist/cli.mjs run \
        --path "$state/data" --host 127.0.0.1 --port "$port" </dev/null >"$state/server.log" 2>&1) &
    pid=$!
    echo "$pid" >"$state/pid"
    for i in $(seq 1 120); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$state/server.log" >&2 || true
            die "chroma: the server exited during start-up (log above: $state/server.log)"
        fi
        if chroma_heartbeat "$port"; then
            echo "chroma+http://127.0.0.1:$port" >"$state/url"
            log "chroma: server up at 127.0.0.1:$port (pid $pid, data $state/data)"
            return 0
        fi
        sleep 0.5
    done
    tail -n 30 "$state/server.log" >&2 || true
    chroma_server_stop "$state"
    die "chroma: no heartbeat from 127.0.0.1:$port after 60 s"
}

chroma_server_stop() {
    local state="$1" pid i
    if [ -f "$state/pid" ]; then
        pid="$(cat "$state/pid")"
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
            for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -rf "$state"
}
