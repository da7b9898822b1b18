// Search through MCP over Streamable HTTP vs the same search in-process, side
// by side in one run on the same store and the same queries.
//
//  - in-process: search::Searcher::Search (hybrid, k = 10), no result cache,
//    from T threads; and again with the lexical half on an idle worker of a
//    4-thread pool, as `serve` runs it (ADR-34a; "in-process||");
//  - HTTP: `tools/call search_code` (limit 10) POSTed to a running
//    `signal-hub serve --transport http` (bench/run.sh starts it with the result
//    cache off), T keep-alive connections on loopback, one thread each, in one
//    MCP session.
// Both paths answer the same n queries (each thread takes every T-th query);
// every answer is checked (HTTP 200, a JSON-RPC result, not isError, the same
// top result as in-process). Reports p50 / p99 latency, QPS and the ratios.
// Then, at each concurrency, an open-loop run at 70% of the HTTP peak just
// measured (MeasurePaced: latency from each request's due time), whose p99
// is the "p99 at 70% of peak load" of issue 16 goal 3. With --raw-json (what
// raw_hnswlib_bench --threads wrote in the same bench run, on the same
// vectors and parameters) HTTP QPS is also set against raw hnswlib's.
//
// Usage: mcp_http_bench --store DIR --queries FILE --url http://127.0.0.1:P/mcp
//                       [--n 500] [--threads 1,4] [--raw-json FILE] [--server-pid PID] [--json OUT]
// --server-pid adds the serve process's CPU time per request beside the
// in-process search's CPU time per search: what HTTP + MCP cost in CPU,
// independent of how busy the machine is (QPS and latency are not).

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>
#include <time.h>
#include <unistd.h>

#include "concurrent_runs.hpp"
#include "embed/embedder.hpp"
#include "search/searcher.hpp"
#include "server/worker_pool.hpp"

using namespace signalhub;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Json = nlohmann::json;

namespace {

using bench::Measure;
using bench::MeasurePaced;

// One keep-alive HTTP/1.1 connection posting JSON-RPC messages to /mcp.
class McpConnection {
   public:
    McpConnection(const std::string& host, const std::string& port, std::string target)
        : stream_(ioc_), host_(host), port_(port), target_(std::move(target)) {
        Connect();
    }

    // POSTs `body`; returns the status, the body and the session header.
    struct Reply {
        unsigned status = 0;
        std::string body;
        std::string session;
    };
    // A connection the server closed while idle (its keep-alive timeout; e.g. while the in-process runs
    // went) is opened again once: the calls posted here (search_code) are safe to repeat.
    Reply Post(const std::string& body, const std::string& session) {
        try {
            return PostOnce(body, session);
        } catch (const boost::system::system_error& e) {
            if (e.code() != http::error::end_of_stream && e.code() != boost::asio::error::connection_reset &&
                e.code() != boost::asio::error::broken_pipe) {
                throw;
            }
            beast::error_code ignored;
            stream_.socket().close(ignored);
            buffer_.clear();
            Connect();
            return PostOnce(body, session);
        }
    }

   private:
    void Connect() {
        tcp::resolver resolver(ioc_);
        stream_.connect(resolver.resolve(host_, port_));
        stream_.socket().set_option(tcp::no_delay(true));
    }
    Reply PostOnce(const std::string& body, const std::string& session) {
        http::request<http::string_body> req{http::verb::post, target_, 11};
        req.set(http::field::host, host_);
        req.set(http::field::content_type, "application/json");
        req.set(http::field::accept, "application/json, text/event-stream");
        if (!session.empty()) req.set("Mcp-Session-Id", session);
        req.keep_alive(true);
        req.body() = body;
        req.prepare_payload();
        http::write(stream_, req);
        http::response<http::string_body> res;
        http::read(stream_, buffer_, res);
        Reply reply{res.result_int(), std::move(res.body()), {}};
        auto it = res.find("Mcp-Session-Id");
        if (it != res.end()) reply.session = std::string(it->value());
        return reply;
    }

