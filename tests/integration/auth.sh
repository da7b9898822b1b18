#!/usr/bin/env bash
# API keys end to end (security.api_keys, storage: file): `signal-hub keys create|list|revoke|rotate`
# against the key file a running `serve --transport http` uses, and the auth matrix over HTTPS
# (security.tls with a throw-away CA): no key, malformed, unknown, wrong secret, revoked, expired -> 401; a key without the
# tool's scope or the collection -> 403; valid -> 200. Also: a collection allow-list enforced
# inside the search layer (no tool returns another collection's code), sessions bound to their
# key, /health and /ready open, keys created and revoked while the server runs take effect without
# a restart, rotation grace, and an audit log with every refusal and no secret in it.
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || fail "curl is required (scripts/test.sh installs it)"

# Two collections in one store: "repo" (make_tree) and "other" (a file only it has).
make_tree "$WORK/repo"
mkdir -p "$WORK/other/pkg"
printf 'def secret_other_function():\n    return "only in other"\n' > "$WORK/other/pkg/mod.py"
STORE="$WORK/store"
run_expect 0 "$SH" -q --store "$STORE" index "$WORK/repo"
run_expect 0 "$SH" -q --store "$STORE" index "$WORK/other"

# A throw-away CA and a server certificate for 127.0.0.1.
PKI="$WORK/pki"
mkdir -p "$PKI"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" \
    -days 2 -subj "/CN=auth test CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/server.key" -out "$PKI/server.csr" \
    -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$PKI/server.ext"
openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial 7 -days 2 \
    -extfile "$PKI/server.ext" -out "$PKI/server.crt" 2>/dev/null
chmod 600 "$PKI/server.key"

export SIGNAL_HUB_API_KEY_PEPPER="$(head -c 48 /dev/urandom | base64 -w0)"
CONFIG="$WORK/signal-hub.yaml"
cat > "$CONFIG" <<YAML
security:
  tls:
    enabled: true
    cert_file: $PKI/server.crt
    key_file: $PKI/server.key
  api_keys:
    enabled: true
    storage: file
    file: $WORK/keys/api-keys.json
    rotation_grace: 3600
  audit_log: $WORK/audit.log
YAML
# $WORK/keys does not exist yet, like /var/lib/signal-hub on a fresh machine: the first key creates it.
keys() { "$SH" --config "$CONFIG" --store "$STORE" keys "$@"; }

# --- keys: bad input --------------------------------------------------------------------------------
run_expect 2 keys create --name x --scopes search,write
assert_contains "$(cat "$WORK/.err")" "write" "unknown scope named"
run_expect 2 keys create --name x --expires 3weeks
assert_contains "$(cat "$WORK/.err")" "--expires" "bad duration names the option"
(unset SIGNAL_HUB_API_KEY_PEPPER; run_expect 4 keys list)
assert_contains "$(cat "$WORK/.err")" "SIGNAL_HUB_API_KEY_PEPPER" "missing pepper names the variable"
pass "keys: unknown scope, bad duration and a missing pepper are refused with the cause named"

# --- keys create: the secret alone on the last line ----------------------------------------------------
new_key() { # NAME ARGS... -> prints the key (last stdout line)
    local name="$1"; shift
    keys create --name "$name" "$@" | tail -n 1
}
SEARCH_KEY="$(new_key reader --scopes search)"
[[ "$SEARCH_KEY" =~ ^shk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$ ]] || fail "keys create: last line is not a key: $SEARCH_KEY"
INDEX_KEY="$(new_key indexer --scopes index)"
OTHER_KEY="$(new_key other-only --scopes search --collections other)"
REVOKED_KEY="$(new_key leaver --scopes search)"
EXPIRING_KEY="$(new_key short --scopes search --expires 1s)"
mode="$(stat -c %a "$WORK/keys/api-keys.json")"
[ "$mode" = 600 ] || fail "key file mode is $mode, expected 600"
mode="$(stat -c %a "$WORK/keys")"
[ "$mode" = 700 ] || fail "the key file's directory, created by keys create, has mode $mode, expected 700"
for k in "$SEARCH_KEY" "$INDEX_KEY" "$OTHER_KEY"; do
    secret="$(key_secret "$k")"
    ! grep -qF -- "$secret" "$WORK/keys/api-keys.json" || fail "a secret is in the key file"
done
pass "keys create prints shk_<id>_<secret> alone on the last line; the 0600 file holds no secret"

list="$(keys list)"
assert_contains "$list" "reader" "list names the key"
assert_contains "$list" "other-only" "list names the restricted key"
secret="$(key_secret "$SEARCH_KEY")"
! grep -qF -- "$secret" <<<"$list" || fail "keys list printed a secret"
keys list --json > "$WORK/list.json"
[ "$(python3 -c "import json;d=json.load(open('$WORK/list.json'));print(len(d['keys']))")" = 5 ] || fail "list --json: $(cat "$WORK/list.json")"
pass "keys list shows 5 keys, never a secret"

