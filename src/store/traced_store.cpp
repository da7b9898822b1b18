#include "store/traced_store.hpp"

#include "store/forwarding_store.hpp"
#include "telemetry/trace.hpp"

namespace signalhub::store {

namespace {

using telemetry::ScopedSpan;

class TracedStore final : public ForwardingStore {
   public:
    TracedStore(std::unique_ptr<VectorStore> inner, std::string backend)
        : ForwardingStore(*inner), inner_(std::move(inner)), backend_(std::move(backend)) {}

    Result<CollectionInfo> EnsureCollection(const CollectionSpec& spec) override {
        ScopedSpan span("store.ensure_collection");
        Tag(span, spec.name);
        return Finish(span, ForwardingStore::EnsureCollection(spec));
    }
    Result<CollectionInfo> GetCollection(std::string_view name) override {
        ScopedSpan span("store.get_collection");
        Tag(span, name);
        return Finish(span, ForwardingStore::GetCollection(name));
    }
    Result<std::vector<CollectionInfo>> ListCollections() override {
        ScopedSpan span("store.list_collections");
        Tag(span, "");
        auto r = ForwardingStore::ListCollections();
        if (r.ok()) span->SetAttribute("signal_hub.store.collections", r->size());
        return Finish(span, std::move(r));
    }
    Result<CollectionSpec> GetCollectionSpec(std::string_view name) override {
        ScopedSpan span("store.get_collection_spec");
        Tag(span, name);
        return Finish(span, ForwardingStore::GetCollectionSpec(name));
    }
    Result<std::vector<CollectionSpec>> ListCollectionSpecs() override {
        ScopedSpan span("store.list_collection_specs");
        Tag(span, "");
        auto r = ForwardingStore::ListCollectionSpecs();
        if (r.ok()) span->SetAttribute("signal_hub.store.collections", r->size());
        return Finish(span, std::move(r));
    }
    Status DropCollection(std::string_view name) override {
        ScopedSpan span("store.drop_collection");
        Tag(span, name);
        return Finish(span, ForwardingStore::DropCollection(name));
    }
    Status Commit(std::string_view collection, const ChangeSet& changes) override {
        ScopedSpan span("store.commit");
        Tag(span, collection);
        return Finish(span, ForwardingStore::Commit(collection, changes));
    }
    Result<std::vector<FileState>> ListFiles(std::string_view collection) override {
        ScopedSpan span("store.list_files");
        Tag(span, collection);
        return Finish(span, ForwardingStore::ListFiles(collection));
    }
    Result<std::vector<Record>> Get(std::string_view collection, std::span<const std::string> ids) override {
        ScopedSpan span("store.get");
        Tag(span, collection);
        span->SetAttribute("signal_hub.store.ids", ids.size());
        return Finish(span, ForwardingStore::Get(collection, ids));
    }
    Result<ScanPage> Scan(std::string_view collection, std::string_view after_id, size_t limit) override {
        ScopedSpan span("store.scan");
        Tag(span, collection);
        return Finish(span, ForwardingStore::Scan(collection, after_id, limit));
    }
    Result<std::vector<Hit>> VectorSearch(std::string_view collection, std::span<const float> query,
                                          const SearchOptions& options) override {
        ScopedSpan span("store.vector_search");
        Tag(span, collection);
        span->SetAttribute("signal_hub.store.k", options.k);
        auto r = ForwardingStore::VectorSearch(collection, query, options);
        if (r.ok()) span->SetAttribute("signal_hub.store.hits", r->size());
        return Finish(span, std::move(r));
    }
    Result<std::vector<Hit>> LexicalSearch(std::string_view collection, std::string_view query,
                                           const SearchOptions& options) override {
        ScopedSpan span("store.lexical_search");
        Tag(span, collection);
        span->SetAttribute("signal_hub.store.k", options.k);
        auto r = ForwardingStore::LexicalSearch(collection, query, options);
        if (r.ok()) span->SetAttribute("signal_hub.store.hits", r->size());
        return Finish(span, std::move(r));
    }
    Status CheckHealth() override {
        ScopedSpan span("store.check_health");
        Tag(span, "");
        return Finish(span, ForwardingStore::CheckHealth());
    }
    Result<std::int64_t> DataVersion() override {
        ScopedSpan span("store.data_version");
        Tag(span, "");
        return Finish(span, ForwardingStore::DataVersion());
    }
    Status Flush() override {
        ScopedSpan span("store.flush");
        Tag(span, "");
        return Finish(span, ForwardingStore::Flush());
    }

   private:
    void Tag(ScopedSpan& span, std::string_view collection) const {
        span->SetAttribute("db.system.name", backend_);
        if (!collection.empty()) span->SetAttribute("signal_hub.collection", collection);
    }
    template <class R>
    static R Finish(ScopedSpan& span, R result) {
        if constexpr (std::is_same_v<R, Status>) {
            span->SetStatus(result);
        } else {
            span->SetStatus(result.status());
        }
        return result;
    }

    std::unique_ptr<VectorStore> inner_;
    std::string backend_;
};

}  // namespace

std::unique_ptr<VectorStore> TraceStore(std::unique_ptr<VectorStore> inner, std::string backend) {
    return std::make_unique<TracedStore>(std::move(inner), std::move(backend));
}

}  // namespace signalhub::store
