#pragma once
// Signal Hub configuration: plain structs, filled from defaults, an optional
// YAML file (with ${VAR} / ${VAR:-default} interpolation) and SIGNAL_HUB_*
// environment overrides, then validated. Every key here does something; the
// reference is docs/configuration.md (kept in step with KeyPaths() by a test).
//
// Thread safety: every function here is pure apart from reading the file and
// calling the injected environment functions; concurrent calls are safe as
// long as those functions are (ProcessEnv()/ProcessEnvNames() read the process
// environment, which must not be modified concurrently).
// Errors are Status values; no exception escapes this module.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace signalhub::config {

struct StoreConfig {
    // Embedded store directory. Relative paths are resolved against the
    // indexed root (so every repository carries its own store).
    std::string path = ".signal-hub";

    bool operator==(const StoreConfig&) const = default;
};

// Where the index lives: the embedded store (store.path), PostgreSQL with
// pgvector, or a ChromaDB 1.0 server. postgresql: `url` is a libpq URL
// (postgresql://USER:PASSWORD@HOST:PORT/DB, sslmode and other libpq parameters
// allowed); the pool keys become the store's URL parameters
// (store/pgvector/pgvector_store.hpp). chromadb: `url` is http(s)://HOST:PORT
// with the ChromaStore's parameters (store/chroma/chroma_store.hpp); the pool
// keys do not apply.
struct DatabaseConfig {
    std::string type = "embedded";  // embedded | postgresql | chromadb
    std::string url{};              // postgresql, chromadb: required
    int pool_size = 5;              // postgresql: connections kept open
    int max_overflow = 10;          // postgresql: extra connections under load, closed when released
    double pool_timeout = 30;       // postgresql: seconds an operation waits for a free connection
    int hnsw_m = 16;                // postgresql: HNSW graph degree of new collections
    int hnsw_ef_construction = 200; // postgresql: HNSW build breadth of new collections
    std::vector<std::string> read_urls{};  // postgresql: read replicas for read-only opens (serve, search, status)
    double max_replica_lag = 30;           // postgresql: seconds of replay lag beyond which a replica is skipped
    double replica_check_interval = 5;     // postgresql: seconds between replica health/lag checks

    bool operator==(const DatabaseConfig&) const = default;
};

struct ChunkConfig {
    int max_lines = 120;            // a definition longer than this is split at line boundaries
    int overlap_lines = 10;         // lines shared by consecutive pieces of a split definition
    int window_lines = 60;          // window size for files without a grammar
    std::int64_t max_chars = 6000;  // a piece longer than this is split further

    bool operator==(const ChunkConfig&) const = default;
};

struct IndexConfig {
    std::string collection{};                     // empty: the indexed directory's name
    std::int64_t max_file_bytes = 1024 * 1024;  // larger files are skipped
    bool default_excludes = true;               // skip node_modules/, vendor/, build/, dist/, ...
    std::vector<std::string> exclude{};           // extra gitignore-style patterns
    bool follow_symlinks = false;
    int batch_size = 256;  // chunks committed to the store per transaction
    ChunkConfig chunk{};

    bool operator==(const IndexConfig&) const = default;
};

struct EmbeddingConfig {
    std::string provider = "builtin";                    // builtin | openai
    std::string model{};                                   // empty: provider default
    int dimension = 0;                                   // 0: provider default
    int batch_size = 64;                                 // texts per embedding request
    std::string base_url = "https://api.openai.com/v1";  // openai: up to and including /v1
    std::string api_key_env = "OPENAI_API_KEY";          // openai: env var holding the key ("" = no auth)
    double timeout_seconds = 30;                         // openai: per request
    int max_retries = 5;                                 // openai: on 429 / 5xx / network errors

    bool operator==(const EmbeddingConfig&) const = default;
};

struct SearchConfig {
    std::string mode = "hybrid";  // hybrid | vector | lexical
    int k = 10;
    int rrf_k = 60;       // reciprocal-rank-fusion constant
    int ef_search = 128;  // HNSW breadth at query time