    boost::asio::io_context ioc_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::string host_;
    std::string port_;
    std::string target_;
};

// CPU seconds (user + system) the process `pid` has used so far (/proc/PID/stat); -1 when unreadable.
double ProcessCpuSeconds(long pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) return -1;
    std::stringstream rest(stat.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {  // fields 14 and 15: utime, stime (clock ticks)
        if (i == 14) utime = std::stod(field);
        if (i == 15) stime = std::stod(field);
    }
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double OwnCpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::vector<int> ParseThreads(const std::string& list) {
    std::vector<int> out;
    std::stringstream ss(list);
    for (std::string item; std::getline(ss, item, ',');) out.push_back(std::max(1, std::stoi(item)));
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Search through MCP Streamable HTTP vs in-process, same store and queries, same run"};
    std::string store_dir, queries_path, url, json_out, raw_json, threads_list = "1,4";
    size_t n = 500;
    long server_pid = 0;
    app.add_option("--store", store_dir, "Store directory (the one the server serves)")->required();
    app.add_option("--queries", queries_path, "queries.jsonl (one {\"query\": ...} per line)")->required();
    app.add_option("--url", url, "The server's MCP endpoint, http://127.0.0.1:PORT/mcp")->required();
    app.add_option("--n", n, "Number of queries per run");
    app.add_option("--threads", threads_list, "Comma-separated concurrency levels (threads / connections)");
    app.add_option("--json", json_out, "Write results as JSON here");
    app.add_option("--raw-json", raw_json, "raw_hnswlib_bench --json output of this run (runs per thread count)");
    app.add_option("--server-pid", server_pid,
                   "The serve process: also report its CPU time per request beside in-process CPU per search "
                   "(load-independent, unlike QPS on a shared machine)");
    CLI11_PARSE(app, argc, argv);

    // Raw hnswlib QPS by thread count, when given.
    std::map<int, double> raw_qps;
    if (!raw_json.empty()) {
        try {
            Json raw = Json::parse(std::ifstream(raw_json));
            for (const Json& run : raw.at("runs")) raw_qps[run.at("threads").get<int>()] = run.at("qps").get<double>();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "mcp_http_bench: cannot read %s: %s\n", raw_json.c_str(), e.what());
            return 1;
        }
    }

    std::smatch m;
    static const std::regex kUrl(R"(http://([^/:]+):(\d+)(/.*))");
    if (!std::regex_match(url, m, kUrl)) {
        std::fprintf(stderr, "mcp_http_bench: --url must look like http://127.0.0.1:8080/mcp\n");
        return 2;
    }
    const std::string host = m[1], port = m[2], target = m[3];

    auto store = store::OpenStore(store_dir, {.read_only = true});
    if (!store.ok()) {
        std::fprintf(stderr, "mcp_http_bench: %s\n", store.status().ToString().c_str());
        return 1;
    }
    auto collections = (*store)->ListCollections();
    if (!collections.ok() || collections->empty()) {
        std::fprintf(stderr, "mcp_http_bench: the store has no collection\n");
        return 1;
    }
    auto embedder = embed::CreateEmbedder(config::EmbeddingConfig{.dimension = collections->front().spec.dimension});
    if (!embedder.ok()) return 1;
    search::Searcher searcher(**store, **embedder, config::SearchConfig{});
    // The same search with its lexical half on an idle worker, as `serve` runs it (ADR-34a): a pool of
    // the serve default's 4 workers, the searching threads being the bench's own.
    server::WorkerPool helpers(4);
    search::Searcher parallel_searcher = searcher;
    parallel_searcher.SetHelper(helpers.IdleExecutor());

    std::vector<std::string> queries;
    std::ifstream in(queries_path);
    for (std::string line; std::getline(in, line) && queries.size() < n;) queries.push_back(Json::parse(line)["query"]);
    n = queries.size();
    if (n == 0) {
        std::fprintf(stderr, "mcp_http_bench: no queries in %s\n", queries_path.c_str());
        return 1;
    }

    // The in-process top result of each query, to check the HTTP answers.
    std::vector<std::string> expected_top(n);
    for (size_t i = 0; i < n; ++i) {
        auto r = searcher.Search({.query = queries[i], .k = 10});
        if (!r.ok()) {
            std::fprintf(stderr, "mcp_http_bench: in-process search failed: %s\n", r.status().ToString().c_str());
            return 1;
        }
        expected_top[i] = r->results.empty() ? "" : r->results.front().id;
    }

    // One MCP session for every connection.
    std::string session;
    try {
        McpConnection c(host, port, target);
        Json init = {{"jsonrpc", "2.0"}, {"id", 0}, {"method", "initialize"},
                     {"params", {{"protocolVersion", "2025-06-18"}, {"capabilities", Json::object()},
                                 {"clientInfo", {{"name", "mcp_http_bench"}, {"version", "1"}}}}}};
        auto reply = c.Post(init.dump(), "");
        if (reply.status != 200 || reply.session.empty()) {
            std::fprintf(stderr, "mcp_http_bench: initialize: HTTP %u %s\n", reply.status, reply.body.c_str());
            return 1;
        }
        session = reply.session;
        c.Post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", session);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mcp_http_bench: cannot reach %s: %s\n", url.c_str(), e.what());
        return 1;
    }

