# PostgreSQL 15 + pgvector for the tests. Source after scripts/lib/common.sh.
#
#   pg_ensure_installed          installs postgresql-15, its server headers and libpq (Debian packages),
#                                then pgvector (see pgvector_ensure_installed). Idempotent; fast when done.
#   pgvector_ensure_installed    builds and installs pgvector ${PGVECTOR_MIN_VERSION}+ from Debian trixie's
#                                *source* package when PG15 has no vector.control. Only Debian's package
#                                registry is used: a private apt configuration (its own sources file and
#                                lists directory in a temp dir) reads trixie's deb-src index, so the
#                                machine's apt sources are left untouched.
#   pgbouncer_ensure_installed   installs Debian's pgbouncer (for tests/integration/pgbouncer.sh, which runs
#                                its own instance on a private config); the package's system service is
#                                stopped and disabled so nothing listens on 6432 behind the tests' back.
#   pg_cluster_start STATE_DIR   initdb + pg_ctl start of a throw-away cluster as the `postgres` user (when
#                                run as root; as the current user otherwise) on a free loopback port,
#                                listening on 127.0.0.1 only, with a private unix socket directory and a
#                                random password. Writes STATE_DIR/url (postgresql://...) and STATE_DIR/datadir.
#   pg_cluster_stop STATE_DIR    pg_ctl stop (fast) and removes the cluster's files. Idempotent.
#   pg_cluster_halt STATE_DIR    stops the server but keeps the cluster (to test reconnects).
#   pg_cluster_restart STATE_DIR (re)starts the server with the same port and settings.

PG_MAJOR=15
PG_BINDIR="/usr/lib/postgresql/${PG_MAJOR}/bin"
PGVECTOR_MIN_VERSION=0.8.0

pg_config_bin() { echo "${PG_BINDIR}/pg_config"; }

pg_ensure_installed() {
    install_packages <(printf '%s\n' "postgresql-${PG_MAJOR}" "postgresql-server-dev-${PG_MAJOR}" libpq-dev)
    pgvector_ensure_installed
}

pgbouncer_ensure_installed() {
    local fresh=0
    dpkg-query -W -f='${Status}' pgbouncer 2>/dev/null | grep -q "install ok installed" || fresh=1
    install_packages <(printf '%s\n' pgbouncer)
    command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || die "pgbouncer is not installed"
    [ "$fresh" -eq 1 ] || return 0
    # The package enables (and, where services may start, starts) a system pgbouncer on port 6432:
    # the tests start their own, so the system one is stopped and disabled.
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        as_root systemctl disable --now pgbouncer.service >/dev/null 2>&1 || true
    else
        if [ -x /etc/init.d/pgbouncer ]; then as_root /etc/init.d/pgbouncer stop >/dev/null 2>&1 || true; fi
        if command -v update-rc.d >/dev/null 2>&1; then as_root update-rc.d pgbouncer disable >/dev/null 2>&1 || true; fi
        if command -v systemctl >/dev/null 2>&1; then as_root systemctl disable pgbouncer.service >/dev/null 2>&1 || true; fi
    fi
}

# The version of the vector extension PG15 would install ("" when none).
pgvector_installed_version() {
    local control
    control="$("$(pg_config_bin)" --sharedir)/extension/vector.control"
    [ -f "$control" ] || return 0
    sed -n "s/^default_version *= *'\\(.*\\)'/\\1/p" "$control"
}

