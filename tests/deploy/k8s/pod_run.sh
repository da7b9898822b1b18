#!/usr/bin/env bash
# The Helm chart's pods run for real (ctest deploy.helm_pod_run; fixtures `docker`, `postgres`, `redis`):
# the chart rendered with tests/deploy/k8s/values-podman.yaml (one replica, host network on 127.0.0.1,
# free ports), then, with the real image signal-hub:test (loaded from the `docker` fixture's engine into
# a private podman store) and `podman kube play`:
#   1. the migration hook Job's pod runs `migrate init-db` against the fixture's PostgreSQL;
#   2. the indexer CronJobs' pods index a small tree into PostgreSQL: one from a read-only volume, one
#      cloned by the git init container (an image of the host's git) from a git daemon on 127.0.0.1;
#      then the backup CronJob's pod archives that schema into the archive volume and the restore drill
#      CronJob's pod drills the archive;
#   3. the Deployment's pod serves: /health and /ready answer 200, Prometheus metrics are served, the
#      official MCP SDK lists the tools and finds the indexed function; the container runs as 10001
#      with a read-only root filesystem and no capabilities; SIGTERM drains it to exit 0;
#   4. the same with values-production.yaml underneath: HTTPS from the TLS Secret, /mcp refuses a
#      request without a key, a key created in the pod (PostgreSQL storage, the pepper of the Secret)
#      searches through the SDK, rate limits and the cache in the `redis` fixture's Redis.
# The Secrets are made from the fixtures' URLs by `kubectl create secret` as the README shows; podman has
# no Job or CronJob, so their pod templates run as Pods (tests/deploy/k8s/pod_manifests.py says what it
# changes for podman 4.3). Not exercised here: the API server, Services, probes as kubelet runs them,
# NetworkPolicy enforcement (docs/production/deployment/kubernetes/README.md).
#
# usage: pod_run.sh SIGNAL_HUB_BINARY
#   env: SIGNAL_HUB_TEST_PG_URL_FILE, SIGNAL_HUB_TEST_REDIS_URL_FILE, SIGNAL_HUB_TEST_DOCKER_ENV
source "$(dirname "$0")/../../integration/lib.sh"
K8S_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$K8S_DIR/../../.." && pwd)"
HELM="$K8S_DIR/node_modules/.tools/helm"
KUBECTL="$K8S_DIR/node_modules/.tools/kubectl"

for tool in podman catatonit curl node python3 git openssl; do
    command -v "$tool" >/dev/null || fail "$tool is required (scripts/test.sh installs it: scripts/test-packages.txt)"
done
[ -x "$HELM" ] && [ -x "$KUBECTL" ] || "$ROOT/scripts/fetch-deploy-tools.sh" >/dev/null
[ -n "${SIGNAL_HUB_TEST_PG_URL_FILE:-}" ] && [ -s "$SIGNAL_HUB_TEST_PG_URL_FILE" ] ||
    fail "SIGNAL_HUB_TEST_PG_URL_FILE is not set or empty (run through ctest: fixture postgres)"
[ -n "${SIGNAL_HUB_TEST_REDIS_URL_FILE:-}" ] && [ -s "$SIGNAL_HUB_TEST_REDIS_URL_FILE" ] ||
    fail "SIGNAL_HUB_TEST_REDIS_URL_FILE is not set or empty (run through ctest: fixture redis)"
[ -n "${SIGNAL_HUB_TEST_DOCKER_ENV:-}" ] && [ -s "$SIGNAL_HUB_TEST_DOCKER_ENV" ] ||
    fail "SIGNAL_HUB_TEST_DOCKER_ENV is not set or empty (run through ctest: fixture docker)"
[ -d "$ROOT/tests/e2e/node_modules/@modelcontextprotocol/sdk" ] || "$ROOT/scripts/fetch-e2e-deps.sh" >/dev/null

