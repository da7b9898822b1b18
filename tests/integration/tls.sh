#!/usr/bin/env bash
# `signal-hub serve --transport http` with security.tls: protocol versions and ciphers as seen by
# `openssl s_client` (TLS 1.0/1.1 and non-AEAD / non-ECDHE TLS 1.2 ciphers refused, TLS 1.2 and 1.3
# accepted), curl over https with HSTS, certificate reload by SIGHUP and by replacing the files
# (a keep-alive connection opened before the reload keeps working, new connections see the new
# certificate), start-up failures naming the bad file or key, the test certificate of
# docs/production/security/network-security.md made with its exact openssl commands and trusted by
# curl --cacert and by Node / the MCP SDK client through NODE_EXTRA_CA_CERTS, and plain HTTP to the TLS
# port answered with a 400 that says to use https.
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || fail "openssl is required (scripts/test.sh installs it)"
command -v curl >/dev/null || fail "curl is required (scripts/test.sh installs it)"
command -v python3 >/dev/null || fail "python3 is required"
make_tree "$WORK/repo"
STORE="$WORK/repo/.signal-hub"
run_expect 0 "$SH" -q index "$WORK/repo"

# --- a throw-away CA and two server certificates (RSA, so that RSA key exchange ciphers would be
# possible if the server allowed them) --------------------------------------------------------------
PKI="$WORK/pki"
mkdir -p "$PKI"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 2 \
    -subj "/CN=Signal Hub IT CA" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' \
    >"$PKI/server.ext"
issue() { # NAME SERIAL
    openssl req -newkey rsa:2048 -nodes -keyout "$PKI/$1.key" -out "$PKI/$1.csr" -subj "/CN=$1" 2>/dev/null
    openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "$2" -days 2 \
        -extfile "$PKI/server.ext" -out "$PKI/$1.crt" 2>/dev/null
}
issue signal-hub-one 0x1001
issue signal-hub-two 0x2002
pass "test CA and certificates generated"

# write_config FILE CERT KEY [RELOAD_INTERVAL]
write_config() {
    cat >"$1" <<YAML
security:
  tls:
    enabled: true
    cert_file: $2
    key_file: $3
    reload_interval: ${4:-0}
YAML
}

# start_server NAME CONFIG: sets PID and PORT.
start_server() {
    "$SH" --config "$2" --store "$STORE" serve --transport http --port 0 >"$WORK/$1.out" 2>"$WORK/$1.err" &
    PID=$!
    wait_for_address "$PID" "$WORK/$1.err"
}

stop_server() {
    kill -TERM "$PID"
    set +e; wait "$PID"; local rc=$?; set -e
    [ "$rc" -eq 0 ] || fail "the server exited with $rc after SIGTERM: $(cat "$WORK/$1.err")"
}

# s_client ARGS...: one handshake (no request); $SOUT holds the output, the exit status is s_client's.
s_client() {
    set +e
    SOUT="$(timeout 30 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile "$PKI/ca.crt" \
        "$@" </dev/null 2>&1)"
    local rc=$?
    set -e
    return $rc
}

# The certificate a new connection gets: "serial=... subject=...".
served_certificate() {
    timeout 30 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$PKI/ca.crt" </dev/null 2>/dev/null |
        openssl x509 -noout -serial -subject -nameopt RFC2253 | tr '\n' ' '
}

# --- protocol versions and ciphers -------------------------------------------------------------
LIVE="$WORK/live"
mkdir -p "$LIVE"
cp "$PKI/signal-hub-one.crt" "$LIVE/server.crt"
cp "$PKI/signal-hub-one.key" "$LIVE/server.key"
write_config "$WORK/tls.yaml" "$LIVE/server.crt" "$LIVE/server.key" 0
start_server main "$WORK/tls.yaml"
assert_contains "$(cat "$WORK/main.err")" "https://127.0.0.1:$PORT/mcp" "the listening line"
pass "serve prints an https:// address (port $PORT)"

