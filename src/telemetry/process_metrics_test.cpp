#include "telemetry/process_metrics.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

namespace signalhub::telemetry {
namespace {

TEST(ProcessStats, PlausibleValues) {
    Result<ProcessStats> s = ReadProcessStats();
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_GT(s->resident_memory_bytes, 0);
    EXPECT_GE(s->cpu_seconds, 0);
    EXPECT_GE(s->open_fds, 3);  // stdin, stdout, stderr at least
    EXPECT_TRUE(s->max_fds == -1 || s->max_fds >= s->open_fds);
    const double now = static_cast<double>(::time(nullptr));
    EXPECT_GT(s->start_time_seconds, 1e9);
    EXPECT_LE(s->start_time_seconds, now + 1);
}

TEST(ProcessStats, OpenFdsCountsANewDescriptor) {
    Result<ProcessStats> before = ReadProcessStats();
    ASSERT_TRUE(before.ok());
    const int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    Result<ProcessStats> after = ReadProcessStats();
    ::close(fd);
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after->open_fds, before->open_fds + 1);
}

TEST(ProcessMetrics, RegistersTheFiveFamilies) {
    Registry registry;
    AddProcessMetrics(registry);
    const std::string text = RenderPrometheus(registry.Collect());
    for (const char* name : {"process_cpu_seconds_total ", "process_open_fds ", "process_max_fds ",
                             "process_resident_memory_bytes ", "process_start_time_seconds "}) {
        EXPECT_NE(text.find(std::string("\n") + name), std::string::npos) << name << " in\n" << text;
    }
    EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
}

}  // namespace
}  // namespace signalhub::telemetry
