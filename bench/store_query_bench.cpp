// Vector search through our VectorStore backends, side by side on the same collection (the
// records of one export file) and the same queries: the embedded store, PostgreSQL + pgvector and
// ChromaDB, each opened with store::OpenStore(URL).
//
//  - recall@10 of VectorSearch (k = 10, backend-default ef_search) against an exact top-10
//    computed here in double precision over the file's vectors;
//  - latency p50 / p99 and QPS with 1..N client threads, each thread looping over the queries
//    for --seconds (one VectorSearch per query: no cache, no embedding);
//  - the ef_search sweep (SearchOptions::ef_search) of the backends that honour it (embedded,
//    PostgreSQL; Chroma sets ef per collection): recall@10, p50, p99;
//  - --pgbench-dir: one pgbench script per query holding the exact statements PgVectorStore sends
//    for that search (collection lookup; BEGIN READ ONLY + SET LOCAL hnsw.ef_search +
//    SET LOCAL hnsw.iterative_scan in one round trip; the ORDER BY ... LIMIT query; COMMIT), so
//    that bench/run.sh can drive the same SQL with pgbench at the same concurrency.
//
// Queries: --queries records of the file chosen with a fixed seed, each plus Gaussian noise
// (sigma 0.35 per dimension, as gen_export_tool's clusters), so they are near, not on, the data.
//
// --load: a store whose collection is missing or holds another number of records is (re)filled
// from the file through VectorStore::Commit in batches of --batch-size (the generic path every
// backend has; bench/run.sh fills PostgreSQL and the embedded store with `migrate import`).
// --load-only: load, report the load rate, exit.
//
// Usage: store_query_bench --input FILE --store NAME=URL [--store NAME=URL ...] [--queries 100]
//          [--threads 1,4] [--seconds 5] [--ef-sweep 16,40,64,128,256] [--load] [--load-only]
//          [--pgbench-dir DIR] [--json OUT]
//   NAME is a label (embedded, postgresql, chroma); URL anything OpenStore accepts.

#include <libpq-fe.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "db/postgres/pg_client.hpp"
#include "ops/export_reader.hpp"
#include "store/store_util.hpp"
#include "store/vector_store.hpp"

using namespace signalhub;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kK = 10;
constexpr int kSweepPasses = 5;  // passes over the queries per ef_search value

[[noreturn]] void Die(const std::string& what) {
    std::fprintf(stderr, "store_query_bench: %s\n", what.c_str());
    std::exit(1);
}

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Collected {
    ops::ExportHeader header;
    std::vector<Record> records;
};

class Collect final : public ops::ExportVisitor {
   public:
    explicit Collect(Collected& out) : out_(out) {}
    Status OnHeader(const ops::ExportHeader& header) override {
        if (!seen_) out_.header = header;
        seen_ = true;
        return Status::Ok();
    }
    Status OnRecord(const ops::ExportHeader& header, Record&& record, const ops::Digest& /*digest*/) override {
        if (header.spec.name == out_.header.spec.name) out_.records.push_back(std::move(record));
        return Status::Ok();
    }

   private:
    Collected& out_;
    bool seen_ = false;
};

struct Percentiles {
    double p50 = 0, p99 = 0;
};
Percentiles Pct(std::vector<double> ms) {
    if (ms.empty()) return {};
    std::sort(ms.begin(), ms.end());
    auto at = [&](double p) {
        return ms[std::min(ms.size() - 1, static_cast<size_t>(p * static_cast<double>(ms.size())))];
    };
    return {at(0.50), at(0.99)};
}

std::vector<int> ParseInts(const std::string& s) {
    std::vector<int> out;
    size_t start = 0;
    while (start < s.size()) {
        size_t end = s.find(',', start);
        if (end == std::string::npos) end = s.size();
        if (end > start) out.push_back(std::stoi(s.substr(start, end - start)));
        start = end + 1;
    }
    return out;
}

