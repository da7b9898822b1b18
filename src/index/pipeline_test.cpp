#include "index/pipeline.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>

namespace signalhub::index {
namespace {
namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
}

class PipelineTest : public ::testing::Test {
   protected:
    void SetUp() override {
        root_ = fs::path(::testing::TempDir()) / ("pipeline_" + std::to_string(::getpid()) + "_" +
                                                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(root_);
        Write(root_ / "a.py", "def alpha():\n    return 1\n\n\ndef beta():\n    return 2\n");
        Write(root_ / "src/b.go", "package b\n\nfunc Gamma() int {\n\treturn 3\n}\n");
        Write(root_ / "README.md", "# Title\n\nSome text.\n\n## Usage\n\nRun it.\n");
        Write(root_ / "image.bin", std::string("\x89PNG\0\0\0\rIHDR", 12));
        store_ = std::move(*store::OpenStore("memory://", {}));
        config::EmbeddingConfig ec;
        ec.dimension = 64;
        embedder_ = std::move(*embed::CreateEmbedder(ec));
    }
    void TearDown() override { fs::remove_all(root_); }

    Result<IndexStats> Run(const std::atomic<bool>* cancel = nullptr) {
        IndexOptions o;
        o.root = root_;
        o.collection = "c";
        o.config.batch_size = 2;  // many small commits
        o.threads = 2;
        o.cancel = cancel;
        return IndexTree(*store_, *embedder_, o);
    }

    std::set<std::string> Ids() {
        std::set<std::string> ids;
        std::string after;
        while (true) {
            auto page = store_->Scan("c", after, 100);
            EXPECT_TRUE(page.ok());
            for (const auto& r : page->records) ids.insert(r.id);
            if (!page->next_after) break;
            after = *page->next_after;
        }
        return ids;
    }

    fs::path root_;
    std::unique_ptr<store::VectorStore> store_;
    std::unique_ptr<embed::Embedder> embedder_;
};

TEST_F(PipelineTest, IndexesThenSkipsUnchangedFiles) {
    auto first = Run();
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ(first->files_added, 3);
    EXPECT_GE(first->chunks_written, 4);
    auto ids = Ids();
    EXPECT_EQ(static_cast<std::int64_t>(ids.size()), first->chunks_written);

    auto second = Run();
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(second->files_added + second->files_changed + second->files_removed, 0);
    EXPECT_EQ(second->bytes_read, 0);
    EXPECT_EQ(second->chunks_written, 0);
    EXPECT_EQ(Ids(), ids);
}

TEST_F(PipelineTest, EditKeepsIdsOfUntouchedDefinitions) {
    ASSERT_TRUE(Run().ok());
    auto before = Ids();
    Write(root_ / "a.py", "def alpha():\n    return 1\n\n\ndef beta():\n    return 2 + 40\n\n\ndef delta():\n    pass\n");
    auto r = Run();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->files_changed, 1);
    auto after = Ids();
    // alpha's and beta's ids survive (identity, not line numbers); delta is new.
    EXPECT_EQ(after.size(), before.size() + 1);
    for (const auto& id : before) EXPECT_TRUE(after.count(id)) << id;
    EXPECT_EQ(RecordId("a.py", "function", "alpha", 0, 0), RecordId("a.py", "function", "alpha", 0, 0));
    EXPECT_NE(RecordId("a.py", "function", "alpha", 0, 0), RecordId("b.py", "function", "alpha", 0, 0));
}

TEST_F(PipelineTest, DeletedFilesLoseTheirRecords) {
    ASSERT_TRUE(Run().ok());
    fs::remove(root_ / "src/b.go");
    auto r = Run();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->files_removed, 1);
    auto files = store_->ListFiles("c");
    ASSERT_TRUE(files.ok());
    for (const auto& f : *files) EXPECT_NE(f.path, "src/b.go");
    auto page = store_->Scan("c", "", 1000);
    for (const auto& rec : page->records) EXPECT_NE(GetString(rec.metadata, meta::kFilePath), "src/b.go");
}

TEST_F(PipelineTest, CancelKeepsCommittedWorkAndResumes) {
    std::atomic<bool> cancel{true};
    auto r = Run(&cancel);
    EXPECT_EQ(r.status().code(), ErrorCode::kCancelled);
    auto resumed = Run();
    ASSERT_TRUE(resumed.ok());
    auto fresh_store = std::move(*store::OpenStore("memory://", {}));
    std::swap(store_, fresh_store);
    ASSERT_TRUE(Run().ok());
    auto reference = Ids();
    std::swap(store_, fresh_store);
    EXPECT_EQ(Ids(), reference);
}

// Issue 20 items 6 and 10: each run records the tree's root; an interrupted run
// leaves the "index_started" mark that status reports, a finished one clears it.
TEST_F(PipelineTest, RecordsTheRootAndMarksAnInterruptedRun) {
    std::atomic<bool> cancel{true};
    EXPECT_EQ(Run(&cancel).status().code(), ErrorCode::kCancelled);
    auto info = store_->GetCollection("c");
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->properties.count(std::string(collection_property::kIndexStarted)), 1u);
    EXPECT_EQ(info->properties.at(std::string(collection_property::kRoot)), RootProperty(root_));
    EXPECT_EQ(RootProperty(root_), fs::canonical(root_).string());
    ASSERT_TRUE(Run().ok());
    info = store_->GetCollection("c");
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->properties.count(std::string(collection_property::kIndexStarted)), 0u);
    EXPECT_EQ(info->files, 3);  // a.py, src/b.go, README.md (image.bin is skipped)
}

