#pragma once
// What every HTTP response of the server carries, as pure functions of the
// request and the configuration (no sockets): the security headers, and CORS
// for browser origins listed in server.allowed_origins. The connection code
// (http_server.cpp) remembers CorsOrigin(req) with each request and calls
// FinalizeResponse on each response just before writing it.
//
// CORS is off unless allowed_origins is configured: with the list empty no
// Access-Control-* header is ever sent and OPTIONS gets 405 like any other
// unsupported method. With a list, a request whose Origin is allowed (and not
// the server's own origin) gets Access-Control-Allow-Origin: <that origin>,
// Vary: Origin and Access-Control-Expose-Headers: Mcp-Session-Id; a preflight
// OPTIONS /mcp from such an origin gets 204 with the allowed methods and
// headers. Origins the list refuses get 403 before this (OriginAllowed).
//
// Thread safety: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/message.hpp>

#include "server/mcp_endpoint.hpp"

namespace signalhub::server {

// Request line + headers of one request (Beast's header_limit).
inline constexpr std::uint32_t kHeaderLimit = 16 * 1024;

// Answered to a CORS preflight.
inline constexpr char kCorsAllowMethods[] = "GET, POST, DELETE";
inline constexpr char kCorsAllowHeaders[] =
    "Authorization, X-API-Key, Mcp-Session-Id, MCP-Protocol-Version, Content-Type, Accept, Last-Event-ID";
inline constexpr char kCorsMaxAgeSeconds[] = "600";

// The value for Access-Control-Allow-Origin: the request's Origin when
// `allowed_origins` is non-empty, lists it (OriginAllowed, "*" included) and
// it is not the server's own origin (its host[:port] equals the Host header);
// empty otherwise (no CORS headers). The opaque origin "null" is never echoed.
std::string CorsOrigin(const HttpRequest& req, const std::vector<std::string>& allowed_origins);

// OPTIONS /mcp (query ignored) with a non-empty CorsOrigin: 204 with
// Access-Control-Allow-Methods/-Headers/-Max-Age. nullopt for any other
// request (it is routed as usual: OPTIONS gets 405).
std::optional<HttpResponse> CorsPreflight(const HttpRequest& req, const std::vector<std::string>& allowed_origins);

// Sets the security headers on a response about to be written:
//   X-Content-Type-Options: nosniff, Cache-Control: no-store,
//   X-Frame-Options: DENY, Referrer-Policy: no-referrer,
//   Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
// and, when cors_origin is non-empty, Access-Control-Allow-Origin,
// Access-Control-Expose-Headers: Mcp-Session-Id and Vary: Origin.
template <class Body, class Fields>
void FinalizeResponse(boost::beast::http::response<Body, Fields>& res, std::string_view cors_origin) {
    namespace http = boost::beast::http;
    res.set("X-Content-Type-Options", "nosniff");
    res.set(http::field::cache_control, "no-store");
    res.set("X-Frame-Options", "DENY");
    res.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    res.set("Referrer-Policy", "no-referrer");
    if (!cors_origin.empty()) {
        res.set(http::field::access_control_allow_origin,
                boost::beast::string_view(cors_origin.data(), cors_origin.size()));
        res.set(http::field::access_control_expose_headers, kSessionHeader);
        res.set(http::field::vary, "Origin");
    }
}

}  // namespace signalhub::server