    std::vector<std::string> bodies(n);
    for (size_t i = 0; i < n; ++i) {
        bodies[i] = Json{{"jsonrpc", "2.0"}, {"id", i + 1}, {"method", "tools/call"},
                         {"params", {{"name", "search_code"}, {"arguments", {{"query", queries[i]}, {"limit", 10}}}}}}
                        .dump();
    }

    Json report = {{"store", store_dir}, {"queries", n}, {"runs", Json::array()}, {"goals", Json::array()}};
    std::printf("%zu queries, hybrid, k=10; HTTP server result cache off\n", n);
    std::printf("%-8s %-12s %9s %9s %9s\n", "threads", "path", "p50 ms", "p99 ms", "QPS");
    for (int threads : ParseThreads(threads_list)) {
        std::vector<std::unique_ptr<McpConnection>> conns;
        for (int t = 0; t < threads; ++t) conns.push_back(std::make_unique<McpConnection>(host, port, target));
        auto http_call = [&](int t, size_t i) {
            try {
                auto reply = conns[static_cast<size_t>(t)]->Post(bodies[i], session);
                if (reply.status != 200) {
                    std::fprintf(stderr, "HTTP %u: %s\n", reply.status, reply.body.c_str());
                    return false;
                }
                Json j = Json::parse(reply.body);
                const Json& result = j.at("result");
                if (result.value("isError", false)) {
                    std::fprintf(stderr, "tool error: %s\n", reply.body.c_str());
                    return false;
                }
                const Json& results = result.at("structuredContent").at("results");
                std::string top = results.empty() ? "" : results.front().at("id").get<std::string>();
                if (top != expected_top[i]) {
                    std::fprintf(stderr, "query %zu: HTTP top %s, in-process top %s\n", i, top.c_str(),
                                 expected_top[i].c_str());
                    return false;
                }
                return true;
            } catch (const std::exception& e) {
                std::fprintf(stderr, "request %zu: %s\n", i, e.what());
                return false;
            }
        };
        auto in_process = [&](int, size_t i) { return searcher.Search({.query = queries[i], .k = 10}).ok(); };
        auto in_process_parallel = [&](int, size_t i) {
            return parallel_searcher.Search({.query = queries[i], .k = 10}).ok();
        };
        // Warm-up (page cache, HNSW, connections), then the measured runs.
        Measure("mcp_http_bench", std::min<size_t>(n, 50), threads, in_process);
        Measure("mcp_http_bench", std::min<size_t>(n, 50), threads, http_call);
        const double own_before = OwnCpuSeconds();
        Json local = Measure("mcp_http_bench", n, threads, in_process).Summary();
        const double own_after = OwnCpuSeconds();
        const double server_before = server_pid > 0 ? ProcessCpuSeconds(server_pid) : -1;
        Json remote = Measure("mcp_http_bench", n, threads, http_call).Summary();
        const double server_after = server_pid > 0 ? ProcessCpuSeconds(server_pid) : -1;
        Json local_parallel = Measure("mcp_http_bench", n, threads, in_process_parallel).Summary();
        double qps_ratio = remote["qps"].get<double>() / local["qps"].get<double>();
        double p50_overhead = remote["p50_ms"].get<double>() - local["p50_ms"].get<double>();
        std::printf("%-8d %-12s %9.3f %9.3f %9.0f\n", threads, "in-process", local["p50_ms"].get<double>(),
                    local["p99_ms"].get<double>(), local["qps"].get<double>());
        std::printf("%-8d %-12s %9.3f %9.3f %9.0f   (halves in parallel on idle workers, as serve; HTTP/this %.2f)\n",
                    threads, "in-process||", local_parallel["p50_ms"].get<double>(),
                    local_parallel["p99_ms"].get<double>(), local_parallel["qps"].get<double>(),
                    remote["qps"].get<double>() / local_parallel["qps"].get<double>());
        std::printf("%-8d %-12s %9.3f %9.3f %9.0f   (QPS ratio HTTP/in-process %.2f, p50 +%.3f ms)\n", threads,
                    "HTTP /mcp", remote["p50_ms"].get<double>(), remote["p99_ms"].get<double>(),
                    remote["qps"].get<double>(), qps_ratio, p50_overhead);
        // CPU per request: the server's (/proc; 10 ms ticks, so n requests resolve it to 10/n ms) and the
        // in-process search's (this process, which did nothing else meanwhile).
        const double in_process_cpu_ms = (own_after - own_before) * 1000 / static_cast<double>(n);
        local["cpu_ms_per_search"] = in_process_cpu_ms;
        if (server_before >= 0 && server_after >= 0) {
            const double server_cpu_ms = (server_after - server_before) * 1000 / static_cast<double>(n);
            remote["server_cpu_ms_per_request"] = server_cpu_ms;
            std::printf("%-8d %-12s CPU ms per request: server %.3f, in-process search %.3f (overhead %+.3f)\n",
                        threads, "CPU", server_cpu_ms, in_process_cpu_ms, server_cpu_ms - in_process_cpu_ms);
        }
        // Open loop at 70% of the HTTP peak: the latency an operator sees at a sustainable load.
        const double paced_rate = 0.7 * remote["qps"].get<double>();
        Json paced = MeasurePaced("mcp_http_bench", n, threads, paced_rate, http_call).Summary();
        paced["rate"] = paced_rate;
        std::printf("%-8d %-12s %9.3f %9.3f %9.0f   (open loop at 70%% of the HTTP peak: %.0f/s offered)\n",
                    threads, "HTTP @70%", paced["p50_ms"].get<double>(), paced["p99_ms"].get<double>(),
                    paced["qps"].get<double>(), paced_rate);
        Json run = {{"threads", threads}, {"in_process", local}, {"in_process_parallel_halves", local_parallel},
                    {"http", remote}, {"http_at_70_percent", paced},
                    {"qps_ratio_http_vs_in_process", qps_ratio}, {"p50_overhead_ms", p50_overhead}};
        const std::string level = std::to_string(threads) + (threads == 1 ? " connection" : " connections");
        report["goals"].push_back({{"goal", "3"}, {"name", "serve QPS / in-process hybrid QPS, " + level},
                                   {"value", qps_ratio}, {"target", 0.8}, {"compare", ">="}, {"ok", qps_ratio >= 0.8},
                                   {"peer", "Searcher::Search in-process, same store and queries"}});
        if (auto it = raw_qps.find(threads); it != raw_qps.end()) {
            const double raw_ratio = remote["qps"].get<double>() / it->second;
            run["raw_hnswlib_qps"] = it->second;
            run["qps_ratio_http_vs_raw_hnswlib"] = raw_ratio;
            std::printf("%-8d %-12s %9s %9s %9.0f   (QPS ratio HTTP/raw hnswlib %.2f)\n", threads, "raw hnswlib", "",
                        "", it->second, raw_ratio);
            report["goals"].push_back({{"goal", "3"}, {"name", "serve QPS / raw hnswlib QPS, " + level},
                                       {"value", raw_ratio}, {"target", 0.4}, {"compare", ">="},
                                       {"ok", raw_ratio >= 0.4},
                                       {"peer", "raw hnswlib on the same vectors and parameters"}});
        }
        report["goals"].push_back({{"goal", "3"}, {"name", "serve p99 ms at 70% of peak load, " + level},
                                   {"value", paced["p99_ms"]}, {"target", nullptr}, {"compare", "report"},
                                   {"ok", nullptr}, {"peer", "open loop at 0.7 x the measured HTTP QPS"}});
        report["runs"].push_back(run);
    }
    if (!json_out.empty()) std::ofstream(json_out) << report.dump(2) << "\n";
    return 0;
}
