#include "cli/common.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

namespace signalhub::cli {
namespace fs = std::filesystem;

Result<config::Config> LoadConfiguration(const GlobalOptions& global) {
    return config::LoadConfig(global.config_path, config::ProcessEnv(), config::ProcessEnvNames());
}

namespace {

// True for a store URL that names a database rather than a directory.
bool IsDatabaseUrl(std::string_view s) {
    const size_t sep = s.find("://");
    return sep != std::string_view::npos && s.substr(0, sep) != "sqlite";
}

StoreLocation DirectoryLocation(const fs::path& dir) { return StoreLocation{dir.string(), dir, dir.string()}; }

StoreLocation UrlLocation(const std::string& url) { return StoreLocation{url, std::nullopt, DisplayUrl(url)}; }

// --store as given: a URL, sqlite://PATH or a directory.
StoreLocation GivenStore(const std::string& store) {
    if (IsDatabaseUrl(store)) return UrlLocation(store);
    const std::string_view prefix = "sqlite://";
    return DirectoryLocation(fs::path(store.rfind(prefix, 0) == 0 ? store.substr(prefix.size()) : store));
}

}  // namespace

Result<telemetry::LogOptions> LogOptionsFor(const config::Config& config, const GlobalOptions& global) {
    const config::LoggingConfig& logging = config.monitoring.logging;
    const std::optional<telemetry::LogLevel> level = telemetry::ParseLogLevel(logging.level);
    if (!level) return InvalidArgument("monitoring.logging.level: unknown level '" + logging.level + "'");
    const std::optional<telemetry::LogFormat> format = telemetry::ParseLogFormat(logging.format);
    if (!format) return InvalidArgument("monitoring.logging.format: unknown format '" + logging.format + "'");
    telemetry::LogOptions options;
    options.level = global.quiet && *level < telemetry::LogLevel::kWarn ? telemetry::LogLevel::kWarn : *level;
    options.format = *format;
    options.output = logging.output;
    return options;
}

std::string DisplayUrl(const std::string& url) {
    static constexpr std::string_view kInternal[] = {"pool_size",  "max_overflow",    "pool_timeout",
                                                     "hnsw_m",     "hnsw_ef_construction", "read_url",
                                                     "max_replica_lag", "replica_check_interval"};
    const size_t query = url.find('?');
    std::string out = url.substr(0, query);
    if (query != std::string::npos) {
        std::string kept;
        std::string_view rest = std::string_view(url).substr(query + 1);
        while (!rest.empty()) {
            const size_t amp = rest.find('&');
            const std::string_view param = rest.substr(0, amp);
            rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
            const std::string_view key = param.substr(0, param.find('='));
            bool internal = false;
            for (std::string_view k : kInternal) internal = internal || key == k;
            if (internal || param.empty()) continue;
            kept += (kept.empty() ? "" : "&") + std::string(param);
        }
        if (!kept.empty()) out += "?" + kept;
    }
    return RedactUrl(out);
}

std::string DatabaseUrl(const config::DatabaseConfig& database) {
    std::string url = database.url;
    if (database.type == "chromadb") return url.starts_with("chroma+") ? url : "chroma+" + url;
    const size_t query = url.find('?');
    auto has = [&](const std::string& key) {
        if (query == std::string::npos) return false;
        const std::string q = "&" + url.substr(query + 1);
        return q.find("&" + key + "=") != std::string::npos;
    };
    auto add = [&](const std::string& key, const std::string& value) {
        if (has(key)) return;
        url += (url.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
    };
    add("pool_size", std::to_string(database.pool_size));
    add("max_overflow", std::to_string(database.max_overflow));
    char timeout[32];
    std::snprintf(timeout, sizeof timeout, "%g", database.pool_timeout);
    add("pool_timeout", timeout);
    add("hnsw_m", std::to_string(database.hnsw_m));
    add("hnsw_ef_construction", std::to_string(database.hnsw_ef_construction));
    return url;
}

StoreLocation StoreForRoot(const GlobalOptions& global, const config::Config& config, const fs::path& root) {
    if (global.store) return GivenStore(*global.store);
    if (config.database.type != "embedded") return UrlLocation(DatabaseUrl(config.database));
    fs::path p(config.store.path);
    return DirectoryLocation(p.is_absolute() ? p : root / p);
}

Result<StoreLocation> FindStore(const GlobalOptions& global, const config::Config& config) {
    std::error_code ec;
    fs::path cwd = fs::current_path(ec);
    if (ec) return Internal("cannot determine the working directory: " + ec.message());
    return FindStoreFrom(global, config, cwd);
}

Result<StoreLocation> FindStoreFrom(const GlobalOptions& global, const config::Config& config,
                                    const fs::path& start_dir) {
    if (global.store) {
        StoreLocation given = GivenStore(*global.store);
        std::error_code ec;
        if (given.dir && !fs::is_directory(*given.dir, ec))
            return NotFound("no Signal Hub store at " + given.dir->string() + "; run `signal-hub index` first");
        return given;
    }
    if (config.database.type != "embedded") return UrlLocation(DatabaseUrl(config.database));
    fs::path configured(config.store.path);
    std::error_code ec;
    if (configured.is_absolute()) {
        if (!fs::is_directory(configured, ec))
            return NotFound("no Signal Hub store at " + configured.string() + " (store.path); run `signal-hub index`");
        return DirectoryLocation(configured);
    }
    fs::path dir = start_dir;
    const fs::path start = dir;
    while (true) {
        fs::path candidate = dir / configured;
        if (fs::is_directory(candidate, ec)) return DirectoryLocation(candidate);
        if (!dir.has_parent_path() || dir.parent_path() == dir) break;
        dir = dir.parent_path();
    }
    return NotFound("no Signal Hub index (" + configured.string() + ") in " + start.string() +
                    " or its parents; run `signal-hub index [PATH]` first, or pass --store DIR");
}

Result<ReadableStore> OpenStoreForReading(const GlobalOptions& global, const config::Config& config) {
    SH_ASSIGN_OR_RETURN(StoreLocation location, FindStore(global, config));
    SH_ASSIGN_OR_RETURN(auto store, store::OpenStore(location.url, store::OpenOptions{.read_only = true}));
    return ReadableStore{std::move(location), std::move(store)};
}

int Fail(const Status& status) {
    std::fprintf(stderr, "signal-hub: error: %s\n", status.message().c_str());
    return ExitCodeFor(status.code());
}

bool UseColor(int fd, const GlobalOptions& global) {
    if (global.no_color) return false;
    const char* no_color = std::getenv("NO_COLOR");
    if (no_color && *no_color) return false;
    return isatty(fd) == 1;
}

std::string FormatBytes(double bytes) {
    const char* units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000 && u < 4) {
        bytes /= 1000;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return buf;
}

std::string FormatDuration(double seconds) {
    char buf[32];
    if (seconds < 60) {
        std::snprintf(buf, sizeof buf, "%.1fs", seconds);
    } else {
        auto s = static_cast<long>(seconds);
        if (s < 3600) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
        else std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
    }
    return buf;
}


}  // namespace signalhub::cli
