#!/usr/bin/env bash
# Rolling-upgrade drill (docs/production/operations/updates.md): three `serve --transport http`
# replicas on one PostgreSQL store behind a real HAProxy (Debian) that health-checks GET /ready and
# keeps each MCP session on its replica (stickiness on Mcp-Session-Id). Under a bounded MCP load from
# the official TypeScript SDK (tests/e2e/mcp_load.mjs), `migrate init-db` of the newer build runs
# against the live database, then the replicas are replaced one at a time:
#   drain in HAProxy (runtime API) -> wait until the replica has no MCP session -> maint -> SIGTERM ->
#   exit 0 -> the newer build starts on the same port -> ready in HAProxy -> marked UP -> next.
# Passes when not one request failed over the whole drill. Prints total and failed requests, p50/p99
# latency of the searches and the drill's duration.
#
# What this proves, plainly: the procedure (drain through the load balancer, health checks, a new
# replica passing /ready before the next old one stops, clean exit on SIGTERM). The "newer build" is
# a copy of the same binary and the schema stays at version 1 (there is no second version yet), so
# it does not prove compatibility between two real releases; updates.md gives the rules for that.
#   rolling_upgrade.sh path/to/signal-hub   (SIGNAL_HUB_TEST_PG_URL_FILE names the fixture's URL file)
# Environment (the short CI form by default): DRILL_SESSIONS (6), DRILL_SESSION_CALLS (20),
# DRILL_DRAIN_TIMEOUT (60 s per replica; sessions still open then are cut and their requests counted),
# DRILL_PROCEDURE (drain; sigterm skips the drain to show what it saves).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_lib.sh"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
E2E="$ROOT/tests/e2e"
command -v haproxy >/dev/null || fail "haproxy is required (Debian package haproxy; scripts/test.sh installs it)"
command -v curl >/dev/null || fail "curl is required (scripts/test.sh installs it)"
command -v node >/dev/null || fail "node is required (scripts/fetch-e2e-deps.sh)"
[ -d "$E2E/node_modules/@modelcontextprotocol/sdk" ] || fail "the MCP SDK is missing: run scripts/fetch-e2e-deps.sh"
SESSIONS="${DRILL_SESSIONS:-6}"
SESSION_CALLS="${DRILL_SESSION_CALLS:-20}"
DRAIN_TIMEOUT="${DRILL_DRAIN_TIMEOUT:-60}"
# drain: the procedure of updates.md. sigterm: SIGTERM with no drain, relying on the health checks
# alone (to measure what the drain step saves; the drill then fails on the requests it loses).
PROCEDURE="${DRILL_PROCEDURE:-drain}"
case "$PROCEDURE" in drain|sigterm) ;; *) fail "DRILL_PROCEDURE is drain or sigterm, not '$PROCEDURE'" ;; esac
LOAD_SECONDS=300   # the load's own bound; the drill stops it with the stop file long before

