#include "telemetry/process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace signalhub::telemetry {

namespace {

std::string ReadAll(const char* path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The system boot time (Unix seconds) from /proc/stat's btime line; 0 if unknown.
double BootTime() {
    std::ifstream in("/proc/stat");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
    }
    return 0;
}

}  // namespace

Result<ProcessStats> ReadProcessStats() {
    ProcessStats out;
    const long ticks = ::sysconf(_SC_CLK_TCK);
    const long page = ::sysconf(_SC_PAGESIZE);
    // /proc/self/stat: "pid (comm) state ..."; comm may hold spaces and
    // parentheses, so fields are counted after the last ')'.
    const std::string stat = ReadAll("/proc/self/stat");
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos || ticks <= 0 || page <= 0) return Unavailable("cannot read /proc/self/stat");
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f;  // f[0] is field 3 (state)
    for (std::string s; fields >> s;) f.push_back(s);
    if (f.size() < 22) return Unavailable("unexpected /proc/self/stat format");
    try {
        // Fields 14 utime, 15 stime, 22 starttime (clock ticks since boot), 24 rss (pages).
        out.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(ticks);
        out.start_time_seconds = BootTime() + std::stod(f[19]) / static_cast<double>(ticks);
        out.resident_memory_bytes = std::stod(f[21]) * static_cast<double>(page);
    } catch (const std::exception&) {
        return Unavailable("unexpected /proc/self/stat format");
    }
    std::error_code ec;
    double fds = 0;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++fds;
    if (ec) return Unavailable("cannot list /proc/self/fd: " + ec.message());
    out.open_fds = fds - 1;  // the directory iterator's own descriptor
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        out.max_fds = limit.rlim_cur == RLIM_INFINITY ? -1 : static_cast<double>(limit.rlim_cur);
    }
    return out;
}

void AddProcessMetrics(Registry& registry) {
    auto one = [](double ProcessStats::*field) {
        return [field]() -> std::vector<Sample> {
            Result<ProcessStats> stats = ReadProcessStats();
            if (!stats.ok()) return {};
            return {Sample{{}, (*stats).*field}};
        };
    };
    registry.AddCallback("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                         MetricType::kCounter, {}, one(&ProcessStats::cpu_seconds));
    registry.AddCallback("process_open_fds", "Number of open file descriptors.", MetricType::kGauge, {},
                         one(&ProcessStats::open_fds));
    registry.AddCallback("process_max_fds", "Maximum number of open file descriptors.", MetricType::kGauge, {},
                         one(&ProcessStats::max_fds));
    registry.AddCallback("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::kGauge, {},
                         one(&ProcessStats::resident_memory_bytes));
    registry.AddCallback("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                         MetricType::kGauge, {}, one(&ProcessStats::start_time_seconds));
}

}  // namespace signalhub::telemetry
