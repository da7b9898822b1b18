# Helpers for the integration scripts. Usage: source lib.sh; $SH is the binary.
set -euo pipefail
SH="${1:?usage: $0 path/to/signal-hub}"
SH="$(cd "$(dirname "$SH")" && pwd)/$(basename "$SH")"
TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/signal-hub-it.XXXXXX")"
trap 'rc=$?; jobs -p | xargs -r kill -9 2>/dev/null; rm -rf "$WORK"; exit $rc' EXIT
export NO_COLOR=1
unset SIGNAL_HUB_CONFIG
# Tests that turn on the metrics listener of `serve --transport http` (monitoring.metrics.enabled, off
# by default; default port 9090) get it on a free port, so that tests running in parallel never
# collide. metrics.sh reads the port it prints.
export SIGNAL_HUB_MONITORING__METRICS__PORT=0

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# run_expect CODE CMD...: runs CMD, captures stdout/stderr in $OUT/$ERR, checks the exit code.
run_expect() {
    local want="$1"; shift
    set +e
    "$@" >"$WORK/.out" 2>"$WORK/.err"
    local rc=$?
    set -e
    OUT="$(cat "$WORK/.out")"; ERR="$(cat "$WORK/.err")"
    [ "$rc" -eq "$want" ] || fail "expected exit $want from '$*', got $rc
stdout: $OUT
stderr: $ERR"
}

# key_secret KEY: the secret part of an API key "shk_<16 hex id>_<43 base64url>". The secret itself may
# contain '_', so it is cut by position, never at the last underscore (a short tail would match any log).
key_secret() {
    [[ "$1" =~ ^shk_[0-9a-f]{16}_([A-Za-z0-9_-]{43})$ ]] || fail "not an API key: '$1'"
    printf '%s' "${BASH_REMATCH[1]}"
}

assert_contains() { # HAYSTACK NEEDLE WHAT
    case "$1" in *"$2"*) ;; *) fail "$3: expected to find '$2' in: $1" ;; esac
}

# json_get JSON PYTHON_EXPR: evaluates EXPR with `d` bound to the parsed JSON.
json_get() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($2)" "$1"; }

# record_count STORE_DIR: total records over all collections.
record_count() {
    local j; j="$("$SH" --store "$1" status --json)"
    json_get "$j" "sum(c['records'] for c in d['collections'])"
}

# make_tree DIR: a small multi-language tree.
make_tree() {
    mkdir -p "$1/src/net" "$1/docs"
    cat > "$1/src/net/url.py" <<'PY'
import re


def split_url(url):
    """Split a URL into scheme, host and path."""
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    return scheme, host, "/" + path


class UrlBuilder:
    def __init__(self, scheme):
        self.scheme = scheme

    def build(self, host, path):
        return f"{self.scheme}://{host}{path}"
PY
    cat > "$1/src/checksum.go" <<'GO'
package util

// Adler32 computes the Adler-32 checksum of data.
func Adler32(data []byte) uint32 {
	var a, b uint32 = 1, 0
	for _, c := range data {
		a = (a + uint32(c)) % 65521
		b = (b + a) % 65521
	}
	return b<<16 | a
}
GO
    cat > "$1/src/queue.cpp" <<'CPP'
#include <deque>

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}
  bool TryPush(const T& value) {
    if (items_.size() >= capacity_) return false;
    items_.push_back(value);
    return true;
  }
 private:
  size_t capacity_;
  std::deque<T> items_;
};
CPP
    printf '# Guide\n\nHow to deploy.\n\n## Rollback\n\nRestore the previous release.\n' > "$1/docs/guide.md"
}

# log_records FILE: the log records in FILE (monitoring.logging, text or JSON format) as JSON lines
# on stdout, {"ts":...,"level":...,"msg":...,<fields>}; lines that are not log records are skipped.
# Text values come out as strings, so compare field values as text.
log_records() {
    python3 - "$1" <<'PY'
import json, re, sys
TEXT = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (DEBUG|INFO|WARN|ERROR) (.*)$')
FIELD = re.compile(r' ([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|[^ ]*)')
def unquote(v):
    if not v.startswith('"'):
        return v
    out, i, body = [], 0, v[1:-1]
    while i < len(body):
        c = body[i]
        if c == '\\' and i + 1 < len(body):
            n = body[i + 1]
            if n == 'x':
                out.append(chr(int(body[i + 2:i + 4], 16))); i += 4; continue
            out.append({'n': '\n', 'r': '\r', 't': '\t'}.get(n, n)); i += 2; continue
        out.append(c); i += 1
    return ''.join(out)
for line in open(sys.argv[1], encoding='utf-8', errors='replace'):
    line = line.rstrip('\n')
    if line.startswith('{'):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and {'ts', 'level', 'msg'} <= rec.keys():
            print(json.dumps(rec))
        continue
    m = TEXT.match(line)
    if not m:
        continue
    rest = m.group(3)
    first = FIELD.search(rest)
    while first and not re.fullmatch(r'(?: [A-Za-z0-9_.-]+=(?:"(?:[^"\\]|\\.)*"|[^ ]*))*', rest[first.start():]):
        first = FIELD.search(rest, first.start() + 1)
    msg = rest[:first.start()] if first else rest
    rec = {'ts': m.group(1), 'level': m.group(2).lower(), 'msg': msg}
    for k, v in FIELD.findall(rest[len(msg):]):
        rec[k] = unquote(v)
    print(json.dumps(rec))
PY
}

