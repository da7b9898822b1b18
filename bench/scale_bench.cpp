// Search cost against collection size (issue 16, goal 4): one store per process, so that the
// process's resident memory is that store's. bench/run.sh scale runs it on the stdlib store
// (~18k chunks) and on a large real tree (the Linux kernel source, Debian's linux-source) with the
// same queries, and compares.
//
// For the store's first collection: opens the store read-only, runs one search (which loads or
// builds the derived indexes: the time is reported as load_s), then n hybrid searches
// (search::Searcher, k = 10) and n vector searches (VectorSearch, k = 10, the query's builtin
// embedding), and reports p50 / p99 / QPS for each, the process's resident memory (VmRSS after the
// searches, VmHWM) and the bytes of the store's parts (files and directories under DIR), which the
// caller compares with the memory.
//
// --store may also be a postgresql:// URL (bench/run.sh scale-pg: the same collection on PostgreSQL);
// there the memory and store-part figures are the client's and absent. --mark-searches (PostgreSQL)
// runs `SELECT 'signal-hub-bench-search <i>'` on a connection of its own before hybrid search i,
// and stops after the hybrid searches: with log_statement = all on the server, the log then holds
// each search's statements between two markers (bench/pg_replay_scripts.py turns them into
// pgbench scripts: the same SQL, driven by pgbench).
//
// Usage: scale_bench --store DIR|URL --queries FILE [--n 500] [--mark-searches] [--json OUT]

#include <libpq-fe.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "embed/embedder.hpp"
#include "search/searcher.hpp"

using namespace signalhub;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

nlohmann::json Summary(std::vector<double> ms, double total_s) {
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) { return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))]; };
    return {{"p50_ms", pct(0.50)}, {"p99_ms", pct(0.99)}, {"qps", total_s > 0 ? ms.size() / total_s : 0.0}};
}

template <typename F>
nlohmann::json Time(size_t n, F&& fn) {
    std::vector<double> ms;
    const auto start = Clock::now();
    for (size_t i = 0; i < n; ++i) {
        const auto t0 = Clock::now();
        fn(i);
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    return Summary(std::move(ms), std::chrono::duration<double>(Clock::now() - start).count());
}

// A "VmRSS:" style line of /proc/self/status, in bytes.
std::int64_t ProcStatusBytes(const char* key) {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(key, 0) == 0) return std::stoll(line.substr(std::strlen(key))) * 1024;
    }
    return -1;
}

