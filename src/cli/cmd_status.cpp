#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/clock.hpp"
#include "search/json.hpp"

namespace signalhub::cli {

namespace {

Status RunStatus(const GlobalOptions& global, bool json) {
    SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
    SH_ASSIGN_OR_RETURN(ReadableStore readable, OpenStoreForReading(global, cfg));
    SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> collections, readable.store->ListCollections());
    if (json) {
        nlohmann::json list = search::CollectionsToJson(collections);
        std::printf("%s\n", nlohmann::json{{"store", readable.location.display}, {"collections", list}}.dump().c_str());
        return Status::Ok();
    }
    std::printf("store: %s\n", readable.location.display.c_str());
    if (collections.empty()) std::printf("no collections; run `signal-hub index`\n");
    for (const auto& c : collections) {
        std::printf("\n%s\n  records:      %lld\n  model:        %s (%d dimensions, %s)\n  size:         %s\n"
                    "  last indexed: %s\n",
                    c.spec.name.c_str(), static_cast<long long>(c.records), c.spec.model.c_str(), c.spec.dimension,
                    std::string(DistanceMetricName(c.spec.metric)).c_str(),
                    FormatBytes(static_cast<double>(c.bytes)).c_str(),
                    c.last_indexed_unix ? FormatIso8601Utc(*c.last_indexed_unix).c_str() : "never");
    }
    return Status::Ok();
}

}  // namespace

void AddStatusCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("status", "Show the store's collections: records, model, dimension, size, age");
    cmd->add_flag("--json", *json,
                  "Print JSON: {\"collections\": [{name, records, model, dimension, metric, bytes, last_indexed}]}");
    cmd->callback([&global, &exit_code, json] { exit_code = Finish(RunStatus(global, *json)); });
}

}  // namespace signalhub::cli
