#pragma once
// ApiKeyGuard: the RequestGuard of `serve` (security.api_keys).
//
// A key is read from `Authorization: Bearer KEY` (scheme case-insensitive) or
// `X-API-Key: KEY`; when both are present they must carry the same key.
//   - no key while keys are required, malformed, unknown, wrong secret,
//     revoked, expired: 401 with `WWW-Authenticate: Bearer realm="signal-hub"`
//     and {"error": "..."} naming the reason (revoked/expired only to a caller
//     holding the right secret: KeyStore's contract);
//   - the key store failing (database or Vault down): 503, fail closed;
//   - otherwise admitted as a Caller with the key's id, name, scopes and
//     collection allow-list (empty list = every collection).
// Every refusal and every 403 the endpoint reports goes to the audit log
// (event, reason, key id when known, remote address, method, path); a key
// itself is never logged.
//
// Rate limiting (security.rate_limiting, when a limiter is given): an
// authenticated request counts against the bucket "key:<id>" with the limit
// of the key's broadest scope (admin, else index, else search); any other
// request — anonymous when keys are off, or failing authentication — against
// "ip:<address>" with the anonymous limit, so guessing keys is throttled too.
// A refused request gets 429 with Retry-After (whole seconds, rounded up) and
// {"error": ...}; every limited response carries RateLimit-Limit,
// RateLimit-Remaining and RateLimit-Reset (IETF draft-ietf-httpapi-ratelimit-headers).
//
// Thread-safe: the KeyStore, the AuditLog and the RateLimiter are.

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "security/audit_log.hpp"
#include "security/key_store.hpp"
#include "security/rate_limiter.hpp"
#include "server/request_guard.hpp"

namespace signalhub::server {

// Told about the guard's decisions, for metrics. Called on the deciding thread
// (a worker, or an I/O thread for GET /mcp): thread-safe, quick, no throwing.
// Each function is optional; every value passed comes from the fixed sets below.
struct GuardObserver {
    // A refused authentication: "missing", "malformed", "unknown_key",
    // "wrong_secret", "revoked", "expired", or "store_unavailable" (503).
    std::function<void(std::string_view reason)> on_auth_failure;
    // A 403 for an authenticated key: "scope" or "collection".
    std::function<void(std::string_view reason)> on_forbidden;
    // A rate-limiter answer: scope "search", "index", "admin" or "anonymous";
    // `backend_failed`: decided by the fail mode because Redis did not answer.
    std::function<void(std::string_view scope, bool allowed, bool backend_failed)> on_rate_limit;
};

struct ApiKeyGuardOptions {
    // Null: no authentication (every request is Caller{} with its address).
    security::KeyStore* keys = nullptr;
    security::AuditLog* audit = nullptr;  // null: no audit events
    security::RateLimiter* limiter = nullptr;  // null: no rate limiting
    struct Limits {
        security::RateLimit search{20, 40};
        security::RateLimit index{2, 10};
        security::RateLimit admin{1, 5};
        security::RateLimit anonymous{5, 10};
    } limits{};
    GuardObserver observer{};
};

class ApiKeyGuard final : public RequestGuard {
   public:
    // Borrows what the options point to; it must outlive the guard.
    explicit ApiKeyGuard(ApiKeyGuardOptions options) : options_(options) {}

    GuardDecision Admit(const HttpRequest& req, std::string_view remote) override;
    void Forbidden(const mcp::Caller& caller, const std::string& what) override;

   private:
    void Audit(const std::string& event, const HttpRequest& req, std::string_view remote,
               std::map<std::string, std::string> fields);
    // Counts the request against `bucket`; false (and `decision` refused with 429) when over the limit.
    bool Limit(const HttpRequest& req, const std::string& bucket, std::string_view scope,
               const security::RateLimit& limit, GuardDecision& decision);
    void AuthFailed(std::string_view reason) {
        if (options_.observer.on_auth_failure) options_.observer.on_auth_failure(reason);
    }

    ApiKeyGuardOptions options_;
};

// The key a request presents: nullopt when none; InvalidArgument when the
// Authorization header is not "Bearer KEY" or disagrees with X-API-Key.
Result<std::optional<std::string>> PresentedKey(const HttpRequest& req);

}  // namespace signalhub::server
