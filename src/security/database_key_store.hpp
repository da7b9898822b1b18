#pragma once
// DatabaseKeyStore: API key records in a PostgreSQL table, so every replica of
// `signal-hub serve` sees the same keys at once (security.api_keys.storage:
// database). Uses the project's PostgreSQL client (db/postgres/pg_client.hpp:
// URL parameters schema=, pool_size=, max_overflow=, pool_timeout=, the rest
// is libpq's) and follows the store's rules for PgBouncer transaction mode:
// only unnamed statements (PQexecParams), locks and settings scoped to one
// transaction, nothing kept in the server session.
//
// Schema (in the URL's schema, default public), created on Open in one
// transaction under a transaction-scoped advisory lock and versioned in
// signal_hub_api_key_migrations (version PK, description, applied_at); a
// database whose version is newer than this build's is refused. Version 1:
//
//   signal_hub_api_key_meta(key text PK, value text)   'pepper_fingerprint'
//   signal_hub_api_keys(id text PK (16 hex), name text, scopes text[] (non-empty),
//       collections text[], created bigint, expires bigint NULL, revoked bigint NULL,
//       last_used bigint NULL, hash text, previous_hash text NULL,
//       previous_valid_until bigint NULL)
//   signal_hub_api_keys_active_name: UNIQUE (name) WHERE revoked IS NULL
//
// Times are Unix seconds from the store's Clock (not the server's now()), so
// replicas and tests agree with the other backends.
//
// Operations (each one transaction; the rules are key_rules.hpp's):
//   Create     INSERT ... ON CONFLICT DO NOTHING: the partial unique index decides
//              name conflicts, so concurrent creates of one name on any number of
//              replicas give exactly one key and AlreadyExists for the others.
//   Revoke /   SELECT ... FOR UPDATE of the one row, the rule applied in memory,
//   Rotate     UPDATE, COMMIT: concurrent changes of a key serialise on its row lock.
//   List       one SELECT ordered by created, id.
//   Authenticate  one SELECT by primary key (no table scan, no write), then
//              last_used: written with a conditional UPDATE only when the stored
//              value is older than usage_write_interval (default 60 s), and a store
//              skips even that round trip for a key it wrote within the interval.
//              So a busy key costs at most one write per interval per replica, and
//              the stored last_used lags the truth by less than the interval. A
//              failed usage write does not fail the authentication (it is retried
//              with the next one).
//
// Open refuses a database whose keys were hashed with another pepper
// (FailedPrecondition naming both fingerprints), like FileKeyStore.
//
// Thread safety: every method may be called from several threads (the
// connection pool hands each call its own connection).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/status.hpp"
#include "security/api_key.hpp"
#include "security/key_store.hpp"

namespace signalhub::security {

struct DatabaseKeyStoreOptions {
    // Seconds between two last_used writes of one key (>= 0; 0 writes every use).
    std::int64_t usage_write_interval = 60;
};

class DatabaseKeyStore final : public KeyStore {
   public:
    // `url`: postgresql://user:pass@host:port/db?schema=...&pool_size=... Errors:
    // InvalidArgument (bad URL), Unavailable (server unreachable), FailedPrecondition
    // (schema newer than this build, or another pepper), PermissionDenied (cannot
    // create the table). `clock` must outlive the store.
    static Result<std::unique_ptr<DatabaseKeyStore>> Open(const std::string& url, KeyHasher hasher,
                                                          const Clock& clock, DatabaseKeyStoreOptions options = {});
    ~DatabaseKeyStore() override;

    Result<IssuedKey> Create(const CreateKeyRequest& request) override;
    Result<std::vector<ApiKeyRecord>> List() override;
    Result<ApiKeyRecord> Revoke(std::string_view id) override;
    Result<IssuedKey> Rotate(std::string_view id, std::int64_t grace_seconds) override;
    Result<ApiKeyRecord> SetRateLimit(std::string_view id, const std::optional<KeyRateLimit>& limit) override;
    Result<AuthenticatedKey> Authenticate(std::string_view presented_key, AuthFailure* failure = nullptr) override;
    // The connection pool's numbers (db/postgres/pg_client.hpp, PgPool::Stats).
    std::optional<PoolStats> pool_stats() const override;

    // The schema version this build creates and reads.
    static constexpr std::int64_t kSchemaVersion = 2;

   private:
    struct Impl;
    explicit DatabaseKeyStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace signalhub::security