# The client side allows the old versions (SECLEVEL=0), so a failure is the server's refusal.
for old in -tls1 -tls1_1; do
    if s_client "$old" -cipher 'DEFAULT:@SECLEVEL=0'; then
        fail "s_client $old negotiated: $SOUT"
    fi
    assert_contains "$SOUT" "alert protocol version" "s_client $old"
    pass "s_client $old cannot negotiate (the server answers with a protocol_version alert)"
done
for version in -tls1_2 -tls1_3; do
    s_client "$version" -verify_return_error || fail "s_client $version failed: $SOUT"
    assert_contains "$SOUT" "Verify return code: 0 (ok)" "s_client $version"
    pass "s_client $version negotiates and verifies ($(echo "$SOUT" | sed -n 's/^New, \(TLSv[0-9.]*\), Cipher is \(.*\)/\1, \2/p' | head -1))"
done
for weak in AES128-SHA AES256-GCM-SHA384 ECDHE-RSA-AES128-SHA ECDHE-RSA-AES256-SHA384 DHE-RSA-AES128-GCM-SHA256; do
    if s_client -tls1_2 -cipher "$weak:@SECLEVEL=0"; then
        fail "the weak TLS 1.2 cipher $weak was accepted: $SOUT"
    fi
    pass "TLS 1.2 cipher $weak is refused"
done
s_client -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305 || fail "ECDHE-RSA-CHACHA20-POLY1305 refused: $SOUT"
s_client -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 || fail "ECDHE-RSA-AES128-GCM-SHA256 refused: $SOUT"
pass "TLS 1.2 ECDHE + ChaCha20-Poly1305 / AES-GCM are accepted"
s_client -tls1_2 -cipher 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384' || fail "$SOUT"
assert_contains "$SOUT" "ECDHE-RSA-AES256-GCM-SHA384" "server cipher preference"
pass "the server's cipher preference wins (AES256-GCM chosen over the client's first choice)"
s_client -tls1_2 || fail "$SOUT"
assert_contains "$SOUT" "Compression: NONE" "compression"
pass "no TLS compression"

# --- curl over https -------------------------------------------------------------------------
headers="$(curl -sS -m 30 --cacert "$PKI/ca.crt" -D - -o "$WORK/health.json" "https://127.0.0.1:$PORT/health")" ||
    fail "curl https /health failed"
assert_contains "$headers" "HTTP/1.1 200" "curl /health status"
assert_contains "$(echo "$headers" | tr -d '\r' | tr 'A-Z' 'a-z')" "strict-transport-security: max-age=31536000" \
    "HSTS header"
[ "$(json_get "$(cat "$WORK/health.json")" "d['status']")" = ok ] || fail "/health body: $(cat "$WORK/health.json")"
pass "curl --cacert https://127.0.0.1:$PORT/health is 200 with Strict-Transport-Security: max-age=31536000"
if curl -sS -m 30 -o /dev/null "https://127.0.0.1:$PORT/health" 2>/dev/null; then
    fail "curl without the CA trusted the test certificate"
fi
code="$(curl -s -m 30 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health" || true)"
[ "$code" != 200 ] || fail "plain http on the TLS port answered 200"
pass "an untrusting client and a plain-http client get no answer"

# --- reload -------------------------------------------------------------------------------------
# keepalive_client NAME: a python3 ssl client that GETs /health on one keep-alive connection, then
# waits for a line on the FIFO $WORK/NAME.go and GETs /health again on the same connection.
keepalive_client() {
    mkfifo "$WORK/$1.go"
    python3 - "$PORT" "$PKI/ca.crt" "$WORK/$1.go" >"$WORK/$1.py" 2>&1 <<'PY' &
import http.client, ssl, sys
port, ca, go = int(sys.argv[1]), sys.argv[2], sys.argv[3]
conn = http.client.HTTPSConnection("127.0.0.1", port, context=ssl.create_default_context(cafile=ca), timeout=30)
def get():
    conn.request("GET", "/health")
    r = conn.getresponse()
    r.read()
    return r.status
status = get()
sock = conn.sock
print("before", status, sock.getpeercert()["serialNumber"], flush=True)
with open(go) as f:
    f.read()
status = get()
assert conn.sock is sock, "the client had to reconnect"
print("after", status, conn.sock.getpeercert()["serialNumber"], flush=True)
PY
    PYPID=$!
    for _ in $(seq 1 300); do
        grep -q '^before' "$WORK/$1.py" && return 0
        kill -0 "$PYPID" 2>/dev/null || fail "the keep-alive client failed: $(cat "$WORK/$1.py")"
        sleep 0.1
    done
    fail "the keep-alive client did not connect: $(cat "$WORK/$1.py")"
}

