#!/usr/bin/env bash
# PostgreSQL point-in-time recovery with pgBackRest, as docs/production/operations/pitr-pgbackrest.md
# writes it (the blocks marked `<!-- pitr: ... -->` are extracted and run as written; only the Debian
# paths are replaced by this test's temporary ones), on a real PostgreSQL 15 + pgvector cluster that
# the test starts itself (its own port, data directory and pgBackRest repository):
#  - collections `corpus` and `email` imported (migrate import of exports of indexed trees), then a
#    full backup (stanza-create, check, backup, info);
#  - after the backup: collection `json` imported and `http` indexed directly into the database, the
#    operator's "last good" time noted: all of this must survive;
#  - the accident: `migrate drop --collection corpus --yes`; after it, collection `late` is indexed
#    (it must NOT survive: the recovery stops before the drop);
#  - WAL switch + check, recovery point from the server log's DROP TABLE line, cluster stopped,
#    `pgbackrest restore --delta --type=time --target-action=promote`, started;
#  - corpus is back with its exact record count, json/email/http are there with theirs, `late` is
#    not; `migrate verify --database` passes; status and a search answer from corpus.
# Prints `figure:` lines: database size, backup seconds, repository size, restore seconds, start to
# promoted seconds.
# Usage: pitr_pgbackrest.sh path/to/signal-hub
source "$(dirname "$0")/lib.sh"
REPO="$(cd "$TESTS_DIR/../.." && pwd)"
GUIDE="$REPO/docs/production/operations/pitr-pgbackrest.md"
source "$REPO/scripts/lib/common.sh"
source "$REPO/scripts/lib/postgres.sh"
command -v pgbackrest >/dev/null || fail "pgbackrest is not installed (scripts/test-packages.txt: apt-get install pgbackrest)"

STATE="$WORK/pg-state"
trap 'rc=$?; [ -z "${PITR_DATA:-}" ] || as_owner "$PG_BINDIR/pg_ctl" -D "$PITR_DATA" -m immediate -w stop >/dev/null 2>&1 || true; pg_cluster_stop "$STATE" >/dev/null 2>&1 || true; jobs -p | xargs -r kill -9 2>/dev/null; rm -rf "$WORK"; exit $rc' EXIT

# --- our own cluster ----------------------------------------------------------------------------------
pg_cluster_start "$STATE" 2>"$WORK/start.log" || fail "could not start a cluster: $(cat "$WORK/start.log")"
BASE="$(cat "$STATE/datadir")"       # /tmp/signal-hub-pg.XXXX, owned by postgres when we are root
DATA="$BASE/data"
SOCK="$BASE/sock"
PGLOGFILE="$BASE/server.log"
URL0="$(cat "$STATE/url")"
PORT="$(sed -n 's|.*@127\.0\.0\.1:\([0-9]*\)/.*|\1|p' <<<"$URL0")"
[ -n "$PORT" ] || fail "no port in the cluster URL"
export DATABASE_URL="${URL0%/*}/signalhub"
# Everything pgBackRest and the server read or write lives under $BASE (the cluster owner's directory).
PGBR="$BASE/pgbackrest"
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_owner mkdir -p "$PGBR/repo" "$PGBR/log" "$PGBR/lock" "$PGBR/spool" "$PGBR/run"
export PGBACKREST_CONFIG="$PGBR/pgbackrest.conf"
export PGBACKREST_LOCK_PATH="$PGBR/lock" PGBACKREST_SPOOL_PATH="$PGBR/spool"
export PGHOST="$SOCK" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres

