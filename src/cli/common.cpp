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

fs::path StoreDirForRoot(const GlobalOptions& global, const config::Config& config, const fs::path& root) {
    if (global.store) return fs::path(*global.store);
    fs::path p(config.store.path);
    return p.is_absolute() ? p : root / p;
}

Result<fs::path> FindStoreDir(const GlobalOptions& global, const config::Config& config) {
    if (global.store) {
        fs::path p(*global.store);
        std::error_code ec;
        if (!fs::is_directory(p, ec))
            return NotFound("no Signal Hub store at " + p.string() + "; run `signal-hub index` first");
        return p;
    }
    fs::path configured(config.store.path);
    std::error_code ec;
    if (configured.is_absolute()) {
        if (!fs::is_directory(configured, ec))
            return NotFound("no Signal Hub store at " + configured.string() + " (store.path); run `signal-hub index`");
        return configured;
    }
    fs::path dir = fs::current_path(ec);
    if (ec) return Internal("cannot determine the working directory: " + ec.message());
    const fs::path start = dir;
    while (true) {
        fs::path candidate = dir / configured;
        if (fs::is_directory(candidate, ec)) return candidate;
        if (!dir.has_parent_path() || dir.parent_path() == dir) break;
        dir = dir.parent_path();
    }
    return NotFound("no Signal Hub index (" + configured.string() + ") in " + start.string() +
                    " or its parents; run `signal-hub index [PATH]` first, or pass --store DIR");
}

Result<ReadableStore> OpenStoreForReading(const GlobalOptions& global, const config::Config& config) {
    SH_ASSIGN_OR_RETURN(fs::path dir, FindStoreDir(global, config));
    SH_ASSIGN_OR_RETURN(auto store, store::OpenStore(dir.string(), store::OpenOptions{.read_only = true}));
    return ReadableStore{std::move(dir), std::move(store)};
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
