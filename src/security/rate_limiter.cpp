#include "security/rate_limiter.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <limits>
#include <utility>

#include "config/config.hpp"
#include "net/redis_client.hpp"

namespace signalhub::security {
namespace {

// Caps keep T * burst far inside int64 nanoseconds (and exact in a double of
// microseconds) whatever a caller passes.
constexpr double kMaxIntervalNs = 1e15;  // one request per ~11.6 days
constexpr int kMaxBurst = 1'000'000;

bool ValidLimit(const RateLimit& limit) {
    return std::isfinite(limit.requests_per_second) && limit.requests_per_second > 0 && limit.burst >= 1;
}

RateDecision InvalidLimitDecision(const RateLimit& limit) {
    RateDecision d;
    d.allowed = false;
    d.limit = std::max(limit.burst, 0);
    d.retry_after_seconds = 1;
    return d;
}

// Emission interval in nanoseconds (>= 1) and the burst, capped.
std::int64_t IntervalNs(const RateLimit& limit) {
    const double ns = std::min(kMaxIntervalNs, 1e9 / limit.requests_per_second);
    return std::max<std::int64_t>(1, std::llround(ns));
}
int Burst(const RateLimit& limit) { return std::min(limit.burst, kMaxBurst); }

}  // namespace

// ---- memory -----------------------------------------------------------------------

MemoryRateLimiter::MemoryRateLimiter(const Clock& clock)
    : clock_(clock), shards_(kShards), last_sweep_ns_(0) {
    last_sweep_ns_.store(NowNs());
}

std::int64_t MemoryRateLimiter::NowNs() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.Now().time_since_epoch()).count();
}

RateDecision MemoryRateLimiter::Admit(std::string_view bucket, const RateLimit& limit) {
    if (!ValidLimit(limit)) {
        rejected_.fetch_add(1, std::memory_order_relaxed);
        return InvalidLimitDecision(limit);
    }
    const std::int64_t now = NowNs();
    // Sweep idle buckets at most once per interval (one caller wins the CAS).
    std::int64_t last = last_sweep_ns_.load(std::memory_order_relaxed);
    constexpr std::int64_t kSweepNs = std::chrono::duration_cast<std::chrono::nanoseconds>(kSweepInterval).count();
    if (now - last >= kSweepNs && last_sweep_ns_.compare_exchange_strong(last, now)) EvictIdleAt(now);

    const std::int64_t interval = IntervalNs(limit);
    const int burst = Burst(limit);
    const std::int64_t tolerance = interval * burst;
    RateDecision d;
    d.limit = burst;
    Shard& shard = shards_[std::hash<std::string_view>{}(bucket) % shards_.size()];
    try {
        std::lock_guard lock(shard.mu);
        auto it = shard.tat_ns.find(bucket);
        std::int64_t tat = it == shard.tat_ns.end() ? now : std::max(it->second, now);
        // With an unchanged limit the stored TAT never exceeds now + tolerance. Beyond it, the limit
        // was raised (keys set-rate-limit): the old limit's debt becomes one request short of an empty
        // bucket of the new limit, so the new limit applies at once (one request now, then its rate).
        if (tat > now + tolerance) tat = now + tolerance - interval;
        const std::int64_t new_tat = tat + interval;
        const std::int64_t diff = new_tat - now;  // > 0
        if (diff <= tolerance) {
            if (it == shard.tat_ns.end()) {
                shard.tat_ns.emplace(std::string(bucket), new_tat);
            } else {
                it->second = new_tat;
            }
            d.allowed = true;
            d.remaining = static_cast<int>((tolerance - diff) / interval);
            d.reset_seconds = static_cast<double>(diff) / 1e9;
        } else {
            d.allowed = false;
            d.remaining = 0;
            d.retry_after_seconds = static_cast<double>(diff - tolerance) / 1e9;
            d.reset_seconds = static_cast<double>(tat - now) / 1e9;
        }
    } catch (const std::exception&) {
        // Out of memory for a new bucket: admit (the limiter must not take the
        // server down with it), as if the bucket were full.
        d.allowed = true;
        d.remaining = burst - 1;
        d.reset_seconds = static_cast<double>(interval) / 1e9;
    }
    (d.allowed ? allowed_ : rejected_).fetch_add(1, std::memory_order_relaxed);
    return d;
}

