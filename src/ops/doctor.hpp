#pragma once
// `signal-hub doctor`: what is wrong with this installation, and what to do about it.
//
// Each check is a small function returning findings: a stable name, a status (ok, warn or
// fail), a one-line detail of what was found, a fix (what to do; empty when ok) and the
// anchor of its entry in docs/production/operations/troubleshooting.md. Checks talk to the
// real services the configuration names (the store, Redis, Vault, the embeddings endpoint)
// with the clients the server uses, each with a short timeout, and never write anything.
//
// Thresholds (documented in docs/cli.md and the troubleshooting guide):
//   disk headroom      fail below 5 % or 100 MiB available, warn below 15 % or 1 GiB
//   TLS certificate    fail when expired, warn when it expires within 14 days
//   clock skew         warn when the database clock differs by more than 5 seconds
//   pgvector           fail below the version the store supports (store/pgvector: 0.8)

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/status.hpp"

namespace signalhub::ops {

enum class FindingStatus { kOk, kWarn, kFail };
const char* FindingStatusName(FindingStatus status);  // "ok", "warn", "fail"

struct Finding {
    std::string name;    // stable identifier, e.g. "store", "tls_expiry", "hnsw:my-repo"
    FindingStatus status = FindingStatus::kOk;
    std::string detail;  // one line: what was found
    std::string fix;     // what to do ("" when ok)
    std::string doc;     // troubleshooting anchor, e.g. "docs/production/operations/troubleshooting.md#store-unreachable"
};

struct DoctorOptions {
    double timeout_seconds = 5;             // per network check
    int certificate_warn_days = 14;         // warn when the certificate expires sooner
    double clock_skew_warn_seconds = 5;     // warn when the database clock is further off
    double disk_fail_fraction = 0.05;       // fail below this share of the filesystem available ...
    std::int64_t disk_fail_bytes = 100LL << 20;  // ... or below this many bytes
    double disk_warn_fraction = 0.15;       // warn below this share ...
    std::int64_t disk_warn_bytes = 1LL << 30;    // ... or below this many bytes
};

// Where the store is (the CLI resolves it as `status` does).
struct DoctorTarget {
    std::string store_url;                           // what store::OpenStore opens
    std::optional<std::filesystem::path> store_dir;  // the embedded store's directory; nullopt for a database
    std::string display;                             // for people (no password)
};

// Every finding a check can report, by name prefix, with a one-line description (for --help).
struct DoctorCheckInfo {
    const char* name;
    const char* what;
};
const std::vector<DoctorCheckInfo>& DoctorChecks();

// ---- the checks (each usable on its own; none throws) -----------------------------------

// "config": the configuration loaded and validated; `loaded` is what config::LoadConfig
// returned. Fails with the error message verbatim.
Finding CheckConfiguration(const Result<config::Config>& loaded);

// "store", "schema", "pgvector", "clock_skew" (PostgreSQL), "chroma" (ChromaDB), then for every
// collection "index:<name>" (embedded: HNSW graph vs SQLite records), "files:<name>" (records vs
// files) and "freshness:<name>" (files changed since the last index run, git HEAD), when the
// collection's root is a directory on this machine.
std::vector<Finding> CheckStore(const config::Config& config, const DoctorTarget& target,
                                const DoctorOptions& options, const Clock& clock);

// "disk:<what>": headroom of the filesystem holding `path` (statvfs of the path or its nearest
// existing parent). `what` names it for people ("store", "log file").
Finding CheckDiskHeadroom(const std::string& what, const std::filesystem::path& path, const DoctorOptions& options);
// The verdict for given numbers (pure; CheckDiskHeadroom uses it).
FindingStatus DiskVerdict(std::int64_t available_bytes, std::int64_t total_bytes, const DoctorOptions& options);

// "tls_certificate", "tls_key", "tls_expiry", "tls_chain" for security.tls (nothing when TLS is off).
std::vector<Finding> CheckTlsCertificates(const config::TlsConfig& tls, const DoctorOptions& options,
                                          const Clock& clock);

// "redis:rate_limiting", "redis:caching": a PING to each Redis the configuration uses.
std::vector<Finding> CheckRedis(const config::Config& config, const DoctorOptions& options);

// "vault": GET /v1/sys/health when API keys live in Vault.
std::vector<Finding> CheckVault(const config::Config& config, const DoctorOptions& options);

// "embeddings": one tiny real embedding request when embedding.provider is openai.
std::vector<Finding> CheckEmbeddings(const config::Config& config);

// pgvector `version` (extversion, e.g. "0.8.0") is at least the minimum the store supports.
bool PgvectorVersionSupported(const std::string& version);

// All of the above in order (configuration first, as loaded; the rest only when it loaded).
std::vector<Finding> RunDoctor(const Result<config::Config>& loaded, const DoctorTarget& target,
                               const DoctorOptions& options, const Clock& clock);

// ---- output --------------------------------------------------------------------------------

struct DoctorSummary {
    int ok = 0, warn = 0, fail = 0;
};
DoctorSummary Summarize(const std::vector<Finding>& findings);
// The text report (one line per finding, "fix:" and "see:" lines under warnings and failures).
std::string FormatFindings(const std::vector<Finding>& findings, const std::string& config_source);
// {"config", "ok", "warn", "fail", "findings": [{name, status, detail, fix, doc}]} as JSON text.
std::string FindingsJson(const std::vector<Finding>& findings, const std::string& config_source);

// ---- support bundle --------------------------------------------------------------------------

struct BundleInputs {
    std::string config_source;                 // the file ("defaults" when none)
    std::string raw_config;                    // its text ("" for defaults)
    const config::Config* config = nullptr;   // as loaded (nullptr when it did not load)
    std::vector<Finding> findings;
    std::string version;                       // "signal-hub 0.1.0"
    int log_lines = 200;                       // last lines of monitoring.logging.output when a file
};
// Writes a support bundle to `path` as one JSON document (0600): versions, the configuration
// with every secret redacted (secret-named keys, URL passwords, and every secret value the
// configuration points to: passwords, the pepper, the OpenAI key, the Vault token), the doctor
// findings, the log file's last lines and a metrics snapshot when the metrics listener answers.
// Every string is scrubbed of the known secret values before it is written.
Status WriteSupportBundle(const std::string& path, const BundleInputs& inputs, const config::EnvLookup& env,
                          const DoctorOptions& options);

// The secret values a configuration names (URL passwords, pepper, API key and token env
// values, key files' contents are never read). For the bundle's scrubber and its test.
std::vector<std::string> KnownSecrets(const config::Config& config, const config::EnvLookup& env);
// The YAML text with secret-named keys' values and URL passwords replaced by "***".
std::string RedactConfigText(const std::string& yaml_text);

}  // namespace signalhub::ops
