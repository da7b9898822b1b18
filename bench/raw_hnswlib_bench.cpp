// The peer of query_bench: raw hnswlib (no store, no SQLite, no fetch of
// documents) built with the embedded store's parameters (M=16,
// ef_construction=200: kHnswM / kHnswEfConstruction, inner product over unit vectors) over the vectors that
// query_bench dumped, queried with the same queries and ef_search, from 1 thread
// and then from each further --threads level (searchKnn is safe to call
// concurrently; each thread takes every T-th query), for mcp_http_bench's
// "serve QPS vs raw hnswlib QPS" ratio (issue 16, goal 3).
//
// Usage: raw_hnswlib_bench --dump DIR [--threads 1,4] [--json OUT]

#include <hnswlib/hnswlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "store/embedded/hnsw_index.hpp"  // graph parameters only

using Clock = std::chrono::steady_clock;

template <typename T>
static std::vector<T> ReadAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<T> out(bytes.size() / sizeof(T));
    std::copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(out.size() * sizeof(T)),
              reinterpret_cast<char*>(out.data()));
    return out;
}

int main(int argc, char** argv) {
    CLI::App app{"Raw hnswlib peer for query_bench"};
    std::string dump, json_out, threads_list = "1";
    app.add_option("--dump", dump, "Directory written by query_bench --dump")->required();
    app.add_option("--threads", threads_list, "Comma-separated thread counts for the query runs (first: recall)");
    app.add_option("--json", json_out, "Write results as JSON here");
    CLI11_PARSE(app, argc, argv);
    auto meta = nlohmann::json::parse(std::ifstream(dump + "/meta.json"));
    const size_t count = meta["count"], dim = meta["dim"], n = meta["n"], ef = meta["ef"];
    auto vectors = ReadAll<float>(dump + "/vectors.f32");
    auto queries = ReadAll<float>(dump + "/queries.f32");
    auto truth = ReadAll<std::int32_t>(dump + "/truth.i32");
    if (vectors.size() != count * dim || queries.size() != n * dim || truth.size() != n * 10) {
        std::fprintf(stderr, "dump in %s is inconsistent with meta.json\n", dump.c_str());
        return 1;
    }
    hnswlib::InnerProductSpace space(dim);
    auto t0 = Clock::now();
    hnswlib::HierarchicalNSW<float> index(&space, count, signalhub::store::kHnswM,
                                          signalhub::store::kHnswEfConstruction);
    for (size_t i = 0; i < count; ++i) index.addPoint(vectors.data() + i * dim, i);
    double build_s = std::chrono::duration<double>(Clock::now() - t0).count();
    index.setEf(ef);

    std::vector<size_t> levels;
    std::stringstream list(threads_list);
    for (std::string item; std::getline(list, item, ',');) levels.push_back(std::max(1, std::stoi(item)));
    if (levels.empty()) levels.push_back(1);

    nlohmann::json r = {{"build_s", build_s}, {"runs", nlohmann::json::array()}};
    for (size_t level = 0; level < levels.size(); ++level) {
        const size_t threads = levels[level];
        std::vector<std::vector<double>> per_thread(threads);
        std::vector<double> found_by(threads, 0);
        auto start = Clock::now();
        std::vector<std::thread> pool;
        for (size_t t = 0; t < threads; ++t) {
            pool.emplace_back([&, t] {
                for (size_t q = t; q < n; q += threads) {
                    auto t0 = Clock::now();
                    auto res = index.searchKnn(queries.data() + q * dim, 10);
                    per_thread[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
                    while (!res.empty()) {
                        auto label = static_cast<std::int32_t>(res.top().second);
                        found_by[t] += std::count(truth.begin() + static_cast<std::ptrdiff_t>(q * 10),
                                                  truth.begin() + static_cast<std::ptrdiff_t>(q * 10 + 10), label)
                                           ? 1
                                           : 0;
                        res.pop();
                    }
                }
            });
        }
        for (auto& th : pool) th.join();
        double total = std::chrono::duration<double>(Clock::now() - start).count();
        std::vector<double> ms;
        double found = 0;
        for (size_t t = 0; t < threads; ++t) {
            ms.insert(ms.end(), per_thread[t].begin(), per_thread[t].end());
            found += found_by[t];
        }
        std::sort(ms.begin(), ms.end());
        auto pct = [&](double p) { return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))]; };
        nlohmann::json run = {{"threads", threads}, {"p50_ms", pct(0.5)}, {"p99_ms", pct(0.99)}, {"qps", n / total},
                              {"recall_at_10", found / (n * 10.0)}};
        r["runs"].push_back(run);
        if (level == 0) {  // the single-thread figures, as before
            for (const char* key : {"p50_ms", "p99_ms", "qps", "recall_at_10"}) r[key] = run[key];
        }
        char label[40];
        std::snprintf(label, sizeof label, "raw hnswlib (peer) x%zu", threads);
        std::printf("%-22s %9.3f %9.3f %10.0f   recall@10 %.3f (build %.1f s)\n", label, pct(0.5), pct(0.99),
                    n / total, found / (n * 10.0), build_s);
    }
    if (!json_out.empty()) std::ofstream(json_out) << r.dump(2) << "\n";
    return 0;
}