DB="rolling_upgrade_$$"
HAPROXY_PID=""
PIDS=(0 0 0 0)
cleanup() {
    local rc=$?
    touch "$WORK/stop" 2>/dev/null || true
    for i in 1 2 3; do
        [ "${PIDS[$i]}" != 0 ] && kill -TERM "${PIDS[$i]}" 2>/dev/null || true
    done
    [ -n "$HAPROXY_PID" ] && kill -TERM "$HAPROXY_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do [ -z "$(jobs -pr)" ] && break; sleep 0.1; done
    jobs -p | xargs -r kill -9 2>/dev/null || true
    drop_databases "$DB"
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT

export PG_URL; PG_URL="$(new_database "$DB")"
export SIGNAL_HUB_MONITORING__METRICS__ENABLED=true  # each replica's MCP session gauge tells when it is drained
cat >"$WORK/pg.yaml" <<'YAML'
database:
  type: postgresql
  url: ${PG_URL}
  pool_size: 4
YAML
make_tree "$WORK/repo"
run_expect 0 "$SH" --config "$WORK/pg.yaml" index "$WORK/repo"
pass "indexed a small tree into a fresh database ($DB)"

# The newer build: a copy of this binary in a directory of its own, as a package upgrade would put it.
mkdir -p "$WORK/new"
cp "$SH" "$WORK/new/signal-hub"
NEW="$WORK/new/signal-hub"

# start_replica N BINARY PORT: serve --transport http on 127.0.0.1:PORT (0 = a free one); sets PORT,
# PIDS[N] and METRICS[N].
METRICS=(- - - -)
GEN=(0 0 0 0)
start_replica() {
    local n="$1" bin="$2" port="$3" gen
    GEN[$n]=$((GEN[$n] + 1)); gen="${GEN[$n]}"
    "$bin" --config "$WORK/pg.yaml" serve --transport http --host 127.0.0.1 --port "$port" \
        >"$WORK/r$n.$gen.out" 2>"$WORK/r$n.$gen.err" &
    PIDS[$n]=$!
    wait_for_address "$!" "$WORK/r$n.$gen.err"
    wait_for_metrics "$WORK/r$n.$gen.err"
    METRICS[$n]="$METRICS_URL"
}
PORTS=(0 0 0 0)
for i in 1 2 3; do
    start_replica "$i" "$SH" 0
    PORTS[$i]="$PORT"
done
pass "3 replicas on 127.0.0.1 ports ${PORTS[1]} ${PORTS[2]} ${PORTS[3]}"

# --- HAProxy -----------------------------------------------------------------------------------------
LB_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
SOCK="$WORK/haproxy.sock"
cat >"$WORK/haproxy.cfg" <<CFG
global
    stats socket $SOCK mode 600 level admin
    log stderr format raw local0 notice
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 5m
    timeout server 5m
    timeout http-keep-alive 10s
    # A connection that could not be made carried no request: safe to try again, on another
    # replica for the last try (retry-on conn-failure is HAProxy's default; nothing wider, see
    # updates.md: an MCP POST is not idempotent).
    retries 3
    option redispatch 1
frontend mcp
    bind 127.0.0.1:$LB_PORT
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /ready
    http-check expect status 200
    # An MCP session lives in one replica's memory: keep every request of a session there.
    stick-table type string len 64 size 100k expire 2h
    stick on req.hdr(mcp-session-id)
    stick store-response res.hdr(mcp-session-id)
    default-server check inter 500ms fastinter 250ms downinter 500ms rise 2 fall 2 on-marked-down shutdown-sessions
    server s1 127.0.0.1:${PORTS[1]}
    server s2 127.0.0.1:${PORTS[2]}
    server s3 127.0.0.1:${PORTS[3]}
CFG
haproxy -c -f "$WORK/haproxy.cfg" >"$WORK/haproxy-check.txt" 2>&1 || fail "haproxy refuses the configuration: $(cat "$WORK/haproxy-check.txt")"
haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
HAPROXY_PID=$!

# lb COMMAND: one command on HAProxy's runtime API (the unix socket); prints the answer.
lb() {
    python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode())
PY
}
# server_field sN FIELD: a column of `show stat` for server sN of backend replicas.
server_field() {
    lb "show stat" | python3 -c '
import csv, sys
rows = list(csv.reader(l.lstrip("# ") for l in sys.stdin if l.strip()))
head = rows[0]
for r in rows[1:]:
    if r[0] == "replicas" and r[1] == sys.argv[1]:
        print(r[head.index(sys.argv[2])])
' "$1" "$2"
}
# wait_up sN: until HAProxy marks sN UP (its health checks on /ready passed `rise` times), 30 s at most.
wait_up() {
    local status=""
    for _ in $(seq 1 300); do
        status="$(server_field "$1" status 2>/dev/null || true)"
        [ "$status" = UP ] && return 0
        sleep 0.1
    done
    fail "haproxy did not mark $1 UP within 30 s (status '$status'): $(tail -5 "$WORK/haproxy.log")"
}
for _ in $(seq 1 100); do [ -S "$SOCK" ] && break; kill -0 "$HAPROXY_PID" 2>/dev/null || break; sleep 0.1; done
[ -S "$SOCK" ] || fail "haproxy did not start: $(cat "$WORK/haproxy.log")"
for s in s1 s2 s3; do wait_up "$s"; done
pass "haproxy on 127.0.0.1:$LB_PORT, s1 s2 s3 UP (checks GET /ready)"

# sessions_on N: MCP sessions open on replica N (its signal_hub_mcp_sessions_active gauge).
sessions_on() {
    curl -sf -m 5 "${METRICS[$1]}" | awk '$1 == "signal_hub_mcp_sessions_active" { print $2 }'
}
progress() { json_get "$(cat "$WORK/progress.json")" "d['$1']"; }

# --- the load ------------------------------------------------------------------------------------------
touch "$WORK/progress.json"
node "$E2E/mcp_load.mjs" "http://127.0.0.1:$LB_PORT/mcp" --sessions "$SESSIONS" --seconds "$LOAD_SECONDS" \
    --stop-file "$WORK/stop" --session-calls "$SESSION_CALLS" --progress "$WORK/progress.json" \
    >"$WORK/load.json" 2>"$WORK/load.err" &
LOAD_PID=$!
for _ in $(seq 1 300); do
    [ -s "$WORK/progress.json" ] && [ "$(progress ok)" -ge 100 ] && break
    kill -0 "$LOAD_PID" 2>/dev/null || fail "the load client exited: $(cat "$WORK/load.err")"
    sleep 0.1
