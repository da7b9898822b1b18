#include "search/redis_cache.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "embed/embedder.hpp"
#include "net/redis_test_util.hpp"
#include "search/searcher.hpp"

// RedisQueryCache: the QueryCache contract (search/cache.hpp) on the Redis of
// the CTest fixture `redis` (RedisQueryCacheTest.*, label redis), and what it
// does when Redis cannot be reached (RedisQueryCacheUnreachable.*, no server).
namespace signalhub::search {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string AllBytes() {
    std::string s;
    for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
    return s + std::string("\0tail\0", 6);
}

class RedisQueryCacheTest : public ::testing::Test {
   protected:
    void SetUp() override {
        url_ = redis::test::ServerUrl();
        ASSERT_FALSE(url_.empty());
        prefix_ = redis::test::UniquePrefix("cache");
        admin_ = redis::test::MakePool(url_);
    }
    void TearDown() override {
        if (admin_) redis::test::DeleteKeys(*admin_, prefix_);
    }
    std::unique_ptr<RedisQueryCache> Make(const std::string& ns, std::int64_t max_memory = -1, double ttl = 3600) {
        RedisCacheOptions options;
        options.redis_url = url_;
        options.namespace_id = ns;
        options.key_prefix = prefix_;
        options.ttl_seconds = ttl;
        options.max_memory_bytes = max_memory;
        options.timeout_seconds = 10;
        auto cache = RedisQueryCache::Create(options, clock_);
        EXPECT_TRUE(cache.ok()) << cache.status().ToString();
        return cache.ok() ? std::move(cache).value() : nullptr;
    }
    std::int64_t KeyCount(const std::string& ns) {
        std::int64_t n = 0;
        std::string cursor = "0";
        do {
            auto reply = admin_->Command({"SCAN", cursor, "MATCH", prefix_ + ns + ":*", "COUNT", "1000"});
            if (!reply.ok() || reply->elements.size() != 2) return -1;
            cursor = reply->elements[0].str;
            n += static_cast<std::int64_t>(reply->elements[1].elements.size());
        } while (cursor != "0");
        return n;
    }

