#pragma once
// signal-hub backup: create | list | verify | restore for the embedded store
// (docs/production/operations/backup-restore.md).
//
// create: a consistent snapshot of the store (store::SnapshotEmbeddedStore: database pages and
// HNSW graphs of one read transaction; a graph that does not match is left out and marked
// "rebuild", and the store rebuilds it from the records on open) while a concurrent writer
// (`index`, `serve --watch`) keeps going. The configuration file and the API-key file are added as
// they are. Everything is staged in ARCHIVE.partial.d, written to ARCHIVE.partial, fsynced and
// renamed: a killed run leaves no file under the final name.
//
// restore: the archive is verified completely (every member's size and SHA-256 against the
// manifest) before anything is written; then extracted into a temporary directory beside the
// target, opened as a store (which catches the HNSW graphs up or rebuilds them), counted per
// collection against the manifest, and renamed into place.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/record.hpp"
#include "core/status.hpp"
#include "ops/backup_manifest.hpp"

namespace signalhub::ops {

struct BackupCreateOptions {
    std::string store_dir;                      // the embedded store directory
    std::string output;                         // ARCHIVE (conventionally NAME.tar.zst)
    std::optional<std::string> config_file;     // the configuration file to include
    std::optional<std::string> api_keys_file;   // security.api_keys file storage: the key file (if it exists)
    bool overwrite = false;                     // replace an existing ARCHIVE
    int zstd_level = 3;
};
struct BackupCreateSummary {
    BackupManifest manifest;
    std::int64_t archive_bytes = 0;
    double seconds = 0;
    std::vector<std::string> notes;  // e.g. a graph left for rebuild
};
Result<BackupCreateSummary> CreateEmbeddedBackup(const BackupCreateOptions& options);

// Reads the whole archive, checks every member against the manifest. DataLoss naming the archive
// and the member for any mismatch, a missing or unlisted member, or damage.
Result<BackupManifest> VerifyBackup(const std::string& archive);

// Reads only the manifest (the first member): for `list`.
Result<BackupManifest> ReadBackupManifest(const std::string& archive);

struct BackupListEntry {
    std::string path;
    std::int64_t bytes = 0;
    std::optional<BackupManifest> manifest;  // nullopt: unreadable (error says why)
    std::string error;
};
// The *.tar.zst files of `dir` with their manifests, newest (manifest created time, else file
// mtime) first. NotFound for a missing directory.
Result<std::vector<BackupListEntry>> ListBackups(const std::string& dir);
// Retention: removes the archives of `dir` beyond the newest `keep` (ordered as ListBackups), never
// `just_written` and never a file whose manifest cannot be read (not ours, or damaged: left for a
// person to look at). Returns the removed paths. InvalidArgument for keep 0.
Result<std::vector<std::string>> PruneBackups(const std::string& dir, size_t keep, const std::string& just_written);

struct BackupRestoreOptions {
    std::string archive;
    std::string store_dir;                   // target store directory
    bool force = false;                      // replace a non-empty target
    std::optional<std::string> files_dir;    // write the archived config (and an API-key file kept outside the store) here
};
struct BackupRestoreSummary {
    BackupManifest manifest;
    struct Count {
        std::string collection;
        std::int64_t expected = 0, restored = 0;
    };
    std::vector<Count> counts;
    std::vector<std::string> written;  // files written besides the store
    std::vector<std::string> notes;
    double seconds = 0;
};
// FailedPrecondition for a non-empty target without force (or one held by a writer); DataLoss for a
// damaged archive (nothing written) or a restored store with other record counts than the manifest
// (the target is left untouched).
Result<BackupRestoreSummary> RestoreEmbeddedBackup(const BackupRestoreOptions& options);

// Shared by both restores: the record count of every collection of the manifest in `restored` (a
// restored store's ListCollections), appended to `counts`. Returns "" when all agree, else what
// differs ("collection a: 5 records, manifest says 7; collection b: missing, manifest says 3").
// Collections the manifest does not name are not looked at.
std::string CompareCountsWithManifest(const BackupManifest& manifest, const std::vector<CollectionInfo>& restored,
                                      std::vector<BackupRestoreSummary::Count>& counts);

// Shared with the PostgreSQL backup (backup_postgres.cpp). Writes manifest.json then each
// (member, file) to output.partial, fsyncs and renames it to `output`.
Status WriteBackupArchive(const std::string& output, const BackupManifest& manifest,
                          const std::vector<std::pair<std::string, std::string>>& sources, std::int64_t* bytes);
// Reads the whole archive, checking every member against the manifest; `extract` returns where to
// write a member ("" = do not write).
using ExtractFn = std::function<Result<std::string>(const BackupManifest&, const BackupManifest::File&)>;
Result<BackupManifest> ExtractBackupArchive(const std::string& archive, const ExtractFn& extract);

// Shared by both stores' backups: seconds elapsed since `t0`, and this host's name for the
// manifest ("" when it cannot be read).
double SecondsSince(std::chrono::steady_clock::time_point t0);
std::string BackupHostName();

}  // namespace signalhub::ops
