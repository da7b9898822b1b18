#!/usr/bin/env bash
# `signal-hub serve --transport http` with the Redis rate limiter and the Redis query cache over TLS
# (rediss://) against a real redis-server that accepts only TLS and requires a client certificate
# (scripts/redis-test-server.sh start-tls-auth: a throw-away test CA; 127.0.0.1 only):
#  - the right CA and client certificate: a search is admitted by the limiter and its result cached
#    in Redis (keys of both show up on the server);
#  - a wrong CA: the server starts (as with any Redis that is down) and says at start which backend did
#    not answer and why (the certificate, the server named without its password), the fail-closed limiter
#    refuses with 429 (nothing is sent to an unverified server), the cache misses;
#  - no client certificate: the start-up warning says the server requires one;
#  - a missing CA file stops serve (exit 2, the file named); TLS files with redis:// are refused.
# The Redis is private to this test.
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || fail "curl is required (scripts/test.sh installs it)"
command -v redis-cli >/dev/null || fail "redis-cli is required (scripts/test.sh installs it)"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
make_tree "$WORK/repo"
STORE="$WORK/repo/.signal-hub"
run_expect 0 "$SH" -q index "$WORK/repo"

bash "$ROOT/scripts/redis-test-server.sh" start-tls-auth "$WORK/redis" >/dev/null
trap 'bash "$ROOT/scripts/redis-test-server.sh" stop "$WORK/redis" >/dev/null 2>&1 || true' EXIT
export REDIS_URL="$(cat "$WORK/redis/url")"
PKI="$WORK/redis/pki"
PASSWORD="${REDIS_URL#rediss://:}"; PASSWORD="${PASSWORD%@*}"
REDIS_PORT="${REDIS_URL##*:}"; REDIS_PORT="${REDIS_PORT%/0}"
case "$REDIS_URL" in rediss://*) ;; *) fail "the TLS test server has no rediss:// URL: $REDIS_URL" ;; esac

