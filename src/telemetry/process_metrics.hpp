#pragma once
// The standard process_* metrics of Prometheus client libraries, read from
// /proc/self (Linux): process_resident_memory_bytes, process_cpu_seconds_total,
// process_open_fds, process_max_fds, process_start_time_seconds.

#include "core/status.hpp"
#include "telemetry/metrics.hpp"

namespace signalhub::telemetry {

struct ProcessStats {
    double resident_memory_bytes = 0;
    double cpu_seconds = 0;       // user + system
    double open_fds = 0;
    double max_fds = 0;           // the soft RLIMIT_NOFILE
    double start_time_seconds = 0;  // Unix time
};

// Reads the current values. Unavailable when /proc cannot be read.
Result<ProcessStats> ReadProcessStats();

// Registers the five process_* families as callbacks reading /proc at
// collection time (a family whose value cannot be read renders no sample).
void AddProcessMetrics(Registry& registry);

}  // namespace signalhub::telemetry