# A private podman: its own store (vfs: no overlay mounts left behind), no systemd, runc, the ulimits
# the default config lacks here.
cat >"$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=8192:8192"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF="$WORK/containers.conf"
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
cleanup() {
    "${P[@]}" pod rm -f -a >/dev/null 2>&1 || true
    "${P[@]}" rm -f -a >/dev/null 2>&1 || true
    "${P[@]}" volume rm -f -a >/dev/null 2>&1 || true
    "${P[@]}" rmi -f -a >/dev/null 2>&1 || true
}
trap 'rc=$?; cleanup; jobs -p | xargs -r kill 2>/dev/null; rm -rf "$WORK"; exit $rc' EXIT

# The image of the `docker` fixture, into the private store.
start=$(date +%s)
(source "$SIGNAL_HUB_TEST_DOCKER_ENV" && docker save signal-hub:test) | "${P[@]}" load >/dev/null ||
    fail "cannot load signal-hub:test from the docker fixture's engine into podman"
pass "signal-hub:test loaded into podman ($(( $(date +%s) - start )) s)"

# The git image the indexer's clone init container needs: the host's git and the libraries it links
# (no registry here; in the world any image with git). A bare repository served by `git daemon`.
mkdir -p "$WORK/git-image/usr/bin" "$WORK/git-image/tmp" "$WORK/repos"
chmod 1777 "$WORK/git-image/tmp"
cp /usr/bin/git "$WORK/git-image/usr/bin/"
for lib in $(ldd /usr/bin/git | grep -o '/[^ ]*'); do
    mkdir -p "$WORK/git-image$(dirname "$lib")"
    cp -L "$lib" "$WORK/git-image$lib"
done
tar -C "$WORK/git-image" -cf "$WORK/git-image.tar" .
"${P[@]}" import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' "$WORK/git-image.tar" localhost/git:test >/dev/null 2>&1 ||
    fail "cannot make the git image"
make_tree "$WORK/checkout"
git -C "$WORK/checkout" init -q -b main
git -C "$WORK/checkout" add -A
git -C "$WORK/checkout" -c user.name=test -c user.email=test@localhost commit -qm "the corpus"
git clone -q --bare "$WORK/checkout" "$WORK/repos/corpus.git"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP_PORT="$(free_port)"; METRICS_PORT="$(free_port)"
[ "$HTTP_PORT" != "$METRICS_PORT" ] || METRICS_PORT="$(free_port)"
GIT_PORT="$(free_port)"
git daemon --listen=127.0.0.1 --port="$GIT_PORT" --base-path="$WORK/repos" --export-all --reuseaddr \
    >"$WORK/git-daemon.log" 2>&1 &
"$HELM" template signal-hub "$ROOT/deploy/helm/signal-hub" -f "$K8S_DIR/values-podman.yaml" \
    --set "ports.http=$HTTP_PORT,ports.metrics=$METRICS_PORT" \
    --set "indexer.repositories[1].url=git://127.0.0.1:$GIT_PORT/corpus.git" >"$WORK/rendered.yaml"
mkdir -p "$WORK/play"
# The fixture's PostgreSQL is shared by other tests: this one keeps to a schema of its own (its index and
# API key table; the pepper of the production phase is its own).
PG_URL="$(cat "$SIGNAL_HUB_TEST_PG_URL_FILE")"
case "$PG_URL" in *\?*) PG_URL="$PG_URL&schema=helm_pod_$$" ;; *) PG_URL="$PG_URL?schema=helm_pod_$$" ;; esac
# The Secret an operator creates, made by kubectl as the README shows (offline: --dry-run=client).
mkdir -p "$WORK/secrets"
"$KUBECTL" -n signal-hub create secret generic signal-hub-secrets --from-literal=database-url="$PG_URL" \
    --dry-run=client -o json >"$WORK/secrets/signal-hub-secrets.json"
python3 "$K8S_DIR/pod_manifests.py" "$WORK/rendered.yaml" "$WORK/secrets" "$WORK/play" "$HTTP_PORT" "$METRICS_PORT"
"${P[@]}" secret create signal-hub-secrets "$WORK/play/secret-signal-hub-secrets.json" >/dev/null

