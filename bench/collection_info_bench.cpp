// The per-search collection lookup, side by side on stores of different sizes (issue 16, goal 4:
// no per-search work that grows with the collection).
//
// Before: Searcher read the collection through GetCollection (the embedded store counts the
// collection's records and files on every call: O(records)). After: GetCollectionSpec (one
// indexed row). This program times both, and ListCollections / ListCollectionSpecs (a search
// without a collection), on each store given, plus one VectorSearch (k = 40, the Searcher's
// over-fetch, unfiltered) so that the lookup can be read as a share of a search:
//   old search step = GetCollection + VectorSearch, new = GetCollectionSpec + VectorSearch.
//
// Usage: collection_info_bench --store LABEL=URL [--store LABEL=URL ...] [--collection NAME]
//          [--iterations 200] [--json OUT]
//   Stores are opened read-only (as `serve` opens them); the collection defaults to each store's
//   first one. Fill stores with e.g. gen_export_tool + `signal-hub migrate import --store DIR`.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "store/vector_store.hpp"

using namespace signalhub;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void Die(const std::string& what) {
    std::fprintf(stderr, "collection_info_bench: %s\n", what.c_str());
    std::exit(1);
}

struct Timing {
    double p50_ms = 0;
    double mean_ms = 0;
};

// Runs `op` `n` times (after one warm-up call), dies on the first error.
Timing Time(int n, const std::function<Status()>& op, const std::string& what) {
    Status warm = op();
    if (!warm.ok()) Die(what + ": " + warm.ToString());
    std::vector<double> ms;
    ms.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto t0 = Clock::now();
        Status s = op();
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!s.ok()) Die(what + ": " + s.ToString());
    }
    Timing t;
    for (double x : ms) t.mean_ms += x / static_cast<double>(ms.size());
    std::nth_element(ms.begin(), ms.begin() + static_cast<std::ptrdiff_t>(ms.size() / 2), ms.end());
    t.p50_ms = ms[ms.size() / 2];
    return t;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Per-search collection lookup: GetCollection vs GetCollectionSpec at several store sizes"};
    std::vector<std::string> store_args;
    std::string collection;
    int iterations = 200;
    std::string json_out;
    app.add_option("--store", store_args, "LABEL=URL of a store to measure (repeat for each size)")->required();
    app.add_option("--collection", collection, "Collection to look up (default: each store's first)");
    app.add_option("--iterations", iterations, "Timed calls per operation (default 200)")->check(CLI::Range(1, 1000000));
    app.add_option("--json", json_out, "Write the results as JSON");
    CLI11_PARSE(app, argc, argv);

    nlohmann::json results = nlohmann::json::array();
    std::printf("%-10s %9s | %-28s | %-28s | %-28s | %9s | %s\n", "store", "records", "GetCollection p50/mean ms",
                "GetCollectionSpec p50/mean ms", "ListColl. / ListSpecs p50 ms", "VS p50 ms",
                "search step old -> new ms");
    for (const std::string& arg : store_args) {
        const size_t eq = arg.find('=');
        if (eq == std::string::npos) Die("--store wants LABEL=URL, got '" + arg + "'");
        const std::string label = arg.substr(0, eq);
        auto opened = store::OpenStore(arg.substr(eq + 1), store::OpenOptions{.read_only = true});
        if (!opened.ok()) Die(label + ": " + opened.status().ToString());
        store::VectorStore& s = **opened;
        std::string name = collection;
        if (name.empty()) {
            auto specs = s.ListCollectionSpecs();
            if (!specs.ok() || specs->empty()) Die(label + ": no collection");
            name = specs->front().name;
        }
        auto info = s.GetCollection(name);
        if (!info.ok()) Die(label + ": " + info.status().ToString());
        std::mt19937 rng(7);
        std::normal_distribution<float> gauss(0.0f, 1.0f);
        std::vector<float> query(static_cast<size_t>(info->spec.dimension));
        for (auto& x : query) x = gauss(rng);

        Timing info_t = Time(iterations, [&] { return s.GetCollection(name).status(); }, "GetCollection");
        Timing spec_t = Time(iterations, [&] { return s.GetCollectionSpec(name).status(); }, "GetCollectionSpec");
        Timing list_t = Time(iterations, [&] { return s.ListCollections().status(); }, "ListCollections");
        Timing lspec_t = Time(iterations, [&] { return s.ListCollectionSpecs().status(); }, "ListCollectionSpecs");
        Timing vs_t = Time(
            iterations, [&] { return s.VectorSearch(name, query, store::SearchOptions{.k = 40}).status(); },
            "VectorSearch");
        std::printf("%-10s %9lld | %12.3f / %-13.3f | %12.3f / %-13.3f | %12.3f / %-13.3f | %9.3f | %.3f -> %.3f\n",
                    label.c_str(), static_cast<long long>(info->records), info_t.p50_ms, info_t.mean_ms,
                    spec_t.p50_ms, spec_t.mean_ms, list_t.p50_ms, lspec_t.p50_ms, vs_t.p50_ms,
                    info_t.p50_ms + vs_t.p50_ms, spec_t.p50_ms + vs_t.p50_ms);
        results.push_back({{"store", label},
                           {"collection", name},
                           {"records", info->records},
                           {"iterations", iterations},
                           {"get_collection_p50_ms", info_t.p50_ms},
                           {"get_collection_mean_ms", info_t.mean_ms},
                           {"get_collection_spec_p50_ms", spec_t.p50_ms},
                           {"get_collection_spec_mean_ms", spec_t.mean_ms},
                           {"list_collections_p50_ms", list_t.p50_ms},
                           {"list_collection_specs_p50_ms", lspec_t.p50_ms},
                           {"vector_search_k40_p50_ms", vs_t.p50_ms}});
    }
    if (!json_out.empty()) {
        std::ofstream out(json_out);
        out << results.dump(2) << "\n";
        if (!out) Die("cannot write " + json_out);
    }
    return 0;
}
