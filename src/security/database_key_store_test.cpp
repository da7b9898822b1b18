#include "security/database_key_store.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <barrier>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "security/key_store_factory.hpp"
#include "security/keystores_test_util.hpp"
#include "security/memory_key_store.hpp"

// DatabaseKeyStore against the real PostgreSQL 15 of the CTest fixture `postgres` (label postgres).
// Each test uses a schema of its own. The KeyStore contract itself is the conformance suite's
// (KeyStoreConformance/*/database).
namespace signalhub::security {
namespace {

using keystoretest::PgSchema;
using keystoretest::QueryText;
using keystoretest::TestHasher;

CreateKeyRequest Request(std::string name) {
    CreateKeyRequest r;
    r.name = std::move(name);
    r.scopes = {Scope::kSearch};
    return r;
}

std::unique_ptr<DatabaseKeyStore> MustOpen(const PgSchema& schema, const Clock& clock,
                                           DatabaseKeyStoreOptions options = {}) {
    auto store = DatabaseKeyStore::Open(schema.StoreUrl(), TestHasher(), clock, options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
}

AuthFailure Why(KeyStore& store, const std::string& key) {
    AuthFailure failure = AuthFailure::kNone;
    auto r = store.Authenticate(key, &failure);
    if (!r.ok()) {
        EXPECT_EQ(r.status().code(), ErrorCode::kUnauthenticated) << r.status().ToString();
    }
    return failure;
}

TEST(DatabaseKeyStoreTest, TwoReplicasSeeEachOthersChangesAtOnce) {
    PgSchema schema;
    ASSERT_TRUE(schema.ok());
    FakeClock clock;
    auto a = MustOpen(schema, clock);
    auto b = MustOpen(schema, clock);
    ASSERT_TRUE(a && b);

    auto issued = a->Create(Request("ci"));
    ASSERT_TRUE(issued.ok()) << issued.status().ToString();
    EXPECT_EQ(Why(*b, issued->key), AuthFailure::kNone);  // created on A, accepted by B at once
    auto listed = b->List();
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].id, issued->record.id);

    auto rotated = b->Rotate(issued->record.id, 0);
    ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
    EXPECT_EQ(Why(*a, issued->key), AuthFailure::kWrongSecret);  // rotated on B, old secret refused by A
    EXPECT_EQ(Why(*a, rotated->key), AuthFailure::kNone);

    ASSERT_TRUE(b->Revoke(issued->record.id).ok());
    EXPECT_EQ(Why(*a, rotated->key), AuthFailure::kRevoked);  // revoked on B, refused by A at once
    EXPECT_EQ(a->Revoke(issued->record.id).status().code(), ErrorCode::kFailedPrecondition);
    // The name of the revoked key is free again, on either replica.
    EXPECT_TRUE(a->Create(Request("ci")).ok());
    EXPECT_EQ(b->Create(Request("ci")).status().code(), ErrorCode::kAlreadyExists);
}

TEST(DatabaseKeyStoreTest, ConcurrentCreatesOfOneNameGiveExactlyOneKey) {
    PgSchema schema;
    ASSERT_TRUE(schema.ok());
    FakeClock clock;
    auto a = MustOpen(schema, clock);
    auto b = MustOpen(schema, clock);
    ASSERT_TRUE(a && b);
    constexpr int kThreads = 8;
    std::barrier start(kThreads);
    std::vector<Status> results(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            KeyStore& store = i % 2 == 0 ? static_cast<KeyStore&>(*a) : static_cast<KeyStore&>(*b);
            start.arrive_and_wait();
            results[i] = store.Create(Request("deploy-bot")).status();
        });
    }
    for (auto& t : threads) t.join();
    int ok = 0, exists = 0;
    for (const Status& s : results) {
        if (s.ok()) ++ok;
        if (s.code() == ErrorCode::kAlreadyExists) {
            ++exists;
            EXPECT_NE(s.message().find("an API key named 'deploy-bot' exists"), std::string::npos) << s.message();
        }
    }
    EXPECT_EQ(ok, 1);
    EXPECT_EQ(exists, kThreads - 1);
    auto listed = a->List();
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(listed->size(), 1u);
    // The database itself enforces it: the partial unique index.
    EXPECT_EQ(QueryText(schema.server(), "SELECT indexdef FROM pg_indexes WHERE schemaname = '" + schema.name() +
                                             "' AND indexname = 'signal_hub_api_keys_active_name'"),
              "CREATE UNIQUE INDEX signal_hub_api_keys_active_name ON " + schema.name() +
                  ".signal_hub_api_keys USING btree (name) WHERE (revoked IS NULL)");
}

