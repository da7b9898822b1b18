#!/usr/bin/env bash
# Managed PostgreSQL (docs/production/database-migration/managed-postgresql.md): the application's role
# is not a superuser and may not create extensions or schemas in its database, as on Amazon RDS/Aurora,
# Cloud SQL and Azure Database for PostgreSQL flexible server. Once an administrator has enabled
# `vector`, `signal-hub migrate init-db` as that role creates the schema, and the role can index and
# search; where `vector` is not enabled, init-db fails with exit 4 and says what the administrator must
# run (docs/cli.md).
#   managed_postgres.sh path/to/signal-hub   (ctest label postgres: SIGNAL_HUB_TEST_PG_URL_FILE)
source "$(dirname "$0")/lib.sh"
source "$TESTS_DIR/pg_lib.sh"
command -v psql >/dev/null || fail "psql is required (scripts/test.sh installs PostgreSQL)"
ROLE="sh_app_$$"
PASSWORD="pw$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
DB_WITH="managed_with_$$"
DB_WITHOUT="managed_without_$$"
trap 'rc=$?; jobs -p | xargs -r kill -9 2>/dev/null; drop_databases "$DB_WITH" "$DB_WITHOUT";
      psql -X -q "$PG_SERVER_URL" -c "DROP ROLE IF EXISTS $ROLE" >/dev/null 2>&1 || true; rm -rf "$WORK"; exit $rc' EXIT

# The administrator's side (superuser): a role without superuser, CREATEDB or CREATEROLE; two
# databases it does not own; in one of them `vector` is enabled. The role may use and create tables
# in schema public (what a managed service's application user is given), nothing more.
ADMIN_WITH="$(new_database "$DB_WITH")"
ADMIN_WITHOUT="$(new_database "$DB_WITHOUT")"
sql "$PG_SERVER_URL" "CREATE ROLE $ROLE LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '$PASSWORD'"
for url in "$ADMIN_WITH" "$ADMIN_WITHOUT"; do
    sql "$url" "GRANT USAGE, CREATE ON SCHEMA public TO $ROLE"
done
sql "$ADMIN_WITH" "CREATE EXTENSION vector"
for db in "$DB_WITH" "$DB_WITHOUT"; do
    [ "$(sql "$PG_SERVER_URL" "SELECT has_database_privilege('$ROLE', '$db', 'CREATE')")" = f ] ||
        fail "$ROLE has CREATE on $db"
done
[ "$(sql "$PG_SERVER_URL" "SELECT rolsuper FROM pg_roles WHERE rolname = '$ROLE'")" = f ] || fail "$ROLE is a superuser"
# The role's URLs: the fixture's host and port, the role's name and password.
HOSTPORT="$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).netloc.rsplit("@", 1)[1])' "$PG_SERVER_URL")"
APP_WITH="postgresql://$ROLE:$PASSWORD@$HOSTPORT/$DB_WITH"
APP_WITHOUT="postgresql://$ROLE:$PASSWORD@$HOSTPORT/$DB_WITHOUT"
# The role cannot create the extension itself (else this test would prove nothing).
if psql -X -q "$APP_WITHOUT" -c "CREATE EXTENSION vector" >/dev/null 2>"$WORK/create.err"; then
    fail "$ROLE could create the extension"
fi
pass "role $ROLE: no superuser, no CREATE on its databases, may not create extensions"

# --- with the extension enabled: init-db, index, search as the role --------------------------------
run_expect 0 "$SH" migrate init-db --database "$APP_WITH"
assert_contains "$ERR" "created database schema" "init-db as $ROLE"
run_expect 0 "$SH" migrate init-db --database "$APP_WITH"
assert_contains "$ERR" "is current; nothing to do" "init-db again"
[ "$(sql "$ADMIN_WITH" "SELECT count(*) FROM pg_extension WHERE extname = 'vector'")" = 1 ] || fail "extension gone?"
make_tree "$WORK/repo"
export DATABASE_URL="$APP_WITH"
cat >"$WORK/config.yaml" <<'YAML'
database:
  type: postgresql
  url: ${DATABASE_URL}
YAML
run_expect 0 "$SH" --config "$WORK/config.yaml" index "$WORK/repo"
run_expect 0 "$SH" --config "$WORK/config.yaml" search "split a URL into scheme and host"
assert_contains "$OUT" "url.py" "search as $ROLE"
pass "with vector enabled by the administrator: init-db, index and search as $ROLE"

# --- without it: init-db fails, exit 4, naming what the administrator must run ----------------------
run_expect 4 "$SH" migrate init-db --database "$APP_WITHOUT"
assert_contains "$ERR" "pgvector extension is not enabled" "init-db without vector"
assert_contains "$ERR" "\"$ROLE\" may not create it" "init-db names the role"
assert_contains "$ERR" "in database $DB_WITHOUT: CREATE EXTENSION IF NOT EXISTS vector;" "init-db names the statement"
assert_contains "$ERR" "azure.extensions" "init-db names Azure's allow-list"
assert_contains "$ERR" "rds_superuser" "init-db names the RDS role"
case "$ERR" in *"$PASSWORD"*) fail "the password is in the error: $ERR" ;; esac
[ "$(sql "$ADMIN_WITHOUT" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0 ] ||
    fail "init-db left tables behind in $DB_WITHOUT"
# The administrator enables it; the same command then succeeds.
sql "$ADMIN_WITHOUT" "CREATE EXTENSION vector"
run_expect 0 "$SH" migrate init-db --database "$APP_WITHOUT"
assert_contains "$ERR" "created database schema" "init-db after the administrator enabled vector"
pass "without vector: exit 4 naming the role, the database and CREATE EXTENSION; after it is enabled, init-db works"
