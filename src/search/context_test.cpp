#include "search/context.hpp"

#include <gtest/gtest.h>

namespace signalhub::search {
namespace {

// The text of lines first..last of a synthetic file whose line N reads "line N".
std::string Text(int first, int last) {
    std::string out;
    for (int i = first; i <= last; ++i) {
        if (i > first) out += '\n';
        out += "line " + std::to_string(i);
    }
    return out;
}

SearchResult Chunk(const std::string& id, const std::string& path, int first, int last, const std::string& symbol,
                   const std::string& kind) {
    return SearchResult{.id = id,
                        .collection = "repo",
                        .file_path = path,
                        .start_line = first,
                        .end_line = last,
                        .language = "python",
                        .symbol = symbol,
                        .kind = kind,
                        .score = 1.0,
                        .text = Text(first, last)};
}

TEST(EstimateTokens, CeilingOfBytesOverFour) {
    EXPECT_EQ(EstimateTokens(""), 0u);
    EXPECT_EQ(EstimateTokens("abcd"), 1u);
    EXPECT_EQ(EstimateTokens("abcde"), 2u);
}

TEST(AssembleContext, DefinitionsFirstAndCurrentFileBeforeRelatedBeforeOthers) {
    std::vector<SearchResult> ranked = {
        Chunk("1", "other.py", 1, 3, "", "preamble"),  // best ranked, but not a definition
        Chunk("2", "other.py", 10, 12, "helper", "function"), Chunk("3", "related.py", 1, 4, "Thing", "class"),
        Chunk("4", "current.py", 20, 22, "work", "function"), Chunk("5", "current.py", 1, 2, "", "preamble"),
    };
    ContextRequest request{.current_file = "current.py", .related_files = {"related.py"}, .max_tokens = 4000};
    Context context = AssembleContext(ranked, request);
    ASSERT_EQ(context.files.size(), 3u);
    EXPECT_EQ(context.files[0].file_path, "current.py");
    EXPECT_EQ(context.files[1].file_path, "related.py");
    EXPECT_EQ(context.files[2].file_path, "other.py");
    EXPECT_TRUE(context.omitted.empty());
    // Within a file, excerpts are in line order whatever the priority.
    ASSERT_EQ(context.files[0].excerpts.size(), 2u);
    EXPECT_EQ(context.files[0].excerpts[0].start_line, 1);
    EXPECT_EQ(context.files[0].excerpts[1].symbols, std::vector<std::string>{"work"});

    // With room for one chunk only, it is the current file's definition.
    request.max_tokens = EstimateTokens(Text(20, 22));
    context = AssembleContext(ranked, request);
    ASSERT_EQ(context.files.size(), 1u);
    EXPECT_EQ(context.files[0].file_path, "current.py");
    EXPECT_EQ(context.files[0].excerpts[0].symbols, std::vector<std::string>{"work"});
    // The rest is listed, in priority order: definitions (related, other) then the others.
    ASSERT_EQ(context.omitted.size(), 4u);
    EXPECT_EQ(context.omitted[0].symbol, "Thing");
    EXPECT_EQ(context.omitted[1].symbol, "helper");
    EXPECT_EQ(context.omitted[2].file_path, "current.py");
    EXPECT_EQ(context.omitted[3].file_path, "other.py");
    for (const auto& o : context.omitted) {
        EXPECT_EQ(o.reason, "over budget");
        EXPECT_GT(o.tokens, 0u);
    }
}

TEST(AssembleContext, StaysWithinBudgetAndSmallerChunksStillFit) {
    std::vector<SearchResult> ranked = {
        Chunk("big", "a.py", 1, 60, "big", "function"),
        Chunk("small", "b.py", 1, 2, "small", "function"),
    };
    const size_t small_cost = EstimateTokens(Text(1, 2));
    Context context = AssembleContext(ranked, ContextRequest{.max_tokens = small_cost + 10});
    EXPECT_LE(context.tokens_used, context.max_tokens);
    EXPECT_EQ(context.tokens_used, small_cost);
    ASSERT_EQ(context.files.size(), 1u);
    EXPECT_EQ(context.files[0].file_path, "b.py");
    ASSERT_EQ(context.omitted.size(), 1u);
    EXPECT_EQ(context.omitted[0].symbol, "big");
    EXPECT_EQ(context.omitted[0].start_line, 1);
    EXPECT_EQ(context.omitted[0].end_line, 60);
    EXPECT_EQ(context.omitted[0].tokens, EstimateTokens(Text(1, 60)));
}

TEST(AssembleContext, MergesOverlappingAndAdjacentRangesOfAFile) {
    std::vector<SearchResult> ranked = {
        Chunk("1", "a.py", 1, 5, "f", "function"), Chunk("2", "a.py", 4, 8, "g", "function"),  // overlaps 1-5
        Chunk("3", "a.py", 9, 10, "h", "function"),                                            // adjacent to 1-8
        Chunk("4", "a.py", 20, 22, "k", "function"),                                           // apart
    };
    Context context = AssembleContext(ranked, ContextRequest{});
    ASSERT_EQ(context.files.size(), 1u);
    const auto& excerpts = context.files[0].excerpts;
    ASSERT_EQ(excerpts.size(), 2u);
    EXPECT_EQ(excerpts[0].start_line, 1);
    EXPECT_EQ(excerpts[0].end_line, 10);
    EXPECT_EQ(excerpts[0].text, Text(1, 10));  // each line once
    EXPECT_EQ(excerpts[0].symbols, (std::vector<std::string>{"f", "g", "h"}));
    EXPECT_EQ(excerpts[1].text, Text(20, 22));
    EXPECT_EQ(context.tokens_used, EstimateTokens(Text(1, 10)) + EstimateTokens(Text(20, 22)));
}

TEST(AssembleContext, ChunkInsideATakenOneCostsNothingAndIsNamed) {
    std::vector<SearchResult> ranked = {
        Chunk("cls", "a.py", 1, 10, "Cart", "class"), Chunk("m", "a.py", 3, 5, "Cart.add", "method"),
        Chunk("cls", "a.py", 1, 10, "Cart", "class"),  // the same id again: ignored
    };
    Context context = AssembleContext(ranked, ContextRequest{.max_tokens = EstimateTokens(Text(1, 10))});
    EXPECT_TRUE(context.omitted.empty());
    ASSERT_EQ(context.files.size(), 1u);
    ASSERT_EQ(context.files[0].excerpts.size(), 1u);
    EXPECT_EQ(context.files[0].excerpts[0].symbols, (std::vector<std::string>{"Cart", "Cart.add"}));
    EXPECT_EQ(context.tokens_used, EstimateTokens(Text(1, 10)));
}

TEST(AssembleContext, SameFileNameInTwoCollectionsStaysApart) {
    SearchResult a = Chunk("1", "a.py", 1, 3, "f", "function");
    SearchResult b = Chunk("1", "a.py", 1, 3, "f", "function");
    b.collection = "other";
    Context context = AssembleContext({a, b}, ContextRequest{});
    ASSERT_EQ(context.files.size(), 2u);
    EXPECT_EQ(context.files[0].collection, "repo");
    EXPECT_EQ(context.files[1].collection, "other");
}

TEST(AssembleContext, NothingFitsEverythingOmitted) {
    Context context = AssembleContext({Chunk("1", "a.py", 1, 50, "f", "function")}, ContextRequest{.max_tokens = 1});
    EXPECT_TRUE(context.files.empty());
    EXPECT_EQ(context.tokens_used, 0u);
    ASSERT_EQ(context.omitted.size(), 1u);
}

TEST(MergeLineSpans, TakesLinesFromWhicheverPieceCoversThem) {
    auto spans = MergeLineSpans({{5, 7, Text(5, 7)}, {1, 3, Text(1, 3)}, {2, 2, Text(2, 2)}, {4, 4, Text(4, 4)}});
    ASSERT_EQ(spans.size(), 1u);
    EXPECT_EQ(spans[0].start_line, 1);
    EXPECT_EQ(spans[0].end_line, 7);
    EXPECT_EQ(spans[0].text, Text(1, 7));
    spans = MergeLineSpans({{1, 2, Text(1, 2)}, {4, 5, Text(4, 5)}});
    ASSERT_EQ(spans.size(), 2u);
    // The text decides where a piece ends, whatever its end_line says.
    spans = MergeLineSpans({{1, 1, Text(1, 3)}, {4, 4, Text(4, 4)}});
    ASSERT_EQ(spans.size(), 1u);
    EXPECT_EQ(spans[0].end_line, 4);
}

TEST(ReconstructLines, GapsBetweenChunksAreBlankLines) {
    std::vector<SearchResult> chunks = {Chunk("1", "a.py", 1, 2, "", "preamble"),
                                        Chunk("2", "a.py", 5, 6, "f", "function")};
    EXPECT_EQ(ReconstructLines(chunks, 1, 6), "line 1\nline 2\n\n\nline 5\nline 6");
    EXPECT_EQ(ReconstructLines(chunks, 2, 5), "line 2\n\n\nline 5");
}

TEST(SplitLines, FinalNewlineStartsNoLine) {
    EXPECT_EQ(SplitLines("a\nb").size(), 2u);
    EXPECT_EQ(SplitLines("a\nb\n").size(), 2u);
    EXPECT_EQ(SplitLines("").size(), 1u);
}

TEST(WholeWordLines, MatchesIdentifiersOnly) {
    const std::string text = "def add_item(x):\n    add_items()\n    self.add_item(1)  # add_item\n    xadd_item";
    EXPECT_EQ(WholeWordLines(text, "add_item"), (std::vector<int>{0, 2}));
    EXPECT_TRUE(WholeWordLines(text, "").empty());
    EXPECT_EQ(WholeWordLines("$el = 1\nel = 2", "el"), std::vector<int>{1});
}

TEST(DefinitionLine, SkipsCommentsAndDecorators) {
    SearchResult chunk = Chunk("1", "a.py", 10, 13, "add", "function");
    chunk.text = "# add numbers\n@cache  # add\ndef add(a, b):\n    return a + b";
    EXPECT_EQ(DefinitionLine(chunk, "add"), 12);
    EXPECT_EQ(DefinitionLine(chunk, "missing"), 10);
}

TEST(Symbols, LastComponentAndMatching) {
    EXPECT_EQ(LastComponent("Cart.add_item"), "add_item");
    EXPECT_EQ(LastComponent("ns::Cart::add"), "add");
    EXPECT_EQ(LastComponent("plain"), "plain");
    EXPECT_TRUE(SymbolMatches("Cart.add_item", "add_item"));
    EXPECT_TRUE(SymbolMatches("ns.Cart.add_item", "Cart::add_item"));
    EXPECT_TRUE(SymbolMatches("add_item", "add_item"));
    EXPECT_FALSE(SymbolMatches("Cart.xadd_item", "add_item"));
    EXPECT_FALSE(SymbolMatches("Cart", "Cart.add_item"));
    EXPECT_FALSE(SymbolMatches("Cart", ""));
}

TEST(IsDefinitionKind, DefinitionsAndOthers) {
    for (const char* kind : {"function", "method", "class", "struct", "interface", "enum", "trait", "impl", "module"})
        EXPECT_TRUE(IsDefinitionKind(kind)) << kind;
    for (const char* kind : {"preamble", "window", "section", ""}) EXPECT_FALSE(IsDefinitionKind(kind)) << kind;
}

TEST(Abbreviate, NeverSplitsAUtf8Sequence) {
    EXPECT_EQ(Abbreviate("short", 10), "short");
    EXPECT_EQ(Abbreviate("abcdef", 3), "abc...");
    EXPECT_EQ(Abbreviate("ab\xc3\xa9z", 3), "ab...");  // "é" is two bytes
}

TEST(ResultFromRecord, ReadsTheIndexerMetadata) {
    Record r;
    r.id = "x";
    r.document = "def f():\n    pass";
    r.metadata = {{"file_path", std::string("a.py")}, {"language", std::string("python")},
                  {"start_line", std::int64_t{3}},    {"end_line", std::int64_t{4}},
                  {"symbol", std::string("f")},       {"kind", std::string("function")}};
    SearchResult s = ResultFromRecord("repo", r, 0.5);
    EXPECT_EQ(s.collection, "repo");
    EXPECT_EQ(s.file_path, "a.py");
    EXPECT_EQ(s.start_line, 3);
    EXPECT_EQ(s.end_line, 4);
    EXPECT_EQ(s.symbol, "f");
    EXPECT_EQ(s.kind, "function");
    EXPECT_EQ(s.text, *r.document);
    EXPECT_DOUBLE_EQ(s.score, 0.5);
}

}  // namespace
}  // namespace signalhub::search
