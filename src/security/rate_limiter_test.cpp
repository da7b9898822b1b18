#include "security/rate_limiter.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "net/redis_test_util.hpp"

// The memory limiter against a FakeClock (exact GCRA arithmetic), the
// configuration factory, and the Redis limiter's fail modes when Redis cannot
// be reached (no server needed). The contract shared by both backends is in
// rate_limiter_conformance_test.cpp.
namespace signalhub::security {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr RateLimit kTenPerSecondBurstFive{10, 5};  // T = 100 ms, tolerance 500 ms

TEST(MemoryRateLimiter, FullBucketAdmitsBurstThenRefuses) {
    FakeClock clock;
    MemoryRateLimiter limiter(clock);
    for (int i = 0; i < 5; ++i) {
        RateDecision d = limiter.Admit("k", kTenPerSecondBurstFive);
        EXPECT_TRUE(d.allowed) << i;
        EXPECT_EQ(d.limit, 5);
        EXPECT_EQ(d.remaining, 4 - i);
        EXPECT_DOUBLE_EQ(d.reset_seconds, 0.1 * (i + 1));
        EXPECT_EQ(d.retry_after_seconds, 0);
        EXPECT_FALSE(d.backend_failed);
    }
    RateDecision refused = limiter.Admit("k", kTenPerSecondBurstFive);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.limit, 5);
    EXPECT_EQ(refused.remaining, 0);
    EXPECT_DOUBLE_EQ(refused.retry_after_seconds, 0.1);
    EXPECT_DOUBLE_EQ(refused.reset_seconds, 0.5);
    RateLimiterStats stats = limiter.Stats();
    EXPECT_EQ(stats.allowed, 5u);
    EXPECT_EQ(stats.rejected, 1u);
    EXPECT_EQ(stats.backend_errors, 0u);
}

TEST(MemoryRateLimiter, RetryAfterIsExact) {
    FakeClock clock;
    MemoryRateLimiter limiter(clock);
    const RateLimit limit{3, 2};  // T = 333333333 ns (rounded to whole ns)
    ASSERT_TRUE(limiter.Admit("k", limit).allowed);
    ASSERT_TRUE(limiter.Admit("k", limit).allowed);
    RateDecision refused = limiter.Admit("k", limit);
    ASSERT_FALSE(refused.allowed);
    EXPECT_DOUBLE_EQ(refused.retry_after_seconds, 0.333333333);
    clock.Advance(nanoseconds(333333333 - 1));
    RateDecision early = limiter.Admit("k", limit);
    EXPECT_FALSE(early.allowed);
    EXPECT_DOUBLE_EQ(early.retry_after_seconds, 1e-9);
    clock.Advance(nanoseconds(1));
    RateDecision on_time = limiter.Admit("k", limit);
    EXPECT_TRUE(on_time.allowed);
    EXPECT_EQ(on_time.remaining, 0);
}

TEST(MemoryRateLimiter, SteadyRateIsTheConfiguredRate) {
    FakeClock clock;
    MemoryRateLimiter limiter(clock);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(limiter.Admit("k", kTenPerSecondBurstFive).allowed);
    // Every 100 ms one request: all admitted, each leaving nothing in the bucket.
    for (int i = 0; i < 100; ++i) {
        clock.Advance(milliseconds(100));
        RateDecision d = limiter.Admit("k", kTenPerSecondBurstFive);
        EXPECT_TRUE(d.allowed) << i;
        EXPECT_EQ(d.remaining, 0);
    }
    // Every 50 ms: exactly every other request is admitted (10 per second).
    int admitted = 0;
    for (int i = 0; i < 200; ++i) {
        clock.Advance(milliseconds(50));
        if (limiter.Admit("k", kTenPerSecondBurstFive).allowed) ++admitted;
    }
    EXPECT_EQ(admitted, 100);
}

TEST(MemoryRateLimiter, RemainingRefillsWithTime) {
    FakeClock clock;
    MemoryRateLimiter limiter(clock);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(limiter.Admit("k", kTenPerSecondBurstFive).allowed);
    clock.Advance(milliseconds(250));  // 2.5 requests' worth refilled
    RateDecision d = limiter.Admit("k", kTenPerSecondBurstFive);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 1);
    EXPECT_DOUBLE_EQ(d.reset_seconds, 0.35);
    clock.Advance(nanoseconds(350'000'000));  // reset_seconds later: full again
    RateDecision full = limiter.Admit("k", kTenPerSecondBurstFive);
    EXPECT_TRUE(full.allowed);
    EXPECT_EQ(full.remaining, 4);
}

