#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string_view>

#include "cli/commands.hpp"
#include "embed/embedder.hpp"
#include "index/git_state.hpp"
#include "index/pipeline.hpp"
#include "store/embedded/store_layout.hpp"

namespace signalhub::cli {
namespace fs = std::filesystem;
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void OnInterrupt(int) { g_interrupted.store(true); }

// One-line progress bar on a terminal: files, chunks, rate, ETA.
void DrawProgress(const index::IndexProgress& p) {
    using Phase = index::IndexProgress::Phase;
    double secs = std::chrono::duration<double>(p.elapsed).count();
    char line[200];
    if (p.phase == Phase::kScanning) {
        std::snprintf(line, sizeof line, "scanning...");
    } else if (p.phase == Phase::kIndexing) {
        double frac = p.bytes_total > 0 ? static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 1.0;
        const int width = 24;
        int filled = static_cast<int>(frac * width);
        std::string bar(static_cast<size_t>(filled), '#');
        bar.append(static_cast<size_t>(width - filled), '.');
        double rate = secs > 0 ? static_cast<double>(p.bytes_done) / secs : 0;
        double eta = rate > 0 ? static_cast<double>(p.bytes_total - p.bytes_done) / rate : 0;
        std::snprintf(line, sizeof line, "[%s] %3.0f%%  %lld/%lld files  %lld chunks  %s/s  ETA %s", bar.c_str(),
                      frac * 100, static_cast<long long>(p.files_done), static_cast<long long>(p.files_total),
                      static_cast<long long>(p.chunks_done), FormatBytes(rate).c_str(),
                      rate > 0 ? FormatDuration(eta).c_str() : "--");
    } else if (p.phase == Phase::kRemoving) {
        std::snprintf(line, sizeof line, "removing deleted files...");
    } else {
        std::snprintf(line, sizeof line, "saving the vector index...");
    }
    std::fprintf(stderr, "\r\033[K%s", line);
    std::fflush(stderr);
}

// What this run caught up from: the commit the previous finished run recorded.
struct CatchUp {
    std::string from;                     // "" = no recorded commit
    std::optional<std::int64_t> commits;  // commits from it to the commit this run recorded
    std::int64_t files_changed = 0;       // files added, changed or removed in the index
};

CatchUp CatchUpOf(const fs::path& root, const index::IndexStats& s) {
    CatchUp c;
    c.from = s.previous_git_commit;
    c.files_changed = s.files_added + s.files_changed + s.files_removed;
    if (!c.from.empty() && s.git) c.commits = index::CommitsBetween(root, c.from, s.git->commit);
    return c;
}

// Seconds a full rebuild would spend embedding, at this run's embedding rate (nullopt when
// this run embedded nothing to measure).
std::optional<double> RebuildSeconds(const index::IndexStats& s) {
    if (s.chunks_written <= 0 || s.embed_seconds <= 0) return std::nullopt;
    return s.embed_seconds / static_cast<double>(s.chunks_written) * static_cast<double>(s.rebuild_chunks);
}

void PrintSummary(const fs::path& root, const std::string& collection, const std::string& store,
                  const index::IndexStats& s, std::optional<std::uint64_t> tokens_used) {
    std::printf("indexed %s into collection '%s' (store %s)\n", root.c_str(), collection.c_str(), store.c_str());
    std::printf("files: %lld scanned, %lld added, %lld changed, %lld unchanged, %lld removed, %lld skipped\n",
                static_cast<long long>(s.files_scanned), static_cast<long long>(s.files_added),
                static_cast<long long>(s.files_changed), static_cast<long long>(s.files_unchanged),
                static_cast<long long>(s.files_removed), static_cast<long long>(s.skipped.size()));
    double rate = s.seconds > 0 ? static_cast<double>(s.bytes_read) / s.seconds : 0;
    std::printf("chunks: %lld written (re-embedded), %lld reused, %lld deleted; read %s in %s (%s/s)\n",
                static_cast<long long>(s.chunks_written), static_cast<long long>(s.chunks_reused),
                static_cast<long long>(s.chunks_deleted), FormatBytes(static_cast<double>(s.bytes_read)).c_str(),
                FormatDuration(s.seconds).c_str(), FormatBytes(rate).c_str());
    std::printf("time: scan %s, read+chunk %s, embed %s, store %s, vector index %s\n",
                FormatDuration(s.scan_seconds).c_str(), FormatDuration(s.chunk_seconds).c_str(),
                FormatDuration(s.embed_seconds).c_str(), FormatDuration(s.commit_seconds).c_str(),
                FormatDuration(s.flush_seconds).c_str());
    if (s.git) {
        std::printf("git: recorded commit %s%s\n", index::ShortCommit(s.git->commit).c_str(),
                    !s.git->dirty ? " (uncommitted changes unknown)"
                    : *s.git->dirty ? " (with uncommitted changes)"
                                    : "");
    }
    const CatchUp c = CatchUpOf(root, s);
    if (!c.from.empty()) {
        std::string commits;
        if (c.commits) {
            commits = " (" + std::to_string(*c.commits) + (*c.commits == 1 ? " commit" : " commits") + " to " +
                      index::ShortCommit(s.git->commit) + ")";
        }
        std::printf("caught up from %s%s: %lld files changed, %lld chunks re-embedded, %lld reused\n",
                    index::ShortCommit(c.from).c_str(), commits.c_str(), static_cast<long long>(c.files_changed),
                    static_cast<long long>(s.chunks_written), static_cast<long long>(s.chunks_reused));
    }
    const std::optional<double> secs = RebuildSeconds(s);
    std::printf("full rebuild would re-embed %lld chunks (~%lld tokens, %s of text%s)\n",
                static_cast<long long>(s.rebuild_chunks),
                static_cast<long long>(index::EstimateTokens(s.rebuild_text_bytes)),
                FormatBytes(static_cast<double>(s.rebuild_text_bytes)).c_str(),
                secs ? ("; ~" + FormatDuration(*secs) + " of embedding at this run's rate").c_str() : "");
    if (tokens_used) {
        std::printf("embedding tokens used by this run (as the provider reported them): %llu\n",
                    static_cast<unsigned long long>(*tokens_used));
    }
}

nlohmann::json SummaryJson(const fs::path& root, const std::string& collection, const std::string& store,
                           const index::IndexStats& s, std::optional<std::uint64_t> tokens_used) {
    using nlohmann::json;
    const CatchUp c = CatchUpOf(root, s);
    const std::optional<double> secs = RebuildSeconds(s);
    json skipped = json::array();
    for (const auto& sk : s.skipped) skipped.push_back({{"path", sk.rel_path}, {"reason", sk.reason}});
    return json{
        {"root", root.string()},
        {"collection", collection},
        {"store", store},
        {"files",
         {{"scanned", s.files_scanned},
          {"added", s.files_added},
          {"changed", s.files_changed},
          {"unchanged", s.files_unchanged},
          {"removed", s.files_removed},
          {"skipped", skipped}}},
        {"chunks", {{"re_embedded", s.chunks_written}, {"reused", s.chunks_reused}, {"deleted", s.chunks_deleted}}},
        {"bytes_read", s.bytes_read},
        {"tokens_used", tokens_used ? json(*tokens_used) : json(nullptr)},
        {"seconds",
         {{"total", s.seconds},
          {"scan", s.scan_seconds},
          {"read_chunk", s.chunk_seconds},
          {"embed", s.embed_seconds},
          {"store", s.commit_seconds},
          {"vector_index", s.flush_seconds}}},
        {"git", s.git ? json{{"commit", s.git->commit},
                             {"dirty", s.git->dirty ? json(*s.git->dirty) : json(nullptr)}}
                      : json(nullptr)},
        {"caught_up_from",
         c.from.empty() ? json(nullptr)
                        : json{{"commit", c.from},
                               {"commits", c.commits ? json(*c.commits) : json(nullptr)},
                               {"files_changed", c.files_changed}}},
        {"full_rebuild",
         {{"chunks", s.rebuild_chunks},
          {"text_bytes", s.rebuild_text_bytes},
          {"tokens_estimate", index::EstimateTokens(s.rebuild_text_bytes)},
          {"embed_seconds_estimate", secs ? json(*secs) : json(nullptr)}}}};
}

struct IndexFlags {
    std::string path;  // "" = not given
    std::string collection;
    bool dry_run = false;
    bool allow_overlap = false;
    bool json = false;
};

bool IsWithin(const fs::path& inner, const fs::path& outer) {
    auto o = outer.begin();
    auto i = inner.begin();
    for (; o != outer.end(); ++o, ++i) {
        if (i == inner.end() || *i != *o) return false;
    }
    return true;
}

std::string CollectionFor(const config::Config& cfg, const std::string& flag, const fs::path& root) {
    return !flag.empty() ? flag : !cfg.index.collection.empty() ? cfg.index.collection : index::DefaultCollectionName(root);
}

std::string RootOf(const CollectionInfo& c) {
    auto it = c.properties.find(collection_property::kRoot);
    return it == c.properties.end() ? std::string() : it->second;
}

// Where `index` without PATH works: the index found like `search` finds it (the
// working directory or a parent holds the store, or --store / the database),
// the collection whose tree contains the working directory, and its root.
struct Target {
    fs::path root;
    std::optional<StoreLocation> location;  // nullopt: StoreForRoot(root)
    std::string collection;                 // "" = the default for root
};

Result<Target> TargetWithoutPath(const GlobalOptions& global, const config::Config& cfg, const fs::path& cwd,
                                 const std::string& collection) {
    Target target{cwd, std::nullopt, collection};
    auto found = FindStoreFrom(global, cfg, cwd);
    if (!found.ok()) {
        if (found.status().code() != ErrorCode::kNotFound) return found.status();
        return target;
    }
    auto opened = store::OpenStore(found->url, store::OpenOptions{.read_only = true});
    std::optional<CollectionInfo> best;
    if (opened.ok()) {
        SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> collections, (*opened)->ListCollections());
        for (const auto& c : collections) {
            const std::string root = RootOf(c);
            if (root.empty() || !IsWithin(cwd, fs::path(root))) continue;
            if (!collection.empty() && c.spec.name != collection) continue;
            if (!best || RootOf(*best).size() < root.size()) best = c;
        }
    } else if (opened.status().code() != ErrorCode::kNotFound) {
        return opened.status();
    }
    if (best) {
        target.root = RootOf(*best);
        target.location = *found;
        if (target.collection.empty()) target.collection = best->spec.name;
    } else if (found->dir && !global.store && !fs::path(cfg.store.path).is_absolute()) {
        // A store of an older build (no recorded root): the tree is the directory holding it.
        target.root = found->dir->parent_path();
        target.location = *found;
    }
    return target;
}

