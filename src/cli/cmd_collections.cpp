// `signal-hub collections list|delete`: the collections of a store, on every backend.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/collection_view.hpp"
#include "cli/commands.hpp"

namespace signalhub::cli {

namespace {

Status RunList(const GlobalOptions& global, bool json) {
    SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
    SH_ASSIGN_OR_RETURN(ReadableStore readable, OpenStoreForReading(global, cfg));
    SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> collections, readable.store->ListCollections());
    if (json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& c : collections) list.push_back(CollectionJson(c));
        std::printf("%s\n", nlohmann::json{{"store", readable.location.display}, {"collections", list}}.dump().c_str());
        return Status::Ok();
    }
    std::printf("store: %s\n", readable.location.display.c_str());
    if (collections.empty()) {
        std::printf("no collections; run `signal-hub index`\n");
        return Status::Ok();
    }
    std::printf("%-24s %10s %8s  %-28s %s\n", "NAME", "RECORDS", "FILES", "LAST INDEXED", "ROOT");
    for (const auto& c : collections) {
        const std::string root = CollectionRoot(c);
        std::string last = LastWrittenText(c);
        if (IndexIncomplete(c)) last += " (incomplete)";
        std::printf("%-24s %10lld %8lld  %-28s %s\n", c.spec.name.c_str(), static_cast<long long>(c.records),
                    static_cast<long long>(c.files), last.c_str(), root.empty() ? "-" : root.c_str());
    }
    return Status::Ok();
}

Status RunDelete(const GlobalOptions& global, const std::string& name, bool yes) {
    SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
    SH_ASSIGN_OR_RETURN(StoreLocation location, FindStore(global, cfg));
    SH_ASSIGN_OR_RETURN(auto store, store::OpenStore(location.url, store::OpenOptions{}));
    SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> collections, store->ListCollections());
    const CollectionInfo* found = nullptr;
    std::string names;
    for (const auto& c : collections) {
        if (c.spec.name == name) found = &c;
        names += (names.empty() ? "" : ", ") + c.spec.name;
    }
    if (found == nullptr) {
        return NotFound("no collection '" + name + "' in store " + location.display + "; " +
                        (names.empty() ? std::string("it has no collections") : "its collections: " + names));
    }
    const CollectionInfo info = *found;
    if (!yes) {
        return InvalidArgument("deleting collection '" + name + "' removes its " + std::to_string(info.records) +
                               " records and " + std::to_string(info.files) + " file states from " + location.display +
                               "; run again with --yes to confirm");
    }
    SH_RETURN_IF_ERROR(store->DropCollection(name));
    if (!global.quiet) {
        std::printf("deleted collection '%s' from %s: %lld records, %lld files\n", name.c_str(),
                    location.display.c_str(), static_cast<long long>(info.records),
                    static_cast<long long>(info.files));
    }
    return Status::Ok();
}

}  // namespace

void AddCollectionsCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
    auto* cmd = app.add_subcommand("collections", "List or delete the store's collections");
    cmd->require_subcommand(1);

    auto json = std::make_shared<bool>(false);
    auto* list = cmd->add_subcommand("list", "List the collections: name, records, files, last indexed, tree root");
    list->add_flag("--json", *json,
                   "Print JSON: {\"store\", \"collections\": [{name, root, records, files, model, dimension, metric, "
                   "bytes, last_indexed, imported_at, incomplete}]}");
    list->callback([&global, &exit_code, json] { exit_code = Finish(RunList(global, *json)); });

    auto name = std::make_shared<std::string>();
    auto yes = std::make_shared<bool>(false);
    auto* del = cmd->add_subcommand("delete", "Delete a collection: its records, file states and vector index");
    del->add_option("name", *name, "Collection to delete (see `collections list`)")->required();
    del->add_flag("--yes", *yes, "Confirm the deletion (required)");
    del->footer("Exit codes: 2 without --yes, 3 for an unknown collection (the message lists the existing ones).");
    del->callback([&global, &exit_code, name, yes] { exit_code = Finish(RunDelete(global, *name, *yes)); });
}

}  // namespace signalhub::cli
