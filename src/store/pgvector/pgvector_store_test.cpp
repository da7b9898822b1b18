// PgVectorStore behaviour beyond the conformance suite: schema versioning, the
// extension precondition, read-only opens, the pool's reconnects and limits, BM25
// parity with the other backends, glob filtering in SQL. Needs a server (label
// `postgres`); each test works in a schema of its own.

#include "store/pgvector/pgvector_store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "db/postgres/pg_client.hpp"
#include "signal_hub_test_paths.hpp"
#include "store/memory_store.hpp"
#include "store/pgvector/glob_regex.hpp"
#include "store/pgvector/pg_test_util.hpp"
#include "store/restricted_store.hpp"

namespace signalhub::store {
namespace {

using pgtest::ExecSql;
using pgtest::QueryValue;
using pgtest::WithParam;

class PgVectorStoreTest : public testing::Test {
   protected:
    void SetUp() override {
        server_ = pgtest::ServerUrl();
        ASSERT_FALSE(server_.empty());
        schema_ = pgtest::UniqueSchema();
        url_ = WithParam(server_, "schema=" + schema_ + "&application_name=" + schema_);
    }
    void TearDown() override {
        if (!server_.empty()) {
            EXPECT_EQ(ExecSql(server_, "DROP SCHEMA IF EXISTS \"" + schema_ + "\" CASCADE"), "");
        }
    }
    std::unique_ptr<PgVectorStore> MustOpen(const std::string& extra = "", bool read_only = false) {
        auto store = PgVectorStore::Open(extra.empty() ? url_ : WithParam(url_, extra), OpenOptions{.read_only = read_only});
        EXPECT_TRUE(store.ok()) << store.status().ToString();
        return store.ok() ? std::move(store).value() : nullptr;
    }
    std::string Table(const std::string& name) const { return "\"" + schema_ + "\"." + name; }

