#include "ops/backup_metrics.hpp"

#include "store/embedded/file_util.hpp"
#include "telemetry/metrics.hpp"

namespace signalhub::ops {

std::string RenderBackupMetrics(SourceKind source, const ExportSummary& summary,
                                std::chrono::system_clock::time_point finished) {
    telemetry::Registry registry;
    const std::string kind(SourceKindName(source));
    auto gauge = [&](const char* name, const char* help, double value) {
        registry.AddGauge(name, help, {"source"}).WithLabels({kind}).Set(value);
    };
    gauge("signal_hub_backup_last_success_timestamp_seconds",
          "When the last successful export (backup) of the store finished (Unix time).",
          std::chrono::duration<double>(finished.time_since_epoch()).count());
    gauge("signal_hub_backup_records", "Records in the last successful export.", static_cast<double>(summary.records));
    gauge("signal_hub_backup_bytes", "Size of the last successful export file.", static_cast<double>(summary.bytes));
    gauge("signal_hub_backup_collections", "Collections in the last successful export.",
          static_cast<double>(summary.collections.size()));
    gauge("signal_hub_backup_duration_seconds", "How long the last successful export took.", summary.seconds);
    return telemetry::RenderPrometheus(registry.Collect());
}

Status WriteBackupMetrics(const std::string& path, SourceKind source, const ExportSummary& summary,
                          std::chrono::system_clock::time_point finished) {
    Status written = store::WriteFileAtomic(path, RenderBackupMetrics(source, summary, finished));
    if (!written.ok()) return Status(written.code(), "--metrics-file: " + written.message());
    return Status::Ok();
}

}  // namespace signalhub::ops
