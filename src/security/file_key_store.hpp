#pragma once
// FileKeyStore: API key records in one JSON file (security.api_keys.storage: file).
//
// File: {"format": "signal-hub-api-keys", "version": 1, "hash": "hmac-sha256",
//        "pepper_fingerprint": "<16 hex>", "keys": [ {record}, ... ]}
// Only keyed hashes are stored. Every write is atomic: PATH.tmp is written with
// mode 0600, fsynced, renamed over PATH, and the directory fsynced. Changes
// (create, revoke, rotate, usage flush) take an exclusive flock on PATH.lock,
// re-read PATH and apply to what is on disk, so `signal-hub keys` and a
// running server never lose each other's updates.
//
// Reload: every call first compares PATH's (device, inode, size, mtime) with
// the file it last read and re-reads it when they differ (atomic replacement,
// a Kubernetes Secret or a Vault-agent file swap changes the inode); Reload()
// forces it (SIGHUP). A file that fails to load leaves the keys in memory
// unchanged and is not re-read until it changes again; last_reload_status()
// reports it. A file that disappears is an empty store (fail closed).
//
// last_used is kept in memory by Authenticate and written by FlushUsage() or
// with the next change, so authenticating never writes the file.
//
// Thread safety: every method may be called from several threads (one mutex).

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "security/api_key.hpp"
#include "security/key_store.hpp"
#include "core/clock.hpp"
#include "core/status.hpp"

namespace signalhub::security {

class FileKeyStore final : public KeyStore {
   public:
    // Opens the store at `path` (its directory must exist). A missing file is
    // an empty store, created by the first change. Errors: DataLoss (the file
    // is not a valid key file; the message names the path and the problem),
    // FailedPrecondition (written with another pepper), Unavailable (unreadable).
    // `clock` must outlive the store.
    static Result<std::unique_ptr<FileKeyStore>> Open(std::string path, KeyHasher hasher, const Clock& clock);

    Result<IssuedKey> Create(const CreateKeyRequest& request) override;
    Result<std::vector<ApiKeyRecord>> List() override;
    Result<ApiKeyRecord> Revoke(std::string_view id) override;
    Result<IssuedKey> Rotate(std::string_view id, std::int64_t grace_seconds) override;
    Result<ApiKeyRecord> SetRateLimit(std::string_view id, const std::optional<KeyRateLimit>& limit) override;
    Result<AuthenticatedKey> Authenticate(std::string_view presented_key, AuthFailure* failure = nullptr) override;

    // Re-reads the file now. On error the keys in memory stay as they were.
    Status Reload();
    // Writes the last_used times recorded since the last write; no-op if none.
    Status FlushUsage();
    // Outcome of the most recent load attempt (Open, Reload or automatic).
    Status last_reload_status() const;
    const std::string& path() const { return path_; }

    struct FileSignature {
        bool exists = false;
        unsigned long long device = 0, inode = 0;
        long long size = 0, mtime_sec = 0, mtime_nsec = 0;
        bool operator==(const FileSignature&) const = default;
    };

   private:
    FileKeyStore(std::string path, KeyHasher hasher, const Clock& clock);

    struct Loaded {
        std::vector<ApiKeyRecord> records;
        FileSignature signature;
    };
    Result<Loaded> LoadFromDisk() const;
    Status ReloadLocked(bool force);
    void AdoptLocked(Loaded loaded);
    // Runs `change` on the records on disk under PATH.lock and writes them back.
    Status MutateLocked(const std::function<Status(std::vector<ApiKeyRecord>&)>& change);
    Status WriteLocked(const std::vector<ApiKeyRecord>& records, FileSignature* written);

    const std::string path_;
    const KeyHasher hasher_;
    const Clock& clock_;

    mutable std::mutex mu_;
    std::vector<ApiKeyRecord> records_;
    FileSignature loaded_signature_;
    FileSignature failed_signature_;
    bool has_failed_signature_ = false;
    Status last_reload_status_;
    std::unordered_map<std::string, std::int64_t> pending_usage_;  // id -> last_used not yet written
};

}  // namespace signalhub::security
