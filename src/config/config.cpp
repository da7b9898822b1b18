#include "config/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>

#include "core/suggest.hpp"

namespace signalhub::config {
namespace {

constexpr std::string_view kOverridePrefix = "SIGNAL_HUB_";
constexpr std::string_view kConfigVariable = "SIGNAL_HUB_CONFIG";
constexpr std::size_t kMaxFileBytes = 4 * 1024 * 1024;
constexpr std::size_t kMaxShownValue = 80;

const std::vector<std::string>& SupportedSections() {
    static const std::vector<std::string> kSections = {"database", "store",       "index",    "embedding", "search",
                                                         "server",   "performance", "security", "monitoring"};
    return kSections;
}

// Sections of the production configuration that this version does not
// implement yet (as key paths): rejected with a clear message instead of
// "unknown key".
const std::vector<std::string>& FutureSections() {
    static const std::vector<std::string> kSections = {};
    return kSections;
}

bool IsFutureSection(std::string_view path) {
    return std::find(FutureSections().begin(), FutureSections().end(), path) != FutureSections().end();
}

std::string JoinNames(const std::vector<std::string>& names) {
    std::string joined;
    for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
    return joined;
}

std::vector<std::string> ChildrenOf(const std::string& prefix);

std::string UnsupportedSectionMessage(const std::string& section) {
    const std::size_t dot = section.rfind('.');
    if (dot != std::string::npos) {
        const std::string parent = section.substr(0, dot);
        return "section '" + section + "' is not supported by this version of signal-hub (only " +
               JoinNames(ChildrenOf(parent)) + " in '" + parent + "')";
    }
    return "section '" + section + "' is not supported by this version of signal-hub (only " +
           JoinNames(SupportedSections()) + ")";
}

// ---------------------------------------------------------------------------
// The schema: every key, its path and where it lives in Config.

using FieldRef =
    std::variant<std::string*, bool*, int*, std::int64_t*, double*, std::vector<std::string>*, ByteSize*>;

struct Field {
    const char* path;
    FieldRef (*get)(Config&);
};

const std::vector<Field>& Fields() {
    static const std::vector<Field> kFields = {
        {"database.type", [](Config& c) -> FieldRef { return &c.database.type; }},
        {"database.url", [](Config& c) -> FieldRef { return &c.database.url; }},
        {"database.pool_size", [](Config& c) -> FieldRef { return &c.database.pool_size; }},
        {"database.max_overflow", [](Config& c) -> FieldRef { return &c.database.max_overflow; }},
        {"database.pool_timeout", [](Config& c) -> FieldRef { return &c.database.pool_timeout; }},
        {"database.hnsw_m", [](Config& c) -> FieldRef { return &c.database.hnsw_m; }},
        {"database.hnsw_ef_construction", [](Config& c) -> FieldRef { return &c.database.hnsw_ef_construction; }},
        {"database.read_urls", [](Config& c) -> FieldRef { return &c.database.read_urls; }},
        {"database.max_replica_lag", [](Config& c) -> FieldRef { return &c.database.max_replica_lag; }},
        {"database.replica_check_interval", [](Config& c) -> FieldRef { return &c.database.replica_check_interval; }},
        {"store.path", [](Config& c) -> FieldRef { return &c.store.path; }},
        {"index.collection", [](Config& c) -> FieldRef { return &c.index.collection; }},
        {"index.max_file_bytes", [](Config& c) -> FieldRef { return &c.index.max_file_bytes; }},
        {"index.default_excludes", [](Config& c) -> FieldRef { return &c.index.default_excludes; }},
        {"index.exclude", [](Config& c) -> FieldRef { return &c.index.exclude; }},
        {"index.follow_symlinks", [](Config& c) -> FieldRef { return &c.index.follow_symlinks; }},
        {"index.batch_size", [](Config& c) -> FieldRef { return &c.index.batch_size; }},
        {"index.chunk.max_lines", [](Config& c) -> FieldRef { return &c.index.chunk.max_lines; }},
        {"index.chunk.overlap_lines", [](Config& c) -> FieldRef { return &c.index.chunk.overlap_lines; }},
        {"index.chunk.window_lines", [](Config& c) -> FieldRef { return &c.index.chunk.window_lines; }},
        {"index.chunk.max_chars", [](Config& c) -> FieldRef { return &c.index.chunk.max_chars; }},
        {"embedding.provider", [](Config& c) -> FieldRef { return &c.embedding.provider; }},
        {"embedding.model", [](Config& c) -> FieldRef { return &c.embedding.model; }},
        {"embedding.dimension", [](Config& c) -> FieldRef { return &c.embedding.dimension; }},
        {"embedding.batch_size", [](Config& c) -> FieldRef { return &c.embedding.batch_size; }},
        {"embedding.base_url", [](Config& c) -> FieldRef { return &c.embedding.base_url; }},
        {"embedding.api_key_env", [](Config& c) -> FieldRef { return &c.embedding.api_key_env; }},
        {"embedding.timeout_seconds", [](Config& c) -> FieldRef { return &c.embedding.timeout_seconds; }},
        {"embedding.max_retries", [](Config& c) -> FieldRef { return &c.embedding.max_retries; }},
        {"search.mode", [](Config& c) -> FieldRef { return &c.search.mode; }},
        {"search.k", [](Config& c) -> FieldRef { return &c.search.k; }},
        {"search.rrf_k", [](Config& c) -> FieldRef { return &c.search.rrf_k; }},
        {"search.ef_search", [](Config& c) -> FieldRef { return &c.search.ef_search; }},
        {"server.host", [](Config& c) -> FieldRef { return &c.server.host; }},
        {"server.port", [](Config& c) -> FieldRef { return &c.server.port; }},
        {"server.allowed_origins", [](Config& c) -> FieldRef { return &c.server.allowed_origins; }},
        {"server.session_timeout", [](Config& c) -> FieldRef { return &c.server.session_timeout; }},
        {"server.shutdown_timeout", [](Config& c) -> FieldRef { return &c.server.shutdown_timeout; }},
        {"performance.workers", [](Config& c) -> FieldRef { return &c.performance.workers; }},
        {"performance.max_connections", [](Config& c) -> FieldRef { return &c.performance.max_connections; }},
        {"performance.request_timeout", [](Config& c) -> FieldRef { return &c.performance.request_timeout; }},
        {"performance.max_request_size", [](Config& c) -> FieldRef { return &c.performance.max_request_size; }},
        {"performance.caching.enabled", [](Config& c) -> FieldRef { return &c.performance.caching.enabled; }},
        {"performance.caching.max_memory", [](Config& c) -> FieldRef { return &c.performance.caching.max_memory; }},
        {"performance.caching.backend", [](Config& c) -> FieldRef { return &c.performance.caching.backend; }},
        {"performance.caching.redis_url", [](Config& c) -> FieldRef { return &c.performance.caching.redis_url; }},
        {"performance.caching.redis_tls_ca_file",
         [](Config& c) -> FieldRef { return &c.performance.caching.redis_tls_ca_file; }},
        {"performance.caching.redis_tls_cert_file",
         [](Config& c) -> FieldRef { return &c.performance.caching.redis_tls_cert_file; }},
        {"performance.caching.redis_tls_key_file",
         [](Config& c) -> FieldRef { return &c.performance.caching.redis_tls_key_file; }},
        {"performance.caching.ttl", [](Config& c) -> FieldRef { return &c.performance.caching.ttl; }},
        {"security.tls.enabled", [](Config& c) -> FieldRef { return &c.security.tls.enabled; }},
        {"security.tls.cert_file", [](Config& c) -> FieldRef { return &c.security.tls.cert_file; }},
        {"security.tls.key_file", [](Config& c) -> FieldRef { return &c.security.tls.key_file; }},
        {"security.tls.client_ca_file", [](Config& c) -> FieldRef { return &c.security.tls.client_ca_file; }},
        {"security.tls.client_auth", [](Config& c) -> FieldRef { return &c.security.tls.client_auth; }},
        {"security.tls.min_version", [](Config& c) -> FieldRef { return &c.security.tls.min_version; }},
        {"security.tls.hsts_max_age", [](Config& c) -> FieldRef { return &c.security.tls.hsts_max_age; }},
        {"security.tls.reload_interval", [](Config& c) -> FieldRef { return &c.security.tls.reload_interval; }},
        {"security.api_keys.enabled", [](Config& c) -> FieldRef { return &c.security.api_keys.enabled; }},
        {"security.api_keys.storage", [](Config& c) -> FieldRef { return &c.security.api_keys.storage; }},
        {"security.api_keys.file", [](Config& c) -> FieldRef { return &c.security.api_keys.file; }},
        {"security.api_keys.pepper_env", [](Config& c) -> FieldRef { return &c.security.api_keys.pepper_env; }},
        {"security.api_keys.pepper_file", [](Config& c) -> FieldRef { return &c.security.api_keys.pepper_file; }},
        {"security.api_keys.rotation_grace", [](Config& c) -> FieldRef { return &c.security.api_keys.rotation_grace; }},
        {"security.api_keys.database_url", [](Config& c) -> FieldRef { return &c.security.api_keys.database_url; }},
        {"security.api_keys.vault_url", [](Config& c) -> FieldRef { return &c.security.api_keys.vault_url; }},
        {"security.api_keys.vault_mount", [](Config& c) -> FieldRef { return &c.security.api_keys.vault_mount; }},
        {"security.api_keys.vault_path", [](Config& c) -> FieldRef { return &c.security.api_keys.vault_path; }},
        {"security.api_keys.vault_auth", [](Config& c) -> FieldRef { return &c.security.api_keys.vault_auth; }},
        {"security.api_keys.vault_token_env", [](Config& c) -> FieldRef { return &c.security.api_keys.vault_token_env; }},
        {"security.api_keys.vault_role", [](Config& c) -> FieldRef { return &c.security.api_keys.vault_role; }},
        {"security.api_keys.vault_jwt_file", [](Config& c) -> FieldRef { return &c.security.api_keys.vault_jwt_file; }},
        {"security.api_keys.vault_namespace", [](Config& c) -> FieldRef { return &c.security.api_keys.vault_namespace; }},
        {"security.api_keys.vault_ca_file", [](Config& c) -> FieldRef { return &c.security.api_keys.vault_ca_file; }},
        {"security.api_keys.cache_ttl", [](Config& c) -> FieldRef { return &c.security.api_keys.cache_ttl; }},
        {"security.audit_log", [](Config& c) -> FieldRef { return &c.security.audit_log; }},
        {"security.rate_limiting.enabled", [](Config& c) -> FieldRef { return &c.security.rate_limiting.enabled; }},
        {"security.rate_limiting.backend", [](Config& c) -> FieldRef { return &c.security.rate_limiting.backend; }},
        {"security.rate_limiting.redis_url",
         [](Config& c) -> FieldRef { return &c.security.rate_limiting.redis_url; }},
        {"security.rate_limiting.redis_tls_ca_file",
         [](Config& c) -> FieldRef { return &c.security.rate_limiting.redis_tls_ca_file; }},
        {"security.rate_limiting.redis_tls_cert_file",
         [](Config& c) -> FieldRef { return &c.security.rate_limiting.redis_tls_cert_file; }},
        {"security.rate_limiting.redis_tls_key_file",
         [](Config& c) -> FieldRef { return &c.security.rate_limiting.redis_tls_key_file; }},
        {"security.rate_limiting.fail_mode",
         [](Config& c) -> FieldRef { return &c.security.rate_limiting.fail_mode; }},
        {"security.rate_limiting.limits.search.requests_per_second",
         [](Config& c) -> FieldRef { return &c.security.rate_limiting.limits.search.requests_per_second; }},
        {"security.rate_limiting.limits.search.burst",
         [](Config& c) -> FieldRef { return &c.security.rate_limiting.limits.search.burst; }},
        {"security.rate_limiting.limits.index.requests_per_second",
         [](Config& c) -> FieldRef { return &c.security.rate_limiting.limits.index.requests_per_second; }},
        {"security.rate_limiting.limits.index.burst",
         [](Config& c) -> FieldRef { return &c.security.rate_limiting.limits.index.burst; }},
        {"security.rate_limiting.limits.admin.requests_per_second",
         [](Config& c) -> FieldRef { return &c.security.rate_limiting.limits.admin.requests_per_second; }},
        {"security.rate_limiting.limits.admin.burst",
         [](Config& c) -> FieldRef { return &c.security.rate_limiting.limits.admin.burst; }},
        {"security.rate_limiting.limits.anonymous.requests_per_second",
         [](Config& c) -> FieldRef { return &c.security.rate_limiting.limits.anonymous.requests_per_second; }},
        {"security.rate_limiting.limits.anonymous.burst",
         [](Config& c) -> FieldRef { return &c.security.rate_limiting.limits.anonymous.burst; }},
        {"monitoring.logging.level", [](Config& c) -> FieldRef { return &c.monitoring.logging.level; }},
        {"monitoring.logging.format", [](Config& c) -> FieldRef { return &c.monitoring.logging.format; }},
        {"monitoring.logging.output", [](Config& c) -> FieldRef { return &c.monitoring.logging.output; }},
        {"monitoring.metrics.enabled", [](Config& c) -> FieldRef { return &c.monitoring.metrics.enabled; }},
        {"monitoring.metrics.host", [](Config& c) -> FieldRef { return &c.monitoring.metrics.host; }},
        {"monitoring.metrics.port", [](Config& c) -> FieldRef { return &c.monitoring.metrics.port; }},
        {"monitoring.metrics.path", [](Config& c) -> FieldRef { return &c.monitoring.metrics.path; }},
        {"monitoring.tracing.enabled", [](Config& c) -> FieldRef { return &c.monitoring.tracing.enabled; }},
        {"monitoring.tracing.jaeger_endpoint",
         [](Config& c) -> FieldRef { return &c.monitoring.tracing.jaeger_endpoint; }},
        {"monitoring.tracing.service_name", [](Config& c) -> FieldRef { return &c.monitoring.tracing.service_name; }},
        {"monitoring.tracing.sample_ratio", [](Config& c) -> FieldRef { return &c.monitoring.tracing.sample_ratio; }},
        {"monitoring.tracing.max_queue_spans",
         [](Config& c) -> FieldRef { return &c.monitoring.tracing.max_queue_spans; }},
        {"monitoring.tracing.max_batch_spans",
         [](Config& c) -> FieldRef { return &c.monitoring.tracing.max_batch_spans; }},
        {"monitoring.tracing.export_interval",
         [](Config& c) -> FieldRef { return &c.monitoring.tracing.export_interval; }},
        {"monitoring.tracing.export_timeout",
         [](Config& c) -> FieldRef { return &c.monitoring.tracing.export_timeout; }},
    };
    return kFields;
}

const Field* FindField(std::string_view path) {
    for (const Field& field : Fields()) {
        if (path == field.path) return &field;
    }
    return nullptr;
}

// True if `path` is a mapping in the schema ("index", "index.chunk").
bool IsSection(std::string_view path) {
    for (const Field& field : Fields()) {
        std::string_view p = field.path;
        if (p.size() > path.size() && p.substr(0, path.size()) == path && p[path.size()] == '.') return true;
    }
    return false;
}

// Names of the keys directly under a section ("" = top level), in order.
std::vector<std::string> ChildrenOf(const std::string& prefix) {
    std::vector<std::string> children;
    for (const Field& field : Fields()) {
        std::string_view p = field.path;
        if (!prefix.empty()) {
            if (p.size() <= prefix.size() || p.substr(0, prefix.size()) != prefix || p[prefix.size()] != '.') continue;
            p.remove_prefix(prefix.size() + 1);
        }
        std::string name(p.substr(0, p.find('.')));
        if (std::find(children.begin(), children.end(), name) == children.end()) children.push_back(name);
    }
    return children;
}

std::string JoinPath(const std::string& prefix, const std::string& key) {
    return prefix.empty() ? key : prefix + "." + key;
}

const char* ExpectedType(const FieldRef& ref) {
    switch (ref.index()) {
        case 0:
            return "a string";
        case 1:
            return "a boolean (true or false)";
        case 2:
        case 3:
            return "an integer";
        case 4:
            return "a number";
        case 5:
            return "a list of strings";
        default:
            return "a size in bytes (e.g. 4194304, 512MB, 4GB, 64KiB)";
    }
}

// ---------------------------------------------------------------------------
// Small text helpers.

std::string Lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string Upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string Quote(std::string_view value) {
    std::string shown(value.substr(0, kMaxShownValue));
    if (value.size() > kMaxShownValue) shown += "...";
    return "'" + shown + "'";
}

std::string Trim(std::string_view s) {
    std::size_t begin = 0;
    std::size_t end = s.size();
    while (begin < end && std::isspace(static_cast<unsigned char>(s[begin]))) ++begin;
    while (end > begin && std::isspace(static_cast<unsigned char>(s[end - 1]))) --end;
    return std::string(s.substr(begin, end - begin));
}

bool IsVariableName(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// ---------------------------------------------------------------------------
// Scalar conversion. Each returns an error description ("expected ..., found
// ...") or nullopt on success.

std::optional<std::string> ParseInteger(const std::string& text, std::int64_t min, std::int64_t max,
                                        std::int64_t* out) {
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    if (begin != end && *begin == '+') ++begin;
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec == std::errc() && ptr == end && begin != end && value >= min && value <= max) {
        *out = value;
        return std::nullopt;
    }
    if ((ec == std::errc::result_out_of_range && ptr == end) || (ec == std::errc() && ptr == end && begin != end)) {
        return "expected an integer between " + std::to_string(min) + " and " + std::to_string(max) + ", found " +
               Quote(text);
    }
    double as_double = 0;
    auto [dptr, dec] = std::from_chars(begin, end, as_double);
    if (dec == std::errc() && dptr == end && begin != end) {
        return "expected an integer, found the decimal number " + Quote(text);
    }
    return "expected an integer, found " + Quote(text);
}

std::optional<std::string> ParseNumber(const std::string& text, double* out) {
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    if (begin != end && *begin == '+') ++begin;
    double value = 0;
    auto [ptr, ec] = std::from_chars(begin, end, value, std::chars_format::general);
    if (ec != std::errc() || ptr != end || begin == end || !std::isfinite(value)) {
        return "expected a number, found " + Quote(text);
    }
    *out = value;
    return std::nullopt;
}

std::optional<std::string> ParseBool(const std::string& text, bool* out) {
    if (text == "true" || text == "True" || text == "TRUE") {
        *out = true;
        return std::nullopt;
    }
    if (text == "false" || text == "False" || text == "FALSE") {
        *out = false;
        return std::nullopt;
    }
    return "expected a boolean (true or false), found " + Quote(text);
}

// A byte size: an integer, or a number with a unit (B, KB, MB, GB, TB in
// powers of 1000; KiB, MiB, GiB, TiB in powers of 1024; case-insensitive).
std::optional<std::string> ParseByteSize(const std::string& text, ByteSize* out) {
    const std::string trimmed = Trim(text);
    std::size_t unit_at = 0;
    while (unit_at < trimmed.size() &&
           (std::isdigit(static_cast<unsigned char>(trimmed[unit_at])) || trimmed[unit_at] == '.')) {
        ++unit_at;
    }
    const std::string number = trimmed.substr(0, unit_at);
    const std::string unit = Lower(Trim(std::string_view(trimmed).substr(unit_at)));
    static const std::vector<std::pair<std::string, double>> kUnits = {
        {"", 1},           {"b", 1},
        {"kb", 1e3},       {"mb", 1e6},
        {"gb", 1e9},       {"tb", 1e12},
        {"kib", 1024.0},   {"mib", 1024.0 * 1024},
        {"gib", 1024.0 * 1024 * 1024}, {"tib", 1024.0 * 1024 * 1024 * 1024}};
    const std::string expected = "expected a size in bytes such as 4194304, 512MB, 4GB or 64KiB, found " + Quote(text);
    auto unit_it = std::find_if(kUnits.begin(), kUnits.end(), [&](const auto& u) { return u.first == unit; });
    double value = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || unit_it == kUnits.end() || ec != std::errc() || ptr != number.data() + number.size()) {
        return expected;
    }
    const double bytes = value * unit_it->second;
    if (!std::isfinite(bytes) || bytes > 9.0e18) return expected + " (too large)";
    out->bytes = static_cast<std::int64_t>(std::llround(bytes));
    return std::nullopt;
}

// Splits a comma-separated override into list items (trimmed; empty items dropped).
std::vector<std::string> SplitList(const std::string& text) {
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t comma = text.find(',', start);
        if (comma == std::string::npos) comma = text.size();
        std::string item = Trim(std::string_view(text).substr(start, comma - start));
        if (!item.empty()) items.push_back(std::move(item));
        start = comma + 1;
    }
    return items;
}