# finish_keepalive NAME OLD_SERIAL: lets the client send its second request; it must be answered on
# the connection that still has the old certificate.
finish_keepalive() {
    echo go >"$WORK/$1.go"
    set +e; wait "$PYPID"; local rc=$?; set -e
    [ "$rc" -eq 0 ] || fail "the keep-alive client failed after the reload: $(cat "$WORK/$1.py")"
    grep -q "^after 200 $2\$" "$WORK/$1.py" || fail "keep-alive client: $(cat "$WORK/$1.py")"
}

assert_contains "$(served_certificate)" "serial=1001" "the first certificate"
keepalive_client sighup
grep -q '^before 200 1001$' "$WORK/sighup.py" || fail "keep-alive client: $(cat "$WORK/sighup.py")"
cp "$PKI/signal-hub-two.crt" "$LIVE/server.crt"
cp "$PKI/signal-hub-two.key" "$LIVE/server.key"
# reload_interval is 0 here: only SIGHUP can reload.
assert_contains "$(served_certificate)" "serial=1001" "the certificate before SIGHUP"
kill -HUP "$PID"
for _ in $(seq 1 300); do
    log_has "$WORK/main.err" "TLS certificate reloaded" cause=SIGHUP && break
    kill -0 "$PID" 2>/dev/null || fail "SIGHUP stopped the server: $(cat "$WORK/main.err")"
    sleep 0.1
done
log_has "$WORK/main.err" "TLS certificate reloaded" cause=SIGHUP || fail "no reload logged: $(cat "$WORK/main.err")"
cert="$(served_certificate)"
assert_contains "$cert" "serial=2002" "new connections after SIGHUP"
assert_contains "$cert" "CN=signal-hub-two" "new connections after SIGHUP"
finish_keepalive sighup 1001
kill -0 "$PID" 2>/dev/null || fail "the server stopped after SIGHUP"
pass "SIGHUP: new connections get the new certificate ($cert), the keep-alive connection opened before keeps working"

# A half-replaced pair (new certificate, old key) is refused; the current certificate stays.
cp "$PKI/signal-hub-one.crt" "$LIVE/server.crt"
kill -HUP "$PID"
for _ in $(seq 1 300); do
    log_has "$WORK/main.err" "TLS certificate reload failed, keeping the previous one" cause=SIGHUP && break
    sleep 0.1
done
log_has "$WORK/main.err" "TLS certificate reload failed, keeping the previous one" cause=SIGHUP \
    "error~tls.key_file '$LIVE/server.key' does not match" || fail "failed reload not logged: $(cat "$WORK/main.err")"
assert_contains "$(served_certificate)" "serial=2002" "the certificate after a failed reload"
pass "a reload with a mismatched key is logged and the previous certificate stays"
stop_server main

# Reload by file change, the way a Kubernetes Secret volume updates: the files are symlinks into
# ..data, a symlink to a timestamped directory that is swapped atomically.
SECRET="$WORK/secret"
mkdir -p "$SECRET/..v1" "$SECRET/..v2"
cp "$PKI/signal-hub-one.crt" "$SECRET/..v1/tls.crt"
cp "$PKI/signal-hub-one.key" "$SECRET/..v1/tls.key"
cp "$PKI/signal-hub-two.crt" "$SECRET/..v2/tls.crt"
cp "$PKI/signal-hub-two.key" "$SECRET/..v2/tls.key"
ln -s ..v1 "$SECRET/..data"
ln -s ..data/tls.crt "$SECRET/tls.crt"
ln -s ..data/tls.key "$SECRET/tls.key"
write_config "$WORK/watch.yaml" "$SECRET/tls.crt" "$SECRET/tls.key" 0.2
start_server watch "$WORK/watch.yaml"
assert_contains "$(served_certificate)" "serial=1001" "the first certificate"
keepalive_client swap
ln -s ..v2 "$SECRET/..data_tmp"
mv -T "$SECRET/..data_tmp" "$SECRET/..data"
for _ in $(seq 1 300); do
    log_has "$WORK/watch.err" "TLS certificate reloaded" "cause=file change" && break
    sleep 0.1
