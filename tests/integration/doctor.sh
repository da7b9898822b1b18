#!/usr/bin/env bash
# `signal-hub doctor` against real servers (PostgreSQL and Redis of the CTest fixtures): a healthy
# configuration passes (exit 0), then each injected problem is found by name with its fix and its
# troubleshooting anchor: a stopped database (a closed loopback port), a database without the vector
# extension, an old pgvector (0.7.4 in the catalog of a scratch database), Redis unreachable, an expired
# certificate (made with `openssl ca -startdate/-enddate`), a certificate with the wrong key, a stale
# HNSW graph (its file deleted, then truncated; `signal-hub index` repairs it), a full disk (a small
# tmpfs; needs root), a configuration that does not load (exit 2). --bundle: no secret of the
# configuration, the key store or the environment is anywhere in the bundle's bytes.
source "$(dirname "$0")/lib.sh"
source "$TESTS_DIR/pg_lib.sh"
command -v openssl >/dev/null || fail "openssl is required"
[ -n "${SIGNAL_HUB_TEST_REDIS_URL_FILE:-}" ] && [ -s "$SIGNAL_HUB_TEST_REDIS_URL_FILE" ] ||
    fail "no Redis: run through ctest (fixture redis)"
REDIS_URL="$(head -n1 "$SIGNAL_HUB_TEST_REDIS_URL_FILE")"
SMALL="$WORK/small"
trap 'rc=$?; mountpoint -q "$SMALL" 2>/dev/null && umount "$SMALL"; jobs -p | xargs -r kill -9 2>/dev/null;
      drop_databases sh_doctor sh_doctor_noext sh_doctor_oldvec; rm -rf "$WORK"; exit $rc' EXIT
DB_URL="$(new_database sh_doctor)"
GUIDE=docs/production/operations/troubleshooting.md
# Every run's output goes to a transcript: the messages the troubleshooting guide quotes are checked
# against it at the end.
eval "orig_$(declare -f run_expect)"
run_expect() { orig_run_expect "$@"; printf '%s\n%s\n' "$OUT" "$ERR" >> "$WORK/transcript.txt"; }

# A loopback port nothing listens on.
CLOSED_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"

# PKI: a CA, a server certificate valid for 90 days, one that expired in 2020, a stranger's key.
PKI="$WORK/pki"; mkdir -p "$PKI/db"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" \
    -days 3650 -subj "/CN=Doctor Test CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/server.key" -out "$PKI/server.csr" \
    -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 90 \
    -out "$PKI/server.crt" 2>/dev/null
: > "$PKI/db/index.txt"; echo 01 > "$PKI/db/serial"
cat > "$PKI/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
database = $PKI/db/index.txt
new_certs_dir = $PKI/db
serial = $PKI/db/serial
default_md = sha256
policy = any
[any]
commonName = supplied
EOF
openssl ca -batch -config "$PKI/ca.cnf" -cert "$PKI/ca.crt" -keyfile "$PKI/ca.key" -in "$PKI/server.csr" \
    -out "$PKI/expired.crt" -startdate 20200101000000Z -enddate 20200102000000Z -notext 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/other.key" 2>/dev/null
