#include "security/key_store_factory.hpp"

#include <utility>
#include <vector>

#include "security/database_key_store.hpp"
#include "security/file_key_store.hpp"
#include "security/vault_key_store.hpp"

namespace signalhub::security {
namespace {

// Settings that only one storage reads: set for another, they would be ignored.
Status RefuseForeignOptions(const KeyStoreOptions& o) {
    const KeyStoreOptions defaults;
    std::vector<std::pair<const char*, bool>> foreign;
    if (o.storage != "file") foreign.emplace_back("file", !o.file.empty());
    if (o.storage != "database") foreign.emplace_back("database_url", !o.database_url.empty());
    if (o.storage != "vault") {
        foreign.emplace_back("vault_url", !o.vault_url.empty());
        foreign.emplace_back("vault_mount", o.vault_mount != defaults.vault_mount);
        foreign.emplace_back("vault_path", o.vault_path != defaults.vault_path);
        foreign.emplace_back("vault_auth", o.vault_auth != defaults.vault_auth);
        foreign.emplace_back("vault_token", !o.vault_token.empty());
        foreign.emplace_back("vault_role", !o.vault_role.empty());
        foreign.emplace_back("vault_jwt_file", o.vault_jwt_file != defaults.vault_jwt_file);
        foreign.emplace_back("vault_namespace", !o.vault_namespace.empty());
        foreign.emplace_back("vault_ca_file", !o.vault_ca_file.empty());
        foreign.emplace_back("cache_ttl", o.cache_ttl != defaults.cache_ttl);
    } else if (o.vault_auth == "token") {
        foreign.emplace_back("vault_role", !o.vault_role.empty());
        foreign.emplace_back("vault_jwt_file", o.vault_jwt_file != defaults.vault_jwt_file);
    } else if (o.vault_auth == "kubernetes") {
        foreign.emplace_back("vault_token", !o.vault_token.empty());
    }
    for (const auto& [name, set] : foreign) {
        if (!set) continue;
        std::string when = "storage: " + o.storage;
        if (o.storage == "vault") when += " with vault_auth: " + o.vault_auth;
        return InvalidArgument(std::string("security.api_keys.") + name + " is set but not used with " + when +
                               "; remove it or change storage");
    }
    return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<KeyStore>> OpenKeyStore(const KeyStoreOptions& options, KeyHasher hasher, const Clock& clock) {
    if (options.storage != "file" && options.storage != "database" && options.storage != "vault") {
        return InvalidArgument("security.api_keys.storage must be file, database or vault" +
                               (options.storage.empty() ? std::string(" (it is not set)")
                                                        : ", not '" + options.storage + "'"));
    }
    SH_RETURN_IF_ERROR(RefuseForeignOptions(options));
    if (options.storage == "file") {
        if (options.file.empty()) return InvalidArgument("security.api_keys.file is required for storage: file");
        SH_ASSIGN_OR_RETURN(auto store, FileKeyStore::Open(options.file, std::move(hasher), clock));
        return std::unique_ptr<KeyStore>(std::move(store));
    }
    if (options.storage == "database") {
        if (options.database_url.empty()) {
            return InvalidArgument("security.api_keys.database_url is required for storage: database");
        }
        SH_ASSIGN_OR_RETURN(auto store, DatabaseKeyStore::Open(options.database_url, std::move(hasher), clock));
        return std::unique_ptr<KeyStore>(std::move(store));
    }
    if (options.vault_url.empty()) return InvalidArgument("security.api_keys.vault_url is required for storage: vault");
    if (options.vault_auth == "kubernetes" && options.vault_role.empty()) {
        return InvalidArgument("security.api_keys.vault_role is required for vault_auth: kubernetes");
    }
    VaultKeyStoreOptions v;
    v.url = options.vault_url;
    v.mount = options.vault_mount;
    v.path = options.vault_path;
    v.auth = options.vault_auth;
    v.token = options.vault_token;
    v.role = options.vault_role;
    v.jwt_file = options.vault_jwt_file;
    v.vault_namespace = options.vault_namespace;
    v.ca_file = options.vault_ca_file;
    v.cache_ttl = options.cache_ttl;
    auto store = VaultKeyStore::Open(std::move(v), std::move(hasher), clock);
    if (!store.ok()) {
        const Status& s = store.status();
        // The backend names options without the section; say where they live.
        if (s.code() == ErrorCode::kInvalidArgument) return InvalidArgument("security.api_keys: " + s.message());
        return s;
    }
    return std::unique_ptr<KeyStore>(std::move(store).value());
}

}  // namespace signalhub::security