TEST_F(PipelineTest, MismatchedEmbedderIsRefused) {
    ASSERT_TRUE(Run().ok());
    config::EmbeddingConfig ec;
    ec.dimension = 32;
    embedder_ = std::move(*embed::CreateEmbedder(ec));
    auto r = Run();
    EXPECT_EQ(r.status().code(), ErrorCode::kFailedPrecondition);
}

// Issue 15: re-embedded vs reused chunks, and the full-rebuild cost kept in the collection's
// properties equals what re-embedding every stored record would send.
TEST_F(PipelineTest, CountsReusedChunksAndKeepsTheRebuildCost) {
    auto stored_bytes = [&] {
        std::int64_t bytes = 0;
        auto page = store_->Scan("c", "", 1000);
        EXPECT_TRUE(page.ok());
        for (const auto& r : page->records) {
            const std::string path = *GetString(r.metadata, meta::kFilePath);
            const std::string symbol = GetString(r.metadata, meta::kSymbol).value_or("");
            const std::string kind = GetString(r.metadata, meta::kKind).value_or("");
            EXPECT_EQ(EmbeddingTextBytes(r), static_cast<std::int64_t>(EmbeddingText(path, symbol, kind, r.document.value_or("")).size()));
            bytes += EmbeddingTextBytes(r);
        }
        return bytes;
    };
    auto a_chunks = [&] {
        auto files = store_->ListFiles("c");
        for (const auto& f : *files)
            if (f.path == "a.py") return static_cast<std::int64_t>(f.record_ids.size());
        return std::int64_t{-1};
    };
    auto first = Run();
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->chunks_reused, 0);
    EXPECT_EQ(first->rebuild_chunks, first->chunks_written);
    EXPECT_EQ(first->rebuild_text_bytes, stored_bytes());
    EXPECT_GT(first->rebuild_text_bytes, 0);
    const std::int64_t total = first->chunks_written;
    const std::int64_t old_a = a_chunks();

    Write(root_ / "a.py", "def alpha():\n    return 1\n\n\ndef beta():\n    return 2 + 40\n\n\ndef delta():\n    pass\n");
    auto second = Run();
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(second->chunks_written, a_chunks());
    EXPECT_EQ(second->chunks_reused, total - old_a);
    EXPECT_EQ(second->rebuild_chunks, static_cast<std::int64_t>(Ids().size()));
    EXPECT_EQ(second->rebuild_text_bytes, stored_bytes());

    fs::remove(root_ / "src/b.go");
    auto third = Run();
    ASSERT_TRUE(third.ok());
    EXPECT_EQ(third->chunks_written, 0);
    EXPECT_EQ(third->rebuild_chunks, static_cast<std::int64_t>(Ids().size()));
    EXPECT_EQ(third->rebuild_text_bytes, stored_bytes());
    EXPECT_EQ(third->chunks_reused, third->rebuild_chunks);

    // A wrong or missing recorded cost (older build, import) is recounted from the records.
    store::ChangeSet wrong;
    wrong.set_properties[std::string(collection_property::kEmbedTextChunks)] = "999";
    wrong.set_properties[std::string(collection_property::kEmbedTextBytes)] = "5";
    ASSERT_TRUE(store_->Commit("c", wrong).ok());
    auto fourth = Run();
    ASSERT_TRUE(fourth.ok());
    EXPECT_EQ(fourth->rebuild_chunks, third->rebuild_chunks);
    EXPECT_EQ(fourth->rebuild_text_bytes, third->rebuild_text_bytes);
    auto info = store_->GetCollection("c");
    EXPECT_EQ(info->properties.at(std::string(collection_property::kEmbedTextBytes)),
              std::to_string(third->rebuild_text_bytes));
    EXPECT_EQ(EstimateTokens(0), 0);
    EXPECT_EQ(EstimateTokens(1), 1);
    EXPECT_EQ(EstimateTokens(8), 2);
    EXPECT_EQ(EstimateTokens(9), 3);
}

// A root outside any git work tree records no commit, and removes one an earlier run recorded.
TEST_F(PipelineTest, NonGitRootRecordsNoCommit) {
    if (ReadGitState(root_).has_value()) GTEST_SKIP() << "the temporary directory lies inside a git work tree";
    store::ChangeSet stale;
    ASSERT_TRUE(store_->EnsureCollection(embedder_->SpecFor("c")).ok());
    stale.set_properties[std::string(collection_property::kGitCommit)] = std::string(40, 'a');
    stale.set_properties[std::string(collection_property::kGitDirty)] = "false";
    ASSERT_TRUE(store_->Commit("c", stale).ok());
    auto r = Run();
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->git.has_value());
    EXPECT_EQ(r->previous_git_commit, std::string(40, 'a'));
    auto info = store_->GetCollection("c");
    EXPECT_EQ(info->properties.count(std::string(collection_property::kGitCommit)), 0u);
    EXPECT_EQ(info->properties.count(std::string(collection_property::kGitDirty)), 0u);
}

TEST(DefaultCollectionName, UsesTheDirectoryName) {
    EXPECT_EQ(DefaultCollectionName("/tmp/my repo!"), "my_repo_");
    EXPECT_EQ(DefaultCollectionName("/srv/code/signal-hub/"), "signal-hub");
}

}  // namespace
}  // namespace signalhub::index
