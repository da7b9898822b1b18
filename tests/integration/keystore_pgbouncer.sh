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
DB_NAME="sh_keys_pgb_$$"
source "$(dirname "$0")/pgbouncer_lib.sh"
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
