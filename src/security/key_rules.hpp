#pragma once
// The rules every KeyStore applies, over records in memory: no I/O, no
// locking, time passed in. A backend loads its records, calls one of these,
// and persists the result only when it returns OK (on error `records` is
// unchanged). Error codes and messages are those documented on KeyStore.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "security/api_key.hpp"
#include "security/key_store.hpp"
#include "core/status.hpp"

namespace signalhub::security {

Result<IssuedKey> CreateKeyIn(std::vector<ApiKeyRecord>& records, const CreateKeyRequest& request,
                              const KeyHasher& hasher, std::int64_t now);
Result<ApiKeyRecord> RevokeKeyIn(std::vector<ApiKeyRecord>& records, std::string_view id, std::int64_t now);
Result<IssuedKey> RotateKeyIn(std::vector<ApiKeyRecord>& records, std::string_view id, std::int64_t grace_seconds,
                              const KeyHasher& hasher, std::int64_t now);
Result<ApiKeyRecord> SetRateLimitIn(std::vector<ApiKeyRecord>& records, std::string_view id,
                                    const std::optional<KeyRateLimit>& limit);
// Checks a presented key against the records (does not record usage: the
// caller sets last_used on its copy). Same refusals as KeyStore::Authenticate.
Result<AuthenticatedKey> CheckKeyIn(const std::vector<ApiKeyRecord>& records, std::string_view presented_key,
                                    const KeyHasher& hasher, std::int64_t now, AuthFailure* failure);
// Records ordered by created, then id (the order of KeyStore::List).
void SortForListing(std::vector<ApiKeyRecord>& records);

}  // namespace signalhub::security