    bool operator==(const SearchConfig&) const = default;
};

// A size in bytes; in YAML an integer or a number with a unit: "512MB",
// "4GB", "64KiB" (KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024).
struct ByteSize {
    std::int64_t bytes = 0;

    bool operator==(const ByteSize&) const = default;
};

// The HTTP transport (`serve --transport http`).
struct ServerConfig {
    std::string host = "127.0.0.1";  // listen address; 0.0.0.0 / :: expose the server beyond this machine
    int port = 8080;
    // Origin header values accepted on /mcp (DNS-rebinding protection). Empty:
    // loopback origins only (http://localhost, http://127.0.0.1, http://[::1],
    // any port). "*" accepts any origin. Requests without Origin are accepted.
    std::vector<std::string> allowed_origins{};
    double session_timeout = 3600;  // seconds an idle MCP session lives
    double shutdown_timeout = 30;   // seconds SIGTERM waits for in-flight requests

    bool operator==(const ServerConfig&) const = default;
};

// security.tls: HTTPS for `serve --transport http` (server::TlsOptions). The
// files are PEM; cert_file holds the server certificate followed by its
// intermediates. Reloaded on SIGHUP and when the files change.
struct TlsConfig {
    bool enabled = false;
    std::string cert_file{};
    std::string key_file{};
    std::string client_ca_file{};          // CA for client certificates (mTLS)
    std::string client_auth = "none";      // none | optional | require (the last two need client_ca_file)
    std::string min_version = "1.2";       // 1.2 | 1.3
    std::int64_t hsts_max_age = 31536000;  // Strict-Transport-Security max-age in seconds; 0 = no header
    double reload_interval = 60;           // seconds between checks of the files for changes; 0 = off

    bool operator==(const TlsConfig&) const = default;
};


struct CachingConfig {
    bool enabled = true;                          // cache search results
    ByteSize max_memory{256LL * 1000 * 1000};     // memory: LRU bound; redis: Puts stop at this used_memory
    // ---- Redis backend of the query cache (search/redis_cache.hpp) ----
    std::string backend = "memory";  // memory (in-process LRU) | redis (shared by replicas)
    std::string redis_url{};         // redis: redis[s]://...; not given = security.rate_limiting.redis_url
    std::string redis_tls_ca_file{};    // rediss://: CA the server's certificate chains to ("" = system store)
    std::string redis_tls_cert_file{};  // rediss://: client certificate (servers with tls-auth-clients)
    std::string redis_tls_key_file{};   // rediss://: its private key
    double ttl = 3600;               // redis: seconds an entry lives

    bool operator==(const CachingConfig&) const = default;
};

// ---- security.rate_limiting (security/rate_limiter.hpp) ----
// One scope's GCRA limit: `burst` requests at once, refilled at
// `requests_per_second`.
struct RateLimitScope {
    double requests_per_second = 10;
    int burst = 20;

    bool operator==(const RateLimitScope&) const = default;
};

// Per-scope limits: a request is charged to the scope of what it does.
struct RateLimitLimits {
    RateLimitScope search{20, 40};    // search tools (search_code, find_similar, get_context, ...)
    RateLimitScope index{2, 10};      // indexing / writes
    RateLimitScope admin{1, 5};       // key management and other administration
    RateLimitScope anonymous{5, 10};  // requests without an API key (per client address)

    bool operator==(const RateLimitLimits&) const = default;
};

struct RateLimitingConfig {
    bool enabled = false;            // true when backend is given (and enabled is not)
    std::string backend = "memory";  // memory (per process) | redis (one budget across replicas)
    std::string redis_url{};         // redis: redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB]; "" = caching.redis_url
    std::string redis_tls_ca_file{};    // rediss://: CA the server's certificate chains to ("" = system store)
    std::string redis_tls_cert_file{};  // rediss://: client certificate (servers with tls-auth-clients)
    std::string redis_tls_key_file{};   // rediss://: its private key
    std::string fail_mode = "open";  // redis unreachable: open (admit) | closed (refuse with 429)
    RateLimitLimits limits{};

