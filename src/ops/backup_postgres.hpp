#pragma once
// signal-hub backup create | restore for a PostgreSQL + pgvector store (logical; ADR-24 in
// docs/architecture.md, docs/production/operations/backup-restore.md).
//
// create: ONE connection, ONE transaction `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`: the
// schema version, the data version, every collection (records read in id order, written in the
// `migrate export` format, export_format.hpp) and the API-key tables (signal_hub_api_keys and its
// meta/migration rows, as JSON lines) all come from that one snapshot; concurrent writers are
// neither blocked nor seen half-way. Members: manifest.json, data/records.jsonl (role "records"),
// keys/api-keys.jsonl (role "api-keys-table", only when the table exists). The archive code and
// the manifest are the embedded backup's (backup_archive.hpp, backup_manifest.hpp).
//
// restore: the whole archive is verified first (nothing is written for a damaged one). The target
// database must hold no signal-hub collection and no API key (else FailedPrecondition, unless
// force: the archived collections are then dropped first and archived key ids replaced). restore
// creates the schema itself (migrate init-db's InitDatabase), loads the records through
// `migrate import` (ImportExport: COPY, HNSW built after the load), counts every collection
// against the manifest (different: DataLoss) and then inserts the key rows.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "ops/backup.hpp"
#include "ops/backup_manifest.hpp"

namespace signalhub::ops {

struct PgBackupCreateOptions {
    std::string database_url;
    std::string output;
    bool overwrite = false;
    int zstd_level = 3;
};
Result<BackupCreateSummary> CreatePostgresBackup(const PgBackupCreateOptions& options);

struct PgBackupRestoreOptions {
    std::string archive;
    std::string database_url;
    bool force = false;
    // Called before the key rows are inserted when the archive holds API keys: creates the key
    // tables in the target (the CLI opens the configured DatabaseKeyStore against it, which
    // creates them and records its pepper's fingerprint). Restore then refuses a target whose
    // fingerprint differs from the archived one.
    std::function<Status()> prepare_key_tables;
};
struct PgBackupRestoreSummary {
    BackupManifest manifest;
    std::vector<BackupRestoreSummary::Count> counts;
    std::int64_t api_keys = 0;
    std::vector<std::string> notes;
    double seconds = 0;
};
Result<PgBackupRestoreSummary> RestorePostgresBackup(const PgBackupRestoreOptions& options);

// The URL without its password (for the manifest and messages).
std::string RedactDatabaseUrl(const std::string& url);

}  // namespace signalhub::ops
