#include "security/key_store.hpp"

#include <algorithm>

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
    return Status::Ok();
}

}  // namespace signalhub::security
