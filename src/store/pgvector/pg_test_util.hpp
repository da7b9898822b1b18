#pragma once
// Test helpers for the PostgreSQL-backed tests (label `postgres`): the server
// URL comes from SIGNAL_HUB_TEST_PG_URL, or from the file named by
// SIGNAL_HUB_TEST_PG_URL_FILE (written by the CTest fixture `postgres`). Each
// store lives in a schema of its own, dropped when the store is destroyed, so
// tests are hermetic and may run in parallel against one server.

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "store/forwarding_store.hpp"
#include "store/vector_store.hpp"

namespace signalhub::store::pgtest {

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

inline std::string UniqueSchema() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    return "sh_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + std::to_string(rd() % 100000);
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

// Forwards to a store and drops its schema when destroyed.
class SchemaScopedStore final : public ForwardingStore {
   public:
    SchemaScopedStore(std::unique_ptr<VectorStore> store, std::string server_url, std::string schema)
        : ForwardingStore(*store),
          store_(std::move(store)),
          server_url_(std::move(server_url)),
          schema_(std::move(schema)) {}
    ~SchemaScopedStore() override {
        store_.reset();
        std::string error = ExecSql(server_url_, "DROP SCHEMA IF EXISTS \"" + schema_ + "\" CASCADE");
        EXPECT_EQ(error, "") << "dropping test schema " << schema_;
    }

   private:
    std::unique_ptr<VectorStore> store_;
    std::string server_url_;
    std::string schema_;
};

// A fresh store in a new schema of the test server (nullptr and a test failure when impossible).
inline std::unique_ptr<VectorStore> OpenFreshStore() {
    const std::string server = ServerUrl();
    if (server.empty()) return nullptr;
    const std::string schema = UniqueSchema();
    auto store = OpenStore(WithParam(server, "schema=" + schema), OpenOptions{});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    return std::make_unique<SchemaScopedStore>(std::move(store).value(), server, schema);
}

}  // namespace signalhub::store::pgtest
