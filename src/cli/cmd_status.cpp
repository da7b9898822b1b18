#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/collection_view.hpp"
#include "cli/commands.hpp"
#include "core/clock.hpp"

namespace signalhub::cli {

namespace {

nlohmann::json ChangesJson(const std::optional<index::TreeChanges>& changes) {
    if (!changes) return nullptr;
    return {{"files_changed", changes->files_new + changes->files_modified + changes->files_deleted},
            {"new", changes->files_new},
            {"modified", changes->files_modified},
            {"deleted", changes->files_deleted}};
}

std::string ChangesText(const CollectionInfo& c, const std::optional<index::TreeChanges>& changes) {
    if (!changes) {
        return CollectionRoot(c).empty() ? "unknown (no tree root recorded; run `signal-hub index PATH` once)"
                                         : "unknown (the root is not a directory on this machine)";
    }
    if (changes->up_to_date()) return "none since the last index run";
    const long long total = changes->files_new + changes->files_modified + changes->files_deleted;
    char line[200];
    std::snprintf(line, sizeof line, "%lld files changed since (%lld new, %lld modified, %lld deleted); run `signal-hub index`",
                  total, static_cast<long long>(changes->files_new), static_cast<long long>(changes->files_modified),
                  static_cast<long long>(changes->files_deleted));
    return line;
}

Status RunStatus(const GlobalOptions& global, bool json) {
    SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
    SH_ASSIGN_OR_RETURN(ReadableStore readable, OpenStoreForReading(global, cfg));
    SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> collections, readable.store->ListCollections());
    std::vector<std::optional<index::TreeChanges>> changes;
    for (const auto& c : collections) {
        SH_ASSIGN_OR_RETURN(auto changed, ChangesSince(*readable.store, c, cfg.index, readable.location.dir));
        changes.push_back(changed);
    }
    if (json) {
        nlohmann::json list = nlohmann::json::array();
        for (size_t i = 0; i < collections.size(); ++i) {
            nlohmann::json item = CollectionJson(collections[i]);
            item["changes"] = ChangesJson(changes[i]);
            list.push_back(std::move(item));
        }
        std::printf("%s\n", nlohmann::json{{"store", readable.location.display}, {"collections", list}}.dump().c_str());
        return Status::Ok();
    }
    std::printf("store: %s\n", readable.location.display.c_str());
    if (collections.empty()) std::printf("no collections; run `signal-hub index`\n");
    for (size_t i = 0; i < collections.size(); ++i) {
        const CollectionInfo& c = collections[i];
        const std::string root = CollectionRoot(c);
        std::printf("\n%s\n  root:         %s\n  records:      %lld\n  files:        %lld\n"
                    "  model:        %s (%d dimensions, %s)\n  size:         %s\n  last indexed: %s\n",
                    c.spec.name.c_str(), root.empty() ? "unknown (not recorded)" : root.c_str(),
                    static_cast<long long>(c.records), static_cast<long long>(c.files), c.spec.model.c_str(),
                    c.spec.dimension, std::string(DistanceMetricName(c.spec.metric)).c_str(),
                    FormatBytes(static_cast<double>(c.bytes)).c_str(), LastWrittenText(c).c_str());
        if (IndexIncomplete(c)) {
            std::printf("  incomplete:   an index run was interrupted (or is running now); run `signal-hub index` to "
                        "finish\n");
        }
        std::printf("  changes:      %s\n", ChangesText(c, changes[i]).c_str());
    }
    return Status::Ok();
}

}  // namespace

void AddStatusCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("status", "Show the store's collections: tree root, records, files, model, size, "
                                             "age, an interrupted run, files changed since");
    cmd->add_flag("--json", *json,
                  "Print JSON: {\"store\", \"collections\": [{name, root, records, files, model, dimension, metric, "
                  "bytes, last_indexed, imported_at, incomplete, changes}]} (docs/cli.md)");
    cmd->callback([&global, &exit_code, json] { exit_code = Finish(RunStatus(global, *json)); });
}

}  // namespace signalhub::cli
