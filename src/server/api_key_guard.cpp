#include "server/api_key_guard.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace signalhub::server {

namespace http = boost::beast::http;

namespace {

std::string_view TrimSpace(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
            return false;
    }
    return true;
}

// The 401 body for an unknown key id or a wrong secret (the same for both).
constexpr std::string_view kInvalidKeyMessage =
    "invalid API key: unknown key or wrong secret (check the key, or ask an administrator for a new one)";

HttpResponse Unauthorized(const HttpRequest& req, const std::string& message, const char* error) {
    HttpResponse res = ErrorResponse(req, http::status::unauthorized, message);
    res.set(http::field::www_authenticate,
            std::string("Bearer realm=\"signal-hub\"") + (error ? std::string(", error=\"") + error + "\"" : ""));
    return res;
}

}  // namespace

Result<std::optional<std::string>> PresentedKey(const HttpRequest& req) {
    std::optional<std::string> bearer;
    std::optional<std::string> header;
    if (auto it = req.find(http::field::authorization); it != req.end()) {
        const std::string_view value = TrimSpace(Sv(it->value()));
        if (!StartsWithNoCase(value, "bearer ")) {
            return InvalidArgument("the Authorization header must be \"Bearer KEY\"");
        }
        bearer = std::string(TrimSpace(value.substr(7)));
    }
    if (auto it = req.find("X-API-Key"); it != req.end()) header = std::string(TrimSpace(Sv(it->value())));
    if (bearer && header && *bearer != *header) {
        return InvalidArgument("the Authorization and X-API-Key headers carry different keys");
    }
    if (bearer) return bearer;
    return header;
}

void ApiKeyGuard::Audit(const std::string& event, const HttpRequest& req, std::string_view remote,
                        std::map<std::string, std::string> fields) {
    if (!options_.audit) return;
    fields["remote"] = std::string(remote);
    // The HTTP server sets X-Request-Id to the id of its response (and of the request's log record).
    if (auto it = req.find("X-Request-Id"); it != req.end())
        fields["request_id"] = std::string(Sv(it->value()).substr(0, 128));
    fields["method"] = std::string(Sv(req.method_string()));
    const std::string_view target = Sv(req.target());
    fields["path"] = std::string(target.substr(0, std::min<std::size_t>(target.find('?'), 256)));
    if (auto it = req.find(http::field::user_agent); it != req.end())
        fields["user_agent"] = std::string(Sv(it->value()).substr(0, 256));
    options_.audit->Write({event, std::move(fields)});
}

bool ApiKeyGuard::Limit(const HttpRequest& req, const std::string& bucket, std::string_view scope,
                        const security::RateLimit& limit, GuardDecision& decision) {
    if (!options_.limiter) return true;
    const security::RateDecision d = options_.limiter->Admit(bucket, limit);
    if (options_.observer.on_rate_limit) options_.observer.on_rate_limit(scope, d.allowed, d.backend_failed);
    auto whole = [](double seconds) { return std::to_string(static_cast<long long>(std::ceil(std::max(0.0, seconds)))); };
    decision.headers.emplace_back("RateLimit-Limit", std::to_string(d.limit));
    decision.headers.emplace_back("RateLimit-Remaining", std::to_string(std::max(0, d.remaining)));
    decision.headers.emplace_back("RateLimit-Reset", whole(d.reset_seconds));
    if (d.allowed) return true;
    const std::string retry = whole(std::max(d.retry_after_seconds, 1e-9));
    decision.refusal = ErrorResponse(req, http::status::too_many_requests,
                                     d.backend_failed ? "rate limit store unavailable (fail closed); retry after " +
                                                            retry + " s"
                                                      : "rate limit exceeded; retry after " + retry + " s");
    decision.headers.emplace_back("Retry-After", retry);
    return false;
}