# --collections must name collections the store holds (a typo would give a key that reads nothing).
run_expect 3 keys create --name typo --collections repo,nope
for want in "no collection 'nope'" "it has: other, repo" "--allow-missing-collections"; do
    assert_contains "$ERR" "$want" "an unknown collection"
done
! grep -q '"typo"' <<<"$(keys list --json)" || fail "a key was created for a missing collection"
run_expect 3 "$SH" --config "$CONFIG" --store "$WORK/no-store-here" keys create --name early --collections repo
assert_contains "$ERR" "cannot open the store to check that the collections exist" "no store"
LATER_KEY="$(new_key later --scopes search --collections not-indexed-yet --allow-missing-collections)"
[[ "$LATER_KEY" =~ ^shk_ ]] || fail "--allow-missing-collections: $LATER_KEY"
keys revoke later >/dev/null
pass "keys create --collections: an unknown collection is refused (exit 3) listing the store's; opt-out flag works"

# --- the server ------------------------------------------------------------------------------------
"$SH" --config "$CONFIG" --store "$STORE" serve --transport http --port 0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
PID=$!
wait_for_address "$PID" "$WORK/serve.err"
assert_contains "$(cat "$WORK/serve.err")" "API keys required" "serve says keys are required"
assert_contains "$(cat "$WORK/serve.err")" "https://127.0.0.1:$PORT/mcp" "serve listens on https"

# post KEYHEADER BODY [SESSION]: POST /mcp; sets CODE, BODY, HDRS.
post() {
    local auth="$1" body="$2" sid="${3:-}"
    HDRS="$WORK/.headers"
    BODY="$(curl -s -m 30 --cacert "$PKI/ca.crt" -D "$HDRS" -o - -w '\n%{http_code}' -X POST "https://127.0.0.1:$PORT/mcp" \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        ${auth:+-H "$auth"} ${sid:+-H "Mcp-Session-Id: $sid"} --data-binary "$body" || true)"
    CODE="${BODY##*$'\n'}"; BODY="${BODY%$'\n'*}"
}
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"it","version":"0"}}}'
# open_session AUTHHEADER: prints the session id.
open_session() {
    post "$1" "$INIT"
    [ "$CODE" = 200 ] || fail "initialize with $1: HTTP $CODE $BODY"
    local sid; sid="$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *\([0-9a-f]*\).*/\1/p' "$HDRS" | tr -d '\r')"
    post "$1" '{"jsonrpc":"2.0","method":"notifications/initialized"}' "$sid"
    echo "$sid"
}
call() { # TOOL ARGS-JSON -> a tools/call message
    printf '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"%s","arguments":%s}}' "$1" "$2"
}
SEARCH_CALL="$(call search_code '{"query":"split url"}')"
expect() { # CODE WHAT
    [ "$CODE" = "$1" ] || fail "$2: expected HTTP $1, got $CODE $BODY"
}