# The guide's Debian paths -> this test's. Every block goes through it; each path must be replaced.
localize() {
    sed -e "s|/var/lib/postgresql/15/main|$DATA|g" -e "s|/var/lib/postgresql/15/pitr|$BASE/pitr|g" -e "s|/var/lib/pgbackrest|$PGBR/repo|g" \
        -e "s|/var/log/pgbackrest|$PGBR/log|g" -e "s|/var/run/postgresql|$SOCK|g" \
        -e "s|^pg1-port=5432$|pg1-port=$PORT|" -e "s|/var/log/postgresql/postgresql-15-main.log|$PGLOGFILE|g"
}
# run_guide NAME AS: runs the guide's block NAME with bash -euo pipefail in $WORK/run (as the cluster
# owner when AS is "owner"), output in $WORK/NAME.out / .err.
run_guide() {
    local name="$1" who="$2" script="$PGBR/run/${1// /-}.sh"
    guide_block "$GUIDE" "pitr: $name" | localize >"$WORK/$name.sh"
    [ -s "$WORK/$name.sh" ] || fail "guide block '$name' is empty"
    cp "$WORK/$name.sh" "$script" && chmod 0755 "$script"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$script"
    local rc=0
    if [ "$who" = owner ]; then
        (cd "$PGBR/run" && as_owner env PGBACKREST_CONFIG="$PGBACKREST_CONFIG" PGBACKREST_LOCK_PATH="$PGBACKREST_LOCK_PATH" \
            PGBACKREST_SPOOL_PATH="$PGBACKREST_SPOOL_PATH" PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres \
            PGDATABASE=postgres bash -euo pipefail "$script") >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    else
        (cd "$WORK/app" && PATH="$WORK/bin:$PATH" bash -euo pipefail "$script") >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    fi
    [ "$rc" -eq 0 ] || fail "the guide's block '$name' failed (exit $rc):
$(cat "$WORK/$name.sh")
stdout: $(tail -30 "$WORK/$name.out")
stderr: $(tail -30 "$WORK/$name.err")"
}
# (Re)start the server as the guide's Debian `pg_ctlcluster 15 main start` would: same port and
# socket, pgBackRest's configuration in its environment (archive_command runs pgbackrest).
pg_start() {
    as_owner env PGBACKREST_CONFIG="$PGBACKREST_CONFIG" PGBACKREST_LOCK_PATH="$PGBACKREST_LOCK_PATH" \
        PGBACKREST_SPOOL_PATH="$PGBACKREST_SPOOL_PATH" "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$PGLOGFILE" -w -t 120 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$SOCK" start >/dev/null ||
        fail "the cluster did not start: $(tail -30 "$PGLOGFILE")"
}
pg_stop() { as_owner "$PG_BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null || fail "pg_ctl stop failed"; }
psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
now_s() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }
counts() { # the collections and record counts in the database, "name=N" sorted
    "$SH" --config "$WORK/app/signal-hub.yaml" status --json >"$WORK/status.json" || fail "status failed"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join(sorted("%s=%d" % (c["name"], c["records"]) for c in d["collections"])))' "$WORK/status.json"
}

# --- pgBackRest and PostgreSQL configured from the guide ---------------------------------------------
pg_cluster_halt "$STATE"
guide_block "$GUIDE" "pitr: pgbackrest.conf" | localize >"$WORK/pgbackrest.conf"
for p in "$DATA" "$PGBR/repo" "$PGBR/log" "$SOCK" "pg1-port=$PORT"; do
    grep -qF "$p" "$WORK/pgbackrest.conf" || fail "the guide's pgbackrest.conf did not get '$p': $(cat "$WORK/pgbackrest.conf")"
done
install -m 0640 "$WORK/pgbackrest.conf" "$PGBACKREST_CONFIG"
[ "$(id -u)" -ne 0 ] || chown postgres: "$PGBACKREST_CONFIG"
guide_block "$GUIDE" "pitr: postgresql.conf" >"$WORK/postgresql.conf.add"
grep -q "^archive_command = 'pgbackrest --stanza=signal-hub archive-push %p'" "$WORK/postgresql.conf.add" ||
    fail "the guide's postgresql.conf has no archive_command"