RateLimiterStats MemoryRateLimiter::Stats() const {
    RateLimiterStats s;
    s.allowed = allowed_.load(std::memory_order_relaxed);
    s.rejected = rejected_.load(std::memory_order_relaxed);
    return s;
}

std::size_t MemoryRateLimiter::BucketCount() const {
    std::size_t n = 0;
    for (const Shard& shard : shards_) {
        std::lock_guard lock(shard.mu);
        n += shard.tat_ns.size();
    }
    return n;
}

std::size_t MemoryRateLimiter::EvictIdle() {
    const std::int64_t now = NowNs();
    last_sweep_ns_.store(now);
    return EvictIdleAt(now);
}

std::size_t MemoryRateLimiter::EvictIdleAt(std::int64_t now_ns) {
    std::size_t removed = 0;
    for (Shard& shard : shards_) {
        std::lock_guard lock(shard.mu);
        removed += std::erase_if(shard.tat_ns, [now_ns](const auto& entry) { return entry.second <= now_ns; });
    }
    return removed;
}

std::unique_ptr<RateLimiter> MakeMemoryRateLimiter(const Clock& clock) {
    return std::make_unique<MemoryRateLimiter>(clock);
}

// ---- redis ------------------------------------------------------------------------

namespace {

// KEYS[1]: the bucket. ARGV[1]: emission interval in whole microseconds,
// ARGV[2]: burst. Times in microseconds of the server's clock.
// Returns {allowed (0/1), remaining, retry_after_us, reset_us} as integers.
constexpr std::string_view kGcraScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tolerance = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if tat > now + tolerance then tat = now + tolerance - interval end  -- a raised limit applies at once
local new_tat = tat + interval
local diff = new_tat - now
if diff <= tolerance then
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.max(1, math.ceil(diff / 1000)))
  return {1, math.floor((tolerance - diff) / interval), 0, math.ceil(diff)}
end
return {0, 0, math.max(1, math.ceil(diff - tolerance)), math.ceil(tat - now)}
)lua";

std::string Sha1Hex(std::string_view text) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : digest) {
        out += kHex[b >> 4];
        out += kHex[b & 0xf];
    }
    return out;
}

// The emission interval in whole microseconds (>= 1): with integer times every
// step of the script is exact in Lua's doubles.
std::int64_t IntervalUs(const RateLimit& limit) {
    const double us = std::min(kMaxIntervalNs / 1000, 1e6 / limit.requests_per_second);
    return std::max<std::int64_t>(1, std::llround(us));
}

class RedisRateLimiter final : public RateLimiter {
   public:
    RedisRateLimiter(RedisRateLimiterOptions options, std::unique_ptr<redis::RedisPool> pool)
        : options_(std::move(options)), pool_(std::move(pool)), sha_(Sha1Hex(kGcraScript)) {}

    RateDecision Admit(std::string_view bucket, const RateLimit& limit) override {
        if (!ValidLimit(limit)) {
            rejected_.fetch_add(1, std::memory_order_relaxed);
            return InvalidLimitDecision(limit);
        }
        const int burst = Burst(limit);
        try {
            const std::string key = options_.key_prefix + std::string(bucket);
            const std::string interval_us = std::to_string(IntervalUs(limit));
            const std::string burst_text = std::to_string(burst);
            Result<redis::Reply> reply = pool_->Command({"EVALSHA", sha_, "1", key, interval_us, burst_text});
            if (reply.ok() && reply->IsError() && reply->str.rfind("NOSCRIPT", 0) == 0) {
                // EVAL runs the script and caches it on the server for the next EVALSHA.
                reply = pool_->Command({"EVAL", kGcraScript, "1", key, interval_us, burst_text});
            }
            if (!reply.ok()) return Failed(burst);
            const redis::Reply& r = *reply;
            if (r.type != redis::Reply::Type::kArray || r.elements.size() != 4) return Failed(burst);
            for (const redis::Reply& e : r.elements) {
                if (e.type != redis::Reply::Type::kInteger) return Failed(burst);
            }
            RateDecision d;
            d.limit = burst;
            d.allowed = r.elements[0].integer == 1;
            d.remaining = static_cast<int>(std::clamp<long long>(r.elements[1].integer, 0, burst));
            d.retry_after_seconds = d.allowed ? 0.0 : std::max(1LL, r.elements[2].integer) / 1e6;
            d.reset_seconds = static_cast<double>(std::max(0LL, r.elements[3].integer)) / 1e6;
            (d.allowed ? allowed_ : rejected_).fetch_add(1, std::memory_order_relaxed);
            return d;
        } catch (const std::exception&) {  // out of memory building the command
            return Failed(burst);
        }
    }

