#!/usr/bin/env bash
# The guide's production configuration, config/production.yaml, run VERBATIM (issue 14): the file of
# the original ticket, byte for byte, starts a working server given its environment variables
# (DATABASE_URL, VAULT_URL, REDIS_URL, JAEGER_URL; WORKERS optional), the two secrets it needs from
# the environment (VAULT_TOKEN for the Vault token, SIGNAL_HUB_API_KEY_PEPPER for the key hashes) and
# the certificate files /certs/server.crt and /certs/server.key it names.
#   - the repository's copy equals the ticket's YAML block byte for byte (when ../shared/seed is there);
#   - `migrate init-db`, `index` and `keys create` (into the Vault fixture) with that file;
#   - `serve --transport http` with it: https on 127.0.0.1:8080, /health and /ready 200, an MCP
#     search with the key, 401 without one; JSON log records on stdout; Prometheus metrics on
#     127.0.0.1:9090/metrics; rate limits and the query cache in the one Redis the file names (the
#     cache's redis_url is the default taken from security.rate_limiting.redis_url); spans at the
#     OTLP/HTTP receiver standing in for Jaeger; SIGTERM ends it cleanly.
#   production_config.sh path/to/signal-hub
#
# Where it runs: the file's fixed ports (8080, 9090) and absolute certificate paths must neither clash
# with other tests nor touch the host. As root, the script re-runs itself in private PID, network and
# mount namespaces (unshare): a loopback-only network where 8080/9090 are always free, and processes
# that all end with the namespace. PostgreSQL and Redis are started inside it by the project's fixture
# scripts (scripts/pg-test-cluster.sh, scripts/redis-test-server.sh); HashiCorp Vault and Jaeger by
# tests/fixtures/vault_fixture.py and tests/fixtures/otlp_receiver.py. /certs: the server runs
# chrooted into a tmpfs that holds a bind mount of each top-level entry of / plus a `certs` directory
# bound to the generated certificates, so nothing is created on the host's root and the tmpfs
# disappears with the namespace. Needs root (CAP_SYS_ADMIN), unshare, chroot, ip, openssl, curl.
set -euo pipefail
if [ -z "${SIGNAL_HUB_PRODCFG_IN_NS:-}" ]; then
    [ "$(id -u)" -eq 0 ] || { echo "FAIL: $0 needs root (private namespaces, mounts, chroot)" >&2; exit 1; }
    command -v unshare >/dev/null || { echo "FAIL: unshare is required (util-linux)" >&2; exit 1; }
    export SIGNAL_HUB_PRODCFG_IN_NS=1
    exec unshare --pid --fork --kill-child --mount-proc --net --mount --propagation private \
        bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
unset SIGNAL_HUB_MONITORING__METRICS__PORT  # lib.sh's free-port default: this test uses the file as written
REPO="$(cd "$TESTS_DIR/../.." && pwd)"
FILE="$REPO/config/production.yaml"
FIXTURES="$TESTS_DIR/../fixtures"
for tool in ip openssl curl chroot mount python3 psql redis-cli; do
    command -v "$tool" >/dev/null || fail "$tool is required (scripts/test.sh installs it)"
done
[ -f "$FILE" ] || fail "no $FILE"

# --- the file is the ticket's, byte for byte ----------------------------------------------------------
# The original ticket sits beside the clone on the project's machines (../shared/seed; a worktree one
# level deeper: ../../shared/seed).
SEED=""
for dir in "$REPO/../shared/seed" "$REPO/../../shared/seed"; do
    [ -f "$dir/000_9b90c15d2c53ba84.txt" ] && { SEED="$dir/000_9b90c15d2c53ba84.txt"; break; }
done
if [ -n "$SEED" ]; then
    python3 - "$SEED" "$FILE" <<'PY' || fail "config/production.yaml differs from the ticket's block"
import sys
text = open(sys.argv[1], encoding="utf-8").read()
start = text.index("```yaml\n", text.index("### Production Configuration")) + len("```yaml\n")
block = text[start:text.index("```", start)]
sys.exit(0 if open(sys.argv[2], "rb").read() == block.encode("utf-8") else 1)
PY
    pass "config/production.yaml is the ticket's block byte for byte"
else
    echo "note: the original ticket (../shared/seed) is not beside this clone; the byte-for-byte comparison is skipped"
fi
sha256sum "$FILE" >"$WORK/file.sha256"

# --- the namespace: loopback only; the fixed ports are free here ------------------------------------
ip link set lo up
for port in 8080 9090; do
    ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || fail "port $port in use inside the private namespace"
done