pgvector_ensure_installed() {
    local have
    have="$(pgvector_installed_version)"
    if [ -n "$have" ] && dpkg --compare-versions "$have" ge "$PGVECTOR_MIN_VERSION"; then
        return 0
    fi
    install_packages <(printf '%s\n' dpkg-dev build-essential "postgresql-server-dev-${PG_MAJOR}")
    local uri work
    uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
    [ -n "$uri" ] || uri="$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
    [ -n "$uri" ] || die "no Debian mirror configured in /etc/apt; cannot fetch the pgvector source package"
    work="$(mktemp -d)"
    mkdir -p "$work/parts" "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
    cat >"$work/parts/trixie-src.sources" <<SRC
Types: deb-src
URIs: $uri
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    local apt_opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work/parts"
                    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=root")
    log "fetching the pgvector source package from Debian trixie ($uri)"
    apt-get "${apt_opts[@]}" update -qq || { rm -rf "$work"; die "apt-get update of the trixie deb-src index failed"; }
    (cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only -qq pgvector >/dev/null &&
        dpkg-source -x --no-check ./pgvector_*.dsc pgvector >/dev/null) ||
        { rm -rf "$work"; die "could not fetch/unpack the pgvector source package"; }
    log "building pgvector against PostgreSQL ${PG_MAJOR}"
    # OPTFLAGS="": no -march=native, so the build runs on any x86-64 machine.
    (cd "$work/src/pgvector" && make -s -j "$(build_jobs)" PG_CONFIG="$(pg_config_bin)" OPTFLAGS="" >/dev/null &&
        as_root make -s install PG_CONFIG="$(pg_config_bin)" OPTFLAGS="" >/dev/null) ||
        { rm -rf "$work"; die "building pgvector failed"; }
    rm -rf "$work"
    have="$(pgvector_installed_version)"
    [ -n "$have" ] && dpkg --compare-versions "$have" ge "$PGVECTOR_MIN_VERSION" ||
        die "pgvector ${have:-(none)} installed, need >= ${PGVECTOR_MIN_VERSION}"
    log "pgvector $have installed"
}

# Runs a command as the cluster owner: `postgres` when we are root (initdb refuses root).
_pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_cluster_start() {
    local state="$1" base port pw i
    [ -x "${PG_BINDIR}/initdb" ] || die "PostgreSQL ${PG_MAJOR} is not installed (${PG_BINDIR}/initdb missing); run scripts/test.sh or install postgresql-${PG_MAJOR}"
    [ -n "$(pgvector_installed_version)" ] || die "pgvector is not installed for PostgreSQL ${PG_MAJOR}; run scripts/test.sh"
    mkdir -p "$state"
    pg_cluster_stop "$state" 2>/dev/null || true
    base="$(mktemp -d /tmp/signal-hub-pg.XXXXXX)"
    mkdir -p "$base/data" "$base/sock"
    pw="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
    printf '%s\n' "$pw" >"$base/pwfile"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$base"; fi
    chmod 700 "$base"
    _pg_as_owner "${PG_BINDIR}/initdb" -D "$base/data" -U postgres --pwfile="$base/pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1 ||
        { cat "$base/initdb.log" >&2; rm -rf "$base"; die "initdb failed"; }
    rm -f "$base/pwfile"
    echo "$base" >"$state/datadir"
    for i in $(seq 1 20); do
        port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        if _pg_as_owner "${PG_BINDIR}/pg_ctl" -D "$base/data" -l "$base/server.log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$base/sock -c fsync=off" \
            start >/dev/null 2>&1; then
            printf 'postgresql://postgres:%s@127.0.0.1:%s/postgres\n' "$pw" "$port" >"$state/url"
            chmod 600 "$state/url"
            log "PostgreSQL ${PG_MAJOR} test cluster on 127.0.0.1:$port ($base)"
            return 0
        fi
        grep -q "already in use" "$base/server.log" 2>/dev/null || break
    done
    cat "$base/server.log" >&2 2>/dev/null || true
    rm -rf "$base"
    rm -f "$state/datadir"
    die "could not start a PostgreSQL test cluster"
}

pg_cluster_stop() {
    local state="$1" base
    [ -f "$state/datadir" ] || return 0
    base="$(cat "$state/datadir")"
    if [ -d "$base/data" ]; then
        _pg_as_owner "${PG_BINDIR}/pg_ctl" -D "$base/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    case "$base" in /tmp/signal-hub-pg.*) rm -rf "$base" ;; esac
    rm -f "$state/datadir" "$state/url"
}

pg_cluster_halt() {
    local base
    base="$(cat "$1/datadir")" || die "no cluster in $1"
    _pg_as_owner "${PG_BINDIR}/pg_ctl" -D "$base/data" -m fast -w -t 30 stop >/dev/null
}

pg_cluster_restart() {
    local base
    base="$(cat "$1/datadir")" || die "no cluster in $1"
    # pg_ctl restart reuses the options of the last start (postmaster.opts): same port and socket dir.
    _pg_as_owner "${PG_BINDIR}/pg_ctl" -D "$base/data" -l "$base/server.log" -m fast -w -t 30 restart >/dev/null 2>&1
}
