#pragma once
// The timing harness of the HTTP benchmarks (mcp_http_bench, secure_http_bench): n calls of a
// function spread over T threads, their latencies, and p50 / p99 / QPS.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>
#include <vector>

namespace signalhub::bench {

struct Run {
    std::vector<double> ms;  // one latency per call
    double seconds = 0;      // wall time of the whole run
    nlohmann::json Summary() const {
        auto v = ms;
        std::sort(v.begin(), v.end());
        auto pct = [&](double p) { return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))]; };
        return {{"requests", v.size()}, {"p50_ms", pct(0.50)}, {"p99_ms", pct(0.99)},
                {"qps", seconds > 0 ? static_cast<double>(v.size()) / seconds : 0.0}};
    }
};

// Runs fn(thread, i) -> ok for i in [0, n), `threads` at a time (i goes to thread i % threads). With a
// rate (requests per second in all), call i is due at start + i / rate: its thread waits until then (or
// starts it late if its previous call is still running) and its latency counts from the due time, so that
// a queue building up behind a slow call counts against the latency (no coordinated omission); without
// one, each thread calls back to back and a latency counts from the call's start. A call that returns
// false or throws ends the benchmark: "<who>: a request failed" and exit status 1.
template <typename F>
Run Drive(const char* who, size_t n, int threads, double rate, F&& fn) {
    using SteadyClock = std::chrono::steady_clock;
    Run run;
    std::mutex mu;
    std::atomic<bool> failed{false};
    const bool paced = rate > 0;
    const auto start = SteadyClock::now() + (paced ? std::chrono::milliseconds(5) : std::chrono::milliseconds(0));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            std::vector<double> mine;
            for (size_t i = static_cast<size_t>(t); i < n && !failed; i += static_cast<size_t>(threads)) {
                auto t0 = SteadyClock::now();
                if (paced) {
                    t0 = start + std::chrono::duration_cast<SteadyClock::duration>(
                                     std::chrono::duration<double>(static_cast<double>(i) / rate));
                    std::this_thread::sleep_until(t0);
                }
                try {
                    if (!fn(t, i)) failed = true;
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "request %zu: %s\n", i, e.what());
                    failed = true;
                }
                mine.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
            }
            std::lock_guard lock(mu);
            run.ms.insert(run.ms.end(), mine.begin(), mine.end());
        });
    }
    for (auto& th : pool) th.join();
    run.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    if (failed) {
        std::fprintf(stderr, "%s: a request failed (see above)\n", who);
        std::exit(1);
    }
    return run;
}

// Closed loop: every thread calls as fast as its calls return.
template <typename F>
Run Measure(const char* who, size_t n, int threads, F&& fn) {
    return Drive(who, n, threads, 0.0, std::forward<F>(fn));
}

// Open loop at `rate` requests per second in all (see Drive).
template <typename F>
Run MeasurePaced(const char* who, size_t n, int threads, double rate, F&& fn) {
    return Drive(who, n, threads, rate, std::forward<F>(fn));
}

}  // namespace signalhub::bench
