#!/usr/bin/env bash
# Two repositories served side by side on one machine (docs/mcp.md "Ports"): two
# `serve --transport http` processes with the default configuration, one port each, both answer
# /health and an MCP tools/call with their own repository's code. Metrics are off by default, so the
# second server does not die on the metrics port (issue 20, item 1). Then the bind failures: an MCP
# port in use and a metrics port in use exit 6 before any "serving" line, and the message says the
# address is in use and names the setting to change (flag, config key, environment variable).
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || fail "curl is required (scripts/test.sh installs it)"
# The defaults as a user gets them: lib.sh moves the metrics port to 0 for tests that enable metrics.
unset SIGNAL_HUB_MONITORING__METRICS__PORT SIGNAL_HUB_MONITORING__METRICS__ENABLED

make_tree "$WORK/alpha"
mkdir -p "$WORK/beta/lib"
cat >"$WORK/beta/lib/ledger.py" <<'PY'
def reconcile_ledger_entries(entries, statement):
    """Match ledger entries against a bank statement and return the unmatched ones."""
    seen = {(e.amount, e.date) for e in statement}
    return [e for e in entries if (e.amount, e.date) not in seen]
PY
run_expect 0 "$SH" -q index "$WORK/alpha"
run_expect 0 "$SH" -q index "$WORK/beta"

declare -A PIDS PORTS
start() { # NAME REPO [serve args]
    local name="$1" repo="$2"; shift 2
    "$SH" --store "$repo/.signal-hub" serve --transport http "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS[$name]=$!
    wait_for_address "${PIDS[$name]}" "$WORK/$name.err"
    PORTS[$name]="$PORT"
}
stop() { # NAME
    kill -TERM "${PIDS[$1]}"
    set +e; wait "${PIDS[$1]}"; local rc=$?; set -e
    [ "$rc" -eq 0 ] || fail "$1 exited with $rc after SIGTERM: $(cat "$WORK/$1.err")"
}

start alpha "$WORK/alpha" --port 0
start beta "$WORK/beta" --port 0
[ "${PORTS[alpha]}" != "${PORTS[beta]}" ] || fail "both servers report port ${PORTS[alpha]}"
for name in alpha beta; do
    grep -q "metrics at" "$WORK/$name.err" && fail "$name opened a metrics listener by default: $(cat "$WORK/$name.err")"
    kill -0 "${PIDS[$name]}" || fail "$name exited: $(cat "$WORK/$name.err")"
done
pass "two servers side by side on ports ${PORTS[alpha]} and ${PORTS[beta]}, no metrics listener by default"

search() { # QUERY -> BODY of tools/call search_code on $PORT
    mcp_initialize
    mcp "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"search_code\",\"arguments\":{\"query\":\"$1\"}}}"
    [ "$CODE" = 200 ] || fail "tools/call search_code on port $PORT: HTTP $CODE $BODY"
}
for name in alpha beta; do
    PORT="${PORTS[$name]}"
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = 200 ] || fail "$name: /health"
done
PORT="${PORTS[alpha]}"; search "split a url into scheme host and path"
assert_contains "$BODY" "split_url" "alpha's search"
grep -q reconcile_ledger_entries <<<"$BODY" && fail "alpha answered with beta's code: $BODY"
PORT="${PORTS[beta]}"; search "reconcile ledger entries against a bank statement"
assert_contains "$BODY" "reconcile_ledger_entries" "beta's search"
grep -q split_url <<<"$BODY" && fail "beta answered with alpha's code: $BODY"
pass "both answer /health and search_code, each with its own repository"

# --- bind failures name the setting --------------------------------------------------------------
run_expect 6 "$SH" --store "$WORK/beta/.signal-hub" serve --transport http --port "${PORTS[alpha]}"
for want in "cannot listen on 127.0.0.1:${PORTS[alpha]}: address in use" "--port" "server.port" \
    "SIGNAL_HUB_SERVER__PORT" "server.host"; do
    assert_contains "$ERR" "$want" "MCP port in use"
done
grep -q "serving over" <<<"$ERR" && fail "a 'serving' line before the bind failure: $ERR"
pass "MCP port in use: exit 6, $(grep 'error' <<<"$ERR" | head -1)"

for how in flag env; do
    if [ "$how" = flag ]; then
        run_expect 6 "$SH" --store "$WORK/beta/.signal-hub" serve --transport http --port 0 \
            --metrics-port "${PORTS[alpha]}"
    else
        run_expect 6 env SIGNAL_HUB_MONITORING__METRICS__ENABLED=true \
            SIGNAL_HUB_MONITORING__METRICS__PORT="${PORTS[alpha]}" \
            "$SH" --store "$WORK/beta/.signal-hub" serve --transport http --port 0
    fi
    for want in "monitoring.metrics: cannot listen on 127.0.0.1:${PORTS[alpha]}: address in use" "--metrics-port" \
        "monitoring.metrics.port" "SIGNAL_HUB_MONITORING__METRICS__PORT" "monitoring.metrics.enabled: false"; do
        assert_contains "$ERR" "$want" "metrics port in use ($how)"
    done
    grep -q "serving over" <<<"$ERR" && fail "a 'serving' line before the metrics bind failure: $ERR"
    pass "metrics port in use ($how): exit 6, names the setting"
done

# --metrics-port turns metrics on for one server.
start gamma "$WORK/beta" --port 0 --metrics-port 0
wait_for_metrics "$WORK/gamma.err"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$METRICS_URL")" = 200 ] || fail "scrape $METRICS_URL"
stop gamma
pass "--metrics-port 0: metrics at $METRICS_URL"

stop alpha
stop beta
pass "both servers stop cleanly"
