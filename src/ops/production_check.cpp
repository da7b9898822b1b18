#include "ops/production_check.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <regex>
#include <sstream>

#include "net/redis_client.hpp"

namespace signalhub::ops {

namespace {

CheckItem Pass(std::string name, std::string detail) { return {std::move(name), true, std::move(detail), ""}; }
CheckItem Failed(std::string name, std::string detail, std::string fix) {
    return {std::move(name), false, std::move(detail), std::move(fix)};
}

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;
struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// "mode 0640": permission bits as octal.
std::string Mode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

// The password in a URL ("" when there is none): scheme://user:PASSWORD@host.
std::optional<std::string> UrlPassword(const std::string& url) {
    const std::size_t scheme = url.find("://");
    if (scheme == std::string::npos) return std::nullopt;
    const std::size_t at = url.find('@', scheme + 3);
    if (at == std::string::npos) return std::nullopt;
    const std::string userinfo = url.substr(scheme + 3, at - scheme - 3);
    const std::size_t colon = userinfo.find(':');
    if (colon == std::string::npos) return std::string();
    return userinfo.substr(colon + 1);
}

bool IsWeakPassword(const std::string& password) {
    static const std::vector<std::string> kDefaults = {"postgres", "password", "changeme", "change-me", "admin",
                                                       "secret",   "root",     "redis",    "signalhub", "signal-hub",
                                                       "123456",   "test"};
    std::string lower = password;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return password.size() < 12 || std::find(kDefaults.begin(), kDefaults.end(), lower) != kDefaults.end();
}

std::vector<CheckItem> CheckTls(const config::Config& c, const ProductionCheckOptions& options, const Clock& clock) {
    std::vector<CheckItem> items;
    const auto& tls = c.security.tls;
    if (!tls.enabled) {
        items.push_back(Failed("tls", "security.tls.enabled is false: API keys and code would cross the network in "
                                      "clear text",
                               "set security.tls.enabled: true with security.tls.cert_file and key_file (see "
                               "docs/production/security/network-security.md)"));
        return items;
    }
    items.push_back(Pass("tls", "TLS on, minimum version " + tls.min_version));

    // Certificate and key: readable, matching, the key private to its owner, not expiring soon.
    File cert_file(std::fopen(tls.cert_file.c_str(), "r"));
    if (!cert_file) {
        items.push_back(Failed("tls_certificate", "cannot read the certificate " + tls.cert_file,
                               "point security.tls.cert_file at a readable PEM certificate (chain)"));
        return items;
    }
    std::unique_ptr<X509, X509Free> cert(PEM_read_X509(cert_file.get(), nullptr, nullptr, nullptr));
    if (!cert) {
        items.push_back(Failed("tls_certificate", tls.cert_file + " holds no PEM certificate",
                               "point security.tls.cert_file at a PEM certificate (-----BEGIN CERTIFICATE-----)"));
        return items;
    }
    File key_file(std::fopen(tls.key_file.c_str(), "r"));
    std::unique_ptr<EVP_PKEY, PkeyFree> key(
        key_file ? PEM_read_PrivateKey(key_file.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!key) {
        items.push_back(Failed("tls_certificate", "cannot read a PEM private key from " + tls.key_file,
                               "point security.tls.key_file at the certificate's unencrypted PEM private key"));
    } else if (X509_check_private_key(cert.get(), key.get()) != 1) {
        items.push_back(Failed("tls_certificate", tls.key_file + " is not the private key of " + tls.cert_file,
                               "install the key that belongs to the certificate"));
    } else {
        items.push_back(Pass("tls_certificate", tls.cert_file + " and its key " + tls.key_file + " match"));
    }
    struct stat st{};
    if (::stat(tls.key_file.c_str(), &st) == 0) {
        if ((st.st_mode & 0077) != 0) {
            items.push_back(Failed("tls_key_permissions",
                                   tls.key_file + " has mode " + Mode(st.st_mode) + ": others can read the private key",
                                   "chmod 600 " + tls.key_file + " (or 0400; Kubernetes: defaultMode: 0400)"));
        } else {
            items.push_back(Pass("tls_key_permissions", tls.key_file + " has mode " + Mode(st.st_mode)));
        }
    }
    int days = 0, seconds = 0;
    std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> now(ASN1_TIME_set(nullptr, clock.UnixSeconds()),
                                                              ASN1_TIME_free);
    if (now && ASN1_TIME_diff(&days, &seconds, now.get(), X509_get0_notAfter(cert.get())) == 1) {
        if (days < options.certificate_min_days) {
            items.push_back(Failed("certificate_expiry",
                                   days < 0 || (days == 0 && seconds <= 0)
                                       ? tls.cert_file + " has expired"
                                       : tls.cert_file + " expires in " + std::to_string(days) + " days",
                                   "renew it (cert-manager, ACME, your CA); Signal Hub reloads a replaced "
                                   "certificate without a restart"));
        } else {
            items.push_back(Pass("certificate_expiry", tls.cert_file + " is valid for " + std::to_string(days) +
                                                           " more days"));
        }
    }
    return items;
}

std::vector<CheckItem> CheckKeys(const config::Config& c, const config::EnvLookup& env) {
    std::vector<CheckItem> items;
    const config::ApiKeysConfig& keys = c.security.api_keys;
    if (!keys.enabled) {
        items.push_back(Failed("api_keys", "security.api_keys.enabled is false: anyone who can connect can read the code",
                               "set security.api_keys.enabled: true and create keys with `signal-hub keys create`"));
        return items;
    }
    items.push_back(Pass("api_keys", "API keys required on /mcp (storage: " + keys.storage + ")"));

    // The pepper: from the environment or a private file, never the config file.
    std::string pepper_source;
    std::size_t pepper_size = 0;
    if (!keys.pepper_env.empty()) {
        if (std::optional<std::string> v = env(keys.pepper_env); v && !v->empty()) {
            pepper_source = "environment variable " + keys.pepper_env;
            pepper_size = v->size();
        }
    }
    if (pepper_source.empty() && !keys.pepper_file.empty()) {
        struct stat st{};
        if (::stat(keys.pepper_file.c_str(), &st) == 0) {
            pepper_source = "file " + keys.pepper_file;
            pepper_size = static_cast<std::size_t>(st.st_size);
            if ((st.st_mode & 0077) != 0) {
                items.push_back(Failed("key_pepper", keys.pepper_file + " has mode " + Mode(st.st_mode),
                                       "chmod 600 " + keys.pepper_file));
                return items;
            }
        }
    }
    if (pepper_source.empty()) {
        items.push_back(Failed("key_pepper", "no API key pepper is available",
                               "set " + (keys.pepper_env.empty() ? std::string("security.api_keys.pepper_file")
                                                                  : keys.pepper_env) +
                                   " from your secret store (openssl rand -base64 48)"));
    } else if (pepper_size < 32) {
        items.push_back(Failed("key_pepper", "the pepper from " + pepper_source + " is shorter than 32 bytes",
                               "use a longer one (openssl rand -base64 48); existing keys must then be re-created"));
    } else {
        items.push_back(Pass("key_pepper", "pepper from " + pepper_source));
    }

    // Storage: only keyed hashes in every backend; a file must be private, Vault reached over HTTPS.
    if (keys.storage == "file") {
        struct stat st{};
        if (!keys.file.empty() && ::stat(keys.file.c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
            items.push_back(Failed("key_storage", keys.file + " has mode " + Mode(st.st_mode),
                                   "chmod 600 " + keys.file + " (Signal Hub writes it 0600)"));
        } else {
            items.push_back(Pass("key_storage", "file storage holds only HMAC-SHA256 hashes" +
                                                    (keys.file.empty() ? std::string() : ", " + keys.file + " private")));
        }
    } else if (keys.storage == "vault" && keys.vault_url.rfind("https://", 0) != 0) {
        items.push_back(Failed("key_storage", "security.api_keys.vault_url is not https: " + keys.vault_url,
                               "reach Vault over https://"));
    } else {
        items.push_back(Pass("key_storage", keys.storage + " storage holds only HMAC-SHA256 hashes"));
    }
    return items;
}

std::vector<CheckItem> CheckRateLimiting(const config::Config& c, const ProductionCheckOptions& options) {
    const auto& rl = c.security.rate_limiting;
    if (!rl.enabled) {
        return {Failed("rate_limiting", "security.rate_limiting.enabled is false: nothing throttles a client",
                       "set security.rate_limiting.enabled: true (backend: redis when replicas > 1)")};
    }
    if (options.replicas > 1 && rl.backend != "redis") {
        return {Failed("rate_limiting",
                       std::to_string(options.replicas) + " replicas with backend " + rl.backend +
                           ": each replica would grant the whole budget",
                       "set security.rate_limiting.backend: redis and redis_url, so the replicas share one budget")};
    }
    return {Pass("rate_limiting", "on, backend " + rl.backend + " (" + std::to_string(options.replicas) +
                                      (options.replicas == 1 ? " replica)" : " replicas share it)"))};
}

// Redis connections that leave the host carry the Redis password, rate-limit
// keys (API key ids) and cached search results: TLS (rediss://) for all of
// them. A plaintext redis:// on loopback (a sidecar, a local tunnel) passes.
CheckItem CheckRedisTls(const config::Config& c) {
    std::vector<std::pair<std::string, std::string>> used;
    const config::RateLimitingConfig& rl = c.security.rate_limiting;
    const config::CachingConfig& cache = c.performance.caching;
    if (rl.enabled && rl.backend == "redis") used.emplace_back("security.rate_limiting.redis_url", rl.redis_url);
    if (cache.enabled && cache.backend == "redis") used.emplace_back("performance.caching.redis_url", cache.redis_url);
    if (used.empty()) return Pass("redis_tls", "no Redis connection");
    std::string plaintext;
    bool loopback = false;
    for (const auto& [key, url] : used) {
        Result<redis::RedisUrl> parsed = redis::ParseRedisUrl(url);
        if (!parsed.ok() || parsed->tls) continue;  // a bad URL is the configuration's error, reported by serve
        const std::string& host = parsed->host;
        if (host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0) {
            loopback = true;
            continue;
        }
        plaintext += (plaintext.empty() ? "" : ", ") + key + " (" + host + ")";
    }
    if (!plaintext.empty()) {
        return Failed("redis_tls",
                      "plaintext redis:// to another host in " + plaintext +
                          ": the Redis password, API key ids and cached results cross the network unencrypted",
                      "use rediss:// (ElastiCache in-transit encryption, Memorystore and Azure Cache for Redis offer "
                      "TLS), with redis_tls_ca_file when the server's CA is not in the system store (see "
                      "docs/production/security/network-security.md)");
    }
    return Pass("redis_tls", loopback ? "Redis over TLS (rediss://) or on loopback" : "Redis over TLS (rediss://)");
}

std::vector<CheckItem> CheckDatabase(const config::Config& c) {
    std::vector<CheckItem> items;
    if (c.database.type != "postgresql") {
        items.push_back(Failed("database", "database.type is " + c.database.type,
                               "use PostgreSQL + pgvector (database.type: postgresql); see "
                               "docs/production/database-migration/"));
    } else {
        items.push_back(Pass("database", "PostgreSQL + pgvector"));
    }
    // Passwords that are empty or well known, in every URL the server connects with.
    std::vector<std::pair<std::string, std::string>> urls = {{"database.url", c.database.url},
                                                             {"security.api_keys.database_url",
                                                              c.security.api_keys.database_url},
                                                             {"security.rate_limiting.redis_url",
                                                              c.security.rate_limiting.redis_url},
                                                             {"performance.caching.redis_url",
                                                              c.performance.caching.redis_url}};
    std::vector<std::string> weak;
    for (const auto& [key, url] : urls) {
        if (url.empty()) continue;
        std::optional<std::string> password = UrlPassword(url);
        const bool redis = url.rfind("redis", 0) == 0;
        if (!password && !redis) continue;  // PostgreSQL without a password in the URL: PGPASSFILE / certificates
        if (!password || IsWeakPassword(*password)) weak.push_back(key);
    }
    if (!weak.empty()) {
        std::string names;
        for (const std::string& k : weak) names += (names.empty() ? "" : ", ") + k;
        items.push_back(Failed("passwords", "empty, short (< 12 characters) or default password in " + names,
                               "use generated passwords of 12+ characters, passed through the environment "
                               "(${DATABASE_URL}, ${REDIS_URL})"));
    } else {
        items.push_back(Pass("passwords", "no empty or default passwords in the connection URLs"));
    }
    return items;
}

CheckItem CheckInlineSecrets(const std::string& raw) {
    // A URL with user:password@ or a secret-looking key given literally (not ${VAR}) in the file.
    static const std::regex kUrlPassword(R"(://[^/\s:@'"]+:([^@\s'"]+)@)");
    static const std::regex kSecretKey(R"(^\s*[A-Za-z_]*(password|secret|token|pepper)\s*:\s*(['"]?)([^'"#\s]+))",
                                       std::regex::icase);
    std::vector<std::string> found;
    std::istringstream in(raw);
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        const std::string code = line.substr(0, line.find(" #"));
        std::smatch m;
        if (std::regex_search(code, m, kUrlPassword) && m[1].str().rfind("${", 0) != 0) {
            found.push_back("line " + std::to_string(number) + " (a password in a URL)");
        } else if (std::regex_search(code, m, kSecretKey) && m[3].str().rfind("${", 0) != 0) {
            const std::string key = m[0].str();
            // *_env keys name a variable and *_file keys a path: not secrets.
            if (key.find("_env") == std::string::npos && key.find("_file") == std::string::npos)
                found.push_back("line " + std::to_string(number) + " (" + m[1].str() + ")");
        }
    }
    if (found.empty()) return Pass("inline_secrets", "no secrets written into the configuration file");
    std::string where;
    for (const std::string& f : found) where += (where.empty() ? "" : ", ") + f;
    return Failed("inline_secrets", "secrets in the configuration file: " + where,
                  "move them to the environment and reference them as ${VAR} (e.g. url: ${DATABASE_URL})");
}

CheckItem CheckOrigins(const config::Config& c) {
    const auto& origins = c.server.allowed_origins;
    if (std::find(origins.begin(), origins.end(), "*") != origins.end()) {
        return Failed("origins", "server.allowed_origins contains \"*\": any web page may call the server from a browser",
                      "list the exact origins that need browser access, or none");
    }
    return Pass("origins", origins.empty() ? "browser origins: loopback only" : "browser origins: an explicit list");
}

// Logs a log pipeline can parse: JSON lines (docs/production/monitoring/logging.md).
CheckItem CheckLogs(const config::Config& c) {
    const config::LoggingConfig& log = c.monitoring.logging;
    std::string format = log.format;  // validated case-insensitively
    std::transform(format.begin(), format.end(), format.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (format != "json") {
        return Failed("json_logs", "monitoring.logging.format is " + log.format,
                      "set monitoring.logging.format: json (and output: stdout in containers) so the log "
                      "pipeline gets one JSON object per line");
    }
    return Pass("json_logs", "JSON lines to " + log.output + ", level " + log.level);
}

// Metrics Prometheus can scrape (docs/production/monitoring/metrics.md).
CheckItem CheckMetrics(const config::Config& c) {
    const config::MetricsConfig& m = c.monitoring.metrics;
    if (!m.enabled) {
        return Failed("metrics", "monitoring.metrics.enabled is false (the default): no error rates, latencies or alerts",
                      "set monitoring.metrics.enabled: true and scrape it (deploy/monitoring/prometheus/)");
    }
    if (m.host == "127.0.0.1" || m.host == "::1" || m.host == "localhost") {
        return Failed("metrics", "the metrics listener is on " + m.host + ":" + std::to_string(m.port) +
                                     ", which a Prometheus in another pod or host cannot reach",
                      "set monitoring.metrics.host: 0.0.0.0 and allow only Prometheus to reach port " +
                          std::to_string(m.port) + " (NetworkPolicy or firewall), unless a Prometheus agent "
                          "runs on the same host");
    }
    return Pass("metrics", "Prometheus metrics on " + m.host + ":" + std::to_string(m.port) + m.path);
}

}  // namespace

const std::vector<CheckItemInfo>& ProductionCheckItems() {
    static const std::vector<CheckItemInfo> kItems = {
        {"tls", "security.tls.enabled"},
        {"tls_certificate", "the certificate and key are PEM and match"},
        {"tls_key_permissions", "the TLS key file is private"},
        {"certificate_expiry", "the certificate is valid for --certificate-min-days more"},
        {"api_keys", "security.api_keys.enabled"},
        {"key_pepper", "the key pepper comes from the environment or a private file, >= 32 bytes"},
        {"key_storage", "the key storage is private (file mode, https Vault)"},
        {"rate_limiting", "rate limiting on; shared through Redis when --replicas > 1"},
        {"redis_tls", "Redis connections to other hosts use TLS (rediss://)"},
        {"database", "database.type: postgresql"},
        {"passwords", "no empty, short or default password in connection URLs"},
        {"inline_secrets", "no literal secrets in the configuration file"},
        {"origins", "no '*' in server.allowed_origins"},
        {"metrics", "monitoring.metrics on, reachable by a Prometheus elsewhere"},
        {"json_logs", "monitoring.logging.format: json"},
    };
    return kItems;
}

std::vector<CheckItem> CheckProduction(const config::Config& config, const std::string& raw_config,
                                       const ProductionCheckOptions& options, const config::EnvLookup& env,
                                       const Clock& clock) {
    std::vector<CheckItem> items;
    auto add = [&items](std::vector<CheckItem> more) {
        for (CheckItem& item : more) items.push_back(std::move(item));
    };
    add(CheckTls(config, options, clock));
    add(CheckKeys(config, env));
    add(CheckRateLimiting(config, options));
    items.push_back(CheckRedisTls(config));
    add(CheckDatabase(config));
    items.push_back(CheckInlineSecrets(raw_config));
    items.push_back(CheckOrigins(config));
    items.push_back(CheckMetrics(config));
    items.push_back(CheckLogs(config));
    return items;
}

}  // namespace signalhub::ops
