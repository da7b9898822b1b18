// The exact-symbol rule (searcher.hpp): a query that is exactly a symbol puts
// its definition first in every mode.

#include <gtest/gtest.h>

#include "search/searcher.hpp"

namespace signalhub::search {
namespace {

TEST(ExactSymbolQuery, OneIdentifierPossiblyQualified) {
    EXPECT_EQ(ExactSymbolQuery("urlsplit"), "urlsplit");
    EXPECT_EQ(ExactSymbolQuery("  urlsplit\n"), "urlsplit");
    EXPECT_EQ(ExactSymbolQuery("SplitResult.geturl"), "SplitResult.geturl");
    EXPECT_EQ(ExactSymbolQuery("ns::Cart::add"), "ns.Cart.add");
    EXPECT_EQ(ExactSymbolQuery("_private$x"), "_private$x");
    for (const char* not_one : {"", "  ", "split url", "urlsplit()", "a..b", ".x", "x.", "a::", "::a", "1abc",
                                "a.1b", "a:b", "foo-bar", "a/b"}) {
        EXPECT_EQ(ExactSymbolQuery(not_one), std::nullopt) << not_one;
    }
}

class ExactSymbolTest : public ::testing::Test {
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
        for (const char* c : {"repo", "other"}) ASSERT_TRUE(store_->EnsureCollection(embedder_->SpecFor(c)).ok());

        // The definition: a long body that names urlsplit once (BM25 normalises by length).
        std::string body = "def urlsplit(url, scheme='', allow_fragments=True):\n";
        for (int i = 0; i < 40; ++i) body += "    netloc_" + std::to_string(i) + " = _coerce_args(url, scheme)\n";
        Add("def", "urllib/parse.py", 100, 141, "urlsplit", "function", body);
        Add("def2", "urllib/parse.py", 142, 150, "urlsplit", "function", "    return _splitresult(netloc)\n");
        // Short chunks that call it, several times each: BM25 and the query vector prefer them.
        for (int i = 0; i < 6; ++i) {
            Add("use" + std::to_string(i), "mod" + std::to_string(i) + ".py", 1, 3, "", "preamble",
                "parts = urlsplit(u)\nurlsplit(v)\nurlsplit(w)\n");
        }
        Add("method", "urllib/result.py", 10, 40, "SplitResult.geturl", "method",
            "    def geturl(self):\n" + std::string(30, ' ') + "return urlunsplit(self)\n" + body.substr(60));
        Add("geturl_use", "client.py", 1, 2, "", "preamble", "x.geturl()\ny.geturl()\n");
        ASSERT_TRUE(store_->Commit("repo", changes_).ok());
    }

    void Add(const std::string& id, const std::string& path, int start, int end, const std::string& symbol,
             const std::string& kind, const std::string& text, const std::string& language = "python") {
        Record r;
        r.id = id;
        r.document = text;
        r.metadata = {{"file_path", path},
                      {"language", language},
                      {"start_line", std::int64_t{start}},
                      {"end_line", std::int64_t{end}},
                      {"symbol", symbol},
                      {"kind", kind},
                      {"content_hash", id}};
        std::vector<std::string> texts{text};
        r.embedding = std::move((*embedder_->Embed(texts, embed::Purpose::kDocument))[0]);
        changes_.upserts.push_back(std::move(r));
    }

    std::vector<std::string> Ids(const SearchRequest& request) {
        Searcher searcher(*store_, *embedder_, config::SearchConfig{});
        auto r = searcher.Search(request);
        EXPECT_TRUE(r.ok()) << r.status().ToString();
        std::vector<std::string> ids;
        if (r.ok()) {
            for (size_t i = 0; i < r->results.size(); ++i) {
                ids.push_back(r->results[i].id);
                if (i > 0) {
                    EXPECT_GE(r->results[i - 1].score, r->results[i].score) << "scores descend";
                }
            }
        }
        return ids;
    }