// Exact top-k ids (similarity in double precision, ties by id), as every backend ranks.
std::vector<std::string> ExactTopK(const std::vector<std::vector<float>>& prepared, const std::vector<Record>& records,
                                   DistanceMetric metric, std::span<const float> query) {
    const std::vector<float> q = store::PrepareVector(metric, query);
    std::vector<std::pair<double, size_t>> scored(records.size());
    for (size_t i = 0; i < records.size(); ++i) scored[i] = {store::Similarity(metric, q, prepared[i]), i};
    const size_t k = std::min(kK, scored.size());
    std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(k), scored.end(),
                      [&](const auto& a, const auto& b) {
                          if (a.first != b.first) return a.first > b.first;
                          return records[a.second].id < records[b.second].id;
                      });
    std::vector<std::string> ids;
    for (size_t i = 0; i < k; ++i) ids.push_back(records[scored[i].second].id);
    return ids;
}

struct Pass {
    double recall = 0;
    std::vector<double> ms;
};

// One VectorSearch per query; recall@10 against `truth`.
Pass RunPass(store::VectorStore& s, const std::string& collection, const std::vector<std::vector<float>>& queries,
             const std::vector<std::vector<std::string>>& truth, int ef) {
    Pass p;
    size_t found = 0, wanted = 0;
    store::SearchOptions o;
    o.k = kK;
    o.ef_search = ef;
    for (size_t i = 0; i < queries.size(); ++i) {
        const auto t0 = Clock::now();
        auto hits = s.VectorSearch(collection, queries[i], o);
        p.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!hits.ok()) Die("VectorSearch: " + hits.status().ToString());
        const std::set<std::string> want(truth[i].begin(), truth[i].end());
        for (const auto& h : *hits) found += want.count(h.record.id);
        wanted += want.size();
    }
    p.recall = wanted == 0 ? 0.0 : static_cast<double>(found) / static_cast<double>(wanted);
    return p;
}

struct Throughput {
    double qps = 0;
    Percentiles lat;
    size_t queries = 0;
};

// `threads` clients share one store (its pool), each looping over the queries for `seconds`.
Throughput RunThreads(store::VectorStore& s, const std::string& collection,
                      const std::vector<std::vector<float>>& queries, int threads, double seconds) {
    std::vector<std::vector<double>> ms(static_cast<size_t>(threads));
    std::atomic<bool> failed{false};
    std::string error;
    std::mutex error_mu;
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            store::SearchOptions o;
            o.k = kK;
            size_t i = static_cast<size_t>(t) * queries.size() / static_cast<size_t>(threads);
            auto& mine = ms[static_cast<size_t>(t)];
            while (!failed.load() && Clock::now() < deadline) {
                const auto t0 = Clock::now();
                auto hits = s.VectorSearch(collection, queries[i % queries.size()], o);
                mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
                if (!hits.ok()) {
                    std::lock_guard lock(error_mu);
                    error = hits.status().ToString();
                    failed = true;
                }
                ++i;
            }
        });
    }
    for (auto& th : pool) th.join();
    const double elapsed = Since(start);
    if (failed) Die("VectorSearch: " + error);
    std::vector<double> all;
    for (auto& v : ms) all.insert(all.end(), v.begin(), v.end());
    Throughput r;
    r.queries = all.size();
    r.qps = static_cast<double>(all.size()) / elapsed;
    r.lat = Pct(std::move(all));
    return r;
}

// (Re)fills `collection` from the file when it is missing or holds another number of records.
// Returns the seconds spent (0 when nothing was loaded).
double LoadIfNeeded(store::VectorStore& s, const Collected& data, size_t batch, bool& loaded) {
    loaded = false;
    const std::string& name = data.header.spec.name;
    auto info = s.GetCollection(name);
    if (info.ok() && info->records == static_cast<std::int64_t>(data.records.size())) return 0;
    const auto t0 = Clock::now();
    if (info.ok()) {
        if (Status st = s.DropCollection(name); !st.ok()) Die("DropCollection: " + st.ToString());
    }
    if (auto e = s.EnsureCollection(data.header.spec); !e.ok()) Die("EnsureCollection: " + e.status().ToString());
    for (size_t start = 0; start < data.records.size(); start += batch) {
        store::ChangeSet cs;
        const size_t end = std::min(data.records.size(), start + batch);
        cs.upserts.assign(data.records.begin() + static_cast<std::ptrdiff_t>(start),
                          data.records.begin() + static_cast<std::ptrdiff_t>(end));
        if (Status st = s.Commit(name, cs); !st.ok()) Die("Commit: " + st.ToString());
    }
    if (Status st = s.Flush(); !st.ok()) Die("Flush: " + st.ToString());
    loaded = true;
    return Since(t0);
}

