#pragma once
// OpenKeyStore: the one place that turns the security.api_keys settings into a
// KeyStore (file, database or vault). The configuration layer fills
// KeyStoreOptions; the server and `signal-hub keys` call OpenKeyStore.

#include <memory>
#include <string>

#include "core/clock.hpp"
#include "core/status.hpp"
#include "security/api_key.hpp"
#include "security/key_store.hpp"

namespace signalhub::security {

struct KeyStoreOptions {
    std::string storage;       // file | database | vault
    std::string file;          // storage: file — path of the JSON key file (FileKeyStore)
    std::string database_url;  // storage: database — postgresql://... (DatabaseKeyStore; URL parameters as the store's)
    // storage: vault (VaultKeyStore)
    std::string vault_url, vault_mount = "secret", vault_path = "signal-hub/api-keys",
                           vault_auth = "token" /* token|kubernetes */, vault_token, vault_role,
                           vault_jwt_file = "/var/run/secrets/kubernetes.io/serviceaccount/token", vault_namespace,
                           vault_ca_file;
    double cache_ttl = 30;  // vault: seconds Authenticate serves from the cached secret (>= 0)
};

// Opens the configured store. InvalidArgument names the missing or wrong
// option (storage, file, database_url, vault_url, vault_token, vault_role, ...)
// and the options that do not belong to the chosen storage when they are set
// (a setting that would be ignored is an error). Otherwise the backend's Open
// errors. `clock` must outlive the store.
Result<std::unique_ptr<KeyStore>> OpenKeyStore(const KeyStoreOptions& options, KeyHasher hasher, const Clock& clock);

}  // namespace signalhub::security