cat "$WORK/postgresql.conf.add" >>"$DATA/postgresql.conf"
pg_start
[ "$(psql_q postgres 'SHOW archive_mode')" = on ] || fail "archive_mode is not on"
psql_q postgres "CREATE DATABASE signalhub" >/dev/null
mkdir -p "$WORK/app" "$WORK/bin" && ln -s "$SH" "$WORK/bin/signal-hub"
printf 'database:\n  type: postgresql\n  url: ${DATABASE_URL}\n' >"$WORK/app/signal-hub.yaml"
pass "cluster on 127.0.0.1:$PORT with the guide's postgresql.conf (archive_mode on) and pgbackrest.conf"

# --- data before the backup: corpus (make_tree + json) and email, through migrate import ---------------
SRC=/usr/lib/python3.11
[ -d "$SRC/email" ] && [ -d "$SRC/json" ] && [ -d "$SRC/http" ] || fail "the Python 3.11 standard library is required"
make_tree "$WORK/t/corpus"
cp -r "$SRC/json" "$WORK/t/corpus/"
cp -r "$SRC/email" "$WORK/t/email"
cp -r "$SRC/json" "$WORK/t/json"
cp -r "$SRC/http" "$WORK/t/http"
mkdir -p "$WORK/t/late" && cp "$SRC/wsgiref/"*.py "$WORK/t/late/"
find "$WORK/t" -name __pycache__ -prune -exec rm -rf {} +
for c in corpus email json; do
    run_expect 0 "$SH" --store "$WORK/emb" index "$WORK/t/$c" --collection "$c" --allow-overlap
    run_expect 0 "$SH" migrate export --source embedded --store "$WORK/emb" --collection "$c" --output "$WORK/$c.jsonl"
done
run_expect 0 "$SH" migrate init-db --database "$DATABASE_URL"
run_expect 0 "$SH" migrate import --input "$WORK/corpus.jsonl" --database "$DATABASE_URL"
run_expect 0 "$SH" migrate import --input "$WORK/email.jsonl" --database "$DATABASE_URL"
BEFORE_BACKUP="$(counts)"
CORPUS_N="$(sed -n 's/.*corpus=\([0-9]*\).*/\1/p' <<<"$BEFORE_BACKUP")"
[ "${CORPUS_N:-0}" -gt 0 ] || fail "corpus holds no records: $BEFORE_BACKUP"
pass "before the backup: $BEFORE_BACKUP"

# --- the guide's backup block ----------------------------------------------------------------------------
DB_BYTES="$(psql_q postgres "SELECT pg_database_size('signalhub')")"
t0="$(now_s)"
run_guide backup owner
t1="$(now_s)"
assert_contains "$(cat "$WORK/backup.out")" "status: ok" "pgbackrest info after the backup"
assert_contains "$(cat "$WORK/backup.out")" "full backup:" "pgbackrest info lists the full backup"
REPO_BYTES="$(du -sb "$PGBR/repo" | cut -f1)"
as_owner env PGBACKREST_CONFIG="$PGBACKREST_CONFIG" PGBACKREST_LOCK_PATH="$PGBACKREST_LOCK_PATH" \
    pgbackrest --stanza=signal-hub info --output=json >"$WORK/info.json" || fail "pgbackrest info --output=json"
python3 - "$WORK/info.json" <<'PY' || fail "no full backup in pgbackrest info: $(cat "$WORK/info.json")"
import json, sys
b = [x for x in json.load(open(sys.argv[1]))[0]["backup"] if x["type"] == "full"][-1]
t, i = b["timestamp"], b["info"]
print(f"figure: full backup (pgbackrest's own start/stop): {t['stop'] - t['start']} s, cluster {i['size']} bytes, "
      f"in the repository {i['repository']['delta']} bytes (zst)")
PY
echo "figure: database size at the backup: $DB_BYTES bytes ($(psql_q postgres "SELECT pg_size_pretty(pg_database_size('signalhub'))"))"
echo "figure: guide backup block (stanza-create, check, full backup, info): $(secs "$t0" "$t1") s"
echo "figure: repository after the full backup: $REPO_BYTES bytes"
pass "the guide's backup block ran: stanza created, archive checked, full backup taken"

