#!/usr/bin/env bash
# Read replicas (docs/production/operations/scaling.md "Read replicas"): a real PostgreSQL primary and
# streaming hot standby on loopback (pg_replica_lib.sh). The tree is indexed into the primary; `serve
# --transport http` gets the standby in database.read_urls. Then, each step checked from /metrics
# (signal_hub_db_reads_total{target}, signal_hub_db_replica_up / _lag_seconds) and with every search
# required to succeed:
#   1. searches are answered by the replica;
#   2. the standby is stopped: searches go on with no failed request, answered by the primary, and the
#      replica is reported down;
#   3. the standby is started again: reads return to it;
#   4. replay paused on the standby and a write on the primary: once the lag exceeds
#      database.max_replica_lag the replica is skipped; resumed: it is used again.
#   read_replicas.sh path/to/signal-hub
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_replica_lib.sh"
command -v curl >/dev/null || fail "curl is required"
SERVE_PID=""
cleanup() {
    local rc=$?
    if [ "$rc" != 0 ] && [ -n "${METRICS_URL:-}" ]; then
        echo "--- replica metrics at the failure:" >&2
        curl -sf -m 5 "$METRICS_URL" | grep -E '^signal_hub_db_(replica|reads)' >&2
    fi
    [ -n "$SERVE_PID" ] && kill -TERM "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
    pgr_cleanup
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
START=$SECONDS

pgr_start
pass "primary 127.0.0.1:$PGR_PRIMARY_PORT and streaming standby 127.0.0.1:$PGR_STANDBY_PORT"
export PG_PRIMARY="$PGR_PRIMARY_URL" PG_STANDBY="$PGR_STANDBY_URL"
cat >"$WORK/pg.yaml" <<'YAML'
database:
  type: postgresql
  url: ${PG_PRIMARY}
  read_urls:
    - ${PG_STANDBY}
  max_replica_lag: 3
  replica_check_interval: 0.5
  pool_size: 2
monitoring:
  metrics:
    enabled: true
YAML
make_tree "$WORK/repo"
run_expect 0 "$SH" --config "$WORK/pg.yaml" index "$WORK/repo"
pgr_wait_caught_up
pass "indexed into the primary; the standby replayed it"

"$SH" --config "$WORK/pg.yaml" serve --transport http --host 127.0.0.1 --port 0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE_PID=$!
wait_for_address "$SERVE_PID" "$WORK/serve.err"
wait_for_metrics "$WORK/serve.err"
REPLICA="127.0.0.1:$PGR_STANDBY_PORT"

# metric NAME LABELS: the sample's value (empty when absent).
metric() { curl -sf -m 5 "$METRICS_URL" | awk -v k="$1{$2}" '$1 == k { print $2 }'; }
reads() { metric signal_hub_db_reads_total "target=\"$1\""; }
# wait_up 0|1: until signal_hub_db_replica_up of the standby is that, 30 s at most.
wait_up() {
    for _ in $(seq 1 300); do
        [ "$(metric signal_hub_db_replica_up "replica=\"$REPLICA\"")" = "$1" ] && return 0
        sleep 0.1
    done
    fail "signal_hub_db_replica_up{replica=\"$REPLICA\"} did not become $1: $(curl -sf "$METRICS_URL" | grep replica)"
}
# searches N: N search_code calls in one MCP session; every one must succeed. Each query is new (no
# query-cache hit), so each search reads the store at least once.
FAILED=0 TOTAL=0
searches() {
    mcp_initialize
    local i
    for i in $(seq 1 "$1"); do
        TOTAL=$((TOTAL + 1))
        mcp "{\"jsonrpc\":\"2.0\",\"id\":$((i + 10)),\"method\":\"tools/call\",\"params\":{\"name\":\"search_code\",\"arguments\":{\"query\":\"split a url into scheme and host $TOTAL\"}}}"
        if [ "$CODE" != 200 ] || [[ "$BODY" == *'"isError":true'* ]] || [[ "$BODY" != *url.py* ]]; then
            FAILED=$((FAILED + 1))
            echo "failed search: HTTP $CODE $BODY" >&2
        fi
    done
    [ "$FAILED" = 0 ] || fail "$FAILED of $TOTAL searches failed"
}
gt() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$1" "$2"; }

# 1. answered by the replica.
wait_up 1
p0="$(reads primary)" r0="$(reads replica)"
searches 10
p1="$(reads primary)" r1="$(reads replica)"
gt "$r1" "$(( ${r0%.*} + 9 ))" || fail "10 searches: replica reads $r0 -> $r1 (expected at least 10 more)"
[ "$p1" = "$p0" ] || fail "10 searches with the replica up: primary reads $p0 -> $p1 (expected none)"
pass "10 searches answered by the replica (reads_total replica $r0 -> $r1, primary stays $p0)"

# 2. the standby stops: no failed request, the primary answers.
pgr_stop_standby
searches 20
p2="$(reads primary)"
gt "$p2" "$p1" || fail "with the standby stopped the primary answered nothing (primary reads $p1 -> $p2)"
wait_up 0
searches 10
p3="$(reads primary)" r3="$(reads replica)"
[ "$r3" = "$(reads replica)" ] && gt "$p3" "$(( ${p2%.*} + 9 ))" || fail "replica down: primary reads $p2 -> $p3"
grep -q "replica_lag_seconds{replica=\"$REPLICA\"}" <(curl -sf "$METRICS_URL") &&
    fail "a lag is reported for the stopped replica"
pass "standby stopped: 30 searches, 0 failed, answered by the primary (primary reads $p1 -> $p3); replica_up 0"

# 3. back: reads return to it. The first reads may still meet connections of the replica's pool that
# broke when it stopped; those reads are answered by the primary (no failed request), then none is.
pgr_start_standby
wait_up 1
searches 3
r3="$(reads replica)" p3="$(reads primary)"
searches 10
r4="$(reads replica)" p4="$(reads primary)"
gt "$r4" "$(( ${r3%.*} + 9 ))" || fail "standby back: replica reads $r3 -> $r4"
[ "$p4" = "$p3" ] || fail "standby back: the primary still answered (primary reads $p3 -> $p4)"
pass "standby started again: reads return to it (replica reads $r3 -> $r4)"

# 4. lag beyond max_replica_lag (3 s): skipped; caught up: used again.
pgr_sql "$PGR_STANDBY_URL" "SELECT pg_wal_replay_pause()" >/dev/null
pgr_sql "$PGR_PRIMARY_URL" "CREATE TABLE lag_probe(x int); INSERT INTO lag_probe VALUES (1)" >/dev/null
wait_up 0
lag="$(metric signal_hub_db_replica_lag_seconds "replica=\"$REPLICA\"")"
gt "$lag" 3 || fail "replica skipped with lag '$lag' (expected > 3)"
searches 5
p5="$(reads primary)"
gt "$p5" "$(( ${p4%.*} + 4 ))" || fail "lagging replica: the primary did not answer (primary reads $p4 -> $p5)"
pgr_sql "$PGR_STANDBY_URL" "SELECT pg_wal_replay_resume()" >/dev/null
wait_up 1
lag2="$(metric signal_hub_db_replica_lag_seconds "replica=\"$REPLICA\"")"
gt "$lag2" 3 && fail "the replica is up again with lag $lag2"
searches 5
gt "$(reads replica)" "$(( ${r4%.*} + 4 ))" || fail "caught up again: the replica answered nothing"
pass "replay paused + a write on the primary: skipped at lag ${lag}s > 3 s, primary answered; resumed: replica again"
echo "figure: read_replicas searches=$TOTAL failed=$FAILED duration_s=$((SECONDS - START))"