// Assigns scalar text to a field. Lists take comma-separated items (used by
// environment overrides only; YAML lists are sequences).
std::optional<std::string> AssignText(const FieldRef& ref, const std::string& text) {
    struct Visitor {
        const std::string& text;
        std::optional<std::string> operator()(std::string* out) const {
            *out = text;
            return std::nullopt;
        }
        std::optional<std::string> operator()(bool* out) const { return ParseBool(text, out); }
        std::optional<std::string> operator()(int* out) const {
            std::int64_t value = 0;
            auto error = ParseInteger(text, std::numeric_limits<int>::min(), std::numeric_limits<int>::max(), &value);
            if (!error) *out = static_cast<int>(value);
            return error;
        }
        std::optional<std::string> operator()(std::int64_t* out) const {
            return ParseInteger(text, std::numeric_limits<std::int64_t>::min(),
                                std::numeric_limits<std::int64_t>::max(), out);
        }
        std::optional<std::string> operator()(double* out) const { return ParseNumber(text, out); }
        std::optional<std::string> operator()(std::vector<std::string>* out) const {
            *out = SplitList(text);
            return std::nullopt;
        }
        std::optional<std::string> operator()(ByteSize* out) const { return ParseByteSize(text, out); }
    };
    return std::visit(Visitor{text}, ref);
}

