// Lexical top-k, side by side in one run on the same documents and terms (issue 16, goal 2):
//  - ours: EmbeddedStore::LexicalSearch top-10 (its Xapian index, FTS5's bm25() formula, records
//    read from SQLite);
//  - peer: raw Xapian, Xapian::BM25Weight(k1 1.2, b 0.75) top-10 on an index of the same records
//    (the same LexicalTokens, wdf, no positions) built by this program in a temp directory, queried
//    with the same terms (LexicalQueryTerms) OR-ed; nothing else (no record reads).
// The two run interleaved, query by query, alternating which goes first. Also reports how many of
// the peer's top-10 ours returns (the formulas differ in the idf of terms in over half the records).
//
// Usage: lexical_bench --store DIR --queries FILE [--collection C] [--n 500] [--json OUT]

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unistd.h>
#include <xapian.h>

#include "store/registry.hpp"
#include "store/store_util.hpp"

using namespace signalhub;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

struct Latency {
    std::vector<double> ms;
    double total_s = 0;
    double Pct(double p) const {
        auto v = ms;
        std::sort(v.begin(), v.end());
        return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
    }
    nlohmann::json Json() const {
        return {{"p50_ms", Pct(0.50)},
                {"p99_ms", Pct(0.99)},
                {"qps", total_s > 0 ? static_cast<double>(ms.size()) / total_s : 0.0}};
    }
};