    bool operator==(const RateLimitingConfig&) const = default;
};
// ---- end of security.rate_limiting ----

struct PerformanceConfig {
    int workers = 4;               // threads running searches and tools (off the I/O thread)
    int max_connections = 1000;    // open HTTP connections beyond this are refused with 503
    double request_timeout = 30;   // seconds to receive a request; also the keep-alive idle limit
    ByteSize max_request_size{4LL * 1024 * 1024};  // larger request bodies get 413
    CachingConfig caching{};

    bool operator==(const PerformanceConfig&) const = default;
};

// security.api_keys: who may call the HTTP server (docs/production/security/api-keys.md).
// The keys' secrets are never in the configuration: the store holds keyed
// hashes, the pepper comes from an environment variable or a file, the Vault
// token from an environment variable or Kubernetes auth.
struct ApiKeysConfig {
    bool enabled = false;                  // HTTP /mcp requires a key (stdio never asks); true when storage is given
    std::string storage = "file";          // file | database | vault
    std::string file{};                    // file: the key file ("" = STORE_PATH/api-keys.json)
    std::string pepper_env = "SIGNAL_HUB_API_KEY_PEPPER";  // env var holding the hashing pepper (>= 32 bytes)
    std::string pepper_file{};             // or a file holding it (used when the env var is unset)
    double rotation_grace = 86400;         // seconds a rotated-out key keeps working (keys rotate default)
    std::string database_url{};            // database: "" = database.url (PostgreSQL)
    std::string vault_url{};               // vault: https://vault:8200
    std::string vault_mount = "secret";    // vault: KV v2 mount
    std::string vault_path = "signal-hub/api-keys";  // vault: secret path under the mount
    std::string vault_auth = "token";      // vault: token | kubernetes
    std::string vault_token_env = "VAULT_TOKEN";  // vault (token auth): env var holding the token
    std::string vault_role{};              // vault (kubernetes auth): the Vault role
    std::string vault_jwt_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";  // kubernetes auth
    std::string vault_namespace{};         // vault: X-Vault-Namespace (Enterprise), "" = none
    std::string vault_ca_file{};           // vault: CA bundle verifying the server ("" = system store)
    double cache_ttl = 30;                 // vault: seconds key records are cached

    bool operator==(const ApiKeysConfig&) const = default;
};

struct SecurityConfig {
    TlsConfig tls{};
    ApiKeysConfig api_keys{};
    RateLimitingConfig rate_limiting{};
    // Authentication failures, refusals and key administration as JSON lines:
    // "-" = standard error, otherwise a file appended to (created 0600).
    std::string audit_log = "-";

    bool operator==(const SecurityConfig&) const = default;
};

// monitoring.logging: the process's log records (telemetry/log.hpp,
// docs/production/monitoring/logging.md).
struct LoggingConfig {
    std::string level = "info";     // debug, info, warn, error (case-insensitive; warning = warn)
    std::string format = "text";    // text (for people) or json (one JSON object per line)
    std::string output = "stderr";  // stdout, stderr, or a file path (appended to, created 0640)

    bool operator==(const LoggingConfig&) const = default;
};

// monitoring.metrics: the Prometheus scrape listener of `serve --transport http`
// (docs/production/monitoring/metrics.md). Plain HTTP on its own port. Off by
// default, so that a laptop can serve two repositories side by side without a
// second port to choose; production configurations turn it on (and `check
// production` requires it).
struct MetricsConfig {
    bool enabled = false;
    std::string host = "127.0.0.1";
    int port = 9090;              // 0 = any free port (tests); must differ from server.port
    std::string path = "/metrics";  // starts with "/"

    bool operator==(const MetricsConfig&) const = default;
};

