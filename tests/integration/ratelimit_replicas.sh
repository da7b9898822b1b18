#!/usr/bin/env bash
# Three `signal-hub serve --transport http` replicas sharing one real Redis for rate limiting
# (security.rate_limiting.backend: redis): under a bounded concurrent loopback load spread over the
# three, the total admitted for one API key equals the configured burst (the refill during the run is
# below one request; tolerance 0). Without a key, each client address has its own anonymous budget,
# also shared. Then Redis is stopped mid-run: the fail-closed replicas refuse with 429 and
# Retry-After and the fail-open replica admits (the limiter counts both; unit-tested).
# The Redis is private to this test (scripts/redis-test-server.sh), so stopping it affects no other test.
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || fail "curl is required (scripts/test.sh installs it)"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
make_tree "$WORK/repo"
STORE="$WORK/repo/.signal-hub"
run_expect 0 "$SH" -q index "$WORK/repo"

bash "$ROOT/scripts/redis-test-server.sh" start "$WORK/redis" >/dev/null
trap 'bash "$ROOT/scripts/redis-test-server.sh" stop "$WORK/redis" >/dev/null 2>&1 || true' EXIT
export REDIS_URL="$(cat "$WORK/redis/url")"

BURST=30
export SIGNAL_HUB_API_KEY_PEPPER="$(head -c 48 /dev/urandom | base64 -w0)"
CONFIG="$WORK/signal-hub.yaml"
cat > "$CONFIG" <<YAML
security:
  api_keys:
    enabled: true
    file: $WORK/api-keys.json
  audit_log: $WORK/audit.log
  rate_limiting:
    enabled: true
    backend: redis
    redis_url: \${REDIS_URL}
    fail_mode: closed
    limits:
      search: {requests_per_second: 0.001, burst: $BURST}
      anonymous: {requests_per_second: 0.001, burst: 12}
YAML
KEY="$("$SH" --config "$CONFIG" keys create --name load --scopes search | tail -n 1)"

PIDS=(); PORTS=()
for i in 1 2 3; do
    mode=closed; [ "$i" = 3 ] && mode=open
    SIGNAL_HUB_SECURITY__RATE_LIMITING__FAIL_MODE=$mode \
        "$SH" --config "$CONFIG" --store "$STORE" serve --transport http --port 0 \
        >"$WORK/r$i.out" 2>"$WORK/r$i.err" &
    PIDS+=($!)
    wait_for_address "$!" "$WORK/r$i.err"
    PORTS+=("$PORT")
done
log_has "$WORK/r1.err" "rate limiting on" backend=redis fail_mode=closed ||
    fail "replica 1 does not say how it limits: $(cat "$WORK/r1.err")"
log_has "$WORK/r3.err" "rate limiting on" backend=redis fail_mode=open ||
    fail "replica 3 does not say how it limits: $(cat "$WORK/r3.err")"
pass "3 replicas on ports ${PORTS[*]} share the Redis at 127.0.0.1"

BODY_JSON='{"jsonrpc":"2.0","id":1,"method":"ping"}'
# load N AUTHHEADER OUTFILE: N requests spread round-robin over the replicas, 9 at a time; each
# output line is "<status> <Retry-After or ->".
load() {
    local n="$1" auth="$2" out="$3"
    seq 1 "$n" | xargs -P 9 -I{} bash -c '
        ports=('"${PORTS[*]}"'); port=${ports[$(( {} % 3 ))]}
        hdr=$(mktemp)
        code=$(curl -s -m 30 -o /dev/null -D "$hdr" -w "%{http_code}" -X POST "http://127.0.0.1:$port/mcp" \
            -H "Content-Type: application/json" -H "Accept: application/json, text/event-stream" \
            ${1:+-H "$1"} --data-binary "$0")
        retry=$(sed -n "s/^[Rr]etry-[Aa]fter: *\([0-9]*\).*/\1/p" "$hdr" | tr -d "\r")
        rm -f "$hdr"; echo "$code ${retry:--}"' "$BODY_JSON" "$auth" > "$out"
}