std::int64_t TreeBytes(const fs::path& p) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return static_cast<std::int64_t>(fs::file_size(p, ec));
    std::int64_t total = 0;
    for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (it->is_regular_file(ec)) total += static_cast<std::int64_t>(it->file_size(ec));
    }
    return total;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Search latency and memory of one store (run once per store to compare sizes)"};
    std::string store_dir, queries_path, json_out;
    size_t n = 500;
    app.add_option("--store", store_dir, "Store directory, or a postgresql:// URL")->required();
    app.add_option("--queries", queries_path, "queries.jsonl (one {\"query\": ...} per line)")->required();
    app.add_option("--n", n, "Number of queries");
    app.add_option("--json", json_out, "Write results as JSON here");
    bool mark = false;
    app.add_flag("--mark-searches", mark,
                 "PostgreSQL: run a marker SELECT on a connection of its own before each hybrid search, then stop");
    CLI11_PARSE(app, argc, argv);
    const bool is_dir = fs::is_directory(store_dir);
    PGconn* marker = nullptr;
    if (mark) {
        if (is_dir) {
            std::fprintf(stderr, "scale_bench: --mark-searches needs a postgresql:// --store\n");
            return 2;
        }
        marker = PQconnectdb(store_dir.c_str());
        if (PQstatus(marker) != CONNECTION_OK) {
            std::fprintf(stderr, "scale_bench: marker connection: %s", PQerrorMessage(marker));
            return 1;
        }
    }

    const std::int64_t rss_before_open = ProcStatusBytes("VmRSS:");
    auto opened = store::OpenStore(store_dir, {.read_only = true});
    if (!opened.ok()) {
        std::fprintf(stderr, "scale_bench: %s\n", opened.status().ToString().c_str());
        return 1;
    }
    store::VectorStore& store = **opened;
    auto specs = store.ListCollectionSpecs();
    if (!specs.ok() || specs->empty()) {
        std::fprintf(stderr, "scale_bench: %s has no collection\n", store_dir.c_str());
        return 1;
    }
    const CollectionSpec spec = specs->front();
    auto embedder = embed::CreateEmbedder(config::EmbeddingConfig{.dimension = spec.dimension});
    if (!embedder.ok()) {
        std::fprintf(stderr, "scale_bench: %s\n", embedder.status().ToString().c_str());
        return 1;
    }
    std::vector<std::string> texts;
    std::ifstream in(queries_path);
    for (std::string line; std::getline(in, line) && texts.size() < n;) {
        texts.push_back(nlohmann::json::parse(line)["query"].get<std::string>());
    }
    n = texts.size();
    if (n == 0) {
        std::fprintf(stderr, "scale_bench: no queries in %s\n", queries_path.c_str());
        return 1;
    }
    auto vectors = (*embedder)->Embed(texts, embed::Purpose::kQuery);
    if (!vectors.ok()) {
        std::fprintf(stderr, "scale_bench: %s\n", vectors.status().ToString().c_str());
        return 1;
    }
    search::Searcher searcher(store, **embedder, config::SearchConfig{});

    // The first search loads (or builds) the derived indexes.
    const auto t0 = Clock::now();
    auto first = searcher.Search({.query = texts[0], .k = 10});
    const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!first.ok()) {
        std::fprintf(stderr, "scale_bench: %s\n", first.status().ToString().c_str());
        return 1;
    }
    size_t failed = 0;
    nlohmann::json hybrid = Time(n, [&](size_t i) {
        if (marker != nullptr) {
            const std::string sql = "SELECT 'signal-hub-bench-search " + std::to_string(i) + "'";
            PQclear(PQexec(marker, sql.c_str()));
        }
        if (!searcher.Search({.query = texts[i], .k = 10}).ok()) failed++;
    });
    if (marker != nullptr) {
        PQclear(PQexec(marker, "SELECT 'signal-hub-bench-search end'"));
        PQfinish(marker);
        std::printf("%zu hybrid searches marked (%zu failed)\n", n, failed);
        return failed == 0 ? 0 : 1;
    }
    store::SearchOptions opts{.k = 10};
    nlohmann::json vector = Time(n, [&](size_t i) {
        if (!store.VectorSearch(spec.name, (*vectors)[i], opts).ok()) failed++;
    });
    if (failed > 0) {
        std::fprintf(stderr, "scale_bench: %zu searches failed\n", failed);
        return 1;
    }
    auto info = store.GetCollection(spec.name);
    nlohmann::json parts = nlohmann::json::object();
    std::int64_t store_bytes = 0;
    for (const auto& entry : is_dir ? fs::directory_iterator(store_dir) : fs::directory_iterator()) {
        const std::int64_t b = TreeBytes(entry.path());
        parts[entry.path().filename().string()] = b;
        store_bytes += b;
    }
    nlohmann::json report = {
        {"store", store_dir},
        {"collection", spec.name},
        {"records", info.ok() ? info->records : std::int64_t{-1}},
        {"dimension", spec.dimension},
        {"queries", n},
        {"load_s", load_s},
        {"hybrid", hybrid},
        {"vector", vector},
        {"rss_before_open_bytes", rss_before_open},  // of this process: the client, for a URL
        {"rss_bytes", ProcStatusBytes("VmRSS:")},
        {"rss_peak_bytes", ProcStatusBytes("VmHWM:")},
        {"store_bytes", store_bytes},
        {"store_parts_bytes", parts}};
    std::printf("%s: %lld records x %d dims; first search (loads the indexes) %.2f s\n", store_dir.c_str(),
                static_cast<long long>(report["records"].get<std::int64_t>()), spec.dimension, load_s);
    std::printf("  hybrid p50 %.3f ms p99 %.3f ms %.0f QPS; vector p50 %.3f ms p99 %.3f ms %.0f QPS\n",
                hybrid["p50_ms"].get<double>(), hybrid["p99_ms"].get<double>(), hybrid["qps"].get<double>(),
                vector["p50_ms"].get<double>(), vector["p99_ms"].get<double>(), vector["qps"].get<double>());
    std::printf("  RSS %.1f MB (peak %.1f MB); store %.1f MB\n", report["rss_bytes"].get<double>() / 1e6,
                report["rss_peak_bytes"].get<double>() / 1e6, static_cast<double>(store_bytes) / 1e6);
    if (!json_out.empty()) std::ofstream(json_out) << report.dump(2) << "\n";
    return 0;
}