    std::string server_, schema_, url_;
};

Record MakeRecord(const std::string& id, std::vector<float> v, const std::string& path, const std::string& lang,
                  const std::string& doc) {
    Record r;
    r.id = id;
    r.embedding = std::move(v);
    r.document = doc;
    r.metadata["file_path"] = path;
    r.metadata["language"] = lang;
    return r;
}

TEST_F(PgVectorStoreTest, CreatesAVersionedSchemaOnceAndReopens) {
    {
        auto store = MustOpen();
        ASSERT_NE(store, nullptr);
        ASSERT_TRUE(store->EnsureCollection({"c", "m", 2, DistanceMetric::kCosine}).ok());
        ASSERT_TRUE(store->Commit("c", ChangeSet{.upserts = {MakeRecord("a", {1, 0}, "a.py", "python", "alpha")}}).ok());
    }
    EXPECT_EQ(QueryValue(server_, "SELECT string_agg(version::text, ',') FROM " + Table("signal_hub_schema_migrations")),
              std::optional<std::string>("1"));
    auto again = MustOpen();  // idempotent: no second migration, data still there
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(QueryValue(server_, "SELECT count(*) FROM " + Table("signal_hub_schema_migrations")),
              std::optional<std::string>("1"));
    EXPECT_EQ(again->GetCollection("c")->records, 1);
    EXPECT_TRUE(again->CheckHealth().ok());
    // Opening concurrently from several threads (replicas starting together) is safe.
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&] {
            if (!PgVectorStore::Open(url_, OpenOptions{}).ok()) failures++;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
}

// postgresql://USER:PASSWORD@HOST:PORT/DATABASE on the test server (user and password
// default to the server URL's).
std::string UrlFor(const std::string& server, const std::string& database, std::string user = "",
                   std::string password = "") {
    auto parsed = db::pg::ParsePgUrl(server);
    EXPECT_TRUE(parsed.ok());
    std::string host = "127.0.0.1", port = "5432";
    for (const auto& [k, v] : parsed->libpq_params) {
        if (k == "host") host = v;
        if (k == "port") port = v;
        if (k == "user" && user.empty()) user = v;
        if (k == "password" && password.empty()) password = v;
    }
    auto encode = [](const std::string& in) {
        std::string out;
        for (unsigned char c : in) {
            if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
                out += static_cast<char>(c);
            } else {
                char buf[4];
                std::snprintf(buf, sizeof buf, "%%%02X", c);
                out += buf;
            }
        }
        return out;
    };
    return "postgresql://" + encode(user) + (password.empty() ? "" : ":" + encode(password)) + "@" + host + ":" +
           port + "/" + database;
}

// Replicas starting together on a database without the extension: it is created once, every
// open succeeds.
TEST_F(PgVectorStoreTest, ConcurrentFirstOpensCreateTheExtensionOnce) {
    const std::string database = "sh_fresh_" + pgtest::UniqueSchema().substr(8);
    ASSERT_EQ(ExecSql(server_, "CREATE DATABASE " + database), "");
    {
        std::vector<std::thread> threads;
        std::vector<Status> results(6);
        for (size_t i = 0; i < results.size(); ++i) {
            threads.emplace_back([&, i] {
                const std::string schema = i % 2 == 0 ? "public" : "s" + std::to_string(i);
                results[i] = PgVectorStore::Open(UrlFor(server_, database) + "?schema=" + schema, OpenOptions{}).status();
            });
        }
        for (auto& t : threads) t.join();
        for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.ToString();
    }
    EXPECT_EQ(QueryValue(UrlFor(server_, database), "SELECT count(*) FROM pg_extension WHERE extname = 'vector'"),
              std::optional<std::string>("1"));
    EXPECT_EQ(ExecSql(server_, "DROP DATABASE " + database + " WITH (FORCE)"), "");
}

TEST_F(PgVectorStoreTest, NewerSchemaIsRefusedAndHealthSaysSo) {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_EQ(ExecSql(server_, "INSERT INTO " + Table("signal_hub_schema_migrations") +
                                   "(version, description) VALUES (99, 'from the future')"),
              "");
    Status health = store->CheckHealth();
    EXPECT_EQ(health.code(), ErrorCode::kFailedPrecondition);
    EXPECT_THAT(health.message(), testing::HasSubstr("99"));
    auto reopened = PgVectorStore::Open(url_, OpenOptions{});
    ASSERT_FALSE(reopened.ok());
    EXPECT_EQ(reopened.status().code(), ErrorCode::kFailedPrecondition);
    EXPECT_THAT(reopened.status().message(), testing::HasSubstr("newer"));
}

TEST_F(PgVectorStoreTest, ReadOnlyOpenNeedsAStoreAndRefusesWrites) {
    auto missing = PgVectorStore::Open(url_, OpenOptions{.read_only = true});
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(QueryValue(server_, "SELECT count(*) FROM pg_namespace WHERE nspname = '" + schema_ + "'"),
              std::optional<std::string>("0"));  // a reader creates nothing
    auto writer = MustOpen();
    ASSERT_NE(writer, nullptr);
    ASSERT_TRUE(writer->EnsureCollection({"c", "m", 2, DistanceMetric::kCosine}).ok());
    ASSERT_TRUE(writer->Commit("c", ChangeSet{.upserts = {MakeRecord("a", {1, 0}, "a.py", "python", "alpha")}}).ok());
    auto reader = MustOpen("", true);
    ASSERT_NE(reader, nullptr);
    std::vector<float> q{1, 0};
    EXPECT_EQ(reader->VectorSearch("c", q, {})->size(), 1u);
    EXPECT_EQ(reader->Commit("c", ChangeSet{.delete_ids = {"a"}}).code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(reader->DropCollection("c").code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(reader->EnsureCollection({"d", "m", 2, DistanceMetric::kCosine}).status().code(),
              ErrorCode::kFailedPrecondition);
    EXPECT_TRUE(reader->EnsureCollection({"c", "m", 2, DistanceMetric::kCosine}).ok());
    // Another open (another replica) sees the writer's commits and data version.
    const std::int64_t before = *reader->DataVersion();
    ASSERT_TRUE(writer->Commit("c", ChangeSet{.upserts = {MakeRecord("b", {0, 1}, "b.py", "python", "beta")}}).ok());
    EXPECT_GT(*reader->DataVersion(), before);
    EXPECT_EQ(reader->GetCollection("c")->records, 2);
}

TEST_F(PgVectorStoreTest, MissingExtensionIsAFailedPreconditionSayingWhatToRun) {
    // A database without the extension, and a role that may not create it.
    const std::string name = "sh_noext_" + pgtest::UniqueSchema().substr(8);
    ASSERT_EQ(ExecSql(server_, "CREATE ROLE " + name + " LOGIN PASSWORD 'pw-" + name + "'"), "");
    ASSERT_EQ(ExecSql(server_, "CREATE DATABASE " + name + " OWNER " + name), "");
    auto store = PgVectorStore::Open(UrlFor(server_, name, name, "pw-" + name), OpenOptions{});
    EXPECT_EQ(ExecSql(server_, "DROP DATABASE " + name), "");
    EXPECT_EQ(ExecSql(server_, "DROP ROLE " + name), "");
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), ErrorCode::kFailedPrecondition) << store.status().ToString();
    EXPECT_THAT(store.status().message(), testing::HasSubstr("CREATE EXTENSION IF NOT EXISTS vector"));
    EXPECT_THAT(store.status().message(), testing::HasSubstr("superuser"));
    EXPECT_THAT(store.status().message(), testing::Not(testing::HasSubstr("pw-")));
}

TEST_F(PgVectorStoreTest, ReconnectsAfterItsConnectionsAreTerminated) {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->EnsureCollection({"c", "m", 2, DistanceMetric::kCosine}).ok());
    ASSERT_TRUE(store->Commit("c", ChangeSet{.upserts = {MakeRecord("a", {1, 0}, "a.py", "python", "alpha")}}).ok());
    for (int round = 0; round < 3; ++round) {
        // What a server restart or a failover does to the pool's idle connections.
        auto killed = QueryValue(server_, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                                          "application_name = '" + schema_ + "'");
        ASSERT_TRUE(killed.has_value());
        EXPECT_NE(*killed, "0");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        std::vector<float> q{1, 0};
        auto hits = store->VectorSearch("c", q, {});
        ASSERT_TRUE(hits.ok()) << hits.status().ToString();
        EXPECT_EQ(hits->size(), static_cast<size_t>(round + 1));
        Status s = store->Commit("c", ChangeSet{.upserts = {MakeRecord("r" + std::to_string(round), {0, 1}, "b.py",
                                                                       "python", "beta")}});
        EXPECT_TRUE(s.ok()) << s.ToString();
        EXPECT_TRUE(store->CheckHealth().ok());
    }
    EXPECT_EQ(store->GetCollection("c")->records, 4);
}

