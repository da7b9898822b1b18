#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "net/redis_test_util.hpp"
#include "security/rate_limiter.hpp"

// The RateLimiter contract (rate_limiter.hpp), run against every backend:
// "memory" (a frozen FakeClock) and "redis" (the server of the CTest fixture
// `redis`; label redis). Redis times requests by its own clock, which cannot be
// frozen: the tests use a rate of one request per 1000 s, so the refill during
// a test (< 0.01 request for a 10 s run) never admits an extra request, and
// compare times with the tolerance that follows (a few seconds out of 1000).
namespace signalhub::security {
namespace {

using ::testing::DoubleNear;
using ::testing::HasSubstr;

constexpr RateLimit kSlow{0.001, 5};  // T = 1000 s, burst 5

class RateLimiterConformance : public ::testing::TestWithParam<std::string> {
   protected:
    void SetUp() override {
        if (GetParam() == "redis") {
            url_ = redis::test::ServerUrl();
            ASSERT_FALSE(url_.empty());
            prefix_ = redis::test::UniquePrefix("rl");
            admin_ = redis::test::MakePool(url_);
        }
    }
    void TearDown() override {
        if (admin_) redis::test::DeleteKeys(*admin_, prefix_);
    }

    // A limiter; for redis, each call is another "replica" sharing the same keys.
    std::unique_ptr<RateLimiter> Make() {
        if (GetParam() == "memory") return MakeMemoryRateLimiter(clock_);
        RedisRateLimiterOptions options;
        options.redis_url = url_;
        options.key_prefix = prefix_;
        options.timeout_seconds = 10;  // generous: sanitizer builds on a busy machine
        options.fail_open = false;     // a backend failure must not pass as an admission here
        auto limiter = MakeRedisRateLimiter(options);
        EXPECT_TRUE(limiter.ok()) << limiter.status().ToString();
        return limiter.ok() ? std::move(limiter).value() : nullptr;
    }
    // Time tolerance: exact for memory; for redis the real time a test takes.
    double Tolerance() const { return GetParam() == "memory" ? 1e-9 : 5.0; }