done
log_has "$WORK/watch.err" "TLS certificate reloaded" "cause=file change" ||
    fail "no reload after the swap: $(cat "$WORK/watch.err")"
cert="$(served_certificate)"
assert_contains "$cert" "serial=2002" "new connections after the swap"
finish_keepalive swap 1001
pass "file change (symlink swap): new connections get $cert, the keep-alive connection keeps working"
stop_server watch

# --- the test certificate of network-security.md, made with its exact commands ---------------------
# The block between <!-- test-cert:begin --> and <!-- test-cert:end --> runs as it is; then curl
# --cacert and Node with NODE_EXTRA_CA_CERTS (plain fetch and the MCP SDK client) trust the private CA.
DOC="$TESTS_DIR/../../docs/production/security/network-security.md"
DOCPKI="$WORK/doc-pki"
mkdir -p "$DOCPKI"
sed -n '/<!-- test-cert:begin -->/,/<!-- test-cert:end -->/p' "$DOC" | grep -v '^<!--\|^```' >"$DOCPKI/make.sh"
grep -q '^openssl x509 -req' "$DOCPKI/make.sh" || fail "no certificate commands found in $DOC"
(cd "$DOCPKI" && bash -euo pipefail make.sh >"$DOCPKI/make.out" 2>&1) || fail "the documented openssl commands failed: $(cat "$DOCPKI/make.out")"
[ "$(stat -c %a "$DOCPKI/server.key")" = 600 ] || fail "server.key is not 0600"
write_config "$WORK/doc.yaml" "$DOCPKI/server.crt" "$DOCPKI/server.key" 0
start_server doc "$WORK/doc.yaml"
for host in 127.0.0.1 localhost; do
    out="$(curl -s -m 10 --cacert "$DOCPKI/ca.crt" "https://$host:$PORT/health")" ||
        fail "curl --cacert ca.crt https://$host:$PORT/health failed"
    [ "$out" = '{"status":"ok"}' ] || fail "https://$host:$PORT/health: $out"
done
curl -s -m 10 -o /dev/null "https://127.0.0.1:$PORT/health" && fail "curl trusted the private CA without --cacert"
pass "the documented openssl commands make a CA and certificate curl --cacert trusts (127.0.0.1 and localhost)"
node_fetch='fetch(process.argv[1]).then(async r => { console.log(r.status, await r.text()); }, e => { console.log("FAIL", e.cause ? e.cause.code : e.message); process.exit(1); })'
out="$(NODE_EXTRA_CA_CERTS="$DOCPKI/ca.crt" node -e "$node_fetch" "https://127.0.0.1:$PORT/health")" ||
    fail "node fetch with NODE_EXTRA_CA_CERTS: $out"
[ "$out" = '200 {"status":"ok"}' ] || fail "node fetch with NODE_EXTRA_CA_CERTS: $out"
out="$(env -u NODE_EXTRA_CA_CERTS node -e "$node_fetch" "https://127.0.0.1:$PORT/health")" &&
    fail "node trusted the private CA without NODE_EXTRA_CA_CERTS: $out"
SDK_CLIENT="$TESTS_DIR/../e2e/tls_client.mjs"
[ -d "$TESTS_DIR/../e2e/node_modules/@modelcontextprotocol/sdk" ] ||
    fail "the MCP SDK is missing: run scripts/fetch-e2e-deps.sh"
