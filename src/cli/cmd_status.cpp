#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/collection_view.hpp"
#include "cli/commands.hpp"
#include "core/clock.hpp"
#include "index/git_state.hpp"

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

// The git commit the collection was indexed at, and where its root's HEAD is now.
struct GitView {
    std::string commit;  // "" = none recorded
    std::optional<bool> dirty;
    std::optional<index::GitDelta> delta;  // nullopt: the root is not (any more) in a work tree here
};

GitView GitViewOf(const CollectionInfo& c) {
    GitView view;
    auto it = c.properties.find(collection_property::kGitCommit);
    if (it == c.properties.end() || it->second.empty()) return view;
    view.commit = it->second;
    if (auto d = c.properties.find(collection_property::kGitDirty); d != c.properties.end())
        view.dirty = d->second == "true";
    const std::string root = CollectionRoot(c);
    std::error_code ec;
    if (!root.empty() && std::filesystem::is_directory(root, ec)) view.delta = index::CompareWithHead(root, view.commit);
    return view;
}

nlohmann::json GitJson(const GitView& g) {
    using nlohmann::json;
    if (g.commit.empty()) return nullptr;
    auto opt = [](const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); };
    return {{"commit", g.commit},
            {"dirty", g.dirty ? json(*g.dirty) : json(nullptr)},
            {"head", g.delta ? json(g.delta->head) : json(nullptr)},
            {"commit_known", g.delta ? json(g.delta->recorded_known) : json(nullptr)},
            {"commits_behind", g.delta ? opt(g.delta->commits) : json(nullptr)},
            {"files_behind", g.delta ? opt(g.delta->files) : json(nullptr)}};
}

void PrintGit(const GitView& g) {
    if (g.commit.empty()) return;
    std::printf("  git commit:   %s%s\n", g.commit.c_str(),
                !g.dirty ? "" : *g.dirty ? " (the tree had uncommitted changes)" : "");
    if (!g.delta) {
        std::printf("  git HEAD:     unknown (the root is not a git work tree here, or git is not installed)\n");
        return;
    }
    const std::string head = index::ShortCommit(g.delta->head);
    if (g.delta->head == g.commit) {
        std::printf("  git HEAD:     %s, the indexed commit\n", head.c_str());
    } else if (!g.delta->recorded_known) {
        std::printf("  git HEAD:     %s; the indexed commit is not in this repository; run `signal-hub index` to "
                    "catch up\n",
                    head.c_str());
    } else {
        auto count = [](const std::optional<std::int64_t>& n, const char* one, const char* many) {
            if (!n) return std::string("? ") + many;
            return std::to_string(*n) + " " + (*n == 1 ? one : many);
        };
        std::printf("  git HEAD:     %s, %s and %s ahead of the indexed commit; run `signal-hub index`\n",
                    head.c_str(), count(g.delta->commits, "commit", "commits").c_str(),
                    count(g.delta->files, "file", "files").c_str());
    }
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
            item["git"] = GitJson(GitViewOf(collections[i]));
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
        PrintGit(GitViewOf(c));
    }
    return Status::Ok();
}

}  // namespace

void AddStatusCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("status", "Show the store's collections: tree root, records, files, model, size, "
                                             "age, an interrupted run, files changed since, the git commit indexed and how far HEAD "
                                             "moved since");
    cmd->add_flag("--json", *json,
                  "Print JSON: {\"store\", \"collections\": [{name, root, records, files, model, dimension, metric, "
                  "bytes, last_indexed, imported_at, incomplete, changes, git}]}; git: {commit, dirty, head, "
                  "commit_known, commits_behind, files_behind} or null when no commit was recorded (docs/cli.md)");
    cmd->callback([&global, &exit_code, json] { exit_code = Finish(RunStatus(global, *json)); });
}

}  // namespace signalhub::cli