// ---------------------------------------------------------------------------
// ${VAR} / ${VAR:-default} / $$ interpolation.

Result<std::string> Interpolate(const std::string& raw, const EnvLookup& env) {
    std::string out;
    out.reserve(raw.size());
    std::size_t i = 0;
    while (i < raw.size()) {
        const char c = raw[i];
        if (c != '$') {
            out += c;
            ++i;
            continue;
        }
        if (i + 1 < raw.size() && raw[i + 1] == '$') {
            out += '$';
            i += 2;
            continue;
        }
        if (i + 1 >= raw.size() || raw[i + 1] != '{') {
            out += '$';  // a lone '$' is literal
            ++i;
            continue;
        }
        const std::size_t close = raw.find('}', i + 2);
        if (close == std::string::npos) {
            return InvalidArgument("unterminated " + Quote(raw.substr(i)) +
                                   " (expected ${NAME} or ${NAME:-default}; "
                                   "write $$ for a literal '$')");
        }
        const std::string body = raw.substr(i + 2, close - i - 2);
        const std::size_t sep = body.find(":-");
        const std::string name = body.substr(0, sep);
        if (!IsVariableName(name)) {
            return InvalidArgument("invalid variable reference " + Quote("${" + body + "}") +
                                   " (expected ${NAME} or ${NAME:-default}, NAME made of letters, digits and '_'; "
                                   "write $$ for a literal '$')");
        }
        std::optional<std::string> value = env ? env(name) : std::nullopt;
        if (sep != std::string::npos) {
            // Shell semantics: the default applies when the variable is unset or empty.
            out += (value && !value->empty()) ? *value : body.substr(sep + 2);
        } else if (value) {
            out += *value;
        } else {
            return InvalidArgument("environment variable " + name + " is not set (use ${" + name +
                                   ":-default} to give a default)");
        }
        i = close + 1;
    }
    return out;
}