// monitoring.tracing: spans of `serve` exported over OTLP/HTTP to Jaeger or any
// OpenTelemetry collector (telemetry/trace.hpp, docs/production/monitoring/tracing.md).
struct TracingConfig {
    bool enabled = false;
    // The collector's OTLP/HTTP endpoint: http(s)://HOST:4318, to which /v1/traces is added, or the full
    // URL of the traces resource. Required when enabled.
    std::string jaeger_endpoint;
    std::string service_name = "signal-hub";  // the service.name of every span (one per deployment)
    double sample_ratio = 1.0;                // share of new traces recorded (0..1); callers' traceparent decides theirs
    int max_queue_spans = 2048;               // ended spans waiting for export; beyond it they are dropped (counted)
    int max_batch_spans = 512;                // spans per export request (1..max_queue_spans)
    double export_interval = 5;               // seconds a partial batch may wait
    double export_timeout = 10;               // seconds for one export request

    bool operator==(const TracingConfig&) const = default;
};

struct MonitoringConfig {
    LoggingConfig logging{};
    MetricsConfig metrics{};
    TracingConfig tracing{};

    bool operator==(const MonitoringConfig&) const = default;
};

struct Config {
    DatabaseConfig database{};
    StoreConfig store{};
    IndexConfig index{};
    EmbeddingConfig embedding{};
    SearchConfig search{};
    ServerConfig server{};
    PerformanceConfig performance{};
    SecurityConfig security{};
    MonitoringConfig monitoring{};
    std::string source{};  // where it came from: "defaults", or the file path

    bool operator==(const Config&) const = default;
};

// Reads an environment variable (nullopt: not set); injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

// Lists the names of all set environment variables. LoadConfig uses it only to
// reject SIGNAL_HUB_<SECTION>__<KEY> variables that name no key (a typo in an
// override must not be silently ignored).
using EnvNames = std::function<std::vector<std::string>()>;
EnvNames ProcessEnvNames();

// Every configuration key, as a dotted path ("index.chunk.max_lines"), in
// declaration order.
std::vector<std::string> KeyPaths();

// The environment variable that overrides a key path:
// "index.chunk.max_lines" -> "SIGNAL_HUB_INDEX__CHUNK__MAX_LINES".
std::string OverrideVariable(const std::string& key_path);

// Parses YAML text on top of the defaults, interpolating ${VAR} and
// ${VAR:-default} through `env`, then applies the defaults that follow from
// other keys (see LoadConfig). Does not apply SIGNAL_HUB_* overrides and
// does not Validate(). `source_name` is used in error messages and stored in
// Config::source. Errors are InvalidArgument naming the location, key path and
// problem, e.g.
//   "config.yaml:4:3: unknown key 'embedding.modle' (did you mean 'model'?)".
Result<Config> ParseConfig(const std::string& yaml_text, const std::string& source_name, const EnvLookup& env);

// Loads the configuration: `path` if given, else $SIGNAL_HUB_CONFIG if set and
// non-empty, else defaults only (source "defaults"). Then applies
// SIGNAL_HUB_<SECTION>__<KEY>[__<SUBKEY>] overrides (e.g.
// SIGNAL_HUB_EMBEDDING__PROVIDER=openai), then the defaults that follow from
// other keys, and validates. Those defaults apply only to keys neither the file
// nor an override set: performance.caching.redis_url and
// security.rate_limiting.redis_url default to each other (one Redis named
// once); security.api_keys.enabled defaults to true when
// security.api_keys.storage is given, security.rate_limiting.enabled when
// security.rate_limiting.backend is given.
// If `env_names` is given, every set variable of the form
// SIGNAL_HUB_<X>__<Y>... must name a key (pass ProcessEnvNames() in programs).
// Errors: NotFound / PermissionDenied naming the path when the file is missing
// or unreadable; InvalidArgument for everything else (syntax, unknown keys,
// types, interpolation, overrides, validation).
Result<Config> LoadConfig(const std::optional<std::string>& path, const EnvLookup& env,
                          const EnvNames& env_names = nullptr);

// Range and consistency checks on a filled Config. InvalidArgument naming each
// offending key path and its allowed values (all problems, "; "-separated).
Status Validate(const Config& config);

}  // namespace signalhub::config
