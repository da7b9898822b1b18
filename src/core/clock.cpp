#include "core/clock.hpp"

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

Clock& Clock::Real() {
    static RealClock clock;
    return clock;
}

}  // namespace signalhub
