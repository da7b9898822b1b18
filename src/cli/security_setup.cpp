#include "cli/security_setup.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "security/api_key.hpp"
#include "security/file_key_store.hpp"
#include "security/key_store_factory.hpp"
#include "security/vault_key_store.hpp"
#include "cli/common.hpp"

namespace signalhub::cli {

namespace fs = std::filesystem;

Result<std::string> LoadApiKeyPepper(const config::ApiKeysConfig& keys) {
    std::string pepper;
    std::string source;
    if (!keys.pepper_env.empty()) {
        if (const char* value = std::getenv(keys.pepper_env.c_str()); value && *value) {
            pepper = value;
            source = "environment variable " + keys.pepper_env;
        }
    }
    if (source.empty() && !keys.pepper_file.empty()) {
        std::ifstream in(keys.pepper_file, std::ios::binary);
        if (!in) {
            return FailedPrecondition("cannot read the API key pepper file " + keys.pepper_file +
                                      " (security.api_keys.pepper_file)");
        }
        std::ostringstream text;
        text << in.rdbuf();
        pepper = text.str();
        if (!pepper.empty() && pepper.back() == '\n') pepper.pop_back();
        if (!pepper.empty() && pepper.back() == '\r') pepper.pop_back();
        source = "pepper file " + keys.pepper_file;
    }
    if (source.empty()) {
        return FailedPrecondition(
            "no API key pepper: set the environment variable " +
            (keys.pepper_env.empty() ? std::string("named by security.api_keys.pepper_env") : keys.pepper_env) +
            " or security.api_keys.pepper_file to a secret of at least " +
            std::to_string(security::kMinPepperBytes) +
            " bytes (e.g. `openssl rand -base64 48`); every replica and the keys commands need the same one");
    }
    if (pepper.size() < security::kMinPepperBytes) {
        return InvalidArgument("the API key pepper from " + source + " is " + std::to_string(pepper.size()) +
                               " bytes; at least " + std::to_string(security::kMinPepperBytes) +
                               " are required (e.g. `openssl rand -base64 48`)");
    }
    return pepper;
}

Result<std::string> ApiKeyFilePath(const config::ApiKeysConfig& keys, const std::optional<fs::path>& store_dir) {
    if (!keys.file.empty()) return keys.file;
    if (store_dir) return (*store_dir / "api-keys.json").string();
    return FailedPrecondition(
        "security.api_keys.file is not set and there is no embedded store directory to keep api-keys.json in; set "
        "security.api_keys.file (or SIGNAL_HUB_SECURITY__API_KEYS__FILE)");
}

Result<OpenedKeyStore> OpenApiKeyStore(const config::Config& config, const std::optional<fs::path>& store_dir,
                                       const Clock& clock) {
    const config::ApiKeysConfig& keys = config.security.api_keys;
    SH_ASSIGN_OR_RETURN(std::string pepper, LoadApiKeyPepper(keys));
    SH_ASSIGN_OR_RETURN(security::KeyHasher hasher, security::KeyHasher::Create(std::move(pepper)));
    OpenedKeyStore opened;
    if (keys.storage == "file") {
        SH_ASSIGN_OR_RETURN(std::string path, ApiKeyFilePath(keys, store_dir));
        SH_ASSIGN_OR_RETURN(auto file, security::FileKeyStore::Open(path, std::move(hasher), clock));
        security::FileKeyStore* raw = file.get();
        opened.reload = [raw] { return raw->Reload(); };
        opened.flush_usage = [raw] { return raw->FlushUsage(); };
        opened.description = "file " + path;
        opened.store = std::move(file);
        return opened;
    }
    security::KeyStoreOptions options;
    options.storage = keys.storage;
    if (keys.storage == "database") {
        // The key table lives in database.url unless the keys have their own database.
        options.database_url = !keys.database_url.empty() ? keys.database_url : config.database.url;
        opened.description = "database " + RedactUrl(options.database_url);
    } else {  // vault (Validate allows nothing else)
        options.vault_url = keys.vault_url;
        options.vault_mount = keys.vault_mount;
        options.vault_path = keys.vault_path;
        options.vault_auth = keys.vault_auth;
        options.vault_role = keys.vault_role;
        options.vault_jwt_file = keys.vault_jwt_file;
        options.vault_namespace = keys.vault_namespace;
        options.vault_ca_file = keys.vault_ca_file;
        options.cache_ttl = keys.cache_ttl;
        if (keys.vault_auth == "token") {
            const char* token = std::getenv(keys.vault_token_env.c_str());
            if (!token || !*token) {
                return FailedPrecondition("security.api_keys.vault_auth is token but the environment variable " +
                                          keys.vault_token_env + " (security.api_keys.vault_token_env) is not set");
            }
            options.vault_token = token;
        }
        opened.description = "vault " + keys.vault_url + "/v1/" + keys.vault_mount + "/data/" + keys.vault_path;
    }
    SH_ASSIGN_OR_RETURN(opened.store, security::OpenKeyStore(options, std::move(hasher), clock));
    if (auto* vault = dynamic_cast<security::VaultKeyStore*>(opened.store.get())) {
        opened.flush_usage = [vault] { return vault->FlushUsage(); };
    }
    return opened;
}

Result<std::unique_ptr<security::AuditLog>> OpenAuditLog(const config::Config& config, const Clock& clock) {
    return security::AuditLog::Open(config.security.audit_log, clock);
}

}  // namespace signalhub::cli