# run_pod FILE CONTAINER WHAT: plays FILE and waits for CONTAINER to exit; its logs are in $OUT.
run_pod() {
    "${P[@]}" kube play "$1" >"$WORK/play.log" 2>&1 || fail "podman kube play $1: $(cat "$WORK/play.log")"
    local rc
    rc="$(timeout 120 "${P[@]}" wait "$2")" || fail "$3: $2 did not finish within 120 s"
    OUT="$("${P[@]}" logs "$2" 2>&1)"
    [ "$rc" = 0 ] || fail "$3: $2 exited $rc: $OUT"
}

run_pod "$WORK/play/migrate.yaml" signal-hub-migrate-migrate "the migration hook"
assert_contains "$OUT" "database schema v1" "migrate init-db"
pass "the migration hook's pod (migrate init-db, restricted profile) ran against PostgreSQL: $OUT"

# Indexer 1 reads the repository from a read-only volume (the claim indexer.volume.claimName).
"${P[@]}" volume create signal-hub-corpus-corpus >/dev/null
corpus="$("${P[@]}" volume inspect --format '{{.Mountpoint}}' signal-hub-corpus-corpus)"
make_tree "$corpus"
chmod -R a+rX "$corpus"
run_pod "$WORK/play/signal-hub-index-corpus.yaml" signal-hub-index-corpus-index "the volume indexer"
assert_contains "$OUT" "indexed /src/corpus into collection 'corpus'" "the volume indexer's pod"
assert_contains "$OUT" "files: 4 scanned" "the volume indexer's pod"
pass "the indexer CronJob's pod indexed the volume into PostgreSQL"

# Indexer 2 clones with git in its init container (indexer.gitImage: here an image of the host's git,
# as an operator would build one) from a git daemon on 127.0.0.1, then indexes the clone.
run_pod "$WORK/play/signal-hub-index-corpus-git.yaml" signal-hub-index-corpus-git-index "the git indexer"
assert_contains "$OUT" "indexed /src/corpus-git into collection 'corpus-git'" "the git indexer's pod"
assert_contains "$OUT" "files: 4 scanned" "the git indexer's pod"
pass "the indexer CronJob's pod cloned the repository (git init container, user 10001) and indexed it"

# The backup CronJobs' pods: `backup create` (exec form, DATABASE_URL from the Secret) writes an archive
# of the indexed schema into the archive claim (backup.volume.existingClaim; a podman volume owned by the
# pod's user, as fsGroup makes a real volume); `backup drill` restores the newest one in its scratch emptyDir.
"${P[@]}" volume create signal-hub-backups >/dev/null
chown 10001:10001 "$("${P[@]}" volume inspect --format '{{.Mountpoint}}' signal-hub-backups)"
run_pod "$WORK/play/signal-hub-backup.yaml" signal-hub-backup-backup "the backup job"
assert_contains "$OUT" "backed up" "the backup job's summary"
archives="$(ls "$("${P[@]}" volume inspect --format '{{.Mountpoint}}' signal-hub-backups)")"
assert_contains "$archives" ".tar.zst" "the archive volume"
run_pod "$WORK/play/signal-hub-backup-drill.yaml" signal-hub-backup-drill-drill "the restore drill job"
assert_contains "$OUT" ": PASSED" "the restore drill job"
pass "the backup CronJob's pod archived PostgreSQL into the claim ($archives); the drill's pod passed: $(grep '^drill of' <<<"$OUT")"

"${P[@]}" kube play "$WORK/play/server.yaml" >"$WORK/play.log" 2>&1 || fail "podman kube play server.yaml: $(cat "$WORK/play.log")"
server="$("${P[@]}" ps -a --format '{{.Names}}' | grep -- '-signal-hub$' | head -1)"
[ -n "$server" ] || fail "no signal-hub container after kube play: $("${P[@]}" ps -a)"
base="http://127.0.0.1:$HTTP_PORT"
code=""
for _ in $(seq 1 120); do
    code="$(curl -s -o /dev/null -w '%{http_code}' "$base/ready" || true)"
    [ "$code" = 200 ] && break
    sleep 0.5
