#!/usr/bin/env bash
# Builds the container images with the Docker engine of $DOCKER_HOST (scripts/lib/docker.sh starts one):
#   signal-hub:TAG         deploy/docker/Dockerfile, stage runtime (the product image)
#   local/pgvector:pg15, local/redis:7, local/prometheus:2
#                          stand-ins for the registry images of deploy/docker/compose.yaml
#                          (tests/deploy/images/README.md), with --services
# Usage: scripts/build-images.sh [--base IMAGE] [--tag TAG] [--services] [--no-product]
#   --base IMAGE   the Debian 12 base (default local/bookworm:base, made here with mmdebstrap when missing;
#                  in the world: debian:bookworm-slim)
#   --tag TAG      tag of the product image (default test)
# Prints each image's build time and size. Context: the repository root (.dockerignore keeps builds out).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$REPO_ROOT/scripts/lib/docker.sh"

BASE=local/bookworm:base
TAG=test
SERVICES=0
PRODUCT=1
while [ $# -gt 0 ]; do
    case "$1" in
        --base) BASE="$2"; shift 2 ;;
        --tag) TAG="$2"; shift 2 ;;
        --services) SERVICES=1; shift ;;
        --no-product) PRODUCT=0; shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
[ -n "${DOCKER_HOST:-}" ] || [ -S /var/run/docker.sock ] || die "no Docker engine: set DOCKER_HOST (scripts/lib/docker.sh)"
if [ "$BASE" = local/bookworm:base ]; then docker_base_image; fi

build() { # IMAGE DOCKERFILE [ARGS...]
    local image="$1" file="$2" start
    shift 2
    start="$(date +%s)"
    log "building $image ($file)"
    DOCKER_BUILDKIT=1 "$DOCKER" build --network host --progress plain --build-arg "BASE_IMAGE=$BASE" \
        -f "$file" -t "$image" "$@" "$REPO_ROOT" >"${BUILD_LOG_DIR:-/tmp}/build-${image//[\/:]/_}.log" 2>&1 || {
        tail -n 60 "${BUILD_LOG_DIR:-/tmp}/build-${image//[\/:]/_}.log" >&2
        die "building $image failed (log: ${BUILD_LOG_DIR:-/tmp}/build-${image//[\/:]/_}.log)"
    }
    log "built $image in $(( $(date +%s) - start )) s, $("$DOCKER" image inspect -f '{{.Size}}' "$image" | awk '{printf "%.1f MB", $1/1e6}')"
}

if [ "$PRODUCT" = 1 ]; then
    version="$(sed -n 's/^project(signal_hub VERSION \([0-9.]*\).*/\1/p' "$REPO_ROOT/CMakeLists.txt")"
    revision="$(git -C "$REPO_ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
    source_url="$(git -C "$REPO_ROOT" config --get remote.origin.url 2>/dev/null || echo unknown)"
    build "signal-hub:$TAG" "$REPO_ROOT/deploy/docker/Dockerfile" --target runtime \
        --build-arg "VERSION=${version:-unknown}" --build-arg "REVISION=$revision" \
        --build-arg "SOURCE=$source_url" --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
fi
if [ "$SERVICES" = 1 ]; then
    build local/pgvector:pg15 "$REPO_ROOT/tests/deploy/images/pgvector/Dockerfile"
    build local/redis:7 "$REPO_ROOT/tests/deploy/images/redis/Dockerfile"
    build local/prometheus:2 "$REPO_ROOT/tests/deploy/images/prometheus/Dockerfile"
fi
