#pragma once
// The backup metrics file of `signal-hub migrate export --metrics-file` (docs/production/monitoring/
// metrics.md, "Backup metrics"): a scheduled export is the logical backup of a store, and this file
// tells Prometheus when the last one succeeded, through node_exporter's textfile collector or a
// Pushgateway. Only a successful export writes it, so a failing backup job leaves the old timestamp
// and SignalHubBackupStale fires.

#include <chrono>
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

}  // namespace signalhub::ops
