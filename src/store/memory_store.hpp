#pragma once
// MemoryStore: the in-memory VectorStore used by tests (URL "memory://").
// Exact vector search, BM25 lexical search with the same tokenisation and
// formula as the embedded store (FTS5 bm25, k1=1.2, b=0.75). Nothing persists.
// Thread-safe: reads share a lock, writes are exclusive; Commit validates the
// whole ChangeSet before applying any of it. CheckHealth is always OK (nothing
// to reach); DataVersion is a counter bumped under the write lock.

#include <atomic>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "core/clock.hpp"
#include "store/vector_store.hpp"

namespace signalhub::store {

class MemoryStore final : public VectorStore {
   public:
    explicit MemoryStore(Clock& clock = Clock::Real());

    Result<CollectionInfo> EnsureCollection(const CollectionSpec& spec) override;
    Result<CollectionInfo> GetCollection(std::string_view name) override;
    Result<std::vector<CollectionInfo>> ListCollections() override;
    Status DropCollection(std::string_view name) override;
    Status Commit(std::string_view collection, const ChangeSet& changes) override;
    Result<std::vector<FileState>> ListFiles(std::string_view collection) override;
    Result<std::vector<Record>> Get(std::string_view collection, std::span<const std::string> ids) override;
    Result<ScanPage> Scan(std::string_view collection, std::string_view after_id, size_t limit) override;
    Result<std::vector<Hit>> VectorSearch(std::string_view collection, std::span<const float> query,
                                          const SearchOptions& options) override;
    Result<std::vector<Hit>> LexicalSearch(std::string_view collection, std::string_view query,
                                           const SearchOptions& options) override;
    Status CheckHealth() override;
    Result<std::int64_t> DataVersion() override;

   private:
    struct Entry {
        Record record;
        std::unordered_map<std::string, int> term_counts;
        int length = 0;  // number of lexical tokens
    };
    struct Collection {
        CollectionSpec spec;
        std::optional<std::int64_t> last_indexed;
        std::map<std::string, Entry, std::less<>> records;
        std::map<std::string, FileState, std::less<>> files;
        std::int64_t total_tokens = 0;
        std::map<std::string, std::string, std::less<>> properties;
    };

    Result<const Collection*> Find(std::string_view name) const;
    static CollectionInfo Info(const Collection& c);

    Clock& clock_;
    mutable std::shared_mutex mu_;
    // Bumped while mu_ is held exclusively, after the change is applied: a
    // reader that sees the new value and then takes mu_ sees the new data.
    std::atomic<std::int64_t> data_version_{0};
    std::map<std::string, Collection, std::less<>> collections_;
};

}  // namespace signalhub::store