TEST(MemoryRateLimiter, BucketsAreIndependentAndBinarySafe) {
    FakeClock clock;
    MemoryRateLimiter limiter(clock);
    const RateLimit one{1, 1};
    EXPECT_TRUE(limiter.Admit(std::string_view("a\0b", 3), one).allowed);
    EXPECT_TRUE(limiter.Admit("a", one).allowed);
    EXPECT_TRUE(limiter.Admit(std::string_view("a\0c", 3), one).allowed);
    EXPECT_FALSE(limiter.Admit(std::string_view("a\0b", 3), one).allowed);
    EXPECT_FALSE(limiter.Admit("a", one).allowed);
    EXPECT_EQ(limiter.BucketCount(), 3u);
}

TEST(MemoryRateLimiter, IdleBucketsAreEvictedAndBehaveAsNew) {
    FakeClock clock;
    MemoryRateLimiter limiter(clock);
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(limiter.Admit("idle-" + std::to_string(i), kTenPerSecondBurstFive).allowed);
    const RateLimit slow{0.001, 1};  // full again only after 1000 s
    ASSERT_TRUE(limiter.Admit("slow", slow).allowed);
    EXPECT_EQ(limiter.BucketCount(), 101u);

    clock.Advance(seconds(1));  // the idle buckets are full, but no sweep is due yet
    ASSERT_TRUE(limiter.Admit("other", kTenPerSecondBurstFive).allowed);
    EXPECT_EQ(limiter.BucketCount(), 102u);

    clock.Advance(MemoryRateLimiter::kSweepInterval);  // the next Admit sweeps every shard
    ASSERT_TRUE(limiter.Admit("trigger", kTenPerSecondBurstFive).allowed);
    EXPECT_EQ(limiter.BucketCount(), 2u);  // "slow" (not full yet) and "trigger"
    EXPECT_FALSE(limiter.Admit("slow", slow).allowed);

    // An evicted bucket is a full bucket.
    RateDecision fresh = limiter.Admit("idle-7", kTenPerSecondBurstFive);
    EXPECT_TRUE(fresh.allowed);
    EXPECT_EQ(fresh.remaining, 4);

    clock.Advance(seconds(1000));
    EXPECT_EQ(limiter.EvictIdle(), 3u);
    EXPECT_EQ(limiter.BucketCount(), 0u);
}

TEST(MemoryRateLimiter, InvalidLimitsAreRefusedWithoutTouchingTheBucket) {
    FakeClock clock;
    MemoryRateLimiter limiter(clock);
    for (const RateLimit& bad : {RateLimit{0, 5}, RateLimit{-1, 5}, RateLimit{std::nan(""), 5},
                                 RateLimit{std::numeric_limits<double>::infinity(), 5}, RateLimit{10, 0}}) {
        RateDecision d = limiter.Admit("k", bad);
        EXPECT_FALSE(d.allowed);
        EXPECT_EQ(d.retry_after_seconds, 1);
    }
    EXPECT_EQ(limiter.BucketCount(), 0u);
    EXPECT_EQ(limiter.Stats().rejected, 5u);
}

TEST(MemoryRateLimiter, ConcurrentCallersShareOneBudget) {
    FakeClock clock;  // frozen: no refill while the threads run
    MemoryRateLimiter limiter(clock);
    const RateLimit limit{1, 100};
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 1000; ++i) {
                if (limiter.Admit("bucket-" + std::to_string(i % 4), limit).allowed) admitted.fetch_add(1);
                (void)limiter.Admit("own-" + std::to_string(t) + "-" + std::to_string(i), limit);
                if (i % 250 == 0) (void)limiter.EvictIdle();
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(admitted.load(), 400);  // 4 buckets x burst 100
    RateLimiterStats s = limiter.Stats();
    EXPECT_EQ(s.allowed, 400u + 8000u);
    EXPECT_EQ(s.rejected, 8000u - 400u);
    EXPECT_EQ(limiter.BucketCount(), 4u + 8000u);
}

// ---- the factory from the configuration ----

