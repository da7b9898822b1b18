#include "search/searcher.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <thread>

#include "search/cache.hpp"
#include "search/json.hpp"
#include "store/forwarding_store.hpp"

namespace signalhub::search {
namespace {

TEST(FuseRrf, BestInBothListsScoresOne) {
    auto fused = FuseRrf({{"a", "b", "c"}, {"a", "c"}}, 60);
    ASSERT_EQ(fused.size(), 3u);
    EXPECT_EQ(fused[0].first, "a");
    EXPECT_DOUBLE_EQ(fused[0].second, 1.0);
    EXPECT_EQ(fused[1].first, "c");  // in both lists beats b (one list, rank 2)
    EXPECT_EQ(fused[2].first, "b");
}

TEST(FuseRrf, EmptyListsGiveNothing) { EXPECT_TRUE(FuseRrf({{}, {}}, 60).empty()); }

TEST(Overlaps, SameFileOverHalfOfShorter) {
    SearchResult cls{.file_path = "a.py", .start_line = 1, .end_line = 40};
    SearchResult method{.file_path = "a.py", .start_line = 10, .end_line = 20};
    SearchResult other_file{.file_path = "b.py", .start_line = 10, .end_line = 20};
    SearchResult touching{.file_path = "a.py", .start_line = 40, .end_line = 80};
    EXPECT_TRUE(Overlaps(cls, method));
    EXPECT_FALSE(Overlaps(method, other_file));
    EXPECT_FALSE(Overlaps(cls, touching));
}

TEST(ParseMode, KnownAndUnknown) {
    EXPECT_EQ(*ParseMode("lexical"), Mode::kLexical);
    EXPECT_EQ(ParseMode("fuzzy").status().code(), ErrorCode::kInvalidArgument);
}

class SearcherTest : public ::testing::Test {
   protected:
    void SetUp() override {
        auto s = store::OpenStore("memory://", {});
        ASSERT_TRUE(s.ok()) << s.status().ToString();
        store_ = std::move(*s);
        config::EmbeddingConfig ec;
        ec.dimension = 256;
        auto e = embed::CreateEmbedder(ec);
        ASSERT_TRUE(e.ok()) << e.status().ToString();
        embedder_ = std::move(*e);
        ASSERT_TRUE(store_->EnsureCollection(embedder_->SpecFor("repo")).ok());
        Add("1", "net/url.py", "python", 1, 10, "split_url", "function",
            "def split_url(url):\n    scheme, rest = url.split('://')\n    return scheme, rest\n");
        Add("2", "net/url.py", "python", 1, 30, "UrlTools", "class",
            "class UrlTools:\n    def split_url(self, url):\n        return url.split('://')\n");
        Add("3", "util/checksum.go", "go", 1, 9, "Adler32", "function",
            "func Adler32(data []byte) uint32 {\n\ta, b := 1, 0\n\treturn b<<16 | a\n}\n");
        Add("4", "io/copy.cpp", "cpp", 1, 12, "CopyFile", "function",
            "bool CopyFile(const std::string& from, const std::string& to) { return rename(from, to); }\n");
        Add("5", "copy/of/url.py", "python", 1, 10, "split_url", "function",
            "def split_url(url):\n    scheme, rest = url.split('://')\n    return scheme, rest\n");
        ASSERT_TRUE(store_->Commit("repo", changes_).ok());
    }

    void Add(const std::string& id, const std::string& path, const std::string& lang, int start, int end,
             const std::string& symbol, const std::string& kind, const std::string& text) {
        Record r;
        r.id = id;
        r.document = text;
        r.metadata = {{"file_path", path},         {"language", lang},   {"start_line", std::int64_t{start}},
                      {"end_line", std::int64_t{end}}, {"symbol", symbol}, {"kind", kind},
                      {"content_hash", std::string(text.size() > 0 ? text.substr(0, 40) : "")}};
        std::vector<std::string> texts{text};
        r.embedding = std::move((*embedder_->Embed(texts, embed::Purpose::kDocument))[0]);
        changes_.upserts.push_back(std::move(r));
    }

