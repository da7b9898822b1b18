# Redis 7 for the tests (label `redis`). Source after scripts/lib/common.sh.
#
#   redis_server_start STATE_DIR   starts a throw-away redis-server (Debian package redis-server) on
#                                  127.0.0.1 and a free port: no persistence (--save '', --appendonly no),
#                                  a random password (requirepass), its own session. Waits until it
#                                  answers PING. Writes STATE_DIR/url (redis://:PASSWORD@127.0.0.1:PORT/0,
#                                  mode 0600), STATE_DIR/pid, STATE_DIR/server.log. Fails (non-zero) when
#                                  the server cannot start.
#   redis_tls_server_start STATE_DIR [AUTH_CLIENTS]
#                                  the same, but TLS only (--port 0 --tls-port PORT; Debian's redis-server 7
#                                  has TLS built in) with a throw-away test CA made with openssl:
#                                  STATE_DIR/pki/ca.crt (the CA), server.crt/.key (for 127.0.0.1 and
#                                  localhost), client.crt/.key (a client certificate of that CA),
#                                  other-ca.crt (an unrelated CA). AUTH_CLIENTS: no (default) or yes
#                                  (--tls-auth-clients: a client certificate is required). Writes
#                                  STATE_DIR/url as rediss://:PASSWORD@127.0.0.1:PORT/0.
#   redis_server_stop STATE_DIR    stops that server and removes STATE_DIR. Idempotent.

redis_server_binary() {
    local bin
    for bin in "$(command -v redis-server 2>/dev/null || true)" /usr/bin/redis-server /usr/sbin/redis-server; do
        if [ -n "$bin" ] && [ -x "$bin" ]; then echo "$bin"; return 0; fi
    done
    die "redis: redis-server is required (Debian: apt-get install redis-server; scripts/test.sh installs it)"
}

# A TCP port free on 127.0.0.1 right now (python3 is a test package).
redis_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Exit status 0 when the server on PORT answers PING with PONG (password in REDISCLI_AUTH, not argv).
# REDIS_CLI_TLS (an array of redis-cli TLS options) is used when set.
redis_ping() {
    local port="$1" password="$2"
    [ "$(REDISCLI_AUTH="$password" timeout 2 redis-cli -h 127.0.0.1 -p "$port" ${REDIS_CLI_TLS[@]+"${REDIS_CLI_TLS[@]}"} \
        --no-auth-warning ping 2>/dev/null)" = "PONG" ]
}

# redis_test_pki DIR: a throw-away CA and certificates for TLS tests (EC P-256, valid 2 days).
redis_test_pki() {
    local dir="$1"
    command -v openssl >/dev/null 2>&1 || die "redis: openssl is required for the TLS test server"
    mkdir -p "$dir"
    (
        cd "$dir"
        umask 077
        key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
        key ca.key
        openssl req -x509 -new -key ca.key -out ca.crt -days 2 -subj "/CN=Signal Hub Redis Test CA" 2>/dev/null
        key other-ca.key
        openssl req -x509 -new -key other-ca.key -out other-ca.crt -days 2 -subj "/CN=Some Other CA" 2>/dev/null
        issue() { # NAME CN EXTENSIONS
            key "$1.key"
            openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
            printf '%s\n' "$3" > "$1.ext"
            openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 2 \
                -extfile "$1.ext" 2>/dev/null
            rm -f "$1.csr" "$1.ext"
        }
        issue server redis.test "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
        issue client signal-hub "extendedKeyUsage=clientAuth"
        chmod 644 ca.crt other-ca.crt server.crt client.crt
    ) || die "redis: could not make the test certificates in $dir"
}

redis_tls_server_start() {
    local state="$1" auth="${2:-no}"
    case "$auth" in yes|no) ;; *) die "redis_tls_server_start: AUTH_CLIENTS must be yes or no, got '$auth'" ;; esac
    redis_server_stop "$state"
    redis_test_pki "$state/pki"
    REDIS_TLS_ARGS=(--tls-cert-file "$state/pki/server.crt" --tls-key-file "$state/pki/server.key"
                    --tls-ca-cert-file "$state/pki/ca.crt" --tls-auth-clients "$auth")
    REDIS_CLI_TLS=(--tls --cacert "$state/pki/ca.crt" --cert "$state/pki/client.crt" --key "$state/pki/client.key")
    REDIS_SCHEME=rediss redis_server_start "$state" keep
    unset REDIS_TLS_ARGS REDIS_CLI_TLS
}

redis_server_start() {
    local state="$1" keep="${2:-}" bin port password pid i scheme="${REDIS_SCHEME:-redis}"
    bin="$(redis_server_binary)"
    command -v redis-cli >/dev/null 2>&1 || die "redis: redis-cli is required (Debian package redis-tools)"
    [ "$keep" = keep ] || redis_server_stop "$state"
    mkdir -p "$state"
    chmod 700 "$state"
    password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
    # The password goes in a config file (0600), not on the command line (ps shows argv).
    (umask 077 && printf 'requirepass %s\n' "$password" >"$state/redis.conf")
    for i in 1 2 3 4 5; do
        port="$(redis_free_port)"
        local ports=(--port "$port")
        [ "$scheme" = rediss ] && ports=(--port 0 --tls-port "$port" "${REDIS_TLS_ARGS[@]}")
        (exec setsid "$bin" "$state/redis.conf" --bind 127.0.0.1 "${ports[@]}" --save '' --appendonly no \
            --dir "$state" --daemonize no --logfile "$state/server.log" </dev/null >/dev/null 2>&1) &
        pid=$!
        echo "$pid" >"$state/pid"
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            if redis_ping "$port" "$password"; then
                (umask 077 && echo "${scheme}://:${password}@127.0.0.1:${port}/0" >"$state/url")
                log "redis: server up at ${scheme}://127.0.0.1:$port (pid $pid, state $state)"
                return 0
            fi
            sleep 0.1
        done
        # Port taken between the probe and the start, or a slow start: try again on another port.
        tail -n 5 "$state/server.log" >&2 2>/dev/null || true
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    done
    die "redis: could not start redis-server (log: $state/server.log)"
}

redis_server_stop() {
    local state="$1" pid i
    if [ -f "$state/pid" ]; then
        pid="$(cat "$state/pid")"
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
            for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -rf "$state"
}