# log_has FILE MSG [KEY=VALUE | KEY~SUBSTRING]...: true when FILE holds a log record (text or JSON format)
# with message MSG whose fields equal VALUE (compared as text) or contain SUBSTRING.
log_has() {
    local file="$1" msg="$2"; shift 2
    log_records "$file" | python3 -c '
import json, sys
msg, conds = sys.argv[1], sys.argv[2:]
def text(v):
    return json.dumps(v) if isinstance(v, bool) else str(v)
def match(rec):
    if rec.get("msg") != msg:
        return False
    for c in conds:
        eq, sub = c.find("="), c.find("~")
        if eq > 0 and (sub < 0 or eq < sub):
            k, v = c[:eq], c[eq + 1:]
            if k not in rec or text(rec[k]) != v:
                return False
        else:
            k, v = c[:sub], c[sub + 1:]
            if k not in rec or v not in text(rec[k]):
                return False
    return True
sys.exit(0 if any(match(json.loads(l)) for l in sys.stdin) else 1)
' "$msg" "$@"
}

# wait_for_address PID ERRFILE: waits until `signal-hub serve --transport http` (process PID) has
# logged its http:// or https:// address ("url=" in text format, "url": in JSON) in ERRFILE (its stderr,
# stdout or log file); sets PORT. Fails when the server exits first or prints
# nothing within 30 s.
wait_for_address() {
    local pid="$1" err="$2"
    PORT=""
    for _ in $(seq 1 300); do
        # The file appears when the background job's redirection (or the server's log file) is opened.
        [ -e "$err" ] && PORT="$(sed -n 's|.*https\{0,1\}://127\.0\.0\.1:\([0-9]*\)/mcp.*|\1|p' "$err" | head -1)"
        [ -n "$PORT" ] && return 0
        kill -0 "$pid" 2>/dev/null || fail "the server exited: $(cat "$err")"
        sleep 0.1
    done
    fail "the server printed no address: $(cat "$err")"
}

# wait_for_metrics ERRFILE: reads the metrics address `serve --transport http` printed on stderr
# (the log record "metrics at url=http://127.0.0.1:PORT/metrics", text or JSON, written right after the MCP
# address); sets METRICS_URL.
wait_for_metrics() {
    local err="$1"
    METRICS_URL=""
    for _ in $(seq 1 100); do
        METRICS_URL="$(sed -n 's|.*metrics at.*\(http://[^ "]*\).*|\1|p' "$err" | head -1)"
        [ -n "$METRICS_URL" ] && return 0
        sleep 0.1
    done
    fail "the server printed no metrics address: $(cat "$err")"
}

# mcp MESSAGE: POSTs one JSON-RPC message to http://127.0.0.1:$PORT/mcp with the MCP headers and
# $SESSION (when set); sets CODE and BODY, and SESSION from an Mcp-Session-Id reply header.
mcp() {
    local hdrs="$WORK/.mcp-headers" sid
    BODY="$(curl -s -m 30 -D "$hdrs" -o - -w '\n%{http_code}' -X POST "http://127.0.0.1:$PORT/mcp" \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        ${SESSION:+-H "Mcp-Session-Id: $SESSION"} --data-binary "$1" || true)"
    CODE="${BODY##*$'\n'}"; BODY="${BODY%$'\n'*}"
    sid="$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *\([0-9a-f]*\).*/\1/p' "$hdrs" | tr -d '\r')"
    [ -z "$sid" ] || SESSION="$sid"
}

# mcp_initialize: opens an MCP session on $PORT (initialize + notifications/initialized); sets SESSION.
mcp_initialize() {
    SESSION=""
    mcp '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"it","version":"0"}}}'
    [ "$CODE" = 200 ] && [ -n "$SESSION" ] || fail "initialize: HTTP $CODE $BODY"
    mcp '{"jsonrpc":"2.0","method":"notifications/initialized"}'
    [ "$CODE" = 202 ] || fail "notifications/initialized: HTTP $CODE $BODY"
}

# guide_block FILE MARKER: prints the fenced code block (```sh, ```ini, ...) that follows the line
# `<!-- MARKER -->` in the Markdown FILE, so a test runs a guide's commands exactly as written.
# Fails when FILE has no such block.
guide_block() {
    python3 - "$1" "$2" <<'PY' || fail "no block marked '<!-- $2 -->' in $1"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r"<!-- " + re.escape(sys.argv[2]) + r" -->[ \t]*\n\s*```[A-Za-z0-9_-]*\n(.*?)\n```", text, re.S)
if not m:
    sys.exit(1)
print(m.group(1))
PY
}

# dr_trees: the two trees of the disaster-recovery drills: $WORK/app (make_tree, a git repository with
# one commit) and $WORK/lib (three small Python files, no git).
dr_trees() {
    make_tree "$WORK/app"
    git -C "$WORK/app" init -q && git -C "$WORK/app" add -A &&
        git -C "$WORK/app" -c user.name=t -c user.email=t@t commit -qm one
    mkdir -p "$WORK/lib/pkg"
    for i in 1 2 3; do printf 'def helper_%s(x):\n    """Helper number %s."""\n    return x * %s\n' "$i" "$i" "$i" >"$WORK/lib/pkg/m$i.py"; done
}

# dr_commit_late: a file committed to $WORK/app after the archive (the catch-up must bring it back).
dr_commit_late() {
    printf 'def after_the_backup():\n    """Added after the last archive."""\n    return 42\n' >"$WORK/app/late.py"
    git -C "$WORK/app" add -A && git -C "$WORK/app" -c user.name=t -c user.email=t@t commit -qm two
}