// An explicit PATH inside a tree that already has its own embedded store in a
// parent directory (store.path relative, no --store): a second, nested store
// would index those files twice. Returns the parent's root, if any.
std::optional<fs::path> IndexedAncestor(const GlobalOptions& global, const config::Config& cfg, const fs::path& root) {
    if (global.store || cfg.database.type != "embedded") return std::nullopt;
    const fs::path rel(cfg.store.path);
    if (rel.is_absolute()) return std::nullopt;
    std::error_code ec;
    if (fs::exists(root / rel, ec)) return std::nullopt;  // PATH has its own store already: keep using it
    for (fs::path dir = root.parent_path(); !dir.empty(); dir = dir.parent_path()) {
        if (store::IsEmbeddedStoreDir((dir / rel).string())) return dir;
        if (dir == dir.parent_path()) break;
    }
    return std::nullopt;
}

// Refuses a second collection over the same tree (or a tree inside another
// collection's tree) in one store, naming the existing collection.
Status CheckOverlap(store::VectorStore& store, const StoreLocation& location, const fs::path& root,
                    const std::string& collection) {
    SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> collections, store.ListCollections());
    for (const auto& c : collections) {
        const std::string other = RootOf(c);
        if (c.spec.name == collection || other.empty()) continue;
        const bool same = fs::path(other) == root;
        if (!same && !IsWithin(root, fs::path(other))) continue;
        return FailedPrecondition(
            root.string() + (same ? " is already indexed as collection '" : " lies inside the tree of collection '") +
            c.spec.name + "' (root " + other + ") in store " + location.display +
            "; indexing it as '" + collection + "' would duplicate it. Update the existing one with `signal-hub index -c " +
            c.spec.name + (same ? " " + root.string() : " " + other) + "`, or delete it first with `signal-hub collections delete " +
            c.spec.name + " --yes`, or pass --allow-overlap to keep both");
    }
    return Status::Ok();
}

