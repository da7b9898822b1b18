#!/usr/bin/env bash
# `signal-hub check production` (docs/production/security/hardening-checklist.md): a production
# configuration passes every item (exit 0); each weakness fails its item by name with a fix (exit 1):
# TLS off, metrics off or on loopback only, text logs, a world-readable key, a certificate about to expire, keys off, a missing pepper, an
# in-process rate limiter for 3 replicas, a plaintext redis:// to another host, the embedded store, a
# default password, a literal secret in the file, a "*" origin. --json carries the same.
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || fail "openssl is required"

PKI="$WORK/pki"; mkdir -p "$PKI"
cert() { # NAME DAYS
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/$1.key" \
        -out "$PKI/$1.crt" -days "$2" -subj "/CN=signal-hub" 2>/dev/null
    chmod 600 "$PKI/$1.key"
}
cert good 90
cert soon 10
cert other 90

export SIGNAL_HUB_API_KEY_PEPPER="$(head -c 48 /dev/urandom | base64 -w0)"
export DATABASE_URL="postgresql://hub:$(head -c 18 /dev/urandom | base64 -w0 | tr '+/' '-_')@db.internal:5432/hub?sslmode=verify-full"
REDIS_PASSWORD="$(head -c 18 /dev/urandom | base64 -w0 | tr '+/' '-_')"
export REDIS_URL="rediss://:$REDIS_PASSWORD@redis.internal:6380/0"

# write CONFIG: the production configuration, with sed edits applied by the caller.
write() {
    cat > "$1" <<YAML
database:
  type: postgresql
  url: \${DATABASE_URL}
server:
  host: 0.0.0.0
security:
  tls:
    enabled: true
    cert_file: $PKI/good.crt
    key_file: $PKI/good.key
  api_keys:
    enabled: true
    storage: database
  rate_limiting:
    enabled: true
    backend: redis
    redis_url: \${REDIS_URL}
  audit_log: "-"
monitoring:
  metrics:
    enabled: true
    host: 0.0.0.0
  logging:
    format: json
    output: stdout
YAML
}
check() { "$SH" --config "$WORK/c.yaml" check production "$@"; }

write "$WORK/c.yaml"
run_expect 0 check --replicas 3
assert_contains "$OUT" "15 passed, 0 failed" "production configuration"
! grep -q FAIL <<<"$OUT" || fail "a production configuration failed: $OUT"
pass "the production configuration passes all 15 items"
run_expect 0 check --replicas 3 --json
[ "$(json_get "$OUT" "d['failed']")" = 0 ] && [ "$(json_get "$OUT" "len(d['checks'])")" = 15 ] || fail "--json: $OUT"
pass "--json: 15 checks, 0 failed"

# expect_fail ITEM WHAT [check args]: the current c.yaml fails ITEM (and only the listed item is asserted).
expect_fail() {
    local item="$1" what="$2"; shift 2
    run_expect 1 check "$@"
    grep -q "FAIL  $item " <<<"$OUT" || fail "$what: expected FAIL $item in: $OUT"
    grep -A1 "FAIL  $item " <<<"$OUT" | grep -q "fix: " || fail "$what: no fix for $item"
    pass "$what -> FAIL $item (exit 1, with a fix)"
}

write "$WORK/c.yaml"
python3 - "$WORK/c.yaml" <<'PY'
import sys; p=sys.argv[1]; s=open(p).read()
s=s.replace("  tls:\n    enabled: true", "  tls:\n    enabled: false"); open(p,"w").write(s)
PY
expect_fail tls "TLS removed" --replicas 3
assert_contains "$OUT" "security.tls.enabled" "the TLS failure names the key"

# Metrics are off by default (one port per `serve` on a laptop): production turns them on explicitly.
write "$WORK/c.yaml"; sed -i '/^  metrics:$/{n;/^    enabled: true$/d}' "$WORK/c.yaml"
expect_fail metrics "metrics left at the default (off)" --replicas 3
assert_contains "$OUT" "monitoring.metrics.enabled" "the metrics failure names the key"
write "$WORK/c.yaml"; sed -i 's/    host: 0.0.0.0/    host: 127.0.0.1/' "$WORK/c.yaml"
expect_fail metrics "metrics on loopback only" --replicas 3
assert_contains "$OUT" "monitoring.metrics.host" "the metrics failure names the key"