// ---------------------------------------------------------------------------
// YAML walking.

// Where each key's current value came from ("config.yaml:3:5" or
// "environment variable SIGNAL_HUB_SEARCH__K"); used to place validation errors.
using Origins = std::map<std::string, std::string>;

std::string Describe(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Null:
            return "null";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Scalar:
            return Quote(node.Scalar());
        default:
            return "nothing";
    }
}

class YamlLoader {
   public:
    YamlLoader(const std::string& source, const EnvLookup& env, Config& config, Origins& origins)
        : source_(source), env_(env), config_(config), origins_(origins) {}

    Status Load(const std::string& text) {
        std::vector<YAML::Node> documents = YAML::LoadAll(text);
        if (documents.empty()) return Status::Ok();
        if (documents.size() > 1) {
            return Error(documents[1].Mark(), "the file holds " + std::to_string(documents.size()) +
                                                  " YAML documents; a configuration file holds exactly one");
        }
        const YAML::Node& root = documents[0];
        if (root.IsNull()) return Status::Ok();
        if (!root.IsMap()) {
            return Error(root.Mark(), "expected a mapping of sections (" + JoinNames(SupportedSections()) +
                                          "), found " + Describe(root));
        }
        return WalkMap(root, "");
    }

   private:
    std::string Location(const YAML::Mark& mark) const {
        if (mark.is_null()) return source_;
        return source_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    }

    Status Error(const YAML::Mark& mark, const std::string& message) const {
        return InvalidArgument(Location(mark) + ": " + message);
    }

    // The mark to report for a value: its own, or its key's when the value is
    // empty (yaml-cpp places empty values at the start of the next line).
    static YAML::Mark ValueMark(const YAML::Node& key, const YAML::Node& value) {
        if (value.IsNull() || value.Mark().is_null()) return key.Mark();
        return value.Mark();
    }

    Status WalkMap(const YAML::Node& map, const std::string& prefix) {
        std::map<std::string, int> seen;  // key -> 1-based line of first occurrence
        for (auto it = map.begin(); it != map.end(); ++it) {
            const YAML::Node key = it->first;
            const YAML::Node value = it->second;
            if (!key.IsScalar()) {
                return Error(key.Mark(), "keys must be plain names, found " + Describe(key) +
                                             (prefix.empty() ? std::string() : " in '" + prefix + "'"));
            }
            const std::string& name = key.Scalar();
            const std::string path = JoinPath(prefix, name);
            if (auto [pos, inserted] = seen.emplace(name, key.Mark().line + 1); !inserted) {
                return Error(key.Mark(),
                             "duplicate key '" + path + "' (first given on line " + std::to_string(pos->second) + ")");
            }
            if (IsFutureSection(path)) return Error(key.Mark(), UnsupportedSectionMessage(path));
            if (const Field* field = FindField(path)) {
                SH_RETURN_IF_ERROR(SetField(*field, key, value));
            } else if (IsSection(path)) {
                if (value.IsNull()) continue;  // an empty section keeps its defaults
                if (!value.IsMap()) return Error(value.Mark(), path + ": expected a mapping, found " + Describe(value));
                SH_RETURN_IF_ERROR(WalkMap(value, path));
            } else {
                return Error(key.Mark(), UnknownKeyMessage(prefix, name));
            }
        }
        return Status::Ok();
    }

    static std::string UnknownKeyMessage(const std::string& prefix, const std::string& name) {
        const std::string path = JoinPath(prefix, name);
        std::string message = "unknown key '" + path + "'";
        if (auto suggestion = Suggest(name, ChildrenOf(prefix))) {
            return message + " (did you mean '" + *suggestion + "'?)";
        }
        // A key that exists, but in another section.
        std::vector<std::string> elsewhere;
        for (const Field& field : Fields()) {
            std::string_view p = field.path;
            if (p.substr(p.rfind('.') + 1) == name) elsewhere.emplace_back(p);
        }
        if (elsewhere.size() == 1) return message + " (did you mean '" + elsewhere[0] + "'?)";
        if (prefix.empty()) return message + " (sections: " + JoinNames(SupportedSections()) + ")";
        return message + " (keys in '" + prefix + "': " + JoinNames(ChildrenOf(prefix)) + ")";
    }

    Result<std::string> ScalarText(const std::string& path, const YAML::Node& node) const {
        Result<std::string> text = Interpolate(node.Scalar(), env_);
        if (!text.ok()) return Error(node.Mark(), path + ": " + text.status().message());
        return text;
    }

    Status SetField(const Field& field, const YAML::Node& key, const YAML::Node& value) {
        const std::string path = field.path;
        FieldRef ref = field.get(config_);
        const YAML::Mark mark = ValueMark(key, value);
        origins_[path] = Location(mark);
        if (auto* list = std::get_if<std::vector<std::string>*>(&ref)) {
            if (value.IsNull()) {
                (*list)->clear();
                return Status::Ok();
            }
            if (!value.IsSequence()) {
                return Error(mark, path + ": expected a list of strings, found " + Describe(value));
            }
            std::vector<std::string> items;
            for (std::size_t i = 0; i < value.size(); ++i) {
                const YAML::Node item = value[i];
                const std::string item_path = path + "[" + std::to_string(i) + "]";
                if (!item.IsScalar())
                    return Error(item.Mark().is_null() ? mark : item.Mark(),
                                 item_path + ": expected a string, found " + Describe(item));
                SH_ASSIGN_OR_RETURN(std::string text, ScalarText(item_path, item));
                origins_[item_path] = Location(item.Mark());
                items.push_back(std::move(text));
            }
            **list = std::move(items);
            return Status::Ok();
        }
        if (!value.IsScalar()) {
            return Error(mark, path + ": expected " + ExpectedType(ref) + ", found " + Describe(value));
        }
        SH_ASSIGN_OR_RETURN(std::string text, ScalarText(path, value));
        if (auto error = AssignText(ref, text)) {
            std::string message = path + ": " + *error;
            if (text != value.Scalar()) message += " (after interpolating " + Quote(value.Scalar()) + ")";
            return Error(mark, message);
        }
        return Status::Ok();
    }

