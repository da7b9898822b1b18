#include "core/clock.hpp"

#include <ctime>

namespace signalhub {
namespace {
class RealClock final : public Clock {
   public:
    std::chrono::steady_clock::time_point Now() const override { return std::chrono::steady_clock::now(); }
    std::int64_t UnixSeconds() const override {
        return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};
}  // namespace

std::string FormatIso8601Utc(std::int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

Clock& Clock::Real() {
    static RealClock clock;
    return clock;
}

}  // namespace signalhub