    std::unique_ptr<store::VectorStore> store_;
    std::unique_ptr<embed::Embedder> embedder_;
    store::ChangeSet changes_;
};

TEST_F(SearcherTest, HybridFindsTheFunctionAndCollapsesOverlapsAndCopies) {
    Searcher searcher(*store_, *embedder_, config::SearchConfig{});
    auto r = searcher.Search({.query = "split url scheme", .k = 5});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_FALSE(r->results.empty());
    EXPECT_EQ(r->results[0].symbol, "split_url");
    // The class chunk overlaps the function chunk in the same file, and
    // copy/of/url.py has identical text: neither may appear beside the best hit.
    int url_py = 0, copies = 0;
    for (const auto& x : r->results) {
        if (x.file_path == "net/url.py") ++url_py;
        if (x.file_path == "copy/of/url.py") ++copies;
    }
    EXPECT_EQ(url_py, 1);
    EXPECT_EQ(url_py + copies, 1);
}

// The embedded store honours SearchOptions::include_documents = false: the Searcher reads the
// documents of the results it returns afterwards (ADR-31). Same results, texts included, as the
// memory store (which returns documents anyway) for the same records.
class DeletingGetStore final : public store::ForwardingStore {
   public:
    using ForwardingStore::ForwardingStore;
    // Deletes `victim` (a real commit) just before the first Get: a commit between the search and
    // the read of the survivors' documents.
    Result<std::vector<Record>> Get(std::string_view collection, std::span<const std::string> ids) override {
        if (!victim.empty()) {
            store::ChangeSet del{.delete_ids = {victim}};
            SH_RETURN_IF_ERROR(ForwardingStore::Commit(collection, del));
            victim.clear();
        }
        ++gets;
        return ForwardingStore::Get(collection, ids);
    }
    std::string victim;
    int gets = 0;
};

TEST_F(SearcherTest, EmbeddedStoreReadsDocumentsOnlyForTheResults) {
    const std::string dir = ::testing::TempDir() + "/searcher_docs_" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    auto embedded = store::OpenStore(dir, {});
    ASSERT_TRUE(embedded.ok()) << embedded.status().ToString();
    ASSERT_TRUE((*embedded)->EnsureCollection(embedder_->SpecFor("repo")).ok());
    ASSERT_TRUE((*embedded)->Commit("repo", changes_).ok());
    DeletingGetStore wrapped(**embedded);
    Searcher memory_searcher(*store_, *embedder_, config::SearchConfig{});
    Searcher embedded_searcher(wrapped, *embedder_, config::SearchConfig{});
    for (Mode mode : {Mode::kHybrid, Mode::kVector, Mode::kLexical}) {
        for (const std::string query : {"split url scheme", "split_url", "copy file rename"}) {
            SearchRequest request{.query = query, .k = 3, .mode = mode};
            auto want = memory_searcher.Search(request);
            const int gets = wrapped.gets;
            auto got = embedded_searcher.Search(request);
            ASSERT_TRUE(want.ok() && got.ok()) << query;
            EXPECT_EQ(wrapped.gets, gets + 1) << query;  // one Get for the survivors
            ASSERT_EQ(got->results.size(), want->results.size()) << query;
            for (size_t i = 0; i < got->results.size(); ++i) {
                EXPECT_EQ(got->results[i].id, want->results[i].id) << query;
                EXPECT_EQ(got->results[i].text, want->results[i].text) << query;
                EXPECT_FALSE(got->results[i].text.empty()) << query;
                EXPECT_EQ(got->results[i].start_line, want->results[i].start_line) << query;
                EXPECT_EQ(got->results[i].symbol, want->results[i].symbol) << query;
            }
        }
    }
    // A result deleted between the search and the read of the documents drops out.
    SearchRequest request{.query = "split url scheme", .k = 3};
    auto before = embedded_searcher.Search(request);
    ASSERT_TRUE(before.ok());
    ASSERT_FALSE(before->results.empty());
    wrapped.victim = before->results[0].id;
    auto after = embedded_searcher.Search(request);
    ASSERT_TRUE(after.ok()) << after.status().ToString();
    ASSERT_EQ(after->results.size(), before->results.size() - 1);
    for (size_t i = 0; i < after->results.size(); ++i) {
        EXPECT_EQ(after->results[i].id, before->results[i + 1].id);
        EXPECT_EQ(after->results[i].text, before->results[i + 1].text);
    }
    std::filesystem::remove_all(dir);
}

TEST_F(SearcherTest, FiltersNeverReturnOtherLanguagesOrPaths) {
    Searcher searcher(*store_, *embedder_, config::SearchConfig{});
    SearchRequest req{.query = "split url", .k = 10};
    req.filter.language = "go";
    auto r = searcher.Search(req);
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r->results.empty());
    for (const auto& x : r->results) EXPECT_EQ(x.language, "go");

    SearchRequest by_path{.query = "copy file", .k = 10};
    by_path.filter.path_glob = "io/**";
    r = searcher.Search(by_path);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->results.size(), 1u);
    EXPECT_EQ(r->results[0].file_path, "io/copy.cpp");
}