// A private cluster (the shared one must stay up for the other tests), stopped and restarted
// under an open store: operations fail as Unavailable while it is down and work again after,
// without reopening.
TEST_F(PgVectorStoreTest, SurvivesAServerRestart) {
    char tmpl[] = "/tmp/sh_pg_restart_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::string state = tmpl;
    const std::string script = "bash " SIGNAL_HUB_SOURCE_DIR "/scripts/pg-test-cluster.sh ";
    auto run = [&](const std::string& command) { return std::system((script + command + " " + state + " >/dev/null 2>&1").c_str()); };
    ASSERT_EQ(run("start"), 0) << "could not start a private PostgreSQL cluster";
    std::ifstream in(state + "/url");
    std::string url;
    std::getline(in, url);
    {
        auto opened = PgVectorStore::Open(WithParam(url, "pool_size=2"), OpenOptions{});
        ASSERT_TRUE(opened.ok()) << opened.status().ToString();
        auto store = std::move(opened).value();
        ASSERT_TRUE(store->EnsureCollection({"c", "m", 2, DistanceMetric::kCosine}).ok());
        ASSERT_TRUE(store->Commit("c", ChangeSet{.upserts = {MakeRecord("a", {1, 0}, "a.py", "python", "alpha")}}).ok());
        for (int round = 0; round < 2; ++round) {
            ASSERT_EQ(run("halt"), 0);
            Status down = store->CheckHealth();
            EXPECT_EQ(down.code(), ErrorCode::kUnavailable) << down.ToString();
            EXPECT_THAT(down.message(), testing::HasSubstr("127.0.0.1:"));
            EXPECT_EQ(store->DataVersion().status().code(), ErrorCode::kUnavailable);
            ASSERT_EQ(run("restart"), 0);
            Status up = store->CheckHealth();
            EXPECT_TRUE(up.ok()) << up.ToString();
            std::vector<float> q{1, 0};
            auto hits = store->VectorSearch("c", q, {});
            ASSERT_TRUE(hits.ok()) << hits.status().ToString();
            EXPECT_EQ(hits->size(), static_cast<size_t>(round + 1));
            Status s = store->Commit("c", ChangeSet{.upserts = {MakeRecord("r" + std::to_string(round), {0, 1}, "b.py",
                                                                           "python", "beta")}});
            EXPECT_TRUE(s.ok()) << s.ToString();
        }
        // A restart while connections sit idle in the pool (no failed call in between).
        ASSERT_EQ(run("restart"), 0);
        EXPECT_TRUE(store->GetCollection("c").ok());
        EXPECT_EQ(store->GetCollection("c")->records, 3);
    }
    EXPECT_EQ(run("stop"), 0);
    std::filesystem::remove_all(state);
}