    const std::string& source_;
    const EnvLookup& env_;
    Config& config_;
    Origins& origins_;
};

Result<Config> ParseWithOrigins(const std::string& yaml_text, const std::string& source_name, const EnvLookup& env,
                                Origins& origins) {
    Config config;
    config.source = source_name;
    YamlLoader loader(source_name, env, config, origins);
    try {
        SH_RETURN_IF_ERROR(loader.Load(yaml_text));
    } catch (const YAML::ParserException& e) {
        std::string where = source_name;
        if (!e.mark.is_null()) where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
        return InvalidArgument(where + ": invalid YAML: " + e.msg);
    } catch (const std::exception& e) {
        return InvalidArgument(source_name + ": cannot read the configuration: " + e.what());
    }
    return config;
}

// ---------------------------------------------------------------------------
// Environment overrides.

// Rejects SIGNAL_HUB_<X>__<Y>... variables that name no key.
Status CheckOverrideNames(const std::vector<std::string>& names) {
    std::vector<std::string> sorted = names;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::string> all_paths = KeyPaths();
    for (const std::string& name : sorted) {
        if (name.size() <= kOverridePrefix.size() || Upper(name.substr(0, kOverridePrefix.size())) != kOverridePrefix) {
            continue;
        }
        std::string rest = name.substr(kOverridePrefix.size());
        if (rest.find("__") == std::string::npos) continue;  // not an override (e.g. SIGNAL_HUB_CONFIG)
        std::string path;
        for (std::size_t pos = 0;;) {
            const std::size_t sep = rest.find("__", pos);
            path += (path.empty() ? "" : ".") + Lower(rest.substr(pos, sep == std::string::npos ? sep : sep - pos));
            if (sep == std::string::npos) break;
            pos = sep + 2;
        }
        const std::string prefix = "environment variable " + name + ": ";
        if (FindField(path)) {
            if (name == OverrideVariable(path)) continue;
            return InvalidArgument(prefix + "override variables are upper case (did you mean " +
                                   OverrideVariable(path) + "?)");
        }
        for (std::size_t dot = 0; dot != std::string::npos;) {  // each enclosing section, outermost first
            dot = path.find('.', dot + 1);
            const std::string section = path.substr(0, dot);
            if (IsFutureSection(section)) return InvalidArgument(prefix + UnsupportedSectionMessage(section));
        }
        if (IsSection(path)) {
            return InvalidArgument(prefix + "'" + path + "' is a section, not a key; name one of its keys, e.g. " +
                                   OverrideVariable(path + "." + ChildrenOf(path).front()));
        }
        std::string message = prefix + "does not name a configuration key ('" + path + "' is unknown";
        if (auto suggestion = Suggest(path, all_paths))
            message += "; did you mean " + OverrideVariable(*suggestion) + "?";
        return InvalidArgument(message + ")");
    }
    return Status::Ok();
}

Status ApplyOverrides(Config& config, const EnvLookup& env, Origins& origins) {
    if (!env) return Status::Ok();
    for (const Field& field : Fields()) {
        const std::string variable = OverrideVariable(field.path);
        std::optional<std::string> value = env(variable);
        if (!value) continue;
        if (auto error = AssignText(field.get(config), *value)) {
            return InvalidArgument("environment variable " + variable + ": " + field.path + ": " + *error);
        }
        origins[field.path] = "environment variable " + variable;
        const FieldRef ref = field.get(config);
        if (auto* list = std::get_if<std::vector<std::string>*>(&ref)) {
            for (std::size_t i = 0; i < (*list)->size(); ++i) {
                origins[std::string(field.path) + "[" + std::to_string(i) + "]"] = "environment variable " + variable;
            }
        }
    }
    return Status::Ok();
}

// ---------------------------------------------------------------------------
// Defaults that follow from other keys (docs/configuration.md, "Defaults that follow from other keys").
// Applied once, after the file and the environment overrides; `given` holds every key either of them
// set, so that a value written down always wins over a default derived here.

void ApplyImpliedDefaults(Config& c, const Origins& given) {
    auto is_given = [&given](const char* path) { return given.count(path) > 0; };
    CachingConfig& cache = c.performance.caching;
    RateLimitingConfig& limits = c.security.rate_limiting;
    // One Redis named once serves both the shared query cache and the rate limits.
    // With the URL come its TLS files (rediss://), unless the section gives its own.
    auto inherit_tls = [&is_given](const std::string& section, auto& to, const auto& from) {
        if (!is_given((section + ".redis_tls_ca_file").c_str())) to.redis_tls_ca_file = from.redis_tls_ca_file;
        if (!is_given((section + ".redis_tls_cert_file").c_str()) &&
            !is_given((section + ".redis_tls_key_file").c_str())) {
            to.redis_tls_cert_file = from.redis_tls_cert_file;
            to.redis_tls_key_file = from.redis_tls_key_file;
        }
    };
    if (cache.backend == "redis" && !is_given("performance.caching.redis_url") && !limits.redis_url.empty()) {
        cache.redis_url = limits.redis_url;
        inherit_tls("performance.caching", cache, limits);
    }
    if (limits.backend == "redis" && !is_given("security.rate_limiting.redis_url") && !cache.redis_url.empty()) {
        limits.redis_url = cache.redis_url;
        inherit_tls("security.rate_limiting", limits, cache);
    }
    // Configuring where the keys live (or which backend counts the requests) asks for the feature:
    // `enabled` defaults to true then; an explicit `enabled: false` still turns it off.
    if (is_given("security.api_keys.storage") && !is_given("security.api_keys.enabled")) {
        c.security.api_keys.enabled = true;
    }
    if (is_given("security.rate_limiting.backend") && !is_given("security.rate_limiting.enabled")) {
        limits.enabled = true;
    }
}

// ---------------------------------------------------------------------------
// Validation.

using Problems = std::vector<std::pair<std::string, std::string>>;  // key path, message