TEST_F(SearcherTest, ModesAndErrors) {
    Searcher searcher(*store_, *embedder_, config::SearchConfig{});
    auto lexical = searcher.Search({.query = "Adler32", .k = 3, .mode = Mode::kLexical});
    ASSERT_TRUE(lexical.ok());
    ASSERT_FALSE(lexical->results.empty());
    EXPECT_EQ(lexical->results[0].symbol, "Adler32");
    auto vec = searcher.Search({.query = "checksum of bytes adler", .k = 3, .mode = Mode::kVector});
    ASSERT_TRUE(vec.ok());
    EXPECT_EQ(vec->results[0].symbol, "Adler32");

    EXPECT_EQ(searcher.Search({.query = "  "}).status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(searcher.Search({.query = "x", .k = 0}).status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(searcher.Search({.query = "x", .collection = "nope"}).status().code(), ErrorCode::kNotFound);
}

TEST_F(SearcherTest, RefusesAnEmbedderThatDoesNotMatchTheCollection) {
    config::EmbeddingConfig other;
    other.dimension = 128;
    auto e = embed::CreateEmbedder(other);
    ASSERT_TRUE(e.ok());
    Searcher searcher(*store_, **e, config::SearchConfig{});
    auto r = searcher.Search({.query = "split url"});
    EXPECT_EQ(r.status().code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(r.status().message().find("dimension"), std::string::npos);
    // Lexical search does not need the embedder.
    EXPECT_TRUE(searcher.Search({.query = "split url", .mode = Mode::kLexical}).ok());
}

TEST_F(SearcherTest, CachedResponsesAreIdenticalToUncachedOnes) {
    LruQueryCache cache(1 << 20);
    Searcher cached(*store_, *embedder_, config::SearchConfig{}, &cache);
    Searcher plain(*store_, *embedder_, config::SearchConfig{});
    std::vector<SearchRequest> requests{
        {.query = "split url scheme", .k = 5},
        {.query = "split url scheme", .k = 2},
        {.query = "Adler32", .k = 3, .mode = Mode::kLexical},
        {.query = "checksum of bytes", .k = 3, .mode = Mode::kVector, .collection = "repo"},
        {.query = "copy file", .k = 10, .min_score = 0.2},
    };
    requests.push_back({.query = "split url", .k = 10});
    requests.back().filter.language = "go";
    requests.push_back({.query = "copy file", .k = 10});
    requests.back().filter.path_glob = "io/**";
    for (const auto& request : requests) {
        auto expected = plain.Search(request);
        ASSERT_TRUE(expected.ok()) << expected.status().ToString();
        auto first = cached.Search(request);   // miss: searched and stored
        auto second = cached.Search(request);  // hit: decoded from the cache
        ASSERT_TRUE(first.ok() && second.ok());
        EXPECT_EQ(ToJson(*first), ToJson(*expected)) << request.query;
        EXPECT_EQ(ToJson(*second), ToJson(*expected)) << request.query;
    }
    CacheStats s = cache.Stats();
    EXPECT_EQ(s.misses, static_cast<std::int64_t>(requests.size()));
    EXPECT_EQ(s.hits, static_cast<std::int64_t>(requests.size()));
    EXPECT_EQ(s.entries, static_cast<std::int64_t>(requests.size()));

    // Errors are not cached; invalid requests do not even look.
    EXPECT_EQ(cached.Search({.query = "x", .collection = "nope"}).status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(cached.Search({.query = "x", .collection = "nope"}).status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(cached.Search({.query = " "}).status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(cache.Stats().entries, static_cast<std::int64_t>(requests.size()));
    EXPECT_EQ(cache.Stats().misses, static_cast<std::int64_t>(requests.size()) + 2);
}

TEST_F(SearcherTest, ACommitMakesTheNextSearchMissAndSeeTheNewData) {
    LruQueryCache cache(1 << 20);
    Searcher searcher(*store_, *embedder_, config::SearchConfig{}, &cache);
    const SearchRequest request{.query = "Zebrafish swim", .k = 5, .mode = Mode::kLexical};
    auto before = searcher.Search(request);
    ASSERT_TRUE(before.ok());
    EXPECT_TRUE(before->results.empty());
    ASSERT_TRUE(searcher.Search(request).ok());
    EXPECT_EQ(cache.Stats().hits, 1);
    auto other = searcher.Search({.query = "Adler32", .k = 3, .mode = Mode::kLexical});
    ASSERT_TRUE(other.ok());
    EXPECT_EQ(cache.Stats().entries, 2);

    changes_ = {};
    Add("6", "zoo/fish.py", "python", 1, 2, "Zebrafish", "function", "def Zebrafish():\n    return 'swim'\n");
    ASSERT_TRUE(store_->Commit("repo", changes_).ok());

    auto after = searcher.Search(request);
    ASSERT_TRUE(after.ok());
    ASSERT_FALSE(after->results.empty());
    EXPECT_EQ(after->results[0].symbol, "Zebrafish");
    CacheStats s = cache.Stats();
    EXPECT_EQ(s.hits, 1);
    EXPECT_EQ(s.misses, 3);
    EXPECT_EQ(s.entries, 1) << "the new version cleared what the old one cached";
    auto again = searcher.Search(request);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(ToJson(*again), ToJson(*after));
    EXPECT_EQ(cache.Stats().hits, 2);
}

// Forwards to another store but cannot report a data version.
class NoVersionStore final : public store::VectorStore {
   public:
    explicit NoVersionStore(store::VectorStore& inner) : inner_(inner) {}
    Result<CollectionInfo> EnsureCollection(const CollectionSpec& spec) override {
        return inner_.EnsureCollection(spec);
    }
    Result<CollectionInfo> GetCollection(std::string_view name) override { return inner_.GetCollection(name); }
    Result<std::vector<CollectionInfo>> ListCollections() override { return inner_.ListCollections(); }
    Status DropCollection(std::string_view name) override { return inner_.DropCollection(name); }
    Status Commit(std::string_view collection, const store::ChangeSet& changes) override {
        return inner_.Commit(collection, changes);
    }
    Result<std::vector<store::FileState>> ListFiles(std::string_view collection) override {
        return inner_.ListFiles(collection);
    }
    Result<std::vector<Record>> Get(std::string_view collection, std::span<const std::string> ids) override {
        return inner_.Get(collection, ids);
    }
    Result<store::ScanPage> Scan(std::string_view collection, std::string_view after_id, size_t limit) override {
        return inner_.Scan(collection, after_id, limit);
    }
    Result<std::vector<store::Hit>> VectorSearch(std::string_view collection, std::span<const float> query,
                                                 const store::SearchOptions& options) override {
        return inner_.VectorSearch(collection, query, options);
    }
    Result<std::vector<store::Hit>> LexicalSearch(std::string_view collection, std::string_view query,
                                                  const store::SearchOptions& options) override {
        return inner_.LexicalSearch(collection, query, options);
    }
    Status CheckHealth() override { return inner_.CheckHealth(); }
    Result<std::int64_t> DataVersion() override { return Unavailable("version table unreachable"); }

   private:
    store::VectorStore& inner_;
};

TEST_F(SearcherTest, SearchesUncachedWhenTheDataVersionIsUnknown) {
    NoVersionStore store(*store_);
    LruQueryCache cache(1 << 20);
    Searcher searcher(store, *embedder_, config::SearchConfig{}, &cache);
    for (int i = 0; i < 2; ++i) {
        auto r = searcher.Search({.query = "Adler32", .k = 3, .mode = Mode::kLexical});
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        ASSERT_FALSE(r->results.empty());
        EXPECT_EQ(r->results[0].symbol, "Adler32");
    }
    CacheStats s = cache.Stats();
    EXPECT_EQ(s.hits + s.misses, 0);
    EXPECT_EQ(s.entries, 0);
}

// ADR-34a: a helper running the lexical half on another thread, one that takes the task but runs it
// only after the search (the search then runs the half itself and the late call does nothing), and
// one that declines: the same responses as without a helper, in every mode.
TEST_F(SearcherTest, AHelperRunningTheLexicalHalfChangesNoResult) {
    Searcher plain(*store_, *embedder_, config::SearchConfig{});
    std::vector<std::thread> threads;
    std::vector<std::function<void()>> late;
    int offered = 0;
    Searcher threaded = plain;
    threaded.SetHelper([&](std::function<void()> task) {
        ++offered;
        threads.emplace_back(std::move(task));
        return true;
    });
    Searcher lazy = plain;
    lazy.SetHelper([&](std::function<void()> task) {
        late.push_back(std::move(task));
        return true;
    });
    Searcher declining = plain;
    declining.SetHelper([](std::function<void()>) { return false; });
    auto ids = [](const Result<SearchResponse>& r) {
        std::vector<std::string> out;
        if (r.ok())
            for (const auto& x : r->results) out.push_back(x.id + "@" + std::to_string(x.score));
        return out;
    };
    int hybrid = 0;
    for (const char* query : {"split url scheme", "split_url", "Adler32 checksum", "copy a file", "nothing matches zzz"}) {
        for (Mode mode : {Mode::kHybrid, Mode::kVector, Mode::kLexical}) {
            const SearchRequest request{.query = query, .k = 5, .mode = mode};
            auto want = plain.Search(request);
            ASSERT_TRUE(want.ok()) << want.status().ToString();
            EXPECT_EQ(ids(threaded.Search(request)), ids(want)) << query;
            EXPECT_EQ(ids(lazy.Search(request)), ids(want)) << query;
            EXPECT_EQ(ids(declining.Search(request)), ids(want)) << query;
            if (mode == Mode::kHybrid) ++hybrid;
        }
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(offered, hybrid);  // hybrid searches only
    EXPECT_EQ(late.size(), static_cast<size_t>(hybrid));
    for (auto& task : late) task();  // the searches are over: these must do nothing
}

}  // namespace
}  // namespace signalhub::search
