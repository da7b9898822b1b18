#pragma once
// RequestGuard: who may send a request to /mcp, and how often. The HTTP server
// asks it about every /mcp request before McpEndpoint sees it; without a guard
// (HttpOptions::guard null) every request is admitted as Caller{}.
//
// ApiKeyGuard (api_key_guard.hpp) is the implementation: API keys
// (security.api_keys) and rate limits (security.rate_limiting).

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mcp/server.hpp"
#include "server/mcp_endpoint.hpp"

namespace signalhub::server {

struct GuardDecision {
    // Set: the request is refused with this response (401, 429, 503) and goes no further.
    std::optional<HttpResponse> refusal;
    // Admitted: who is calling (its scopes and collections bound what the request may do).
    mcp::Caller caller;
    // Headers for the response either way (e.g. RateLimit-Limit, RateLimit-Remaining).
    std::vector<std::pair<std::string, std::string>> headers;
};

class RequestGuard {
   public:
    virtual ~RequestGuard() = default;
    // Thread-safe; may block (a key store or a rate limiter over the network),
    // so the server calls it on a worker thread for POST and DELETE. `remote`
    // is the client's address ("203.0.113.7" or "[2001:db8::1]").
    virtual GuardDecision Admit(const HttpRequest& req, std::string_view remote) = 0;
    // The endpoint refused an admitted caller with 403 (scope or collection).
    virtual void Forbidden(const mcp::Caller& caller, const std::string& what) = 0;
};

}  // namespace signalhub::server