// `index --dry-run`: what a run would index, skip and ignore (and why), without
// opening the store for writing or creating anything.
Status DryRun(const GlobalOptions& global, const config::Config& cfg, const fs::path& root,
              const StoreLocation& location, const std::string& collection) {
    index::IndexOptions options;
    options.root = root;
    options.collection = collection;
    options.store_dir = location.dir.value_or(fs::path());
    options.config = cfg.index;
    index::ScanOptions scan_options = index::ScanOptionsFor(options);
    scan_options.report_ignored = true;
    SH_ASSIGN_OR_RETURN(index::ScanResult scan, index::ScanTree(root, scan_options));
    // Stored file states, when the store and collection exist (read-only: nothing is created).
    std::map<std::string, store::FileState> previous;
    bool have_store = false;
    {
        std::error_code ec;
        const bool exists = !location.dir || fs::is_directory(*location.dir, ec);
        if (exists) {
            auto opened = store::OpenStore(location.url, store::OpenOptions{.read_only = true});
            if (opened.ok()) {
                auto files = (*opened)->ListFiles(collection);
                if (files.ok()) {
                    have_store = true;
                    for (auto& f : *files) previous.emplace(f.path, std::move(f));
                } else if (files.status().code() != ErrorCode::kNotFound) {
                    return files.status();
                }
            } else if (opened.status().code() != ErrorCode::kNotFound) {
                return opened.status();
            }
        }
    }
    std::printf("dry run (nothing is written): indexing %s into collection '%s' (store %s) would\n", root.c_str(),
                collection.c_str(), location.display.c_str());
    std::int64_t added = 0, modified = 0, unchanged = 0;
    for (const auto& f : scan.files) {
        auto it = previous.find(f.rel_path);
        const char* state = "new";
        if (it == previous.end()) {
            ++added;
        } else {
            const bool same = it->second.size == f.size && it->second.mtime_ns == f.mtime_ns;
            state = same ? "unchanged" : "modified";
            ++(same ? unchanged : modified);
            previous.erase(it);
        }
        if (!global.quiet || std::string_view(state) != "unchanged")
            std::printf("  index   %s  (%s, %s, %s)\n", f.rel_path.c_str(), f.language.c_str(),
                        FormatBytes(static_cast<double>(f.size)).c_str(), state);
    }
    for (const auto& s : scan.skipped) std::printf("  skip    %s  (%s)\n", s.rel_path.c_str(), s.reason.c_str());
    for (const auto& s : scan.ignored) std::printf("  ignore  %s  (%s)\n", s.rel_path.c_str(), s.reason.c_str());
    for (const auto& [path, st] : previous)
        std::printf("  remove  %s  (indexed before, no longer in the tree or now excluded)\n", path.c_str());
    std::printf("summary: %zu files to index (%lld new, %lld modified, %lld unchanged%s), %zu skipped, %zu ignored, "
                "%zu to remove\n",
                scan.files.size(), static_cast<long long>(added), static_cast<long long>(modified),
                static_cast<long long>(unchanged), have_store ? "" : "; no index yet", scan.skipped.size(),
                scan.ignored.size(), previous.size());
    return Status::Ok();
}

