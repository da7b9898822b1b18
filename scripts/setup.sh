#!/usr/bin/env bash
# Installs the build dependencies and builds signal-hub (Release) into build/.
# Usage: scripts/setup.sh [--build-dir DIR] [--packages-only]
#   --packages-only   install the Debian packages and stop (the container image's first build layer)
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

BUILD_DIR="$REPO_ROOT/build"
PACKAGES_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --build-dir) BUILD_DIR="$2"; shift 2 ;;
        --packages-only) PACKAGES_ONLY=1; shift ;;
        -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

install_packages "$REPO_ROOT/scripts/debian-packages.txt"
[ "$PACKAGES_ONLY" = 0 ] || exit 0
"$REPO_ROOT/scripts/fetch-grammars.sh"
log "configuring $BUILD_DIR"
cmake -S "$REPO_ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSIGNAL_HUB_BUILD_TESTS=OFF -DSIGNAL_HUB_BUILD_BENCH=ON >/dev/null
log "building (this takes a few minutes the first time)"
cmake --build "$BUILD_DIR" -j "$(build_jobs)" --target signal-hub
log "built $BUILD_DIR/src/cli/signal-hub"