    FakeClock clock_;
    std::string url_;
    std::string prefix_;
    std::unique_ptr<redis::RedisPool> admin_;
};

TEST_P(RateLimiterConformance, FullBucketAdmitsExactlyBurstThenRefuses) {
    auto limiter = Make();
    ASSERT_TRUE(limiter);
    for (int i = 0; i < 5; ++i) {
        RateDecision d = limiter->Admit("user-1", kSlow);
        ASSERT_FALSE(d.backend_failed);
        EXPECT_TRUE(d.allowed) << i;
        EXPECT_EQ(d.limit, 5);
        EXPECT_EQ(d.remaining, 4 - i);
        EXPECT_EQ(d.retry_after_seconds, 0);
        EXPECT_THAT(d.reset_seconds, DoubleNear(1000.0 * (i + 1), Tolerance()));
    }
    for (int i = 0; i < 3; ++i) {
        RateDecision d = limiter->Admit("user-1", kSlow);
        ASSERT_FALSE(d.backend_failed);
        EXPECT_FALSE(d.allowed);
        EXPECT_EQ(d.limit, 5);
        EXPECT_EQ(d.remaining, 0);
        EXPECT_GT(d.retry_after_seconds, 0);
        EXPECT_LE(d.retry_after_seconds, 1000.0);
        EXPECT_THAT(d.retry_after_seconds, DoubleNear(1000.0, Tolerance()));
        EXPECT_THAT(d.reset_seconds, DoubleNear(5000.0, Tolerance()));
    }
    RateLimiterStats s = limiter->Stats();
    EXPECT_EQ(s.allowed, 5u);
    EXPECT_EQ(s.rejected, 3u);
    EXPECT_EQ(s.backend_errors, 0u);
}

TEST_P(RateLimiterConformance, BucketsAreIndependentAndBinarySafe) {
    auto limiter = Make();
    ASSERT_TRUE(limiter);
    const RateLimit one{0.001, 1};
    const std::string binary("k\0\xff\n*?[x]", 10);
    EXPECT_TRUE(limiter->Admit(binary, one).allowed);
    EXPECT_TRUE(limiter->Admit("k", one).allowed);
    EXPECT_TRUE(limiter->Admit("search:key-1", one).allowed);
    EXPECT_FALSE(limiter->Admit(binary, one).allowed);
    EXPECT_FALSE(limiter->Admit("k", one).allowed);
    EXPECT_TRUE(limiter->Admit("search:key-2", one).allowed);
    EXPECT_EQ(limiter->Stats().backend_errors, 0u);
}

TEST_P(RateLimiterConformance, ARaisedLimitAppliesAtOnce) {
    auto limiter = Make();
    ASSERT_TRUE(limiter);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(limiter->Admit("k", kSlow).allowed);
    ASSERT_FALSE(limiter->Admit("k", kSlow).allowed);
    // The key's limit is raised (keys set-rate-limit): the old limit's debt (5000 s) shrinks to one
    // request short of an empty bucket of the new limit, so one request passes at once, and then the
    // new rate applies.
    const RateLimit fast{100, 3};  // T = 10 ms, burst 3
    EXPECT_TRUE(limiter->Admit("k", fast).allowed);
    EXPECT_FALSE(limiter->Admit("k", fast).allowed);
    std::this_thread::sleep_for(std::chrono::milliseconds(35));  // Redis: its own clock
    clock_.Advance(std::chrono::milliseconds(35));               // memory: the fake clock
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter->Admit("k", fast).allowed) << i;
    // Lowered again: the debt carried over is the fast limit's (3 ms), so the slow bucket is nearly full.
    RateDecision slow = limiter->Admit("k", kSlow);
    EXPECT_TRUE(slow.allowed);
    EXPECT_EQ(slow.remaining, 3);
}

TEST_P(RateLimiterConformance, InvalidLimitsAreRefused) {
    auto limiter = Make();
    ASSERT_TRUE(limiter);
    for (const RateLimit& bad : {RateLimit{0, 5}, RateLimit{-3, 5}, RateLimit{1, 0}}) {
        RateDecision d = limiter->Admit("k", bad);
        EXPECT_FALSE(d.allowed);
        EXPECT_FALSE(d.backend_failed);
        EXPECT_GT(d.retry_after_seconds, 0);
    }
    // ... and left the bucket alone.
    EXPECT_EQ(limiter->Admit("k", RateLimit{0.001, 2}).remaining, 1);
}

TEST_P(RateLimiterConformance, ConcurrentCallersGetExactlyBurst) {
    auto limiter = Make();
    ASSERT_TRUE(limiter);
    const RateLimit limit{0.001, 100};
    constexpr int kThreads = 8;
    constexpr int kPerThread = 40;
    std::atomic<int> admitted{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < kPerThread; ++i) {
                RateDecision d = limiter->Admit("shared", limit);
                if (d.backend_failed) failed.fetch_add(1);
                if (d.allowed) admitted.fetch_add(1);
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(admitted.load(), 100);  // exact: no refill within the run (see the top of this file)
    EXPECT_EQ(limiter->Stats().allowed, 100u);
    EXPECT_EQ(limiter->Stats().rejected, static_cast<std::uint64_t>(kThreads * kPerThread - 100));
}

INSTANTIATE_TEST_SUITE_P(Backends, RateLimiterConformance, ::testing::Values("memory", "redis"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) { return param_info.param; });

// ---- Redis only (label redis) ----

class RedisRateLimiterTest : public ::testing::Test {
   protected:
    void SetUp() override {
        url_ = redis::test::ServerUrl();
        ASSERT_FALSE(url_.empty());
        prefix_ = redis::test::UniquePrefix("rl");
        admin_ = redis::test::MakePool(url_);
    }
    void TearDown() override {
        if (admin_) redis::test::DeleteKeys(*admin_, prefix_);
    }
    std::unique_ptr<RateLimiter> Make(const std::string& url, bool fail_open = false) {
        RedisRateLimiterOptions options;
        options.redis_url = url;
        options.key_prefix = prefix_;
        options.timeout_seconds = 10;
        options.fail_open = fail_open;
        options.reconnect_interval_seconds = 0;
        auto limiter = MakeRedisRateLimiter(options);
        EXPECT_TRUE(limiter.ok()) << limiter.status().ToString();
        return limiter.ok() ? std::move(limiter).value() : nullptr;
    }
    std::string url_;
    std::string prefix_;
    std::unique_ptr<redis::RedisPool> admin_;
};

TEST_F(RedisRateLimiterTest, ReplicasShareOneBudget) {
    // Four limiters (four "replicas", each with its own pool) x 4 threads x 25
    // requests on one bucket of burst 50: exactly 50 admitted in total.
    std::vector<std::unique_ptr<RateLimiter>> replicas;
    for (int r = 0; r < 4; ++r) replicas.push_back(Make(url_));
    for (auto& r : replicas) ASSERT_TRUE(r);
    std::atomic<int> admitted{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int r = 0; r < 4; ++r) {
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, r] {
                for (int i = 0; i < 25; ++i) {
                    RateDecision d = replicas[r]->Admit("api-key-7", RateLimit{0.001, 50});
                    if (d.backend_failed) failed.fetch_add(1);
                    if (d.allowed) admitted.fetch_add(1);
                }
            });
        }
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(admitted.load(), 50);
}

