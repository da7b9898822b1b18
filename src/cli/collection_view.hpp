#pragma once
// How `status` and `collections list` describe a collection: its tree root,
// when it was last written (indexed or imported), whether an index run was
// interrupted, and what changed in the tree since.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "core/record.hpp"
#include "index/pipeline.hpp"
#include "store/vector_store.hpp"

namespace signalhub::cli {

// The tree root recorded by the last index run; "" for collections written by
// older builds or only imported.
std::string CollectionRoot(const CollectionInfo& c);
// "2026-01-02T03:04:05Z", "imported 2026-01-02T03:04:05Z" (migrate import wrote
// it after the last index run, or no run has) or "never".
std::string LastWrittenText(const CollectionInfo& c);
std::optional<std::int64_t> ImportedAtUnix(const CollectionInfo& c);
// An index run started and did not finish (interrupted, or running now).
bool IndexIncomplete(const CollectionInfo& c);

// Files changed in the collection's tree since its last index run: nullopt
// when the root is unknown or not a directory on this machine.
Result<std::optional<index::TreeChanges>> ChangesSince(store::VectorStore& store, const CollectionInfo& c,
                                                       const config::IndexConfig& config,
                                                       const std::optional<std::filesystem::path>& store_dir);

// The JSON object of one collection: name, root, records, files, model,
// dimension, metric, bytes, last_indexed, imported_at, incomplete.
nlohmann::json CollectionJson(const CollectionInfo& c);

}  // namespace signalhub::cli