# --- one key, 3 x BURST requests over the three replicas ------------------------------------------
load $((3 * BURST)) "Authorization: Bearer $KEY" "$WORK/key.txt"
admitted=$(awk '$1 != 429' "$WORK/key.txt" | wc -l)
refused=$(awk '$1 == 429' "$WORK/key.txt" | wc -l)
[ "$admitted" -eq "$BURST" ] || fail "admitted $admitted of $((3 * BURST)) for one key across 3 replicas, budget $BURST: $(sort "$WORK/key.txt" | uniq -c)"
[ "$refused" -eq $((2 * BURST)) ] || fail "refused $refused, expected $((2 * BURST))"
awk '$1 == 429 && ($2 == "-" || $2 < 1) {bad=1} END {exit bad}' "$WORK/key.txt" || fail "a 429 without Retry-After >= 1"
# The admitted ones went on to the MCP endpoint (a request without a session: 400 there).
[ "$(awk '$1 == 400' "$WORK/key.txt" | wc -l)" -eq "$BURST" ] || fail "admitted requests did not reach /mcp: $(sort "$WORK/key.txt" | uniq -c)"
pass "one key: $admitted of $((3 * BURST)) admitted across 3 replicas (budget $BURST, tolerance 0), $refused got 429 with Retry-After"

# --- RateLimit headers on an admitted and on a refused request -------------------------------------
curl -s -o /dev/null -D "$WORK/h.txt" -X POST "http://127.0.0.1:${PORTS[0]}/mcp" -H "X-API-Key: $KEY" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' --data-binary "$BODY_JSON"
grep -qi '^RateLimit-Limit: 30' "$WORK/h.txt" || fail "no RateLimit-Limit: $(cat "$WORK/h.txt")"
grep -qi '^RateLimit-Remaining: 0' "$WORK/h.txt" || fail "no RateLimit-Remaining: $(cat "$WORK/h.txt")"
grep -qi '^RateLimit-Reset: [0-9]' "$WORK/h.txt" || fail "no RateLimit-Reset: $(cat "$WORK/h.txt")"
pass "429 carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset"

# --- no key: the anonymous budget per client address, shared too (and 429 before 401) -------------
load 36 "" "$WORK/anon.txt"
a401=$(awk '$1 == 401' "$WORK/anon.txt" | wc -l)
a429=$(awk '$1 == 429' "$WORK/anon.txt" | wc -l)
[ "$a401" -eq 12 ] && [ "$a429" -eq 24 ] || fail "anonymous: $(sort "$WORK/anon.txt" | uniq -c)"
pass "without a key: 12 of 36 reached authentication (401), 24 got 429 — guessing keys is throttled across replicas"

# --- Redis stopped mid-run -------------------------------------------------------------------------
KEY2="$("$SH" --config "$CONFIG" keys create --name after --scopes search | tail -n 1)"
bash "$ROOT/scripts/redis-test-server.sh" stop "$WORK/redis" >/dev/null
post_to() { # PORT -> "code retry"
    curl -s -o /dev/null -D "$WORK/h.txt" -w '%{http_code}' -X POST "http://127.0.0.1:$1/mcp" -H "X-API-Key: $KEY2" \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' --data-binary "$BODY_JSON"
}
for port in "${PORTS[0]}" "${PORTS[1]}"; do
    code="$(post_to "$port")"
    [ "$code" = 429 ] || fail "fail-closed replica on $port with Redis down: HTTP $code"
    grep -qi '^Retry-After: 1' "$WORK/h.txt" || fail "fail-closed 429 without Retry-After: 1"
done
code="$(post_to "${PORTS[2]}")"
[ "$code" = 400 ] || fail "fail-open replica with Redis down: expected the request admitted (400 at /mcp), got $code"
pass "Redis stopped: fail-closed replicas answer 429 (Retry-After: 1), the fail-open replica admits"

for pid in "${PIDS[@]}"; do kill -TERM "$pid"; done
for pid in "${PIDS[@]}"; do set +e; wait "$pid"; rc=$?; set -e; [ "$rc" = 0 ] || fail "a replica exited $rc"; done
pass "replicas shut down cleanly"
