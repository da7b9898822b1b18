// The embedded store's lexical index on disk: compacted when built from scratch and when it has
// grown to at least twice its size (ADR-35a), keeping document ids (= row ids) and its seq.

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "core/test_temp_dir.hpp"
#include "store/embedded/embedded_store.hpp"

using signalhub::testing_util::TempDir;

namespace signalhub::store {
namespace {

namespace fs = std::filesystem;

constexpr int kDim = 8;

Record MakeRecord(int i) {
    Record r;
    r.id = "rec-" + std::to_string(i);
    // Word w<i> is only in record i; the others are shared, as in source code.
    r.document = "def w" + std::to_string(i) + "(self, value): return parse_token(value) + " +
                 std::to_string(i % 97) + " # helper number " + std::to_string(i % 13);
    r.metadata["file_path"] = "src/f" + std::to_string(i % 50) + ".py";
    r.metadata["language"] = "python";
    std::mt19937 rng(static_cast<unsigned>(i) + 1);
    std::normal_distribution<float> dist(0, 1);
    r.embedding.resize(kDim);
    for (auto& x : r.embedding) x = dist(rng);
    return r;
}

std::uintmax_t DirBytes(const std::string& dir) {
    std::uintmax_t total = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) total += e.file_size();
    return total;
}

void ExpectFound(VectorStore& store, int begin, int end, int step) {
    for (int i = begin; i < end; i += step) {
        auto hits = store.LexicalSearch("c", "w" + std::to_string(i), SearchOptions{.k = 1});
        ASSERT_TRUE(hits.ok()) << hits.status().ToString();
        ASSERT_EQ(hits->size(), 1u) << i;
        EXPECT_EQ((*hits)[0].record.id, "rec-" + std::to_string(i));
    }
}

void Commit(VectorStore& store, int begin, int end) {
    for (int from = begin; from < end; from += 100) {  // commit by commit, as an index run does
        ChangeSet c;
        for (int i = from; i < std::min(end, from + 100); ++i) c.upserts.push_back(MakeRecord(i));
        ASSERT_TRUE(store.Commit("c", c).ok());
    }
}

TEST(EmbeddedLexicalIndex, GrownIndexIsCompactedAtFlushAndRebuiltIndexIsCompact) {
    TempDir dir;
    const std::string store_dir = dir / "store", lexical = store_dir + "/lexical/1";
    std::uintmax_t grown = 0, compacted = 0;
    {
        auto opened = EmbeddedStore::Open(store_dir, OpenOptions{});
        ASSERT_TRUE(opened.ok());
        EmbeddedStore& store = **opened;
        ASSERT_TRUE(store.EnsureCollection(CollectionSpec{"c", "model", kDim, DistanceMetric::kCosine}).ok());
        Commit(store, 0, 3000);
        grown = DirBytes(lexical);
        ASSERT_TRUE(store.Flush().ok());
        compacted = DirBytes(lexical);
        EXPECT_LT(compacted, grown * 3 / 4) << "grown " << grown << ", after Flush " << compacted;
        ExpectFound(store, 0, 3000, 37);
        // Flushing again without growth does not compact: the files stay as they are.
        Commit(store, 3000, 3100);
        ASSERT_TRUE(store.Flush().ok());
        EXPECT_GT(DirBytes(lexical), compacted);
        ExpectFound(store, 2900, 3100, 7);
    }
    EXPECT_FALSE(fs::exists(lexical + ".tmp"));
    EXPECT_FALSE(fs::exists(lexical + ".old.tmp"));
    {
        auto store = EmbeddedStore::Open(store_dir, OpenOptions{.read_only = true});
        ASSERT_TRUE(store.ok());
        ExpectFound(**store, 0, 3100, 41);
        EXPECT_EQ((*store)->stats().lexical_rebuilds, 0);
    }
    // Built from scratch: compact too, then updated in place.
    fs::remove_all(lexical);
    {
        auto opened = EmbeddedStore::Open(store_dir, OpenOptions{});
        ASSERT_TRUE(opened.ok());
        EmbeddedStore& store = **opened;
        ExpectFound(store, 0, 3100, 53);
        EXPECT_EQ(store.stats().lexical_rebuilds, 1);
        EXPECT_LT(DirBytes(lexical), grown * 3 / 4);
        EXPECT_FALSE(fs::exists(lexical + ".build.tmp"));
        ChangeSet c;
        c.delete_ids = {"rec-5"};
        Record moved = MakeRecord(6);
        moved.document = "def renamed_function(): pass";
        c.upserts.push_back(moved);
        ASSERT_TRUE(store.Commit("c", c).ok());
        ASSERT_TRUE(store.Flush().ok());
    }
    {
        auto opened = EmbeddedStore::Open(store_dir, OpenOptions{.read_only = true});
        ASSERT_TRUE(opened.ok());
        EmbeddedStore& store = **opened;
        EXPECT_EQ(store.stats().lexical_rebuilds, 0);
        // rec-5 is gone; rec-6 lost its word (its path still shares tokens with the query).
        auto deleted = store.LexicalSearch("c", "w5", SearchOptions{.k = 50});
        ASSERT_TRUE(deleted.ok());
        for (const auto& h : *deleted) EXPECT_NE(h.record.id, "rec-5");
        auto replaced = store.LexicalSearch("c", "w6", SearchOptions{.k = 1});
        ASSERT_TRUE(replaced.ok());
        ASSERT_EQ(replaced->size(), 1u);
        EXPECT_NE((*replaced)[0].record.id, "rec-6");
        auto hits = store.LexicalSearch("c", "renamed_function", SearchOptions{.k = 1});
        ASSERT_TRUE(hits.ok());
        ASSERT_EQ(hits->size(), 1u);
        EXPECT_EQ((*hits)[0].record.id, "rec-6");
        ExpectFound(store, 7, 3100, 59);
    }
}

}  // namespace
}  // namespace signalhub::store
