// The price of the production security settings, side by side in one run on the same store and
// the same queries: `tools/call search_code` POSTed to two `signal-hub serve --transport http`
// processes serving one store (bench/run.sh security starts them):
//
//  - plain:  http://, no API keys, no rate limiting;
//  - secure: https:// with TLS 1.3 (the client allows nothing older), an API key on every request
//            (Authorization: Bearer, HMAC-SHA256 check against the key file) and the rate limiter
//            (memory backend, a limit high enough never to refuse: every request pays the check).
//
// For each concurrency level T: T keep-alive connections, one thread each, one MCP session per
// server; every answer is checked (HTTP 200, a JSON-RPC result, not isError) and the top result
// must be the same on both servers. The two paths run in alternation (plain, secure, plain, secure)
// and each reports its better round, so neither gets the warmer machine. Then the cost of refusing:
//  - 401: a well-formed key whose id the server does not know (the cheapest refusal after parsing);
//  - 429: a key whose own rate limit (keys create --rate-limit) is exhausted, i.e. a valid key check
//         plus a rate-limiter decision;
// each as n requests on keep-alive TLS connections, beside the accepted search requests.
// Also the connection set-up: n new connections, each one GET /health (TCP vs TCP + TLS 1.3).
//
// Usage: secure_http_bench --queries FILE --plain-url http://127.0.0.1:P/mcp
//          --secure-url https://127.0.0.1:Q/mcp --ca CA.crt --key KEY --limited-key KEY2
// (the secure server's anonymous limit must not throttle the 401 run: failed authentication counts there)
//          [--n 500] [--threads 1,4] [--json OUT]

#include <openssl/ssl.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "concurrent_runs.hpp"

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Json = nlohmann::json;

namespace {

[[noreturn]] void Die(const std::string& message) {
    std::fprintf(stderr, "secure_http_bench: %s\n", message.c_str());
    std::exit(1);
}

struct Endpoint {
    bool tls = false;
    std::string host, port, target;
};

Endpoint ParseUrl(const std::string& url) {
    static const std::regex kUrl(R"((https?)://([^/:]+):(\d+)(/.*))");
    std::smatch m;
    if (!std::regex_match(url, m, kUrl)) Die("not an http(s)://HOST:PORT/PATH URL: " + url);
    return {m[1] == "https", m[2], m[3], m[4]};
}

// One keep-alive HTTP/1.1 connection, over TLS or not.
class Connection {
   public:
    Connection(const Endpoint& ep, ssl::context* tls) : ep_(ep) {
        tcp::resolver resolver(ioc_);
        auto addresses = resolver.resolve(ep.host, ep.port);
        if (tls == nullptr) {
            plain_.emplace(ioc_);
            plain_->connect(addresses);
            plain_->socket().set_option(tcp::no_delay(true));
            return;
        }
        tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, *tls);
        beast::get_lowest_layer(*tls_).connect(addresses);
        beast::get_lowest_layer(*tls_).socket().set_option(tcp::no_delay(true));
        tls_->handshake(ssl::stream_base::client);
        if (SSL_version(tls_->native_handle()) != TLS1_3_VERSION) Die("the server did not negotiate TLS 1.3");
    }

    struct Reply {
        unsigned status = 0;
        std::string body;
        std::string session;
    };

    Reply Send(http::verb verb, const std::string& target, const std::string& body, const std::string& session,
               const std::string& key) {
        http::request<http::string_body> req{verb, target, 11};
        req.set(http::field::host, ep_.host);
        if (verb == http::verb::post) {
            req.set(http::field::content_type, "application/json");
            req.set(http::field::accept, "application/json, text/event-stream");
        }
        if (!session.empty()) req.set("Mcp-Session-Id", session);
        if (!key.empty()) req.set(http::field::authorization, "Bearer " + key);
        req.keep_alive(true);
        req.body() = body;
        req.prepare_payload();
        http::response<http::string_body> res;
        if (tls_) {
            http::write(*tls_, req);
            http::read(*tls_, buffer_, res);
        } else {
            http::write(*plain_, req);
            http::read(*plain_, buffer_, res);
        }
        Reply reply{res.result_int(), std::move(res.body()), {}};
        if (auto it = res.find("Mcp-Session-Id"); it != res.end()) reply.session = std::string(it->value());
        return reply;
    }

    Reply Post(const std::string& body, const std::string& session, const std::string& key) {
        return Send(http::verb::post, ep_.target, body, session, key);
    }

   private:
    boost::asio::io_context ioc_;
    Endpoint ep_;
    std::optional<beast::tcp_stream> plain_;
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
    beast::flat_buffer buffer_;
};

using signalhub::bench::Measure;