GuardDecision ApiKeyGuard::Admit(const HttpRequest& req, std::string_view remote) {
    GuardDecision decision;
    decision.caller.remote = std::string(remote);
    if (auto it = req.find("X-Request-Id"); it != req.end())
        decision.caller.request_id = std::string(Sv(it->value()).substr(0, 128));
    const std::string ip_bucket = "ip:" + std::string(remote);
    if (!options_.keys) {
        Limit(req, ip_bucket, "anonymous", options_.limits.anonymous, decision);
        return decision;
    }
    // A refused authentication still counts against the client's address: 429 once it guesses too fast.
    auto refuse = [&](HttpResponse response) {
        if (Limit(req, ip_bucket, "anonymous", options_.limits.anonymous, decision))
            decision.refusal = std::move(response);
    };

    Result<std::optional<std::string>> presented = PresentedKey(req);
    if (!presented.ok()) {
        Audit("auth_failure", req, remote, {{"reason", "malformed"}});
        AuthFailed("malformed");
        refuse(Unauthorized(req, presented.status().message(), "invalid_request"));
        return decision;
    }
    if (!*presented) {
        Audit("auth_failure", req, remote, {{"reason", "missing"}});
        AuthFailed("missing");
        refuse(Unauthorized(req, "an API key is required: send Authorization: Bearer KEY or X-API-Key: KEY", nullptr));
        return decision;
    }
    security::AuthFailure failure = security::AuthFailure::kNone;
    Result<security::AuthenticatedKey> auth = options_.keys->Authenticate(**presented, &failure);
    if (!auth.ok()) {
        if (auth.status().code() == ErrorCode::kUnauthenticated) {
            std::map<std::string, std::string> fields = {{"reason", std::string(security::AuthFailureName(failure))}};
            if (auto parsed = security::ParseApiKey(**presented); parsed.ok()) fields["key_id"] = parsed->id;
            Audit("auth_failure", req, remote, std::move(fields));
            const std::string_view reason = security::AuthFailureName(failure);
            AuthFailed(reason == "none" ? std::string_view("unknown_key") : reason);
            // An unknown key id and a wrong secret get the same answer: a caller without the secret
            // must not learn whether a key id exists (the audit log keeps the reason).
            const bool hide = failure == security::AuthFailure::kUnknownKey ||
                              failure == security::AuthFailure::kWrongSecret ||
                              failure == security::AuthFailure::kNone;
            refuse(Unauthorized(req, hide ? std::string(kInvalidKeyMessage) : auth.status().message(),
                                "invalid_token"));
        } else {
            Audit("auth_error", req, remote, {{"reason", auth.status().message()}});
            AuthFailed("store_unavailable");
            decision.refusal = ErrorResponse(req, http::status::service_unavailable,
                                             "cannot check the API key now: " + auth.status().message());
        }
        return decision;
    }
    const security::ApiKeyRecord& record = auth->record;
    mcp::Caller& caller = decision.caller;
    caller.id = record.id;
    caller.name = record.name;
    caller.scopes.emplace();
    for (security::Scope scope : record.scopes) caller.scopes->push_back(std::string(security::ScopeName(scope)));
    if (!record.collections.empty()) caller.collections = record.collections;
    // The key's own limit when it has one, else the limit of its broadest scope.
    const std::string_view scope = record.HasScope(security::Scope::kAdmin)   ? "admin"
                                   : record.HasScope(security::Scope::kIndex) ? "index"
                                                                              : "search";
    security::RateLimit limit = scope == "admin"   ? options_.limits.admin
                                : scope == "index" ? options_.limits.index
                                                   : options_.limits.search;
    if (record.rate_limit) {
        limit.requests_per_second = record.rate_limit->requests_per_second;
        limit.burst = record.rate_limit->burst;
    }
    Limit(req, "key:" + record.id, scope, limit, decision);
    return decision;
}

void ApiKeyGuard::Forbidden(const mcp::Caller& caller, const std::string& what) {
    if (options_.observer.on_forbidden) {
        // McpEndpoint::Authorize's two refusals: a collection outside the key's list, or a missing scope.
        options_.observer.on_forbidden(what.find("may not read collection") != std::string::npos ? "collection"
                                                                                                : "scope");
    }
    if (!options_.audit) return;
    options_.audit->Write(
        {"forbidden",
         {{"key_id", caller.id},
          {"key_name", caller.name},
          {"remote", caller.remote},
          {"request_id", caller.request_id},
          {"reason", what}}});
}

}  // namespace signalhub::server
