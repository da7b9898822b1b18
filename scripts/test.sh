#!/usr/bin/env bash
# README command 2 (and CI): installs what the tests need, builds with
# -Werror under AddressSanitizer + UndefinedBehaviorSanitizer, and runs the
# whole CTest suite (unit, postgres, chroma, redis, integration, end-to-end and
# fuzz tests). The fuzz targets need clang: they are built first, in build-fuzz/
# (scripts/fuzz.sh --build-only), and CTest runs each for 20 s (label fuzz).
# Usage: scripts/test.sh [--build-dir DIR] [--no-sanitize] [--no-fuzz] [-L LABEL]
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

BUILD_DIR="$REPO_ROOT/build-test"
SANITIZE=ON
FUZZ=1
CTEST_ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --build-dir) BUILD_DIR="$2"; shift 2 ;;
        --no-sanitize) SANITIZE=OFF; shift ;;
        --no-fuzz) FUZZ=0; shift ;;
        -L) CTEST_ARGS+=(-L "$2"); shift 2 ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

install_packages "$REPO_ROOT/scripts/debian-packages.txt" "$REPO_ROOT/scripts/test-packages.txt"
source "$REPO_ROOT/scripts/lib/postgres.sh"
pg_ensure_installed   # PostgreSQL 15 + pgvector 0.8 for the `postgres` tests (their CTest fixture starts a cluster)
pgbouncer_ensure_installed   # PgBouncer for integration.pgbouncer (transaction pooling in front of that cluster)
"$REPO_ROOT/scripts/fetch-grammars.sh"
"$REPO_ROOT/scripts/fetch-e2e-deps.sh"   # the official MCP TypeScript SDK, for tests/e2e
source "$REPO_ROOT/scripts/lib/chroma.sh"
chroma_ensure_installed   # the pinned ChromaDB server for the `chroma` tests (their CTest fixture starts it)

FUZZ_BUILD_DIR=""
if [ "$FUZZ" = 1 ]; then
    FUZZ_BUILD_DIR="$REPO_ROOT/build-fuzz"
    "$REPO_ROOT/scripts/fuzz.sh" --build-only --build-dir "$FUZZ_BUILD_DIR"   # clang + libFuzzer; CTest runs them
fi

log "configuring $BUILD_DIR (sanitizers: $SANITIZE)"
cmake -S "$REPO_ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSIGNAL_HUB_WERROR=ON -DSIGNAL_HUB_SANITIZE="$SANITIZE" -DSIGNAL_HUB_BUILD_TESTS=ON \
    -DSIGNAL_HUB_FUZZ_BUILD_DIR="$FUZZ_BUILD_DIR" >/dev/null
log "building"
cmake --build "$BUILD_DIR" -j "$(build_jobs)"

log "running tests"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 900 -j "$(nproc)" "${CTEST_ARGS[@]}"
