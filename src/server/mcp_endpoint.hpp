#pragma once
// The Streamable HTTP side of MCP (protocol 2025-03-26 and 2025-06-18) as
// plain functions of an HTTP request: no sockets, no threads. The connection
// code (http_server.cpp) reads requests, applies limits and writes what these
// return.
//
//   POST /mcp    one JSON-RPC message or a batch -> 200 application/json, or
//                200 text/event-stream when a request carries
//                params._meta.progressToken; 202 when there is nothing to
//                answer (only notifications/responses, or every request was
//                cancelled); 400 parse error or a body nested deeper than
//                mcp::kMaxJsonDepth or a batch over mcp::kMaxBatchSize
//                (JSON-RPC -32700 / -32600 body), missing session
//                id or unsupported MCP-Protocol-Version; 404 unknown session;
//                406 Accept without application/json + text/event-stream;
//                415 Content-Type other than application/json; 503 when
//                max_sessions are open. An initialize without Mcp-Session-Id
//                opens a session; its reply carries the Mcp-Session-Id header.
//   DELETE /mcp  ends the session: 204, or 400/404.
//   GET /mcp     checks a server-to-client stream may open (Accept lists
//                text/event-stream: else 406; session: 400/404).
// Transport errors have JSON bodies {"error": "..."}.
//
// Thread safety: all methods may be called concurrently. Post runs MCP
// handlers (tools hit the store): call it on a worker thread, never on an I/O
// thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "server/mcp_sessions.hpp"

namespace signalhub::server {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

inline constexpr char kSessionHeader[] = "Mcp-Session-Id";
inline constexpr char kProtocolVersionHeader[] = "MCP-Protocol-Version";

// Boost 1.74's Beast uses boost::string_view; our code uses std::string_view.
inline std::string_view Sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

// A response with a JSON body (version and keep-alive taken from the request).
HttpResponse JsonResponse(const HttpRequest& req, boost::beast::http::status status, const nlohmann::json& body);
// {"error": message}
HttpResponse ErrorResponse(const HttpRequest& req, boost::beast::http::status status, std::string_view message);
// The same for when no request was parsed (HTTP/1.1, connection closes).
HttpResponse ErrorResponse(boost::beast::http::status status, std::string_view message);

// Origin check against DNS rebinding. `allowed` empty: loopback origins only
// (http or https, host localhost, 127.0.0.1 or [::1], any port); "*": any;
// otherwise exact (case-insensitive) matches of "scheme://host[:port]".
bool OriginAllowed(std::string_view origin, const std::vector<std::string>& allowed);

struct AcceptedTypes {
    bool json = false;  // application/json
    bool sse = false;   // text/event-stream
};
// Parses an Accept header; wildcards count, q=0 excludes; an absent (empty)
// header accepts everything.
AcceptedTypes ParseAccept(std::string_view accept);

// Authorisation (the caller comes from the RequestGuard, request_guard.hpp):
// a POST whose tools/call names a tool needing a scope the caller lacks, or a
// `collection` argument outside the caller's allow-list, is refused whole with
// 403 before anything runs (the mcp::Server and the tools enforce the same
// again). A session belongs to the key that opened it: another key gets 404
// for it, as if it did not exist.
class McpEndpoint {
   public:
    // Told about every 403 (the caller and what was refused), e.g. for the audit log.
    using ForbiddenHook = std::function<void(const mcp::Caller& caller, const std::string& what)>;

    // Borrows `sessions`, which must outlive the endpoint.
    explicit McpEndpoint(McpSessions& sessions, ForbiddenHook on_forbidden = {})
        : sessions_(sessions), on_forbidden_(std::move(on_forbidden)) {}

    // POST /mcp. Blocks while MCP handlers run.
    HttpResponse Post(const HttpRequest& req, const mcp::Caller& caller = {});
    // DELETE /mcp.
    HttpResponse Delete(const HttpRequest& req, const mcp::Caller& caller = {});
    // GET /mcp: the session id the stream belongs to, or the response refusing it.
    std::variant<std::string, HttpResponse> CheckStream(const HttpRequest& req, const mcp::Caller& caller = {});

   private:
    std::optional<HttpResponse> CheckProtocolVersion(const HttpRequest& req) const;
    // 403 when a message of `message` asks for what `caller` may not have.
    std::optional<HttpResponse> Authorize(const HttpRequest& req, const nlohmann::json& message,
                                          const mcp::Caller& caller) const;
    // The caller's live session, busy until Release; nullptr when unknown or another key's.
    std::shared_ptr<McpSessions::Entry> AcquireOwn(std::string_view id, const mcp::Caller& caller);

    McpSessions& sessions_;
    ForbiddenHook on_forbidden_;
    std::atomic<std::uint64_t> next_event_id_{1};
};

}  // namespace signalhub::server