std::string OpenSession(const Endpoint& ep, ssl::context* tls, const std::string& key) {
    Connection c(ep, tls);
    const Json init = {{"jsonrpc", "2.0"}, {"id", 0}, {"method", "initialize"},
                       {"params", {{"protocolVersion", "2025-06-18"}, {"capabilities", Json::object()},
                                   {"clientInfo", {{"name", "secure_http_bench"}, {"version", "1"}}}}}};
    auto reply = c.Post(init.dump(), "", key);
    if (reply.status != 200 || reply.session.empty()) {
        Die("initialize: HTTP " + std::to_string(reply.status) + " " + reply.body);
    }
    c.Post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", reply.session, key);
    return reply.session;
}

// The top result id of a search_code answer; nullopt (and a message) when it is not a good answer.
std::optional<std::string> TopResult(const Connection::Reply& reply) {
    if (reply.status != 200) {
        std::fprintf(stderr, "HTTP %u: %s\n", reply.status, reply.body.c_str());
        return std::nullopt;
    }
    const Json j = Json::parse(reply.body);
    const Json& result = j.at("result");
    if (result.value("isError", false)) {
        std::fprintf(stderr, "tool error: %s\n", reply.body.c_str());
        return std::nullopt;
    }
    const Json& results = result.at("structuredContent").at("results");
    return results.empty() ? std::string() : results.front().at("id").get<std::string>();
}

std::vector<int> ParseThreads(const std::string& list) {
    std::vector<int> out;
    std::stringstream ss(list);
    for (std::string item; std::getline(ss, item, ',');) out.push_back(std::max(1, std::stoi(item)));
    return out;
}

