#!/usr/bin/env bash
# Installs the build dependencies and builds signal-hub (Release) into build/.
# Usage: scripts/setup.sh [--build-dir DIR]
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

BUILD_DIR="$REPO_ROOT/build"
while [ $# -gt 0 ]; do
    case "$1" in
        --build-dir) BUILD_DIR="$2"; shift 2 ;;
        -h|--help) sed -n '2,3p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

install_packages "$REPO_ROOT/scripts/debian-packages.txt"
"$REPO_ROOT/scripts/fetch-grammars.sh"
log "configuring $BUILD_DIR"
cmake -S "$REPO_ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSIGNAL_HUB_BUILD_TESTS=OFF -DSIGNAL_HUB_BUILD_BENCH=ON >/dev/null
log "building (this takes a few minutes the first time)"
cmake --build "$BUILD_DIR" -j "$(build_jobs)" --target signal-hub
log "built $BUILD_DIR/src/cli/signal-hub"
