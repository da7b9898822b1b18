#pragma once
// The security pieces a command builds from the configuration: the API key
// pepper, the key store of security.api_keys and the audit log. Shared by
// `keys` (administration) and `serve` (authentication), so both always open
// the same store the same way.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/status.hpp"
#include "security/audit_log.hpp"
#include "security/key_store.hpp"

namespace signalhub::cli {

// The pepper: the variable named by pepper_env when set and non-empty, else
// pepper_file's content (one trailing newline removed). FailedPrecondition
// saying how to provide one when neither does; InvalidArgument when shorter
// than 32 bytes (never showing it).
Result<std::string> LoadApiKeyPepper(const config::ApiKeysConfig& keys);

// storage: file: security.api_keys.file, else api-keys.json in `store_dir`
// (the embedded store's directory). FailedPrecondition naming the key when
// neither is known (e.g. database.type postgresql and no file set).
Result<std::string> ApiKeyFilePath(const config::ApiKeysConfig& keys,
                                   const std::optional<std::filesystem::path>& store_dir);

struct OpenedKeyStore {
    std::unique_ptr<security::KeyStore> store;
    std::string description;  // "file /etc/signal-hub/api-keys.json", "database ...", "vault ..." (no secrets)
    // FileKeyStore only: Reload() on SIGHUP, FlushUsage() now and then. Null otherwise.
    std::function<Status()> reload;
    std::function<Status()> flush_usage;
};

// Opens the store security.api_keys.storage names. `clock` must outlive it.
Result<OpenedKeyStore> OpenApiKeyStore(const config::Config& config,
                                       const std::optional<std::filesystem::path>& store_dir, const Clock& clock);

// security.audit_log.
Result<std::unique_ptr<security::AuditLog>> OpenAuditLog(const config::Config& config, const Clock& clock);

}  // namespace signalhub::cli