write "$WORK/c.yaml"; sed -i 's/format: json/format: text/' "$WORK/c.yaml"
expect_fail json_logs "text logs" --replicas 3
assert_contains "$OUT" "monitoring.logging.format" "the log failure names the key"

write "$WORK/c.yaml"; chmod 644 "$PKI/good.key"
expect_fail tls_key_permissions "private key readable by others"
chmod 600 "$PKI/good.key"

write "$WORK/c.yaml"; sed -i "s|$PKI/good.crt|$PKI/soon.crt|; s|$PKI/good.key|$PKI/soon.key|" "$WORK/c.yaml"
expect_fail certificate_expiry "certificate expiring in 10 days"
run_expect 0 check --certificate-min-days 5
pass "--certificate-min-days 5 accepts it"

write "$WORK/c.yaml"; sed -i "s|$PKI/good.key|$PKI/other.key|" "$WORK/c.yaml"
expect_fail tls_certificate "key of another certificate"

write "$WORK/c.yaml"; python3 - "$WORK/c.yaml" <<'PY'
import sys; p=sys.argv[1]; s=open(p).read()
s=s.replace("  api_keys:\n    enabled: true", "  api_keys:\n    enabled: false"); open(p,"w").write(s)
PY
expect_fail api_keys "API keys off"

write "$WORK/c.yaml"
(unset SIGNAL_HUB_API_KEY_PEPPER; expect_fail key_pepper "no pepper")

write "$WORK/c.yaml"; sed -i 's/    backend: redis/    backend: memory/; /redis_url/d' "$WORK/c.yaml"
expect_fail rate_limiting "in-process rate limits for 3 replicas" --replicas 3
run_expect 0 check --replicas 1
pass "the same passes with --replicas 1"

write "$WORK/c.yaml"
REDIS_URL="redis://:$REDIS_PASSWORD@redis.internal:6379/0" expect_fail redis_tls "plaintext redis:// to another host" --replicas 3
assert_contains "$OUT" "security.rate_limiting.redis_url (redis.internal)" "the Redis TLS failure names the key and host"
! grep -qF "$REDIS_PASSWORD" <<<"$OUT" || fail "the Redis password is in the output"
REDIS_URL="redis://:$REDIS_PASSWORD@127.0.0.1:6379/0" run_expect 0 check --replicas 3
pass "a plaintext redis:// on loopback (a sidecar tunnel) passes redis_tls"

write "$WORK/c.yaml"; sed -i 's/  type: postgresql/  type: embedded/; /url: ${DATABASE_URL}/d; s/    storage: database/    storage: file\n    file: \/tmp\/keys.json/' "$WORK/c.yaml"
expect_fail database "embedded store"

write "$WORK/c.yaml"
DATABASE_URL="postgresql://postgres:postgres@db:5432/hub" expect_fail passwords "default password postgres"

write "$WORK/c.yaml"; sed -i 's|url: ${DATABASE_URL}|url: postgresql://hub:Sup3r-Secret-Literal@db:5432/hub|' "$WORK/c.yaml"
expect_fail inline_secrets "password written into the file"
assert_contains "$OUT" "line 3" "the inline secret's line is named"

write "$WORK/c.yaml"
python3 - "$WORK/c.yaml" <<'PY'
import sys; p=sys.argv[1]; s=open(p).read()
s=s.replace("server:\n  host: 0.0.0.0\n", "server:\n  host: 0.0.0.0\n  allowed_origins: [\"*\"]\n"); open(p,"w").write(s)
PY
expect_fail origins "any browser origin"

run_expect 2 "$SH" --config "$WORK/c.yaml" check production --replicas 0
pass "--replicas 0 is refused (exit 2)"
