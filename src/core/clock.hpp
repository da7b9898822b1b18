#pragma once
// Injectable clock: anything time-based takes a Clock& so tests use FakeClock.

#include <chrono>
#include <cstdint>
#include <string>

namespace signalhub {

class Clock {
   public:
    virtual ~Clock() = default;
    // Monotonic time for durations, timeouts and rate limits.
    virtual std::chrono::steady_clock::time_point Now() const = 0;
    // Wall-clock seconds since the Unix epoch, for timestamps shown to people.
    virtual std::int64_t UnixSeconds() const = 0;
    // Real-time clock shared by the process.
    static Clock& Real();
};

class FakeClock final : public Clock {
   public:
    std::chrono::steady_clock::time_point Now() const override { return now_; }
    std::int64_t UnixSeconds() const override { return unix_; }
    void Advance(std::chrono::nanoseconds d) {
        now_ += d;
        unix_ += std::chrono::duration_cast<std::chrono::seconds>(d).count();
    }
    void SetUnixSeconds(std::int64_t s) { unix_ = s; }

   private:
    std::chrono::steady_clock::time_point now_{};
    std::int64_t unix_ = 1'700'000'000;
};

// "2026-11-25T03:17:18Z" (ISO-8601, UTC) for Unix seconds.
std::string FormatIso8601Utc(std::int64_t unix_seconds);

}  // namespace signalhub
