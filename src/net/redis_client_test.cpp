#include "net/redis_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "net/redis_test_util.hpp"

namespace signalhub::redis {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Error(std::string_view url) {
    auto parsed = ParseRedisUrl(url);
    EXPECT_FALSE(parsed.ok()) << url;
    if (parsed.ok()) return "";
    EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument);
    return parsed.status().message();
}

TEST(RedisUrl, ParsesHostPortPasswordAndDatabase) {
    auto u = ParseRedisUrl("redis://:s3cret@127.0.0.1:6380/2");
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    EXPECT_EQ(u->host, "127.0.0.1");
    EXPECT_EQ(u->port, 6380);
    EXPECT_EQ(u->username, "");
    EXPECT_EQ(u->password, "s3cret");
    EXPECT_EQ(u->db, 2);
    EXPECT_EQ(u->Display(), "redis://:***@127.0.0.1:6380/2");

    auto d = ParseRedisUrl("REDIS://cache.internal");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->host, "cache.internal");
    EXPECT_EQ(d->port, 6379);
    EXPECT_EQ(d->db, 0);
    EXPECT_EQ(d->password, "");
    EXPECT_EQ(d->Display(), "redis://cache.internal:6379/0");

    auto acl = ParseRedisUrl("redis://app:p%40ss%3Aw@[::1]:7000/");
    ASSERT_TRUE(acl.ok()) << acl.status().ToString();
    EXPECT_EQ(acl->username, "app");
    EXPECT_EQ(acl->password, "p@ss:w");
    EXPECT_EQ(acl->host, "::1");
    EXPECT_EQ(acl->port, 7000);
    EXPECT_EQ(acl->Display(), "redis://app:***@[::1]:7000/0");
}

TEST(RedisUrl, RedissIsRedisOverTls) {
    auto u = ParseRedisUrl("rediss://app:s3cret@cache.example.com:6380/1");
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    EXPECT_TRUE(u->tls);
    EXPECT_EQ(u->host, "cache.example.com");
    EXPECT_EQ(u->port, 6380);
    EXPECT_EQ(u->db, 1);
    EXPECT_EQ(u->Display(), "rediss://app:***@cache.example.com:6380/1");
    auto plain = ParseRedisUrl("redis://h");
    ASSERT_TRUE(plain.ok());
    EXPECT_FALSE(plain->tls);
    auto upper = ParseRedisUrl("REDISS://h");
    ASSERT_TRUE(upper.ok());
    EXPECT_TRUE(upper->tls);
    EXPECT_EQ(upper->port, 6379);  // no separate default: managed services name their TLS port
}

TEST(RedisUrl, ErrorsSayWhatIsWrongAndNeverShowThePassword) {
    EXPECT_THAT(Error("http://h:6379"), HasSubstr("must start with redis:// or rediss:// (TLS), got scheme 'http'"));
    EXPECT_THAT(Error(""), HasSubstr("empty"));
    EXPECT_THAT(Error("127.0.0.1:6379"), HasSubstr("no scheme"));
    EXPECT_THAT(Error("redis://:pw@"), HasSubstr("no host"));
    EXPECT_THAT(Error("redis://h:99999"), HasSubstr("port must be a number between 1 and 65535, got '99999'"));
    EXPECT_THAT(Error("redis://h:"), HasSubstr("empty port"));
    EXPECT_THAT(Error("redis://h/x"), HasSubstr("database (after '/') must be a number"));
    EXPECT_THAT(Error("redis://h?db=1"), HasSubstr("query"));
    EXPECT_THAT(Error("redis://[::1:6379"), HasSubstr("no closing ']'"));
    EXPECT_THAT(Error("redis://user@h"), HasSubstr("no ':' before the password"));
    const std::string secret = "Sup3r-Secret%zz";
    const std::string message = Error("redis://:" + secret + "@h:1");
    EXPECT_THAT(message, HasSubstr("password has a malformed percent escape"));
    EXPECT_THAT(message, Not(HasSubstr("Sup3r")));
    EXPECT_THAT(Error("redis://:Sup3r@h:0"), Not(HasSubstr("Sup3r")));
}

TEST(RedisPool, UnreachableServerIsUnavailableWithoutThePassword) {
    PoolOptions options;
    options.url = *ParseRedisUrl("redis://:Sup3rSecret@127.0.0.1:" + std::to_string(test::FreePort()) + "/0");
    options.reconnect_interval_seconds = 0;
    auto pool = test::MakePool(options);
    ASSERT_NE(pool, nullptr);
    for (int i = 0; i < 3; ++i) {
        auto reply = pool->Command({"PING"});
        ASSERT_FALSE(reply.ok());
        EXPECT_EQ(reply.status().code(), ErrorCode::kUnavailable);
        EXPECT_THAT(reply.status().message(), HasSubstr("cannot connect"));
        EXPECT_THAT(reply.status().message(), HasSubstr("redis://:***@127.0.0.1:"));
        EXPECT_THAT(reply.status().message(), Not(HasSubstr("Sup3rSecret")));
    }
}

TEST(RedisPool, ServerThatNeverAnswersTimesOut) {
    test::SilentServer silent;
    PoolOptions options;
    options.url = *ParseRedisUrl("redis://127.0.0.1:" + std::to_string(silent.port()));
    options.command_timeout_seconds = 0.05;
    options.connect_timeout_seconds = 0.05;
    auto pool = test::MakePool(options);
    ASSERT_NE(pool, nullptr);
    auto reply = pool->Command({"PING"});
    ASSERT_FALSE(reply.ok());
    EXPECT_EQ(reply.status().code(), ErrorCode::kUnavailable);
    EXPECT_THAT(reply.status().message(), HasSubstr("PING failed: no reply within the command timeout (0.05 s)"));
}

}  // namespace
}  // namespace signalhub::redis
