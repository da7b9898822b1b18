# Helpers for the deployment tests (label deploy). Usage: source lib.sh (after tests/integration/lib.sh).
# They run against the engine of the CTest fixture `docker` (scripts/docker-test-engine.sh): the file named by
# $SIGNAL_HUB_TEST_DOCKER_ENV exports DOCKER_HOST. Containers a test starts carry the label
# org.signal-hub.test=$TEST_ID and are removed when it exits; ports are published on 127.0.0.1 only.
DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$DEPLOY_DIR/../.." && pwd)"
E2E_DIR="$REPO/tests/e2e"
[ -n "${SIGNAL_HUB_TEST_DOCKER_ENV:-}" ] && [ -f "$SIGNAL_HUB_TEST_DOCKER_ENV" ] ||
    fail "SIGNAL_HUB_TEST_DOCKER_ENV does not name the docker fixture's env file (run through ctest: the fixture starts the engine)"
# shellcheck disable=SC1090
source "$SIGNAL_HUB_TEST_DOCKER_ENV"
DOCKER=/usr/bin/docker
TEST_ID="sh-$(basename "$0" .sh)-$$"
IMAGE="${SIGNAL_HUB_TEST_IMAGE:-signal-hub:test}"
"$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1 || fail "image $IMAGE is missing (the docker fixture builds it)"

deploy_cleanup() {
    "$DOCKER" ps -aq --filter "label=org.signal-hub.test=$TEST_ID" | xargs -r "$DOCKER" rm -f >/dev/null 2>&1 || true
    "$DOCKER" volume ls -q --filter "label=org.signal-hub.test=$TEST_ID" | xargs -r "$DOCKER" volume rm -f >/dev/null 2>&1 || true
}
trap 'rc=$?; deploy_cleanup; jobs -p | xargs -r kill -9 2>/dev/null; rm -rf "$WORK"; exit $rc' EXIT

# free_port: a TCP port free on 127.0.0.1 right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http URL [SECONDS]: until URL answers 200 (curl -k: a probe, not a client).
wait_http() {
    local url="$1" deadline=$(( $(date +%s) + ${2:-60} ))
    until curl -ksf -o /dev/null --max-time 2 "$url"; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.3
    done
}

# wait_health CONTAINER [SECONDS]: until Docker reports the container's HEALTHCHECK healthy.
wait_health() {
    local c="$1" deadline=$(( $(date +%s) + ${2:-90} )) status
    while :; do
        status="$("$DOCKER" inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$c" 2>/dev/null || echo gone)"
        [ "$status" = healthy ] && return 0
        [ "$(date +%s)" -lt "$deadline" ] || { echo "container $c is $status" >&2; "$DOCKER" logs --tail 30 "$c" >&2 || true; return 1; }
        sleep 0.5
    done
}

# make_corpus DIR: a small repository whose function retry_with_exponential_backoff lives in src/net/retry.py.
make_corpus() {
    mkdir -p "$1/src/net" "$1/src/text" "$1/cmd"
    cat > "$1/src/net/retry.py" <<'PY'
import random
import time


def retry_with_exponential_backoff(call, attempts=5, base_delay=0.1, max_delay=5.0):
    """Call `call` until it succeeds, sleeping base_delay * 2**n (with jitter) between attempts."""
    for attempt in range(attempts):
        try:
            return call()
        except ConnectionError:
            if attempt == attempts - 1:
                raise
            delay = min(max_delay, base_delay * (2 ** attempt))
            time.sleep(delay * (0.5 + random.random() / 2))
PY
    cat > "$1/src/text/slug.py" <<'PY'
import re


def slugify(title):
    """Lower-case a title and join its words with hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
PY
    cat > "$1/cmd/main.go" <<'GO'
package main

import (
	"fmt"
	"net/url"
)

// parseEndpoint splits a URL into host and port.
func parseEndpoint(raw string) (string, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", err
	}
	return u.Hostname(), u.Port(), nil
}

func main() {
	h, p, _ := parseEndpoint("https://example.com:8443/x")
	fmt.Println(h, p)
}
GO
}