# The matrix.
post "" "$SEARCH_CALL"; expect 401 "no key"
grep -qi '^WWW-Authenticate: Bearer realm="signal-hub"' "$HDRS" || fail "401 without WWW-Authenticate: $(cat "$HDRS")"
post "Authorization: Bearer not-a-key" "$SEARCH_CALL"; expect 401 "malformed key"
post "Authorization: Basic dXNlcjpwYXNz" "$SEARCH_CALL"; expect 401 "Basic instead of Bearer"
post "X-API-Key: shk_0123456789abcdef_$(printf 'A%.0s' $(seq 43))" "$SEARCH_CALL"; expect 401 "unknown key"
UNKNOWN_BODY="$BODY"; grep -iv '^x-request-id:\|^date:' "$HDRS" >"$WORK/unknown.headers"
# (the id is "shk_" and 16 hex digits; the secret may itself hold '_')
post "X-API-Key: ${SEARCH_KEY:0:20}_$(printf 'B%.0s' $(seq 42))A" "$SEARCH_CALL"; expect 401 "wrong secret"
# Without the secret nobody learns whether a key id exists: the same body and headers (but the request id).
[ "$BODY" = "$UNKNOWN_BODY" ] || fail "unknown key and wrong secret differ: '$UNKNOWN_BODY' vs '$BODY'"
grep -iv '^x-request-id:\|^date:' "$HDRS" | diff "$WORK/unknown.headers" - || fail "the 401 headers differ"
! grep -q "$(cut -c5-20 <<<"$SEARCH_KEY")\|0123456789abcdef" <<<"$BODY" || fail "the 401 names the key id: $BODY"
keys revoke leaver >/dev/null
# Revoking it again by name: "already revoked" (exit 4), not "no such key".
run_expect 4 keys revoke leaver
assert_contains "$ERR" "was already revoked at" "a second revoke by name"
run_expect 3 keys revoke nobody-has-this-name
assert_contains "$ERR" "no API key with id or name 'nobody-has-this-name'" "an unknown name"
post "X-API-Key: $REVOKED_KEY" "$SEARCH_CALL"; expect 401 "revoked key"
assert_contains "$BODY" "revoked" "the 401 for a revoked key says so"
sleep 2
post "X-API-Key: $EXPIRING_KEY" "$SEARCH_CALL"; expect 401 "expired key"
assert_contains "$BODY" "expired" "the 401 for an expired key says so"
post "Authorization: Bearer $INDEX_KEY" "$SEARCH_CALL"; expect 403 "key without the search scope"
assert_contains "$BODY" "'search' scope" "the 403 names the scope"
post "Authorization: Bearer $OTHER_KEY" "$(call search_code '{"query":"split url","collection":"repo"}')"
expect 403 "key without the collection"
assert_contains "$BODY" "collection 'repo'" "the 403 names the collection"
SID="$(open_session "Authorization: Bearer $SEARCH_KEY")"
post "Authorization: Bearer $SEARCH_KEY" "$SEARCH_CALL" "$SID"; expect 200 "valid key (Bearer)"
assert_contains "$BODY" "url.py" "a valid key gets results"
post "X-API-Key: $SEARCH_KEY" "$SEARCH_CALL" "$SID"; expect 200 "valid key (X-API-Key)"
post "Authorization: Bearer $SEARCH_KEY" "$SEARCH_CALL" "$SID" ; expect 200 "valid key again"
grep -qi '^Strict-Transport-Security: max-age=' "$HDRS" || fail "no HSTS header over HTTPS: $(cat "$HDRS")"
pass "auth matrix over HTTPS: none/malformed/Basic/unknown/wrong secret/revoked/expired 401, scope/collection 403, valid 200"

# Sessions belong to their key.
post "Authorization: Bearer $OTHER_KEY" "$SEARCH_CALL" "$SID"; expect 404 "another key's session"
pass "a session opened with one key is unknown (404) to another"

# The allow-list inside the search layer: without a collection argument, only "other" is searched.
OSID="$(open_session "Authorization: Bearer $OTHER_KEY")"
post "Authorization: Bearer $OTHER_KEY" "$(call search_code '{"query":"split url secret other function"}')" "$OSID"
expect 200 "restricted key, no collection named"
assert_contains "$BODY" "mod.py" "the restricted key finds its collection's code"
! grep -q "url.py" <<<"$BODY" || fail "the restricted key got code from collection repo: $BODY"
for tool_args in 'index_status {}' 'find_references {"symbol":"split_url"}' \
                 'explain_code {"file_path":"src/net/url.py","function_name":"split_url"}' \
                 'get_context {"task":"split a url"}' 'find_similar {"code":"def split_url(url):"}'; do
    post "Authorization: Bearer $OTHER_KEY" "$(call ${tool_args%% *} "${tool_args#* }")" "$OSID"
    expect 200 "${tool_args%% *} with the restricted key"
    # The tool may echo the path it was asked for; it must not show repo's code or name the collection.
    ! grep -q '"repo"\|partition(\|UrlBuilder' <<<"$BODY" || fail "${tool_args%% *} leaked collection repo: $BODY"
done
pass "with --collections other, no tool (search, status, references, explain, context, similar) shows collection repo"

# /health and /ready need no key.
for probe in health ready; do
    code="$(curl -s --cacert "$PKI/ca.crt" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/$probe")"
    [ "$code" = 200 ] || fail "/$probe without a key: $code"
done
pass "/health and /ready are open"
# Plain HTTP on the TLS port: a 400 saying to use https (not an empty reply), and nothing served.
for path in /health /mcp; do
    plain="$(curl -s -m 10 -w '\n%{http_code}' -X POST --data-binary "$SEARCH_CALL" "http://127.0.0.1:$PORT$path")"
    [ "${plain##*$'\n'}" = 400 ] || fail "plain HTTP to $path on the TLS port: $plain"
    assert_contains "$plain" "this port speaks HTTPS; use https://127.0.0.1:$PORT$path" "plain HTTP to $path"
done
pass "plain HTTP on the TLS port: 400 naming the https:// URL"