# write_config FILE CA: rate limiting (fail closed) and caching, both over rediss:// with CA and client cert.
write_config() {
    cat > "$1" <<YAML
performance:
  caching:
    backend: redis
    redis_url: \${REDIS_URL}
    redis_tls_ca_file: $2
    redis_tls_cert_file: $PKI/client.crt
    redis_tls_key_file: $PKI/client.key
security:
  rate_limiting:
    enabled: true
    backend: redis
    redis_url: \${REDIS_URL}
    redis_tls_ca_file: $2
    redis_tls_cert_file: $PKI/client.crt
    redis_tls_key_file: $PKI/client.key
    fail_mode: closed
YAML
}
rcli() { REDISCLI_AUTH="$PASSWORD" redis-cli --no-auth-warning --tls --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" \
    --key "$PKI/client.key" -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
SEARCH='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_code","arguments":{"query":"split a URL into host and path"}}}'

# --- the right CA and client certificate ------------------------------------------------------------
write_config "$WORK/good.yaml" "$PKI/ca.crt"
"$SH" --config "$WORK/good.yaml" --store "$STORE" serve --transport http --port 0 >"$WORK/good.out" 2>"$WORK/good.err" &
GOOD=$!
wait_for_address "$GOOD" "$WORK/good.err"
mcp_initialize
mcp "$SEARCH"
[ "$CODE" = 200 ] || fail "search over rediss://: HTTP $CODE $BODY"
assert_contains "$BODY" "split_url" "the search result"
mcp "$SEARCH"
[ "$CODE" = 200 ] || fail "second search: HTTP $CODE $BODY"
! grep -q "did not answer" "$WORK/good.err" || fail "a start-up warning with a working Redis: $(cat "$WORK/good.err")"
rl_keys="$(rcli --scan --pattern 'signal-hub:rl:*' | wc -l)"
cache_keys="$(rcli --scan --pattern 'signal-hub:cache:*' | wc -l)"
[ "$rl_keys" -ge 1 ] || fail "no rate-limit key in the TLS Redis"
[ "$cache_keys" -ge 1 ] || fail "no cache entry in the TLS Redis"
pass "rediss:// with CA and client certificate: search admitted, $rl_keys rate-limit and $cache_keys cache keys in the TLS Redis"
kill -TERM "$GOOD"; set +e; wait "$GOOD"; rc=$?; set -e; [ "$rc" = 0 ] || fail "serve exited $rc"

# --- a wrong CA: starts, says why, fails closed ------------------------------------------------------
write_config "$WORK/wrong.yaml" "$PKI/other-ca.crt"
"$SH" --config "$WORK/wrong.yaml" --store "$STORE" serve --transport http --port 0 >"$WORK/wrong.out" 2>"$WORK/wrong.err" &
WRONG=$!
wait_for_address "$WRONG" "$WORK/wrong.err"
log_has "$WORK/wrong.err" \
    "security.rate_limiting: Redis did not answer at start; requests are refused with 429 (fail_mode: closed) until it does" \
    "error~rediss://:***@127.0.0.1:$REDIS_PORT/0: cannot connect: TLS: the server's certificate was not accepted" \
    "error~redis_tls_ca_file" ||
    fail "no start-up warning for the rate limiter's Redis: $(cat "$WORK/wrong.err")"
log_has "$WORK/wrong.err" "performance.caching: Redis did not answer at start; searches are not cached until it does" \
    "error~certificate was not accepted" || fail "no start-up warning for the cache's Redis: $(cat "$WORK/wrong.err")"
! grep -qF "$PASSWORD" "$WORK/wrong.err" || fail "the Redis password is in the log"
SESSION=""
mcp '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"it","version":"0"}}}'
[ "$CODE" = 429 ] || fail "wrong CA, fail_mode closed: expected 429, got HTTP $CODE $BODY"
pass "wrong CA: serve starts and names the Redis backends and the certificate problem (no password); requests get 429 (fail closed)"
kill -TERM "$WRONG"; set +e; wait "$WRONG"; set -e

# --- no client certificate (the server requires one) ------------------------------------------------
write_config "$WORK/nocert.yaml" "$PKI/ca.crt"
sed -i '/redis_tls_cert_file\|redis_tls_key_file/d' "$WORK/nocert.yaml"
"$SH" --config "$WORK/nocert.yaml" --store "$STORE" serve --transport http --port 0 >"$WORK/nocert.out" 2>"$WORK/nocert.err" &
NOCERT=$!
wait_for_address "$NOCERT" "$WORK/nocert.err"
log_has "$WORK/nocert.err" \
    "security.rate_limiting: Redis did not answer at start; requests are refused with 429 (fail_mode: closed) until it does" \
    "error~client certificate" "error~redis_tls_cert_file" ||
    fail "no client-certificate warning: $(cat "$WORK/nocert.err")"
pass "no client certificate: the start-up warning says the server requires one"
kill -TERM "$NOCERT"; set +e; wait "$NOCERT"; set -e

# --- configuration errors stop serve -------------------------------------------------------------------
write_config "$WORK/missing.yaml" "$WORK/nonexistent-ca.pem"
run_expect 2 "$SH" --config "$WORK/missing.yaml" --store "$STORE" serve --transport http --port 0
assert_contains "$ERR" "cannot read the TLS CA file $WORK/nonexistent-ca.pem" "a missing CA file"
write_config "$WORK/plain.yaml" "$PKI/ca.crt"
sed -i 's|redis_url: ${REDIS_URL}|redis_url: redis://127.0.0.1:1/0|' "$WORK/plain.yaml"
run_expect 2 "$SH" --config "$WORK/plain.yaml" --store "$STORE" serve --transport http --port 0
assert_contains "$ERR" "security.rate_limiting.redis_tls_ca_file: is set but security.rate_limiting.redis_url is a plaintext redis:// URL" \
    "TLS files with redis://"
pass "a missing CA file and TLS files with a plaintext redis:// URL stop serve (exit 2) with the key or file named"