TEST(MakeRateLimiter, MemoryAndRedisFromTheConfiguration) {
    FakeClock clock;
    config::RateLimitingConfig cfg;
    auto memory = MakeRateLimiter(cfg, clock);
    ASSERT_TRUE(memory.ok()) << memory.status().ToString();
    EXPECT_NE(dynamic_cast<MemoryRateLimiter*>(memory->get()), nullptr);

    cfg.backend = "redis";
    cfg.redis_url = "redis://:hunter2@127.0.0.1:1/0";  // nothing needs to listen there yet
    auto redis = MakeRateLimiter(cfg, clock);
    ASSERT_TRUE(redis.ok()) << redis.status().ToString();

    // rediss:// (TLS): the files are loaded when the limiter is made; a missing one is named.
    cfg.redis_url = "rediss://:hunter2@127.0.0.1:6380/0";
    auto tls = MakeRateLimiter(cfg, clock);
    ASSERT_TRUE(tls.ok()) << tls.status().ToString();
    cfg.redis_tls_ca_file = "/nonexistent/redis-ca.pem";
    auto no_ca = MakeRateLimiter(cfg, clock);
    ASSERT_FALSE(no_ca.ok());
    EXPECT_EQ(no_ca.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(no_ca.status().message(),
                HasSubstr("security.rate_limiting: cannot read the TLS CA file /nonexistent/redis-ca.pem"));
    EXPECT_THAT(no_ca.status().message(), Not(HasSubstr("hunter2")));
    cfg.redis_tls_ca_file.clear();

    cfg.redis_url = "redis://:hunter2@127.0.0.1:70000/0";
    auto port = MakeRateLimiter(cfg, clock);
    ASSERT_FALSE(port.ok());
    EXPECT_THAT(port.status().message(), HasSubstr("security.rate_limiting.redis_url: "));
    EXPECT_THAT(port.status().message(), HasSubstr("port"));
    EXPECT_THAT(port.status().message(), Not(HasSubstr("hunter2")));

    cfg.redis_url = "redis://127.0.0.1";
    cfg.fail_mode = "sometimes";
    EXPECT_EQ(MakeRateLimiter(cfg, clock).status().code(), ErrorCode::kInvalidArgument);
    cfg.backend = "etcd";
    EXPECT_EQ(MakeRateLimiter(cfg, clock).status().code(), ErrorCode::kInvalidArgument);
}

TEST(MakeRateLimiter, ScopesConvertToLimits) {
    config::RateLimitScope scope{2.5, 7};
    RateLimit limit = ToRateLimit(scope);
    EXPECT_DOUBLE_EQ(limit.requests_per_second, 2.5);
    EXPECT_EQ(limit.burst, 7);
}

// ---- Redis that cannot be reached (no server needed) ----

std::unique_ptr<RateLimiter> RedisAt(int port, bool fail_open, double timeout = 0.5) {
    RedisRateLimiterOptions options;
    options.redis_url = "redis://:pw@127.0.0.1:" + std::to_string(port) + "/0";
    options.fail_open = fail_open;
    options.timeout_seconds = timeout;
    options.reconnect_interval_seconds = 0;
    auto limiter = MakeRedisRateLimiter(options);
    EXPECT_TRUE(limiter.ok()) << limiter.status().ToString();
    return limiter.ok() ? std::move(limiter).value() : nullptr;
}

TEST(RedisRateLimiterUnreachable, FailOpenAdmitsAndCounts) {
    auto limiter = RedisAt(redis::test::FreePort(), /*fail_open=*/true);
    ASSERT_TRUE(limiter);
    for (int i = 0; i < 3; ++i) {
        RateDecision d = limiter->Admit("k", RateLimit{1, 4});
        EXPECT_TRUE(d.allowed);
        EXPECT_TRUE(d.backend_failed);
        EXPECT_EQ(d.limit, 4);
        EXPECT_EQ(d.remaining, 3);
    }
    RateLimiterStats s = limiter->Stats();
    EXPECT_EQ(s.backend_errors, 3u);
    EXPECT_EQ(s.failed_open, 3u);
    EXPECT_EQ(s.failed_closed, 0u);
    EXPECT_EQ(s.allowed, 3u);
    EXPECT_EQ(s.rejected, 0u);
}

TEST(RedisRateLimiterUnreachable, FailClosedRefusesAndCounts) {
    auto limiter = RedisAt(redis::test::FreePort(), /*fail_open=*/false);
    ASSERT_TRUE(limiter);
    RateDecision d = limiter->Admit("k", RateLimit{1, 4});
    EXPECT_FALSE(d.allowed);
    EXPECT_TRUE(d.backend_failed);
    EXPECT_DOUBLE_EQ(d.retry_after_seconds, kFailClosedRetryAfter);
    RateLimiterStats s = limiter->Stats();
    EXPECT_EQ(s.backend_errors, 1u);
    EXPECT_EQ(s.failed_closed, 1u);
    EXPECT_EQ(s.failed_open, 0u);
    EXPECT_EQ(s.rejected, 1u);
}

TEST(RedisRateLimiterUnreachable, ServerThatNeverAnswersFollowsTheFailMode) {
    redis::test::SilentServer silent;
    auto open = RedisAt(silent.port(), true, 0.05);
    auto closed = RedisAt(silent.port(), false, 0.05);
    ASSERT_TRUE(open && closed);
    RateDecision a = open->Admit("k", RateLimit{1, 1});
    RateDecision b = closed->Admit("k", RateLimit{1, 1});
    EXPECT_TRUE(a.allowed && a.backend_failed);
    EXPECT_TRUE(!b.allowed && b.backend_failed);
    EXPECT_EQ(open->Stats().failed_open, 1u);
    EXPECT_EQ(closed->Stats().failed_closed, 1u);
}

}  // namespace
}  // namespace signalhub::security
