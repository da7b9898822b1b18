# Helpers shared by every module: warnings, sanitizers, one static library per
# module, one test executable per module.

set(SIGNAL_HUB_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)
if(SIGNAL_HUB_WERROR)
  list(APPEND SIGNAL_HUB_WARNINGS -Werror)
endif()

if(SIGNAL_HUB_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  # GCC's documentation warns that -fsanitize=address makes -Wmaybe-uninitialized
  # report false positives (seen with std::optional<std::string> in GCC 12); the
  # non-sanitized -Werror build keeps the diagnostic.
  list(APPEND SIGNAL_HUB_WARNINGS -Wno-maybe-uninitialized)
  add_link_options(-fsanitize=address,undefined)
  # The test and benchmark programs' own sources compile at -O0 in a sanitizer build (the option comes
  # after the build type's -O, so it wins); everything they test keeps the build type's optimisation.
  # Instrumentation is the same at -O0; a gmock-heavy test file compiles in about half the time of -O1.
  # The benchmarks are only compiled here, to keep them building: bench/run.sh measures a Release build.
  # See ADR-19 (docs/architecture.md).
  set(SIGNAL_HUB_HARNESS_OPTIONS -O0)
else()
  set(SIGNAL_HUB_HARNESS_OPTIONS "")
endif()

# signal_hub_module(NAME SOURCES a.cpp ... DEPS lib ... [PRIVATE_DEPS lib ...])
# Creates static library sh_<NAME> with include root src/.
function(signal_hub_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(sh_${name} STATIC ${ARG_SOURCES})
  target_include_directories(sh_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(sh_${name} PRIVATE ${SIGNAL_HUB_WARNINGS})
  target_link_libraries(sh_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# Where the CTest fixture `postgres` (tests/CMakeLists.txt) keeps its throw-away cluster's URL.
set(SIGNAL_HUB_PG_TEST_STATE_DIR ${PROJECT_BINARY_DIR}/pg-test)
# Where the CTest fixture `chroma` keeps its throw-away ChromaDB server (data, pid, log, url).
set(SIGNAL_HUB_CHROMA_TEST_STATE_DIR ${PROJECT_BINARY_DIR}/chroma-test)
# Where the CTest fixture `redis` keeps its throw-away redis-server (pid, log, url with the password).
set(SIGNAL_HUB_REDIS_TEST_STATE_DIR ${PROJECT_BINARY_DIR}/redis-test)
# Where the CTest fixture `docker` keeps its Docker engine (socket, pid, env with DOCKER_HOST, build logs).
set(SIGNAL_HUB_DOCKER_TEST_STATE_DIR ${PROJECT_BINARY_DIR}/docker-test)

# The tests' source and build directories, for the few tests that open files of the tree: a generated
# header (#include "signal_hub_test_paths.hpp"), not a definition on every test's command line, so that
# only the files that use the paths depend on where the clone is (ccache shares the rest, ADR-19).
if(SIGNAL_HUB_BUILD_TESTS)
  string(CONCAT SIGNAL_HUB_TEST_PATHS "#pragma once\n"
         "#define SIGNAL_HUB_SOURCE_DIR \"@PROJECT_SOURCE_DIR@\"\n"
         "#define SIGNAL_HUB_BINARY_DIR \"@PROJECT_BINARY_DIR@\"\n")
  file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/generated/signal_hub_test_paths.hpp
       CONTENT "${SIGNAL_HUB_TEST_PATHS}" @ONLY)
endif()

# signal_hub_test(NAME SOURCES a_test.cpp ... DEPS lib ... [LABELS unit|integration] [TEST_FILTER gtest-filter])
# One GoogleTest executable; each TEST becomes its own CTest case. TEST_FILTER limits
# which tests get these LABELS (the rest can be discovered again with other properties).
function(signal_hub_test name)
  if(NOT SIGNAL_HUB_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "TEST_FILTER" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${SIGNAL_HUB_WARNINGS} ${SIGNAL_HUB_HARNESS_OPTIONS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_BINARY_DIR}/generated)
  if(ARG_TEST_FILTER)
    gtest_discover_tests(${name} TEST_FILTER "${ARG_TEST_FILTER}" PROPERTIES LABELS "${ARG_LABELS}" DISCOVERY_TIMEOUT 60)
  else()
    gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}" DISCOVERY_TIMEOUT 60)
  endif()
endfunction()
