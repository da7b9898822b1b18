#include "search/cache.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <limits>
#include <set>
#include <thread>
#include <vector>

namespace signalhub::search {
namespace {

constexpr std::size_t kOverhead = LruQueryCache::kEntryOverhead;

// Cost of a one-character key with a value of `n` bytes.
constexpr std::size_t Cost(std::size_t n) { return 1 + n + kOverhead; }

TEST(LruQueryCache, EvictsLeastRecentlyUsedWithinTheByteBudget) {
    LruQueryCache cache(3 * Cost(10));
    cache.Put("a", std::string(10, 'a'));
    cache.Put("b", std::string(10, 'b'));
    cache.Put("c", std::string(10, 'c'));
    EXPECT_EQ(cache.Stats().entries, 3);
    EXPECT_EQ(cache.Stats().bytes, static_cast<std::int64_t>(3 * Cost(10)));
    EXPECT_EQ(cache.Get("a"), std::string(10, 'a'));  // recency now: a, c, b

    cache.Put("d", std::string(10, 'd'));  // evicts b
    EXPECT_FALSE(cache.Get("b").has_value());
    EXPECT_TRUE(cache.Get("c").has_value());  // recency: c, d, a
    EXPECT_TRUE(cache.Get("d").has_value());  // recency: d, c, a
    EXPECT_EQ(cache.Stats().evictions, 1);

    // An entry worth two evicts the two least recently used (a, then c).
    cache.Put("e", std::string(Cost(10) + 10, 'e'));
    EXPECT_EQ(Cost(Cost(10) + 10), 2 * Cost(10));
    EXPECT_FALSE(cache.Get("a").has_value());
    EXPECT_FALSE(cache.Get("c").has_value());
    EXPECT_TRUE(cache.Get("d").has_value());
    EXPECT_TRUE(cache.Get("e").has_value());
    CacheStats s = cache.Stats();
    EXPECT_EQ(s.evictions, 3);
    EXPECT_EQ(s.entries, 2);
    EXPECT_EQ(s.bytes, static_cast<std::int64_t>(3 * Cost(10)));
    EXPECT_EQ(s.hits, 5);
    EXPECT_EQ(s.misses, 3);
}

TEST(LruQueryCache, ReplacingAKeyReaccountsItsBytes) {
    LruQueryCache cache(10 * Cost(10));
    cache.Put("k", std::string(10, 'x'));
    cache.Put("k", std::string(30, 'y'));
    CacheStats s = cache.Stats();
    EXPECT_EQ(s.entries, 1);
    EXPECT_EQ(s.bytes, static_cast<std::int64_t>(Cost(30)));
    EXPECT_EQ(cache.Get("k"), std::string(30, 'y'));
}

TEST(LruQueryCache, OversizedEntriesAreNotStoredAndDropTheOldValue) {
    LruQueryCache cache(Cost(10));
    cache.Put("k", std::string(10, 'x'));  // exactly the budget: stored
    EXPECT_EQ(cache.Get("k"), std::string(10, 'x'));
    cache.Put("k", std::string(11, 'y'));  // one byte too many
    EXPECT_FALSE(cache.Get("k").has_value()) << "a stale value must not survive a newer oversized one";
    CacheStats s = cache.Stats();
    EXPECT_EQ(s.entries, 0);
    EXPECT_EQ(s.bytes, 0);
    EXPECT_EQ(s.evictions, 0);

    LruQueryCache none(0);
    none.Put("k", "");
    EXPECT_FALSE(none.Get("k").has_value());
    EXPECT_EQ(none.Stats().entries, 0);
}

TEST(LruQueryCache, ClearDropsEntriesButKeepsCounters) {
    LruQueryCache cache(1 << 16);
    cache.Put("a", "1");
    cache.Put("b", "2");
    EXPECT_TRUE(cache.Get("a").has_value());
    EXPECT_FALSE(cache.Get("zz").has_value());
    cache.Clear();
    EXPECT_FALSE(cache.Get("a").has_value());
    CacheStats s = cache.Stats();
    EXPECT_EQ(s.entries, 0);
    EXPECT_EQ(s.bytes, 0);
    EXPECT_EQ(s.evictions, 0);
    EXPECT_EQ(s.hits, 1);
    EXPECT_EQ(s.misses, 2);
    cache.Put("a", "again");
    EXPECT_EQ(cache.Get("a"), "again");
}

TEST(LruQueryCache, ConcurrentGetsAndPutsStayConsistent) {
    constexpr int kThreads = 4;
    constexpr int kOps = 3000;
    constexpr int kKeys = 64;
    auto value_of = [](int key) {
        return std::string(static_cast<size_t>(16 + key), static_cast<char>('a' + key % 26));
    };
    const std::size_t budget = 20 * Cost(16 + kKeys);  // far fewer than kKeys entries fit: constant eviction
    LruQueryCache cache(budget);
    std::atomic<int> wrong{0};
    std::atomic<std::int64_t> gets{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kOps; ++i) {
                const int key = (i * 7 + t * 13) % kKeys;
                const std::string name = "key-" + std::to_string(key);
                if ((i + t) % 3 == 0) {
                    cache.Put(name, value_of(key));
                } else {
                    ++gets;
                    auto v = cache.Get(name);
                    if (v && *v != value_of(key)) ++wrong;
                }
                if (i % 500 == 0 && t == 0) cache.Clear();
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
    CacheStats s = cache.Stats();
    EXPECT_EQ(s.hits + s.misses, gets.load());
    EXPECT_LE(s.bytes, static_cast<std::int64_t>(budget));
    EXPECT_GT(s.evictions, 0);
    // The accounted bytes are exactly those of the entries that are present.
    std::int64_t present_bytes = 0, present = 0;
    for (int key = 0; key < kKeys; ++key) {
        const std::string name = "key-" + std::to_string(key);
        if (cache.Get(name)) {
            ++present;
            present_bytes += static_cast<std::int64_t>(name.size() + value_of(key).size() + kOverhead);
        }
    }
    EXPECT_EQ(present, s.entries);
    EXPECT_EQ(present_bytes, s.bytes);
}

SearchResponse SampleResponse() {
    SearchResponse r;
    r.query = "split url \xe2\x86\x92 scheme";
    r.mode = Mode::kVector;
    r.results.push_back(SearchResult{.id = "id1",
                                     .collection = "repo",
                                     .file_path = "net/url.py",
                                     .start_line = 3,
                                     .end_line = 2147483647,
                                     .language = "python",
                                     .symbol = "split_url",
                                     .kind = "function",
                                     .score = 0.1 + 0.2,
                                     .text = std::string("a\0b\n\xff", 5)});
    r.results.push_back(SearchResult{.id = "", .start_line = -1, .score = -0.0});
    r.results.push_back(SearchResult{.id = "tiny", .score = std::numeric_limits<double>::denorm_min()});
    r.results.push_back(SearchResult{.id = "nan", .score = std::numeric_limits<double>::quiet_NaN()});
    return r;
}

TEST(SearchResponseEncoding, RoundTripsEveryFieldAndScoreBit) {
    const SearchResponse in = SampleResponse();
    auto out = DecodeSearchResponse(EncodeSearchResponse(in));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->query, in.query);
    EXPECT_EQ(out->mode, in.mode);
    ASSERT_EQ(out->results.size(), in.results.size());
    for (size_t i = 0; i < in.results.size(); ++i) {
        const SearchResult& a = in.results[i];
        const SearchResult& b = out->results[i];
        EXPECT_EQ(a.id, b.id);
        EXPECT_EQ(a.collection, b.collection);
        EXPECT_EQ(a.file_path, b.file_path);
        EXPECT_EQ(a.start_line, b.start_line);
        EXPECT_EQ(a.end_line, b.end_line);
        EXPECT_EQ(a.language, b.language);
        EXPECT_EQ(a.symbol, b.symbol);
        EXPECT_EQ(a.kind, b.kind);
        EXPECT_EQ(std::bit_cast<std::uint64_t>(a.score), std::bit_cast<std::uint64_t>(b.score));
        EXPECT_EQ(a.text, b.text);
    }
    auto empty = DecodeSearchResponse(EncodeSearchResponse(SearchResponse{}));
    ASSERT_TRUE(empty.has_value());
    EXPECT_TRUE(empty->results.empty());
}

TEST(SearchResponseEncoding, RejectsTruncatedTrailingAndForeignBytes) {
    const std::string bytes = EncodeSearchResponse(SampleResponse());
    for (size_t n = 0; n < bytes.size(); ++n) {
        EXPECT_FALSE(DecodeSearchResponse(std::string_view(bytes).substr(0, n)).has_value()) << "prefix " << n;
    }
    EXPECT_FALSE(DecodeSearchResponse(bytes + "x").has_value());
    EXPECT_FALSE(DecodeSearchResponse("{\"query\":\"x\"}").has_value());
    std::string other_version = bytes;
    other_version[4] = '9';
    EXPECT_FALSE(DecodeSearchResponse(other_version).has_value());
}

TEST(SearchCacheKey, EveryInputThatShapesTheResponseChangesTheKey) {
    const CollectionSpec spec{"", "builtin-hash-v1", 256, DistanceMetric::kCosine};
    const SearchRequest base{.query = "split url", .k = 10};
    const config::SearchConfig config;
    const std::string key = SearchCacheKey(7, spec, base, config);
    EXPECT_EQ(key, SearchCacheKey(7, spec, base, config));
    EXPECT_EQ(key.rfind("search:7:", 0), 0u) << key;

    std::set<std::string> keys{key};
    auto add = [&](const std::string& k) { EXPECT_TRUE(keys.insert(k).second) << "collision: " << k; };
    add(SearchCacheKey(8, spec, base, config));
    CollectionSpec other = spec;
    other.model = "other";
    add(SearchCacheKey(7, other, base, config));
    other = spec;
    other.dimension = 128;
    add(SearchCacheKey(7, other, base, config));
    other = spec;
    other.metric = DistanceMetric::kL2;
    add(SearchCacheKey(7, other, base, config));
    std::vector<SearchRequest> requests(9, base);
    requests[0].query = "split urls";
    requests[1].k = 11;
    requests[2].mode = Mode::kLexical;
    requests[3].collection = "repo";
    requests[4].filter.language = "python";
    requests[5].filter.language = "";  // present but empty differs from absent
    requests[6].filter.path_glob = "src/**";
    requests[7].min_score = 0.5;
    requests[8].filter.path_glob = "";
    for (const auto& r : requests) add(SearchCacheKey(7, spec, r, config));
    config::SearchConfig c1 = config;
    c1.rrf_k = 61;
    add(SearchCacheKey(7, spec, base, c1));
    config::SearchConfig c2 = config;
    c2.ef_search = 64;
    add(SearchCacheKey(7, spec, base, c2));
    // Fields are length-delimited: moving a character between two fields is a different key.
    SearchRequest shifted_a = base, shifted_b = base;
    shifted_a.query = "ab";
    shifted_a.collection = "c";
    shifted_b.query = "a";
    shifted_b.collection = "bc";
    EXPECT_NE(SearchCacheKey(7, spec, shifted_a, config), SearchCacheKey(7, spec, shifted_b, config));
    // The store view's scope (a key's collection allow-list) is part of the key.
    EXPECT_NE(SearchCacheKey(7, spec, base, config, "allow:a"), key);
    EXPECT_NE(SearchCacheKey(7, spec, base, config, "allow:a"), SearchCacheKey(7, spec, base, config, "allow:b"));
}

}  // namespace
}  // namespace signalhub::search
