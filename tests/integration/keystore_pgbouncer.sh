#!/usr/bin/env bash
# DatabaseKeyStore behind a real PgBouncer in transaction pooling mode (no session state): a private
# PgBouncer (default_pool_size = 2) in front of the CTest fixture's cluster, and through it the
# key-store conformance suite (*/database) and DatabaseKeyStoreTest.* of keystores_test — schema
# creation under the advisory lock (four opens at once), concurrent creates of one name, concurrent
# revokes, two replicas, last_used.
#   keystore_pgbouncer.sh path/to/keystores_test    (SIGNAL_HUB_TEST_PG_URL_FILE names the fixture's URL file)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_lib.sh"
KEYSTORES_TEST="$SH"
PGBOUNCER="$(command -v pgbouncer || true)"
[ -n "$PGBOUNCER" ] || { [ -x /usr/sbin/pgbouncer ] && PGBOUNCER=/usr/sbin/pgbouncer; } ||
    fail "pgbouncer is not installed (scripts/test.sh installs the Debian package)"

DB_NAME="sh_keys_pgb_$$"
# PgBouncer refuses to run as root: then it runs as `postgres` (the fixture cluster's owner too), in a
# directory of its own that this user can write (WORK is root's, mode 700).
PGB_DIR="$(mktemp -d /tmp/signal-hub-pgb.XXXXXX)"
PGB_PID=""
stop_pgbouncer() {
    if [ -s "$PGB_DIR/pgbouncer.pid" ]; then PGB_PID="$(cat "$PGB_DIR/pgbouncer.pid")"; fi
    if [ -n "$PGB_PID" ] && kill -0 "$PGB_PID" 2>/dev/null; then
        kill -INT "$PGB_PID" 2>/dev/null || true   # SIGINT: safe shutdown (SIGTERM waits for clients in 1.18)
        for _ in $(seq 1 50); do kill -0 "$PGB_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$PGB_PID" 2>/dev/null || true
    fi
}
trap 'rc=$?; jobs -p | xargs -r kill -9 2>/dev/null; stop_pgbouncer; drop_databases "$DB_NAME"; rm -rf "$PGB_DIR" "$WORK"; exit $rc' EXIT
as_pgb_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

DB="$(new_database "$DB_NAME")"
# postgresql://USER:PASSWORD@127.0.0.1:PORT/DB — the fixture's URL shape (scram-sha-256 on loopback).
read -r PG_USER PG_PASSWORD PG_HOST PG_PORT < <(python3 -c '
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(u.unquote(p.username or ""), u.unquote(p.password or ""), p.hostname or "", p.port or 5432)' "$PG_SERVER_URL")
[ -n "$PG_PASSWORD" ] && [ "$PG_HOST" = 127.0.0.1 ] || fail "unexpected fixture URL shape (user/password@127.0.0.1 expected)"

# The cluster authenticates TCP clients with scram-sha-256: PgBouncer authenticates its clients the same
# way from an auth_file holding the password, and logs in to the server with it.
printf '"%s" "%s"\n' "$PG_USER" "$PG_PASSWORD" >"$PGB_DIR/userlist.txt"
write_ini() { # PORT
    cat >"$PGB_DIR/pgbouncer.ini" <<INI
[databases]
$DB_NAME = host=127.0.0.1 port=$PG_PORT dbname=$DB_NAME

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $1
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $PGB_DIR/userlist.txt
admin_users = $PG_USER
pool_mode = transaction
default_pool_size = 2
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 100
max_db_connections = 2
query_wait_timeout = 60
server_login_retry = 1
logfile = $PGB_DIR/pgbouncer.log
pidfile = $PGB_DIR/pgbouncer.pid
INI
}
if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$PGB_DIR"; fi
chmod 700 "$PGB_DIR"
PGB_PORT=""
for _ in $(seq 1 10); do
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    write_ini "$port"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PGB_DIR/pgbouncer.ini" "$PGB_DIR/userlist.txt"; fi
    chmod 600 "$PGB_DIR/pgbouncer.ini" "$PGB_DIR/userlist.txt"
    rm -f "$PGB_DIR/pgbouncer.pid"
    as_pgb_owner "$PGBOUNCER" -d -q "$PGB_DIR/pgbouncer.ini" >"$WORK/pgbouncer.start" 2>&1 || true
    for try in $(seq 1 100); do
        if [ -s "$PGB_DIR/pgbouncer.pid" ] &&
            psql -X -q -At "postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$port/pgbouncer?connect_timeout=2" \
                -c "SHOW VERSION" >/dev/null 2>&1; then
            PGB_PORT="$port"; break
        fi
        # Gone (or never daemonized) after 2 s: it failed to start, e.g. the port was taken meanwhile.
        [ -s "$PGB_DIR/pgbouncer.pid" ] && kill -0 "$(cat "$PGB_DIR/pgbouncer.pid")" 2>/dev/null || [ "$try" -lt 20 ] || break
        sleep 0.1
    done
    [ -n "$PGB_PORT" ] && break
    stop_pgbouncer
    grep -q -i "address already in use" "$PGB_DIR/pgbouncer.log" 2>/dev/null || break
done
[ -n "$PGB_PORT" ] || fail "PgBouncer did not start: $(cat "$WORK/pgbouncer.start" "$PGB_DIR/pgbouncer.log" 2>/dev/null | tail -20)"
PGB_PID="$(cat "$PGB_DIR/pgbouncer.pid")"
PGB_BASE="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PGB_PORT/$DB_NAME"
pass "PgBouncer on 127.0.0.1:$PGB_PORT, pool_mode = transaction, 2 server connections for $DB_NAME"

# Every test of the backend except the two about the URL itself (no server / an unreachable one).
FILTER='*/database:DatabaseKeyStoreTest.*-DatabaseKeyStoreTest.MissingServerUrlIsAFailureNotASkip:DatabaseKeyStoreTest.UnreachableServerIsUnavailableWithoutThePassword'
set +e
SIGNAL_HUB_TEST_PG_URL="$PGB_BASE" "$KEYSTORES_TEST" --gtest_filter="$FILTER" >"$WORK/gtest.out" 2>&1
rc=$?
set -e
[ "$rc" -eq 0 ] || fail "keystores_test through PgBouncer failed (exit $rc):
$(grep -E 'Failure|FAILED|Expected|Which is|error' "$WORK/gtest.out" | head -40)
PgBouncer log: $(tail -n 20 "$PGB_DIR/pgbouncer.log" 2>/dev/null)"
passed="$(grep -c '^\[       OK \]' "$WORK/gtest.out")"
[ "$passed" -ge 13 ] || fail "expected at least 13 tests through PgBouncer, $passed passed: $(tail -5 "$WORK/gtest.out")"
pass "$passed key-store tests passed through PgBouncer (transaction mode)"