TEST_F(PgVectorStoreTest, PoolBoundsItsConnections) {
    auto store = MustOpen("pool_size=1&max_overflow=1");
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->EnsureCollection({"c", "m", 4, DistanceMetric::kCosine}).ok());
    std::mt19937 rng(1);
    std::normal_distribution<float> dist;
    ChangeSet changes;
    for (int i = 0; i < 100; ++i) {
        changes.upserts.push_back(MakeRecord("r" + std::to_string(i), {dist(rng), dist(rng), dist(rng), dist(rng)},
                                             "f.py", "python", "word" + std::to_string(i % 7)));
    }
    ASSERT_TRUE(store->Commit("c", changes).ok());
    std::atomic<int> failures{0};
    std::atomic<size_t> max_open{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 20; ++i) {
                std::vector<float> q{1, 2, 3, 4};
                if (!store->VectorSearch("c", q, SearchOptions{.k = 5}).ok()) failures++;
                if (!store->LexicalSearch("c", "word3", {}).ok()) failures++;
                size_t open = store->open_connections();
                size_t seen = max_open.load();
                while (open > seen && !max_open.compare_exchange_weak(seen, open)) {
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_LE(max_open.load(), 2u);
    EXPECT_LE(store->open_connections(), 1u);  // the overflow connection was closed on release
    auto server_side = QueryValue(server_, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + schema_ + "'");
    ASSERT_TRUE(server_side.has_value());
    EXPECT_LE(std::stoi(*server_side), 1);
}

TEST_F(PgVectorStoreTest, AcquireTimesOutWhenThePoolIsExhausted) {
    auto store = MustOpen("pool_size=1&max_overflow=0&pool_timeout=0.3");
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->EnsureCollection({"c", "m", 2, DistanceMetric::kCosine}).ok());
    // Another session holds a lock that makes GetCollection wait, with the pool's only connection.
    PGconn* blocker = PQconnectdb(server_.c_str());
    ASSERT_EQ(PQstatus(blocker), CONNECTION_OK);
    PQclear(PQexec(blocker, "BEGIN"));
    PGresult* locked = PQexec(blocker, ("LOCK TABLE " + Table("signal_hub_collections") + " IN ACCESS EXCLUSIVE MODE").c_str());
    ASSERT_EQ(PQresultStatus(locked), PGRES_COMMAND_OK) << PQerrorMessage(blocker);
    PQclear(locked);
    std::atomic<bool> waiting_done{false};
    Status waited;
    std::thread waiter([&] {
        waited = store->GetCollection("c").status();
        waiting_done = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto version = store->DataVersion();  // needs a connection: none is free
    EXPECT_EQ(version.status().code(), ErrorCode::kResourceExhausted) << version.status().ToString();
    EXPECT_FALSE(waiting_done.load());
    // The pool's numbers cross the VectorStore interface (for signal_hub_db_pool_*), through wrappers too.
    RestrictedStore view(*store, {"c"});
    for (const VectorStore* s : {static_cast<const VectorStore*>(store.get()), static_cast<const VectorStore*>(&view)}) {
        std::optional<PoolStats> stats = s->pool_stats();
        ASSERT_TRUE(stats.has_value());
        EXPECT_EQ(stats->max_connections, 1u);
        EXPECT_EQ(stats->in_use, 1u);  // the waiter's GetCollection
        EXPECT_EQ(stats->idle, 0u);
        EXPECT_EQ(stats->waiting, 0u);
        EXPECT_EQ(stats->acquire_timeouts, 1u);  // the DataVersion above
    }
    PQclear(PQexec(blocker, "COMMIT"));
    PQfinish(blocker);
    waiter.join();
    EXPECT_TRUE(waited.ok()) << waited.ToString();
    EXPECT_TRUE(store->DataVersion().ok());  // the connection is back in the pool
    std::optional<PoolStats> after = store->pool_stats();
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->in_use, 0u);
    EXPECT_EQ(after->idle, 1u);
    EXPECT_EQ(after->acquire_timeouts, 1u);
    EXPECT_EQ(MemoryStore().pool_stats(), std::nullopt);  // backends without a pool report none
}

TEST_F(PgVectorStoreTest, HealthReportsARemovedSchema) {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(store->CheckHealth().ok());
    ASSERT_EQ(ExecSql(server_, "DROP SCHEMA \"" + schema_ + "\" CASCADE"), "");
    Status gone = store->CheckHealth();
    EXPECT_EQ(gone.code(), ErrorCode::kFailedPrecondition) << gone.ToString();
}

// Creates collection "c" (2 dimensions, cosine) in both stores and commits `changes` to both.
void CommitToBoth(VectorStore& store, MemoryStore& memory, const ChangeSet& changes) {
    const CollectionSpec spec{"c", "m", 2, DistanceMetric::kCosine};
    ASSERT_TRUE(store.EnsureCollection(spec).ok());
    ASSERT_TRUE(memory.EnsureCollection(spec).ok());
    ASSERT_TRUE(store.Commit("c", changes).ok());
    ASSERT_TRUE(memory.Commit("c", changes).ok());
}

// `store`'s lexical search answers `q` as the memory store does (which scores every matching row):
// the same ids, order and scores.
void ExpectRanksAsMemory(VectorStore& store, MemoryStore& memory, const std::string& q, const SearchOptions& so) {
    auto got = store.LexicalSearch("c", q, so);
    auto want = memory.LexicalSearch("c", q, so);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_TRUE(want.ok());
    ASSERT_EQ(got->size(), want->size()) << q << " k=" << so.k;
    for (size_t i = 0; i < got->size(); ++i) {
        EXPECT_EQ((*got)[i].record.id, (*want)[i].record.id) << q << " k=" << so.k << " #" << i;
        EXPECT_NEAR((*got)[i].score, (*want)[i].score, 1e-9) << q << " k=" << so.k << " #" << i;
    }
}

// BM25 in SQL gives the memory (and embedded) store's scores and order.
TEST_F(PgVectorStoreTest, LexicalScoresMatchTheMemoryStore) {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    MemoryStore memory;
    const std::vector<std::string> words{"parse", "request", "user", "name", "get", "http", "db", "fetch", "id"};
    std::mt19937 rng(4);
    ChangeSet changes;
    for (int i = 0; i < 300; ++i) {
        std::string doc;
        int n = 1 + static_cast<int>(rng() % 30);
        for (int w = 0; w < n; ++w) doc += words[rng() % words.size()] + (rng() % 3 == 0 ? "_" : " ");
        doc += (i % 5 == 0) ? " getUserName parseHTTPRequest \xC3\xA9t\xC3\xA9 \xff\xfe" : "";
        changes.upserts.push_back(MakeRecord("r" + std::to_string(i), {1, static_cast<float>(i)},
                                             (i % 2 ? "src/" : "lib/") + std::to_string(i) + ".py",
                                             i % 3 ? "python" : "go", doc));
    }
    CommitToBoth(*store, memory, changes);
    ChangeSet more;  // replacements and deletes keep N and the average length right
    more.delete_ids = {"r1", "r2", "r3"};
    more.upserts = {MakeRecord("r4", {1, 1}, "x.go", "go", "user user user fetch")};
    ASSERT_TRUE(store->Commit("c", more).ok());
    ASSERT_TRUE(memory.Commit("c", more).ok());
    Filter go;
    go.language = "go";
    Filter src;
    src.path_glob = "src/**";
    for (const auto& [query, filter] : std::vector<std::pair<std::string, Filter>>{
             {"user name", {}}, {"get_user_name", {}}, {"http request", go}, {"db fetch id", src}, {"\xC3\xA9t\xC3\xA9", {}},
             {"\xff\xfe", {}}, {"parse", {}}}) {
        auto a = store->LexicalSearch("c", query, SearchOptions{.k = 20, .filter = filter});
        auto b = memory.LexicalSearch("c", query, SearchOptions{.k = 20, .filter = filter});
        ASSERT_TRUE(a.ok()) << a.status().ToString();
        ASSERT_TRUE(b.ok());
        ASSERT_EQ(a->size(), b->size()) << query;
        ASSERT_FALSE(a->empty()) << query;
        for (size_t i = 0; i < a->size(); ++i) {
            EXPECT_EQ((*a)[i].record.id, (*b)[i].record.id) << query << " #" << i;
            EXPECT_NEAR((*a)[i].score, (*b)[i].score, 1e-9 * std::max(1.0, std::abs((*b)[i].score))) << query << " #" << i;
        }
    }
}

// The regex the store runs in SQL agrees with GlobMatch on every pattern/path pair.
TEST_F(PgVectorStoreTest, GlobFilterInSqlAgreesWithGlobMatch) {
    const std::vector<std::string> patterns{
        "*.py", "src/**/*.py", "**/*.go", "src/", "/src/a.py", "./src/*", "src/*", "a?c", "[ab]*", "[!a]*.py",
        "[a-c]x", "[]]x", "[!]x", "[", "x[", "**", "*", "src/**", "**/test/**", "d\xC3\xA9j\xC3\xA0/*", "?\xA9*",
        "[\x80-\xff]*", "a.b", "a+b", "(x)", "$x", "^x", "x|y", "\\x", "{a,b}", "src/**/deep/**/*.py", "***.py",
        "src/*/*.py", "[z-a]x", ".hidden", "./"};
    const std::vector<std::string> paths{
        "a.py", "src/a.py", "src/deep/b.py", "lib/x/src/a.py", "main.go", "src/deep/x/main.go", "abc", "axc",
        "b.txt", "a.txt", "ax", "bx", "dx", "]x", "!x", "[", "x[", "src", "src/", "test/a", "x/test/y/z",
        "d\xC3\xA9j\xC3\xA0/f", "\xC3\xA9", "\xA9zz", "\xff", "a.b", "axb", "a+b", "(x)", "$x", "^x", "x|y", "\\x",
        "{a,b}", "src/q/deep/r/s.py", "src/deep/s.py", ".hidden", "./src/a.py", "x/.hidden", "a\nb.py"};
    PGconn* conn = PQconnectdb(server_.c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
    int checked = 0;
    for (const auto& pattern : patterns) {
        std::optional<std::string> regex = pg::GlobToPgRegex(pattern);
        for (const auto& path : paths) {
            const bool want = GlobMatch(pattern, path);
            bool got = false;
            std::optional<std::string> text = pg::GlobPathText(path);
            if (regex && text) {
                const char* values[2] = {text->c_str(), regex->c_str()};
                PGresult* r = PQexecParams(conn, "SELECT $1::text ~ $2::text", 2, nullptr, values, nullptr, nullptr, 0);
                ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << pattern << " -> " << *regex << ": " << PQerrorMessage(conn);
                got = std::string(PQgetvalue(r, 0, 0)) == "t";
                PQclear(r);
            }
            EXPECT_EQ(got, want) << "pattern [" << pattern << "] path [" << path << "] regex [" << regex.value_or("-")
                                 << "]";
            ++checked;
        }
    }
    PQfinish(conn);
    EXPECT_GT(checked, 1000);
}

TEST_F(PgVectorStoreTest, HnswParametersFromTheUrlShapeNewCollectionsOnly) {
    {
        auto store = MustOpen();
        ASSERT_NE(store, nullptr);
        ASSERT_TRUE(store->EnsureCollection({"before", "m", 4, DistanceMetric::kCosine}).ok());
    }
    auto tuned = MustOpen("hnsw_m=8&hnsw_ef_construction=64");
    ASSERT_NE(tuned, nullptr);
    ASSERT_TRUE(tuned->EnsureCollection({"after", "m", 4, DistanceMetric::kCosine}).ok());
    ASSERT_TRUE(tuned->EnsureCollection({"before", "m", 4, DistanceMetric::kCosine}).ok());
    auto indexdef = [&](const std::string& name) -> std::string {
        return QueryValue(server_, "SELECT indexdef FROM pg_indexes WHERE schemaname = '" + schema_ +
                                       "' AND indexname = (SELECT 'signal_hub_records_' || id || '_hnsw' FROM " +
                                       Table("signal_hub_collections") + " WHERE name = convert_to('" + name +
                                       "', 'UTF8'))")
            .value_or("(no index)");
    };
    EXPECT_THAT(indexdef("after"), testing::HasSubstr("m='8', ef_construction='64'"));
    EXPECT_THAT(indexdef("before"), testing::HasSubstr("m='16', ef_construction='200'"));
    auto bad = PgVectorStore::Open(WithParam(url_, "hnsw_ef_construction=20"), OpenOptions{});  // < 2 * m (16)
    EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument) << bad.status().ToString();
}

TEST_F(PgVectorStoreTest, WideCollectionsWithoutAnHnswIndexAreSearchedExactly) {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    constexpr int kDim = 2500;  // above pgvector's HNSW limit of 2000
    ASSERT_TRUE(store->EnsureCollection({"wide", "m", kDim, DistanceMetric::kL2}).ok());
    ChangeSet changes;
    for (int i = 0; i < 5; ++i) {
        std::vector<float> v(kDim, 0.0f);
        v[static_cast<size_t>(i)] = 1.0f;
        changes.upserts.push_back(MakeRecord("w" + std::to_string(i), v, "a.py", "python", "wide"));
    }
    ASSERT_TRUE(store->Commit("wide", changes).ok());
    std::vector<float> q(kDim, 0.0f);
    q[3] = 1.0f;
    auto hits = store->VectorSearch("wide", q, SearchOptions{.k = 2});
    ASSERT_TRUE(hits.ok()) << hits.status().ToString();
    ASSERT_EQ(hits->size(), 2u);
    EXPECT_EQ((*hits)[0].record.id, "w3");
    EXPECT_NEAR((*hits)[0].score, 0.0, 1e-9);
    EXPECT_GE(store->stats().exact_searches, 1);
}

TEST_F(PgVectorStoreTest, FilteredSearchUsesTheIndexAndFallsBackToExact) {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->EnsureCollection({"c", "m", 8, DistanceMetric::kCosine}).ok());
    std::mt19937 rng(9);
    std::normal_distribution<float> dist;
    ChangeSet changes;
    for (int i = 0; i < 3000; ++i) {
        std::vector<float> v(8);
        for (auto& x : v) x = dist(rng);
        changes.upserts.push_back(MakeRecord("r" + std::to_string(i), v, "f" + std::to_string(i) + ".py",
                                             i == 1234 ? "cobol" : "python", ""));
    }
    ASSERT_TRUE(store->Commit("c", changes).ok());
    std::vector<float> q(8, 1.0f);
    auto plain = store->VectorSearch("c", q, SearchOptions{.k = 10});
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain->size(), 10u);
    Filter rare;
    rare.language = "cobol";
    auto one = store->VectorSearch("c", q, SearchOptions{.k = 10, .filter = rare});
    ASSERT_TRUE(one.ok());
    ASSERT_EQ(one->size(), 1u);  // the only match, found even though k is larger
    EXPECT_EQ((*one)[0].record.id, "r1234");
    EXPECT_GE(store->stats().index_searches, 1);
    EXPECT_GE(store->stats().exact_searches, 1);
}

