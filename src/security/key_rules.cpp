#include "security/key_rules.hpp"

#include <algorithm>

#include "core/clock.hpp"

namespace signalhub::security {
namespace {

ApiKeyRecord* FindRecord(std::vector<ApiKeyRecord>& records, std::string_view id) {
    auto it = std::find_if(records.begin(), records.end(), [&](const ApiKeyRecord& r) { return r.id == id; });
    return it == records.end() ? nullptr : &*it;
}

const ApiKeyRecord* FindRecord(const std::vector<ApiKeyRecord>& records, std::string_view id) {
    auto it = std::find_if(records.begin(), records.end(), [&](const ApiKeyRecord& r) { return r.id == id; });
    return it == records.end() ? nullptr : &*it;
}

Status Refuse(AuthFailure reason, AuthFailure* failure, std::string message) {
    if (failure != nullptr) *failure = reason;
    return Unauthenticated(std::move(message));
}

}  // namespace

Result<IssuedKey> CreateKeyIn(std::vector<ApiKeyRecord>& records, const CreateKeyRequest& request,
                              const KeyHasher& hasher, std::int64_t now) {
    SH_RETURN_IF_ERROR(ValidateCreateRequest(request));
    for (const ApiKeyRecord& r : records) {
        if (!r.revoked && r.name == request.name) {
            return AlreadyExists("an API key named '" + request.name + "' exists (id " + r.id + ")");
        }
    }
    std::string id;
    for (int attempt = 0; attempt < 4 && (id.empty() || FindRecord(records, id) != nullptr); ++attempt) {
        SH_ASSIGN_OR_RETURN(id, GenerateKeyId());
    }
    if (FindRecord(records, id) != nullptr) return Internal("could not draw an unused key id");
    SH_ASSIGN_OR_RETURN(std::string secret, GenerateSecret());
    ApiKeyRecord r;
    r.id = id;
    r.name = request.name;
    r.scopes = request.scopes;
    std::sort(r.scopes.begin(), r.scopes.end());
    r.scopes.erase(std::unique(r.scopes.begin(), r.scopes.end()), r.scopes.end());
    r.collections = request.collections;
    r.created = now;
    if (request.ttl_seconds) r.expires = now + *request.ttl_seconds;
    r.rate_limit = request.rate_limit;
    std::string key = FormatApiKey(id, secret);
    SH_ASSIGN_OR_RETURN(r.hash, hasher.Hash(key));
    records.push_back(r);
    return IssuedKey{std::move(r), std::move(key)};
}

Result<ApiKeyRecord> RevokeKeyIn(std::vector<ApiKeyRecord>& records, std::string_view id, std::int64_t now) {
    ApiKeyRecord* r = FindRecord(records, id);
    if (r == nullptr) return NotFound("no API key with id '" + std::string(id) + "'");
    if (r->revoked) {
        return FailedPrecondition("API key " + r->id + " was already revoked at " + FormatIso8601Utc(*r->revoked));
    }
    r->revoked = now;
    return *r;
}

Result<IssuedKey> RotateKeyIn(std::vector<ApiKeyRecord>& records, std::string_view id, std::int64_t grace_seconds,
                              const KeyHasher& hasher, std::int64_t now) {
    if (grace_seconds < 0) return InvalidArgument("the rotation grace period cannot be negative");
    ApiKeyRecord* r = FindRecord(records, id);
    if (r == nullptr) return NotFound("no API key with id '" + std::string(id) + "'");
    if (r->revoked) return FailedPrecondition("API key " + r->id + " is revoked; create a new key instead");
    if (r->expires && now >= *r->expires) {
        return FailedPrecondition("API key " + r->id + " expired at " + FormatIso8601Utc(*r->expires) +
                                  "; create a new key instead");
    }
    SH_ASSIGN_OR_RETURN(std::string secret, GenerateSecret());
    std::string key = FormatApiKey(r->id, secret);
    SH_ASSIGN_OR_RETURN(std::string hash, hasher.Hash(key));
    if (grace_seconds > 0) {
        r->previous_hash = r->hash;
        r->previous_valid_until = now + grace_seconds;
    } else {
        r->previous_hash.reset();
        r->previous_valid_until.reset();
    }
    r->hash = std::move(hash);
    return IssuedKey{*r, std::move(key)};
}

Result<ApiKeyRecord> SetRateLimitIn(std::vector<ApiKeyRecord>& records, std::string_view id,
                                    const std::optional<KeyRateLimit>& limit) {
    if (limit) SH_RETURN_IF_ERROR(ValidateKeyRateLimit(*limit));
    ApiKeyRecord* r = FindRecord(records, id);
    if (r == nullptr) return NotFound("no API key with id '" + std::string(id) + "'");
    if (r->revoked) return FailedPrecondition("API key " + r->id + " is revoked");
    r->rate_limit = limit;
    return *r;
}

Result<AuthenticatedKey> CheckKeyIn(const std::vector<ApiKeyRecord>& records, std::string_view presented_key,
                                    const KeyHasher& hasher, std::int64_t now, AuthFailure* failure) {
    if (failure != nullptr) *failure = AuthFailure::kNone;
    auto parsed = ParseApiKey(presented_key);
    if (!parsed.ok()) return Refuse(AuthFailure::kMalformed, failure, parsed.status().message());
    const ApiKeyRecord* r = FindRecord(records, parsed->id);
    if (r == nullptr) return Refuse(AuthFailure::kUnknownKey, failure, "unknown API key id " + parsed->id);

    bool via_previous = false;
    if (!hasher.Matches(presented_key, r->hash)) {
        if (!r->previous_hash || !hasher.Matches(presented_key, *r->previous_hash)) {
            return Refuse(AuthFailure::kWrongSecret, failure, "wrong secret for API key " + r->id);
        }
        if (now >= r->previous_valid_until.value_or(0)) {
            return Refuse(AuthFailure::kExpired, failure,
                          "API key " + r->id + " was replaced by rotation; its grace period ended at " +
                              FormatIso8601Utc(r->previous_valid_until.value_or(0)));
        }
        via_previous = true;
    }
    // Only a caller holding the right secret learns that the key is revoked or expired.
    if (r->revoked) {
        return Refuse(AuthFailure::kRevoked, failure,
                      "API key " + r->id + " was revoked at " + FormatIso8601Utc(*r->revoked));
    }
    if (r->expires && now >= *r->expires) {
        return Refuse(AuthFailure::kExpired, failure,
                      "API key " + r->id + " expired at " + FormatIso8601Utc(*r->expires));
    }
    return AuthenticatedKey{*r, via_previous};
}

void SortForListing(std::vector<ApiKeyRecord>& records) {
    std::sort(records.begin(), records.end(), [](const ApiKeyRecord& a, const ApiKeyRecord& b) {
        return a.created != b.created ? a.created < b.created : a.id < b.id;
    });
}

}  // namespace signalhub::security
