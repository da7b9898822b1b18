#!/usr/bin/env bash
# Starts or stops the Docker engine of the `deploy`-labelled tests (the CTest fixture `docker`; see
# tests/CMakeLists.txt) and builds the images they share, once per test run.
# Usage: scripts/docker-test-engine.sh start|stop STATE_DIR
#   start: a private dockerd (scripts/lib/docker.sh; socket STATE_DIR/docker.sock, STATE_DIR/env exports
#          DOCKER_HOST), the base local/bookworm:base, then scripts/build-images.sh --services: signal-hub:test
#          (deploy/docker/Dockerfile) and the stand-ins local/pgvector:pg15, local/redis:7, local/prometheus:2.
#          Build logs: STATE_DIR/build-*.log; build times and sizes: STATE_DIR/images.txt.
#   stop:  stops the engine (its data root keeps the layer and compiler caches for the next run).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$REPO_ROOT/scripts/lib/docker.sh"
[ $# -eq 2 ] || die "usage: $0 start|stop STATE_DIR"
state="$2"
case "$1" in
    start)
        for c in dockerd docker-compose mmdebstrap; do
            command -v "$c" >/dev/null || die "$c is not installed (scripts/test.sh installs scripts/deploy-packages.txt)"
        done
        docker_engine_start "$state"
        BUILD_LOG_DIR="$state" "$REPO_ROOT/scripts/build-images.sh" --services 2>&1 | tee "$state/images.txt"
        [ "${PIPESTATUS[0]}" -eq 0 ] || die "building the images failed (logs: $state/build-*.log)"
        ;;
    stop) docker_engine_stop "$state" ;;
    *) die "usage: $0 start|stop STATE_DIR" ;;
esac
