#include "cli/security_setup.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "security/api_key.hpp"
#include "security/file_key_store.hpp"

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
    return InvalidArgument("security.api_keys.storage: " + keys.storage + " is not available in this build");
}

Result<std::unique_ptr<security::AuditLog>> OpenAuditLog(const config::Config& config, const Clock& clock) {
    return security::AuditLog::Open(config.security.audit_log, clock);
}

}  // namespace signalhub::cli
