// Search through MCP over Streamable HTTP vs the same search in-process, side
// by side in one run on the same store and the same queries.
//
//  - in-process: search::Searcher::Search (hybrid, k = 10), no result cache,
//    from T threads;
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
//                       [--n 500] [--threads 1,4] [--raw-json FILE] [--json OUT]

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
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "concurrent_runs.hpp"
#include "embed/embedder.hpp"
#include "search/searcher.hpp"

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
    app.add_option("--store", store_dir, "Store directory (the one the server serves)")->required();
    app.add_option("--queries", queries_path, "queries.jsonl (one {\"query\": ...} per line)")->required();
    app.add_option("--url", url, "The server's MCP endpoint, http://127.0.0.1:PORT/mcp")->required();
    app.add_option("--n", n, "Number of queries per run");
    app.add_option("--threads", threads_list, "Comma-separated concurrency levels (threads / connections)");
    app.add_option("--json", json_out, "Write results as JSON here");
    app.add_option("--raw-json", raw_json, "raw_hnswlib_bench --json output of this run (runs per thread count)");
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
        // Warm-up (page cache, HNSW, connections), then the measured runs.
        Measure("mcp_http_bench", std::min<size_t>(n, 50), threads, in_process);
        Measure("mcp_http_bench", std::min<size_t>(n, 50), threads, http_call);
        Json local = Measure("mcp_http_bench", n, threads, in_process).Summary();
        Json remote = Measure("mcp_http_bench", n, threads, http_call).Summary();
        double qps_ratio = remote["qps"].get<double>() / local["qps"].get<double>();
        double p50_overhead = remote["p50_ms"].get<double>() - local["p50_ms"].get<double>();
        std::printf("%-8d %-12s %9.3f %9.3f %9.0f\n", threads, "in-process", local["p50_ms"].get<double>(),
                    local["p99_ms"].get<double>(), local["qps"].get<double>());
        std::printf("%-8d %-12s %9.3f %9.3f %9.0f   (QPS ratio HTTP/in-process %.2f, p50 +%.3f ms)\n", threads,
                    "HTTP /mcp", remote["p50_ms"].get<double>(), remote["p99_ms"].get<double>(),
                    remote["qps"].get<double>(), qps_ratio, p50_overhead);
        // Open loop at 70% of the HTTP peak: the latency an operator sees at a sustainable load.
        const double paced_rate = 0.7 * remote["qps"].get<double>();
        Json paced = MeasurePaced("mcp_http_bench", n, threads, paced_rate, http_call).Summary();
        paced["rate"] = paced_rate;
        std::printf("%-8d %-12s %9.3f %9.3f %9.0f   (open loop at 70%% of the HTTP peak: %.0f/s offered)\n",
                    threads, "HTTP @70%", paced["p50_ms"].get<double>(), paced["p99_ms"].get<double>(),
                    paced["qps"].get<double>(), paced_rate);
        Json run = {{"threads", threads}, {"in_process", local}, {"http", remote}, {"http_at_70_percent", paced},
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
