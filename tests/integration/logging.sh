#!/usr/bin/env bash
# monitoring.logging end to end with `signal-hub serve`: format json to stdout (every line a JSON object
# with ts/level/msg, nothing else on stdout or stderr, no secret anywhere), the default text format on
# stderr (human-readable, parseable by the scripts), level filtering and --quiet (the listening address
# is still written), a log file (mode 0640, reopened on SIGHUP after a logrotate-style move), and the
# refusal of output stdout with `serve --transport stdio`.
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || fail "curl is required (scripts/test.sh installs it)"
make_tree "$WORK/repo"
STORE="$WORK/repo/.signal-hub"
run_expect 0 "$SH" -q index "$WORK/repo"

# API keys on, so that there are secrets to keep out of the log: the pepper (environment) and a key.
export SIGNAL_HUB_API_KEY_PEPPER="pepper-$(head -c 24 /dev/urandom | base64 -w0 | tr -d '+/=')"
CONFIG="$WORK/signal-hub.yaml"
cat > "$CONFIG" <<YAML
security:
  api_keys:
    enabled: true
    storage: file
    file: $WORK/api-keys.json
  audit_log: $WORK/audit.log
YAML
KEY="$("$SH" --config "$CONFIG" --store "$STORE" keys create --name logging-test --scopes search | tail -n 1)"
[[ "$KEY" == shk_* ]] || fail "keys create printed no key: $KEY"
SECRET="$(key_secret "$KEY")"

# start NAME ADDRESS_FILE [VAR=VALUE...] -- [serve args...]: starts serve --transport http --port 0 with
# the environment given, stdout in $WORK/NAME.out and stderr in $WORK/NAME.err; waits until
# ADDRESS_FILE (out, err or a path) shows the address; sets PID and PORT.
start() {
    local name="$1" where="$2"; shift 2
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    env "${envs[@]}" "$SH" --config "$CONFIG" --store "$STORE" "$@" serve --transport http --port 0 \
        >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PID=$!
    case "$where" in
        out) wait_for_address "$PID" "$WORK/$name.out" ;;
        err) wait_for_address "$PID" "$WORK/$name.err" ;;
        *)
            for _ in $(seq 1 300); do
                [ -e "$where" ] && break
                kill -0 "$PID" 2>/dev/null || fail "serve exited: $(cat "$WORK/$name.err")"
                sleep 0.1
            done
            wait_for_address "$PID" "$where" ;;
    esac
}

stop() {
    kill -TERM "$PID"
    set +e; wait "$PID"; local rc=$?; set -e
    [ "$rc" -eq 0 ] || fail "serve exited with $rc after SIGTERM: $(cat "$WORK"/*.err)"
}

# requests: an MCP session with the key, a search, and refused requests with wrong keys.
requests() {
    local hdrs="$WORK/.h" sid
    curl -s -m 30 -D "$hdrs" -o /dev/null -X POST "http://127.0.0.1:$PORT/mcp" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        --data-binary '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"it","version":"0"}}}'
    sid="$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *\([0-9a-f]*\).*/\1/p' "$hdrs" | tr -d '\r')"
    [ -n "$sid" ] || fail "initialize with the key failed: $(cat "$hdrs")"
    local code
    code="$(curl -s -m 30 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/mcp" \
        -H "X-API-Key: $KEY" -H "Mcp-Session-Id: $sid" -H 'Content-Type: application/json' \
        -H 'Accept: application/json, text/event-stream' \
        --data-binary '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_code","arguments":{"query":"split url"}}}')"
    [ "$code" = 200 ] || fail "search with the key: HTTP $code"
    code="$(curl -s -m 30 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/mcp" \
        -H "X-API-Key: ${KEY%_*}_$(printf 'B%.0s' $(seq 43))" -H 'Content-Type: application/json' \
        -H 'Accept: application/json, text/event-stream' --data-binary '{"jsonrpc":"2.0","id":3,"method":"ping"}')"
    [ "$code" = 401 ] || fail "a wrong secret: expected 401, got $code"
    curl -s -m 10 -o /dev/null "http://127.0.0.1:$PORT/health"
}

# wait_log FILE MSG [conditions...]: waits up to 30 s for the record (log_has).
wait_log() {
    for _ in $(seq 1 300); do
        log_has "$@" && return 0
        sleep 0.1
    done
    fail "no record '$2' in $1: $(cat "$1")"
}

no_secret() { # FILE...
    for f in "$@"; do
        ! grep -qF -- "$SECRET" "$f" || fail "the API key's secret is in $f"
        ! grep -qF -- "$SIGNAL_HUB_API_KEY_PEPPER" "$f" || fail "the pepper is in $f"
    done
}

# --- format json, output stdout ---------------------------------------------------------------------
start json out SIGNAL_HUB_MONITORING__LOGGING__FORMAT=json SIGNAL_HUB_MONITORING__LOGGING__OUTPUT=stdout
requests
kill -HUP "$PID"  # reloads the key file: one more record
wait_log "$WORK/json.out" "API keys reloaded"
stop
python3 - "$WORK/json.out" "$PORT" <<'PY'
import json, re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert lines, "nothing on stdout"
msgs = []
for n, line in enumerate(lines, 1):
    rec = json.loads(line)  # every line is one JSON object
    assert isinstance(rec, dict), (n, line)
    assert list(rec)[:3] == ["ts", "level", "msg"], (n, line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rec["ts"]), (n, line)
    assert rec["level"] in ("debug", "info", "warn", "error"), (n, line)
    assert isinstance(rec["msg"], str) and rec["msg"], (n, line)
    msgs.append(rec["msg"])
