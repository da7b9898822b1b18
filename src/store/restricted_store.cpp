#include "store/restricted_store.hpp"

#include <algorithm>

namespace signalhub::store {

RestrictedStore::RestrictedStore(VectorStore& base, std::vector<std::string> allowed)
    : base_(base), allowed_(std::move(allowed)) {
    std::sort(allowed_.begin(), allowed_.end());
}

bool RestrictedStore::Allows(std::string_view collection) const {
    return std::binary_search(allowed_.begin(), allowed_.end(), collection, std::less<>());
}

Status RestrictedStore::Check(std::string_view collection) const {
    if (Allows(collection)) return Status::Ok();
    return PermissionDenied("collection '" + std::string(collection) + "' is not allowed for this API key");
}

Result<CollectionInfo> RestrictedStore::EnsureCollection(const CollectionSpec& spec) {
    return PermissionDenied("cannot create collection '" + spec.name + "' through a restricted (read-only) view");
}

Result<CollectionInfo> RestrictedStore::GetCollection(std::string_view name) {
    SH_RETURN_IF_ERROR(Check(name));
    return base_.GetCollection(name);
}

Result<std::vector<CollectionInfo>> RestrictedStore::ListCollections() {
    SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> all, base_.ListCollections());
    std::erase_if(all, [this](const CollectionInfo& c) { return !Allows(c.spec.name); });
    return all;
}

Result<CollectionSpec> RestrictedStore::GetCollectionSpec(std::string_view name) {
    SH_RETURN_IF_ERROR(Check(name));
    return base_.GetCollectionSpec(name);
}

Result<std::vector<CollectionSpec>> RestrictedStore::ListCollectionSpecs() {
    SH_ASSIGN_OR_RETURN(std::vector<CollectionSpec> all, base_.ListCollectionSpecs());
    std::erase_if(all, [this](const CollectionSpec& c) { return !Allows(c.name); });
    return all;
}

Status RestrictedStore::DropCollection(std::string_view name) {
    return PermissionDenied("cannot drop collection '" + std::string(name) +
                            "' through a restricted (read-only) view");
}

Status RestrictedStore::Commit(std::string_view collection, const ChangeSet&) {
    return PermissionDenied("cannot write to collection '" + std::string(collection) +
                            "' through a restricted (read-only) view");
}

Result<std::vector<FileState>> RestrictedStore::ListFiles(std::string_view collection) {
    SH_RETURN_IF_ERROR(Check(collection));
    return base_.ListFiles(collection);
}

Result<std::vector<Record>> RestrictedStore::Get(std::string_view collection, std::span<const std::string> ids) {
    SH_RETURN_IF_ERROR(Check(collection));
    return base_.Get(collection, ids);
}

Result<ScanPage> RestrictedStore::Scan(std::string_view collection, std::string_view after_id, size_t limit) {
    SH_RETURN_IF_ERROR(Check(collection));
    return base_.Scan(collection, after_id, limit);
}

Result<std::vector<Hit>> RestrictedStore::VectorSearch(std::string_view collection, std::span<const float> query,
                                                       const SearchOptions& options) {
    SH_RETURN_IF_ERROR(Check(collection));
    return base_.VectorSearch(collection, query, options);
}

Result<std::vector<Hit>> RestrictedStore::LexicalSearch(std::string_view collection, std::string_view query,
                                                        const SearchOptions& options) {
    SH_RETURN_IF_ERROR(Check(collection));
    return base_.LexicalSearch(collection, query, options);
}

}  // namespace signalhub::store
