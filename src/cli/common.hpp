#pragma once
// Pieces shared by the subcommands: configuration, store location, output.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "core/status.hpp"
#include "store/vector_store.hpp"

namespace signalhub::cli {

struct GlobalOptions {
    std::optional<std::string> config_path;  // --config
    std::optional<std::string> store;        // --store
    bool quiet = false;                      // --quiet
    bool no_color = false;                   // --no-color
};

// Loads the configuration (see config::LoadConfig) with process env.
Result<config::Config> LoadConfiguration(const GlobalOptions& global);

// The store directory for indexing `root`: --store, else store.path (relative
// paths resolved against root).
std::filesystem::path StoreDirForRoot(const GlobalOptions& global, const config::Config& config,
                                      const std::filesystem::path& root);

// The store directory for reading: --store, else an absolute store.path, else
// the nearest directory named store.path in the working directory or one of
// its parents (like git finds .git). NotFound with a hint when there is none.
Result<std::filesystem::path> FindStoreDir(const GlobalOptions& global, const config::Config& config);

// Finds the store for reading (FindStoreDir) and opens it read-only.
struct ReadableStore {
    std::filesystem::path dir;
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