Problems FindProblems(const Config& c) {
    Problems problems;
    auto between = [&problems](const std::string& path, std::int64_t value, std::int64_t min, std::int64_t max) {
        if (value < min || value > max) {
            problems.emplace_back(path, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                                            ", got " + std::to_string(value));
        }
    };
    auto at_least = [&problems](const std::string& path, std::int64_t value, std::int64_t min) {
        if (value < min) {
            problems.emplace_back(path, "must be at least " + std::to_string(min) + ", got " + std::to_string(value));
        }
    };
    auto one_of = [&problems](const std::string& path, const std::string& value,
                              const std::vector<std::string>& allowed) {
        if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
        problems.emplace_back(path, "must be one of " + JoinNames(allowed) + ", got " + Quote(value));
    };

    one_of("database.type", c.database.type, {"embedded", "postgresql", "chromadb"});
    if (c.database.type == "postgresql") {
        const std::string& url = c.database.url;
        if (url.empty()) {
            problems.emplace_back("database.url", "is required when database.type is postgresql "
                                                  "(postgresql://USER:PASSWORD@HOST:5432/DATABASE)");
        } else if (url.rfind("postgresql://", 0) != 0 && url.rfind("postgres://", 0) != 0) {
            problems.emplace_back("database.url", "must be a postgresql:// URL, got a value starting " +
                                                      Quote(url.substr(0, std::min<std::size_t>(url.find(':'), 16))));
        }
    } else if (c.database.type == "chromadb") {
        const std::string& url = c.database.url;
        const bool http = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0 ||
                          url.rfind("chroma+http://", 0) == 0 || url.rfind("chroma+https://", 0) == 0;
        if (url.empty()) {
            problems.emplace_back("database.url", "is required when database.type is chromadb "
                                                  "(http://HOST:8000, optionally ?tenant=T&database=D)");
        } else if (!http) {
            problems.emplace_back("database.url", "must be an http:// or https:// URL of the Chroma server, got a value "
                                                  "starting " +
                                                      Quote(url.substr(0, std::min<std::size_t>(url.find(':'), 16))));
        }
    }
    between("database.pool_size", c.database.pool_size, 1, 1000);
    between("database.max_overflow", c.database.max_overflow, 0, 10000);
    between("database.hnsw_m", c.database.hnsw_m, 2, 100);  // pgvector's ranges
    between("database.hnsw_ef_construction", c.database.hnsw_ef_construction, 4, 1000);
    if (c.database.hnsw_ef_construction < 2 * c.database.hnsw_m) {
        problems.emplace_back("database.hnsw_ef_construction",
                              "must be at least twice database.hnsw_m (" + std::to_string(2 * c.database.hnsw_m) +
                                  "), got " + std::to_string(c.database.hnsw_ef_construction));
    }

    if (c.store.path.empty()) problems.emplace_back("store.path", "must not be empty");

    at_least("index.max_file_bytes", c.index.max_file_bytes, 1);
    for (std::size_t i = 0; i < c.index.exclude.size(); ++i) {
        if (Trim(c.index.exclude[i]).empty()) {
            problems.emplace_back("index.exclude[" + std::to_string(i) + "]", "must not be empty");
        }
    }
    at_least("index.batch_size", c.index.batch_size, 1);
    const ChunkConfig& chunk = c.index.chunk;
    at_least("index.chunk.max_lines", chunk.max_lines, 4);
    if (chunk.overlap_lines < 0 || static_cast<std::int64_t>(chunk.overlap_lines) * 2 >= chunk.max_lines) {
        problems.emplace_back("index.chunk.overlap_lines",
                              "must be at least 0 and less than half of index.chunk.max_lines (" +
                                  std::to_string(chunk.max_lines) + "), got " + std::to_string(chunk.overlap_lines));
    }
    at_least("index.chunk.window_lines", chunk.window_lines, 4);
    at_least("index.chunk.max_chars", chunk.max_chars, 200);

    const EmbeddingConfig& e = c.embedding;
    one_of("embedding.provider", e.provider, {"builtin", "openai"});
    if (e.dimension != 0 && (e.dimension < 8 || e.dimension > 8192)) {
        problems.emplace_back("embedding.dimension", "must be 0 (the provider's default) or between 8 and 8192, got " +
                                                         std::to_string(e.dimension));
    }
    between("embedding.batch_size", e.batch_size, 1, 2048);
    if (e.base_url.rfind("http://", 0) != 0 && e.base_url.rfind("https://", 0) != 0) {
        problems.emplace_back("embedding.base_url", "must be an http:// or https:// URL, got " + Quote(e.base_url));
    }
    if (!e.api_key_env.empty() && !IsVariableName(e.api_key_env)) {
        problems.emplace_back("embedding.api_key_env",
                              "must be empty or an environment variable name (letters, digits and '_', not starting "
                              "with a digit), got " +
                                  Quote(e.api_key_env));
    }
    if (!(e.timeout_seconds > 0) || !std::isfinite(e.timeout_seconds)) {
        problems.emplace_back("embedding.timeout_seconds",
                              "must be a finite number greater than 0, got " + std::to_string(e.timeout_seconds));
    }
    between("embedding.max_retries", e.max_retries, 0, 20);

    one_of("search.mode", c.search.mode, {"hybrid", "vector", "lexical"});
    between("search.k", c.search.k, 1, 1000);
    at_least("search.rrf_k", c.search.rrf_k, 1);
    between("search.ef_search", c.search.ef_search, 1, 1000);  // pgvector's hnsw.ef_search range

    if (Trim(c.server.host).empty()) problems.emplace_back("server.host", "must not be empty");
    between("server.port", c.server.port, 0, 65535);

    const MetricsConfig& m = c.monitoring.metrics;
    if (Trim(m.host).empty()) problems.emplace_back("monitoring.metrics.host", "must not be empty");
    between("monitoring.metrics.port", m.port, 0, 65535);
    if (m.path.empty() || m.path[0] != '/' || m.path.find_first_of("?# \t") != std::string::npos) {
        problems.emplace_back("monitoring.metrics.path", "must start with '/' and hold no '?', '#' or spaces, got '" +
                                                             m.path + "'");
    }
    if (m.enabled && m.port != 0 && m.port == c.server.port) {
        problems.emplace_back("monitoring.metrics.port",
                              "must differ from server.port (" + std::to_string(c.server.port) +
                                  "): metrics have their own listener");
    }
    for (std::size_t i = 0; i < c.server.allowed_origins.size(); ++i) {
        const std::string& origin = c.server.allowed_origins[i];
        if (origin != "*" && origin.rfind("http://", 0) != 0 && origin.rfind("https://", 0) != 0) {
            problems.emplace_back("server.allowed_origins[" + std::to_string(i) + "]",
                                  "must be \"*\" or an origin such as https://app.example.com, got " + Quote(origin));
        }
    }
    // A Redis URL and its TLS files (section: security.rate_limiting or
    // performance.caching): the URL is required when the backend is redis; the
    // full syntax is checked, and the files loaded, where the connection is
    // made (net/redis_client.hpp).
    auto redis_url = [&problems](const std::string& section, const std::string& url, const std::string& ca_file,
                                 const std::string& cert_file, const std::string& key_file) {
        const std::string path = section + ".redis_url";
        const std::string scheme = Lower(url.substr(0, std::min(url.find("://"), url.size())));
        if (url.empty()) {
            problems.emplace_back(path, "is required when " + section +
                                            ".backend is redis (redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB])");
        } else if (url.find("://") == std::string::npos || (scheme != "redis" && scheme != "rediss")) {
            problems.emplace_back(path, "must be a redis:// or rediss:// (TLS) URL "
                                        "(redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB]), got a value starting " +
                                            Quote(url.substr(0, std::min<std::size_t>(url.find(':'), 16))));
        } else if (scheme == "redis") {
            // TLS files with a plaintext URL would be ignored while the operator believes the link encrypted.
            for (const auto& [key, value] : {std::pair<std::string, const std::string&>{"redis_tls_ca_file", ca_file},
                                             {"redis_tls_cert_file", cert_file},
                                             {"redis_tls_key_file", key_file}}) {
                if (!value.empty()) {
                    problems.emplace_back(section + "." + key, "is set but " + path +
                                                                   " is a plaintext redis:// URL: use rediss:// for "
                                                                   "TLS, or remove " + key);
                }
            }
        }
        if (cert_file.empty() != key_file.empty()) {
            problems.emplace_back(section + (cert_file.empty() ? ".redis_tls_cert_file" : ".redis_tls_key_file"),
                                  "is required with " + section +
                                      (cert_file.empty() ? ".redis_tls_key_file" : ".redis_tls_cert_file") +
                                      " (a client certificate needs its private key and the other way round)");
        }
    };
    auto positive_seconds = [&problems](const std::string& path, double value, double max) {
        if (!(value > 0) || !(value <= max)) {
            problems.emplace_back(path, "must be a number of seconds greater than 0 and at most " +
                                            std::to_string(static_cast<std::int64_t>(max)) + ", got " +
                                            std::to_string(value));
        }
    };
    positive_seconds("database.pool_timeout", c.database.pool_timeout, 3600);
    positive_seconds("database.max_replica_lag", c.database.max_replica_lag, 86400);
    positive_seconds("database.replica_check_interval", c.database.replica_check_interval, 3600);
    for (std::size_t i = 0; i < c.database.read_urls.size(); ++i) {
        const std::string& u = c.database.read_urls[i];
        if (c.database.type != "postgresql") {
            problems.emplace_back("database.read_urls", "read replicas need database.type postgresql, got " +
                                                            c.database.type);
            break;
        }
        if (!u.starts_with("postgresql://") && !u.starts_with("postgres://")) {
            problems.emplace_back("database.read_urls[" + std::to_string(i) + "]",
                                  "must be a postgresql:// URL (a libpq URL of a hot standby)");
        }
    }
    positive_seconds("server.session_timeout", c.server.session_timeout, 30 * 24 * 3600);
    positive_seconds("server.shutdown_timeout", c.server.shutdown_timeout, 3600);

    const TlsConfig& tls = c.security.tls;
    if (tls.enabled && Trim(tls.cert_file).empty()) {
        problems.emplace_back("security.tls.cert_file", "is required when security.tls.enabled is true (a PEM file: "
                                                        "the server certificate, then its intermediates)");
    }
    if (tls.enabled && Trim(tls.key_file).empty()) {
        problems.emplace_back("security.tls.key_file",
                              "is required when security.tls.enabled is true (the PEM private key of cert_file)");
    }
    one_of("security.tls.client_auth", tls.client_auth, {"none", "optional", "require"});
    if (tls.client_auth != "none" && Trim(tls.client_ca_file).empty()) {
        problems.emplace_back("security.tls.client_ca_file", "is required when security.tls.client_auth is " +
                                                                 Quote(tls.client_auth) +
                                                                 " (the PEM CA certificates client certificates "
                                                                 "must chain to)");
    }
    one_of("security.tls.min_version", tls.min_version, {"1.2", "1.3"});
    between("security.tls.hsts_max_age", tls.hsts_max_age, 0, 10LL * 365 * 24 * 3600);
    if (!(tls.reload_interval >= 0) || !(tls.reload_interval <= 86400)) {
        problems.emplace_back("security.tls.reload_interval",
                              "must be a number of seconds from 0 (no checks) to 86400, got " +
                                  std::to_string(tls.reload_interval));
    }

    between("performance.workers", c.performance.workers, 1, 1024);
    between("performance.max_connections", c.performance.max_connections, 1, 1000000);
    positive_seconds("performance.request_timeout", c.performance.request_timeout, 3600);
    between("performance.max_request_size", c.performance.max_request_size.bytes, 1024, 1LL << 30);
    at_least("performance.caching.max_memory", c.performance.caching.max_memory.bytes, 0);

    const ApiKeysConfig& keys = c.security.api_keys;
    one_of("security.api_keys.storage", keys.storage, {"file", "database", "vault"});
    auto variable_name = [&problems](const std::string& path, const std::string& value, bool may_be_empty) {
        if ((value.empty() && may_be_empty) || IsVariableName(value)) return;
        problems.emplace_back(path, std::string("must be ") + (may_be_empty ? "empty or " : "") +
                                        "an environment variable name (letters, digits and '_', not starting with a "
                                        "digit), got " + Quote(value));
    };
    variable_name("security.api_keys.pepper_env", keys.pepper_env, true);
    if (keys.pepper_env.empty() && keys.pepper_file.empty()) {
        problems.emplace_back("security.api_keys.pepper_file",
                              "is required when security.api_keys.pepper_env is empty (the keys' hashing pepper)");
    }
    if (!(keys.rotation_grace >= 0) || !(keys.rotation_grace <= 90.0 * 86400)) {
        problems.emplace_back("security.api_keys.rotation_grace",
                              "must be a number of seconds from 0 to 7776000 (90 days), got " +
                                  std::to_string(keys.rotation_grace));
    }
    if (keys.storage == "database" && keys.database_url.empty() && c.database.type != "postgresql") {
        problems.emplace_back("security.api_keys.database_url",
                              "is required when security.api_keys.storage is database and database.type is not "
                              "postgresql (postgresql://USER@HOST:5432/DATABASE)");
    }
    if (!keys.database_url.empty() && keys.database_url.rfind("postgresql://", 0) != 0 &&
        keys.database_url.rfind("postgres://", 0) != 0) {
        problems.emplace_back("security.api_keys.database_url", "must be a postgresql:// URL");
    }
    if (keys.storage == "vault") {
        if (keys.vault_url.rfind("https://", 0) != 0 && keys.vault_url.rfind("http://", 0) != 0) {
            problems.emplace_back("security.api_keys.vault_url",
                                  "is required when security.api_keys.storage is vault: an https:// URL such as "
                                  "https://vault.internal:8200, got " + Quote(keys.vault_url));
        }
        if (keys.vault_mount.empty()) problems.emplace_back("security.api_keys.vault_mount", "must not be empty");
        if (keys.vault_path.empty()) problems.emplace_back("security.api_keys.vault_path", "must not be empty");
        one_of("security.api_keys.vault_auth", keys.vault_auth, {"token", "kubernetes"});
        if (keys.vault_auth == "token") variable_name("security.api_keys.vault_token_env", keys.vault_token_env, false);
        if (keys.vault_auth == "kubernetes") {
            if (keys.vault_role.empty())
                problems.emplace_back("security.api_keys.vault_role", "is required when vault_auth is kubernetes");
            if (keys.vault_jwt_file.empty())
                problems.emplace_back("security.api_keys.vault_jwt_file", "is required when vault_auth is kubernetes");
        }
        positive_seconds("security.api_keys.cache_ttl", keys.cache_ttl, 3600);
    }
    if (Trim(c.security.audit_log).empty()) {
        problems.emplace_back("security.audit_log", "must be \"-\" (standard error) or a file path");
    }
    one_of("performance.caching.backend", c.performance.caching.backend, {"memory", "redis"});
    if (c.performance.caching.backend == "redis") {
        const CachingConfig& cc = c.performance.caching;
        redis_url("performance.caching", cc.redis_url, cc.redis_tls_ca_file, cc.redis_tls_cert_file,
                  cc.redis_tls_key_file);
    }
    positive_seconds("performance.caching.ttl", c.performance.caching.ttl, 30 * 24 * 3600);

    // ---- security.rate_limiting ----
    const RateLimitingConfig& rl = c.security.rate_limiting;
    one_of("security.rate_limiting.backend", rl.backend, {"memory", "redis"});
    one_of("security.rate_limiting.fail_mode", rl.fail_mode, {"open", "closed"});
    if (rl.backend == "redis") {
        redis_url("security.rate_limiting", rl.redis_url, rl.redis_tls_ca_file, rl.redis_tls_cert_file,
                  rl.redis_tls_key_file);
    }
    for (const auto& [scope, limit] : {std::pair<const char*, const RateLimitScope&>{"search", rl.limits.search},
                                       {"index", rl.limits.index},
                                       {"admin", rl.limits.admin},
                                       {"anonymous", rl.limits.anonymous}}) {
        const std::string prefix = std::string("security.rate_limiting.limits.") + scope;
        if (!(limit.requests_per_second >= 0.001 && limit.requests_per_second <= 1e6)) {
            problems.emplace_back(prefix + ".requests_per_second",
                                  "must be a number between 0.001 and 1000000, got " +
                                      std::to_string(limit.requests_per_second));
        }
        between(prefix + ".burst", limit.burst, 1, 1000000);
    }
    // ---- end of security.rate_limiting ----

    // ---- monitoring.logging ----
    const LoggingConfig& logging = c.monitoring.logging;
    if (const std::string level = Lower(logging.level);
        level != "debug" && level != "info" && level != "warn" && level != "warning" && level != "error") {
        problems.emplace_back("monitoring.logging.level",
                              "must be one of debug, info, warn, error, got " + Quote(logging.level));
    }
    if (const std::string format = Lower(logging.format); format != "json" && format != "text") {
        problems.emplace_back("monitoring.logging.format", "must be one of json, text, got " + Quote(logging.format));
    }
    if (Trim(logging.output).empty()) {
        problems.emplace_back("monitoring.logging.output", "must be stdout, stderr or a file path");
    }
    // ---- end of monitoring.logging ----

    // ---- monitoring.tracing ----
    const TracingConfig& tracing = c.monitoring.tracing;
    if (tracing.enabled) {
        const std::string& url = tracing.jaeger_endpoint;
        if (Trim(url).empty()) {
            problems.emplace_back("monitoring.tracing.jaeger_endpoint",
                                  "is required when tracing is enabled (the collector's OTLP/HTTP endpoint, "
                                  "e.g. http://jaeger:4318)");
        } else if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
            problems.emplace_back("monitoring.tracing.jaeger_endpoint",
                                  "must be an http:// or https:// URL (OTLP/HTTP, port 4318), got a value starting " +
                                      Quote(url.substr(0, std::min<std::size_t>(url.find(':'), 16))));
        }
    }
    if (Trim(tracing.service_name).empty())
        problems.emplace_back("monitoring.tracing.service_name", "must not be empty");
    if (!(tracing.sample_ratio >= 0 && tracing.sample_ratio <= 1)) {
        problems.emplace_back("monitoring.tracing.sample_ratio",
                              "must be between 0 and 1, got " + std::to_string(tracing.sample_ratio));
    }
    between("monitoring.tracing.max_queue_spans", tracing.max_queue_spans, 1, 1000000);
    between("monitoring.tracing.max_batch_spans", tracing.max_batch_spans, 1, std::max(1, tracing.max_queue_spans));
    positive_seconds("monitoring.tracing.export_interval", tracing.export_interval, 3600);
    positive_seconds("monitoring.tracing.export_timeout", tracing.export_timeout, 300);
    // ---- end of monitoring.tracing ----
    return problems;
}

