# Every dependency comes from a Debian package (scripts/setup.sh installs them)
# except the tree-sitter grammar sources, which come from npm (third_party/).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(GTest REQUIRED)
include(GoogleTest)
find_package(SQLite3 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(fmt REQUIRED)
find_package(Boost 1.74 REQUIRED)
pkg_check_modules(TREE_SITTER REQUIRED IMPORTED_TARGET tree-sitter)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
# Xapian (lexical index of the embedded store, ADR-28).
pkg_check_modules(XAPIAN REQUIRED IMPORTED_TARGET xapian-core)
# libzstd (Debian libzstd-dev) for compressed export files (signal-hub migrate).
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
# libpq (Debian libpq-dev) for the postgresql:// store; imported, so its headers are SYSTEM includes.
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
# hiredis (Debian libhiredis-dev 0.14, no TLS) for the Redis rate limiter and query cache (sh_redis).
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
find_package(benchmark QUIET)

# hnswlib is header-only; mark it SYSTEM so -Werror applies to our code only.
find_path(HNSWLIB_INCLUDE_DIR hnswlib/hnswlib.h REQUIRED)
add_library(hnswlib INTERFACE)
target_include_directories(hnswlib SYSTEM INTERFACE ${HNSWLIB_INCLUDE_DIR})
