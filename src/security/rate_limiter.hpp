#pragma once
// Rate limiting by GCRA (the generic cell rate algorithm, a token bucket kept
// as one timestamp per bucket): an in-memory limiter for one process, and a
// Redis limiter whose budget is shared by every replica using the same Redis.
//
// GCRA with RateLimit{r, b}: the emission interval is T = 1/r seconds and the
// tolerance is b*T. Each bucket stores its theoretical arrival time TAT
// (absent = full). A request at time `now` is admitted when
//     max(TAT, now) + T - now <= b*T
// and then TAT becomes max(TAT, now) + T. So a full bucket admits b requests
// at once, then one every T seconds; it is full again after b*T seconds idle.
//
// Contract for every RateLimiter:
//  - Thread safety: Admit and Stats may be called concurrently from any
//    number of threads. Admit on one bucket is atomic: N concurrent callers on
//    a full bucket with a negligible refill get exactly `burst` admissions.
//  - Admit never throws and never blocks longer than the backend's timeout
//    (the memory limiter does not block beyond a short mutex).
//  - `bucket` is an opaque byte string (e.g. "search:<key id>"); buckets are
//    independent. A bucket should be admitted with one limit; a changed limit
//    applies from the next call (the stored TAT is read with the new T).
//  - Invalid limits (requests_per_second not a finite number > 0, or
//    burst < 1) are a caller bug: Admit refuses (allowed = false,
//    retry_after_seconds = 1, limit = max(burst, 0)) without touching the
//    bucket, and counts a rejection. Configuration validation prevents them.
//  - Errors are not Status values: a backend that cannot answer sets
//    RateDecision::backend_failed and decides by its fail mode (see
//    RedisRateLimiterOptions::fail_open), counting it in the stats.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/status.hpp"
#include "net/redis_client.hpp"

namespace signalhub::config {
struct RateLimitingConfig;  // config/config.hpp
struct RateLimitScope;
}  // namespace signalhub::config

namespace signalhub::security {

struct RateLimit {
    double requests_per_second = 0;  // emission interval 1/rps; > 0 and finite
    int burst = 1;                   // tolerance: requests admissible at once from a full bucket; >= 1
};

struct RateDecision {
    bool allowed = false;
    int limit = 0;                   // burst (the RateLimit-Limit value)
    int remaining = 0;               // requests still admissible right now (after this one, when allowed)
    double retry_after_seconds = 0;  // when refused: seconds until one request would be admitted (> 0); else 0
    double reset_seconds = 0;        // seconds until the bucket is full again (0: full)
    bool backend_failed = false;     // Redis unreachable/erroring; `allowed` then follows the fail mode
};

struct RateLimiterStats {
    std::uint64_t allowed = 0;        // decisions with allowed = true (including failed-open ones)
    std::uint64_t rejected = 0;       // decisions with allowed = false (including failed-closed ones)
    std::uint64_t backend_errors = 0; // Admit calls whose backend did not answer (= failed_open + failed_closed)
    std::uint64_t failed_open = 0;    // ... admitted because of fail_open
    std::uint64_t failed_closed = 0;  // ... refused because of fail closed
};

class RateLimiter {
   public:
    virtual ~RateLimiter() = default;
    virtual RateDecision Admit(std::string_view bucket, const RateLimit& limit) = 0;  // never throws
    virtual RateLimiterStats Stats() const = 0;
};

// The in-memory limiter: GCRA over a sharded map (bucket -> TAT in the clock's
// monotonic nanoseconds), one mutex per shard. Idle buckets — those that are
// full again, which behave exactly like absent ones — are evicted: at most
// every kSweepInterval of clock time, the Admit call that notices it sweeps
// every shard (one shard locked at a time). Memory is therefore bounded by
// the buckets that are not yet full. `clock` must outlive the limiter.
class MemoryRateLimiter final : public RateLimiter {
   public:
    static constexpr std::chrono::seconds kSweepInterval{10};
    static constexpr std::size_t kShards = 16;

    explicit MemoryRateLimiter(const Clock& clock);

    RateDecision Admit(std::string_view bucket, const RateLimit& limit) override;
    RateLimiterStats Stats() const override;

    // Buckets currently held (not yet evicted).
    std::size_t BucketCount() const;
    // Evicts every full bucket now; returns how many were removed.
    std::size_t EvictIdle();

   private:
    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    struct Shard {
        mutable std::mutex mu;
        std::unordered_map<std::string, std::int64_t, StringHash, std::equal_to<>> tat_ns;
    };
    std::int64_t NowNs() const;
    std::size_t EvictIdleAt(std::int64_t now_ns);

    const Clock& clock_;
    std::vector<Shard> shards_;
    std::atomic<std::int64_t> last_sweep_ns_;
    std::atomic<std::uint64_t> allowed_{0};
    std::atomic<std::uint64_t> rejected_{0};
};

std::unique_ptr<RateLimiter> MakeMemoryRateLimiter(const Clock& clock);

struct RedisRateLimiterOptions {
    std::string redis_url;  // redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB]
    redis::TlsOptions tls;  // rediss:// only: CA file, client certificate and key
    // When Redis cannot answer: true admits (availability first), false
    // refuses with retry_after_seconds = kFailClosedRetryAfter.
    bool fail_open = true;
    double timeout_seconds = 0.5;  // connect and per-command timeout (> 0)
    std::string key_prefix = "signal-hub:rl:";  // Redis key = key_prefix + bucket
    int pool_size = 8;  // connections at most (>= 1)
    // After a failed connect, calls fail at once for this long (then per fail
    // mode) instead of each waiting for a connect timeout. >= 0.
    double reconnect_interval_seconds = 0.25;
};

// Retry-After given by a fail-closed refusal (the backend state is unknown).
inline constexpr double kFailClosedRetryAfter = 1.0;

// The Redis limiter. Each Admit is ONE atomic Lua script (EVALSHA, falling
// back to EVAL when the server answers NOSCRIPT, e.g. after a restart or
// SCRIPT FLUSH) that reads the Redis server's TIME, so replicas with skewed
// clocks share one budget; it stores the TAT in microseconds with a key TTL
// of the time until the bucket is full (an idle bucket disappears). Commands
// run on a pool (RedisPool, net/redis_client.hpp): connect and command
// timeouts, reconnect after errors, AUTH and SELECT from the URL.
// Errors: InvalidArgument naming what is wrong with the options (the URL's
// scheme, host, port, database; never the password). Redis need not be up:
// the first Admit connects.
Result<std::unique_ptr<RateLimiter>> MakeRedisRateLimiter(const RedisRateLimiterOptions& options);

// From the configuration (security.rate_limiting): backend memory or redis,
// fail_mode open|closed. Errors: InvalidArgument prefixed with the key
// ("security.rate_limiting.redis_url: ..."). Does not look at `enabled`:
// callers decide whether to limit at all. `clock` (memory backend) must
// outlive the limiter.
Result<std::unique_ptr<RateLimiter>> MakeRateLimiter(const config::RateLimitingConfig& config, const Clock& clock);

// The RateLimit of one configured scope (security.rate_limiting.limits.<scope>).
RateLimit ToRateLimit(const config::RateLimitScope& scope);

}  // namespace signalhub::security