done
[ "$(progress ok)" -ge 100 ] || fail "the load did not get going: $(cat "$WORK/progress.json") $(cat "$WORK/load.err")"
# every_replica_has_sessions: true when each of the three replicas holds an MCP session, waiting 30 s at most.
every_replica_has_sessions() {
    local n=0
    for _ in $(seq 1 300); do
        n=0; for i in 1 2 3; do [ "$(sessions_on "$i")" -ge 1 ] && n=$((n + 1)); done
        [ "$n" = 3 ] && return 0
        sleep 0.1
    done
    echo "only $n of 3 replicas hold MCP sessions" >&2
    return 1
}
every_replica_has_sessions || fail "the load is not spread over the replicas"
pass "load running: $SESSIONS SDK clients through haproxy, every replica holds sessions"

DRILL_START=$(date +%s.%N)
# The newer build's migrations run first, against the live database (forward only; at schema
# version 1 there is nothing to apply, which is what this run shows).
run_expect 0 "$NEW" migrate init-db --database "$PG_URL"
[ "$(sql "$PG_URL" "SELECT max(version) FROM signal_hub_schema_migrations")" = 1 ] || fail "schema version moved"
pass "migrate init-db of the newer build under load: exit 0, schema version 1"

for i in 1 2 3; do
    s="s$i"
    if [ "$PROCEDURE" = drain ]; then
        lb "set server replicas/$s state drain" >/dev/null
        [ "$(server_field "$s" status)" = DRAIN ] || fail "$s is not draining: $(server_field "$s" status)"
        drained=""
        for _ in $(seq 1 $((DRAIN_TIMEOUT * 10))); do
            [ "$(sessions_on "$i")" = 0 ] && { drained=1; break; }
            sleep 0.1
        done
        # A bounded drain, as an operator's: sessions still open are cut (their clients get 404 and
        # must initialize again), and the count below says so.
        [ -n "$drained" ] || echo "note: replica $i still holds $(sessions_on "$i") MCP sessions after ${DRAIN_TIMEOUT} s of draining; stopping it anyway"
        lb "set server replicas/$s state maint" >/dev/null
        # Requests already sent to it finish before the SIGTERM (10 s at most: open GET /mcp streams
        # of sessions cut above count here too): a request the server has not read yet when it
        # closes its idle keep-alive connections would be lost.
        for _ in $(seq 1 100); do [ "$(server_field "$s" scur)" = 0 ] && break; sleep 0.1; done
    fi
    t0=$(date +%s.%N)
    kill -TERM "${PIDS[$i]}"
    set +e; wait "${PIDS[$i]}"; rc=$?; set -e
    [ "$rc" = 0 ] || fail "replica $i exited $rc on SIGTERM: $(tail -5 "$WORK/r$i.1.err")"
    start_replica "$i" "$NEW" "${PORTS[$i]}"
    [ "$PORT" = "${PORTS[$i]}" ] || fail "the new replica $i listens on $PORT, not ${PORTS[$i]}"
    [ "$PROCEDURE" = drain ] && lb "set server replicas/$s state ready" >/dev/null
    wait_up "$s"
    gap=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
    pass "replica $i replaced ($PROCEDURE): exit 0, newer build UP in haproxy ${gap}s after SIGTERM (load: $(progress requests) requests, $(progress failed) failed)"
done

# The new replicas take new sessions: let each one get some, then stop the load.
# (Sessions that last the whole run never move, so with DRILL_SESSION_CALLS=0 this is not asked.)
if [ "$SESSION_CALLS" -gt 0 ]; then
    every_replica_has_sessions || fail "after the drill the new replicas do not all take sessions"
fi
touch "$WORK/stop"
set +e; wait "$LOAD_PID"; rc=$?; set -e
[ "$rc" = 0 ] || fail "the load client exited $rc: $(cat "$WORK/load.err")"
DRILL_END=$(date +%s.%N)
RESULT="$(cat "$WORK/load.json")"
echo "load: $RESULT"
total="$(json_get "$RESULT" "d['requests']")"
failed="$(json_get "$RESULT" "d['failed']")"
calls="$(json_get "$RESULT" "d['calls']")"
sessions="$(json_get "$RESULT" "d['sessions']")"
p50="$(json_get "$RESULT" "d['latency_ms']['p50']")"
p99="$(json_get "$RESULT" "d['latency_ms']['p99']")"
duration="$(python3 -c "print(round($DRILL_END - $DRILL_START, 1))")"
echo "rolling upgrade drill: $total requests ($calls search_code calls, $sessions sessions), $failed failed," \
     "search latency p50 ${p50} ms p99 ${p99} ms, drill ${duration} s (3 replicas replaced)"
[ "$failed" = 0 ] || fail "$failed requests failed during the rolling upgrade: $(json_get "$RESULT" "d['failures']")"
[ "$sessions" -gt "$SESSIONS" ] || fail "no session was ever reopened: the drill did not move any client"
pass "zero failed requests over the rolling upgrade"

for i in 1 2 3; do
    kill -TERM "${PIDS[$i]}"
    set +e; wait "${PIDS[$i]}"; rc=$?; set -e
    [ "$rc" = 0 ] || fail "new replica $i exited $rc"
    PIDS[$i]=0
done
pass "new replicas shut down cleanly"
