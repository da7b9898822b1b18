#pragma once
// The indexing pipeline: scan -> (stat, hash) -> chunk -> embed -> commit.
//
// Incremental: a file whose size and mtime match its stored state is not
// read; one whose bytes hash the same is not re-chunked or re-embedded; files
// gone from the tree (deleted, renamed, newly ignored) lose their records.
// Crash-safe: files are committed in groups, each group's records and file
// states in one store transaction, so an interrupted run leaves every file
// either fully indexed at its new content or at its old one; the next run
// picks up the rest. Cancellation (the `cancel` flag) stops after the current
// group and returns Cancelled.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/status.hpp"
#include "embed/embedder.hpp"
#include "index/git_state.hpp"
#include "index/scanner.hpp"
#include "store/vector_store.hpp"

namespace signalhub::index {

struct IndexProgress {
    enum class Phase { kScanning, kIndexing, kRemoving, kFinishing } phase = Phase::kScanning;
    std::int64_t files_total = 0;   // files that need reading (new or changed on disk)
    std::int64_t files_done = 0;
    std::int64_t bytes_total = 0;
    std::int64_t bytes_done = 0;
    std::int64_t chunks_done = 0;
    std::chrono::steady_clock::duration elapsed{};
};

struct IndexStats {
    std::int64_t files_scanned = 0;    // files the scanner selected
    std::int64_t files_unchanged = 0;  // size+mtime or content hash unchanged
    std::int64_t files_added = 0;
    std::int64_t files_changed = 0;    // content changed since the last run
    std::int64_t files_removed = 0;    // gone from the tree
    std::int64_t files_skipped = 0;    // binary, too large, unreadable
    std::int64_t chunks_written = 0;   // chunks (re-)embedded in this run
    std::int64_t chunks_deleted = 0;
    std::int64_t chunks_reused = 0;    // records of unchanged files, kept with their embeddings
    // What a full rebuild (re-embedding every record of the collection, e.g. after losing the
    // store) would send to the embedder: records and the bytes of their embedding texts (see
    // EstimateTokens). Kept as collection properties, updated by each commit.
    std::int64_t rebuild_chunks = 0;
    std::int64_t rebuild_text_bytes = 0;
    // The git work tree's HEAD when this run started (recorded as collection_property::kGitCommit
    // and kGitDirty), nullopt when the root is not in one; and the commit the previous finished
    // run recorded ("" when none).
    std::optional<GitState> git;
    std::string previous_git_commit;
    std::int64_t bytes_read = 0;
    double seconds = 0;
    // Wall time per stage (the stages run one after another; each may use
    // several threads): scan, read + chunk, embed, store commits, final flush
    // (saving or building the vector index).
    double scan_seconds = 0, chunk_seconds = 0, embed_seconds = 0, commit_seconds = 0, flush_seconds = 0;
    std::vector<SkippedFile> skipped;
};

struct IndexOptions {
    std::filesystem::path root;
    std::string collection;               // required
    std::filesystem::path store_dir;      // excluded from the scan when inside root ("" = none)
    config::IndexConfig config;
    unsigned threads = 0;                 // 0: hardware concurrency
    std::function<void(const IndexProgress&)> on_progress;  // called from the calling thread
    const std::atomic<bool>* cancel = nullptr;
    // Record the git commit the tree is at (ReadGitState, run as a `git` subprocess) in the last
    // commit of a finished run; a root outside a work tree removes a previously recorded one.
    bool record_git = true;
};

// Sets the collection's properties "root" (RootProperty) and "index_started"
// (unix seconds) in a first commit and removes "index_started" in the last one,
// so a collection still carrying it was interrupted (collection_property). The
// last commit also records the git commit (record_git); every commit keeps
// "embed_text_bytes"/"embed_text_chunks" (the rebuild cost) in step with the records.
Result<IndexStats> IndexTree(store::VectorStore& store, embed::Embedder& embedder, const IndexOptions& options);

// What an IndexTree run would find, without reading or changing anything:
// files new on disk, files whose size or mtime differ from their stored state
// (their content may still be the same: only a run reads them), and stored
// files gone from the tree (deleted or newly ignored). Costs one scan.
struct TreeChanges {
    std::int64_t files_scanned = 0;
    std::int64_t files_new = 0;
    std::int64_t files_modified = 0;
    std::int64_t files_deleted = 0;
    bool up_to_date() const { return files_new == 0 && files_modified == 0 && files_deleted == 0; }
};
// Uses root, collection, store_dir and config of `options` (the same scan
// rules as IndexTree). A collection that does not exist has no stored files.
Result<TreeChanges> CompareTree(store::VectorStore& store, const IndexOptions& options);

// The scanner options IndexTree uses for `options`.
ScanOptions ScanOptionsFor(const IndexOptions& options);

// The collection property "root" (collection_property::kRoot) an index run of
// `root` writes: its absolute, canonical path.
std::string RootProperty(const std::filesystem::path& root);

// Default collection name for a root directory: its base name, reduced to
// [A-Za-z0-9._-] ("repo" when nothing is left).
std::string DefaultCollectionName(const std::filesystem::path& root);

// Estimated embedding tokens for `text_bytes` bytes of embedding text: bytes / 4, rounded up
// (OpenAI's rule of thumb of ~4 characters per token for English; code often tokenizes a
// little denser, so treat it as a lower bound within a factor of ~1.5). The builtin embedder
// uses no tokens; the figure is what an API embedder would bill.
std::int64_t EstimateTokens(std::int64_t text_bytes);

// Bytes of EmbeddingText for a stored record (its path, symbol and kind metadata and document).
std::int64_t EmbeddingTextBytes(const Record& record);

// Stable record id: from the repo-relative path and the chunk's identity
// (kind, symbol, occurrence of that pair in the file, part), never from line
// numbers, so editing one function leaves the other records' ids unchanged.
std::string RecordId(std::string_view rel_path, std::string_view kind, std::string_view symbol, int occurrence,
                     int part);

// The text given to the embedder for a chunk: a short header (path, symbol,
// kind) followed by the code, so that names of files and definitions count.
std::string EmbeddingText(std::string_view rel_path, std::string_view symbol, std::string_view kind,
                          std::string_view code);

}  // namespace signalhub::index
