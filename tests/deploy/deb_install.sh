#!/usr/bin/env bash
# The Debian package and the air-gapped path, installed into a clean Debian 12 root with no network.
#
#   tests/deploy/deb_install.sh IMAGE|BINARY
#
# IMAGE (CTest: signal-hub:test, the runtime image of deploy/docker/Dockerfile): the package is built
# the guide's container way, by the Dockerfile's `deb` stage from the same Release build (the build
# stage is cached from the fixture's image build), and the image goes into the air-gapped bundle. The
# upgrade's second version is built on the host by build-deb.sh from the image's binary. A BINARY path
# packages that binary on the host for both (development; then no image is saved or loaded).
# Needs the engine of the CTest fixture `docker`: $SIGNAL_HUB_TEST_DOCKER_ENV exports DOCKER_HOST;
# the base image local/bookworm:base is an mmdebstrap minbase of Debian 12 (+ updates + security).
#
# 1. The package (Dockerfile stage `deb`, or deploy/debian/build-deb.sh); deploy/debian/airgap-bundle.sh
#    makes the bundle (the package, its dependency closure, the saved image, README, SHA256SUMS).
# 2. A container of the base image with --network none (only `lo`) gets the bundle as one tar, unpacks
#    it, checks the sums and installs with `dpkg --install`, as the guide and the bundle's README say.
# 3. The system account, owners and modes of /etc/signal-hub, config.yaml, env and /var/lib/signal-hub,
#    the unit file.
# 4. The unit's ExecStart, parsed from the installed unit file, runs as the unit's User/Group with its
#    WorkingDirectory, UMask and EnvironmentFile: exit 3 before anything is indexed; after indexing a
#    tree as the docs show, /health 200, JSON log lines on stdout, metrics, an MCP search answered from
#    the index; SIGTERM drains and exits 0.
#    Then API keys are turned on as the guide does (the pepper in /etc/signal-hub/env): 401 without a
#    key, a search with one.
# 5. An upgrade to a new version keeps the edited configuration, env, owners, index and keys; dpkg -r
#    keeps the configuration and the index; dpkg -P deletes them.
# 6. `docker load` of the saved image into a second, empty engine with no registry, and a run of it.
set -euo pipefail

ARG="${1:?usage: $0 IMAGE|BINARY}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
: "${SIGNAL_HUB_TEST_DOCKER_ENV:?run through ctest (fixture docker), or set it to a file exporting DOCKER_HOST}"
# shellcheck disable=SC1090
source "$SIGNAL_HUB_TEST_DOCKER_ENV"
: "${DOCKER_HOST:?$SIGNAL_HUB_TEST_DOCKER_ENV did not export DOCKER_HOST}"
DOCKER=/usr/bin/docker
BASE_IMAGE="${SIGNAL_HUB_TEST_BASE_IMAGE:-local/bookworm:base}"
UNIT=/lib/systemd/system/signal-hub.service
CONF=/etc/signal-hub/config.yaml