void PrintRow(int threads, const char* path, const Json& s) {
    std::printf("%-8d %-28s %9.3f %9.3f %9.0f\n", threads, path, s["p50_ms"].get<double>(), s["p99_ms"].get<double>(),
                s["qps"].get<double>());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"search_code over plaintext vs TLS 1.3 + API key + rate limiting, same store and queries, one run"};
    std::string queries_path, plain_url, secure_url, ca_file, key, limited_key, json_out, threads_list = "1,4";
    size_t n = 500;
    app.add_option("--queries", queries_path, "queries.jsonl (one {\"query\": ...} per line)")->required();
    app.add_option("--plain-url", plain_url, "http://127.0.0.1:P/mcp: no TLS, no keys, no rate limiting")->required();
    app.add_option("--secure-url", secure_url, "https://127.0.0.1:Q/mcp: TLS, API keys, rate limiting")->required();
    app.add_option("--ca", ca_file, "CA certificate that signed the secure server's certificate")->required();
    app.add_option("--key", key, "API key with the search scope (and no limit reached)")->required();
    app.add_option("--limited-key", limited_key, "API key whose own rate limit is exhausted at once")->required();
    app.add_option("--n", n, "Requests per run");
    app.add_option("--threads", threads_list, "Comma-separated concurrency levels (threads / connections)");
    app.add_option("--json", json_out, "Write results as JSON here");
    CLI11_PARSE(app, argc, argv);

    const Endpoint plain = ParseUrl(plain_url), secure = ParseUrl(secure_url);
    if (plain.tls || !secure.tls) Die("--plain-url must be http:// and --secure-url https://");
    ssl::context tls(ssl::context::tls_client);
    tls.set_verify_mode(ssl::verify_peer);
    tls.load_verify_file(ca_file);
    SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_3_VERSION);

    std::vector<std::string> queries;
    std::ifstream in(queries_path);
    for (std::string line; std::getline(in, line) && queries.size() < n;) queries.push_back(Json::parse(line)["query"]);
    n = queries.size();
    if (n == 0) Die("no queries in " + queries_path);
    std::vector<std::string> bodies(n);
    for (size_t i = 0; i < n; ++i) {
        bodies[i] = Json{{"jsonrpc", "2.0"}, {"id", i + 1}, {"method", "tools/call"},
                         {"params", {{"name", "search_code"}, {"arguments", {{"query", queries[i]}, {"limit", 10}}}}}}
                        .dump();
    }

    std::string plain_session, secure_session;
    try {
        plain_session = OpenSession(plain, nullptr, "");
        secure_session = OpenSession(secure, &tls, key);
    } catch (const std::exception& e) {
        Die(std::string("cannot open the MCP sessions: ") + e.what());
    }
    // The plain server must refuse nothing and the secure one must insist on a key.
    {
        Connection c(secure, &tls);
        auto no_key = c.Post(bodies[0], secure_session, "");
        if (no_key.status != 401) Die("the secure server answered a request without a key with HTTP " +
                                      std::to_string(no_key.status));
    }

    // The top results of the plain server: the secure one must give the same.
    std::vector<std::string> expected(n);
    {
        Connection c(plain, nullptr);
        for (size_t i = 0; i < n; ++i) {
            auto top = TopResult(c.Post(bodies[i], plain_session, ""));
            if (!top) Die("the plain server failed query " + std::to_string(i));
            expected[i] = *top;
        }
    }

    Json report = {{"queries", n}, {"runs", Json::array()}};
    std::printf("%zu search_code calls (hybrid, k=10) per run; result cache off on both servers\n", n);
    std::printf("%-8s %-28s %9s %9s %9s\n", "threads", "path", "p50 ms", "p99 ms", "QPS");
    for (int threads : ParseThreads(threads_list)) {
        std::vector<std::unique_ptr<Connection>> plain_conns, secure_conns;
        for (int t = 0; t < threads; ++t) {
            plain_conns.push_back(std::make_unique<Connection>(plain, nullptr));
            secure_conns.push_back(std::make_unique<Connection>(secure, &tls));
        }
        auto call = [&](std::vector<std::unique_ptr<Connection>>& conns, const std::string& session,
                        std::string k) {
            return [&conns, &session, k, &bodies, &expected](int t, size_t i) {
                std::optional<std::string> top;
                try {
                    top = TopResult(conns[static_cast<size_t>(t)]->Post(bodies[i], session, k));
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "%s server: %s\n", k.empty() ? "plain" : "secure", e.what());
                    return false;
                }
                if (!top) return false;
                if (*top != expected[i]) {
                    std::fprintf(stderr, "query %zu: top %s, plain server's top %s\n", i, top->c_str(),
                                 expected[i].c_str());
                    return false;
                }
                return true;
            };
        };
        auto plain_call = call(plain_conns, plain_session, std::string());
        auto secure_call = call(secure_conns, secure_session, key);
        Measure("secure_http_bench", std::min<size_t>(n, 50), threads, plain_call);  // warm-up
        Measure("secure_http_bench", std::min<size_t>(n, 50), threads, secure_call);
        Json best_plain, best_secure;
        for (int round = 0; round < 2; ++round) {
            Json p = Measure("secure_http_bench", n, threads, plain_call).Summary();
            Json s = Measure("secure_http_bench", n, threads, secure_call).Summary();
            if (best_plain.is_null() || p["qps"].get<double>() > best_plain["qps"].get<double>()) best_plain = p;
            if (best_secure.is_null() || s["qps"].get<double>() > best_secure["qps"].get<double>()) best_secure = s;
        }

        // Refusals on keep-alive TLS connections: 401 (unknown key id) and 429 (the key's own limit spent).
        const std::string unknown_key = "shk_00000000000000ff_" + std::string(43, 'A');
        auto refused = [&](const std::string& k, unsigned want) {
            return [&secure_conns, &secure_session, &bodies, k, want](int t, size_t i) {
                auto reply = secure_conns[static_cast<size_t>(t)]->Post(bodies[i], secure_session, k);
                if (reply.status != want) {
                    std::fprintf(stderr, "expected HTTP %u, got %u: %s\n", want, reply.status, reply.body.c_str());
                    return false;
                }
                return true;
            };
        };
        Json r401 = Measure("secure_http_bench", n, threads, refused(unknown_key, 401)).Summary();
        Json r429 = Measure("secure_http_bench", n, threads, refused(limited_key, 429)).Summary();

        const double ratio = best_secure["qps"].get<double>() / best_plain["qps"].get<double>();
        PrintRow(threads, "plain (http, no auth)", best_plain);
        PrintRow(threads, "TLS 1.3 + API key + limits", best_secure);
        PrintRow(threads, "refused 401 (unknown key)", r401);
        PrintRow(threads, "refused 429 (limit spent)", r429);
        std::printf("%-8d secure/plain QPS %.3f, p99 %+.3f ms\n", threads, ratio,
                    best_secure["p99_ms"].get<double>() - best_plain["p99_ms"].get<double>());
        report["runs"].push_back({{"threads", threads}, {"plain", best_plain}, {"secure", best_secure},
                                  {"refused_401", r401}, {"refused_429", r429}, {"secure_over_plain_qps", ratio}});
    }

    // Connection set-up: n new connections, one GET /health each (TCP only vs TCP + TLS 1.3 handshake).
    auto connect_once = [&](const Endpoint& ep, ssl::context* ctx) {
        return [&ep, ctx](int, size_t) {
            Connection c(ep, ctx);
            return c.Send(http::verb::get, "/health", "", "", "").status == 200;
        };
    };
    const size_t connects = std::min<size_t>(n, 200);
    Json plain_connect = Measure("secure_http_bench", connects, 1, connect_once(plain, nullptr)).Summary();
    Json tls_connect = Measure("secure_http_bench", connects, 1, connect_once(secure, &tls)).Summary();
    std::printf("new connection + GET /health: plain p50 %.3f ms, TLS 1.3 p50 %.3f ms (%zu each)\n",
                plain_connect["p50_ms"].get<double>(), tls_connect["p50_ms"].get<double>(), connects);
    report["connect_plain"] = plain_connect;
    report["connect_tls13"] = tls_connect;

    if (!json_out.empty()) std::ofstream(json_out) << report.dump(2) << "\n";
    return 0;
}