// Returns the exit code: 0, or kExitPartial when files could not be read.
Result<int> RunIndex(const GlobalOptions& global, const IndexFlags& flags) {
    SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
    std::error_code ec;
    Target target;
    if (flags.path.empty()) {
        fs::path cwd = fs::current_path(ec);
        if (ec) return Internal("cannot determine the working directory: " + ec.message());
        SH_ASSIGN_OR_RETURN(target, TargetWithoutPath(global, cfg, cwd, flags.collection));
        if (!global.quiet) {
            if (target.location) {
                std::fprintf(stderr, "no PATH given: updating the index of %s (store %s)\n", target.root.c_str(),
                             target.location->display.c_str());
            } else {
                std::fprintf(stderr, "no PATH given: indexing %s (the current directory)\n", target.root.c_str());
            }
        }
    } else {
        fs::path root(flags.path);
        if (!fs::exists(root, ec)) return NotFound("path " + root.string() + " does not exist");
        if (!fs::is_directory(root, ec)) return InvalidArgument("path " + root.string() + " is not a directory");
        target.root = fs::canonical(root, ec);
        if (ec) return PermissionDenied("cannot resolve " + flags.path + ": " + ec.message());
        target.collection = flags.collection;
        if (!flags.allow_overlap) {
            if (auto parent = IndexedAncestor(global, cfg, target.root)) {
                return FailedPrecondition(
                    target.root.string() + " lies inside " + parent->string() + ", which has its own index (" +
                    (*parent / cfg.store.path).string() + "); a second index here would hold the same files twice. "
                    "Update the parent's index with `signal-hub index " + parent->string() +
                    "` (search, status and index without PATH find it from any subdirectory), or pass --allow-overlap "
                    "to create a separate index for " + target.root.string());
            }
        }
    }
    const fs::path& root = target.root;
    const StoreLocation location = target.location ? *target.location : StoreForRoot(global, cfg, root);
    const std::string collection = CollectionFor(cfg, target.collection, root);
    if (flags.dry_run) {
        SH_RETURN_IF_ERROR(DryRun(global, cfg, root, location, collection));
        return 0;
    }

    SH_ASSIGN_OR_RETURN(auto embedder, embed::CreateEmbedder(cfg.embedding));
    SH_ASSIGN_OR_RETURN(auto store, store::OpenStore(location.url, store::OpenOptions{}));
    if (!flags.allow_overlap) SH_RETURN_IF_ERROR(CheckOverlap(*store, location, root, collection));

    index::IndexOptions options;
    options.root = root;
    options.collection = collection;
    options.store_dir = location.dir.value_or(fs::path());
    options.config = cfg.index;
    options.cancel = &g_interrupted;
    const bool tty = isatty(STDERR_FILENO) == 1 && !global.quiet;
    if (tty) options.on_progress = DrawProgress;
    std::signal(SIGINT, OnInterrupt);
    std::signal(SIGTERM, OnInterrupt);

    auto stats = index::IndexTree(*store, *embedder, options);
    if (tty) std::fprintf(stderr, "\r\033[K");
    if (!stats.ok()) return stats.status();
    if (flags.json) {
        std::printf("%s\n", SummaryJson(root, options.collection, location.display, *stats, embedder->tokens_used()).dump().c_str());
    } else if (!global.quiet) {
        PrintSummary(root, options.collection, location.display, *stats, embedder->tokens_used());
    }

    // Files that exist but could not be read are an error the user must see
    // (everything else was indexed and committed).
    size_t unreadable = 0;
    for (const auto& sk : stats->skipped) {
        if (sk.reason.rfind("unreadable", 0) != 0) continue;
        if (unreadable++ < 10)
            std::fprintf(stderr, "signal-hub: error: cannot read %s: %s\n", sk.rel_path.c_str(), sk.reason.c_str());
    }
    if (unreadable == 0) return 0;
    std::fprintf(stderr,
                 "signal-hub: error: %zu file(s) could not be read and were not indexed; fix their permissions or "
                 "exclude them (.signalhubignore), then run index again\n",
                 unreadable);
    return kExitPartial;
}

}  // namespace

void AddIndexCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
    auto* cmd = app.add_subcommand("index", "Index a source tree into the store (incremental: only changed files are "
                                            "re-read and re-embedded)");
    auto flags = std::make_shared<IndexFlags>();
    cmd->add_option("path", flags->path,
                    "Root of the tree to index (default: the tree of the index found from the working directory, "
                    "like search finds it; else the working directory)");
    cmd->add_option("-c,--collection", flags->collection,
                    "Collection to index into (default: index.collection, else the directory's name)");
    cmd->add_flag("--dry-run", flags->dry_run,
                  "List what would be indexed, skipped and ignored (and why) without writing or creating the store");
    cmd->add_flag("--allow-overlap", flags->allow_overlap,
                  "Index even when the tree is already indexed under another collection of the store, or lies "
                  "inside a tree with its own index");
    cmd->add_flag("--json", flags->json,
                  "Print the summary as one JSON object: files, chunks {re_embedded, reused, deleted}, seconds, git "
                  "{commit, dirty}, caught_up_from {commit, commits, files_changed}, full_rebuild {chunks, "
                  "text_bytes, tokens_estimate, embed_seconds_estimate} (docs/cli.md)");
    cmd->footer(
        "The store lives in <path>/.signal-hub unless store.path or --store says otherwise.\n"
        "Interrupting (Ctrl-C, or even kill -9) keeps every committed file; run index again to resume.\n"
        "In a git work tree, each finished run records HEAD (and whether the tree had uncommitted changes);\n"
        "the next run says which commit it caught up from and how many chunks it re-embedded and reused,\n"
        "and every run says what a full rebuild would re-embed (chunks, ~tokens at 4 bytes per token).");
    cmd->callback([&global, &exit_code, flags] {
        auto result = RunIndex(global, *flags);
        exit_code = result.ok() ? *result : Fail(result.status());
    });
}

}  // namespace signalhub::cli