std::string JoinProblems(const Problems& problems, const Origins* origins) {
    std::string message;
    for (const auto& [path, text] : problems) {
        if (!message.empty()) message += "; ";
        if (origins) {
            if (auto it = origins->find(path); it != origins->end()) message += it->second + ": ";
        }
        message += path + ": " + text;
    }
    return message;
}

// ---------------------------------------------------------------------------
// Files.

Result<std::string> ReadConfigFile(const std::string& path, const std::string& described) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        const std::string reason = std::error_code(err, std::generic_category()).message();
        if (err == ENOENT || err == ENOTDIR) return NotFound("config file " + described + " not found");
        if (err == EACCES || err == EPERM) {
            return PermissionDenied("config file " + described + " is not readable: " + reason);
        }
        return InvalidArgument("config file " + described + " cannot be opened: " + reason);
    }
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        ::close(fd);
        return InvalidArgument("config file " + described + " is a directory");
    }
    std::string content;
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof(buffer));
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd);
            return InvalidArgument("config file " + described +
                                   " cannot be read: " + std::error_code(err, std::generic_category()).message());
        }
        if (n == 0) break;
        content.append(buffer, static_cast<std::size_t>(n));
        if (content.size() > kMaxFileBytes) {
            ::close(fd);
            return InvalidArgument("config file " + described + " is larger than " +
                                   std::to_string(kMaxFileBytes / (1024 * 1024)) + " MiB; is it a configuration file?");
        }
    }
    ::close(fd);
    return content;
}

}  // namespace