TEST_F(PgVectorStoreTest, BulkLoadUpsertsWithCheckpointsAndKeepsCountersAndLexicalSearch) {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->EnsureImportCheckpoints().ok());
    ASSERT_TRUE(store->EnsureImportCheckpoints().ok());  // idempotent
    ASSERT_TRUE(store->EnsureCollection({"c", "m", 2, DistanceMetric::kCosine}).ok());
    Record nodoc = MakeRecord("b", {-0.0f, 1e-45f}, "dir with space/b.py", "python", "");
    nodoc.document.reset();
    nodoc.metadata["n"] = std::int64_t{7};
    nodoc.metadata["x"] = 1.0;
    nodoc.metadata["t"] = true;
    std::vector<Record> batch = {MakeRecord("a", {1, 0}, "a.py", "python", "alpha beta"), nodoc};
    const PgVectorStore::ImportCheckpoint cp{"file-1", "b", 2};
    ASSERT_TRUE(store->BulkLoad("c", batch, cp).ok());
    auto got = store->GetImportCheckpoint("file-1", "c");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->last_id, "b");
    EXPECT_EQ((*got)->records, 2);
    // Records come back exactly (bit-exact floats, typed metadata, absent document).
    auto page = store->Scan("c", "", 10);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->records.size(), 2u);
    EXPECT_EQ(page->records[1].metadata, nodoc.metadata);
    EXPECT_FALSE(page->records[1].document.has_value());
    EXPECT_TRUE(std::signbit(page->records[1].embedding[0]));
    EXPECT_EQ(page->records[1].embedding[1], 1e-45f);
    // Loading the same ids again replaces them: no duplicates, counters unchanged.
    batch[0].document = "gamma";
    ASSERT_TRUE(store->BulkLoad("c", batch, std::nullopt).ok());
    EXPECT_EQ(store->GetCollection("c")->records, 2);
    EXPECT_EQ(QueryValue(server_, "SELECT count(*) FROM " + Table("signal_hub_records_1")), "2");
    SearchOptions so;
    auto lex = store->LexicalSearch("c", "gamma", so);
    ASSERT_TRUE(lex.ok());
    ASSERT_EQ(lex->size(), 1u);
    EXPECT_EQ((*lex)[0].record.id, "a");
    EXPECT_TRUE(store->LexicalSearch("c", "alpha", so)->empty());
    // A wrong dimension or a repeated id is refused and writes nothing (checkpoint included).
    std::vector<Record> bad = {MakeRecord("c", {1, 0, 0}, "c.py", "python", "x")};
    Status s = store->BulkLoad("c", bad, PgVectorStore::ImportCheckpoint{"file-1", "c", 3});
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << s.ToString();
    std::vector<Record> dup = {MakeRecord("d", {1, 0}, "d.py", "python", "x"), MakeRecord("d", {0, 1}, "d.py", "python", "y")};
    EXPECT_EQ(store->BulkLoad("c", dup, std::nullopt).code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ((*store->GetImportCheckpoint("file-1", "c"))->records, 2);
    EXPECT_EQ(store->GetCollection("c")->records, 2);
}