template <typename F>
void TimeOne(Latency& l, F&& fn) {
    auto t0 = Clock::now();
    fn();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    l.ms.push_back(s * 1000);
    l.total_s += s;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Lexical top-k benchmark: the embedded store's LexicalSearch vs raw Xapian BM25"};
    std::string store_dir, queries_path, collection, json_out;
    size_t n = 500;
    app.add_option("--store", store_dir, "Embedded store directory (opened read-only)")->required();
    app.add_option("--queries", queries_path, "queries.jsonl (its \"query\" texts)")->required();
    app.add_option("--collection", collection, "Collection (default: the first)");
    app.add_option("--n", n, "Number of queries");
    app.add_option("--json", json_out, "Write results as JSON here (with the issue-16 \"goals\" entry)");
    CLI11_PARSE(app, argc, argv);

    auto store_or = store::OpenStore(store_dir, {.read_only = true});
    if (!store_or.ok()) {
        std::fprintf(stderr, "%s\n", store_or.status().ToString().c_str());
        return 1;
    }
    auto& store = **store_or;
    auto collections = store.ListCollectionSpecs();
    if (!collections.ok() || collections->empty()) {
        std::fprintf(stderr, "no collection in %s\n", store_dir.c_str());
        return 1;
    }
    if (collection.empty()) collection = collections->front().name;

    std::vector<std::string> texts;
    std::ifstream in(queries_path);
    for (std::string line; std::getline(in, line) && texts.size() < n;) texts.push_back(nlohmann::json::parse(line)["query"]);
    n = texts.size();
    if (n == 0) {
        std::fprintf(stderr, "no queries in %s\n", queries_path.c_str());
        return 1;
    }

    // The peer's index: every record, the same tokens.
    const fs::path peer_dir = fs::temp_directory_path() / ("lexical_bench." + std::to_string(::getpid()));
    fs::remove_all(peer_dir);
    std::vector<std::string> ids{""};  // docid -> record id
    auto build_start = Clock::now();
    {
        Xapian::WritableDatabase w(peer_dir.string(), Xapian::DB_CREATE_OR_OVERWRITE | Xapian::DB_BACKEND_GLASS |
                                                          Xapian::DB_NO_SYNC);
        std::string after;
        while (true) {
            auto page = store.Scan(collection, after, 5000);
            if (!page.ok()) {
                std::fprintf(stderr, "%s\n", page.status().ToString().c_str());
                return 1;
            }
            for (const auto& r : page->records) {
                std::map<std::string, Xapian::termcount> counts;
                for (auto& t : store::LexicalTokens(r)) {
                    if (t.size() <= 240) counts[std::move(t)]++;
                }
                Xapian::Document doc;
                for (const auto& [t, wdf] : counts) doc.add_term(t, wdf);
                w.add_document(doc);
                ids.push_back(r.id);
            }
            if (!page->next_after) break;
            after = *page->next_after;
        }
        w.commit();
    }
    const double build_s = std::chrono::duration<double>(Clock::now() - build_start).count();
    Xapian::Database peer(peer_dir.string());

    // Warm both (first-touch page faults, lazily opened indexes).
    (void)store.LexicalSearch(collection, texts[0], {.k = 10});
    Latency ours, raw;
    double overlap = 0;
    size_t overlap_n = 0;
    for (size_t i = 0; i < n; ++i) {
        std::vector<std::string> ours_ids, peer_ids;
        auto run_ours = [&] {
            auto hits = store.LexicalSearch(collection, texts[i], {.k = 10});
            if (hits.ok()) {
                for (const auto& h : *hits) ours_ids.push_back(h.record.id);
            }
        };
        auto run_peer = [&] {
            const std::vector<std::string> terms = store::LexicalQueryTerms(texts[i]);
            Xapian::Enquire enquire(peer);
            enquire.set_query(Xapian::Query(Xapian::Query::OP_OR, terms.begin(), terms.end()));
            enquire.set_weighting_scheme(Xapian::BM25Weight(store::kBm25K1, 0, 1, store::kBm25B, 0.5));
            Xapian::MSet mset = enquire.get_mset(0, 10);
            for (auto it = mset.begin(); it != mset.end(); ++it) peer_ids.push_back(ids[*it]);
        };
        if (i % 2 == 0) {
            TimeOne(ours, run_ours);
            TimeOne(raw, run_peer);
        } else {
            TimeOne(raw, run_peer);
            TimeOne(ours, run_ours);
        }
        if (!peer_ids.empty()) {
            std::set<std::string> mine(ours_ids.begin(), ours_ids.end());
            size_t same = 0;
            for (const auto& id : peer_ids) same += mine.count(id);
            overlap += static_cast<double>(same) / static_cast<double>(peer_ids.size());
            overlap_n++;
        }
    }
    fs::remove_all(peer_dir);

    const double ratio = raw.Pct(0.5) > 0 ? ours.Pct(0.5) / raw.Pct(0.5) : 0;
    const double target = 2.0;
    nlohmann::json report = {
        {"records", ids.size() - 1},
        {"queries", n},
        {"ours_lexical_top10", ours.Json()},
        {"peer_xapian_bm25_top10", raw.Json()},
        {"peer_index_build_s", build_s},
        {"top10_overlap_with_peer", overlap_n > 0 ? overlap / static_cast<double>(overlap_n) : 0.0},
        {"p50_ratio", ratio},
        {"goals",
         nlohmann::json::array({{{"goal", "2"},
                                 {"name", "lexical top-k p50 / Xapian BM25 top-k p50"},
                                 {"value", ratio},
                                 {"target", target},
                                 {"compare", "<="},
                                 {"ok", ratio <= target},
                                 {"peer", "raw Xapian 1.4 BM25Weight top-10, same tokens and terms, same run"}}})}};
    auto row = [](const char* name, const nlohmann::json& j) {
        std::printf("%-44s %9.3f %9.3f %10.0f\n", name, j["p50_ms"].get<double>(), j["p99_ms"].get<double>(),
                    j["qps"].get<double>());
    };
    std::printf("%zu records, %zu queries, k = 10 (interleaved)\n", ids.size() - 1, n);
    std::printf("%-44s %9s %9s %10s\n", "path", "p50 ms", "p99 ms", "QPS");
    row("ours: EmbeddedStore::LexicalSearch", report["ours_lexical_top10"]);
    row("peer: raw Xapian BM25 top-10", report["peer_xapian_bm25_top10"]);
    std::printf("goal 2: ours p50 / peer p50 = %.2f (target <= %.1f) %s\n", ratio, target,
                ratio <= target ? "ok" : "NOT MET");
    std::printf("peer's top-10 found by ours: %.3f\n", report["top10_overlap_with_peer"].get<double>());
    if (!json_out.empty()) std::ofstream(json_out) << report.dump(2) << "\n";
    return 0;
}