# The server's root (below) is a tmpfs of bind mounts of the host's /: it lives outside $WORK, is
# unmounted before anything is removed, and is only ever rmdir'ed, never rm -r'ed.
ROOT="$(mktemp -d /tmp/signal-hub-root.XXXXXX)"
STOPS=()
cleanup() {
    local rc=$? s
    for s in "${STOPS[@]}"; do eval "$s" >/dev/null 2>&1 || true; done
    for s in $(jobs -p); do kill -9 "$s" 2>/dev/null || true; wait "$s" 2>/dev/null || true; done
    if mountpoint -q "$ROOT"; then umount -R "$ROOT" 2>/dev/null || umount -R -l "$ROOT" 2>/dev/null || true; fi
    mountpoint -q "$ROOT" || rmdir "$ROOT" 2>/dev/null || true
    rm -rf --one-file-system "$WORK"
    exit "$rc"
}
trap cleanup EXIT

# --- PostgreSQL, Redis, Vault, Jaeger (OTLP/HTTP) -------------------------------------------------------
bash "$REPO/scripts/pg-test-cluster.sh" start "$WORK/pg" >"$WORK/pg.log" 2>&1 || fail "PostgreSQL: $(cat "$WORK/pg.log")"
STOPS+=("bash '$REPO/scripts/pg-test-cluster.sh' stop '$WORK/pg'")
bash "$REPO/scripts/redis-test-server.sh" start "$WORK/redis" >"$WORK/redis.log" 2>&1 || fail "Redis: $(cat "$WORK/redis.log")"
STOPS+=("bash '$REPO/scripts/redis-test-server.sh' stop '$WORK/redis'")
export DATABASE_URL REDIS_URL VAULT_URL JAEGER_URL VAULT_TOKEN SIGNAL_HUB_API_KEY_PEPPER
DATABASE_URL="$(head -n1 "$WORK/pg/url")"
REDIS_URL="$(head -n1 "$WORK/redis/url")"
VAULT_TOKEN="hvs.$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
SIGNAL_HUB_API_KEY_PEPPER="$(head -c 48 /dev/urandom | base64)"
unset WORKERS  # ${WORKERS:-4}

wait_port_line() { # FILE: prints N of the first "PORT N" line (10 s)
    local p=""
    for _ in $(seq 1 100); do
        p="$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$1" 2>/dev/null | head -1)"
        [ -n "$p" ] && { echo "$p"; return 0; }
        sleep 0.1
    done
    return 1
}
python3 "$FIXTURES/vault_fixture.py" --token "$VAULT_TOKEN" >"$WORK/vault.out" 2>"$WORK/vault.err" &
VAULT_PORT="$(wait_port_line "$WORK/vault.out")" || fail "the Vault fixture did not start: $(cat "$WORK/vault.err")"
VAULT_URL="http://127.0.0.1:$VAULT_PORT"
mkfifo "$WORK/otlp.in"
OTLP_FIXTURE_MAX_LIFETIME_S=600 python3 "$FIXTURES/otlp_receiver.py" <"$WORK/otlp.in" >"$WORK/otlp.out" 2>"$WORK/otlp.err" &
exec {OTLP_FD}>"$WORK/otlp.in"
OTLP_PORT="$(wait_port_line "$WORK/otlp.out")" || fail "the OTLP receiver did not start: $(cat "$WORK/otlp.err")"
JAEGER_URL="http://127.0.0.1:$OTLP_PORT"
pass "PostgreSQL, Redis, Vault fixture ($VAULT_PORT) and OTLP receiver ($OTLP_PORT) in the namespace"

# --- the certificates the file names: /certs/server.{crt,key}, seen only by the server's chroot -------
PKI="$WORK/pki"; mkdir -p "$PKI"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 2 \
    -subj "/CN=Signal Hub production config CA" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' \
    >"$PKI/server.ext"
mkdir -p "$WORK/certs"
openssl req -newkey rsa:2048 -nodes -keyout "$WORK/certs/server.key" -out "$PKI/server.csr" -subj "/CN=localhost" \
    2>/dev/null
openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial 0x14 -days 2 \
    -extfile "$PKI/server.ext" -out "$WORK/certs/server.crt" 2>/dev/null
