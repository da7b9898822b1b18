# A PostgreSQL 15 primary and a streaming hot standby on loopback, for the read-replica and
# failover tests (source after lib.sh). Its own temporary directory and free ports, nothing shared
# with the `postgres` CTest fixture except the binaries and pgvector (scripts/lib/postgres.sh installs
# both: run through ctest -L postgres, or scripts/test.sh once).
#
#   pgr_start                 initdb + start the primary, database `hub` with pgvector, then
#                             pg_basebackup -R (streaming, replication slot) + start the standby.
#                             Sets PGR_PRIMARY_PORT, PGR_STANDBY_PORT, PGR_PRIMARY_URL, PGR_STANDBY_URL
#                             (postgresql://postgres@127.0.0.1:PORT/hub; host auth is trust, loopback only).
#   pgr_stop_standby / pgr_start_standby   pg_ctl stop -m fast / start of the standby (same port).
#   pgr_kill_primary          kill -9 of the primary's postmaster (a lost host, no shutdown).
#   pgr_promote_standby       pg_ctl promote -w: the standby becomes a primary.
#   pgr_sync on|off           synchronous_standby_names = '*' (on) or '' (off) on the primary.
#   pgr_wait_caught_up        waits (30 s at most) until the standby replayed everything the primary wrote.
#   pgr_sql URL SQL           psql -At, as sql() in pg_lib.sh.
#   pgr_cleanup               stops both servers and removes the directory (call from the EXIT trap).
PG_MAJOR="${PG_MAJOR:-15}"
PGR_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
PGR_DIR=""
PGR_PRIMARY_PORT="" PGR_STANDBY_PORT="" PGR_PRIMARY_URL="" PGR_STANDBY_URL=""

# Runs a command as the cluster owner (initdb refuses root).
_pgr_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
_pgr_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pgr_sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$1" -c "$2"; }

# _pgr_ctl_start DATADIR PORT SOCKDIR LOG
_pgr_ctl_start() {
    _pgr_owner "$PGR_BIN/pg_ctl" -D "$1" -l "$4" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $2 -c unix_socket_directories=$3" start >/dev/null ||
        fail "pg_ctl start of $1 (port $2) failed: $(tail -20 "$4")"
}

pgr_start() {
    [ -x "$PGR_BIN/initdb" ] || fail "PostgreSQL $PG_MAJOR is not installed ($PGR_BIN/initdb missing)"
    [ -f "/usr/share/postgresql/$PG_MAJOR/extension/vector.control" ] ||
        fail "pgvector is not installed for PostgreSQL $PG_MAJOR (run through ctest -L postgres or scripts/test.sh)"
    PGR_DIR="$(mktemp -d /tmp/signal-hub-pgr.XXXXXX)"
    mkdir -p "$PGR_DIR/primary" "$PGR_DIR/sock1" "$PGR_DIR/sock2"
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$PGR_DIR"
    chmod 700 "$PGR_DIR"
    _pgr_owner "$PGR_BIN/initdb" -D "$PGR_DIR/primary" -U postgres --auth-local=trust --auth-host=trust --no-sync \
        --encoding=UTF8 --locale=C.UTF-8 >"$PGR_DIR/initdb.log" 2>&1 || fail "initdb failed: $(cat "$PGR_DIR/initdb.log")"
    # Streaming replication (wal_level replica and max_wal_senders are the defaults); a slot keeps the
    # WAL a stopped standby still needs; feedback avoids query cancellations on the standby.
    cat >>"$PGR_DIR/primary/postgresql.conf" <<CONF
fsync = off
hot_standby_feedback = on
wal_keep_size = 256MB
CONF
    PGR_PRIMARY_PORT="$(_pgr_port)"
    _pgr_ctl_start "$PGR_DIR/primary" "$PGR_PRIMARY_PORT" "$PGR_DIR/sock1" "$PGR_DIR/primary.log"
    PGR_PRIMARY_URL="postgresql://postgres@127.0.0.1:$PGR_PRIMARY_PORT/hub"
    pgr_sql "postgresql://postgres@127.0.0.1:$PGR_PRIMARY_PORT/postgres" \
        "CREATE DATABASE hub ENCODING 'UTF8' TEMPLATE template0" >/dev/null
    pgr_sql "$PGR_PRIMARY_URL" "CREATE EXTENSION vector" >/dev/null
    _pgr_owner "$PGR_BIN/pg_basebackup" -h 127.0.0.1 -p "$PGR_PRIMARY_PORT" -U postgres -D "$PGR_DIR/standby" \
        -R -X stream -c fast -C -S standby1 >"$PGR_DIR/basebackup.log" 2>&1 ||
        fail "pg_basebackup failed: $(cat "$PGR_DIR/basebackup.log")"
    PGR_STANDBY_PORT="$(_pgr_port)"
    _pgr_ctl_start "$PGR_DIR/standby" "$PGR_STANDBY_PORT" "$PGR_DIR/sock2" "$PGR_DIR/standby.log"
    PGR_STANDBY_URL="postgresql://postgres@127.0.0.1:$PGR_STANDBY_PORT/hub"
    [ "$(pgr_sql "$PGR_STANDBY_URL" "SELECT pg_is_in_recovery()")" = t ] || fail "the standby is not in recovery"
    pgr_wait_caught_up
}

pgr_stop_standby() { _pgr_owner "$PGR_BIN/pg_ctl" -D "$PGR_DIR/standby" -m fast -w -t 60 stop >/dev/null; }
pgr_start_standby() {
    _pgr_ctl_start "$PGR_DIR/standby" "$PGR_STANDBY_PORT" "$PGR_DIR/sock2" "$PGR_DIR/standby.log"
}
pgr_kill_primary() { kill -9 "$(head -1 "$PGR_DIR/primary/postmaster.pid")"; }
pgr_promote_standby() { _pgr_owner "$PGR_BIN/pg_ctl" -D "$PGR_DIR/standby" -w -t 60 promote >/dev/null; }

pgr_sync() {
    local names=""
    [ "$1" = on ] && names="*"
    pgr_sql "$PGR_PRIMARY_URL" "ALTER SYSTEM SET synchronous_standby_names = '$names'" >/dev/null
    pgr_sql "$PGR_PRIMARY_URL" "SELECT pg_reload_conf()" >/dev/null
    if [ "$1" = on ]; then
        for _ in $(seq 1 100); do
            [ "$(pgr_sql "$PGR_PRIMARY_URL" "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ] &&
                return 0
            sleep 0.1
        done
        fail "the standby did not become synchronous"
    fi
}

pgr_wait_caught_up() {
    local lsn
    lsn="$(pgr_sql "$PGR_PRIMARY_URL" "SELECT pg_current_wal_lsn()")"
    for _ in $(seq 1 300); do
        [ "$(pgr_sql "$PGR_STANDBY_URL" "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" = t ] && return 0
        sleep 0.1
    done
    fail "the standby did not replay up to $lsn within 30 s"
}

pgr_cleanup() {
    [ -n "$PGR_DIR" ] && [ -d "$PGR_DIR" ] || return 0
    local d
    for d in standby primary; do
        [ -f "$PGR_DIR/$d/postmaster.pid" ] &&
            _pgr_owner "$PGR_BIN/pg_ctl" -D "$PGR_DIR/$d" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    done
    case "$PGR_DIR" in /tmp/signal-hub-pgr.*) rm -rf "$PGR_DIR" ;; esac
}