TEST_F(RedisRateLimiterTest, KeyExpiresWhenTheBucketIsFull) {
    auto limiter = Make(url_);
    ASSERT_TRUE(limiter);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(limiter->Admit("ttl", RateLimit{0.001, 5}).allowed);
    auto pttl = admin_->Command({"PTTL", prefix_ + "ttl"});
    ASSERT_TRUE(pttl.ok()) << pttl.status().ToString();
    ASSERT_EQ(pttl->type, redis::Reply::Type::kInteger);
    // Time to full after 3 requests at T = 1000 s: 3000 s (minus the test's own run time).
    EXPECT_LE(pttl->integer, 3'000'000);
    EXPECT_GE(pttl->integer, 2'990'000);
    // A fast bucket's key lives only T * used requests.
    ASSERT_TRUE(limiter->Admit("fast", RateLimit{1000, 5}).allowed);
    auto fast = admin_->Command({"PTTL", prefix_ + "fast"});
    ASSERT_TRUE(fast.ok());
    EXPECT_LE(fast->integer, 1);  // 1 ms (or already gone: -2)
}

TEST_F(RedisRateLimiterTest, ScriptFlushFallsBackToEval) {
    auto limiter = Make(url_);
    ASSERT_TRUE(limiter);
    ASSERT_TRUE(limiter->Admit("s", RateLimit{0.001, 3}).allowed);
    auto flushed = admin_->Command({"SCRIPT", "FLUSH"});
    ASSERT_TRUE(flushed.ok() && !flushed->IsError());
    RateDecision d = limiter->Admit("s", RateLimit{0.001, 3});
    EXPECT_FALSE(d.backend_failed);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 1);
    EXPECT_EQ(limiter->Stats().backend_errors, 0u);
}

TEST_F(RedisRateLimiterTest, UsesTheDatabaseOfTheUrl) {
    auto parsed = redis::ParseRedisUrl(url_);
    ASSERT_TRUE(parsed.ok());
    redis::RedisUrl db3 = *parsed;
    db3.db = 3;
    std::string url3 = "redis://:" + db3.password + "@" + db3.host + ":" + std::to_string(db3.port) + "/3";
    auto limiter = Make(url3);
    ASSERT_TRUE(limiter);
    ASSERT_TRUE(limiter->Admit("db", RateLimit{0.001, 3}).allowed);
    std::unique_ptr<redis::RedisPool> pool3 = redis::test::MakePool(url3);
    ASSERT_NE(pool3, nullptr);
    auto in3 = pool3->Command({"EXISTS", prefix_ + "db"});
    ASSERT_TRUE(in3.ok());
    EXPECT_EQ(in3->integer, 1);
    auto in0 = admin_->Command({"EXISTS", prefix_ + "db"});
    ASSERT_TRUE(in0.ok());
    EXPECT_EQ(in0->integer, 0);
    redis::test::DeleteKeys(*pool3, prefix_);
}

TEST_F(RedisRateLimiterTest, WrongPasswordIsABackendFailureThatNeverShowsThePassword) {
    auto parsed = redis::ParseRedisUrl(url_);
    ASSERT_TRUE(parsed.ok());
    const std::string wrong =
        "redis://:not-the-password-0xdead@" + parsed->host + ":" + std::to_string(parsed->port) + "/0";
    auto closed = Make(wrong, false);
    ASSERT_TRUE(closed);
    RateDecision d = closed->Admit("k", RateLimit{1, 1});
    EXPECT_FALSE(d.allowed);
    EXPECT_TRUE(d.backend_failed);
    EXPECT_EQ(closed->Stats().failed_closed, 1u);
    // The pool's error names the server with the password masked.
    std::unique_ptr<redis::RedisPool> pool = redis::test::MakePool(wrong);
    ASSERT_NE(pool, nullptr);
    auto reply = pool->Command({"PING"});
    ASSERT_FALSE(reply.ok());
    EXPECT_THAT(reply.status().message(), HasSubstr("AUTH refused"));
    EXPECT_THAT(reply.status().message(), HasSubstr("redis://:***@"));
    EXPECT_THAT(reply.status().message(), ::testing::Not(HasSubstr("0xdead")));
}

