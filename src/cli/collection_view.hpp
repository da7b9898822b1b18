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

// CollectionRoot, ImportedAtUnix, IndexIncomplete and LastWrittenText: core/record.hpp.

// Files changed in the collection's tree since its last index run: nullopt
// when the root is unknown or not a directory on this machine.
Result<std::optional<index::TreeChanges>> ChangesSince(store::VectorStore& store, const CollectionInfo& c,
                                                       const config::IndexConfig& config,
                                                       const std::optional<std::filesystem::path>& store_dir);

// The JSON object of one collection: name, root, records, files, model,
// dimension, metric, bytes, last_indexed, imported_at, incomplete.
nlohmann::json CollectionJson(const CollectionInfo& c);

}  // namespace signalhub::cli
