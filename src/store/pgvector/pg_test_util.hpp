#pragma once
// Test helpers for the PostgreSQL-backed tests (label `postgres`): the server
// URL comes from SIGNAL_HUB_TEST_PG_URL, or from the file named by
// SIGNAL_HUB_TEST_PG_URL_FILE (written by the CTest fixture `postgres`). Each
// store lives in a schema of its own, dropped when the store is destroyed, so
// tests are hermetic and may run in parallel against one server.

#include <memory>
#include <string>

#include "db/postgres/pg_test_server.hpp"
#include "store/forwarding_store.hpp"
#include "store/vector_store.hpp"

namespace signalhub::store::pgtest {

using db::pgtest::ExecSql;
using db::pgtest::QueryValue;
using db::pgtest::ServerUrl;
using db::pgtest::UniqueSchema;
using db::pgtest::WithParam;

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