TEST_F(PgVectorStoreTest, ImportCheckpointsOfADroppedCollectionAreIgnored) {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->EnsureImportCheckpoints().ok());
    ASSERT_TRUE(store->EnsureCollection({"c", "m", 2, DistanceMetric::kCosine}).ok());
    std::vector<Record> batch = {MakeRecord("a", {1, 0}, "a.py", "python", "alpha")};
    ASSERT_TRUE(store->BulkLoad("c", batch, PgVectorStore::ImportCheckpoint{"k", "a", 1}).ok());
    ASSERT_TRUE(store->GetImportCheckpoint("k", "c")->has_value());
    ASSERT_TRUE(store->DropCollection("c").ok());
    EXPECT_FALSE(store->GetImportCheckpoint("k", "c")->has_value());
    ASSERT_TRUE(store->EnsureCollection({"c", "m", 2, DistanceMetric::kCosine}).ok());
    EXPECT_FALSE(store->GetImportCheckpoint("k", "c")->has_value());
}

TEST_F(PgVectorStoreTest, VectorIndexCanBeDroppedAndRebuilt) {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->EnsureCollection({"c", "m", 2, DistanceMetric::kL2}).ok());
    EXPECT_TRUE(*store->HasVectorIndex("c"));
    ASSERT_TRUE(store->DropVectorIndex("c").ok());
    EXPECT_FALSE(*store->HasVectorIndex("c"));
    std::vector<Record> batch = {MakeRecord("a", {1, 0}, "a.py", "python", "alpha"),
                                 MakeRecord("b", {0, 1}, "b.py", "python", "beta")};
    ASSERT_TRUE(store->BulkLoad("c", batch, std::nullopt).ok());
    auto hits = store->VectorSearch("c", std::vector<float>{0.9f, 0.1f}, SearchOptions{.k = 1});
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ((*hits)[0].record.id, "a");
    ASSERT_TRUE(store->BuildVectorIndex("c").ok());
    ASSERT_TRUE(store->BuildVectorIndex("c").ok());  // idempotent
    EXPECT_TRUE(*store->HasVectorIndex("c"));
    EXPECT_NE(QueryValue(server_, "SELECT indexdef FROM pg_indexes WHERE schemaname = '" + schema_ +
                                      "' AND indexname = 'signal_hub_records_1_hnsw'")
                  .value_or(""),
              "");
}

