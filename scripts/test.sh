#!/usr/bin/env bash
# README command 2 (and CI): installs what the tests need, builds with
# -Werror under AddressSanitizer + UndefinedBehaviorSanitizer, and runs the
# whole CTest suite (unit, postgres, chroma, redis, integration, end-to-end and
# fuzz tests). The fuzz targets need clang: they are built in build-fuzz/
# (scripts/fuzz.sh --build-only) at the same time as the GCC test build, and
# CTest runs each for 20 s (label fuzz). Prints each phase's time before the tests.
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
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

phase "Debian packages" "installing Debian packages"
install_packages "$REPO_ROOT/scripts/debian-packages.txt" "$REPO_ROOT/scripts/test-packages.txt" \
    "$REPO_ROOT/scripts/deploy-packages.txt"
source "$REPO_ROOT/scripts/lib/postgres.sh"
phase "pgvector, pgbouncer" "PostgreSQL 15 + pgvector 0.8, PgBouncer"
pg_ensure_installed   # PostgreSQL 15 + pgvector 0.8 for the `postgres` tests (their CTest fixture starts a cluster)
pgbouncer_ensure_installed   # PgBouncer for integration.pgbouncer (transaction pooling in front of that cluster)
phase "npm: grammars, MCP SDK, ChromaDB" "npm packages: tree-sitter grammars, the MCP SDK, ChromaDB"
"$REPO_ROOT/scripts/fetch-grammars.sh"
"$REPO_ROOT/scripts/fetch-e2e-deps.sh"   # the official MCP TypeScript SDK, for tests/e2e
source "$REPO_ROOT/scripts/lib/chroma.sh"
chroma_ensure_installed   # the pinned ChromaDB server for the `chroma` tests (their CTest fixture starts it)

# The clang fuzz build and the GCC test build share the cores: each leaves gaps (a long translation
# unit at its end, links, test discovery) that the other fills. The fuzz build's output goes to
# build-fuzz/build.log, shown when it fails.
FUZZ_BUILD_DIR=""
FUZZ_PID=""
if [ "$FUZZ" = 1 ]; then
    FUZZ_BUILD_DIR="$REPO_ROOT/build-fuzz"
    mkdir -p "$FUZZ_BUILD_DIR"
    "$REPO_ROOT/scripts/fuzz.sh" --build-only --build-dir "$FUZZ_BUILD_DIR" >"$FUZZ_BUILD_DIR/build.log" 2>&1 &
    FUZZ_PID=$!
    trap '[ -z "$FUZZ_PID" ] || kill "$FUZZ_PID" 2>/dev/null || true' EXIT
fi

# -O1 -g1 (line tables: sanitizer reports keep function, file and line) instead of RelWithDebInfo's
# -O2 -g: GCC's full debug information costs more than the optimiser on this code (ADR-19).
phase "build (GCC test + clang fuzz)" "configuring $BUILD_DIR (sanitizers: $SANITIZE) and building"
cmake -S "$REPO_ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DSIGNAL_HUB_WERROR=ON -DSIGNAL_HUB_SANITIZE="$SANITIZE" -DSIGNAL_HUB_BUILD_TESTS=ON \
    -DSIGNAL_HUB_FUZZ_BUILD_DIR="$FUZZ_BUILD_DIR" >/dev/null
cmake --build "$BUILD_DIR" -j "$(build_jobs)"
if [ -n "$FUZZ_PID" ]; then
    log "waiting for the fuzz build ($FUZZ_BUILD_DIR/build.log)"
    if ! wait "$FUZZ_PID"; then
        FUZZ_PID=""
        tail -n 40 "$FUZZ_BUILD_DIR/build.log" >&2
        die "the fuzz build failed (whole log: $FUZZ_BUILD_DIR/build.log)"
    fi
    FUZZ_PID=""
fi

phase "tests" "running tests"
phase_table
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 900 -j "$(nproc)" "${CTEST_ARGS[@]}"