TEST(DatabaseKeyStoreTest, ConcurrentRevokesOfOneKeyGiveExactlyOneSuccess) {
    PgSchema schema;
    ASSERT_TRUE(schema.ok());
    FakeClock clock;
    auto a = MustOpen(schema, clock);
    auto b = MustOpen(schema, clock);
    ASSERT_TRUE(a && b);
    auto issued = a->Create(Request("x"));
    ASSERT_TRUE(issued.ok());
    constexpr int kThreads = 6;
    std::barrier start(kThreads);
    std::vector<Status> results(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            KeyStore& store = i % 2 == 0 ? static_cast<KeyStore&>(*a) : static_cast<KeyStore&>(*b);
            start.arrive_and_wait();
            results[i] = store.Revoke(issued->record.id).status();
        });
    }
    for (auto& t : threads) t.join();
    int ok = 0, precondition = 0;
    for (const Status& s : results) {
        ok += s.ok();
        precondition += s.code() == ErrorCode::kFailedPrecondition;
    }
    EXPECT_EQ(ok, 1);
    EXPECT_EQ(precondition, kThreads - 1);
}

TEST(DatabaseKeyStoreTest, SchemaIsCreatedOnceAndVersioned) {
    PgSchema schema;
    ASSERT_TRUE(schema.ok());
    FakeClock clock;
    // Several replicas starting at once: the advisory lock serialises the creation.
    std::vector<std::thread> threads;
    std::vector<Status> results(4);
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&, i] {
            results[i] = DatabaseKeyStore::Open(schema.StoreUrl(), TestHasher(), clock).status();
        });
    }
    for (auto& t : threads) t.join();
    for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
    const std::string table = "\"" + schema.name() + "\".signal_hub_api_key_migrations";
    EXPECT_EQ(QueryText(schema.server(), "SELECT string_agg(version::text, ',' ORDER BY version) FROM " + table),
              "1,2");

    // A database migrated by a newer build is refused, not misread.
    ASSERT_EQ(keystoretest::ExecSql(schema.server(), "INSERT INTO " + table + "(version, description) VALUES (3, 'x')"),
              "");
    auto newer = DatabaseKeyStore::Open(schema.StoreUrl(), TestHasher(), clock);
    ASSERT_FALSE(newer.ok());
    EXPECT_EQ(newer.status().code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(newer.status().message().find("newer than this build's 2"), std::string::npos)
        << newer.status().message();
}

TEST(DatabaseKeyStoreTest, AVersion1TableIsUpgradedWithItsKeys) {
    PgSchema schema;
    ASSERT_TRUE(schema.ok());
    FakeClock clock;
    IssuedKey issued;
    {
        auto store = MustOpen(schema, clock);
        ASSERT_TRUE(store);
        auto created = store->Create(Request("old"));
        ASSERT_TRUE(created.ok());
        issued = *created;
    }
    // Back to what a build of schema version 1 left behind.
    const std::string q = "\"" + schema.name() + "\".";
    ASSERT_EQ(keystoretest::ExecSql(schema.server(), "ALTER TABLE " + q + "signal_hub_api_keys DROP COLUMN rate_limit_rps, "
                                                     "DROP COLUMN rate_limit_burst; DELETE FROM " + q +
                                                     "signal_hub_api_key_migrations WHERE version = 2"),
              "");
    auto store = MustOpen(schema, clock);
    ASSERT_TRUE(store);
    EXPECT_EQ(QueryText(schema.server(), "SELECT string_agg(version::text, ',' ORDER BY version) FROM " + q +
                                             "signal_hub_api_key_migrations"),
              "1,2");
    auto auth = store->Authenticate(issued.key);
    ASSERT_TRUE(auth.ok()) << auth.status().ToString();
    EXPECT_FALSE(auth->record.rate_limit);
    auto limited = store->SetRateLimit(issued.record.id, KeyRateLimit{3, 9});
    ASSERT_TRUE(limited.ok()) << limited.status().ToString();
    EXPECT_EQ(store->Authenticate(issued.key)->record.rate_limit, (KeyRateLimit{3, 9}));
    // The table refuses half a limit whoever writes it.
    EXPECT_NE(keystoretest::ExecSql(schema.server(), "UPDATE " + q + "signal_hub_api_keys SET rate_limit_burst = NULL"),
              "");
}

TEST(DatabaseKeyStoreTest, RefusesKeysHashedWithAnotherPepper) {
    PgSchema schema;
    ASSERT_TRUE(schema.ok());
    FakeClock clock;
    ASSERT_TRUE(MustOpen(schema, clock));
    auto other = DatabaseKeyStore::Open(schema.StoreUrl(), TestHasher('q'), clock);
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.status().code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(other.status().message().find("another pepper"), std::string::npos) << other.status().message();
}