TEST_F(PgVectorStoreTest, DirectBulkLoadFallsBackToTheUpsertWhenAnIdIsThere) {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->EnsureImportCheckpoints().ok());
    ASSERT_TRUE(store->EnsureCollection({"c", "m", 2, DistanceMetric::kCosine}).ok());
    ASSERT_TRUE(store->DeferIndexes("c").ok());
    EXPECT_FALSE(*store->HasIndexes("c"));
    for (const char* ix : {"hnsw", "lexemes", "language"}) {
        EXPECT_EQ(QueryValue(server_, "SELECT to_regclass('" + Table(std::string("signal_hub_records_1_") + ix) +
                                          "') IS NULL"),
                  "t")
            << ix;
    }
    std::vector<Record> first = {MakeRecord("a", {1, 0}, "a.py", "python", "alpha"),
                                 MakeRecord("b", {0, 1}, "b.py", "python", "beta beta")};
    ASSERT_TRUE(store->BulkLoad("c", first, PgVectorStore::ImportCheckpoint{"k", "b", 2}, true).ok());
    EXPECT_EQ(store->stats().direct_loads, 1);
    // "b" is there already: the direct COPY fails and the batch is upserted instead (no duplicate,
    // counters right, the checkpoint moves on).
    std::vector<Record> second = {MakeRecord("b", {0, 1}, "b.py", "python", "gamma"),
                                  MakeRecord("c", {1, 1}, "c.py", "python", "delta")};
    ASSERT_TRUE(store->BulkLoad("c", second, PgVectorStore::ImportCheckpoint{"k", "c", 3}, true).ok());
    EXPECT_EQ(store->stats().direct_loads, 1);
    EXPECT_EQ(QueryValue(server_, "SELECT count(*) FROM " + Table("signal_hub_records_1")), "3");
    EXPECT_EQ(store->GetCollection("c")->records, 3);
    EXPECT_EQ((*store->GetImportCheckpoint("k", "c"))->records, 3);
    // Searches answer without the indexes, and after they are built.
    EXPECT_EQ((*store->LexicalSearch("c", "gamma", {}))[0].record.id, "b");
    EXPECT_TRUE(store->LexicalSearch("c", "beta", {})->empty());
    ASSERT_TRUE(store->BuildIndexes("c").ok());
    ASSERT_TRUE(store->BuildIndexes("c").ok());  // idempotent
    EXPECT_TRUE(*store->HasIndexes("c"));
    EXPECT_TRUE(*store->HasVectorIndex("c"));
    EXPECT_EQ((*store->LexicalSearch("c", "delta", {}))[0].record.id, "c");
    EXPECT_EQ((*store->VectorSearch("c", std::vector<float>{0.1f, 0.9f}, SearchOptions{.k = 1}))[0].record.id, "b");
}

