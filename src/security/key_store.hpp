#pragma once
// KeyStore: where API key records live, and the one place a presented key is
// checked. Implementations: MemoryKeyStore (tests), FileKeyStore
// (file_key_store.hpp), and in sh_keystores DatabaseKeyStore
// (database_key_store.hpp, PostgreSQL) and VaultKeyStore (vault_key_store.hpp,
// HashiCorp Vault KV v2); OpenKeyStore (key_store_factory.hpp) picks one.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "security/api_key.hpp"
#include "core/pool_stats.hpp"
#include "core/status.hpp"

namespace signalhub::security {

// A rate limit set on one key; it replaces the limit of the key's broadest
// scope (security.rate_limiting.limits.<scope>) for that key's bucket.
struct KeyRateLimit {
    double requests_per_second = 0;  // > 0, finite
    int burst = 1;                   // 1..1000000: requests admitted at once after a quiet spell
    bool operator==(const KeyRateLimit&) const = default;
};
// "5 req/s, burst 20".
std::string FormatKeyRateLimit(const KeyRateLimit& limit);
// "RPS" or "RPS:BURST" (burst defaults to max(1, RPS)); InvalidArgument naming the problem.
Result<KeyRateLimit> ParseKeyRateLimit(std::string_view text);

// One key as stored: never the secret, only its keyed hash.
struct ApiKeyRecord {
    std::string id;                        // 16 lowercase hex characters, unique in a store
    std::string name;                      // for people; unique among keys that are not revoked
    std::vector<Scope> scopes;             // sorted, no duplicates, never empty
    std::vector<std::string> collections;  // allow-list; empty = every collection
    std::int64_t created = 0;              // Unix seconds
    std::optional<std::int64_t> expires;   // Unix seconds; the key fails from this second on
    std::optional<std::int64_t> revoked;   // Unix seconds of the revocation
    std::optional<std::int64_t> last_used; // Unix seconds of the last successful authentication
    std::string hash;                      // KeyHasher::Hash of the current key (64 hex)
    // After Rotate: the hash of the replaced key, accepted until previous_valid_until (exclusive).
    std::optional<std::string> previous_hash;
    std::optional<std::int64_t> previous_valid_until;
    std::optional<KeyRateLimit> rate_limit;  // unset: the scope's limit applies

    bool HasScope(Scope scope) const;
    // True when the allow-list is empty or names the collection exactly.
    bool AllowsCollection(std::string_view collection) const;

    bool operator==(const ApiKeyRecord&) const = default;
};

struct CreateKeyRequest {
    std::string name;                        // 1..128 characters, no control characters
    std::vector<Scope> scopes;               // at least one (duplicates are removed)
    std::vector<std::string> collections;    // optional allow-list (non-empty names)
    std::optional<std::int64_t> ttl_seconds; // > 0; expires = created + ttl
    std::optional<KeyRateLimit> rate_limit;  // optional per-key limit (ValidateKeyRateLimit)
};

// The result of Create and Rotate: the only time the full key exists outside the caller.
struct IssuedKey {
    ApiKeyRecord record;
    std::string key;  // "shk_<id>_<secret>": show it once, never log or store it
};

// Why Authenticate refused a key. Every reason is HTTP 401 for the server;
// the distinction is for the audit log and for messages to the operator.
enum class AuthFailure {
    kNone,         // authenticated (or the call failed for a store reason, see the Status)
    kMalformed,    // not a well-formed "shk_<id>_<secret>"
    kUnknownKey,   // well-formed, but no key with this id
    kWrongSecret,  // the id exists, the secret does not match (current or in-grace previous)
    kRevoked,      // the secret matches a revoked key
    kExpired,      // the secret matches an expired key, or a rotated-out key past its grace period
};
std::string_view AuthFailureName(AuthFailure failure);

struct AuthenticatedKey {
    ApiKeyRecord record;
    bool via_previous_key = false;  // the presented key is the rotated-out one, inside its grace period
};

// Contract for every implementation:
//  - Thread safety: all methods may be called concurrently from several threads.
//  - Secrets: a full key appears only in IssuedKey::key; no method logs it, and
//    no error message contains it.
//  - Time comes from the Clock given to the implementation (Unix seconds).
//  - Errors: InvalidArgument (bad request), NotFound (no such key id),
//    AlreadyExists (name in use), FailedPrecondition (revoked/expired key
//    cannot be rotated or revoked again), Unavailable / DataLoss / Internal
//    (storage). A failed mutation changes nothing, neither in storage nor in memory.
class KeyStore {
   public:
    virtual ~KeyStore() = default;

    // Creates a key with a fresh id and secret.
    virtual Result<IssuedKey> Create(const CreateKeyRequest& request) = 0;

    // Every key (revoked and expired included), ordered by created then id.
    virtual Result<std::vector<ApiKeyRecord>> List() = 0;

    // Marks the key revoked now; it fails authentication from then on (its
    // in-grace previous key too). FailedPrecondition if already revoked.
    virtual Result<ApiKeyRecord> Revoke(std::string_view id) = 0;

    // Gives the key a new secret (same id, name, scopes, expiry). The replaced
    // key keeps working for grace_seconds (0: not at all); an earlier
    // in-grace key is dropped. FailedPrecondition for a revoked or expired key,
    // InvalidArgument for a negative grace.
    virtual Result<IssuedKey> Rotate(std::string_view id, std::int64_t grace_seconds) = 0;

    // Sets the key's own rate limit (nullopt: back to its scope's limit).
    // InvalidArgument for a bad limit, FailedPrecondition for a revoked key.
    virtual Result<ApiKeyRecord> SetRateLimit(std::string_view id, const std::optional<KeyRateLimit>& limit) = 0;

    // Checks a presented key. On success returns the record (with last_used
    // updated). On refusal returns kUnauthenticated with a message naming the
    // reason and, when well-formed, the key id (never the secret), and sets
    // *failure (when given) to the reason. Revoked/expired are only reported
    // to a caller presenting the right secret; a wrong secret is kWrongSecret.
    // Other codes mean the store itself failed (*failure = kNone).
    virtual Result<AuthenticatedKey> Authenticate(std::string_view presented_key, AuthFailure* failure = nullptr) = 0;

    // The store's database connection pool, for metrics: nullopt for stores
    // without one (file, memory, vault); DatabaseKeyStore reports its PgPool.
    // Cheap, no I/O, thread-safe (called on every metrics scrape).
    virtual std::optional<PoolStats> pool_stats() const { return std::nullopt; }
};

// Validation shared by the implementations (InvalidArgument naming the field).
Status ValidateCreateRequest(const CreateKeyRequest& request);
Status ValidateKeyRateLimit(const KeyRateLimit& limit);

}  // namespace signalhub::security