TEST(DatabaseKeyStoreTest, LastUsedIsWrittenAtMostOncePerInterval) {
    PgSchema schema;
    ASSERT_TRUE(schema.ok());
    FakeClock clock;
    auto a = MustOpen(schema, clock);
    auto b = MustOpen(schema, clock);
    ASSERT_TRUE(a && b);
    auto issued = a->Create(Request("busy"));
    ASSERT_TRUE(issued.ok());
    const std::string stored = "SELECT coalesce(last_used::text, 'null') FROM \"" + schema.name() +
                               "\".signal_hub_api_keys WHERE id = '" + issued->record.id + "'";
    const std::int64_t t0 = clock.UnixSeconds();

    auto first = a->Authenticate(issued->key);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->record.last_used, t0);
    EXPECT_EQ(QueryText(schema.server(), stored), std::to_string(t0));

    clock.Advance(std::chrono::seconds(30));
    auto again = b->Authenticate(issued->key);  // another replica, inside the interval: no write
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->record.last_used, t0 + 30);  // the caller still sees the time of this use
    ASSERT_TRUE(a->Authenticate(issued->key).ok());
    EXPECT_EQ(QueryText(schema.server(), stored), std::to_string(t0));

    clock.Advance(std::chrono::seconds(30));
    ASSERT_TRUE(b->Authenticate(issued->key).ok());
    EXPECT_EQ(QueryText(schema.server(), stored), std::to_string(t0 + 60));
    auto listed = a->List();
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ((*listed)[0].last_used, t0 + 60);

    // usage_write_interval 0: every use is written.
    auto eager = MustOpen(schema, clock, DatabaseKeyStoreOptions{.usage_write_interval = 0});
    ASSERT_TRUE(eager);
    clock.Advance(std::chrono::seconds(1));
    ASSERT_TRUE(eager->Authenticate(issued->key).ok());
    EXPECT_EQ(QueryText(schema.server(), stored), std::to_string(t0 + 61));
}

TEST(DatabaseKeyStoreTest, ReportsItsConnectionPool) {
    PgSchema schema;
    ASSERT_TRUE(schema.ok());
    FakeClock clock;
    auto store = DatabaseKeyStore::Open(keystoretest::WithParam(schema.StoreUrl(), "pool_size=2&max_overflow=3"),
                                        TestHasher(), clock);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto issued = (*store)->Create(Request("pooled"));
    ASSERT_TRUE(issued.ok()) << issued.status().ToString();
    EXPECT_EQ(Why(**store, issued->key), AuthFailure::kNone);
    // Through the KeyStore interface, as serve reads it for signal_hub_db_pool_*{pool="api_keys"}.
    const KeyStore& keys = **store;
    std::optional<PoolStats> stats = keys.pool_stats();
    ASSERT_TRUE(stats.has_value());
    EXPECT_EQ(stats->max_connections, 5u);
    EXPECT_EQ(stats->in_use, 0u);  // every operation gave its connection back
    EXPECT_GE(stats->idle, 1u);
    EXPECT_LE(stats->idle, 2u);
    EXPECT_EQ(stats->waiting, 0u);
    EXPECT_EQ(stats->acquire_timeouts, 0u);
    EXPECT_EQ(MemoryKeyStore(TestHasher(), clock).pool_stats(), std::nullopt);  // no pool, no stats
}

TEST(DatabaseKeyStoreTest, UnreachableServerIsUnavailableWithoutThePassword) {
    FakeClock clock;
    auto store = DatabaseKeyStore::Open("postgresql://keys:hunter2secret@127.0.0.1:1/x?connect_timeout=2",
                                        TestHasher(), clock);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), ErrorCode::kUnavailable) << store.status().ToString();
    EXPECT_EQ(store.status().message().find("hunter2secret"), std::string::npos);
}

TEST(DatabaseKeyStoreTest, FactoryOpensTheDatabaseStore) {
    PgSchema schema;
    ASSERT_TRUE(schema.ok());
    FakeClock clock;
    KeyStoreOptions options;
    options.storage = "database";
    options.database_url = schema.StoreUrl();
    auto store = OpenKeyStore(options, TestHasher(), clock);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto issued = (*store)->Create(Request("via-factory"));
    ASSERT_TRUE(issued.ok());
    EXPECT_EQ(Why(**store, issued->key), AuthFailure::kNone);
}

// Under the fixture a missing URL file must fail the test, never skip it.
TEST(DatabaseKeyStoreTest, MissingServerUrlIsAFailureNotASkip) {
    const char* saved_url = std::getenv("SIGNAL_HUB_TEST_PG_URL");
    const std::string saved = saved_url != nullptr ? saved_url : "";
    ::unsetenv("SIGNAL_HUB_TEST_PG_URL");
    const char* saved_file_env = std::getenv("SIGNAL_HUB_TEST_PG_URL_FILE");
    const std::string saved_file = saved_file_env != nullptr ? saved_file_env : "";
    ::setenv("SIGNAL_HUB_TEST_PG_URL_FILE", "/nonexistent/signal-hub-test/url", 1);
    EXPECT_NONFATAL_FAILURE((void)keystoretest::ServerUrl(), "no PostgreSQL URL in /nonexistent/signal-hub-test/url");
    ::unsetenv("SIGNAL_HUB_TEST_PG_URL_FILE");
    EXPECT_NONFATAL_FAILURE((void)keystoretest::ServerUrl(), "PostgreSQL tests need a server");
    if (!saved_file.empty()) ::setenv("SIGNAL_HUB_TEST_PG_URL_FILE", saved_file.c_str(), 1);
    if (!saved.empty()) ::setenv("SIGNAL_HUB_TEST_PG_URL", saved.c_str(), 1);
}

}  // namespace
}  // namespace signalhub::security
