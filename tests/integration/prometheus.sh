#!/usr/bin/env bash
# A real Prometheus server (Debian package prometheus) scrapes `signal-hub serve --transport http`:
# after a scripted MCP exchange, its query API returns our series with the expected labels and
# values, and the alert rules of deploy/monitoring/prometheus/alerts.yml load and evaluate without
# error against them. Everything on 127.0.0.1, free ports, a temporary TSDB; bounded waits.
source "$(dirname "$0")/lib.sh"
export SIGNAL_HUB_MONITORING__METRICS__ENABLED=true  # off by default; this test scrapes them
command -v curl >/dev/null || fail "curl is required (scripts/test.sh installs it)"
PROMETHEUS="${PROMETHEUS:-/usr/bin/prometheus}"
[ -x "$PROMETHEUS" ] || fail "$PROMETHEUS is missing (Debian package prometheus; scripts/test.sh installs it)"
make_tree "$WORK/repo"
STORE="$WORK/repo/.signal-hub"
run_expect 0 "$SH" -q index "$WORK/repo"

"$SH" --store "$STORE" serve --transport http --port 0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE_PID=$!
wait_for_address "$SERVE_PID" "$WORK/serve.err"
wait_for_metrics "$WORK/serve.err"
TARGET="${METRICS_URL#http://}"; TARGET="${TARGET%%/*}"
pass "signal-hub: MCP on port $PORT, metrics at $METRICS_URL"

# A free port for Prometheus' own web listener.
PROM_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
RULES="$(cd "$TESTS_DIR/../.." && pwd)/deploy/monitoring/prometheus/alerts.yml"
[ -f "$RULES" ] || fail "$RULES is missing"
cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["$RULES"]
scrape_configs:
  - job_name: signal-hub
    metrics_path: /metrics
    static_configs:
      - targets: ["$TARGET"]
YAML
"$PROMETHEUS" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
API="http://127.0.0.1:$PROM_PORT/api/v1"
for _ in $(seq 1 300); do
    curl -s -m 2 -o /dev/null "http://127.0.0.1:$PROM_PORT/-/ready" && break
    kill -0 "$PROM_PID" 2>/dev/null || fail "prometheus exited: $(tail -20 "$WORK/prometheus.log")"
    sleep 0.2
done
curl -s -m 2 -o /dev/null "http://127.0.0.1:$PROM_PORT/-/ready" || fail "prometheus not ready: $(tail -20 "$WORK/prometheus.log")"
pass "prometheus $("$PROMETHEUS" --version 2>&1 | head -1 | awk '{print $3}') on 127.0.0.1:$PROM_PORT scraping $TARGET every 1 s"

# The exchange.
mcp_initialize
mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
[ "$CODE" = 200 ] || fail "tools/list: $CODE $BODY"
mcp '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"search_code","arguments":{"query":"bounded queue push"}}}'
[ "$CODE" = 200 ] || fail "tools/call: $CODE $BODY"
pass "MCP exchange done (initialize, tools/list, tools/call search_code)"

# query PROMQL: the instant query's result vector as JSON ("" on a transport error).
query() { curl -s -m 5 -G "$API/query" --data-urlencode "query=$1" || true; }
# wait_for PROMQL PYTHON_CONDITION WHAT: polls (at most 60 s) until the condition over `r` (the result
# vector) holds.
wait_for() {
    local q="$1" cond="$2" what="$3" out=""
    for _ in $(seq 1 120); do
        out="$(query "$q")"
        if [ -n "$out" ] && python3 -c "
import json, sys
d = json.loads(sys.argv[1])
r = d['data']['result'] if d.get('status') == 'success' else []
sys.exit(0 if ($cond) else 1)" "$out" 2>/dev/null; then
            pass "$what"
            return 0
        fi
        sleep 0.5
    done
    fail "$what: not seen within 60 s; last answer to '$q': $out
prometheus targets: $(curl -s "$API/targets" | head -c 2000)"
}

wait_for 'up{job="signal-hub"}' "len(r) == 1 and r[0]['value'][1] == '1'" "the target is up"
wait_for 'signal_hub_mcp_tool_calls_total{job="signal-hub",tool="search_code",outcome="ok"}' \
    "len(r) == 1 and r[0]['value'][1] == '1'" "signal_hub_mcp_tool_calls_total{tool=\"search_code\",outcome=\"ok\"} = 1"
wait_for 'signal_hub_mcp_requests_total{method="initialize",outcome="ok"}' \
    "len(r) == 1 and r[0]['value'][1] == '1'" "signal_hub_mcp_requests_total{method=\"initialize\"} = 1"
wait_for 'signal_hub_mcp_sessions_active' "len(r) == 1 and r[0]['value'][1] == '1'" "one MCP session active"
wait_for 'sum by (route) (signal_hub_http_requests_total{route="mcp"})' \
    "len(r) == 1 and float(r[0]['value'][1]) >= 4" "HTTP responses on route mcp"
wait_for 'histogram_quantile(0.5, sum by (le) (signal_hub_search_duration_seconds_bucket{backend="embedded",mode="hybrid"}))' \
    "len(r) == 1 and r[0]['value'][1] not in ('NaN',)" "a search latency quantile from the histogram"
wait_for 'signal_hub_collection_records{collection="repo"}' \
    "len(r) == 1 and float(r[0]['value'][1]) > 0" "collection gauge for repo"
wait_for 'signal_hub_build_info' \
    "len(r) == 1 and r[0]['metric'].get('version') == '0.1.0'" "signal_hub_build_info{version=\"0.1.0\"}"
wait_for 'process_resident_memory_bytes{job="signal-hub"}' "len(r) == 1 and float(r[0]['value'][1]) > 0" \
    "process_resident_memory_bytes"

# The alert rules: every group loaded, every rule evaluated at least once and healthy (a PromQL error
# against our real series would show as health "err").
for _ in $(seq 1 60); do
    RULES_JSON="$(curl -s -m 5 "$API/rules" || true)"
    python3 -c "
import json, sys
d = json.loads(sys.argv[1])
rules = [r for g in d['data']['groups'] for r in g['rules']]
sys.exit(0 if rules and all(r.get('health') == 'ok' and r.get('lastEvaluation', '').startswith('20') for r in rules) else 1)
" "$RULES_JSON" 2>/dev/null && break
    sleep 0.5
done
python3 - "$RULES_JSON" "$(grep -c '^ *- alert:' "$RULES")" <<'PY' || fail "alert rules: $RULES_JSON"
import json, sys
d = json.loads(sys.argv[1])
rules = [r for g in d['data']['groups'] for r in g['rules']]
alerts = [r for r in rules if r['type'] == 'alerting']
bad = [(r['name'], r.get('health'), r.get('lastError')) for r in rules if r.get('health') != 'ok']
assert not bad, bad
assert len(alerts) == int(sys.argv[2]), (len(alerts), sys.argv[2])
firing = [r['name'] for r in alerts if r['state'] == 'firing']
assert not firing, firing
print(f"ok: {len(alerts)} alert rules ({len(rules)} rules) loaded, healthy, none firing on a healthy server")
PY

kill -TERM "$PROM_PID"
set +e; wait "$PROM_PID"; set -e
kill -TERM "$SERVE_PID"
set +e; wait "$SERVE_PID"; rc=$?; set -e
[ "$rc" -eq 0 ] || fail "serve exited $rc after SIGTERM"
pass "prometheus and signal-hub stopped"