# --- after the backup, before the accident: these must survive ----------------------------------------
run_expect 0 "$SH" migrate import --input "$WORK/json.jsonl" --database "$DATABASE_URL"
run_expect 0 "$SH" --config "$WORK/app/signal-hub.yaml" index "$WORK/t/http" --collection http
NOTED="$(psql_q postgres "SELECT now()")"   # what an operator would write down as "last good"
GOOD="$(counts)"
assert_contains "$GOOD" "json=" "json imported"
assert_contains "$GOOD" "http=" "http indexed"
sleep 1.2                                   # a commit timestamp separates the good state from the drop
pass "written after the backup (must survive): $GOOD (noted $NOTED)"

# --- the accident, and a write after it (must not survive) --------------------------------------------
run_expect 0 "$SH" migrate drop --database "$DATABASE_URL" --collection corpus --yes
assert_contains "$OUT$ERR" "dropped collection corpus ($CORPUS_N records)" "migrate drop"
sleep 1.2
run_expect 0 "$SH" --config "$WORK/app/signal-hub.yaml" index "$WORK/t/late" --collection late
AFTER="$(counts)"
case " $AFTER " in *" corpus="*) fail "corpus still there after the drop: $AFTER" ;; esac
assert_contains "$AFTER" "late=" "late indexed"
pass "corpus dropped; written after the drop: $AFTER"

# --- the guide: archive the WAL, find the point, stop, restore, start ----------------------------------
run_guide archive owner
run_guide target owner
TARGET="$(cat "$PGBR/run/pitr-target.txt")"
[[ "$TARGET" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\+00$ ]] ||
    fail "the guide's target is not a timestamp: '$TARGET' ($(cat "$WORK/target.out"))"
# The logged drop lies after the noted good state.
[ "$(psql_q postgres "SELECT timestamptz '$TARGET' > timestamptz '$NOTED'")" = t ] ||
    fail "the DROP TABLE line ($TARGET) is not after the last good write ($NOTED)"
pass "recovery point from the server log: $TARGET"

# --- side by side: recover into a second cluster, copy corpus back into the live one -------------------
PITR_DATA="$BASE/pitr"
as_owner install -d -m 0700 "$PITR_DATA"
t0="$(now_s)"
run_guide "side-by-side restore" owner
t1="$(now_s)"
echo "figure: side-by-side pgbackrest restore into an empty directory: $(secs "$t0" "$t1") s"
grep -q "archive_mode = 'off'" "$PITR_DATA/postgresql.auto.conf" || fail "--archive-mode=off not in the scratch cluster"
PORT2=$((PORT == 65000 ? PORT - 1 : PORT + 1))
as_owner env PGBACKREST_CONFIG="$PGBACKREST_CONFIG" PGBACKREST_LOCK_PATH="$PGBACKREST_LOCK_PATH" \
    "$PG_BINDIR/pg_ctl" -D "$PITR_DATA" -l "$BASE/pitr.log" -w -t 120 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT2 -c unix_socket_directories=$SOCK" start >/dev/null ||
    fail "the scratch cluster did not start: $(tail -30 "$BASE/pitr.log")"
