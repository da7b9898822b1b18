#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "embed/embedder.hpp"
#include "index/pipeline.hpp"

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

void PrintSummary(const fs::path& root, const std::string& collection, const std::string& store,
                  const index::IndexStats& s) {
    std::printf("indexed %s into collection '%s' (store %s)\n", root.c_str(), collection.c_str(), store.c_str());
    std::printf("files: %lld scanned, %lld added, %lld changed, %lld unchanged, %lld removed, %lld skipped\n",
                static_cast<long long>(s.files_scanned), static_cast<long long>(s.files_added),
                static_cast<long long>(s.files_changed), static_cast<long long>(s.files_unchanged),
                static_cast<long long>(s.files_removed), static_cast<long long>(s.skipped.size()));
    double rate = s.seconds > 0 ? static_cast<double>(s.bytes_read) / s.seconds : 0;
    std::printf("chunks: %lld written, %lld deleted; read %s in %s (%s/s)\n", static_cast<long long>(s.chunks_written),
                static_cast<long long>(s.chunks_deleted), FormatBytes(static_cast<double>(s.bytes_read)).c_str(),
                FormatDuration(s.seconds).c_str(), FormatBytes(rate).c_str());
    std::printf("time: scan %s, read+chunk %s, embed %s, store %s, vector index %s\n",
                FormatDuration(s.scan_seconds).c_str(), FormatDuration(s.chunk_seconds).c_str(),
                FormatDuration(s.embed_seconds).c_str(), FormatDuration(s.commit_seconds).c_str(),
                FormatDuration(s.flush_seconds).c_str());
}

// Returns the exit code: 0, or kExitPartial when files could not be read.
Result<int> RunIndex(const GlobalOptions& global, const std::string& path, const std::string& collection) {
    SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
    std::error_code ec;
    fs::path root(path);
    if (!fs::exists(root, ec)) return NotFound("path " + root.string() + " does not exist");
    if (!fs::is_directory(root, ec)) return InvalidArgument("path " + root.string() + " is not a directory");
    root = fs::canonical(root, ec);
    if (ec) return PermissionDenied("cannot resolve " + path + ": " + ec.message());
    const StoreLocation location = StoreForRoot(global, cfg, root);

    SH_ASSIGN_OR_RETURN(auto embedder, embed::CreateEmbedder(cfg.embedding));
    SH_ASSIGN_OR_RETURN(auto store, store::OpenStore(location.url, store::OpenOptions{}));

    index::IndexOptions options;
    options.root = root;
    options.collection = !collection.empty()             ? collection
                         : !cfg.index.collection.empty() ? cfg.index.collection
                                                         : index::DefaultCollectionName(root);
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
    if (!global.quiet) PrintSummary(root, options.collection, location.display, *stats);

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
    auto path = std::make_shared<std::string>(".");
    auto collection = std::make_shared<std::string>();
    cmd->add_option("path", *path, "Root of the tree to index")->capture_default_str();
    cmd->add_option("-c,--collection", *collection,
                    "Collection to index into (default: index.collection, else the directory's name)");
    cmd->footer(
        "The store lives in <path>/.signal-hub unless store.path or --store says otherwise.\n"
        "Interrupting (Ctrl-C, or even kill -9) keeps every committed file; run index again to resume.");
    cmd->callback([&global, &exit_code, path, collection] {
        auto result = RunIndex(global, *path, *collection);
        exit_code = result.ok() ? *result : Fail(result.status());
    });
}

}  // namespace signalhub::cli
