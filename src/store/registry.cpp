#include "store/registry.hpp"

#include <algorithm>
#include <map>
#include <mutex>

#include "store/chroma/chroma_store.hpp"
#include "store/embedded/embedded_store.hpp"
#include "store/forwarding_store.hpp"
#include "store/memory_store.hpp"
#include "store/pgvector/pgvector_store.hpp"

namespace signalhub::store {
namespace {

struct Registry {
    std::mutex mu;
    std::map<std::string, StoreFactory> factories;
};

Registry& TheRegistry() {
    static Registry registry;
    return registry;
}

// Forwards to a shared MemoryStore so that "memory://NAME" handles share data.
class SharedMemoryStore final : public ForwardingStore {
   public:
    explicit SharedMemoryStore(std::shared_ptr<MemoryStore> store)
        : ForwardingStore(*store), store_(std::move(store)) {}

   private:
    std::shared_ptr<MemoryStore> store_;
};

Result<std::unique_ptr<VectorStore>> OpenMemory(const std::string& url, const OpenOptions& /*options*/) {
    std::string name = url.substr(std::string_view("memory://").size());
    if (name.empty()) return std::unique_ptr<VectorStore>(std::make_unique<MemoryStore>());
    static std::mutex mu;
    static std::map<std::string, std::shared_ptr<MemoryStore>> named;
    std::lock_guard lock(mu);
    auto& slot = named[name];
    if (!slot) slot = std::make_shared<MemoryStore>();
    return std::unique_ptr<VectorStore>(std::make_unique<SharedMemoryStore>(slot));
}

Result<std::unique_ptr<VectorStore>> OpenSqlite(const std::string& url, const OpenOptions& options) {
    std::string path = url.starts_with("sqlite://") ? url.substr(std::string_view("sqlite://").size()) : url;
    if (path.empty()) return InvalidArgument("store URL '" + url + "' names no directory");
    SH_ASSIGN_OR_RETURN(auto store, EmbeddedStore::Open(path, options));
    return std::unique_ptr<VectorStore>(std::move(store));
}

Result<std::unique_ptr<VectorStore>> OpenPostgres(const std::string& url, const OpenOptions& options) {
    SH_ASSIGN_OR_RETURN(auto store, PgVectorStore::Open(url, options));
    return std::unique_ptr<VectorStore>(std::move(store));
}

Result<std::unique_ptr<VectorStore>> OpenChroma(const std::string& url, const OpenOptions& options) {
    SH_ASSIGN_OR_RETURN(auto store, ChromaStore::Open(url, options));
    return std::unique_ptr<VectorStore>(std::move(store));
}

}  // namespace

void RegisterStoreBackend(const std::string& scheme, StoreFactory factory) {
    Registry& r = TheRegistry();
    std::lock_guard lock(r.mu);
    r.factories[scheme] = std::move(factory);
}

void RegisterBuiltinStoreBackends() {
    Registry& r = TheRegistry();
    std::lock_guard lock(r.mu);
    r.factories.try_emplace("memory", OpenMemory);
    r.factories.try_emplace("sqlite", OpenSqlite);
    r.factories.try_emplace("postgresql", OpenPostgres);
    r.factories.try_emplace("postgres", OpenPostgres);
    r.factories.try_emplace("chroma+http", OpenChroma);
    r.factories.try_emplace("chroma+https", OpenChroma);
}

std::vector<std::string> SupportedStoreSchemes() {
    Registry& r = TheRegistry();
    std::lock_guard lock(r.mu);
    std::vector<std::string> out;
    for (const auto& [scheme, factory] : r.factories) out.push_back(scheme);
    return out;
}

Result<std::unique_ptr<VectorStore>> OpenStore(const std::string& url, const OpenOptions& options) {
    RegisterBuiltinStoreBackends();
    if (url.empty()) return InvalidArgument("empty store URL (expected a directory, sqlite://PATH or memory://)");
    size_t sep = url.find("://");
    if (sep == std::string::npos) return OpenSqlite(url, options);  // a plain path
    std::string scheme = url.substr(0, sep);
    StoreFactory factory;
    {
        Registry& r = TheRegistry();
        std::lock_guard lock(r.mu);
        auto it = r.factories.find(scheme);
        if (it != r.factories.end()) factory = it->second;
    }
    if (!factory) {
        std::string supported;
        for (const auto& s : SupportedStoreSchemes()) supported += (supported.empty() ? "" : ", ") + s + "://";
        return InvalidArgument("unsupported store URL scheme '" + scheme + "://' in '" + url +
                               "'; supported: " + supported + " or a plain directory path");
    }
    return factory(url, options);
}

}  // namespace signalhub::store
