#include "security/key_store.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace signalhub::security {

bool ApiKeyRecord::HasScope(Scope scope) const {
    return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

bool ApiKeyRecord::AllowsCollection(std::string_view collection) const {
    return collections.empty() || std::find(collections.begin(), collections.end(), collection) != collections.end();
}

std::string_view AuthFailureName(AuthFailure failure) {
    switch (failure) {
        case AuthFailure::kNone: return "none";
        case AuthFailure::kMalformed: return "malformed";
        case AuthFailure::kUnknownKey: return "unknown_key";
        case AuthFailure::kWrongSecret: return "wrong_secret";
        case AuthFailure::kRevoked: return "revoked";
        case AuthFailure::kExpired: return "expired";
    }
    return "unknown";
}

Status ValidateCreateRequest(const CreateKeyRequest& request) {
    if (request.name.empty()) return InvalidArgument("a key needs a name");
    if (request.name.size() > 128) return InvalidArgument("the key name is longer than 128 characters");
    for (char c : request.name) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) return InvalidArgument("the key name contains a control character");
    }
    if (request.scopes.empty()) return InvalidArgument("a key needs at least one scope (search, index, admin)");
    for (const std::string& collection : request.collections) {
        if (collection.empty()) return InvalidArgument("empty collection name in the allow-list");
    }
    if (request.ttl_seconds && *request.ttl_seconds <= 0) {
        return InvalidArgument("the expiry must be a positive number of seconds");
    }
    if (request.rate_limit) SH_RETURN_IF_ERROR(ValidateKeyRateLimit(*request.rate_limit));
    return Status::Ok();
}

Status ValidateKeyRateLimit(const KeyRateLimit& limit) {
    if (!std::isfinite(limit.requests_per_second) || limit.requests_per_second <= 0 ||
        limit.requests_per_second > 1e6) {
        return InvalidArgument("a key's rate limit must be more than 0 and at most 1000000 requests per second");
    }
    if (limit.burst < 1 || limit.burst > 1000000) {
        return InvalidArgument("a key's burst must be between 1 and 1000000 requests");
    }
    return Status::Ok();
}

std::string FormatKeyRateLimit(const KeyRateLimit& limit) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%g req/s, burst %d", limit.requests_per_second, limit.burst);
    return buf;
}

Result<KeyRateLimit> ParseKeyRateLimit(std::string_view text) {
    const std::string expected = "rate limit '" + std::string(text) + "': expected RPS or RPS:BURST, e.g. 5 or 5:20";
    const std::size_t colon = text.find(':');
    const std::string_view rps = text.substr(0, colon);
    KeyRateLimit limit;
    auto [rps_end, rps_ec] = std::from_chars(rps.data(), rps.data() + rps.size(), limit.requests_per_second);
    if (rps.empty() || rps_ec != std::errc() || rps_end != rps.data() + rps.size()) return InvalidArgument(expected);
    if (colon == std::string_view::npos) {
        limit.burst = static_cast<int>(std::clamp(std::floor(limit.requests_per_second), 1.0, 1e6));
    } else {
        const std::string_view burst = text.substr(colon + 1);
        auto [end, ec] = std::from_chars(burst.data(), burst.data() + burst.size(), limit.burst);
        if (burst.empty() || ec != std::errc() || end != burst.data() + burst.size()) {
            return InvalidArgument(expected + " (the burst is a whole number)");
        }
    }
    if (!std::isfinite(limit.requests_per_second)) return InvalidArgument(expected);
    SH_RETURN_IF_ERROR(ValidateKeyRateLimit(limit));
    return limit;
}

}  // namespace signalhub::security
