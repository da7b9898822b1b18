# PostgreSQL helpers for integration scripts labelled `postgres` (source after lib.sh).
# The server is the CTest fixture's throw-away cluster: its URL is in $SIGNAL_HUB_TEST_PG_URL_FILE
# (or given directly as $SIGNAL_HUB_TEST_PG_URL). Each script gets a database of its own.
PG_SERVER_URL="${SIGNAL_HUB_TEST_PG_URL:-}"
if [ -z "$PG_SERVER_URL" ]; then
    [ -n "${SIGNAL_HUB_TEST_PG_URL_FILE:-}" ] && [ -s "$SIGNAL_HUB_TEST_PG_URL_FILE" ] ||
        fail "no PostgreSQL: run through 'ctest -L postgres' (fixture) or set SIGNAL_HUB_TEST_PG_URL"
    PG_SERVER_URL="$(head -n1 "$SIGNAL_HUB_TEST_PG_URL_FILE")"
fi

# new_database NAME: creates database NAME (dropped at exit) and prints its URL.
PG_DATABASES=()
new_database() {
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$PG_SERVER_URL" -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" \
        -c "CREATE DATABASE \"$1\" ENCODING 'UTF8' TEMPLATE template0" >/dev/null
    echo "${PG_SERVER_URL%/*}/$1"
}
drop_databases() {
    for db in "$@"; do
        psql -X -q "$PG_SERVER_URL" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
}
# sql URL SQL: runs SQL, prints unaligned tuples only.
sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$1" -c "$2"; }