done
[ "$code" = 200 ] || fail "/ready did not answer 200 within 60 s (last: $code): $("${P[@]}" logs "$server" 2>&1 | tail -20)"
pass "the server pod's /ready answers 200"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/health")" = 200 ] || fail "/health is not 200"
pass "/health answers 200"
metrics="$(curl -sf "http://127.0.0.1:$METRICS_PORT/metrics")" || fail "no metrics on $METRICS_PORT"
assert_contains "$metrics" "signal_hub_ready 1" "the pod's metrics"
pass "Prometheus metrics are served on the metrics port (signal_hub_ready 1)"
node "$ROOT/tests/e2e/mcp_connect.mjs" "split a url into scheme and host" src/net/url.py http "$base/mcp" ||
    fail "the MCP SDK did not get the search answer from the pod"
pass "the MCP SDK searched the pod and found src/net/url.py"

# What the container runs with.
[ "$("${P[@]}" inspect "$server" --format '{{.Config.User}}')" = "10001:10001" ] ||
    fail "the container runs as $("${P[@]}" inspect "$server" --format '{{.Config.User}}'), not 10001:10001"
[ "$("${P[@]}" inspect "$server" --format '{{.HostConfig.ReadonlyRootfs}}')" = true ] ||
    fail "the root filesystem is writable"
caps="$("${P[@]}" inspect "$server" --format '{{.EffectiveCaps}}')"
[ "$caps" = "[]" ] || fail "the container has capabilities: $caps"
pass "the container runs as 10001:10001, read-only root, no capabilities"
# listenAddress reaches the server although the image's ENV says 0.0.0.0 (host network: loopback only).
listening="$(python3 - "$HTTP_PORT" "$METRICS_PORT" <<'PY'
import sys
ports = {int(p) for p in sys.argv[1:]}
for line in open("/proc/net/tcp").readlines()[1:] + open("/proc/net/tcp6").readlines()[1:]:
    local, state = line.split()[1], line.split()[3]
    addr, port = local.split(":")
    if state == "0A" and int(port, 16) in ports:
        print(f"{addr}:{int(port, 16)}")
PY
)"
[ "$(sort <<<"$listening" | tr '\n' ' ')" = "$(printf '0100007F:%s\n0100007F:%s\n' "$HTTP_PORT" "$METRICS_PORT" | sort | tr '\n' ' ')" ] ||
    fail "the pod does not listen on 127.0.0.1 only (listenAddress): $listening"
pass "the server and its metrics listen on 127.0.0.1 only (listenAddress wins over the image's 0.0.0.0)"
logs="$("${P[@]}" logs "$server" 2>&1)"
assert_contains "$logs" '"msg":"request"' "JSON logs on stdout"
pass "the server logs JSON lines to stdout"

"${P[@]}" pod stop -t 40 "$("${P[@]}" inspect "$server" --format '{{.Pod}}')" >/dev/null
rc="$("${P[@]}" inspect "$server" --format '{{.State.ExitCode}}')"
[ "$rc" = 0 ] || fail "SIGTERM: the server exited $rc"
pass "SIGTERM drains the server to exit 0"
"${P[@]}" pod rm -f -a >/dev/null

# The production values (values-production.yaml under the same overlay): HTTPS from the TLS Secret, API
# keys in PostgreSQL with the pepper of the Secret, rate limits and the cache in the `redis` fixture.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/tls.key" -out "$WORK/tls.crt" \
    -days 90 -subj /CN=signal-hub -addext subjectAltName=IP:127.0.0.1 2>/dev/null
mkdir -p "$WORK/secrets-prod"
"$KUBECTL" -n signal-hub create secret generic signal-hub-secrets --from-literal=database-url="$PG_URL" \
    --from-literal=redis-url="$(cat "$SIGNAL_HUB_TEST_REDIS_URL_FILE")" \
    --from-literal=api-key-pepper="$(openssl rand -base64 48)" \
    --dry-run=client -o json >"$WORK/secrets-prod/signal-hub-secrets.json"
"$KUBECTL" -n signal-hub create secret tls signal-hub-tls --cert="$WORK/tls.crt" --key="$WORK/tls.key" \
    --dry-run=client -o json >"$WORK/secrets-prod/signal-hub-tls.json"
