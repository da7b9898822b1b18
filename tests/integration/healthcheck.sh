#!/usr/bin/env bash
# `signal-hub healthcheck` (the container image's HEALTHCHECK): probes the configured server on this
# machine: /health and, with --ready, /ready -> exit 0; over https (security.tls) without verifying the
# loopback listener's own certificate, while an explicit --url is verified; a stopped server -> exit 6
# naming the URL.
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || fail "openssl is required"
make_tree "$WORK/repo"
run_expect 0 "$SH" -q index "$WORK/repo"
cd "$WORK/repo"

# A server on a port chosen here, so that the probe finds it through the configuration (server.port).
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export SIGNAL_HUB_SERVER__PORT="$port"
"$SH" serve --transport http 2>"$WORK/plain.err" &
pid=$!
wait_for_address "$pid" "$WORK/plain.err"
run_expect 0 "$SH" healthcheck
assert_contains "$OUT" "http://127.0.0.1:$port/health: 200" "healthcheck"
run_expect 0 "$SH" healthcheck --ready
assert_contains "$OUT" "/ready: 200" "healthcheck --ready"
run_expect 0 "$SH" -q healthcheck
[ -z "$OUT" ] || fail "healthcheck -q printed: $OUT"
pass "plain http: /health and /ready probed through server.port"
kill "$pid"; wait "$pid" || true
run_expect 6 "$SH" healthcheck --timeout 2
assert_contains "$ERR" "127.0.0.1:$port" "healthcheck of a stopped server"
pass "a stopped server: exit 6 naming the address ($(tail -n 1 <<<"$ERR"))"

# https with a self-signed certificate naming the service, not 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/tls.key" -out "$WORK/tls.crt" \
    -days 2 -subj "/CN=signal-hub.example.internal" -addext "subjectAltName=DNS:signal-hub.example.internal" 2>/dev/null
chmod 600 "$WORK/tls.key"
cat > "$WORK/tls.yaml" <<YAML
security:
  tls:
    enabled: true
    cert_file: $WORK/tls.crt
    key_file: $WORK/tls.key
YAML
"$SH" --config "$WORK/tls.yaml" serve --transport http 2>"$WORK/tls.err" &
pid=$!
wait_for_address "$pid" "$WORK/tls.err"
run_expect 0 "$SH" --config "$WORK/tls.yaml" healthcheck --ready
assert_contains "$OUT" "https://127.0.0.1:$port/ready: 200" "healthcheck over https"
run_expect 6 "$SH" healthcheck --url "https://127.0.0.1:$port/health"
assert_contains "$ERR" "certificate" "an explicit --url is verified"
pass "https: the loopback listener's own certificate is not verified; an explicit --url is ($(tail -n 1 <<<"$ERR"))"

run_expect 2 "$SH" healthcheck --url "ftp://127.0.0.1:$port/"
run_expect 2 "$SH" healthcheck --timeout 0
pass "bad --url and --timeout refused (exit 2)"
