# Sourced by the PgBouncer tests (after lib.sh and pg_lib.sh, with DB_NAME set): creates database
# DB_NAME on the `postgres` fixture's cluster and starts a private PgBouncer 1.18 in front of it in
# transaction pooling mode (default_pool_size = 2). Sets PGBOUNCER, PGB_PORT, PGB_PID, PG_USER,
# PG_PASSWORD, PG_PORT and ADMIN_URL (the admin console); an EXIT trap stops PgBouncer and drops DB_NAME.
[ -n "${DB_NAME:-}" ] || fail "pgbouncer_lib.sh: set DB_NAME before sourcing it"
PGBOUNCER="$(command -v pgbouncer || true)"
[ -n "$PGBOUNCER" ] || { [ -x /usr/sbin/pgbouncer ] && PGBOUNCER=/usr/sbin/pgbouncer; } ||
    fail "pgbouncer is not installed (scripts/test.sh installs the Debian package)"

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
ADMIN_URL="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PGB_PORT/pgbouncer"