chmod 600 "$PKI"/*.key

# The tree, indexed into an embedded store and into PostgreSQL.
make_tree "$WORK/tree"
git -C "$WORK/tree" init -q && git -C "$WORK/tree" -c user.email=t@t -c user.name=t add -A &&
    git -C "$WORK/tree" -c user.email=t@t -c user.name=t commit -qm init
STORE="$WORK/store"
run_expect 0 "$SH" --store "$STORE" index "$WORK/tree"
run_expect 0 "$SH" --store "$DB_URL" index "$WORK/tree"

export SIGNAL_HUB_API_KEY_PEPPER="env-pepper-$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_')"
export OPENAI_API_KEY="sk-doctor-$(head -c 24 /dev/urandom | base64 -w0 | tr '+/' '-_')"
export DOCTOR_DB_URL="$DB_URL" DOCTOR_REDIS_URL="$REDIS_URL"

# write FILE STORE_KIND [CERT] [KEY]: a configuration; STORE_KIND embedded or postgresql.
write() {
    local store_lines
    if [ "$2" = postgresql ]; then
        store_lines="database:
  type: postgresql
  url: \${DOCTOR_DB_URL}"
    else
        store_lines="store:
  path: $STORE"
    fi
    cat > "$1" <<YAML
$store_lines
security:
  tls:
    enabled: true
    cert_file: ${3:-$PKI/server.crt}
    key_file: ${4:-$PKI/server.key}
    client_ca_file: $PKI/ca.crt
  api_keys:
    storage: file
    file: $WORK/api-keys.json
  rate_limiting:
    backend: redis
    redis_url: \${DOCTOR_REDIS_URL}
monitoring:
  logging:
    output: $WORK/hub.log
YAML
}

# finding OUTPUT NAME STATUS: the line of finding NAME has STATUS (OK, WARN, FAIL).
finding() {
    echo "$1" | grep -Eq "^  $3 +$2 " || fail "expected $3 $2 in:
$1"
}
# fix_for OUTPUT NAME ANCHOR: the finding's fix and troubleshooting anchor follow its line.
fix_for() {
    echo "$1" | grep -A2 -E "^  (WARN|FAIL) +$2 " | grep -q "see: $GUIDE#$3" ||
        fail "expected 'see: $GUIDE#$3' under $2 in:
$1"
    echo "$1" | grep -A1 -E "^  (WARN|FAIL) +$2 " | grep -q "fix: ." || fail "no fix under $2 in:
$1"
}

# ---- healthy: embedded and PostgreSQL -------------------------------------------------------
write "$WORK/embedded.yaml" embedded
run_expect 0 "$SH" --config "$WORK/embedded.yaml" doctor
for name in config store schema index:tree files:tree freshness:tree tls_key tls_expiry tls_chain \
            redis:rate_limiting; do
    finding "$OUT" "$name" OK
done
# disk:store reports the real filesystem of $WORK: OK unless this machine itself is short of space
# (doctor's thresholds: 15 % and 1 GiB), then WARN. The full-disk case below tests the finding itself.
disk_expect="$(python3 -c 'import os, sys; s = os.statvfs(sys.argv[1]); a = s.f_bavail * s.f_frsize
print("OK" if a / (s.f_blocks * s.f_frsize) >= 0.15 and a >= 1 << 30 else "WARN")' "$WORK")"
finding "$OUT" disk:store "$disk_expect"
assert_contains "$OUT" "0 failed" "healthy embedded"
assert_contains "$OUT" "git HEAD" "freshness names the git HEAD"
pass "healthy embedded configuration: exit 0, every check OK (disk:store $disk_expect: this machine's own free space)"

write "$WORK/pg.yaml" postgresql
run_expect 0 "$SH" --config "$WORK/pg.yaml" doctor --json
python3 - "$OUT" <<'PY' || fail "healthy PostgreSQL JSON: $OUT"
import json, sys
d = json.loads(sys.argv[1])
by = {f["name"]: f for f in d["findings"]}
for n in ("store", "pgvector", "schema", "clock_skew", "files:tree", "freshness:tree", "redis:rate_limiting"):
    assert by[n]["status"] == "ok", (n, by[n])
assert d["fail"] == 0, d
PY
pass "healthy PostgreSQL configuration: store, pgvector, schema, clock skew OK (JSON)"

# ---- freshness: a changed file ----------------------------------------------------------------
echo "# changed" >> "$WORK/tree/docs/guide.md"
run_expect 0 "$SH" --config "$WORK/embedded.yaml" doctor
finding "$OUT" freshness:tree WARN
assert_contains "$OUT" "1 files changed since the last index run (0 new, 1 modified, 0 deleted)" "freshness"
fix_for "$OUT" freshness:tree index-out-of-date
run_expect 0 "$SH" --store "$STORE" index "$WORK/tree"
pass "a file changed since the last index run: WARN freshness with the fix"

# ---- stopped database -------------------------------------------------------------------------
DOCTOR_DB_URL="postgresql://hub:pw@127.0.0.1:$CLOSED_PORT/hub" run_expect 1 "$SH" --config "$WORK/pg.yaml" doctor
finding "$OUT" store FAIL
assert_contains "$OUT" "127.0.0.1:$CLOSED_PORT" "the store finding names the server"
assert_contains "$OUT" "fix: start PostgreSQL or correct database.url" "stopped database fix"
fix_for "$OUT" store store-unreachable
pass "stopped database: FAIL store, exit 1, fix named"

# ---- pgvector not enabled; pgvector too old ------------------------------------------------------
# A scratch database made from template0: no `vector` extension in it (and no store: store_open FAILs, exit 1).
NOEXT_URL="$(new_database sh_doctor_noext)"
DOCTOR_DB_URL="$NOEXT_URL" run_expect 1 "$SH" --config "$WORK/pg.yaml" doctor
finding "$OUT" pgvector WARN
assert_contains "$OUT" "the pgvector extension is not enabled in sh_doctor_noext" "pgvector not enabled"
assert_contains "$OUT" 'fix: a superuser runs `CREATE EXTENSION vector;` in that database' "pgvector not enabled fix"
fix_for "$OUT" pgvector pgvector-too-old
# An older pgvector: the package ships an install script for its own version only (older ones are
# upgrade scripts), so CREATE EXTENSION ... VERSION '0.7.4' is refused; the test says so, then puts the
# old version into the scratch database's catalog (pg_extension.extversion, what doctor and the store
# read; the installed files are not touched).
OLD_URL="$(new_database sh_doctor_oldvec)"
if sql "$OLD_URL" "CREATE EXTENSION vector VERSION '0.7.4'" 2>"$WORK/oldvec.err"; then
    fail "CREATE EXTENSION vector VERSION '0.7.4' succeeded: use that instead of the catalog edit"
fi
assert_contains "$(cat "$WORK/oldvec.err")" "0.7.4" "CREATE EXTENSION of an old version"
sql "$OLD_URL" "CREATE EXTENSION vector; UPDATE pg_extension SET extversion = '0.7.4' WHERE extname = 'vector'" >/dev/null
DOCTOR_DB_URL="$OLD_URL" run_expect 1 "$SH" --config "$WORK/pg.yaml" doctor
finding "$OUT" pgvector FAIL
assert_contains "$OUT" "pgvector 0.7.4 is older than 0.8, the oldest signal-hub supports" "old pgvector"
assert_contains "$OUT" 'fix: install pgvector 0.8 or newer on the server, then run `ALTER EXTENSION vector UPDATE;`' "old pgvector fix"
fix_for "$OUT" pgvector pgvector-too-old
pass "pgvector not enabled: WARN pgvector with CREATE EXTENSION; pgvector 0.7.4 (refused: $(grep -m1 ERROR "$WORK/oldvec.err"); set in the catalog of a scratch database): FAIL with the upgrade"

# ---- Redis unreachable ------------------------------------------------------------------------
DOCTOR_REDIS_URL="redis://127.0.0.1:$CLOSED_PORT/0" run_expect 1 "$SH" --config "$WORK/embedded.yaml" doctor
finding "$OUT" redis:rate_limiting FAIL
assert_contains "$OUT" "cannot connect: Connection refused" "the Redis finding carries the client's message"
fix_for "$OUT" redis:rate_limiting redis-unreachable
pass "Redis unreachable: FAIL redis:rate_limiting"

# ---- expired certificate, wrong key -----------------------------------------------------------
write "$WORK/expired.yaml" embedded "$PKI/expired.crt"
run_expect 1 "$SH" --config "$WORK/expired.yaml" doctor
finding "$OUT" tls_expiry FAIL
assert_contains "$OUT" "$PKI/expired.crt has expired" "expired certificate"
fix_for "$OUT" tls_expiry certificate-expired
finding "$OUT" tls_chain OK
write "$WORK/wrongkey.yaml" embedded "$PKI/server.crt" "$PKI/other.key"
run_expect 1 "$SH" --config "$WORK/wrongkey.yaml" doctor
finding "$OUT" tls_key FAIL
assert_contains "$OUT" "$PKI/other.key is not the private key of $PKI/server.crt" "wrong key"
fix_for "$OUT" tls_key certificate-key-mismatch
pass "expired certificate and wrong key: FAIL tls_expiry / tls_key"

# ---- stale HNSW graph -------------------------------------------------------------------------
GRAPH="$(ls "$STORE"/hnsw/*.bin)"
rm -f "$GRAPH"
run_expect 0 "$SH" --config "$WORK/embedded.yaml" doctor
finding "$OUT" index:tree WARN
assert_contains "$OUT" "is missing; every open rebuilds it" "missing graph"
fix_for "$OUT" index:tree stale-hnsw-graph
run_expect 0 "$SH" --store "$STORE" index "$WORK/tree"
[ -s "$GRAPH" ] || fail "signal-hub index did not write the graph again"
truncate -s 100 "$GRAPH"
run_expect 0 "$SH" --config "$WORK/embedded.yaml" doctor
finding "$OUT" index:tree WARN
assert_contains "$OUT" "is stale or damaged" "truncated graph"
run_expect 0 "$SH" --store "$STORE" index "$WORK/tree"
run_expect 0 "$SH" --config "$WORK/embedded.yaml" doctor
finding "$OUT" index:tree OK
pass "missing and truncated HNSW graph: WARN index:tree; the fix (signal-hub index) repairs it"

# ---- full disk (a 64 MiB tmpfs, filled) -------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$SMALL"
    mount -t tmpfs -o size=64m tmpfs "$SMALL"
    cp -a "$STORE" "$SMALL/store"
    sed "s|path: $STORE|path: $SMALL/store|" "$WORK/embedded.yaml" > "$WORK/small.yaml"
    dd if=/dev/zero of="$SMALL/fill" bs=1M count=64 2>/dev/null || true
    run_expect 1 "$SH" --config "$WORK/small.yaml" doctor
    finding "$OUT" disk:store FAIL
    assert_contains "$OUT" "on the filesystem of $SMALL/store" "disk finding names the path"
    fix_for "$OUT" disk:store disk-full
    umount "$SMALL"
    pass "full disk: FAIL disk:store"
else
    fail "the full-disk case needs root (mount -t tmpfs)"
fi

# ---- configuration that does not load ---------------------------------------------------------
printf 'database:\n  type: mysql\n' > "$WORK/bad.yaml"
run_expect 2 "$SH" --config "$WORK/bad.yaml" doctor
finding "$OUT" config FAIL
fix_for "$OUT" config config-does-not-load
assert_contains "$OUT" "database.type: must be one of embedded, postgresql, chromadb, got 'mysql'" "config error verbatim"
pass "bad configuration: FAIL config with the message verbatim, exit 2"

# ---- support bundle: no secret anywhere -------------------------------------------------------
KEY="$("$SH" --config "$WORK/pg.yaml" keys create --name doctor-test 2>/dev/null | grep -Eo 'shk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}' | head -n1)"
[ -n "$KEY" ] || fail "keys create printed no key"
[ -s "$WORK/api-keys.json" ] || fail "no key file"
# A log file with some lines (the bundle carries its tail).
printf 'INFO doctor test line one\nINFO doctor test line two\n' >> "$WORK/hub.log"
run_expect 0 "$SH" --config "$WORK/pg.yaml" doctor --bundle "$WORK/bundle.json"
assert_contains "$ERR" "support bundle written to $WORK/bundle.json" "bundle message"
BYTES="$(cat "$WORK/bundle.json")"
DB_PASSWORD="$(python3 -c 'import sys, urllib.parse as u; print(u.urlparse(sys.argv[1]).password)' "$DB_URL")"
REDIS_PASSWORD="$(python3 -c 'import sys, urllib.parse as u; print(u.urlparse(sys.argv[1]).password)' "$REDIS_URL")"
KEY_SECRET="$(key_secret "$KEY")"
[ ${#DB_PASSWORD} -ge 8 ] && [ ${#REDIS_PASSWORD} -ge 8 ] || fail "the fixtures' passwords are too short to search for"
for secret in "$DB_PASSWORD" "$REDIS_PASSWORD" "$SIGNAL_HUB_API_KEY_PEPPER" "$OPENAI_API_KEY" "$KEY" "$KEY_SECRET"; do
    case "$BYTES" in *"$secret"*) fail "secret ${secret:0:4}... found in the bundle" ;; esac
done
# Every value of the key store file (ids, hashes, names) is absent too.
python3 - "$WORK/api-keys.json" "$WORK/bundle.json" <<'PY' || fail "key store content in the bundle"
import json, sys
keys = json.load(open(sys.argv[1]))
bundle = open(sys.argv[2], encoding="utf-8").read()
def strings(v):
    if isinstance(v, dict):
        for x in v.values(): yield from strings(x)
    elif isinstance(v, list):
        for x in v: yield from strings(x)
    elif isinstance(v, str) and len(v) >= 16:
        yield v
found = [s for s in strings(keys) if s in bundle]
assert not found, found
d = json.loads(bundle)
assert d["versions"]["signal_hub"].startswith("signal-hub "), d["versions"]
assert any("doctor test line two" in l for l in d["log"]["lines"]), d["log"]
assert d["doctor"]["fail"] == 0 and len(d["doctor"]["findings"]) > 5, d["doctor"]
assert "${DOCTOR_DB_URL}" in d["config"]["text"], d["config"]["text"]
assert ":***@" in d["config"]["effective"]["database"]["url"], d["config"]["effective"]
PY
[ "$(stat -c %a "$WORK/bundle.json")" = 600 ] || fail "the bundle is not mode 600"
pass "support bundle: versions, redacted config, findings, log lines; no secret in its bytes"

# ---- every message the troubleshooting guide quotes is one these runs produced -----------------
python3 - "$TESTS_DIR/../../$GUIDE" "$WORK/transcript.txt" <<'PY' || fail "a message quoted in $GUIDE was not produced"
import re, sys
guide = open(sys.argv[1], encoding="utf-8").read()
transcript = open(sys.argv[2], encoding="utf-8").read()
messages = re.findall(r"^\*\*Message:\*\* `([^`]+)`", guide, re.M)
assert len(messages) >= 8, messages
missing = []
for m in messages:
    # "…" stands for a varying part: the fixed parts must appear in order on one line.
    pattern = ".*".join(re.escape(part) for part in m.split("…"))
    if not re.search(pattern, transcript):
        missing.append(m)
assert not missing, missing
print(f"{len(messages)} quoted messages found in the transcript")
PY
pass "the troubleshooting guide's quoted messages are ones doctor printed here"
