// libFuzzer target: raw bytes of one HTTP/1.1 connection (up to 8 pipelined
// requests) through Beast's request_parser with the server's limits
// (kHeaderLimit, the default max_body_bytes), then through what the server
// does with a parsed request, without sockets: the Origin check, the CORS
// preflight, the routing of HttpConnection::HandleRequest (mirrored here:
// POST/GET/DELETE /mcp, /health, /ready, 404/405) into McpEndpoint::Post,
// Delete and CheckStream on a real McpSessions over the real code-search
// tools, and FinalizeResponse. Every response must serialize and parse back
// as HTTP. A request whose Mcp-Session-Id is "@" gets the id of the session
// the last initialize opened, so inputs can reach tools/call.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "core/clock.hpp"
#include "fuzz/code_search_fixture.hpp"
#include "server/http_policy.hpp"
#include "server/http_server.hpp"
#include "server/mcp_endpoint.hpp"
#include "server/mcp_sessions.hpp"

namespace sh = signalhub;
namespace beast = boost::beast;
namespace http = beast::http;
using sh::server::HttpRequest;
using sh::server::HttpResponse;

namespace {

constexpr std::size_t kPipeline = 8;

// The response must be valid HTTP: serialize it and parse it back.
void CheckWire(HttpResponse& res) {
    res.prepare_payload();
    std::string wire;
    http::response_serializer<http::string_body> sr(res);
    beast::error_code ec;
    while (!sr.is_done()) {
        sr.next(ec, [&](beast::error_code&, const auto& buffers) {
            for (auto b : beast::buffers_range_ref(buffers)) wire.append(static_cast<const char*>(b.data()), b.size());
            sr.consume(beast::buffer_bytes(buffers));
        });
        if (ec) std::abort();
    }
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.skip(false);
    parser.put(boost::asio::buffer(wire), ec);
    if (ec && ec != http::error::need_more) std::abort();
    if (!parser.is_done()) {
        parser.put_eof(ec);
        if (ec || !parser.is_done()) std::abort();
    }
    if (parser.get().body() != res.body()) std::abort();
}

HttpResponse Route(HttpRequest& req, sh::server::McpEndpoint& endpoint, const std::vector<std::string>& allowed,
                   std::string& last_session) {
    const std::string_view target = sh::server::Sv(req.target());
    const std::string_view path = target.substr(0, target.find('?'));
    auto session = req.find(sh::server::kSessionHeader);
    if (session != req.end() && sh::server::Sv(session->value()) == "@")
        req.set(sh::server::kSessionHeader, last_session);

    auto origin = req.find(http::field::origin);
    if (origin != req.end() && !sh::server::OriginAllowed(sh::server::Sv(origin->value()), allowed))
        return sh::server::ErrorResponse(req, http::status::forbidden, "origin not allowed");
    if (auto preflight = sh::server::CorsPreflight(req, allowed)) return std::move(*preflight);
    const http::verb method = req.method();
    if (path == "/mcp") {
        if (method == http::verb::post) {
            HttpResponse res = endpoint.Post(req);
            auto id = res.find(sh::server::kSessionHeader);
            if (id != res.end()) last_session = std::string(sh::server::Sv(id->value()));
            return res;
        }
        if (method == http::verb::delete_) return endpoint.Delete(req);
        if (method == http::verb::get) {
            auto checked = endpoint.CheckStream(req);
            if (auto* refused = std::get_if<HttpResponse>(&checked)) return std::move(*refused);
            return sh::server::JsonResponse(req, http::status::ok, nlohmann::json{{"stream", "opened"}});
        }
        return sh::server::ErrorResponse(req, http::status::method_not_allowed, "method not allowed");
    }
    if (path == "/health" || path == "/ready")
        return sh::server::JsonResponse(req, http::status::ok, nlohmann::json{{"status", "ok"}});
    return sh::server::ErrorResponse(req, http::status::not_found, "no such endpoint: " + std::string(path));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)sh::fuzz::CodeSearchServer();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const sh::server::HttpOptions defaults;
    static sh::FakeClock clock;
    // Half the inputs run with a configured allow-list (CORS on), half with the loopback default.
    const bool with_list = size > 0 && (data[size - 1] & 1) != 0;
    static const std::vector<std::string> none;
    static const std::vector<std::string> list = {"https://app.example.com", "http://localhost:3000"};
    const std::vector<std::string>& allowed = with_list ? list : none;

    sh::server::McpSessions sessions(sh::fuzz::CodeSearchServer(), 4, std::chrono::hours(1), clock);
    sh::server::McpEndpoint endpoint(sessions);
    std::string last_session;

    boost::asio::const_buffer input(data, size);
    for (std::size_t n = 0; n < kPipeline && input.size() > 0; ++n) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(sh::server::kHeaderLimit);
        parser.body_limit(defaults.max_body_bytes);
        parser.eager(true);
        beast::error_code ec;
        const std::size_t used = parser.put(input, ec);
        input += used;
        if (ec == http::error::need_more || (!ec && !parser.is_done())) {
            if (input.size() > 0) return 0;  // cannot happen with eager parsing; stop
            parser.put_eof(ec);
        }
        if (ec || !parser.is_done()) {
            // What the server answers to a malformed or oversized request: an error, then close.
            HttpResponse res =
                sh::server::ErrorResponse(http::status::bad_request, "malformed HTTP request: " + ec.message());
            sh::server::FinalizeResponse(res, "");
            CheckWire(res);
            return 0;
        }
        HttpRequest req = parser.release();
        const std::string cors = sh::server::CorsOrigin(req, allowed);
        HttpResponse res = Route(req, endpoint, allowed, last_session);
        sh::server::FinalizeResponse(res, cors);
        CheckWire(res);
        if (!req.keep_alive()) break;
    }
    return 0;
}
