#include "security/memory_key_store.hpp"

#include "security/key_rules.hpp"

namespace signalhub::security {

Result<IssuedKey> MemoryKeyStore::Create(const CreateKeyRequest& request) {
    std::lock_guard lock(mu_);
    return CreateKeyIn(records_, request, hasher_, clock_.UnixSeconds());
}

Result<std::vector<ApiKeyRecord>> MemoryKeyStore::List() {
    std::lock_guard lock(mu_);
    std::vector<ApiKeyRecord> out = records_;
    SortForListing(out);
    return out;
}

Result<ApiKeyRecord> MemoryKeyStore::Revoke(std::string_view id) {
    std::lock_guard lock(mu_);
    return RevokeKeyIn(records_, id, clock_.UnixSeconds());
}

Result<IssuedKey> MemoryKeyStore::Rotate(std::string_view id, std::int64_t grace_seconds) {
    std::lock_guard lock(mu_);
    return RotateKeyIn(records_, id, grace_seconds, hasher_, clock_.UnixSeconds());
}

Result<ApiKeyRecord> MemoryKeyStore::SetRateLimit(std::string_view id, const std::optional<KeyRateLimit>& limit) {
    std::lock_guard lock(mu_);
    return SetRateLimitIn(records_, id, limit);
}

Result<AuthenticatedKey> MemoryKeyStore::Authenticate(std::string_view presented_key, AuthFailure* failure) {
    std::lock_guard lock(mu_);
    const std::int64_t now = clock_.UnixSeconds();
    SH_ASSIGN_OR_RETURN(AuthenticatedKey authenticated, CheckKeyIn(records_, presented_key, hasher_, now, failure));
    for (ApiKeyRecord& r : records_) {
        if (r.id == authenticated.record.id) r.last_used = now;
    }
    authenticated.record.last_used = now;
    return authenticated;
}

}  // namespace signalhub::security