"$HELM" template signal-hub "$ROOT/deploy/helm/signal-hub" -f "$ROOT/deploy/helm/signal-hub/values-production.yaml" \
    -f "$K8S_DIR/values-podman.yaml" --set "ports.http=$HTTP_PORT,ports.metrics=$METRICS_PORT,indexer.enabled=false" \
    >"$WORK/rendered-prod.yaml"
mkdir -p "$WORK/play-prod"
python3 "$K8S_DIR/pod_manifests.py" "$WORK/rendered-prod.yaml" "$WORK/secrets-prod" "$WORK/play-prod" \
    "$HTTP_PORT" "$METRICS_PORT"
"${P[@]}" secret rm signal-hub-secrets >/dev/null
"${P[@]}" secret create signal-hub-secrets "$WORK/play-prod/secret-signal-hub-secrets.json" >/dev/null
"${P[@]}" volume create secret-signal-hub-tls >/dev/null
tls_volume="$("${P[@]}" volume inspect --format '{{.Mountpoint}}' secret-signal-hub-tls)"
cp -p "$WORK/play-prod/secret-volumes/signal-hub-tls/"* "$tls_volume/"
chgrp 10001 "$tls_volume"/*   # the fsGroup, as the kubelet sets it
"${P[@]}" kube play "$WORK/play-prod/server.yaml" >"$WORK/play.log" 2>&1 || fail "podman kube play (production): $(cat "$WORK/play.log")"
server="$("${P[@]}" ps -a --format '{{.Names}}' | grep -- '-signal-hub$' | head -1)"
base="https://127.0.0.1:$HTTP_PORT"
code=""
for _ in $(seq 1 120); do
    code="$(curl -s --cacert "$WORK/tls.crt" -o /dev/null -w '%{http_code}' "$base/ready" || true)"
    [ "$code" = 200 ] && break
    sleep 0.5
done
[ "$code" = 200 ] || fail "production: /ready over HTTPS did not answer 200 (last: $code): $("${P[@]}" logs "$server" 2>&1 | tail -20)"
pass "production values: the pod serves HTTPS with the Secret's certificate; /ready 200"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/ready" || true)" != 200 ] ||
    fail "production: plain HTTP is answered"
code="$(curl -s --cacert "$WORK/tls.crt" -o /dev/null -w '%{http_code}' -X POST "$base/mcp" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    --data-binary '{"jsonrpc":"2.0","id":1,"method":"tools/list"}')"
[ "$code" = 401 ] || fail "production: /mcp without an API key answered $code, not 401"
pass "production values: /mcp without an API key is refused (401)"
# As the README shows it: `kubectl exec deploy/signal-hub -- /usr/bin/signal-hub keys create ...` (the
# configuration from SIGNAL_HUB_CONFIG; the image sets no PATH).
key="$("${P[@]}" exec "$server" /usr/bin/signal-hub keys create --name pod-test --scopes search 2>"$WORK/keys.err" | tail -1)" ||
    fail "keys create in the pod: $(cat "$WORK/keys.err")"
[[ "$key" == shk_* ]] || fail "keys create in the pod printed no key: $(cat "$WORK/keys.err")"
MCP_API_KEY="$key" NODE_EXTRA_CA_CERTS="$WORK/tls.crt" node "$ROOT/tests/e2e/mcp_connect.mjs" \
    "split a url into scheme and host" src/net/url.py http "$base/mcp" || fail "production: no search answer with the API key"
pass "production values: a key made in the pod (PostgreSQL storage, the Secret's pepper) searches over HTTPS"
"${P[@]}" exec "$server" /usr/bin/signal-hub check production --replicas 3 >"$WORK/check.out" 2>&1 || true
failed="$(grep -o 'FAIL  [a-z_]*' "$WORK/check.out" | awk '{print $2}' | tr '\n' ' ')"
# Expected failures: the key's 0440 + fsGroup (what the kubelet does; see the README) and metrics on
# 127.0.0.1 (this overlay's listenAddress; the chart's default is 0.0.0.0).
[ "$failed" = "tls_key_permissions metrics " ] ||
    fail "production: check production in the pod failed [$failed]: $(cat "$WORK/check.out")"
pass "production values: check production in the pod passes all but tls_key_permissions (0440 + fsGroup) and metrics (the overlay's loopback)"
