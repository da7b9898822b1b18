#pragma once
// A VectorStore that forwards every call to another store. Subclasses decide
// who owns the target (and may override what they change); the target must
// outlive the ForwardingStore. Thread safety and errors are the target's.

#include "store/vector_store.hpp"

namespace signalhub::store {

class ForwardingStore : public VectorStore {
   public:
    explicit ForwardingStore(VectorStore& target) : target_(target) {}

    Result<CollectionInfo> EnsureCollection(const CollectionSpec& spec) override {
        return target_.EnsureCollection(spec);
    }
    Result<CollectionInfo> GetCollection(std::string_view name) override { return target_.GetCollection(name); }
    Result<std::vector<CollectionInfo>> ListCollections() override { return target_.ListCollections(); }
    Result<CollectionSpec> GetCollectionSpec(std::string_view name) override { return target_.GetCollectionSpec(name); }
    Result<std::vector<CollectionSpec>> ListCollectionSpecs() override { return target_.ListCollectionSpecs(); }
    Status DropCollection(std::string_view name) override { return target_.DropCollection(name); }
    Status Commit(std::string_view collection, const ChangeSet& changes) override {
        return target_.Commit(collection, changes);
    }
    Result<std::vector<FileState>> ListFiles(std::string_view collection) override {
        return target_.ListFiles(collection);
    }
    Result<std::vector<Record>> Get(std::string_view collection, std::span<const std::string> ids) override {
        return target_.Get(collection, ids);
    }
    Result<ScanPage> Scan(std::string_view collection, std::string_view after_id, size_t limit) override {
        return target_.Scan(collection, after_id, limit);
    }
    Result<std::vector<Hit>> VectorSearch(std::string_view collection, std::span<const float> query,
                                          const SearchOptions& options) override {
        return target_.VectorSearch(collection, query, options);
    }
    Result<std::vector<Hit>> LexicalSearch(std::string_view collection, std::string_view query,
                                           const SearchOptions& options) override {
        return target_.LexicalSearch(collection, query, options);
    }
    Status CheckHealth() override { return target_.CheckHealth(); }
    Result<std::int64_t> DataVersion() override { return target_.DataVersion(); }
    Status Flush() override { return target_.Flush(); }
    std::optional<PoolStats> pool_stats() const override { return target_.pool_stats(); }
    std::optional<ReadRoutingStats> read_routing() const override { return target_.read_routing(); }

   private:
    VectorStore& target_;
};

}  // namespace signalhub::store
