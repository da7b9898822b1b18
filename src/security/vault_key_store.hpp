#pragma once
// VaultKeyStore: API key records in one HashiCorp Vault KV v2 secret
// (security.api_keys.storage: vault), over the project's HTTP client
// (net/http_client.hpp; https with the system trust store or ca_file).
//
// Layout: the secret <mount>/data/<path> (default secret/data/signal-hub/api-keys)
// holds the key document of key_document.hpp as its data — the same JSON as
// FileKeyStore's file: {"format","version","hash","pepper_fingerprint","keys":[...]}.
// One secret for all keys, not one per key: the name-uniqueness rule spans
// keys and one check-and-set write makes it atomic; List and a cache refresh
// are one GET instead of a LIST plus one GET per key; one policy path to grant.
// The cost is that every change rewrites the whole document (a few hundred
// bytes per key: thousands of keys stay far below Vault's entry size limits).
//
// Writes: POST <mount>/data/<path> with {"options":{"cas":V},"data":{...}},
// V the version the change was computed from (0: the secret must not exist
// yet). A mutation starts from the cached document; on Vault's
// "check-and-set parameter did not match the current version" (400) it reads
// the secret again and re-applies the change (up to 16 times, then Aborted),
// so concurrent writers (replicas, `signal-hub keys`) never lose an update.
// A change refused by the rules on a cached document is re-checked on a fresh
// read before the error is returned.
//
// Reads and the cache: Authenticate serves from the document read at most
// cache_ttl seconds ago (the store's Clock, monotonic); older, it reads the
// secret again. A well-formed key whose id is not in the cache, or whose
// secret does not match the cached hash, makes it read the secret again
// before refusing — at most once per second per store (unknown keys cannot
// make it hammer Vault) — so a key created or rotated elsewhere works at once.
// List always reads the secret. A store sees its own changes at once; another
// replica's revocation reaches it within cache_ttl. When the
// secret cannot be read and the cache is older than cache_ttl, Authenticate
// fails with that error (fail closed: a revoked key is never honoured longer
// than cache_ttl).
//
// last_used: Authenticate records it in memory; it is written together with
// the next change, by FlushUsage(), or by an Authenticate once
// usage_write_interval (default 60 s) has passed since the last write — one
// CAS write for all keys used meanwhile. List shows the in-memory times.
//
// Authentication to Vault:
//   token       X-Vault-Token from `token`, or the VAULT_TOKEN environment
//               variable when empty. Not renewed (the operator's token).
//   kubernetes  POST /v1/auth/<kubernetes_mount>/login {"role","jwt"} with the
//               service-account JWT read from jwt_file (re-read at every login:
//               projected tokens rotate). The token is renewed
//               (POST /v1/auth/token/renew-self) after two thirds of its lease,
//               and a new login happens when renewal fails, the lease has ended,
//               or Vault answers 403 (then the request is sent once more).
// X-Vault-Namespace is sent when `vault_namespace` is set.
//
// Errors (never containing the token or the JWT): Vault's {"errors":[...]}
// text is quoted. PermissionDenied (403: token or policy), NotFound (404 of
// the mount), Unavailable (connection failures, 503 sealed/standby, other
// 5xx, 412), ResourceExhausted (429), InvalidArgument (other 4xx),
// FailedPrecondition (the document was written with another pepper), DataLoss
// (the secret's data is not a key document).
//
// Thread safety: every method may be called from several threads (one mutex;
// a call that reads or writes Vault holds it for that round trip).

#include <chrono>
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

struct VaultKeyStoreOptions {
    std::string url;                        // http(s)://host:port (required)
    std::string mount = "secret";           // KV v2 mount
    std::string path = "signal-hub/api-keys";
    std::string auth = "token";             // token | kubernetes
    std::string token;                      // token auth; empty: $VAULT_TOKEN
    std::string role;                       // kubernetes auth: the Vault role
    std::string jwt_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
    std::string kubernetes_mount = "kubernetes";  // auth/<this>/login
    std::string vault_namespace;            // X-Vault-Namespace (Vault Enterprise / HCP)
    std::string ca_file;                    // PEM CA bundle for https; empty: the system trust store
    double cache_ttl = 30;                  // seconds (>= 0; 0: read the secret at every Authenticate)
    std::int64_t usage_write_interval = 60;  // seconds between last_used writes (>= 0)
    std::chrono::milliseconds timeout{10000};  // per HTTP request
};

class VaultKeyStore final : public KeyStore {
   public:
    // Checks the options (InvalidArgument naming the option), logs in
    // (kubernetes) and reads the secret once, so a wrong URL, token, policy or
    // pepper fails here. `clock` must outlive the store.
    static Result<std::unique_ptr<VaultKeyStore>> Open(VaultKeyStoreOptions options, KeyHasher hasher,
                                                       const Clock& clock);
    ~VaultKeyStore() override;

    Result<IssuedKey> Create(const CreateKeyRequest& request) override;
    Result<std::vector<ApiKeyRecord>> List() override;
    Result<ApiKeyRecord> Revoke(std::string_view id) override;
    Result<IssuedKey> Rotate(std::string_view id, std::int64_t grace_seconds) override;
    Result<ApiKeyRecord> SetRateLimit(std::string_view id, const std::optional<KeyRateLimit>& limit) override;
    Result<AuthenticatedKey> Authenticate(std::string_view presented_key, AuthFailure* failure = nullptr) override;

    // Writes the last_used times recorded since the last write; no-op if none.
    Status FlushUsage();

    struct Stats {
        std::int64_t reads = 0;          // GETs of the secret
        std::int64_t writes = 0;         // successful CAS writes
        std::int64_t cas_conflicts = 0;  // writes refused by check-and-set (then retried)
        std::int64_t logins = 0;         // kubernetes logins
        std::int64_t renewals = 0;       // token renewals
    };
    Stats stats() const;

    static constexpr int kMaxCasAttempts = 16;

   private:
    struct Impl;
    explicit VaultKeyStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace signalhub::security
