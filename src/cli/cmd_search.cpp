#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "embed/embedder.hpp"
#include "index/language.hpp"
#include "search/json.hpp"
#include "search/searcher.hpp"

namespace signalhub::cli {
namespace {

constexpr int kMaxLimit = 1000;  // search::Searcher's bound on k

struct SearchFlags {
    std::string query;
    std::optional<int> k;  // nullopt: search.k
    std::optional<std::string> language;
    std::string path_glob;
    std::string collection;
    std::string mode;
    double min_score = 0;
    bool json = false;
    int snippet_lines = 4;
};

void PrintHuman(const search::SearchResponse& response, bool color, int snippet_lines) {
    const char* bold = color ? "\033[1m" : "";
    const char* cyan = color ? "\033[36m" : "";
    const char* green = color ? "\033[32m" : "";
    const char* dim = color ? "\033[2m" : "";
    const char* reset = color ? "\033[0m" : "";
    if (response.results.empty()) {
        std::printf("no results for \"%s\"\n", response.query.c_str());
        return;
    }
    for (const auto& r : response.results) {
        std::printf("%s%s:%d-%d%s  %s%s%s  %s%.3f%s\n", bold, r.file_path.c_str(), r.start_line, r.end_line, reset,
                    cyan, r.symbol.empty() ? ("(" + r.kind + ")").c_str() : r.symbol.c_str(), reset, green, r.score,
                    reset);
        int shown = 0;
        size_t pos = 0;
        while (pos < r.text.size() && shown < snippet_lines) {
            size_t end = r.text.find('\n', pos);
            if (end == std::string::npos) end = r.text.size();
            std::string line = r.text.substr(pos, end - pos);
            pos = end + 1;
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            if (line.size() > 160) line = line.substr(0, 157) + "...";
            std::printf("    %s%s%s\n", dim, line.c_str(), reset);
            ++shown;
        }
        std::printf("\n");
    }
}

Status RunSearch(const GlobalOptions& global, const SearchFlags& flags) {
    SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
    if (flags.k && (*flags.k < 1 || *flags.k > kMaxLimit))
        return InvalidArgument("-k/--limit must be from 1 to " + std::to_string(kMaxLimit) + " (got " +
                               std::to_string(*flags.k) + ")");
    search::SearchRequest request;
    request.query = flags.query;
    request.k = static_cast<size_t>(flags.k ? *flags.k : cfg.search.k);
    SH_ASSIGN_OR_RETURN(request.mode, search::ParseMode(flags.mode.empty() ? cfg.search.mode : flags.mode));
    request.collection = flags.collection;
    request.min_score = flags.min_score;
    if (flags.language) {
        SH_ASSIGN_OR_RETURN(request.filter.language, index::NormalizeLanguage(*flags.language));
    }
    if (!flags.path_glob.empty()) request.filter.path_glob = flags.path_glob;

    SH_ASSIGN_OR_RETURN(ReadableStore readable, OpenStoreForReading(global, cfg));
    SH_ASSIGN_OR_RETURN(auto embedder, embed::CreateEmbedder(cfg.embedding));
    search::Searcher searcher(*readable.store, *embedder, cfg.search);
    SH_ASSIGN_OR_RETURN(search::SearchResponse response, searcher.Search(request));
    if (flags.json) {
        std::printf("%s\n", search::ToJson(response).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
        PrintHuman(response, UseColor(STDOUT_FILENO, global), flags.snippet_lines);
    }
    return Status::Ok();
}

}  // namespace

void AddSearchCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
    auto flags = std::make_shared<SearchFlags>();
    auto* cmd = app.add_subcommand("search", "Search the index (hybrid vector + BM25 by default)");
    cmd->add_option("query", flags->query, "What to look for: words, identifiers or a description")->required();
    cmd->add_option("-k,--limit", flags->k, "Number of results, 1-1000 (default: search.k, 10)");
    cmd->add_option("--language", flags->language,
                    "Only results in this language: python, cpp, go, ... (any case; aliases such as golang, py, "
                    "c++ and file extensions work too)");
    cmd->add_option("--path", flags->path_glob, "Only files matching this glob (e.g. 'src/**/*.py', '*.go')");
    cmd->add_option("--collection", flags->collection, "Only this collection (default: all)");
    cmd->add_option("--mode", flags->mode, "hybrid | vector | lexical (default: search.mode)")
        ->check(CLI::IsMember({"hybrid", "vector", "lexical"}));
    cmd->add_option("--min-score", flags->min_score, "Drop results scoring below this");
    cmd->add_option("--lines", flags->snippet_lines, "Snippet lines per result in human output")
        ->check(CLI::Range(0, 1000));
    cmd->add_flag("--json", flags->json, "Print JSON: {\"query\", \"results\": [{id, file_path, ...}]}");
    cmd->footer("The store is found like git finds .git: ./.signal-hub or the nearest parent's (or --store).");
    cmd->callback([&global, &exit_code, flags] { exit_code = Finish(RunSearch(global, *flags)); });
}

}  // namespace signalhub::cli