chmod 0644 "$WORK/certs/server.crt"; chmod 0600 "$WORK/certs/server.key"
HOST_HAD_CERTS=0; [ -e /certs ] && HOST_HAD_CERTS=1
mount -t tmpfs -o mode=0755 signal-hub-root "$ROOT"
for entry in /* /.[!.]*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    name="${entry#/}"
    [ "$name" = certs ] && continue
    if [ -L "$entry" ]; then
        ln -s "$(readlink "$entry")" "$ROOT/$name"
    elif [ -d "$entry" ]; then
        mkdir "$ROOT/$name"; mount --rbind "$entry" "$ROOT/$name"
    else
        touch "$ROOT/$name"; mount --bind "$entry" "$ROOT/$name"
    fi
done
mkdir "$ROOT/certs"
mount --bind "$WORK/certs" "$ROOT/certs"
mount -o remount,bind,ro "$ROOT/certs"
in_root() { chroot "$ROOT" env -C "$WORK" "$@"; }
in_root test -r /certs/server.crt || fail "the chroot does not show /certs/server.crt"
pass "/certs/server.crt and /certs/server.key exist in the server's root only"

# --- schema, index, an API key in Vault: all with the file as written ----------------------------------
run_expect 0 "$SH" --config "$FILE" migrate init-db
assert_contains "$OUT$ERR" "schema" "init-db"
make_tree "$WORK/repo"
run_expect 0 "$SH" --config "$FILE" index "$WORK/repo"
run_expect 0 "$SH" --config "$FILE" keys create --name production --scopes search
KEY="$(printf '%s\n' "$OUT" | tail -n 1)"
[[ "$KEY" =~ ^shk_ ]] || fail "keys create printed no key: $OUT $ERR"
STATS="$(curl -s -m 10 "$VAULT_URL/fixture/stats")"
[ "$(json_get "$STATS" "d['writes']")" -ge 1 ] || fail "the key was not written to Vault: $STATS"
pass "init-db, index and keys create (into the Vault fixture) with config/production.yaml"

# --- serve -------------------------------------------------------------------------------------------
chroot "$ROOT" env -C "$WORK" "$SH" --config "$FILE" serve --transport http >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE_PID=$!
wait_for_address "$SERVE_PID" "$WORK/serve.out"
[ "$PORT" = 8080 ] || fail "expected port 8080 (the default; the file sets none), got $PORT"
grep -q '"url":"https://127.0.0.1:8080/mcp"' "$WORK/serve.out" || fail "not https: $(cat "$WORK/serve.out")"
BASE="https://127.0.0.1:8080"
CURL=(curl -s -m 30 --cacert "$PKI/ca.crt")
for path in /health /ready; do
    code="$("${CURL[@]}" -o "$WORK/body" -w '%{http_code}' "$BASE$path")"
    [ "$code" = 200 ] || fail "GET $path: $code $(cat "$WORK/body")"
done
pass "/health and /ready 200 over https with the generated CA (database reachable, collection indexed)"

post() { # AUTH_HEADER_OR_EMPTY BODY: sets CODE, BODY
    local hdrs="$WORK/.hdrs" sid args=()
    [ -z "$1" ] || args+=(-H "$1")
    [ -z "${SESSION:-}" ] || args+=(-H "Mcp-Session-Id: $SESSION")
    BODY="$("${CURL[@]}" -D "$hdrs" -o - -w '\n%{http_code}' -X POST "$BASE/mcp" \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        "${args[@]}" --data-binary "$2" || true)"
    CODE="${BODY##*$'\n'}"; BODY="${BODY%$'\n'*}"
    sid="$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *\([0-9a-f]*\).*/\1/p' "$hdrs" | tr -d '\r')"
    [ -z "$sid" ] || SESSION="$sid"
}
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"it","version":"0"}}}'
SEARCH='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_code","arguments":{"query":"split a URL into scheme host and path","limit":3}}}'
SESSION=""
post "" "$INIT"
[ "$CODE" = 401 ] || fail "initialize without a key: expected 401, got $CODE $BODY"
AUTH="Authorization: Bearer $KEY"
post "$AUTH" "$INIT"
[ "$CODE" = 200 ] && [ -n "$SESSION" ] || fail "initialize with the key: $CODE $BODY"
post "$AUTH" '{"jsonrpc":"2.0","method":"notifications/initialized"}'
[ "$CODE" = 202 ] || fail "notifications/initialized: $CODE $BODY"
post "$AUTH" "$SEARCH"
[ "$CODE" = 200 ] || fail "search: $CODE $BODY"
assert_contains "$BODY" "url.py" "the search finds split_url"
post "" "$SEARCH"
[ "$CODE" = 401 ] || fail "search without the key: expected 401, got $CODE $BODY"
pass "MCP search over https with a Vault-held key; 401 without a key"

# --- metrics on 9090, Redis shared by the rate limiter and the cache ------------------------------------
code="$(curl -s -m 10 -o "$WORK/metrics" -w '%{http_code}' http://127.0.0.1:9090/metrics)"
[ "$code" = 200 ] || fail "GET :9090/metrics: $code"
grep -q '^signal_hub_http_requests_total' "$WORK/metrics" || fail "no HTTP metrics: $(head -c 2000 "$WORK/metrics")"
grep -q '^signal_hub_ready 1' "$WORK/metrics" || fail "signal_hub_ready is not 1"
grep -q 'signal_hub_db_pool_max_connections{pool="store"} 60' "$WORK/metrics" ||
    fail "the store pool is not pool_size 20 + max_overflow 40: $(grep pool_max "$WORK/metrics")"
