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

TEST(DrillMetrics, ASuccessStampsItsFinishTime) {
    DrillMetrics m;
    m.success = true;
    m.records = 4321;
    m.queries = 6;
    m.queries_passed = 6;
    m.seconds = 3.5;
    m.restore_seconds = 1.25;
    m.finished = kFinished;
    m.last_success_unix = 1000;  // an older success: replaced by this one
    const std::string text = RenderDrillMetrics(SourceKind::kEmbedded, m);
    EXPECT_THAT(text, HasSubstr("signal_hub_backup_drill_last_success_timestamp_seconds{source=\"embedded\"} 1764504000\n"));
    EXPECT_THAT(text, HasSubstr("signal_hub_backup_drill_last_run_timestamp_seconds{source=\"embedded\"} 1764504000\n"));
    EXPECT_THAT(text, HasSubstr("signal_hub_backup_drill_success{source=\"embedded\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("signal_hub_backup_drill_records{source=\"embedded\"} 4321\n"));
    EXPECT_THAT(text, HasSubstr("signal_hub_backup_drill_queries_passed{source=\"embedded\"} 6\n"));
    EXPECT_THAT(text, HasSubstr("signal_hub_backup_drill_restore_duration_seconds{source=\"embedded\"} 1.25\n"));
    EXPECT_THAT(text, HasSubstr("signal_hub_backup_drill_duration_seconds{source=\"embedded\"} 3.5\n"));
}

TEST(DrillMetrics, AFailureKeepsThePreviousSuccessOrHasNone) {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("drill_metrics_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "signal_hub_backup_drill.prom").string();
    EXPECT_EQ(ReadDrillLastSuccess(path), std::nullopt);  // no file yet

    DrillMetrics ok;
    ok.success = true;
    ok.finished = kFinished;
    ASSERT_TRUE(WriteDrillMetrics(path, SourceKind::kEmbedded, ok).ok());
    EXPECT_EQ(ReadDrillLastSuccess(path), 1764504000.0);

    DrillMetrics failed;
    failed.finished = kFinished + std::chrono::hours(24);
    failed.last_success_unix = ReadDrillLastSuccess(path);
    ASSERT_TRUE(WriteDrillMetrics(path, SourceKind::kEmbedded, failed).ok());
    EXPECT_EQ(ReadDrillLastSuccess(path), 1764504000.0);
    std::ifstream in(path);
    std::stringstream read;
    read << in.rdbuf();
    EXPECT_THAT(read.str(), HasSubstr("signal_hub_backup_drill_success{source=\"embedded\"} 0\n"));
    EXPECT_THAT(read.str(), HasSubstr("signal_hub_backup_drill_last_run_timestamp_seconds{source=\"embedded\"} 1764590400\n"));

    // A drill that never succeeded writes no success timestamp at all (not 0, which would read as 1970).
    DrillMetrics never;
    never.finished = kFinished;
    EXPECT_THAT(RenderDrillMetrics(SourceKind::kEmbedded, never),
                ::testing::Not(HasSubstr("signal_hub_backup_drill_last_success_timestamp_seconds")));
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace signalhub::ops
