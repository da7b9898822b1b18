#pragma once
// The manifest of a `signal-hub backup` archive: manifest.json, the archive's first member.
//
//   {"format": "signal-hub-backup", "format_version": 1,
//    "created": "2026-12-07T16:50:00Z", "created_unix": 1796662200,
//    "source": {"kind": "embedded", "location": "/srv/hub/.signal-hub", "host": "hub-1"},
//    "store": {"schema_version": 1, "data_version": 42},
//    "collections": [{"name": "repo", "records": 1234, "hnsw": "included" | "rebuild"}],
//    "records": 1234,
//    "files": [{"path": "store/store.db", "role": "store", "bytes": 4096, "sha256": "..."},
//              {"path": "config/signal-hub.yaml", "role": "config", "original_path": "/etc/...", ...},
//              {"path": "keys/api-keys.json", "role": "api-keys", "original_path": "...", "in_store": true, ...}]}
//
// Every other member of the archive is listed in "files" with its size and SHA-256; `verify`
// and `restore` refuse an archive with a member that is missing, extra or different.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace signalhub::ops {

inline constexpr int kBackupFormatVersion = 1;
inline constexpr const char* kManifestName = "manifest.json";

struct BackupManifest {
    struct Collection {
        std::string name;
        std::int64_t records = 0;
        std::string hnsw = "included";  // included | rebuild (the graph is rebuilt from the records on restore)
    };
    struct File {
        std::string path;  // member name: store/..., config/..., keys/...
        std::string role;  // store | hnsw | config | api-keys
        std::int64_t bytes = 0;
        std::string sha256;
        std::string original_path{};  // config and api-keys: where the file was
        bool in_store = false;        // api-keys: the file lived in the store directory
    };
    int format_version = kBackupFormatVersion;
    std::int64_t created_unix = 0;
    std::string source_kind = "embedded";
    std::string source_location;  // the store directory (or database URL without password)
    std::string host;
    int schema_version = 0;
    std::int64_t data_version = 0;
    std::vector<Collection> collections;
    std::vector<File> files;

    std::int64_t TotalRecords() const;
    const File* FindFile(const std::string& path) const;
};

// ISO 8601 UTC ("2026-12-07T16:50:00Z").
std::string FormatUtc(std::int64_t unix_seconds);

std::string ManifestToJson(const BackupManifest& m);
// DataLoss naming the key for a manifest that is not ours or malformed; FailedPrecondition for a
// newer format_version than this build reads.
Result<BackupManifest> ParseManifest(const std::string& json);

}  // namespace signalhub::ops
