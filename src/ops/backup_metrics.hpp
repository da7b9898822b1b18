#pragma once
// The backup metrics file of `signal-hub migrate export --metrics-file` (docs/production/monitoring/
// metrics.md, "Backup metrics"): a scheduled export is the logical backup of a store, and this file
// tells Prometheus when the last one succeeded, through node_exporter's textfile collector or a
// Pushgateway. Only a successful export writes it, so a failing backup job leaves the old timestamp
// and SignalHubBackupStale fires.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/status.hpp"
#include "ops/migrate.hpp"

namespace signalhub::ops {

// The Prometheus text exposition of one successful export: signal_hub_backup_last_success_timestamp_seconds,
// signal_hub_backup_records, signal_hub_backup_bytes, signal_hub_backup_collections and
// signal_hub_backup_duration_seconds, each with label source="embedded|postgresql|chromadb". Pure.
std::string RenderBackupMetrics(SourceKind source, const ExportSummary& summary,
                                std::chrono::system_clock::time_point finished);

// Writes RenderBackupMetrics to `path` atomically (a temporary file in the same directory, fsync,
// rename): node_exporter never reads half a file. Unavailable naming the path when it cannot.
Status WriteBackupMetrics(const std::string& path, SourceKind source, const ExportSummary& summary,
                          std::chrono::system_clock::time_point finished);

// The restore-drill metrics of `signal-hub backup drill --metrics-file` (a file of its own beside the
// backup metrics file: each is replaced whole). Written after every drill, failed or not:
// signal_hub_backup_drill_success (1/0) and _last_run_timestamp_seconds always; the records,
// queries and durations of that run; _last_success_timestamp_seconds is the finish time of a
// successful drill, or the one the file held before (absent until a drill has succeeded), so a
// failing drill leaves it behind and SignalHubRestoreDrillStale fires.
struct DrillMetrics {
    bool success = false;
    std::int64_t records = 0;         // records restored (0 when the restore failed)
    std::int64_t queries = 0, queries_passed = 0;
    double seconds = 0;               // the whole drill
    double restore_seconds = 0;       // restoring the archive (0 when it failed)
    std::chrono::system_clock::time_point finished;
    std::optional<double> last_success_unix;  // for a failed drill: the previous success, if any
};
std::string RenderDrillMetrics(SourceKind source, const DrillMetrics& metrics);
// The signal_hub_backup_drill_last_success_timestamp_seconds value of an existing drill metrics file
// (nullopt: no file, or no such line).
std::optional<double> ReadDrillLastSuccess(const std::string& path);
// Atomically, as WriteBackupMetrics.
Status WriteDrillMetrics(const std::string& path, SourceKind source, const DrillMetrics& metrics);

}  // namespace signalhub::ops