TEST_F(PgVectorStoreTest, BoundedLexicalSearchRanksAsScoringEveryMatch) {
    // 400 records over a skewed vocabulary: "common" is in every one, "often" in most, "quartz",
    // "walnut" and "yonder" in a few. MaxScore scores only the rows of the rarest terms; the result (ids, order and
    // scores) must be the memory store's, which scores every matching row.
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    MemoryStore memory;
    std::mt19937 rng(7);
    ChangeSet changes;
    for (int i = 0; i < 400; ++i) {
        std::string doc = "common";
        if (rng() % 4 != 0) doc += " often often";
        if (rng() % 3 == 0) doc += " sometimes";
        if (i % 37 == 0) doc += std::string(" ") + (i % 3 == 0 ? "quartz" : i % 3 == 1 ? "walnut" : "yonder");
        for (unsigned w = rng() % 20; w > 0; --w) doc += " filler";
        changes.upserts.push_back(MakeRecord("r" + std::to_string(1000 + i), {1, static_cast<float>(i)},
                                             i % 2 ? "a.py" : "b.go", i % 2 ? "python" : "go", doc));
    }
    CommitToBoth(*store, memory, changes);
    Filter go;
    go.language = "go";
    for (const std::string q : {"walnut common often", "quartz yonder sometimes", "common often", "sometimes filler",
                                "absent", "walnut absent often"}) {
        for (size_t k : {1u, 5u, 50u}) {
            for (const Filter& f : {Filter{}, go}) {
                ExpectRanksAsMemory(*store, memory, q, {.k = k, .filter = f});
            }
        }
    }
    // The rare term (in 4 records) alone decides a top 3: one candidate query, not one per term.
    const auto before = store->stats().lexical_rounds;
    ASSERT_TRUE(store->LexicalSearch("c", "walnut common often", {.k = 3}).ok());
    EXPECT_EQ(store->stats().lexical_rounds - before, 1);
}

TEST_F(PgVectorStoreTest, BoundedLexicalSearchSkipsRoundsItCannotNeed) {
    // Six mid-frequency terms, each in about a tenth of the rows. After the first candidate round
    // the k-th score already exceeds what rows without the first few terms could reach, so the search
    // goes straight to the round that proves it (at most two rounds), and ranks as scoring every match.
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    MemoryStore memory;
    const std::vector<std::string> words{"amber", "birch", "cedar", "dune", "ember", "fjord"};
    ChangeSet changes;
    for (int i = 0; i < 300; ++i) {
        std::string doc = "common";
        for (size_t w = 0; w < words.size(); ++w) {
            if (i % static_cast<int>(7 + w) == 0) doc += " " + words[w] + (i % 2 ? " " + words[w] : "");
        }
        for (int f = i % 9; f > 0; --f) doc += " filler";
        changes.upserts.push_back(MakeRecord("r" + std::to_string(1000 + i), {1, static_cast<float>(i)}, "a.py",
                                             "python", doc));
    }
    CommitToBoth(*store, memory, changes);
    const std::string q = "amber birch cedar dune ember fjord";
    for (size_t k : {1u, 3u, 10u, 40u}) {
        const auto before = store->stats().lexical_rounds;
        ExpectRanksAsMemory(*store, memory, q, {.k = k});
        if (k <= 10) {
            EXPECT_LE(store->stats().lexical_rounds - before, 2) << "k=" << k;
        }
    }
}

}  // namespace
}  // namespace signalhub::store