# Audit records carry the request id of the request they are about (X-Request-Id, echoed in the reply).
audited() { # AUTHHEADER BODY REQUEST-ID
    curl -s -m 30 --cacert "$PKI/ca.crt" -D "$WORK/audited.headers" -o /dev/null -X POST \
        "https://127.0.0.1:$PORT/mcp" -H 'Content-Type: application/json' \
        -H 'Accept: application/json, text/event-stream' -H "$1" -H "X-Request-Id: $3" --data-binary "$2"
    grep -qi "^X-Request-Id: $3" "$WORK/audited.headers" || fail "reply without X-Request-Id $3"
}
audited "X-API-Key: shk_0123456789abcdef_$(printf 'A%.0s' $(seq 43))" "$SEARCH_CALL" it-audit-401
audited "Authorization: Bearer $OTHER_KEY" "$(call search_code '{"query":"split url","collection":"repo"}')" it-audit-403

# Keys created, rotated and revoked while the server runs take effect at once (no restart).
LATE_KEY="$(new_key late --scopes search)"
LSID="$(open_session "X-API-Key: $LATE_KEY")"
post "X-API-Key: $LATE_KEY" "$SEARCH_CALL" "$LSID"; expect 200 "key created after the server started"
ROTATED_KEY="$(keys rotate late --grace 1h | tail -n 1)"
[ "$ROTATED_KEY" != "$LATE_KEY" ] || fail "rotate printed the old key"
post "X-API-Key: $LATE_KEY" "$SEARCH_CALL" "$LSID"; expect 200 "old key inside the grace period"
post "X-API-Key: $ROTATED_KEY" "$SEARCH_CALL" "$LSID"; expect 200 "new key after rotation"
ROTATED_AGAIN="$(keys rotate late --grace 0 | tail -n 1)"
post "X-API-Key: $ROTATED_KEY" "$SEARCH_CALL" "$LSID"; expect 401 "old key after a rotation without grace"
post "X-API-Key: $ROTATED_AGAIN" "$SEARCH_CALL" "$LSID"; expect 200 "newest key"
keys revoke late >/dev/null
post "X-API-Key: $ROTATED_AGAIN" "$SEARCH_CALL" "$LSID"; expect 401 "key revoked while the server runs"
pass "create, rotate (grace 1h, then 0) and revoke take effect on the running server without a restart"

kill -TERM "$PID"; set +e; wait "$PID"; rc=$?; set -e
[ "$rc" = 0 ] || fail "serve exited $rc: $(cat "$WORK/serve.err")"

# last_used was recorded (written at exit).
keys list --json > "$WORK/list.json"
used="$(python3 -c "import json;d=json.load(open('$WORK/list.json'));print([k['last_used'] for k in d['keys'] if k['name']=='reader'][0])")"
[ "$used" != None ] || fail "last_used not recorded for the key that was used: $(cat "$WORK/list.json")"
pass "keys list shows when the key was last used ($used)"

# The audit log: every refusal and every key change, as JSON lines, no secret.
AUDIT="$WORK/audit.log"
python3 - "$AUDIT" <<'PY' || fail "audit log: $(cat "$AUDIT")"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
kinds = {}
for e in events:
    kinds.setdefault(e["event"], []).append(e)
reasons = sorted({e.get("reason") for e in kinds.get("auth_failure", [])})
for want in ["missing", "malformed", "unknown_key", "wrong_secret", "revoked", "expired"]:
    assert want in reasons, (want, reasons)
assert len(kinds.get("forbidden", [])) >= 2, kinds.get("forbidden")
for e in kinds["auth_failure"] + kinds["forbidden"]:
    assert e.get("remote") == "127.0.0.1", e
    assert e.get("time"), e
    assert e.get("request_id"), ("no request_id", e)
assert any(e.get("request_id") == "it-audit-401" and e["reason"] == "unknown_key" for e in kinds["auth_failure"]), \
    [e.get("request_id") for e in kinds["auth_failure"]]
assert any(e.get("request_id") == "it-audit-403" for e in kinds["forbidden"]), kinds["forbidden"]
for k in ["key_created", "key_revoked", "key_rotated"]:
    assert kinds.get(k), k
    assert all(e.get("actor") for e in kinds[k]), kinds[k]
PY
for k in "$SEARCH_KEY" "$INDEX_KEY" "$OTHER_KEY" "$REVOKED_KEY" "$LATE_KEY" "$ROTATED_KEY"; do
    secret="$(key_secret "$k")"
    ! grep -qF -- "$secret" "$AUDIT" "$WORK/serve.err" "$WORK/serve.out" || fail "a secret was logged"
done
[ "$(stat -c %a "$AUDIT")" = 600 ] || fail "audit log mode is $(stat -c %a "$AUDIT")"
pass "audit log: each 401 reason, the 403s and key changes, with time, remote, request id and actor, no secret"
