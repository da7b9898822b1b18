#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"

namespace signalhub::cli {

void AddStatusCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("status", "Show the store's collections: records, model, dimension, size, age");
    cmd->add_flag("--json", *json,
                  "Print JSON: {\"collections\": [{name, records, model, dimension, metric, bytes, last_indexed}]}");
    cmd->callback([&global, &exit_code, json] {
        auto cfg = LoadConfiguration(global);
        if (!cfg.ok()) {
            exit_code = Fail(cfg.status());
            return;
        }
        auto store_dir = FindStoreDir(global, *cfg);
        if (!store_dir.ok()) {
            exit_code = Fail(store_dir.status());
            return;
        }
        auto store = store::OpenStore(store_dir->string(), store::OpenOptions{.read_only = true});
        if (!store.ok()) {
            exit_code = Fail(store.status());
            return;
        }
        auto collections = (*store)->ListCollections();
        if (!collections.ok()) {
            exit_code = Fail(collections.status());
            return;
        }
        if (*json) {
            nlohmann::json list = nlohmann::json::array();
            for (const auto& c : *collections) {
                list.push_back({{"name", c.spec.name},
                                {"records", c.records},
                                {"model", c.spec.model},
                                {"dimension", c.spec.dimension},
                                {"metric", DistanceMetricName(c.spec.metric)},
                                {"bytes", c.bytes},
                                {"last_indexed", c.last_indexed_unix ? nlohmann::json(FormatTimestamp(
                                                                           *c.last_indexed_unix))
                                                                     : nlohmann::json(nullptr)}});
            }
            std::printf("%s\n", nlohmann::json{{"store", store_dir->string()}, {"collections", list}}.dump().c_str());
        } else {
            std::printf("store: %s\n", store_dir->c_str());
            if (collections->empty()) std::printf("no collections; run `signal-hub index`\n");
            for (const auto& c : *collections) {
                std::printf("\n%s\n  records:      %lld\n  model:        %s (%d dimensions, %s)\n  size:         %s\n"
                            "  last indexed: %s\n",
                            c.spec.name.c_str(), static_cast<long long>(c.records), c.spec.model.c_str(),
                            c.spec.dimension, std::string(DistanceMetricName(c.spec.metric)).c_str(),
                            FormatBytes(static_cast<double>(c.bytes)).c_str(),
                            c.last_indexed_unix ? FormatTimestamp(*c.last_indexed_unix).c_str() : "never");
            }
        }
        exit_code = 0;
    });
}

}  // namespace signalhub::cli
