// Query speed, side by side in one run on the same vectors:
//  - our VectorSearch (embedded store, HNSW): p50 / p99 latency, QPS,
//    recall@10; it dumps the vectors, queries and exact top-10 to --dump so
//    that raw_hnswlib_bench (a separate binary: hnswlib 0.6.2's headers can be
//    included by one object per program) measures raw hnswlib on the same data;
//  - full hybrid Searcher latency (embedding + HNSW + BM25 + fusion);
//  - our exact scan vs the memory-bandwidth floor (bytes scanned / measured
//    read bandwidth).
//
// Usage: query_bench --store DIR --queries FILE --dump DIR [--collection C] [--n 500] [--json OUT]

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "embed/embedder.hpp"
#include "search/searcher.hpp"

using namespace signalhub;
using Clock = std::chrono::steady_clock;

namespace {

struct Latency {
    std::vector<double> ms;
    double total_s = 0;
    nlohmann::json Json() const {
        auto v = ms;
        std::sort(v.begin(), v.end());
        auto pct = [&](double p) { return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))]; };
        return {{"p50_ms", pct(0.50)}, {"p99_ms", pct(0.99)}, {"qps", total_s > 0 ? v.size() / total_s : 0.0}};
    }
};

template <typename F>
Latency Time(size_t n, F&& fn) {
    Latency l;
    auto start = Clock::now();
    for (size_t i = 0; i < n; ++i) {
        auto t0 = Clock::now();
        fn(i);
        l.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    l.total_s = std::chrono::duration<double>(Clock::now() - start).count();
    return l;
}

// Best of 5 sequential read passes over a buffer larger than the caches.
double ReadBandwidthBytesPerSec() {
    const size_t n = size_t{256} << 20;  // 1 GiB of floats
    std::vector<float> buf(n / sizeof(float) * 4 / 4);
    std::iota(buf.begin(), buf.end(), 0.0f);
    double best = 0;
    volatile float sink = 0;
    for (int rep = 0; rep < 5; ++rep) {
        auto t0 = Clock::now();
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (size_t i = 0; i + 8 <= buf.size(); i += 8)
            for (int j = 0; j < 8; ++j) acc[j] += buf[i + static_cast<size_t>(j)];
        double s = std::chrono::duration<double>(Clock::now() - t0).count();
        sink = sink + acc[0] + acc[7];
        best = std::max(best, static_cast<double>(buf.size() * sizeof(float)) / s);
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Query latency benchmark: ours vs raw hnswlib vs exact scan floor"};
    std::string store_dir, queries_path, collection, json_out, dump_dir;
    size_t n = 500;
    int ef = 128;
    app.add_option("--store", store_dir, "Store directory")->required();
    app.add_option("--queries", queries_path, "queries.jsonl (query texts)")->required();
    app.add_option("--collection", collection, "Collection (default: the first)");
    app.add_option("--n", n, "Number of queries");
    app.add_option("--ef", ef, "ef_search for both");
    app.add_option("--json", json_out, "Write results as JSON here");
    app.add_option("--dump", dump_dir, "Write vectors, queries and exact top-10 here for raw_hnswlib_bench")
        ->required();
    CLI11_PARSE(app, argc, argv);

    auto store_or = store::OpenStore(store_dir, {.read_only = true});
    if (!store_or.ok()) {
        std::fprintf(stderr, "%s\n", store_or.status().ToString().c_str());
        return 1;
    }
    auto& store = **store_or;
    auto collections = store.ListCollections();
    if (!collections.ok() || collections->empty()) return 1;
    CollectionInfo info = collections->front();
    if (!collection.empty()) info = *store.GetCollection(collection);
    const int dim = info.spec.dimension;

    // All vectors of the collection, for the raw hnswlib peer and the floor.
    std::vector<float> vectors;
    std::vector<std::string> ids;
    std::string after;
    while (true) {
        auto page = store.Scan(info.spec.name, after, 5000);
        if (!page.ok()) return 1;
        for (auto& r : page->records) {
            vectors.insert(vectors.end(), r.embedding.begin(), r.embedding.end());
            ids.push_back(r.id);
        }
        if (!page->next_after) break;
        after = *page->next_after;
    }
    const size_t count = ids.size();

    auto embedder = embed::CreateEmbedder(config::EmbeddingConfig{.dimension = dim});
    if (!embedder.ok()) return 1;
    std::vector<std::string> texts;
    std::ifstream in(queries_path);
    for (std::string line; std::getline(in, line) && texts.size() < n;)
        texts.push_back(nlohmann::json::parse(line)["query"]);
    n = texts.size();
    auto qv = (*embedder)->Embed(texts, embed::Purpose::kQuery);
    if (!qv.ok()) return 1;

    // Exact top-10 for recall.
    std::vector<std::int32_t> truth_idx;
    auto exact_top = [&](const std::vector<float>& q) {
        std::vector<std::pair<float, size_t>> s(count);
        for (size_t i = 0; i < count; ++i) {
            float d = 0;
            for (int j = 0; j < dim; ++j) d += q[static_cast<size_t>(j)] * vectors[i * dim + static_cast<size_t>(j)];
            s[i] = {-d, i};
        }
        std::partial_sort(s.begin(), s.begin() + std::min<size_t>(10, count), s.end());
        std::vector<std::string> out;
        for (size_t i = 0; i < std::min<size_t>(10, count); ++i) {
            out.push_back(ids[s[i].second]);
            truth_idx.push_back(static_cast<std::int32_t>(s[i].second));
        }
        return out;
    };
    std::vector<std::vector<std::string>> truth;
    for (const auto& q : *qv) truth.push_back(exact_top(q));

    {
        auto write = [&](const std::string& name, const void* data, size_t bytes) {
            std::ofstream(dump_dir + "/" + name, std::ios::binary).write(static_cast<const char*>(data),
                                                                        static_cast<std::streamsize>(bytes));
        };
        std::vector<float> flat_queries;
        for (const auto& q : *qv) flat_queries.insert(flat_queries.end(), q.begin(), q.end());
        write("vectors.f32", vectors.data(), vectors.size() * sizeof(float));
        write("queries.f32", flat_queries.data(), flat_queries.size() * sizeof(float));
        write("truth.i32", truth_idx.data(), truth_idx.size() * sizeof(std::int32_t));
        std::ofstream(dump_dir + "/meta.json") << nlohmann::json{{"count", count}, {"dim", dim}, {"n", n}, {"ef", ef}};
    }

    double ours_recall = 0;
    store::SearchOptions opts{.k = 10, .ef_search = ef};
    auto ours = Time(n, [&](size_t i) {
        auto hits = store.VectorSearch(info.spec.name, (*qv)[i], opts);
        int found = 0;
        for (const auto& h : *hits) found += std::count(truth[i].begin(), truth[i].end(), h.record.id) ? 1 : 0;
        ours_recall += found / 10.0;
    });
    search::Searcher searcher(store, **embedder, config::SearchConfig{.ef_search = ef});
    auto hybrid = Time(n, [&](size_t i) { (void)searcher.Search({.query = texts[i], .k = 10}); });
    // The same searches with stop words kept in the lexical query (as before ADR-26), same store, same run.
    auto hybrid_stop = Time(n, [&](size_t i) {
        (void)searcher.Search({.query = texts[i], .k = 10, .keep_stop_words = true});
    });
    store::SearchOptions exact_opts{.k = 10, .exact = true};
    size_t exact_n = std::min<size_t>(n, 50);
    auto exact = Time(exact_n, [&](size_t i) { (void)store.VectorSearch(info.spec.name, (*qv)[i], exact_opts); });

    // The floor is measured right after the scans (same run, same machine load); best of 5 passes.
    double bw = ReadBandwidthBytesPerSec();
    double bytes = static_cast<double>(count) * dim * sizeof(float);
    double floor_ms = bytes / bw * 1000;

    nlohmann::json report = {
        {"records", count}, {"dimension", dim}, {"queries", n}, {"ef_search", ef},
        {"ours_vector", ours.Json()}, {"ours_hybrid", hybrid.Json()},
        {"ours_hybrid_keep_stop_words", hybrid_stop.Json()},
        {"ours_exact_scan", exact.Json()}, {"recall_at_10", ours_recall / n},
        {"memory_read_gbps", bw / 1e9}, {"exact_scan_bytes", bytes}, {"exact_scan_floor_ms", floor_ms}};
    // Issue 16 goals 1 and 7 (bench/results/*.json "goals" convention).
    const double hybrid_p50 = report["ours_hybrid"]["p50_ms"].get<double>();
    const double exact_ratio = report["ours_exact_scan"]["p50_ms"].get<double>() / floor_ms;
    report["goals"] = nlohmann::json::array(
        {{{"goal", "1"}, {"name", "hybrid p50 ms (stdlib, in-process)"}, {"value", hybrid_p50}, {"target", 2.0},
          {"compare", "<="}, {"ok", hybrid_p50 <= 2.0},
          {"peer", "none (absolute target); vector p50 " +
                       std::to_string(report["ours_vector"]["p50_ms"].get<double>()) + " ms in the same run"}},
         {{"goal", "7"}, {"name", "exact scan p50 / memory-bandwidth floor (stdlib store)"}, {"value", exact_ratio},
          {"target", 1.25}, {"compare", "<="}, {"ok", exact_ratio <= 1.25},
          {"peer", "one sequential read of the same bytes, measured in the same run"}}});
    auto row = [](const char* name, const nlohmann::json& j) {
        std::printf("%-34s %9.3f %9.3f %10.0f\n", name, j["p50_ms"].get<double>(), j["p99_ms"].get<double>(),
                    j["qps"].get<double>());
    };
    std::printf("%zu records x %d dims, %zu queries, ef_search %d\n", count, dim, n, ef);
    std::printf("%-34s %9s %9s %10s\n", "path", "p50 ms", "p99 ms", "QPS");
    row("ours: vector (HNSW)", report["ours_vector"]);
    row("ours: hybrid search", report["ours_hybrid"]);
    row("ours: hybrid, stop words kept", report["ours_hybrid_keep_stop_words"]);
    row("ours: exact scan", report["ours_exact_scan"]);
    std::printf("goal 1: hybrid p50 %.3f ms (target <= 2.0 ms) %s\n", hybrid_p50, hybrid_p50 <= 2.0 ? "ok" : "NOT MET");
    std::printf("recall@10 vs exact: ours %.3f\n", ours_recall / n);
    std::printf("exact scan floor: %.1f MB at %.1f GB/s = %.3f ms (ours p50 %.3f ms)\n", bytes / 1e6, bw / 1e9,
                floor_ms, report["ours_exact_scan"]["p50_ms"].get<double>());
    std::printf("goal 7: exact scan / floor %.2f (target <= 1.25) %s\n", exact_ratio,
                exact_ratio <= 1.25 ? "ok" : "NOT MET");
    if (!json_out.empty()) std::ofstream(json_out) << report.dump(2) << "\n";
    return 0;
}
