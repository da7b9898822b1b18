// Retrieval quality: MRR@10 and recall@10 of lexical, vector and hybrid search
// over a store indexed from bench/make_docstring_corpus.py's stripped corpus.
// A result is a hit when it is in the target's file and its line range
// contains the target definition's first line.
//
// With --query-field symbol, each target's symbol ("SplitResult.geturl") is the
// query instead of its docstring sentence: the exact-symbol rule (ADR-20).
//
// Lexical and hybrid are measured twice, the second time (<mode>_keep_stop_words)
// with English stop words kept in the lexical query as before ADR-26.
//
// Usage: retrieval_bench --store DIR --queries FILE [--k 10] [--json OUT] [--query-field query|symbol]

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "embed/embedder.hpp"
#include "search/searcher.hpp"

using namespace signalhub;

namespace {
struct Query {
    std::string text, file_path, symbol;
    int start_line = 0, end_line = 0;
};
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Retrieval quality benchmark (MRR@k, recall@k per search mode)"};
    std::string store_dir, queries_path, json_out;
    int k = 10;
    app.add_option("--store", store_dir, "Store directory")->required();
    app.add_option("--queries", queries_path, "queries.jsonl from make_docstring_corpus.py")->required();
    app.add_option("--k", k, "Cut-off");
    app.add_option("--json", json_out, "Write results as JSON here");
    std::string query_field = "query";
    app.add_option("--query-field", query_field, "Field of queries.jsonl to search for: query (the docstring "
                                                 "sentence) or symbol (the target's qualified name)")
        ->check(CLI::IsMember({"query", "symbol"}));
    CLI11_PARSE(app, argc, argv);

    std::vector<Query> queries;
    std::ifstream in(queries_path);
    for (std::string line; std::getline(in, line);) {
        auto j = nlohmann::json::parse(line);
        queries.push_back({j[query_field], j["file_path"], j["symbol"], j["start_line"], j["end_line"]});
    }
    auto store = store::OpenStore(store_dir, {.read_only = true});
    if (!store.ok()) {
        std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
        return 1;
    }
    auto embedder = embed::CreateEmbedder(config::EmbeddingConfig{});
    if (!embedder.ok()) return 1;
    search::Searcher searcher(**store, **embedder, config::SearchConfig{});

    nlohmann::json report = {{"queries", queries.size()}, {"k", k}, {"modes", nlohmann::json::object()}};
    std::printf("%-24s %8s %10s %12s\n", "mode", "MRR@k", "recall@k", "ms/query");
    // Lexical and hybrid run twice: as shipped (English stop words left out of the lexical
    // query, ADR-26) and with them kept (the query before), on the same store in the same run.
    struct Variant {
        search::Mode mode;
        bool keep_stop_words;
    };
    const Variant variants[] = {{search::Mode::kLexical, false}, {search::Mode::kLexical, true},
                                {search::Mode::kVector, false},  {search::Mode::kHybrid, false},
                                {search::Mode::kHybrid, true}};
    for (const auto& v : variants) {
        double mrr = 0;
        int found = 0;
        auto t0 = std::chrono::steady_clock::now();
        for (const auto& q : queries) {
            auto r = searcher.Search({.query = q.text, .k = static_cast<size_t>(k), .mode = v.mode,
                                      .keep_stop_words = v.keep_stop_words});
            if (!r.ok()) {
                std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
                return 1;
            }
            for (size_t i = 0; i < r->results.size(); ++i) {
                const auto& x = r->results[i];
                if (x.file_path == q.file_path && x.start_line <= q.start_line && q.start_line <= x.end_line) {
                    mrr += 1.0 / static_cast<double>(i + 1);
                    ++found;
                    break;
                }
            }
        }
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        double n = static_cast<double>(queries.size());
        const std::string name = std::string(search::ModeName(v.mode)) + (v.keep_stop_words ? "_keep_stop_words" : "");
        std::printf("%-24s %8.3f %10.3f %12.2f\n", name.c_str(), mrr / n, found / n, secs * 1000 / n);
        report["modes"][name] = {{"mrr", mrr / n}, {"recall", found / n}, {"ms_per_query", secs * 1000 / n}};
    }
    if (!json_out.empty()) std::ofstream(json_out) << report.dump(2) << "\n";
    return 0;
}
