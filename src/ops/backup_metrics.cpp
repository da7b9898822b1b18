#include "ops/backup_metrics.hpp"

#include <cstdlib>
#include <fstream>

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

namespace {
constexpr const char* kDrillLastSuccess = "signal_hub_backup_drill_last_success_timestamp_seconds";
double Unix(std::chrono::system_clock::time_point t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }
}  // namespace

std::string RenderDrillMetrics(SourceKind source, const DrillMetrics& m) {
    telemetry::Registry registry;
    const std::string kind(SourceKindName(source));
    auto gauge = [&](const char* name, const char* help, double value) {
        registry.AddGauge(name, help, {"source"}).WithLabels({kind}).Set(value);
    };
    const std::optional<double> last_success = m.success ? std::optional<double>(Unix(m.finished)) : m.last_success_unix;
    if (last_success) {
        gauge(kDrillLastSuccess, "When the last successful restore drill (backup drill) finished (Unix time).",
              *last_success);
    }
    gauge("signal_hub_backup_drill_last_run_timestamp_seconds", "When the last restore drill finished (Unix time).",
          Unix(m.finished));
    gauge("signal_hub_backup_drill_success", "1 if the last restore drill passed, 0 if it failed.", m.success ? 1 : 0);
    gauge("signal_hub_backup_drill_records", "Records the last restore drill restored.", static_cast<double>(m.records));
    gauge("signal_hub_backup_drill_queries", "Queries the last restore drill ran against the restored store.",
          static_cast<double>(m.queries));
    gauge("signal_hub_backup_drill_queries_passed", "Queries of the last restore drill that found their record.",
          static_cast<double>(m.queries_passed));
    gauge("signal_hub_backup_drill_restore_duration_seconds", "How long the last restore drill took to restore the archive.",
          m.restore_seconds);
    gauge("signal_hub_backup_drill_duration_seconds", "How long the last restore drill took in all.", m.seconds);
    return telemetry::RenderPrometheus(registry.Collect());
}

std::optional<double> ReadDrillLastSuccess(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    const std::string prefix = kDrillLastSuccess;
    while (std::getline(in, line)) {
        if (line.rfind(prefix, 0) != 0 || line.size() <= prefix.size()) continue;
        if (line[prefix.size()] != '{' && line[prefix.size()] != ' ') continue;
        const auto space = line.rfind(' ');
        if (space == std::string::npos) continue;
        char* end = nullptr;
        const double v = std::strtod(line.c_str() + space + 1, &end);
        if (end != line.c_str() + space + 1 && v > 0) return v;
    }
    return std::nullopt;
}

Status WriteDrillMetrics(const std::string& path, SourceKind source, const DrillMetrics& metrics) {
    Status written = store::WriteFileAtomic(path, RenderDrillMetrics(source, metrics));
    if (!written.ok()) return Status(written.code(), "--metrics-file: " + written.message());
    return Status::Ok();
}

}  // namespace signalhub::ops
