#pragma once
// MemoryKeyStore: the KeyStore rules over records held in memory only — for
// tests and for embedding code that manages keys itself. Nothing persists.
// Thread safety: every method may be called from several threads (one mutex).

#include <mutex>
#include <utility>
#include <vector>

#include "security/api_key.hpp"
#include "security/key_store.hpp"
#include "core/clock.hpp"

namespace signalhub::security {

class MemoryKeyStore final : public KeyStore {
   public:
    // `clock` must outlive the store.
    MemoryKeyStore(KeyHasher hasher, const Clock& clock) : hasher_(std::move(hasher)), clock_(clock) {}

    Result<IssuedKey> Create(const CreateKeyRequest& request) override;
    Result<std::vector<ApiKeyRecord>> List() override;
    Result<ApiKeyRecord> Revoke(std::string_view id) override;
    Result<IssuedKey> Rotate(std::string_view id, std::int64_t grace_seconds) override;
    Result<ApiKeyRecord> SetRateLimit(std::string_view id, const std::optional<KeyRateLimit>& limit) override;
    Result<AuthenticatedKey> Authenticate(std::string_view presented_key, AuthFailure* failure = nullptr) override;

   private:
    const KeyHasher hasher_;
    const Clock& clock_;
    std::mutex mu_;
    std::vector<ApiKeyRecord> records_;
};

}  // namespace signalhub::security
