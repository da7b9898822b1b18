# Redis 7 for the tests (label `redis`). Source after scripts/lib/common.sh.
#
#   redis_server_start STATE_DIR   starts a throw-away redis-server (Debian package redis-server) on
#                                  127.0.0.1 and a free port: no persistence (--save '', --appendonly no),
#                                  a random password (requirepass), its own session. Waits until it
#                                  answers PING. Writes STATE_DIR/url (redis://:PASSWORD@127.0.0.1:PORT/0,
#                                  mode 0600), STATE_DIR/pid, STATE_DIR/server.log. Fails (non-zero) when
#                                  the server cannot start.
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
redis_ping() {
    local port="$1" password="$2"
    [ "$(REDISCLI_AUTH="$password" timeout 2 redis-cli -h 127.0.0.1 -p "$port" --no-auth-warning ping 2>/dev/null)" = "PONG" ]
}

redis_server_start() {
    local state="$1" bin port password pid i
    bin="$(redis_server_binary)"
    command -v redis-cli >/dev/null 2>&1 || die "redis: redis-cli is required (Debian package redis-tools)"
    redis_server_stop "$state"
    mkdir -p "$state"
    chmod 700 "$state"
    password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
    # The password goes in a config file (0600), not on the command line (ps shows argv).
    (umask 077 && printf 'requirepass %s\n' "$password" >"$state/redis.conf")
    for i in 1 2 3 4 5; do
        port="$(redis_free_port)"
        (exec setsid "$bin" "$state/redis.conf" --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
            --dir "$state" --daemonize no --logfile "$state/server.log" </dev/null >/dev/null 2>&1) &
        pid=$!
        echo "$pid" >"$state/pid"
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            if redis_ping "$port" "$password"; then
                (umask 077 && echo "redis://:${password}@127.0.0.1:${port}/0" >"$state/url")
                log "redis: server up at 127.0.0.1:$port (pid $pid, state $state)"
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
