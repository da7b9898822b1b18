#pragma once
// RestrictedStore: a read-only view of a VectorStore limited to an allow-list
// of collections: the one mechanism that keeps an API key restricted to some
// collections from reading any other (docs/architecture.md, ADR-15). The MCP
// tools and the Searcher run over this view for such a key, so no code path
// can return another collection's records, whatever a tool asks for.
//
// Contract:
//  - ListCollections and ListCollectionSpecs return only allowed collections.
//  - Every call naming a collection outside the list fails with
//    PermissionDenied ("collection 'x' is not allowed for this API key"),
//    whether or not it exists, so the view does not reveal other names.
//  - Writes (EnsureCollection, DropCollection, Commit) fail with
//    PermissionDenied: the view is for readers.
//  - CheckHealth, DataVersion, Flush and pool_stats pass through.
//  - Thread-safe when the base store is; borrows it (it must outlive the view).

#include <string>
#include <vector>

#include "store/vector_store.hpp"

namespace signalhub::store {

class RestrictedStore final : public VectorStore {
   public:
    RestrictedStore(VectorStore& base, std::vector<std::string> allowed);

    bool Allows(std::string_view collection) const;

    Result<CollectionInfo> EnsureCollection(const CollectionSpec& spec) override;
    Result<CollectionInfo> GetCollection(std::string_view name) override;
    Result<std::vector<CollectionInfo>> ListCollections() override;
    Result<CollectionSpec> GetCollectionSpec(std::string_view name) override;
    Result<std::vector<CollectionSpec>> ListCollectionSpecs() override;
    Status DropCollection(std::string_view name) override;
    Status Commit(std::string_view collection, const ChangeSet& changes) override;
    Result<std::vector<FileState>> ListFiles(std::string_view collection) override;
    Result<std::vector<Record>> Get(std::string_view collection, std::span<const std::string> ids) override;
    Result<ScanPage> Scan(std::string_view collection, std::string_view after_id, size_t limit) override;
    Result<std::vector<Hit>> VectorSearch(std::string_view collection, std::span<const float> query,
                                          const SearchOptions& options) override;
    Result<std::vector<Hit>> LexicalSearch(std::string_view collection, std::string_view query,
                                           const SearchOptions& options) override;
    Status CheckHealth() override { return base_.CheckHealth(); }
    Result<std::int64_t> DataVersion() override { return base_.DataVersion(); }
    Status Flush() override { return base_.Flush(); }
    std::optional<PoolStats> pool_stats() const override { return base_.pool_stats(); }
    std::optional<ReadRoutingStats> read_routing() const override { return base_.read_routing(); }

   private:
    Status Check(std::string_view collection) const;

    VectorStore& base_;
    std::vector<std::string> allowed_;  // sorted
};

}  // namespace signalhub::store