out="$(NODE_EXTRA_CA_CERTS="$DOCPKI/ca.crt" node "$SDK_CLIENT" "https://127.0.0.1:$PORT/mcp")" ||
    fail "MCP SDK client with NODE_EXTRA_CA_CERTS: $out"
out="$(env -u NODE_EXTRA_CA_CERTS node "$SDK_CLIENT" "https://127.0.0.1:$PORT/mcp")" &&
    fail "the MCP SDK client trusted the private CA without NODE_EXTRA_CA_CERTS: $out"
pass "Node fetch and the MCP SDK client trust the private CA with NODE_EXTRA_CA_CERTS only ($out)"

# Plain HTTP to the TLS port: a 400 that says to use https (not an empty reply); HTTPS still works after.
plain="$(curl -s -m 10 -D "$WORK/plain.headers" -w '\n%{http_code}' "http://127.0.0.1:$PORT/mcp?x=1")" || true
[ "${plain##*$'\n'}" = 400 ] || fail "plain HTTP on the TLS port: $plain"
assert_contains "$plain" '"error":"this port speaks HTTPS; use https://127.0.0.1:'"$PORT"'/mcp?x=1 (not http://)"' "plain HTTP"
grep -qi '^Connection: close' "$WORK/plain.headers" || fail "the 400 does not close: $(cat "$WORK/plain.headers")"
plain="$(curl -s -m 10 -w '\n%{http_code}' -H 'Host: hub.internal:8443' "http://127.0.0.1:$PORT/health")" || true
assert_contains "$plain" "use https://hub.internal:8443/health" "plain HTTP names the Host the client used"
plain="$(printf 'GET /health HTTP/1.1\r\nHost: "><x\r\n\r\n' | timeout 10 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read()); s.shutdown(socket.SHUT_WR)
out = b""
while True:
    b = s.recv(4096)
    if not b: break
    out += b
print(out.decode())' "$PORT")"
assert_contains "$plain" "use https://127.0.0.1:$PORT/health" "a Host header that is no authority is not echoed"
[ "$(curl -s -m 10 --cacert "$DOCPKI/ca.crt" "https://127.0.0.1:$PORT/health")" = '{"status":"ok"}' ] ||
    fail "HTTPS after the plain HTTP requests"
pass "plain HTTP on the TLS port: 400 'this port speaks HTTPS; use https://...', HTTPS unaffected"
stop_server doc

# --- start-up failures ---------------------------------------------------------------------------
write_config "$WORK/mismatch.yaml" "$PKI/signal-hub-one.crt" "$PKI/signal-hub-two.key"
run_expect 2 "$SH" --config "$WORK/mismatch.yaml" --store "$STORE" serve --transport http --port 0
assert_contains "$ERR" "tls.key_file '$PKI/signal-hub-two.key' does not match the certificate" "mismatched key"
pass "a key that does not match the certificate stops serve (exit 2) naming the key file"

write_config "$WORK/missing.yaml" "$PKI/absent.crt" "$PKI/signal-hub-one.key"
set +e; "$SH" --config "$WORK/missing.yaml" --store "$STORE" serve --transport http --port 0 >/dev/null 2>"$WORK/missing.err"; rc=$?; set -e
[ "$rc" -ne 0 ] || fail "serve started with a missing certificate"
assert_contains "$(cat "$WORK/missing.err")" "tls.cert_file '$PKI/absent.crt' cannot be read" "missing certificate"
pass "a missing certificate stops serve (exit $rc) naming the file"

printf 'security:\n  tls:\n    enabled: true\n' >"$WORK/nocert.yaml"
set +e; "$SH" --config "$WORK/nocert.yaml" --store "$STORE" serve --transport http --port 0 >/dev/null 2>"$WORK/nocert.err"; rc=$?; set -e
[ "$rc" -ne 0 ] || fail "serve started with TLS enabled and no certificate"
assert_contains "$(cat "$WORK/nocert.err")" "security.tls.cert_file: is required when security.tls.enabled is true" "no cert_file"
pass "TLS enabled without cert_file is a configuration error naming the key (exit $rc)"
echo "all TLS checks passed"
