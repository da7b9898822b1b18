#pragma once
// Signal Hub configuration: plain structs, filled from defaults, an optional
// YAML file (with ${VAR} / ${VAR:-default} interpolation) and SIGNAL_HUB_*
// environment overrides, then validated. Every key here does something; the
// reference is docs/configuration.md.

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
};

struct ChunkConfig {
    int max_lines = 120;       // a definition longer than this is split at line boundaries
    int overlap_lines = 10;    // lines shared by consecutive pieces of a split definition
    int window_lines = 60;     // window size for files without a grammar
    std::int64_t max_chars = 6000;  // a piece longer than this is split further
};

struct IndexConfig {
    std::string collection;                     // empty: the indexed directory's name
    std::int64_t max_file_bytes = 1024 * 1024;  // larger files are skipped
    bool default_excludes = true;               // skip node_modules/, vendor/, build/, dist/, ...
    std::vector<std::string> exclude;           // extra gitignore-style patterns
    bool follow_symlinks = false;
    int batch_size = 256;                       // chunks committed to the store per transaction
    ChunkConfig chunk;
};

struct EmbeddingConfig {
    std::string provider = "builtin";           // builtin | openai
    std::string model;                          // empty: provider default
    int dimension = 0;                          // 0: provider default
    int batch_size = 64;                        // texts per embedding request
    std::string base_url = "https://api.openai.com/v1";  // openai: up to and including /v1
    std::string api_key_env = "OPENAI_API_KEY";  // openai: env var holding the key ("" = no auth)
    double timeout_seconds = 30;                // openai: per request
    int max_retries = 5;                        // openai: on 429 / 5xx / network errors
};

struct SearchConfig {
    std::string mode = "hybrid";  // hybrid | vector | lexical
    int k = 10;
    int rrf_k = 60;        // reciprocal-rank-fusion constant
    int ef_search = 128;   // HNSW breadth at query time
};

struct Config {
    StoreConfig store;
    IndexConfig index;
    EmbeddingConfig embedding;
    SearchConfig search;
    std::string source;  // where it came from: "defaults", or the file path
};

// Reads an environment variable; injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

// Parses YAML text. `source_name` is used in error messages ("file.yaml:12:3").
// Errors are InvalidArgument naming the key path and line, e.g.
//   "config.yaml:4:3: unknown key 'embedding.modle' (did you mean 'model'?)".
Result<Config> ParseConfig(const std::string& yaml_text, const std::string& source_name, const EnvLookup& env);

// Loads the configuration: `path` if given, else $SIGNAL_HUB_CONFIG if set,
// else defaults only. Then applies SIGNAL_HUB_<SECTION>__<KEY> overrides
// (e.g. SIGNAL_HUB_EMBEDDING__PROVIDER=openai) and validates.
Result<Config> LoadConfig(const std::optional<std::string>& path, const EnvLookup& env);

// Range and consistency checks on a filled Config.
Status Validate(const Config& config);

}  // namespace signalhub::config