EnvLookup ProcessEnv() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

EnvNames ProcessEnvNames() {
    return [] {
        std::vector<std::string> names;
        for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
            std::string_view text(*entry);
            names.emplace_back(text.substr(0, text.find('=')));
        }
        return names;
    };
}

std::vector<std::string> KeyPaths() {
    std::vector<std::string> paths;
    for (const Field& field : Fields()) paths.emplace_back(field.path);
    return paths;
}

std::string OverrideVariable(const std::string& key_path) {
    std::string name(kOverridePrefix);
    for (char c : key_path) {
        if (c == '.') {
            name += "__";
        } else {
            name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
    }
    return name;
}

Result<Config> ParseConfig(const std::string& yaml_text, const std::string& source_name, const EnvLookup& env) {
    Origins origins;
    SH_ASSIGN_OR_RETURN(Config config, ParseWithOrigins(yaml_text, source_name, env, origins));
    ApplyImpliedDefaults(config, origins);
    return config;
}

Result<Config> LoadConfig(const std::optional<std::string>& path, const EnvLookup& env, const EnvNames& env_names) {
    std::optional<std::string> file;
    std::string described;
    if (path) {
        if (path->empty()) return InvalidArgument("the config file path is empty");
        file = *path;
        described = "'" + *path + "'";
    } else if (env) {
        std::optional<std::string> from_env = env(std::string(kConfigVariable));
        if (from_env && !from_env->empty()) {
            file = *from_env;
            described = "'" + *from_env + "' (from " + std::string(kConfigVariable) + ")";
        }
    }

    Origins origins;
    Config config;
    config.source = "defaults";
    if (file) {
        SH_ASSIGN_OR_RETURN(std::string text, ReadConfigFile(*file, described));
        SH_ASSIGN_OR_RETURN(config, ParseWithOrigins(text, *file, env, origins));
    }
    if (env_names) SH_RETURN_IF_ERROR(CheckOverrideNames(env_names()));
    SH_RETURN_IF_ERROR(ApplyOverrides(config, env, origins));
    ApplyImpliedDefaults(config, origins);
    if (Problems problems = FindProblems(config); !problems.empty()) {
        return InvalidArgument(JoinProblems(problems, &origins));
    }
    return config;
}

Status Validate(const Config& config) {
    Problems problems = FindProblems(config);
    if (problems.empty()) return Status::Ok();
    return InvalidArgument(JoinProblems(problems, nullptr));
}

}  // namespace signalhub::config
