#include "ops/backup_metrics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace signalhub::ops {
namespace {

using ::testing::HasSubstr;

ExportSummary Summary() {
    ExportSummary s;
    s.collections = {{"api", 1200}, {"web", 34}};
    s.records = 1234;
    s.bytes = 567890;
    s.seconds = 2.5;
    return s;
}

const std::chrono::system_clock::time_point kFinished{std::chrono::seconds(1764504000)};

TEST(BackupMetrics, RenderOneGaugeFamilyEachLabelledWithTheSource) {
    const std::string text = RenderBackupMetrics(SourceKind::kPostgresql, Summary(), kFinished);
    EXPECT_THAT(text, HasSubstr("# TYPE signal_hub_backup_last_success_timestamp_seconds gauge\n"
                                "signal_hub_backup_last_success_timestamp_seconds{source=\"postgresql\"} 1764504000\n"));
    EXPECT_THAT(text, HasSubstr("signal_hub_backup_records{source=\"postgresql\"} 1234\n"));
    EXPECT_THAT(text, HasSubstr("signal_hub_backup_bytes{source=\"postgresql\"} 567890\n"));
    EXPECT_THAT(text, HasSubstr("signal_hub_backup_collections{source=\"postgresql\"} 2\n"));
    EXPECT_THAT(text, HasSubstr("signal_hub_backup_duration_seconds{source=\"postgresql\"} 2.5\n"));
    EXPECT_THAT(text, HasSubstr("# HELP signal_hub_backup_records Records in the last successful export.\n"));
}

TEST(BackupMetrics, AreWrittenWholeOrNotAtAll) {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("backup_metrics_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "signal_hub_backup.prom").string();
    ASSERT_TRUE(WriteBackupMetrics(path, SourceKind::kEmbedded, Summary(), kFinished).ok());
    std::ifstream in(path);
    std::stringstream read;
    read << in.rdbuf();
    EXPECT_EQ(read.str(), RenderBackupMetrics(SourceKind::kEmbedded, Summary(), kFinished));
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

    Status bad = WriteBackupMetrics((dir / "no-such-dir" / "x.prom").string(), SourceKind::kEmbedded, Summary(),
                                    kFinished);
    EXPECT_FALSE(bad.ok());
    EXPECT_THAT(bad.message(), HasSubstr("--metrics-file"));
    EXPECT_THAT(bad.message(), HasSubstr("no-such-dir"));
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace signalhub::ops