    RateLimiterStats Stats() const override {
        RateLimiterStats s;
        s.allowed = allowed_.load(std::memory_order_relaxed);
        s.rejected = rejected_.load(std::memory_order_relaxed);
        s.backend_errors = backend_errors_.load(std::memory_order_relaxed);
        s.failed_open = failed_open_.load(std::memory_order_relaxed);
        s.failed_closed = failed_closed_.load(std::memory_order_relaxed);
        return s;
    }

   private:
    RateDecision Failed(int burst) {
        backend_errors_.fetch_add(1, std::memory_order_relaxed);
        RateDecision d;
        d.limit = burst;
        d.backend_failed = true;
        if (options_.fail_open) {
            failed_open_.fetch_add(1, std::memory_order_relaxed);
            allowed_.fetch_add(1, std::memory_order_relaxed);
            d.allowed = true;
            d.remaining = burst - 1;  // unknown: what a full bucket would say
        } else {
            failed_closed_.fetch_add(1, std::memory_order_relaxed);
            rejected_.fetch_add(1, std::memory_order_relaxed);
            d.allowed = false;
            d.retry_after_seconds = kFailClosedRetryAfter;
        }
        return d;
    }

    const RedisRateLimiterOptions options_;
    std::unique_ptr<redis::RedisPool> pool_;
    const std::string sha_;
    std::atomic<std::uint64_t> allowed_{0};
    std::atomic<std::uint64_t> rejected_{0};
    std::atomic<std::uint64_t> backend_errors_{0};
    std::atomic<std::uint64_t> failed_open_{0};
    std::atomic<std::uint64_t> failed_closed_{0};
};

}  // namespace

Result<std::unique_ptr<RateLimiter>> MakeRedisRateLimiter(const RedisRateLimiterOptions& options) {
    SH_ASSIGN_OR_RETURN(redis::PoolOptions pool_options,
                        redis::MakePoolOptions(options.redis_url, options.tls, options.timeout_seconds,
                                               options.pool_size, options.reconnect_interval_seconds));
    SH_ASSIGN_OR_RETURN(std::unique_ptr<redis::RedisPool> pool, redis::RedisPool::Create(std::move(pool_options)));
    try {
        return std::unique_ptr<RateLimiter>(std::make_unique<RedisRateLimiter>(options, std::move(pool)));
    } catch (const std::exception& e) {
        return Internal(std::string("cannot create the Redis rate limiter: ") + e.what());
    }
}

RateLimit ToRateLimit(const config::RateLimitScope& scope) {
    return RateLimit{.requests_per_second = scope.requests_per_second, .burst = scope.burst};
}

Result<std::unique_ptr<RateLimiter>> MakeRateLimiter(const config::RateLimitingConfig& config, const Clock& clock) {
    if (config.backend == "memory") return MakeMemoryRateLimiter(clock);
    if (config.backend != "redis") {
        return InvalidArgument("security.rate_limiting.backend: must be one of memory, redis, got '" +
                               config.backend.substr(0, 40) + "'");
    }
    if (config.fail_mode != "open" && config.fail_mode != "closed") {
        return InvalidArgument("security.rate_limiting.fail_mode: must be one of open, closed, got '" +
                               config.fail_mode.substr(0, 40) + "'");
    }
    RedisRateLimiterOptions options;
    options.redis_url = config.redis_url;
    options.tls = {.ca_file = config.redis_tls_ca_file,
                   .cert_file = config.redis_tls_cert_file,
                   .key_file = config.redis_tls_key_file};
    options.fail_open = config.fail_mode == "open";
    if (auto url = redis::ParseRedisUrl(config.redis_url); !url.ok()) {
        return url.status().WithContext("security.rate_limiting.redis_url");
    }
    // What remains are the TLS files (redis_tls_*), named in the message.
    auto limiter = MakeRedisRateLimiter(options);
    if (!limiter.ok()) return limiter.status().WithContext("security.rate_limiting");
    return limiter;
}

}  // namespace signalhub::security
