#!/usr/bin/env bash
# Failover drill (docs/production/operations/disaster-recovery.md "Failover drill (measured)"): a real
# PostgreSQL primary + streaming standby on loopback (pg_replica_lib.sh); database.url is the libpq
# multi-host URL postgresql://postgres@127.0.0.1:P1,127.0.0.1:P2/hub?target_session_attrs=read-write.
# Two `serve --transport http` processes under a bounded MCP search load (tests/e2e/mcp_load.mjs, one
# load per serve) while a writer runs `signal-hub index` over and over, each run adding one file with a
# unique marker (a run that exits 0 is an acknowledged write). Then the primary is killed (kill -9)
# and the standby promoted at once (pg_ctl promote; detection time is not part of this drill).
# Measured, per replication mode (DRILL_MODES, default "async sync"):
#   RTO  the window from the kill to the first successful search after which none failed (both loads'
#        per-request timestamps), with the failed requests counted;
#   RPO  acknowledged index runs whose marker is missing on the promoted standby.
# Passes when both serve processes answer searches again without a restart and, in sync mode, no
# acknowledged write is lost. Prints `figure:` lines.
#   failover.sh path/to/signal-hub
# Environment: DRILL_MODES ("async sync"), DRILL_LOAD_BEFORE (4 s of load before the kill),
# DRILL_LOAD_AFTER (8 s after the promotion), DRILL_SESSIONS (2 per serve).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_replica_lib.sh"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
E2E="$ROOT/tests/e2e"
command -v node >/dev/null || fail "node is required (scripts/fetch-e2e-deps.sh)"
[ -d "$E2E/node_modules/@modelcontextprotocol/sdk" ] || fail "the MCP SDK is missing: run scripts/fetch-e2e-deps.sh"
MODES="${DRILL_MODES:-async sync}"
BEFORE="${DRILL_LOAD_BEFORE:-4}"
AFTER="${DRILL_LOAD_AFTER:-8}"
SESSIONS="${DRILL_SESSIONS:-2}"
PIDS=()
cleanup() {
    local rc=$?
    touch "$WORK/stop" 2>/dev/null || true
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 1 50); do [ -z "$(jobs -pr)" ] && break; sleep 0.1; done
    jobs -p | xargs -r kill -9 2>/dev/null || true
    pgr_cleanup
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
now_ms() { date +%s%3N; }

