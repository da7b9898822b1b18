#!/usr/bin/env bash
# The container image (deploy/docker/Dockerfile), as built once by the `docker` fixture:
# - metadata: numeric non-root user, exec-form entrypoint, a HEALTHCHECK without a shell, STOPSIGNAL, OCI
#   labels (version, revision = this tree's commit, source), the SPDX package list; no shell inside; its size;
# - 0 pending Debian security updates: every Debian package the SPDX list names is at the version the
#   bookworm + bookworm-security archives offer now (checked in a container of the base with apt);
# - it works read-only: `index` a mounted corpus into a volume, `serve` from it with --read-only and no
#   capabilities; the process runs as 10001; /health and /ready answer 200; Docker's HEALTHCHECK turns
#   healthy; the official MCP SDK client gets a search answer through the published port (127.0.0.1);
# - SIGTERM (`docker stop`) drains and exits 0 well before the grace period.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/lib.sh"

inspect() { "$DOCKER" image inspect -f "$1" "$IMAGE"; }
[ "$(inspect '{{.Config.User}}')" = "10001:10001" ] || fail "image user is '$(inspect '{{.Config.User}}')', want 10001:10001"
[ "$(inspect '{{json .Config.Entrypoint}}')" = '["/usr/bin/signal-hub"]' ] || fail "entrypoint $(inspect '{{json .Config.Entrypoint}}')"
[ "$(inspect '{{index .Config.Healthcheck.Test 0}}')" = CMD ] || fail "HEALTHCHECK is not exec form: $(inspect '{{json .Config.Healthcheck}}')"
[ "$(inspect '{{.Config.StopSignal}}')" = SIGTERM ] || fail "STOPSIGNAL $(inspect '{{.Config.StopSignal}}')"
for label in version revision source created; do
    v="$(inspect "{{index .Config.Labels \"org.opencontainers.image.$label\"}}")"
    [ -n "$v" ] && [ "$v" != unknown ] || fail "OCI label org.opencontainers.image.$label is '$v'"
done
want_rev="$(git -C "$REPO" rev-parse HEAD)"
[ "$(inspect '{{index .Config.Labels "org.opencontainers.image.revision"}}')" = "$want_rev" ] ||
    fail "revision label is not this tree's commit $want_rev"
pass "user 10001:10001, exec-form entrypoint and HEALTHCHECK, STOPSIGNAL SIGTERM, OCI labels (revision $want_rev)"

size=$(inspect '{{.Size}}')
echo "image size: $size bytes ($(awk -v s="$size" 'BEGIN{printf "%.1f MB", s/1e6}'))"
[ "$size" -lt 60000000 ] || fail "the image grew to $size bytes (budget 60 MB: binary + linked libraries + CA certificates)"
run_expect 127 "$DOCKER" run --rm --label "org.signal-hub.test=$TEST_ID" --entrypoint /bin/sh "$IMAGE" -c true
pass "no shell in the image (docker run --entrypoint /bin/sh fails); size under 60 MB"

# The SPDX list and the pending-updates check.
cid="$("$DOCKER" create --label "org.signal-hub.test=$TEST_ID" "$IMAGE")"
"$DOCKER" cp "$cid:/usr/share/doc/signal-hub/sbom.spdx" "$WORK/sbom.spdx"
"$DOCKER" export "$cid" | tar -t > "$WORK/files.txt"
"$DOCKER" rm "$cid" >/dev/null
grep -q '^SPDXVersion: SPDX-2.3$' "$WORK/sbom.spdx" || fail "sbom.spdx is not an SPDX 2.3 document"
grep -q '^PackageName: libc6$' "$WORK/sbom.spdx" || fail "sbom.spdx does not list libc6"
grep -q '^PackageName: libpq5$' "$WORK/sbom.spdx" || fail "sbom.spdx does not list libpq5"
if grep -Eq '^(bin|usr/bin)/(sh|bash|dash|apt|apt-get|dpkg)$' "$WORK/files.txt"; then fail "a shell or package manager is in the image"; fi
awk '/^PackageName: /{n=$2} /^PackageVersion: /{ if (n != "signal-hub") print n, $2 }' "$WORK/sbom.spdx" > "$WORK/packages.txt"
npkg=$(wc -l < "$WORK/packages.txt")
[ "$npkg" -ge 5 ] || fail "sbom.spdx lists only $npkg Debian packages"
"$DOCKER" run --rm --label "org.signal-hub.test=$TEST_ID" --network host -v "$WORK/packages.txt:/packages.txt:ro" \
    local/bookworm:base bash -c '
        apt-get update -qq >/dev/null 2>&1 || { echo "apt-get update failed" >&2; exit 2; }
        pending=0
        while read -r name version; do
            candidate="$(apt-cache policy "$name" | awk "/Candidate:/ {print \$2}")"
            if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then echo "unknown to the archive: $name" >&2; pending=$((pending+1)); continue; fi
            if dpkg --compare-versions "$candidate" gt "$version"; then echo "pending: $name $version -> $candidate"; pending=$((pending+1)); fi
        done < /packages.txt
        echo "pending updates: $pending"
        [ "$pending" -eq 0 ]' > "$WORK/pending.txt" 2>&1 || fail "$(cat "$WORK/pending.txt")"
pass "SPDX list of $npkg Debian packages; 0 pending updates against bookworm + bookworm-security ($(tail -n 1 "$WORK/pending.txt"))"

# Index a mounted corpus into a volume, then serve it read-only.
make_corpus "$WORK/corpus"
chmod -R a+rX "$WORK/corpus"
vol="$TEST_ID-data"
"$DOCKER" volume create --label "org.signal-hub.test=$TEST_ID" "$vol" >/dev/null
hardened=(--read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges:true --label "org.signal-hub.test=$TEST_ID")
run_expect 0 "$DOCKER" run --rm "${hardened[@]}" -v "$vol:/var/lib/signal-hub" -v "$WORK/corpus:/corpus:ro" \
    "$IMAGE" index /corpus --collection corpus
assert_contains "$OUT$ERR" "files: 3 scanned, 3 added" "index in the container"
pass "index /corpus into the volume, read-only root, no capabilities"

# A user-defined network (the engine has no default bridge); the port is published on 127.0.0.1 only.
net="$TEST_ID-net"
"$DOCKER" network create --label "org.signal-hub.test=$TEST_ID" "$net" >/dev/null
port="$(free_port)"
cid="$("$DOCKER" run -d "${hardened[@]}" --network "$net" -v "$vol:/var/lib/signal-hub" -p "127.0.0.1:$port:8080" "$IMAGE")"
wait_http "http://127.0.0.1:$port/health" 60 || { "$DOCKER" logs "$cid" >&2; fail "/health never answered"; }
code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready")"
[ "$code" = 200 ] || fail "/ready answered $code"
uid="$("$DOCKER" top "$cid" -o pid,uid,comm | awk 'NR==2 {print $2}')"
[ "$uid" = 10001 ] || fail "the server runs as uid '$uid'"
pass "serve: /health and /ready 200 on 127.0.0.1:$port, process uid 10001"
wait_health "$cid" 90 || fail "Docker's HEALTHCHECK (signal-hub healthcheck --ready) never reported healthy"
pass "HEALTHCHECK healthy without a shell"
node "$E2E_DIR/mcp_connect.mjs" retry_with_exponential_backoff src/net/retry.py http "http://127.0.0.1:$port/mcp" ||
    fail "the MCP SDK client did not get the search answer"
# Captured first: `docker logs | head | grep -q` can end in SIGPIPE, which pipefail reports as a failure.
logs="$("$DOCKER" logs "$cid" 2>&1)"
grep -q '^{"ts":' <<<"$(sed -n 1,3p <<<"$logs")" || fail "logs are not JSON lines on stdout: $(sed -n 1,3p <<<"$logs")"
pass "MCP search through the published port (official SDK), JSON logs"

start=$(date +%s)
"$DOCKER" stop -t 30 "$cid" >/dev/null
took=$(( $(date +%s) - start ))
code="$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$cid")"
[ "$code" = 0 ] || fail "after SIGTERM the server exited $code (137 = killed after the grace period)"
logs="$("$DOCKER" logs "$cid" 2>&1 | tail -n 5)"
grep -qi 'shut\|drain\|stopp' <<<"$logs" || fail "no shutdown record in the log: $logs"
pass "docker stop: SIGTERM drained, exit 0 after ${took}s (grace period 30 s)"