pass "metrics on 127.0.0.1:9090/metrics (pool: 20 + 40 connections)"
# REDIS_URL is redis://:PASSWORD@127.0.0.1:PORT/0 (scripts/lib/redis.sh).
read -r REDIS_HOST REDIS_PORT REDIS_PASSWORD < <(python3 -c '
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(p.hostname, p.port, u.unquote(p.password or ""))' "$REDIS_URL")
REDIS_KEYS="$(REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --no-auth-warning --scan)"
[ -n "$REDIS_KEYS" ] || fail "nothing in Redis: neither rate limits nor cached results"
log_has "$WORK/serve.out" "rate limiting on" backend=redis || fail "rate limiting not on with redis: $(cat "$WORK/serve.out")"
log_has "$WORK/serve.out" "API keys required" keys~vault || fail "API keys not required from vault"
printf '%s\n' "$REDIS_KEYS" | sort >"$WORK/redis.keys"
# Rate-limit buckets expire as soon as they are full again: the metrics say Redis made the decisions.
python3 - "$WORK/metrics" <<'PY' || fail "no rate-limit decisions by Redis: $(grep rate_limit "$WORK/metrics")"
import re, sys
text = open(sys.argv[1]).read()
decided = sum(float(v) for v in re.findall(r'^signal_hub_rate_limit_decisions_total\{[^}]*\} (\S+)$', text, re.M))
errors = re.findall(r'^signal_hub_rate_limit_backend_errors_total\{fail_mode="open"\} (\S+)$', text, re.M)
sys.exit(0 if decided > 0 and errors == ["0"] else 1)
PY
# performance.caching.redis_url is not in the file: it defaults to security.rate_limiting.redis_url.
grep -q '^signal-hub:cache:' "$WORK/redis.keys" || fail "no query-cache entry in Redis: $(cat "$WORK/redis.keys")"
pass "rate limits and the query cache in the Redis of REDIS_URL; API keys from Vault"

# --- SIGTERM: clean exit, queued spans exported; JSON on stdout ------------------------------------------
kill -TERM "$SERVE_PID"
set +e; wait "$SERVE_PID"; rc=$?; set -e
[ "$rc" -eq 0 ] || fail "serve exited $rc after SIGTERM: $(cat "$WORK/serve.err" "$WORK/serve.out")"
log_has "$WORK/serve.out" "shut down cleanly" || fail "no clean shutdown record"
python3 - "$WORK/serve.out" <<'PY' || fail "stdout is not JSON log records: $(head -c 2000 "$WORK/serve.out")"
import json, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
records = [json.loads(l) for l in lines]
assert records and all({"ts", "level", "msg"} <= r.keys() for r in records)
assert any(r.get("route") == "/mcp" and r.get("status") == 200 for r in records), "no access record"
PY
# Standard error holds only the audit log (security.audit_log "-", its default): the two 401s.
python3 - "$WORK/serve.err" <<'PY' || fail "standard error is not the audit log: $(cat "$WORK/serve.err")"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
assert [e["event"] for e in events] == ["auth_failure", "auth_failure"], events
PY
SPANS="$(curl -s -m 10 "$JAEGER_URL/spans")"
python3 - "$SPANS" <<'PY' || fail "no valid spans at the OTLP receiver: ${SPANS:0:2000}"
import json, sys
d = json.loads(sys.argv[1])
assert not d["errors"], d["errors"]
spans = d["spans"]
servers = [s for s in spans if s["kind"] == 2 and s["attributes"].get("http.route") == "/mcp"
           and s["attributes"].get("http.response.status_code") == 200]
assert servers, sorted({s["name"] for s in spans})
ids = {s["spanId"] for s in servers}
tools = [s for s in spans if s["name"] == "tools/call search_code" and s["parentSpanId"] in ids]
assert tools, sorted({s["name"] for s in spans})
assert any(s["name"] == "search" and s["parentSpanId"] == tools[0]["spanId"] for s in spans)
assert all(s["resource"].get("service.name") == "signal-hub" for s in spans)
PY
pass "SIGTERM: exit 0, JSON records only on stdout, spans at the OTLP receiver"

cmp -s <(sha256sum "$FILE") "$WORK/file.sha256" || fail "the test changed $FILE"
if [ "$HOST_HAD_CERTS" -eq 0 ]; then
    # The host's root is seen from the namespace: nothing was created there.
    [ ! -e /certs ] || fail "/certs was created on the host"
fi
pass "config/production.yaml ran unchanged; nothing left on the host's root"