drill() {
    local mode="$1" d="$WORK/$1" i
    mkdir -p "$d"
    rm -f "$WORK/stop"
    pgr_start
    [ "$mode" = sync ] && pgr_sync on
    export PG_URL="postgresql://postgres@127.0.0.1:$PGR_PRIMARY_PORT,127.0.0.1:$PGR_STANDBY_PORT/hub?target_session_attrs=read-write&connect_timeout=2"
    cat >"$d/pg.yaml" <<'YAML'
database:
  type: postgresql
  url: ${PG_URL}
  pool_size: 4
  pool_timeout: 5
YAML
    make_tree "$d/repo"
    run_expect 0 "$SH" --config "$d/pg.yaml" index "$d/repo"
    PIDS=()
    local ports=()
    for i in 1 2; do
        "$SH" --config "$d/pg.yaml" serve --transport http --host 127.0.0.1 --port 0 >"$d/s$i.out" 2>"$d/s$i.err" &
        PIDS+=($!)
        wait_for_address "$!" "$d/s$i.err"
        ports+=("$PORT")
    done
    local spids=("${PIDS[@]}")
    for i in 0 1; do
        node "$E2E/mcp_load.mjs" "http://127.0.0.1:${ports[$i]}/mcp" --sessions "$SESSIONS" --seconds 300 \
            --session-calls 0 --stop-file "$WORK/stop" --events "$d/events$i.txt" >"$d/load$i.json" 2>"$d/load$i.err" &
        PIDS+=($!)
    done
    # The writer: one new file per index run; a run that exits 0 acknowledged its marker.
    (
        n=0
        while [ ! -e "$WORK/stop" ] && [ ! -e "$d/stop-writer" ]; do
            n=$((n + 1))
            printf 'def failover_marker_%s():\n    return "failover_marker_%s"\n' "$n" "$n" >"$d/repo/marker_$n.py"
            if "$SH" --config "$d/pg.yaml" index "$d/repo" >/dev/null 2>>"$d/writer.err"; then
                echo "$n" >>"$d/acked.txt"
            fi
        done
    ) &
    PIDS+=($!)
    sleep "$BEFORE"
    local acked_before
    acked_before="$(wc -l <"$d/acked.txt" 2>/dev/null || echo 0)"
    local t_kill t_promoted
    t_kill="$(now_ms)"
    pgr_kill_primary
    pgr_promote_standby
    t_promoted="$(now_ms)"
    sleep "$AFTER"
    touch "$d/stop-writer"
    touch "$WORK/stop"
    for p in "${PIDS[@]:2}"; do wait "$p" || true; done
    # Both serve processes still running (no restart) and answering.
    for i in 0 1; do
        kill -0 "${spids[$i]}" 2>/dev/null || fail "$mode: serve $((i + 1)) exited: $(tail -5 "$d/s$((i + 1)).err")"
        PORT="${ports[$i]}"
        mcp_initialize
        mcp '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"search_code","arguments":{"query":"split a url"}}}'
        [ "$CODE" = 200 ] && [[ "$BODY" != *'"isError":true'* ]] ||
            fail "$mode: serve $((i + 1)) does not answer after the failover: HTTP $CODE $BODY"
    done
    # RPO: acknowledged markers missing on the promoted standby.
    local acked lost=0 n found
    acked="$(cat "$d/acked.txt" 2>/dev/null || true)"
    local promoted_url="postgresql://postgres@127.0.0.1:$PGR_STANDBY_PORT/hub"
    local total_acked=0
    local table
    table="$(pgr_sql "$promoted_url" "SELECT 'signal_hub_records_' || id FROM signal_hub_collections")"
    for n in $acked; do
        total_acked=$((total_acked + 1))
        found="$(pgr_sql "$promoted_url" "SELECT count(*) FROM \"$table\" WHERE position(convert_to('\"failover_marker_$n\"', 'UTF8') in document) > 0")"
        [ "$found" -ge 1 ] || lost=$((lost + 1))
    done
    [ "$total_acked" -ge 1 ] || fail "$mode: the writer acknowledged no index run: $(tail -5 "$d/writer.err")"
    # RTO from the loads' events.
    local figures
    figures="$(cat "$d"/events*.txt | python3 -c '
import sys
kill = int(sys.argv[1]); promoted = int(sys.argv[2])
ev = sorted((int(t), s) for t, s in (l.split() for l in sys.stdin if l.strip()))
after = [e for e in ev if e[0] >= kill]
failed = [e for e in after if e[1] == "failed"]
last_fail = failed[-1][0] if failed else None
ok_after = [e for e in after if e[1] == "ok" and (last_fail is None or e[0] > last_fail)]
if not ok_after: print("none"); sys.exit(0)
rto = (ok_after[0][0] - kill) / 1000.0 if failed else 0.0
total = len(ev); nfail = sum(1 for e in ev if e[1] == "failed")
print("rto_s=%.2f failed_requests=%d requests=%d promote_s=%.2f" % (rto, nfail, total, (promoted - kill) / 1000.0))
' "$t_kill" "$t_promoted")"
    [ "$figures" != none ] || fail "$mode: no successful search after the failover"
    echo "figure: failover mode=$mode $figures acked_writes=$total_acked (before kill: $acked_before) lost_acked_writes=$lost"
    echo "$mode: failed requests by reason: $(cat "$d"/load*.json | python3 -c '
import json, sys
out = {}
for line in sys.stdin:
    if line.strip():
        for k, v in json.loads(line)["failures"].items(): out[k] = out.get(k, 0) + v
print(json.dumps(out))')"
    if [ "$mode" = sync ] && [ "$lost" != 0 ]; then fail "sync: $lost acknowledged writes lost"; fi
    pass "$mode: both serve processes recovered without a restart"
    for p in "${spids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
    PIDS=()
    pgr_cleanup
}

for m in $MODES; do
    case "$m" in async|sync) drill "$m" ;; *) fail "DRILL_MODES: async or sync, not '$m'" ;; esac
done
