#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan + libFuzzer)
# in their own build directory and runs each for N seconds on a temporary copy
# of its seed corpus (fuzz/corpus/<target>) with the shared dictionary.
# Exits non-zero when any target crashes, leaks, hits undefined behaviour, a
# timeout or the RSS limit; the reproducer is kept in
# <build-dir>/fuzz-artifacts/<target>/ (replay: <build-dir>/fuzz/<target> FILE).
# Usage: scripts/fuzz.sh [--seconds N] [--target NAME]... [--build-dir DIR]
#                        [--build-only | --run-only] [--jobs N]
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

SECONDS_PER_TARGET=30
BUILD_DIR="$REPO_ROOT/build-fuzz"
BUILD=1
RUN=1
JOBS=""
TARGETS=()
ALL_TARGETS=(http_request_fuzz jsonrpc_fuzz request_parsers_fuzz)
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_PER_TARGET="$2"; shift 2 ;;
        --target) TARGETS+=("$2"); shift 2 ;;
        --build-dir) BUILD_DIR="$2"; shift 2 ;;
        --build-only) RUN=0; shift ;;
        --run-only) BUILD=0; shift ;;
        --jobs) JOBS="$2"; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
case "$SECONDS_PER_TARGET" in ''|*[!0-9]*) die "--seconds takes a whole number (got '$SECONDS_PER_TARGET')" ;; esac

# Per target: the largest input tried (bytes). The HTTP target needs room for
# headers plus a JSON-RPC body; the header parsers see single header values.
max_len() {
    case "$1" in
        http_request_fuzz) echo 16384 ;;
        jsonrpc_fuzz) echo 8192 ;;
        *) echo 1024 ;;
    esac
}

if [ "$BUILD" = 1 ]; then
    install_packages "$REPO_ROOT/scripts/debian-packages.txt" "$REPO_ROOT/scripts/fuzz-packages.txt"
    "$REPO_ROOT/scripts/fetch-grammars.sh"
    # Warnings stay warnings here: -Werror is the GCC test build's job (clang warns differently).
    log "configuring $BUILD_DIR (clang, libFuzzer + ASan + UBSan)"
    # -O1, as in libFuzzer's documentation, and line tables only: crash reports keep
    # function, file and line, and the build takes far less time than -O2 -g (ADR-19).
    cmake -S "$REPO_ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
        -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DSIGNAL_HUB_FUZZ=ON -DSIGNAL_HUB_WERROR=OFF >/dev/null
    log "building ${TARGETS[*]}"
    cmake --build "$BUILD_DIR" -j "${JOBS:-$(build_jobs)}" --target "${TARGETS[@]}"
fi
[ "$RUN" = 1 ] || exit 0

export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
DICT="$REPO_ROOT/fuzz/signal_hub.dict"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/signal-hub-fuzz.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
failed=()
summary=()
for t in "${TARGETS[@]}"; do
    bin="$BUILD_DIR/fuzz/$t"
    [ -x "$bin" ] || die "$bin is missing: build it with scripts/fuzz.sh --build-only"
    mkdir -p "$WORK/$t" "$BUILD_DIR/fuzz-artifacts/$t"
    cp -R "$REPO_ROOT/fuzz/corpus/$t/." "$WORK/$t/"
    log "fuzzing $t for ${SECONDS_PER_TARGET}s (max_len $(max_len "$t"))"
    status=0
    "$bin" -max_total_time="$SECONDS_PER_TARGET" -max_len="$(max_len "$t")" -rss_limit_mb=2048 -timeout=10 \
        -dict="$DICT" -print_final_stats=1 -artifact_prefix="$BUILD_DIR/fuzz-artifacts/$t/" \
        "$WORK/$t" >"$WORK/$t.log" 2>&1 || status=$?
    done_line="$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$WORK/$t.log" | tail -1 || true)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$WORK/$t.log")"
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$t.log")"
    cov="$(sed -n 's/.* cov: \([0-9]*\).* ft: \([0-9]*\).* corp: \([0-9]*\).*/cov \1, ft \2, corpus \3/p' <<<"$done_line")"
    summary+=("$(printf '%-22s %10s runs %8s exec/s  %s' "$t" "${runs:-?}" "${rate:-?}" "${cov:-?}")")
    if [ "$status" != 0 ]; then
        cp "$WORK/$t.log" "$BUILD_DIR/fuzz-artifacts/$t/last-run.log"
        grep -E 'ERROR: |runtime error|SUMMARY|Test unit written' "$WORK/$t.log" | head -20 >&2 || true
        failed+=("$t")
        log "$t FAILED (exit $status); log and reproducer in $BUILD_DIR/fuzz-artifacts/$t/"
    fi
done
log "fuzz summary (${SECONDS_PER_TARGET}s each):"
printf '  %s\n' "${summary[@]}" >&2
if [ ${#failed[@]} -gt 0 ]; then
    die "fuzz targets failed: ${failed[*]}"
fi