TEST_F(RedisRateLimiterTest, StoppedServerFollowsTheFailModeAndRecovers) {
    redis::test::PrivateRedis server;
    ASSERT_TRUE(server.Start());
    auto open = Make(server.url(), /*fail_open=*/true);
    auto closed = Make(server.url(), /*fail_open=*/false);
    ASSERT_TRUE(open && closed);
    const RateLimit limit{0.001, 10};
    RateDecision before = open->Admit("k", limit);
    EXPECT_TRUE(before.allowed);
    EXPECT_FALSE(before.backend_failed);
    EXPECT_EQ(before.remaining, 9);
    ASSERT_FALSE(closed->Admit("k", limit).backend_failed);

    server.Stop();
    RateDecision open_down = open->Admit("k", limit);
    EXPECT_TRUE(open_down.allowed);
    EXPECT_TRUE(open_down.backend_failed);
    RateDecision closed_down = closed->Admit("k", limit);
    EXPECT_FALSE(closed_down.allowed);
    EXPECT_TRUE(closed_down.backend_failed);
    EXPECT_DOUBLE_EQ(closed_down.retry_after_seconds, kFailClosedRetryAfter);
    EXPECT_EQ(open->Stats().backend_errors, 1u);
    EXPECT_EQ(open->Stats().failed_open, 1u);
    EXPECT_EQ(closed->Stats().backend_errors, 1u);
    EXPECT_EQ(closed->Stats().failed_closed, 1u);

    // Back up (empty: no persistence): the pools reconnect on the next call.
    ASSERT_TRUE(server.Start());
    RateDecision after = closed->Admit("k", limit);
    EXPECT_FALSE(after.backend_failed);
    EXPECT_TRUE(after.allowed);
    EXPECT_EQ(after.remaining, 9);
    EXPECT_FALSE(open->Admit("k", limit).backend_failed);
    EXPECT_EQ(closed->Stats().backend_errors, 1u);
}

// ---- over TLS (rediss://, a private TLS redis-server with a test CA; label redis) ----

TEST(RedisRateLimiterTlsTest, SharesOneBudgetOverRedissFromTheConfiguration) {
    redis::test::TlsTestFiles files;
    redis::test::PrivateRedis server({.cert_file = files.server_cert,
                                      .key_file = files.server_key,
                                      .ca_file = files.ca,
                                      .auth_clients = true});
    ASSERT_TRUE(server.Start());
    FakeClock clock;
    config::RateLimitingConfig cfg;
    cfg.backend = "redis";
    cfg.fail_mode = "closed";
    cfg.redis_url = server.url("localhost");
    cfg.redis_tls_ca_file = files.ca;
    cfg.redis_tls_cert_file = files.client_cert;
    cfg.redis_tls_key_file = files.client_key;
    auto a = MakeRateLimiter(cfg, clock);
    auto b = MakeRateLimiter(cfg, clock);
    ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString() << b.status().ToString();
    const RateLimit limit{0.001, 3};
    int admitted = 0;
    for (int i = 0; i < 4; ++i) {
        RateDecision d = (i % 2 == 0 ? *a : *b)->Admit("tls-key", limit);
        EXPECT_FALSE(d.backend_failed);
        admitted += d.allowed ? 1 : 0;
    }
    EXPECT_EQ(admitted, 3);  // two "replicas", one budget of 3

    // The wrong CA: nothing is sent; the fail mode decides (closed: refused), and it is counted.
    cfg.redis_tls_ca_file = files.other_ca;
    auto wrong = MakeRateLimiter(cfg, clock);
    ASSERT_TRUE(wrong.ok()) << wrong.status().ToString();
    RateDecision refused = (*wrong)->Admit("tls-key-2", limit);
    EXPECT_FALSE(refused.allowed);
    EXPECT_TRUE(refused.backend_failed);
    EXPECT_EQ((*wrong)->Stats().failed_closed, 1u);
}

}  // namespace
}  // namespace signalhub::security
