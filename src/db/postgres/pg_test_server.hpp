#pragma once
// The PostgreSQL test server, for every test labelled `postgres` (store, key store, ...): its URL
// comes from SIGNAL_HUB_TEST_PG_URL, or from the file named by SIGNAL_HUB_TEST_PG_URL_FILE (written
// by the CTest fixture `postgres`); a test FAILS, never skips, without one. Plain libpq helpers,
// no dependency on the store; store/pgvector/pg_test_util.hpp adds the store-scoped ones.

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <optional>
#include <random>
#include <string>

namespace signalhub::db::pgtest {

// The test server's URL; a test failure (not a skip) when none is configured.
inline std::string ServerUrl() {
    if (const char* url = std::getenv("SIGNAL_HUB_TEST_PG_URL"); url != nullptr && *url != '\0') return url;
    if (const char* file = std::getenv("SIGNAL_HUB_TEST_PG_URL_FILE"); file != nullptr && *file != '\0') {
        std::ifstream in(file);
        std::string line;
        if (std::getline(in, line) && !line.empty()) return line;
        ADD_FAILURE() << "no PostgreSQL URL in " << file << " (did the CTest fixture postgres.cluster_start fail?)";
        return "";
    }
    ADD_FAILURE() << "PostgreSQL tests need a server: run them through `ctest -L postgres` (the fixture starts a "
                     "throw-away cluster) or set SIGNAL_HUB_TEST_PG_URL=postgresql://...";
    return "";
}

// A schema name no other test (or test process) uses: PREFIX<pid>_<n>_<random>.
inline std::string UniqueSchema(const std::string& prefix = "sh_test_") {
    static std::atomic<int> counter{0};
    std::random_device rd;
    return prefix + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + std::to_string(rd() % 100000);
}

inline std::string WithParam(const std::string& url, const std::string& param) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

// Runs SQL on a direct connection (outside the store); returns the error message or "".
inline std::string ExecSql(const std::string& url, const std::string& sql) {
    PGconn* conn = PQconnectdb(url.c_str());
    std::string error;
    if (PQstatus(conn) != CONNECTION_OK) {
        error = PQerrorMessage(conn);
    } else {
        PGresult* r = PQexec(conn, sql.c_str());
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) error = PQerrorMessage(conn);
        PQclear(r);
    }
    PQfinish(conn);
    return error;
}

// The first value of the first row of `sql` as text (nullopt on error or no rows).
inline std::optional<std::string> QueryValue(const std::string& url, const std::string& sql) {
    PGconn* conn = PQconnectdb(url.c_str());
    std::optional<std::string> out;
    if (PQstatus(conn) == CONNECTION_OK) {
        PGresult* r = PQexec(conn, sql.c_str());
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) out = std::string(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    PQfinish(conn);
    return out;
}

}  // namespace signalhub::db::pgtest
