// Unit tests of the libpq layer's URL handling (no server needed), and of PgPool against the test
// server (PgPoolTest.*: label `postgres`, see src/db/postgres/CMakeLists.txt).

#include "db/postgres/pg_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "db/postgres/pg_replicas.hpp"
#include "db/postgres/pg_test_server.hpp"

namespace signalhub::db::pg {
namespace {

std::string Param(const PgUrl& url, const std::string& key) {
    auto it = std::find_if(url.libpq_params.begin(), url.libpq_params.end(),
                           [&](const auto& kv) { return kv.first == key; });
    return it == url.libpq_params.end() ? "" : it->second;
}

TEST(PgUrl, SplitsStoreParametersFromLibpqOnes) {
    auto url = ParsePgUrl(
        "postgresql://app:s3cret@db.example:6543/signal?sslmode=disable&schema=hub&pool_size=3&max_overflow=0&"
        "pool_timeout=1.5");
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    EXPECT_EQ(url->schema, "hub");
    EXPECT_EQ(url->pool_size, 3u);
    EXPECT_EQ(url->max_overflow, 0u);
    EXPECT_EQ(url->pool_timeout.count(), 1500);
    EXPECT_EQ(url->endpoint, "db.example:6543");
    EXPECT_EQ(url->database, "signal");
    EXPECT_EQ(Param(*url, "sslmode"), "disable");
    EXPECT_EQ(Param(*url, "user"), "app");
    EXPECT_EQ(Param(*url, "client_encoding"), "UTF8");
    EXPECT_EQ(Param(*url, "schema"), "");

    auto defaults = ParsePgUrl("postgres://localhost/db");
    ASSERT_TRUE(defaults.ok());
    EXPECT_EQ(defaults->schema, "public");
    EXPECT_EQ(defaults->pool_size, 5u);
    EXPECT_EQ(defaults->max_overflow, 10u);
    EXPECT_EQ(defaults->endpoint, "localhost:5432");
    EXPECT_FALSE(defaults->hnsw_m.has_value());
    auto tuned = ParsePgUrl("postgres://localhost/db?hnsw_m=24&hnsw_ef_construction=300");
    ASSERT_TRUE(tuned.ok()) << tuned.status().ToString();
    EXPECT_EQ(tuned->hnsw_m, 24);
    EXPECT_EQ(tuned->hnsw_ef_construction, 300);
}

// TLS to PostgreSQL is libpq's: the ssl* parameters reach PQconnectdbParams unchanged.
TEST(PgUrl, TlsParametersPassThroughToLibpq) {
    auto url = ParsePgUrl(
        "postgresql://app@db.example/signal?sslmode=verify-full&sslrootcert=/certs/ca.pem&sslcert=/certs/client.crt&"
        "sslkey=/certs/client.key&schema=hub");
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    EXPECT_EQ(Param(*url, "sslmode"), "verify-full");
    EXPECT_EQ(Param(*url, "sslrootcert"), "/certs/ca.pem");
    EXPECT_EQ(Param(*url, "sslcert"), "/certs/client.crt");
    EXPECT_EQ(Param(*url, "sslkey"), "/certs/client.key");
    EXPECT_EQ(url->schema, "hub");
}

TEST(PgUrl, BadUrlsAreInvalidArgumentWithoutThePassword) {
    for (const std::string url : {"postgresql://u:hunter2@h/db?pool_size=0", "postgresql://u:hunter2@h/db?bogus=1",
                                  "postgresql://u:hunter2@h:notaport/db", "postgresql://u:hunter2@h/db?pool_timeout=-1",
                                  "postgresql://u:hunter2@h/db?schema=", "postgresql://u:hunter2@h/db?max_overflow=x",
                                  "postgresql://u:hunter2@h/db?schema=%zz", "postgresql://u:hunter2@h/db?hnsw_m=1",
                                  "postgresql://u:hunter2@h/db?hnsw_m=101", "postgresql://u:hunter2@h/db?hnsw_ef_construction=1001",
                                  "postgresql://u:hunter2@h/db?hnsw_m=32&hnsw_ef_construction=40"}) {
        auto parsed = ParsePgUrl(url);
        ASSERT_FALSE(parsed.ok()) << url;
        EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument) << url;
        EXPECT_THAT(parsed.status().message(), testing::Not(testing::HasSubstr("hunter2"))) << url;
    }
}

TEST(PgUrl, ReadReplicaParametersAreTheStoresOwn) {
    auto url = ParsePgUrl(
        "postgresql://app@primary:5432/hub?read_url=postgresql%3A%2F%2Fapp%40r1%3A5433%2Fhub%3Fsslmode%3Drequire&"
        "read_url=postgres%3A%2F%2Fr2%2Fhub&max_replica_lag=2.5&replica_check_interval=0.25");
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    EXPECT_THAT(url->read_urls, ::testing::ElementsAre("postgresql://app@r1:5433/hub?sslmode=require", "postgres://r2/hub"));
    EXPECT_EQ(url->max_replica_lag, 2.5);
    EXPECT_EQ(url->replica_check_interval, 0.25);
    EXPECT_EQ(Param(*url, "read_url"), "");
    auto defaults = ParsePgUrl("postgresql://app@primary/hub");
    ASSERT_TRUE(defaults.ok());
    EXPECT_TRUE(defaults->read_urls.empty());
    EXPECT_EQ(defaults->max_replica_lag, 30);
    EXPECT_EQ(defaults->replica_check_interval, 5);
    for (const char* bad : {"?max_replica_lag=0", "?max_replica_lag=x", "?replica_check_interval=-1",
                            "?read_url=http%3A%2F%2Fr1"}) {
        auto r = ParsePgUrl(std::string("postgresql://app@primary/hub") + bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << bad;
    }
}

TEST(PgUrl, MultiHostUrlsKeepEveryHost) {
    auto url = ParsePgUrl("postgresql://app@10.0.0.1:5432,10.0.0.2:5433/hub?target_session_attrs=read-write");
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    EXPECT_EQ(Param(*url, "host"), "10.0.0.1,10.0.0.2");
    EXPECT_EQ(Param(*url, "port"), "5432,5433");
    EXPECT_EQ(Param(*url, "target_session_attrs"), "read-write");
    EXPECT_EQ(url->endpoint, "10.0.0.1:5432,10.0.0.2:5433");
    auto mixed = ParsePgUrl("postgresql://app@a,b:6000/hub");
    ASSERT_TRUE(mixed.ok()) << mixed.status().ToString();
    EXPECT_EQ(mixed->endpoint, "a:5432,b:6000");
    auto one_port = ParsePgUrl("postgresql://app@/hub?host=a,b&port=6000");
    ASSERT_TRUE(one_port.ok()) << one_port.status().ToString();
    EXPECT_EQ(one_port->endpoint, "a:6000,b:6000");
}

TEST(PgUrl, QuoteIdentDoublesQuotes) {
    EXPECT_EQ(QuoteIdent("a\"b"), "\"a\"\"b\"");
    EXPECT_EQ(QuoteIdent("plain"), "\"plain\"");
}

// ---- PgPool against the test server ------------------------------------------

PgUrl PoolUrl(const std::string& params) {
    auto url = ParsePgUrl(pgtest::WithParam(pgtest::ServerUrl(), params));
    EXPECT_TRUE(url.ok()) << url.status().ToString();
    return url.ok() ? *url : PgUrl{};
}

void ExpectStats(const PgPool& pool, size_t idle, size_t in_use, size_t waiting, std::uint64_t timeouts) {
    const PoolStats s = pool.Stats();
    EXPECT_EQ(s.idle, idle);
    EXPECT_EQ(s.in_use, in_use);
    EXPECT_EQ(s.waiting, waiting);
    EXPECT_EQ(s.acquire_timeouts, timeouts);
}

TEST(PgPoolTest, StatsCountIdleAndLeasedConnections) {
    PgPool pool(PoolUrl("pool_size=2&max_overflow=1"));
    EXPECT_EQ(pool.Stats().max_connections, 3u);
    ExpectStats(pool, 0, 0, 0, 0);
    std::vector<PgPool::Lease> leases;
    for (size_t n = 1; n <= 3; ++n) {
        auto lease = pool.Acquire();
        ASSERT_TRUE(lease.ok()) << lease.status().ToString();
        leases.push_back(std::move(lease).value());
        ExpectStats(pool, 0, n, 0, 0);
    }
    leases.pop_back();
    ExpectStats(pool, 1, 2, 0, 0);  // kept: fewer than pool_size idle
    leases.clear();
    ExpectStats(pool, 2, 0, 0, 0);  // the overflow connection was closed
    EXPECT_EQ(pool.open_connections(), 2u);
    auto again = pool.Acquire();
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->fresh());
    ExpectStats(pool, 1, 1, 0, 0);
}

TEST(PgPoolTest, StatsCountAcquireTimeouts) {
    PgPool pool(PoolUrl("pool_size=1&max_overflow=0&pool_timeout=0.05"));
    auto held = pool.Acquire();
    ASSERT_TRUE(held.ok());
    for (std::uint64_t n = 1; n <= 2; ++n) {
        auto refused = pool.Acquire();
        EXPECT_EQ(refused.status().code(), ErrorCode::kResourceExhausted) << refused.status().ToString();
        ExpectStats(pool, 0, 1, 0, n);
    }
    held->Release();
    ExpectStats(pool, 1, 0, 0, 2);
    auto ok = pool.Acquire();
    EXPECT_TRUE(ok.ok());
    ExpectStats(pool, 0, 1, 0, 2);  // a successful Acquire is no timeout
}

TEST(PgPoolTest, StatsCountCallersWaitingForAConnection) {
    // pool_timeout only bounds the test if the waiter is never seen waiting.
    PgPool pool(PoolUrl("pool_size=1&max_overflow=0&pool_timeout=60"));
    std::optional<PgPool::Lease> held;
    {
        auto lease = pool.Acquire();
        ASSERT_TRUE(lease.ok());
        held.emplace(std::move(lease).value());
    }
    std::atomic<bool> done{false};
    Status waited;
    std::thread waiter([&] {
        auto lease = pool.Acquire();
        waited = lease.status();
        done = true;
    });
    while (pool.Stats().waiting == 0 && !done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_FALSE(done.load()) << "the waiter returned before it was counted: " << waited.ToString();
    ExpectStats(pool, 0, 1, 1, 0);
    held.reset();  // hands the connection to the waiter
    waiter.join();
    EXPECT_TRUE(waited.ok()) << waited.ToString();
    ExpectStats(pool, 1, 0, 0, 0);  // the waiter's lease ended with its thread
}

// PgPool::Run, the retry rule the store and the API key store share: a reused connection that
// breaks before anything was committed is replaced and the operation runs once more; one that
// breaks after a COMMIT was sent is not retried.
TEST(PgPoolTest, RunRetriesOnceOnAReusedConnectionThatBroke) {
    PgPool pool(PoolUrl("pool_size=1&max_overflow=0"));
    ASSERT_TRUE(pool.Acquire().ok());  // the next lease reuses this connection
    int calls = 0;
    auto value = pool.Run([&](PgConn& c) -> Result<std::int64_t> {
        if (++calls == 1) return c.Query("SELECT pg_terminate_backend(pg_backend_pid())").status();
        SH_ASSIGN_OR_RETURN(PgResult r, c.Query("SELECT 7::int8"));
        return r.Int8(0, 0);
    });
    ASSERT_TRUE(value.ok()) << value.status().ToString();
    EXPECT_EQ(*value, 7);
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(pool.retries(), 1);

    calls = 0;
    Status committed = pool.Run([&](PgConn& c) -> Status {
        ++calls;
        SH_RETURN_IF_ERROR(c.Exec("BEGIN"));
        SH_ASSIGN_OR_RETURN(PgResult pid, c.Query("SELECT pg_backend_pid()::int8"));
        EXPECT_EQ(pgtest::ExecSql(pgtest::ServerUrl(),
                                  "SELECT pg_terminate_backend(" + std::to_string(pid.Int8(0, 0)) + ")"),
                  "");
        return c.Exec("COMMIT");
    });
    EXPECT_FALSE(committed.ok());
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(pool.retries(), 1);
}

// EstimateLag: caught up is 0 and remembered; behind, the lag is the smaller of the replayed commit's
// age and the time since the checker last saw it caught up; a restart (new start time) forgets that.
TEST(ReplicaLag, BehindIsBoundedByLastReplayAndLastCaughtUp) {
    using std::chrono::seconds;
    const auto t0 = std::chrono::steady_clock::time_point{} + seconds(1000);
    LagMemory memory;
    // Never replayed a commit, never seen caught up: unknown.
    EXPECT_FALSE(EstimateLag({.caught_up = false, .replay_age = {}, .started = 5}, memory, t0).has_value());
    EXPECT_EQ(EstimateLag({.caught_up = true, .replay_age = {}, .started = 5}, memory, t0), 0.0);
    // An idle hour, then a write not replayed yet: bounded by the last caught-up check, 0.5 s ago.
    EXPECT_EQ(EstimateLag({.caught_up = false, .replay_age = 3600.0, .started = 5}, memory,
                          t0 + std::chrono::milliseconds(500)),
              0.5);
    // No commit replayed since the start, behind for 7 s since last seen caught up.
    EXPECT_EQ(EstimateLag({.caught_up = false, .replay_age = {}, .started = 5}, memory, t0 + seconds(7)), 7.0);
    // A recent replayed commit is the tighter bound.
    EXPECT_EQ(EstimateLag({.caught_up = false, .replay_age = 2.0, .started = 5}, memory, t0 + seconds(7)), 2.0);
    // Restarted (another start time): what was seen before the restart no longer counts.
    EXPECT_FALSE(EstimateLag({.caught_up = false, .replay_age = {}, .started = 9}, memory, t0 + seconds(8)).has_value());
    EXPECT_EQ(EstimateLag({.caught_up = false, .replay_age = 40.0, .started = 9}, memory, t0 + seconds(8)), 40.0);
    // Clock skew between the servers can make the age negative: never below 0.
    EXPECT_EQ(EstimateLag({.caught_up = false, .replay_age = -1.0, .started = 9}, memory, t0 + seconds(9)), 0.0);
}

// A server not in recovery (the test server is a primary) has lag 0 and is up; a replica URL nobody
// listens on is down with no lag, and Pick() then has nothing to offer.
TEST(PgPoolTest, ReplicaSetChecksReachabilityAndLag) {
    auto primary = ParsePgUrl(pgtest::ServerUrl());
    ASSERT_TRUE(primary.ok()) << primary.status().ToString();
    primary->read_urls = {pgtest::ServerUrl()};
    auto set = PgReplicaSet::Create(*primary, false);
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    (*set)->CheckAll();
    auto stats = (*set)->Stats();
    ASSERT_EQ(stats.size(), 1u);
    EXPECT_TRUE(stats[0].up);
    ASSERT_TRUE(stats[0].lag_seconds.has_value());
    EXPECT_EQ(*stats[0].lag_seconds, 0.0);
    PgPool* pool = (*set)->Pick();
    ASSERT_NE(pool, nullptr);
    (*set)->MarkDown(pool);
    EXPECT_EQ((*set)->Pick(), nullptr);
    (*set)->CheckAll();
    EXPECT_EQ((*set)->Pick(), pool);

    // Port 1: nothing listens there (connection refused at once).
    primary->read_urls = {"postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"};
    auto down = PgReplicaSet::Create(*primary, false);
    ASSERT_TRUE(down.ok()) << down.status().ToString();
    (*down)->CheckAll();
    auto dstats = (*down)->Stats();
    ASSERT_EQ(dstats.size(), 1u);
    EXPECT_FALSE(dstats[0].up);
    EXPECT_FALSE(dstats[0].lag_seconds.has_value());
    EXPECT_EQ(dstats[0].replica, "127.0.0.1:1");
    EXPECT_EQ((*down)->Pick(), nullptr);

    primary->read_urls = {"postgresql://x@h/db?read_url=postgresql%3A%2F%2Fy"};
    auto nested = PgReplicaSet::Create(*primary, false);
    ASSERT_FALSE(nested.ok());
    EXPECT_EQ(nested.status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace signalhub::db::pg