WORK="$(mktemp -d "${TMPDIR:-/tmp}/signal-hub-deb.XXXXXX")"
CTR="signal-hub-deb-test-$$"
ENGINE2_PID=""
cleanup() {
    local rc=$?
    "$DOCKER" rm -f "$CTR" >/dev/null 2>&1 || true
    if [ -n "$ENGINE2_PID" ]; then
        kill "$ENGINE2_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$ENGINE2_PID" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$ENGINE2_PID" 2>/dev/null || true
        umount -R "$WORK/engine2" 2>/dev/null || true
    fi
    rm -rf "$WORK" 2>/dev/null || true
    exit $rc
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
T0="$(now)"

# --- 1. the package and the bundle ----------------------------------------------------------------
IMAGE=""
if [ -f "$ARG" ]; then
    BIN="$ARG"
else
    IMAGE="$ARG"
    "$DOCKER" image inspect "$IMAGE" >/dev/null || fail "no image $IMAGE in the engine at $DOCKER_HOST (fixture docker)"
    cid="$("$DOCKER" create "$IMAGE" 2>/dev/null)" || fail "docker create $IMAGE"
    "$DOCKER" cp "$cid:/usr/bin/signal-hub" "$WORK/signal-hub"
    "$DOCKER" rm "$cid" >/dev/null
    BIN="$WORK/signal-hub"
fi
VERSION="$("$BIN" --version | awk '{ print $2 }')-1"
t="$(now)"
if [ -n "$IMAGE" ]; then
    # The guide's command (docs/production/deployment/on-premise/README.md), with the fixture's base.
    DOCKER_BUILDKIT=1 "$DOCKER" build --network host --progress plain --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        -f "$REPO/deploy/docker/Dockerfile" --target deb -o "type=local,dest=$WORK/dist" "$REPO" \
        >"$WORK/deb-build.log" 2>&1 || fail "docker build --target deb: $(tail -n 30 "$WORK/deb-build.log")"
    DEB="$(ls "$WORK"/dist/signal-hub_*.deb)"
    how="by the Dockerfile's deb stage"
else
    DEB="$("$REPO/deploy/debian/build-deb.sh" "$BIN" "$VERSION" "$WORK/dist")"
    how="by build-deb.sh on the host"
fi
echo "package: $(basename "$DEB"), $(stat -c %s "$DEB") bytes, Installed-Size $(dpkg-deb -f "$DEB" Installed-Size) KiB, built $how in $(secs "$t") s"
[ "$(basename "$DEB")" = "signal-hub_${VERSION}_$(dpkg --print-architecture).deb" ] || fail "unexpected package name $DEB"
listing="$(dpkg-deb -c "$DEB")"
bad="$(awk '$2 != "root/root"' <<<"$listing")"
[ -z "$bad" ] || fail "files in the archive not owned by root/root (--root-owner-group): $bad"
for want in './usr/bin/signal-hub' './lib/systemd/system/signal-hub.service' './etc/signal-hub/config.yaml'; do
    grep -q " $want\$" <<<"$listing" || fail "$want is not in the package: $listing"
done
[ "$(dpkg-deb -I "$DEB" conffiles)" = $'/etc/signal-hub/config.yaml\n/etc/signal-hub/env' ] ||
    fail "conffiles: $(dpkg-deb -I "$DEB" conffiles)"
depends="$(dpkg-deb -f "$DEB" Depends)"
for lib in libc6 libsqlite3-0 libssl3 libpq5 libstdc++6; do
    tr ',' '\n' <<<"$depends" | awk '{ print $1 }' | grep -qxF "$lib" || fail "Depends lacks $lib (computed from the binary's libraries): $depends"
done
mkdir "$WORK/x" && dpkg-deb -x "$DEB" "$WORK/x"
readelf -S "$WORK/x/usr/bin/signal-hub" | grep -Eq '\.symtab|\.debug_' && fail "the packaged binary is not stripped"
pass "built $(basename "$DEB") $how: root-owned files, the two conffiles, a stripped binary, Depends: $depends"

t="$(now)"
BUNDLE="$WORK/bundle"
"$REPO/deploy/debian/airgap-bundle.sh" "$DEB" "$BUNDLE" ${IMAGE:+"$IMAGE"} >/dev/null
(cd "$BUNDLE" && sha256sum --quiet -c SHA256SUMS) || fail "the bundle's SHA256SUMS do not match"
[ -z "$IMAGE" ] || [ -s "$BUNDLE/signal-hub-image.tar.gz" ] || fail "the bundle holds no saved image"
echo "bundle: $(ls "$BUNDLE/debs" | wc -l) packages, $(du -sh "$BUNDLE" | cut -f1), made in $(secs "$t") s"
pass "air-gapped bundle: package + dependency closure$([ -n "$IMAGE" ] && echo " + saved image"), README, SHA256SUMS"

# A small tree to index, readable by any user (the service account reads it through the mount).
mkdir -p "$WORK/src/demo/src/net" "$WORK/src/demo/docs"
cat > "$WORK/src/demo/src/net/url.py" <<'PY'
def split_url(url):
    """Split a URL into scheme, host and path."""
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    return scheme, host, "/" + path
PY
cat > "$WORK/src/demo/docs/retry.md" <<'MD'
# Retries

Failed uploads are retried with exponential backoff and jitter, at most five times.
MD
chmod -R a+rX "$WORK/src"

# --- 2. install into a clean root with no network -------------------------------------------------
t_install="$(now)"
"$DOCKER" run -d --name "$CTR" --label "org.signal-hub.test=$CTR" --network none -v "$WORK/src/demo:/srv/src/demo:ro" "$BASE_IMAGE" sleep infinity >/dev/null
in_root() { "$DOCKER" exec -i "$CTR" "$@"; }
[ "$(in_root ls /sys/class/net)" = lo ] || fail "the container has a network interface besides lo: $(in_root ls /sys/class/net)"
in_root dpkg -s signal-hub >/dev/null 2>&1 && fail "signal-hub is installed in the base image already"
CPID="$("$DOCKER" inspect -f '{{.State.Pid}}' "$CTR")"
in_net() { nsenter -t "$CPID" -n "$@"; }   # the host's curl, in the container's network namespace

# The guide's steps: the bundle as one tar carried across, unpacked, checked, installed.
tar -C "$BUNDLE" -cf "$WORK/signal-hub-bundle.tar" .
"$DOCKER" cp "$WORK/signal-hub-bundle.tar" "$CTR:/root/signal-hub-bundle.tar"
in_root sh -c 'cd /root && mkdir bundle && tar -C bundle -xf signal-hub-bundle.tar && cd bundle &&
    sha256sum -c SHA256SUMS &&
    dpkg --install --skip-same-version --refuse-downgrade debs/*.deb' >"$WORK/dpkg.log" 2>&1 ||
    fail "the bundle's install with no network: $(tail -n 20 "$WORK/dpkg.log")"
grep -q ': OK$' "$WORK/dpkg.log" || fail "sha256sum -c checked nothing: $(head "$WORK/dpkg.log")"
[ "$(in_root dpkg-query -W -f='${Status} ${Version}' signal-hub)" = "install ok installed $VERSION" ] ||
    fail "signal-hub is not installed: $(in_root dpkg-query -W -f='${Status}' signal-hub 2>&1)"
in_root signal-hub --version | grep -qx "signal-hub ${VERSION%-1}" || fail "signal-hub --version in the root"
pass "installed from the bundle with no network (only lo) in $(secs "$t_install") s"

# --- 3. account, owners, modes, unit --------------------------------------------------------------
IFS=: read -r _ _ uid gid _ home shell <<<"$(in_root getent passwd signal-hub)" || fail "no user signal-hub"
[ "$uid" -lt 1000 ] && [ "$uid" -gt 0 ] || fail "signal-hub has uid $uid, not a system uid (1-999)"
IFS=: read -r _ _ ggid _ <<<"$(in_root getent group signal-hub)" || fail "no group signal-hub"
[ "$gid" = "$ggid" ] && [ "$ggid" -lt 1000 ] || fail "signal-hub's group: gid $gid, group signal-hub has $ggid"
[ "$shell" = /usr/sbin/nologin ] || fail "signal-hub's shell is $shell, not /usr/sbin/nologin"
[ "$home" = /var/lib/signal-hub ] || fail "signal-hub's home is $home"
pass "system user signal-hub (uid $uid) and group (gid $gid), shell $shell, home $home"

check_stat() { # PATH OWNER:GROUP MODE
    local got; got="$(in_root stat -c '%U:%G %a %F' "$1")" || fail "$1 is missing"
    case "$got" in "$2 $3 "*) ;; *) fail "$1: expected $2 $3, got $got" ;; esac
}
check_stat /etc/signal-hub root:signal-hub 750
check_stat "$CONF" root:signal-hub 640
check_stat /etc/signal-hub/env root:signal-hub 640
check_stat /var/lib/signal-hub signal-hub:signal-hub 750
check_stat /usr/bin/signal-hub root:root 755
check_stat "$UNIT" root:root 644
in_root setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$CONF" >/dev/null 2>&1 &&
    fail "a user outside the group signal-hub can read $CONF"
in_root setpriv --reuid=signal-hub --regid=signal-hub --init-groups cat "$CONF" >/dev/null ||
    fail "signal-hub cannot read $CONF"
pass "owners and modes: /etc/signal-hub 0750 and its files 0640 root:signal-hub, /var/lib/signal-hub 0750 signal-hub; others cannot read the configuration"

unit_get() { in_root sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
EXEC_START="$(unit_get ExecStart)"
[ "$EXEC_START" = "/usr/bin/signal-hub --config $CONF serve --transport http" ] || fail "ExecStart is '$EXEC_START'"
U_USER="$(unit_get User)" U_GROUP="$(unit_get Group)" U_DIR="$(unit_get WorkingDirectory)" U_UMASK="$(unit_get UMask)"
U_ENVFILE="$(unit_get EnvironmentFile)"
[ "$U_USER" = signal-hub ] && [ "$U_GROUP" = signal-hub ] || fail "User=$U_USER Group=$U_GROUP"
for d in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
         ReadWritePaths=/var/lib/signal-hub CapabilityBoundingSet= MemoryDenyWriteExecute=yes LockPersonality=yes \
         ProtectKernelTunables=yes ProtectKernelModules=yes ProtectKernelLogs=yes Restart=on-failure \
         SystemCallFilter=@system-service 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'; do
    in_root grep -qx "$d" "$UNIT" || fail "the unit lacks $d"
done
# systemd-analyze verify (the host's systemd 252, as in Debian 12) on the installed unit, its ExecStart
# pointed at the packaged binary; it exits 0 even on unknown keys, so any output is a failure. A
# misspelt directive must be reported: the check can fail.
mkdir -p "$WORK/unit"
"$DOCKER" cp "$CTR:$UNIT" "$WORK/unit/signal-hub.service"
sed -i "s#^ExecStart=/usr/bin/signal-hub #ExecStart=$WORK/x/usr/bin/signal-hub #" "$WORK/unit/signal-hub.service"
out="$(systemd-analyze verify "$WORK/unit/signal-hub.service" 2>&1)" && [ -z "$out" ] || fail "systemd-analyze verify: $out"
sed 's/^ProtectSystem=strict$/ProtectSystem=strct/' "$WORK/unit/signal-hub.service" >"$WORK/unit/typo.service"
[ -n "$(systemd-analyze verify "$WORK/unit/typo.service" 2>&1)" ] || fail "systemd-analyze verify did not report ProtectSystem=strct"
pass "systemd-analyze verify: the unit is clean (and a misspelt value is reported)"
# The backup example units (deploy/debian/examples, not in the package; backup-restore.md): the same check.
for f in service timer; do
    sed "s#/usr/bin/signal-hub #$WORK/x/usr/bin/signal-hub #g" "$REPO/deploy/debian/examples/signal-hub-backup.$f" \
        >"$WORK/unit/signal-hub-backup.$f"
done
out="$(cd "$WORK/unit" && systemd-analyze verify ./signal-hub-backup.service ./signal-hub-backup.timer 2>&1)" &&
    [ -z "$out" ] || fail "systemd-analyze verify of the backup example units: $out"
pass "systemd-analyze verify: the backup example service and timer are clean"

# run_unit: the unit's ExecStart as systemd would start it (User, Group, supplementary groups,
# WorkingDirectory, UMask, a clean environment plus EnvironmentFile), in the background; $SERVE_PID
# is the container-side `docker exec` whose exit status is the server's.
run_unit() {
    local envfile="${U_ENVFILE#-}"
    # shellcheck disable=SC2016
    "$DOCKER" exec -i "$CTR" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin sh -c '
        cd "$1" && umask "$2" || exit 99
        set -a; if [ -r "$3" ]; then . "$3"; fi; set +a
        echo $$ > /run/signal-hub-test.pid
        exec setpriv --reuid="$4" --regid="$5" --init-groups --inh-caps=-all --bounding-set=-all --no-new-privs \
            env HOME="$6" USER="$4" LOGNAME="$4" SHELL="$7" $8' \
        sh "$U_DIR" "$U_UMASK" "$envfile" "$U_USER" "$U_GROUP" "$home" "$shell" "$EXEC_START" \
        >"$WORK/serve.out" 2>"$WORK/serve.err" &
    SERVE_PID=$!
}

# Before anything is indexed the unit's command exits 3 (RestartPreventExitStatus: no restart loop).
run_unit
set +e; wait "$SERVE_PID"; rc=$?; set -e
[ "$rc" -eq 3 ] || fail "the unit's command with no index: expected exit 3, got $rc: $(cat "$WORK/serve.err")"
grep -q 'signal-hub index' "$WORK/serve.err" || fail "the exit-3 message does not say to run signal-hub index: $(cat "$WORK/serve.err")"
in_root grep -qx 'RestartPreventExitStatus=2 3' "$UNIT" || fail "the unit restarts on exit 3"
pass "with no index yet, the unit's command exits 3 telling to run \`signal-hub index\` (no restart loop)"

# The docs' command: index as the service user into the service's store.
in_root runuser -u signal-hub -- signal-hub --config "$CONF" index /srv/src/demo >"$WORK/index.out" 2>&1 ||
    fail "indexing as signal-hub: $(cat "$WORK/index.out")"
check_stat /var/lib/signal-hub/store signal-hub:signal-hub 755
pass "indexed /srv/src/demo as signal-hub into /var/lib/signal-hub/store"

# start_unit: run_unit, then wait for /health 200 (bounded: 30 s); $server_pid is the server's pid.
start_unit() {
    run_unit
    for _ in $(seq 1 150); do
        code="$(in_net curl -s -o "$WORK/health" -w '%{http_code}' -m 2 http://127.0.0.1:8080/health || true)"
        [ "$code" = 200 ] && break
        kill -0 "$SERVE_PID" 2>/dev/null || fail "the server exited: $(cat "$WORK/serve.out" "$WORK/serve.err")"
        sleep 0.2
    done
    [ "$code" = 200 ] || fail "/health did not answer 200 (last: $code): $(cat "$WORK/serve.out" "$WORK/serve.err")"
    grep -q '"ok"' "$WORK/health" || fail "/health body: $(cat "$WORK/health")"
    server_pid="$(in_root cat /run/signal-hub-test.pid)"
}
# stop_unit: SIGTERM (what `systemctl stop` sends), which must drain and exit 0.
stop_unit() {
    in_root sh -c "kill -TERM $server_pid"   # the shell's kill: the root has no procps
    set +e; wait "$SERVE_PID"; local rc=$?; set -e
    [ "$rc" -eq 0 ] || fail "SIGTERM: the server exited $rc: $(tail -n 5 "$WORK/serve.out")"
}
mcp() { # BODY [curl args]: POST /mcp; sets MCP_CODE, the body in $WORK/mcp.body, headers in $WORK/headers
    local body="$1"; shift
    MCP_CODE="$(in_net curl -s -m 10 -D "$WORK/headers" -o "$WORK/mcp.body" -w '%{http_code}' \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        --data-binary "$body" "$@" http://127.0.0.1:8080/mcp || true)"
}
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"deb-test","version":"0"}}}'
# search_for QUERY FILE [curl args]: an MCP session and a search_code call that must rank FILE first.
search_for() {
    local query="$1" want="$2"; shift 2
    mcp "$INIT" "$@"
    [ "$MCP_CODE" = 200 ] || fail "MCP initialize: HTTP $MCP_CODE $(cat "$WORK/mcp.body")"
    local session; session="$(tr -d '\r' <"$WORK/headers" | awk -F': ' 'tolower($1) == "mcp-session-id" { print $2 }')"
    [ -n "$session" ] || fail "no Mcp-Session-Id: $(cat "$WORK/headers")"
    mcp '{"jsonrpc":"2.0","method":"notifications/initialized"}' -H "Mcp-Session-Id: $session" "$@"
    mcp '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_code","arguments":{"query":"'"$query"'"}}}' \
        -H "Mcp-Session-Id: $session" "$@"
    local answer; answer="$(cat "$WORK/mcp.body")"
    [ "$MCP_CODE" = 200 ] || fail "MCP tools/call search_code: HTTP $MCP_CODE $answer"
    python3 - "$answer" "$want" <<'PY' || fail "search_code '$query' did not rank $want first: $answer"
import json, sys
raw, want = sys.argv[1], sys.argv[2]
if raw.lstrip().startswith(("event:", "data:")):
    raw = "".join(l[5:] for l in raw.splitlines() if l.startswith("data:"))
d = json.loads(raw)
assert not d["result"].get("isError"), d
results = d["result"]["structuredContent"]["results"]
assert results and results[0]["file_path"] == want, [r["file_path"] for r in results]
PY
}
search_demo() { search_for "split a URL into scheme host and path" src/net/url.py "$@"; }

start_unit
in_root grep -Eq "^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]" "/proc/$server_pid/status" ||
    fail "the server does not run as uid $uid: $(in_root grep -E '^(Uid|Gid)' "/proc/$server_pid/status")"
in_root grep -Eq '^CapBnd:[[:space:]]+0+$' "/proc/$server_pid/status" || fail "the server has a capability bounding set"
pass "the unit's ExecStart serves /health 200 on 127.0.0.1:8080 as signal-hub (uid $uid, no capabilities)"

# The configuration's logging: JSON lines on stdout (the journal), nothing on stderr.
first="$(head -n 1 "$WORK/serve.out")"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert "msg" in d and "level" in d' "$first" ||
    fail "stdout's first line is not a JSON log record: $first"
grep -q 'http://127.0.0.1:8080/mcp' "$WORK/serve.out" || fail "the log does not name the MCP URL: $(cat "$WORK/serve.out")"
[ ! -s "$WORK/serve.err" ] || fail "the server wrote to stderr: $(cat "$WORK/serve.err")"
metrics="$(in_net curl -sf -m 5 http://127.0.0.1:9090/metrics)" || fail "metrics on 127.0.0.1:9090"
grep -q '^signal_hub_' <<<"$metrics" || fail "no signal_hub_ metric on /metrics"
pass "JSON log lines on stdout, metrics on 127.0.0.1:9090"
search_demo
pass "an MCP search_code over HTTP answers from the index (src/net/url.py first)"
# The guide's update: the same index command while the server runs; the next search sees the new file.
cat > "$WORK/src/demo/src/net/backoff.go" <<'GO'
package net

// NextDelay doubles the retry delay up to a ceiling and adds random jitter.
func NextDelay(previous, ceiling int64, jitter func() int64) int64 {
	d := previous * 2
	if d > ceiling {
		d = ceiling
	}
	return d + jitter()
}
GO
chmod a+r "$WORK/src/demo/src/net/backoff.go"
in_root runuser -u signal-hub -- signal-hub --config "$CONF" index /srv/src/demo >"$WORK/index.out" 2>&1 ||
    fail "re-indexing as signal-hub: $(cat "$WORK/index.out")"
search_for "double the retry delay up to a ceiling with jitter" src/net/backoff.go
pass "a re-index while the server runs: the next search finds the new file (no restart)"
stop_unit
pass "SIGTERM drains and exits 0"

# check production reads the same file (exit 1: the default is a single-host start, not production).
set +e; in_root runuser -u signal-hub -- signal-hub --config "$CONF" check production >"$WORK/check.out" 2>&1; rc=$?; set -e
[ "$rc" -eq 1 ] || fail "check production: expected exit 1 (items to turn on), got $rc: $(cat "$WORK/check.out")"
grep -Eq 'PASS +json_logs' "$WORK/check.out" || fail "check production: json_logs does not pass: $(cat "$WORK/check.out")"
pass "check production accepts the configuration and lists what to turn on before opening it up"

# --- 4b. configure as the guide does: API keys, the pepper in the unit's EnvironmentFile -----------
in_root sh -c 'printf "SIGNAL_HUB_API_KEY_PEPPER=%s\n" "$(head -c 48 /dev/urandom | base64 -w0)" >> /etc/signal-hub/env'
in_root sh -c 'cat >> /etc/signal-hub/config.yaml' <<'YAML'
security:
  api_keys:
    enabled: true
    file: /var/lib/signal-hub/api-keys.json
YAML
# shellcheck disable=SC2016
KEY="$(in_root runuser -u signal-hub -- sh -c 'set -a; . /etc/signal-hub/env; exec signal-hub --config /etc/signal-hub/config.yaml keys create --name ci-bot --scopes search' 2>"$WORK/keys.err" | tail -n 1)"
[[ "$KEY" =~ ^shk_ ]] || fail "keys create did not print a key: $KEY $(cat "$WORK/keys.err")"
check_stat /var/lib/signal-hub/api-keys.json signal-hub:signal-hub 600
check_stat /etc/signal-hub/env root:signal-hub 640
start_unit
mcp "$INIT"
[ "$MCP_CODE" = 401 ] || fail "/mcp without a key after turning API keys on: expected 401, got $MCP_CODE"
search_demo -H "Authorization: Bearer $KEY"
stop_unit
pass "API keys on: the pepper from /etc/signal-hub/env (EnvironmentFile), /mcp 401 without a key, a search with one; key file 0600 signal-hub"
# shellcheck disable=SC2016
set +e; in_root runuser -u signal-hub -- sh -c 'set -a; . /etc/signal-hub/env; exec signal-hub --config /etc/signal-hub/config.yaml check production' >"$WORK/check.out" 2>&1; rc=$?; set -e
[ "$rc" -eq 1 ] || fail "check production with keys on: expected exit 1, got $rc: $(cat "$WORK/check.out")"
for item in api_keys key_pepper key_storage json_logs; do
    grep -Eq "PASS +$item " "$WORK/check.out" || fail "check production with keys on: $item does not pass: $(cat "$WORK/check.out")"
done
pass "the guide's check production (as the service, with its env) passes api_keys, key_pepper, key_storage, json_logs"

# --- 5. upgrade, remove, purge --------------------------------------------------------------------
VERSION2="${VERSION%-1}-2"
t="$(now)"
DEB2="$("$REPO/deploy/debian/build-deb.sh" "$BIN" "$VERSION2" "$WORK/dist2")"
echo "package $(basename "$DEB2") built by build-deb.sh on the host in $(secs "$t") s ($(stat -c %s "$DEB2") bytes)"
"$DOCKER" cp "$DEB2" "$CTR:/tmp/"
in_root dpkg --install "/tmp/$(basename "$DEB2")" >"$WORK/upgrade.log" 2>&1 || fail "upgrade: $(cat "$WORK/upgrade.log")"
[ "$(in_root dpkg-query -W -f='${Version}' signal-hub)" = "$VERSION2" ] || fail "the upgrade did not install $VERSION2"
in_root grep -qx '    enabled: true' "$CONF" || fail "the upgrade overwrote the edited $CONF"
in_root grep -q '^SIGNAL_HUB_API_KEY_PEPPER=' /etc/signal-hub/env || fail "the upgrade overwrote the edited env file"
check_stat "$CONF" root:signal-hub 640
check_stat /etc/signal-hub/env root:signal-hub 640
check_stat /var/lib/signal-hub signal-hub:signal-hub 750
start_unit
search_demo -H "Authorization: Bearer $KEY"
stop_unit
pass "an upgrade ($VERSION -> $VERSION2) keeps the edited configuration and env, the owners, the index and the keys"

in_root dpkg -r signal-hub >"$WORK/remove.log" 2>&1 || fail "dpkg -r: $(cat "$WORK/remove.log")"
grep -q "kept /etc/signal-hub and the index" "$WORK/remove.log" || fail "dpkg -r does not say what it kept: $(cat "$WORK/remove.log")"
in_root test ! -e /usr/bin/signal-hub -a ! -e "$UNIT" || fail "dpkg -r left the binary or the unit"
in_root grep -qx '    enabled: true' "$CONF" || fail "dpkg -r lost the edited $CONF"
in_root test -f /var/lib/signal-hub/store/store.db -a -f /var/lib/signal-hub/api-keys.json || fail "dpkg -r deleted the index or the keys"
[ "$(in_root dpkg-query -W -f='${Status}' signal-hub)" = "deinstall ok config-files" ] || fail "status after dpkg -r"
pass "dpkg -r removes the program and keeps the edited configuration, the index and the keys"

# What `systemctl enable` and `systemctl edit` would have left (no systemd runs here to make them).
in_root sh -c 'mkdir -p /etc/systemd/system/multi-user.target.wants /etc/systemd/system/signal-hub.service.d &&
    ln -s /lib/systemd/system/signal-hub.service /etc/systemd/system/multi-user.target.wants/signal-hub.service &&
    printf "[Service]\nEnvironment=X=1\n" > /etc/systemd/system/signal-hub.service.d/override.conf'
in_root dpkg -P signal-hub >"$WORK/purge.log" 2>&1 || fail "dpkg -P: $(cat "$WORK/purge.log")"
in_root test ! -e /etc/systemd/system/signal-hub.service.d -a ! -L /etc/systemd/system/multi-user.target.wants/signal-hub.service ||
    fail "dpkg -P left the enablement link or the drop-in directory"
grep -q "deleting /var/lib/signal-hub" "$WORK/purge.log" || fail "dpkg -P does not say it deletes the data: $(cat "$WORK/purge.log")"
in_root test ! -e /etc/signal-hub -a ! -e /var/lib/signal-hub || fail "dpkg -P left /etc/signal-hub or /var/lib/signal-hub"
[ -z "$(in_root dpkg-statoverride --list)" ] || fail "dpkg -P left statoverrides: $(in_root dpkg-statoverride --list)"
status="$(in_root dpkg-query -W -f='${Status}' signal-hub 2>/dev/null || true)"
case "$status" in ""|*not-installed) ;; *) fail "dpkg still lists signal-hub after the purge: $status" ;; esac
in_root getent passwd signal-hub >/dev/null || fail "dpkg -P deleted the system user (it is kept, as the docs say)"
pass "dpkg -P deletes /etc/signal-hub, /var/lib/signal-hub, the unit's enablement link and drop-ins, and says so (the system user stays)"
echo "install test (clean root to purge): $(secs "$t_install") s"

# --- 6. the saved image into an engine that never saw it, with no registry -------------------------
if [ -n "$IMAGE" ]; then
    mkdir -p "$WORK/engine2/data" "$WORK/engine2/exec"
    dockerd --data-root "$WORK/engine2/data" --exec-root "$WORK/engine2/exec" \
        --host "unix://$WORK/engine2/docker.sock" --pidfile "$WORK/engine2/dockerd.pid" \
        --iptables=false --ip-forward=false --ip-masq=false --bridge=none >"$WORK/engine2/log" 2>&1 &
    ENGINE2_PID=$!
    E2=("$DOCKER" -H "unix://$WORK/engine2/docker.sock")
    for _ in $(seq 1 100); do "${E2[@]}" info >/dev/null 2>&1 && break; sleep 0.2; done
    "${E2[@]}" info >/dev/null 2>&1 || fail "the second engine did not start: $(tail -n 5 "$WORK/engine2/log")"
    [ -z "$("${E2[@]}" images -q)" ] || fail "the second engine is not empty"
    "${E2[@]}" load -i "$BUNDLE/signal-hub-image.tar.gz" >"$WORK/load.out" || fail "docker load of the saved image"
    out="$("${E2[@]}" run --rm --network none "$IMAGE" --version 2>"$WORK/run2.err")" ||
        fail "running the loaded image: $(cat "$WORK/run2.err")"
    [ "$out" = "signal-hub ${VERSION%-1}" ] || fail "the loaded image's --version: $out"
    pass "docker load of the bundle's image into an empty engine (no registry) runs: $out"
fi
echo "total: $(secs "$T0") s"
