#include "cli/collection_view.hpp"

#include <filesystem>

#include "core/clock.hpp"

namespace signalhub::cli {
namespace fs = std::filesystem;

Result<std::optional<index::TreeChanges>> ChangesSince(store::VectorStore& store, const CollectionInfo& c,
                                                       const config::IndexConfig& config,
                                                       const std::optional<fs::path>& store_dir) {
    const std::string root = CollectionRoot(c);
    std::error_code ec;
    if (root.empty() || !fs::is_directory(root, ec)) return std::optional<index::TreeChanges>();
    index::IndexOptions options;
    options.root = root;
    options.collection = c.spec.name;
    options.store_dir = store_dir.value_or(fs::path());
    options.config = config;
    SH_ASSIGN_OR_RETURN(index::TreeChanges changes, index::CompareTree(store, options));
    return std::optional<index::TreeChanges>(changes);
}

nlohmann::json CollectionJson(const CollectionInfo& c) {
    using nlohmann::json;
    const std::string root = CollectionRoot(c);
    const std::optional<std::int64_t> imported = ImportedAtUnix(c);
    return json{{"name", c.spec.name},
                {"root", root.empty() ? json(nullptr) : json(root)},
                {"records", c.records},
                {"files", c.files},
                {"model", c.spec.model},
                {"dimension", c.spec.dimension},
                {"metric", DistanceMetricName(c.spec.metric)},
                {"bytes", c.bytes},
                {"last_indexed", c.last_indexed_unix ? json(FormatIso8601Utc(*c.last_indexed_unix)) : json(nullptr)},
                {"imported_at", imported ? json(FormatIso8601Utc(*imported)) : json(nullptr)},
                {"incomplete", IndexIncomplete(c)}};
}

}  // namespace signalhub::cli