pitr_stop() { as_owner "$PG_BINDIR/pg_ctl" -D "$PITR_DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || true; }
for _ in $(seq 1 600); do
    [ "$(PGPORT=$PORT2 psql_q postgres 'SELECT pg_is_in_recovery()' 2>/dev/null || true)" = f ] && break
    sleep 0.1
done
[ "$(PGPORT=$PORT2 psql_q postgres 'SELECT pg_is_in_recovery()')" = f ] || fail "scratch cluster not promoted: $(tail -20 "$BASE/pitr.log")"
export PITR_URL="${DATABASE_URL/:$PORT\//:$PORT2/}"
[ "$PITR_URL" != "$DATABASE_URL" ] || fail "no scratch URL"
run_guide "side-by-side copy" app
pitr_stop
SIDE="$(counts)"
assert_contains " $SIDE " " corpus=$CORPUS_N " "corpus copied back from the scratch cluster"
assert_contains " $SIDE " " late=" "the write after the drop stays in the live database"
grep -q '^  missing:   0' "$WORK/side-by-side copy.out" && grep -q '^  different: 0' "$WORK/side-by-side copy.out" ||
    fail "verify after the copy: $(cat "$WORK/side-by-side copy.out")"
pass "side by side: corpus ($CORPUS_N records) copied back from a scratch cluster recovered to $TARGET; live keeps late: $SIDE"

# --- in place: rewind the whole cluster to the point ---------------------------------------------------
pg_stop
t0="$(now_s)"
run_guide restore owner
t1="$(now_s)"
echo "figure: pgbackrest restore --delta --type=time: $(secs "$t0" "$t1") s"
grep -q "recovery_target_time = '$TARGET'" "$DATA/postgresql.auto.conf" ||
    fail "restore wrote no recovery_target_time: $(cat "$DATA/postgresql.auto.conf")"
t0="$(now_s)"
pg_start
for _ in $(seq 1 600); do
    [ "$(psql_q postgres 'SELECT pg_is_in_recovery()' 2>/dev/null || true)" = f ] && break
    sleep 0.1
done
[ "$(psql_q postgres 'SELECT pg_is_in_recovery()')" = f ] || fail "not promoted after 60 s: $(tail -20 "$PGLOGFILE")"
t1="$(now_s)"
echo "figure: start to promoted (WAL replay to the target): $(secs "$t0" "$t1") s"
grep -q "recovery stopping before commit of transaction" "$PGLOGFILE" ||
    fail "the server log has no 'recovery stopping before commit': $(tail -20 "$PGLOGFILE")"
pass "restored to $TARGET and promoted"

# --- what came back ---------------------------------------------------------------------------------------
RESTORED="$(counts)"
[ "$RESTORED" = "$GOOD" ] || fail "after the recovery: '$RESTORED', expected the state before the drop: '$GOOD'"
assert_contains " $RESTORED " " corpus=$CORPUS_N " "corpus back with its record count"
case " $RESTORED " in *" late="*) fail "a collection written after the drop survived the recovery: $RESTORED" ;; esac
pass "corpus is back with $CORPUS_N records; everything before the point is there, nothing after: $RESTORED"

run_guide verify app
V="$(cat "$WORK/verify.out")"
assert_contains "$V" "corpus" "verify names corpus"
grep -q "imports recorded in it" <<<"$V$(cat "$WORK/verify.err")" || fail "verify did not compare with the recorded imports: $V"
missing="$(grep -c '^  missing:   0' <<<"$V" || true)"
different="$(grep -c '^  different: 0' <<<"$V" || true)"
[ "$missing" = 3 ] && [ "$different" = 3 ] || fail "migrate verify after the recovery: $V"
assert_contains "$V" "src/net/url.py" "the guide's search finds the record in corpus"
pass "the guide's verify block: migrate verify 0 missing / 0 different in corpus, email, json; status; a search answers"

# The recovered cluster takes writes (promoted, on a new timeline) and keeps archiving.
run_expect 0 "$SH" --config "$WORK/app/signal-hub.yaml" index "$WORK/t/late" --collection late
as_owner env PGBACKREST_CONFIG="$PGBACKREST_CONFIG" PGBACKREST_LOCK_PATH="$PGBACKREST_LOCK_PATH" \
    pgbackrest --stanza=signal-hub check >"$WORK/check2.out" 2>&1 || fail "pgbackrest check after the recovery: $(cat "$WORK/check2.out")"
pass "the recovered cluster accepts writes and archives WAL"