    std::unique_ptr<store::VectorStore> store_;
    std::unique_ptr<embed::Embedder> embedder_;
    store::ChangeSet changes_;
};

TEST_F(ExactSymbolTest, TheDefinitionComesFirstInEveryModeThoughTheListsRankItLower) {
    // Without the rule the definition is not first: BM25 and the vector both prefer the callers.
    auto lexical = store_->LexicalSearch("repo", "urlsplit", {.k = 10});
    ASSERT_TRUE(lexical.ok());
    ASSERT_GT(lexical->size(), 1u);
    EXPECT_NE((*lexical)[0].record.id, "def");
    auto query = embedder_->Embed(std::vector<std::string>{"urlsplit"}, embed::Purpose::kQuery);
    ASSERT_TRUE(query.ok());
    auto vector = store_->VectorSearch("repo", (*query)[0], {.k = 10});
    ASSERT_TRUE(vector.ok());
    EXPECT_NE((*vector)[0].record.id, "def");

    for (Mode mode : {Mode::kHybrid, Mode::kVector, Mode::kLexical}) {
        auto ids = Ids({.query = "urlsplit", .k = 5, .mode = mode});
        ASSERT_FALSE(ids.empty()) << ModeName(mode);
        EXPECT_EQ(ids[0], "def") << ModeName(mode);
        // Only the first part of the split definition is promoted.
        EXPECT_TRUE(ids.size() < 2 || ids[1] != "def2") << ModeName(mode);
    }
}

TEST_F(ExactSymbolTest, QualifiedNamesAndMethodNames) {
    for (const char* q : {"SplitResult.geturl", "SplitResult::geturl", "geturl"}) {
        for (Mode mode : {Mode::kHybrid, Mode::kVector, Mode::kLexical}) {
            auto ids = Ids({.query = q, .k = 3, .mode = mode});
            ASSERT_FALSE(ids.empty()) << q;
            EXPECT_EQ(ids[0], "method") << q << " " << ModeName(mode);
        }
    }
    // A name that is only a suffix of a component does not match ("url" is not "geturl").
    auto ids = Ids({.query = "url", .k = 10, .mode = Mode::kLexical});
    EXPECT_TRUE(ids.empty() || ids[0] != "method");
}

TEST_F(ExactSymbolTest, OtherQueriesAreRankedAsBefore) {
    Searcher searcher(*store_, *embedder_, config::SearchConfig{});
    auto two_words = searcher.Search({.query = "urlsplit url", .k = 5, .mode = Mode::kLexical});
    ASSERT_TRUE(two_words.ok());
    auto lexical = store_->LexicalSearch("repo", "urlsplit url", {.k = 5});
    ASSERT_TRUE(lexical.ok());
    ASSERT_FALSE(two_words->results.empty());
    EXPECT_EQ(two_words->results[0].id, (*lexical)[0].record.id);
    // A symbol nothing defines: the lists' order.
    auto undefined = searcher.Search({.query = "_coerce_args", .k = 5, .mode = Mode::kLexical});
    ASSERT_TRUE(undefined.ok());
    auto raw = store_->LexicalSearch("repo", "_coerce_args", {.k = 5});
    ASSERT_TRUE(raw.ok());
    ASSERT_FALSE(undefined->results.empty());
    EXPECT_EQ(undefined->results[0].id, (*raw)[0].record.id);
}

TEST_F(ExactSymbolTest, FiltersApplyToTheDefinitionToo) {
    SearchRequest go_only{.query = "urlsplit", .k = 5, .mode = Mode::kLexical};
    go_only.filter.language = "go";
    EXPECT_TRUE(Ids(go_only).empty());
    SearchRequest elsewhere{.query = "urlsplit", .k = 5, .mode = Mode::kLexical};
    elsewhere.filter.path_glob = "mod*.py";
    auto ids = Ids(elsewhere);
    ASSERT_FALSE(ids.empty());
    EXPECT_NE(ids[0], "def");
}

TEST_F(ExactSymbolTest, DefinitionsComeFirstAcrossCollections) {
    // The other collection holds only callers, whose scores beat the definition's own.
    changes_ = {};
    for (int i = 0; i < 3; ++i) {
        Add("o" + std::to_string(i), "o" + std::to_string(i) + ".py", 1, 1, "", "preamble", "urlsplit(a)\n");
    }
    ASSERT_TRUE(store_->Commit("other", changes_).ok());
    for (Mode mode : {Mode::kHybrid, Mode::kVector, Mode::kLexical}) {
        auto ids = Ids({.query = "urlsplit", .k = 5, .mode = mode});
        ASSERT_FALSE(ids.empty());
        EXPECT_EQ(ids[0], "def") << ModeName(mode);
    }
}

}  // namespace
}  // namespace signalhub::search
