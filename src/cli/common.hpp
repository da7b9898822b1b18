#pragma once
// Pieces shared by the subcommands: configuration, store location, output.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "core/status.hpp"
#include "store/vector_store.hpp"
#include "telemetry/log.hpp"

namespace signalhub::cli {

struct GlobalOptions {
    std::optional<std::string> config_path;  // --config
    std::optional<std::string> store;        // --store
    bool quiet = false;                      // --quiet
    bool no_color = false;                   // --no-color
};

// Loads the configuration (see config::LoadConfig) with process env.
Result<config::Config> LoadConfiguration(const GlobalOptions& global);

// Where a command finds the index: the embedded store (a directory) or a
// database (database.type: postgresql, or a URL given to --store).
struct StoreLocation {
    std::string url;                                // what store::OpenStore opens
    std::optional<std::filesystem::path> dir{};     // the embedded store's directory; nullopt for a database
    std::string display{};                          // for people: the directory, or the URL without its password
};

// "postgresql://hub:***@db:5432/hub": the URL with any password masked.
using telemetry::RedactUrl;

// monitoring.logging as the logger's options; --quiet raises the level to warn.
// InvalidArgument for a level or format the logger does not know.
Result<telemetry::LogOptions> LogOptionsFor(const config::Config& config, const GlobalOptions& global);

// A store URL for people: the password masked, and without the connection-pool
// and HNSW parameters DatabaseUrl adds (pool_size, max_overflow, pool_timeout,
// hnsw_m, hnsw_ef_construction), nor the read replicas' that `serve` adds (read_url,
// max_replica_lag, replica_check_interval).
std::string DisplayUrl(const std::string& url);

// database.url with database.pool_size / max_overflow / pool_timeout added as
// the store's URL parameters (ones the URL already sets are kept).
std::string DatabaseUrl(const config::DatabaseConfig& database);

// The store for indexing `root`: --store (a directory or a URL), else the
// database when database.type is postgresql, else store.path (relative paths
// resolved against root).
StoreLocation StoreForRoot(const GlobalOptions& global, const config::Config& config,
                           const std::filesystem::path& root);

// The store for reading: --store (a directory or a URL), else the database
// when database.type is postgresql, else an absolute store.path, else the
// nearest directory named store.path in the working directory or one of its
// parents (like git finds .git). NotFound with a hint when there is none.
Result<StoreLocation> FindStore(const GlobalOptions& global, const config::Config& config);
// FindStore starting from `start_dir` instead of the working directory.
Result<StoreLocation> FindStoreFrom(const GlobalOptions& global, const config::Config& config,
                                    const std::filesystem::path& start_dir);

// Finds the store for reading (FindStore) and opens it read-only.
struct ReadableStore {
    StoreLocation location;
    std::unique_ptr<store::VectorStore> store;
};
Result<ReadableStore> OpenStoreForReading(const GlobalOptions& global, const config::Config& config);

// Prints "signal-hub: error: <message>" to stderr; returns the exit code.
int Fail(const Status& status);

// Exit code of a command body: 0 for OK, else Fail(status).
inline int Finish(const Status& status) { return status.ok() ? 0 : Fail(status); }

// True when the stream is a terminal and colours are not disabled (--no-color, NO_COLOR).
bool UseColor(int fd, const GlobalOptions& global);

// Human formatting.
std::string FormatBytes(double bytes);
std::string FormatDuration(double seconds);

}  // namespace signalhub::cli