std::string HexBytea(const std::string& bytes) {
    static const char* kHex = "0123456789abcdef";
    std::string out = "'\\x";
    for (unsigned char ch : bytes) {
        out.push_back(kHex[ch >> 4]);
        out.push_back(kHex[ch & 15]);
    }
    return out + "'::bytea";
}

// Scripts for pgbench (-M simple): the statements of PgVectorStore::VectorSearch (see SearchOnce
// in src/store/pgvector/pgvector_store.cpp) for an unfiltered k = 10 search at the store's
// default ef_search (128), one file per query.
void WritePgbenchScripts(const std::string& url, const CollectionSpec& spec,
                         const std::vector<std::vector<float>>& queries, const std::string& dir) {
    auto parsed = db::pg::ParsePgUrl(url);
    if (!parsed.ok()) Die(parsed.status().ToString());
    std::vector<const char*> keys, values;
    for (const auto& [k, v] : parsed->libpq_params) {
        keys.push_back(k.c_str());
        values.push_back(v.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    PGconn* c = PQconnectdbParams(keys.data(), values.data(), 0);
    if (PQstatus(c) != CONNECTION_OK) Die(std::string("connect: ") + PQerrorMessage(c));
    const std::string schema = db::pg::QuoteIdent(parsed->schema);
    auto scalar = [&](const std::string& sql) {
        PGresult* r = PQexec(c, sql.c_str());
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
            Die(sql + ": " + PQresultErrorMessage(r) + " (" + std::to_string(PQntuples(r)) + " rows)");
        }
        std::string v = PQgetvalue(r, 0, 0);
        PQclear(r);
        return v;
    };
    const std::string id =
        scalar("SELECT c.id FROM " + schema + ".signal_hub_collections c WHERE c.name = " + HexBytea(spec.name));
    const std::string ext =
        db::pg::QuoteIdent(scalar("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = "
                                     "e.extnamespace WHERE e.extname = 'vector'"));
    PQfinish(c);
    std::string op = "<=>";
    if (spec.metric == DistanceMetric::kL2) op = "<->";
    if (spec.metric == DistanceMetric::kInnerProduct) op = "<#>";
    std::filesystem::create_directories(dir);
    for (size_t i = 0; i < queries.size(); ++i) {
        std::string vec = "'[";
        char buf[32];
        for (size_t d = 0; d < queries[i].size(); ++d) {
            std::snprintf(buf, sizeof buf, "%s%.9g", d == 0 ? "" : ",", static_cast<double>(queries[i][d]));
            vec += buf;
        }
        vec += "]'";
        char name[32];
        std::snprintf(name, sizeof name, "q%03zu.sql", i);
        std::ofstream f(std::filesystem::path(dir) / name);
        f << "-- PgVectorStore::VectorSearch, k = 10, default ef_search: the same four round trips\n"
          << "SELECT c.id, c.name, c.model, c.dimension, c.metric, c.records, c.total_tokens, c.last_indexed FROM "
          << schema << ".signal_hub_collections c WHERE c.name = " << HexBytea(spec.name) << ";\n"
          << "BEGIN READ ONLY \\; SET LOCAL hnsw.ef_search = 128 \\; SET LOCAL hnsw.iterative_scan = relaxed_order;\n"
          << "SELECT r.id, r.document, r.metadata, r.embedding FROM " << schema << "."
          << db::pg::QuoteIdent("signal_hub_records_" + id) << " r WHERE true ORDER BY r.embedding OPERATOR(" << ext
          << "." << op << ") " << vec << "::" << ext << ".vector LIMIT 10::int8;\n"
          << "COMMIT;\n";
        if (!f) Die("cannot write " + dir);
    }
}

bool HonoursEfSearch(const std::string& url) { return !url.starts_with("chroma+"); }

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Vector search through embedded, PostgreSQL and Chroma stores on the same collection"};
    std::string input, threads_arg = "1,4", sweep_arg = "16,40,64,128,256", pgbench_dir, json_out;
    std::vector<std::string> store_args;
    size_t n_queries = 100, batch = 1000;
    double seconds = 5;
    bool load = false, load_only = false;
    app.add_option("--input", input, "Export file whose first collection is the data (and the truth)")->required();
    app.add_option("--store", store_args, "NAME=URL of a store holding (or to receive) that collection")->required();
    app.add_option("--queries", n_queries, "Number of queries (default 100; pgbench takes at most 128 scripts)")
        ->check(CLI::Range(1, 100000));
    app.add_option("--threads", threads_arg, "Client thread counts for the throughput runs (default 1,4)");
    app.add_option("--seconds", seconds, "Duration of each throughput run (default 5)");
    app.add_option("--ef-sweep", sweep_arg, "ef_search values for the sweep (\"\" to skip)");
    app.add_option("--batch-size", batch, "Records per Commit when loading (default 1000)")
        ->check(CLI::Range(1, 1000000));
    app.add_flag("--load", load, "Fill stores whose collection is missing or has another record count");
    app.add_flag("--load-only", load_only, "Load (as --load), print the load rate and exit");
    app.add_option("--pgbench-dir", pgbench_dir, "Write one pgbench script per query for the postgresql store here");
    app.add_option("--json", json_out, "Write the results as JSON");
    CLI11_PARSE(app, argc, argv);
    if (load_only) load = true;

    std::vector<std::pair<std::string, std::string>> stores;
    for (const auto& a : store_args) {
        const size_t eq = a.find('=');
        if (eq == std::string::npos || eq == 0) Die("--store wants NAME=URL, got '" + a + "'");
        stores.emplace_back(a.substr(0, eq), a.substr(eq + 1));
    }

    Collected data;
    Collect visitor(data);
    if (Status s = ops::ReadExport(input, visitor); !s.ok()) Die(s.ToString());
    const CollectionSpec spec = data.header.spec;
    if (data.records.empty()) Die("no records in " + input);
    const size_t dim = static_cast<size_t>(spec.dimension);

    nlohmann::json out = {{"collection", spec.name},
                          {"records", data.records.size()},
                          {"dimension", spec.dimension},
                          {"metric", std::string(DistanceMetricName(spec.metric))},
                          {"k", kK},
                          {"queries", n_queries},
                          {"seconds_per_throughput_run", seconds},
                          {"stores", nlohmann::json::object()}};

    if (load_only) {
        for (const auto& [name, url] : stores) {
            auto s = store::OpenStore(url, {});
            if (!s.ok()) Die(name + ": " + s.status().ToString());
            bool loaded = false;
            const double secs = LoadIfNeeded(**s, data, batch, loaded);
            const double rate = loaded ? static_cast<double>(data.records.size()) / secs : 0.0;
            if (loaded) {
                std::printf(
                    "%-12s loaded %zu records through VectorStore::Commit (batches of %zu) in %.2f s: %.0f rows/s\n",
                    name.c_str(), data.records.size(), batch, secs, rate);
            } else {
                std::printf("%-12s already holds the %zu records\n", name.c_str(), data.records.size());
            }
            out["stores"][name] = {{"loaded", loaded}, {"load_s", secs}, {"load_rows_per_s", rate}};
        }
        if (!json_out.empty()) std::ofstream(json_out) << out.dump(2) << "\n";
        return 0;
    }

    // Queries near the data, and the exact truth.
    std::mt19937 rng(4242);
    std::normal_distribution<float> noise(0.0f, 0.35f);
    std::vector<std::vector<float>> queries(n_queries);
    for (auto& q : queries) {
        const Record& base = data.records[rng() % data.records.size()];
        q.resize(dim);
        for (size_t d = 0; d < dim; ++d) q[d] = base.embedding[d] + noise(rng);
    }
    const auto t_truth = Clock::now();
    std::vector<std::vector<float>> prepared;
    prepared.reserve(data.records.size());
    for (const auto& r : data.records) prepared.push_back(store::PrepareVector(spec.metric, r.embedding));
    std::vector<std::vector<std::string>> truth;
    for (const auto& q : queries) truth.push_back(ExactTopK(prepared, data.records, spec.metric, q));
    std::printf("collection %s: %zu records x %d dims (%s); %zu queries; exact top-10 computed in %.2f s\n",
                spec.name.c_str(), data.records.size(), spec.dimension,
                std::string(DistanceMetricName(spec.metric)).c_str(), n_queries, Since(t_truth));

    const std::vector<int> thread_counts = ParseInts(threads_arg);
    const std::vector<int> sweep = ParseInts(sweep_arg);
    std::map<std::string, nlohmann::json> results;
    std::printf("\n%-12s %9s | %s\n", "store", "recall@10", "per thread count: QPS  p50 ms  p99 ms");
    for (const auto& [name, url] : stores) {
        auto opened = store::OpenStore(url, {});
        if (!opened.ok()) Die(name + ": " + opened.status().ToString());
        store::VectorStore& s = **opened;
        nlohmann::json r;
        if (load) {
            bool loaded = false;
            const double secs = LoadIfNeeded(s, data, batch, loaded);
            if (loaded) r["load_s"] = secs;
        }
        auto info = s.GetCollection(spec.name);
        if (!info.ok()) Die(name + ": " + info.status().ToString());
        if (info->records != static_cast<std::int64_t>(data.records.size())) {
            Die(name + ": collection " + spec.name + " holds " + std::to_string(info->records) + " records, the file " +
                std::to_string(data.records.size()) + " (use --load)");
        }
        RunPass(s, spec.name, queries, truth, 0);  // warm-up: caches, pool connections, HNSW pages
        const Pass base = RunPass(s, spec.name, queries, truth, 0);
        r["recall_at_10"] = base.recall;
        std::printf("%-12s %9.3f |", name.c_str(), base.recall);
        nlohmann::json th = nlohmann::json::object();
        for (int t : thread_counts) {
            const Throughput tp = RunThreads(s, spec.name, queries, t, seconds);
            th[std::to_string(t)] = {
                {"qps", tp.qps}, {"p50_ms", tp.lat.p50}, {"p99_ms", tp.lat.p99}, {"searches", tp.queries}};
            std::printf("  %dT: %7.0f %7.2f %7.2f", t, tp.qps, tp.lat.p50, tp.lat.p99);
        }
        std::printf("\n");
        r["threads"] = th;
        if (HonoursEfSearch(url) && !sweep.empty()) {
            nlohmann::json sw = nlohmann::json::array();
            for (int ef : sweep) {
                Pass p = RunPass(s, spec.name, queries, truth, ef);
                for (int pass = 1; pass < kSweepPasses; ++pass) {  // more latency samples (recall: the same)
                    const Pass more = RunPass(s, spec.name, queries, truth, ef);
                    p.ms.insert(p.ms.end(), more.ms.begin(), more.ms.end());
                }
                const Percentiles pc = Pct(p.ms);
                sw.push_back({{"ef_search", ef}, {"recall_at_10", p.recall}, {"p50_ms", pc.p50}, {"p99_ms", pc.p99}});
            }
            r["ef_sweep"] = sw;
        }
        if (!pgbench_dir.empty() && (url.starts_with("postgresql://") || url.starts_with("postgres://"))) {
            WritePgbenchScripts(url, spec, queries, pgbench_dir);
            r["pgbench_scripts"] = pgbench_dir;
        }
        results[name] = r;
        out["stores"][name] = r;
    }
    for (const auto& [name, r] : results) {
        if (!r.contains("ef_sweep")) continue;
        std::printf("\nef_search sweep, %s (1 thread, %zu queries x %d passes):\n%10s %10s %9s %9s\n", name.c_str(),
                    n_queries, kSweepPasses, "ef_search", "recall@10", "p50 ms", "p99 ms");
        for (const auto& e : r["ef_sweep"]) {
            std::printf("%10d %10.3f %9.2f %9.2f\n", e["ef_search"].get<int>(), e["recall_at_10"].get<double>(),
                        e["p50_ms"].get<double>(), e["p99_ms"].get<double>());
        }
    }
    if (!json_out.empty()) {
        std::ofstream f(json_out);
        f << out.dump(2) << "\n";
        if (!f) Die("cannot write " + json_out);
    }
    return 0;
}