    FakeClock clock_;
    std::string url_;
    std::string prefix_;
    std::unique_ptr<redis::RedisPool> admin_;
};

TEST_F(RedisQueryCacheTest, ValuesRoundTripExactlyAndKeysAreBinarySafe) {
    auto cache = Make("store-a");
    ASSERT_TRUE(cache);
    EXPECT_EQ(cache->Get("search:1:x"), std::nullopt);
    cache->Put("search:1:x", AllBytes());
    cache->Put(std::string("k\0*?[]\xff", 7), "v");
    cache->Put("empty", "");
    EXPECT_EQ(cache->Get("search:1:x"), AllBytes());
    EXPECT_EQ(cache->Get(std::string("k\0*?[]\xff", 7)), "v");
    EXPECT_EQ(cache->Get(std::string("k\0", 2)), std::nullopt);
    EXPECT_EQ(cache->Get("empty"), "");
    cache->Put("search:1:x", "replaced");
    EXPECT_EQ(cache->Get("search:1:x"), "replaced");
    CacheStats s = cache->Stats();
    EXPECT_EQ(s.hits, 4);
    EXPECT_EQ(s.misses, 2);
    // Stored under the documented key.
    auto raw = admin_->Command({"GET", cache->RedisKey("search:1:x")});
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(raw->str, "replaced");
    EXPECT_EQ(cache->RedisKey("q"), prefix_ + "store-a:q");
}

TEST_F(RedisQueryCacheTest, ReplicasShareEntries) {
    auto one = Make("shared");
    auto two = Make("shared");
    ASSERT_TRUE(one && two);
    one->Put("search:7:abc", "result");
    EXPECT_EQ(two->Get("search:7:abc"), "result");
}

TEST_F(RedisQueryCacheTest, ClearClearsItsNamespaceOnly) {
    // "n*" would match "nX" as a glob: Clear must treat the namespace literally.
    auto a = Make("n*");
    auto b = Make("nX");
    auto c = Make("n*2");
    ASSERT_TRUE(a && b && c);
    for (int i = 0; i < 2500; ++i) a->Put("k" + std::to_string(i), "v");  // several SCAN rounds
    b->Put("k1", "b");
    c->Put("k1", "c");
    ASSERT_TRUE(admin_->Command({"SET", prefix_ + "unrelated", "x"}).ok());
    EXPECT_EQ(KeyCount("n\\*"), 2500);
    a->Clear();
    EXPECT_EQ(KeyCount("n\\*"), 0);
    EXPECT_EQ(a->Get("k1"), std::nullopt);
    EXPECT_EQ(b->Get("k1"), "b");
    EXPECT_EQ(c->Get("k1"), "c");
    auto unrelated = admin_->Command({"EXISTS", prefix_ + "unrelated"});
    ASSERT_TRUE(unrelated.ok());
    EXPECT_EQ(unrelated->integer, 1);
}

TEST_F(RedisQueryCacheTest, EntriesCarryTheTtl) {
    auto cache = Make("ttl", -1, 120);
    ASSERT_TRUE(cache);
    cache->Put("k", "v");
    auto pttl = admin_->Command({"PTTL", cache->RedisKey("k")});
    ASSERT_TRUE(pttl.ok());
    EXPECT_LE(pttl->integer, 120'000);
    EXPECT_GT(pttl->integer, 110'000);  // minus the time this test takes (a few seconds at most)
}

TEST_F(RedisQueryCacheTest, MaxMemoryStopsPutsAtTheServersUsedMemory) {
    auto none = Make("zero", 0);
    ASSERT_TRUE(none);
    none->Put("k", "v");
    EXPECT_EQ(none->Get("k"), std::nullopt);

    auto tiny = Make("tiny", 1);  // any running Redis uses more than 1 byte
    ASSERT_TRUE(tiny);
    tiny->Put("k", "v");
    EXPECT_EQ(tiny->Get("k"), std::nullopt);

    auto ample = Make("ample", 1LL << 50);
    ASSERT_TRUE(ample);
    ample->Put("k", "v");
    EXPECT_EQ(ample->Get("k"), "v");
}

// The Searcher over the Redis cache: identical responses, hits across two
// Searchers (two "replicas" of one store), and a commit makes the next search
// miss and see the new data.
TEST_F(RedisQueryCacheTest, SearcherCachesInRedis) {
    auto opened = store::OpenStore("memory://", {});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::unique_ptr<store::VectorStore> store = std::move(opened).value();
    config::EmbeddingConfig ec;
    ec.dimension = 64;
    auto embedder = embed::CreateEmbedder(ec);
    ASSERT_TRUE(embedder.ok());
    ASSERT_TRUE(store->EnsureCollection((*embedder)->SpecFor("repo")).ok());
    auto commit = [&](const std::string& id, const std::string& symbol, const std::string& text) {
        Record r;
        r.id = id;
        r.document = text;
        r.metadata = {{"file_path", symbol + ".py"}, {"language", "python"},    {"start_line", std::int64_t{1}},
                      {"end_line", std::int64_t{3}},  {"symbol", symbol},       {"kind", "function"},
                      {"content_hash", id}};
        std::vector<std::string> texts{text};
        r.embedding = std::move((*(*embedder)->Embed(texts, embed::Purpose::kDocument))[0]);
        store::ChangeSet changes;
        changes.upserts.push_back(std::move(r));
        ASSERT_TRUE(store->Commit("repo", changes).ok());
    };
    commit("1", "split_url", "def split_url(url):\n    return url.split('://')\n");

    auto cache_a = Make("searcher");
    auto cache_b = Make("searcher");
    ASSERT_TRUE(cache_a && cache_b);
    Searcher a(*store, **embedder, config::SearchConfig{}, cache_a.get());
    Searcher b(*store, **embedder, config::SearchConfig{}, cache_b.get());
    Searcher plain(*store, **embedder, config::SearchConfig{});
    const SearchRequest request{.query = "split url zebrafish", .k = 5};
    auto expected = plain.Search(request);
    auto first = a.Search(request);
    auto second = b.Search(request);
    ASSERT_TRUE(expected.ok() && first.ok() && second.ok());
    EXPECT_EQ(EncodeSearchResponse(*first), EncodeSearchResponse(*expected));
    EXPECT_EQ(EncodeSearchResponse(*second), EncodeSearchResponse(*expected));
    EXPECT_EQ(cache_a->Stats().misses, 1);
    EXPECT_EQ(cache_b->Stats().hits, 1);

    commit("2", "zebrafish", "def zebrafish():\n    return 'swim'\n");
    auto after = b.Search(request);
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(EncodeSearchResponse(*after), EncodeSearchResponse(*plain.Search(request)));
    EXPECT_EQ(cache_b->Stats().misses, 1);
}

// ---- over TLS (rediss://, a private TLS redis-server with a test CA; label redis) ----

TEST(RedisQueryCacheTlsTest, CachesOverRedissFromTheConfiguration) {
    redis::test::TlsTestFiles files;
    redis::test::PrivateRedis server({.cert_file = files.server_cert,
                                      .key_file = files.server_key,
                                      .ca_file = files.ca,
                                      .auth_clients = false});
    ASSERT_TRUE(server.Start());
    FakeClock clock;
    config::CachingConfig cfg;
    cfg.backend = "redis";
    cfg.redis_url = server.url();
    cfg.redis_tls_ca_file = files.ca;
    auto a = MakeQueryCache(cfg, "store-tls", clock);
    auto b = MakeQueryCache(cfg, "store-tls", clock);
    ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString() << b.status().ToString();
    const std::string value = AllBytes();
    (*a)->Put("q", value);
    EXPECT_EQ((*b)->Get("q"), value);  // another replica reads it back through its own TLS pool
    EXPECT_EQ((*b)->Stats().hits, 1);

    // The wrong CA: every lookup is a miss (nothing is sent to the unverified server).
    cfg.redis_tls_ca_file = files.other_ca;
    auto wrong = MakeQueryCache(cfg, "store-tls", clock);
    ASSERT_TRUE(wrong.ok());
    EXPECT_EQ((*wrong)->Get("q"), std::nullopt);
    EXPECT_EQ((*wrong)->Stats().misses, 1);
}

// ---- no server ----

TEST(RedisQueryCacheUnreachable, EveryCallIsAHarmlessMiss) {
    FakeClock clock;
    RedisCacheOptions options;
    options.redis_url = "redis://:pw@127.0.0.1:" + std::to_string(redis::test::FreePort()) + "/0";
    options.namespace_id = "ns";
    options.max_memory_bytes = 1 << 20;
    options.reconnect_interval_seconds = 0;
    auto cache = RedisQueryCache::Create(options, clock);
    ASSERT_TRUE(cache.ok()) << cache.status().ToString();
    (*cache)->Put("k", "v");
    EXPECT_EQ((*cache)->Get("k"), std::nullopt);
    (*cache)->Clear();
    EXPECT_EQ((*cache)->Stats().misses, 1);

    redis::test::SilentServer silent;
    options.redis_url = "redis://127.0.0.1:" + std::to_string(silent.port());
    options.timeout_seconds = 0.05;
    auto slow = RedisQueryCache::Create(options, clock);
    ASSERT_TRUE(slow.ok());
    (*slow)->Put("k", "v");
    EXPECT_EQ((*slow)->Get("k"), std::nullopt);
    (*slow)->Clear();
}

TEST(MakeQueryCache, PicksTheBackendFromTheConfiguration) {
    FakeClock clock;
    config::CachingConfig cfg;
    auto memory = MakeQueryCache(cfg, "/repo/.signal-hub", clock);
    ASSERT_TRUE(memory.ok());
    EXPECT_NE(dynamic_cast<LruQueryCache*>(memory->get()), nullptr);

    cfg.enabled = false;
    auto disabled = MakeQueryCache(cfg, "x", clock);
    ASSERT_TRUE(disabled.ok());
    EXPECT_EQ(disabled->get(), nullptr);
    cfg.enabled = true;
    cfg.max_memory.bytes = 0;
    EXPECT_EQ(MakeQueryCache(cfg, "x", clock)->get(), nullptr);
    cfg.max_memory.bytes = 1 << 20;

    cfg.backend = "redis";
    cfg.redis_url = "redis://:hunter2@127.0.0.1:1/0";  // need not be up
    auto redis = MakeQueryCache(cfg, "postgresql://hub:***@db/hub", clock);
    ASSERT_TRUE(redis.ok()) << redis.status().ToString();
    EXPECT_NE(dynamic_cast<RedisQueryCache*>(redis->get()), nullptr);

    // rediss:// (TLS): the files are loaded when the cache is made; TLS files with redis:// are refused.
    cfg.redis_url = "rediss://:hunter2@h:6380";
    auto tls = MakeQueryCache(cfg, "x", clock);
    ASSERT_TRUE(tls.ok()) << tls.status().ToString();
    cfg.redis_tls_cert_file = "/nonexistent/client.crt";
    cfg.redis_tls_key_file = "/nonexistent/client.key";
    auto no_cert = MakeQueryCache(cfg, "x", clock);
    ASSERT_FALSE(no_cert.ok());
    EXPECT_EQ(no_cert.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(no_cert.status().message(),
                HasSubstr("performance.caching: cannot read the TLS client certificate /nonexistent/client.crt"));
    cfg.redis_url = "redis://:hunter2@h:6379";
    auto plain = MakeQueryCache(cfg, "x", clock);
    ASSERT_FALSE(plain.ok());
    EXPECT_THAT(plain.status().message(), HasSubstr("use rediss://"));
    EXPECT_THAT(plain.status().message(), Not(HasSubstr("hunter2")));
}

TEST(MakeQueryCache, NamespaceIsAHashOfTheStoreIdentity) {
    FakeClock clock;
    config::CachingConfig cfg;
    cfg.backend = "redis";
    cfg.redis_url = "redis://127.0.0.1:1";
    auto a = MakeQueryCache(cfg, "store-a", clock);
    auto a2 = MakeQueryCache(cfg, "store-a", clock);
    auto b = MakeQueryCache(cfg, "store-b", clock);
    ASSERT_TRUE(a.ok() && a2.ok() && b.ok());
    auto key = [](const std::unique_ptr<QueryCache>& c) { return dynamic_cast<RedisQueryCache&>(*c).RedisKey("k"); };
    EXPECT_EQ(key(*a), key(*a2));
    EXPECT_NE(key(*a), key(*b));
    EXPECT_THAT(key(*a), ::testing::StartsWith("signal-hub:cache:"));
}

}  // namespace
}  // namespace signalhub::search