serving = [json.loads(l) for l in lines if json.loads(l)["msg"] == "serving over MCP Streamable HTTP"]
assert len(serving) == 1, lines
assert serving[0]["url"] == "http://127.0.0.1:%s/mcp" % sys.argv[2], serving
assert serving[0]["level"] == "info", serving
for want in ["API keys required", "API keys reloaded", "shut down cleanly"]:
    assert want in msgs, (want, msgs)
PY
[ ! -s "$WORK/json.err" ] || fail "format json, output stdout: stderr is not empty: $(cat "$WORK/json.err")"
no_secret "$WORK/json.out" "$WORK/json.err" "$WORK/audit.log"
pass "format json: $(wc -l < "$WORK/json.out") JSON lines on stdout (ts, level, msg first), stderr empty, no secret"

# --- the default: text on stderr --------------------------------------------------------------------
start text err --
requests
stop
[ ! -s "$WORK/text.out" ] || fail "format text: stdout is not empty: $(cat "$WORK/text.out")"
while IFS= read -r line; do
    [[ "$line" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z\ (DEBUG|INFO|WARN|ERROR)\ [^\ ] ]] ||
        fail "format text: not a log line: $line"
    [[ "$line" != \{* ]] || fail "format text: a JSON line: $line"
done < "$WORK/text.err"
grep -qE "^[0-9T:.-]+Z INFO serving over MCP Streamable HTTP store=.* url=http://127\.0\.0\.1:$PORT/mcp\$" \
    "$WORK/text.err" || fail "format text: no readable listening line: $(cat "$WORK/text.err")"
log_has "$WORK/text.err" "API keys required" || fail "format text: no 'API keys required': $(cat "$WORK/text.err")"
log_has "$WORK/text.err" "shut down cleanly" || fail "format text: no 'shut down cleanly'"
no_secret "$WORK/text.err"
pass "format text (default): timestamped lines on stderr, e.g. '$(head -n 1 "$WORK/text.err")'"

# --- level warn and --quiet: only the listening line at info ----------------------------------------
for mode in level quiet; do
    if [ "$mode" = level ]; then
        start "$mode" err SIGNAL_HUB_MONITORING__LOGGING__LEVEL=WARN --
    else
        start "$mode" err -- --quiet
    fi
    requests
    stop
    log_has "$WORK/$mode.err" "serving over MCP Streamable HTTP" || fail "$mode: no listening line"
    ! log_has "$WORK/$mode.err" "API keys required" || fail "$mode: an info record was written"
    ! log_has "$WORK/$mode.err" "shut down cleanly" || fail "$mode: an info record was written"
    # The two listening records (MCP and metrics addresses) are written at any level; nothing else at warn.
    [ "$(grep -cv 'serving over MCP Streamable HTTP\|metrics at ' "$WORK/$mode.err")" -eq 0 ] ||
        fail "$mode: more than the listening lines: $(cat "$WORK/$mode.err")"
done
pass "level warn and --quiet drop info records but keep the listening address"

# --- output to a file, reopened on SIGHUP -----------------------------------------------------------
LOG="$WORK/logs/signal-hub.log"
mkdir -p "$WORK/logs"
OLD_UMASK="$(umask)"
umask 027  # the file is created 0640; a umask can only take bits away
start file "$LOG" SIGNAL_HUB_MONITORING__LOGGING__OUTPUT="$LOG" SIGNAL_HUB_MONITORING__LOGGING__FORMAT=json --
umask "$OLD_UMASK"
[ "$(stat -c %a "$LOG")" = 640 ] || fail "the log file's mode is $(stat -c %a "$LOG"), expected 640"
mv "$LOG" "$LOG.1"
kill -HUP "$PID"
wait_log "$LOG" "API keys reloaded"
stop
log_has "$LOG.1" "serving over MCP Streamable HTTP" || fail "the rotated file lacks the start: $(cat "$LOG.1")"
! log_has "$LOG.1" "API keys reloaded" || fail "a record went to the rotated file after SIGHUP"
log_has "$LOG" "shut down cleanly" || fail "the reopened file lacks the shutdown: $(cat "$LOG")"
[ ! -s "$WORK/file.out" ] && [ ! -s "$WORK/file.err" ] || fail "output file: stdout/stderr not empty"
no_secret "$LOG" "$LOG.1"
pass "output to a file (mode 640), reopened on SIGHUP after the file was moved away"

# --- stdio: stdout carries the protocol ---------------------------------------------------------------
run_expect 2 env SIGNAL_HUB_MONITORING__LOGGING__OUTPUT=stdout "$SH" --store "$STORE" serve --transport stdio </dev/null
assert_contains "$ERR" "monitoring.logging.output is stdout, but \`serve --transport stdio\` speaks MCP on stdout" \
    "stdio refuses output stdout"
[ -z "$OUT" ] || fail "stdio with output stdout wrote to stdout: $OUT"
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"ping"}' |
    SIGNAL_HUB_MONITORING__LOGGING__FORMAT=json "$SH" --store "$STORE" serve --transport stdio \
        >"$WORK/stdio.out" 2>"$WORK/stdio.err"
python3 - "$WORK/stdio.out" "$WORK/stdio.err" <<'PY'
import json, sys
out = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert out and all(m.get("jsonrpc") == "2.0" for m in out), out  # only protocol messages on stdout
err = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert any(r["msg"] == "serving over MCP stdio" for r in err), err
PY
pass "serve --transport stdio refuses output stdout (exit 2) and logs JSON to stderr"
