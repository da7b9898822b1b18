// rediss:// against a real redis-server with TLS (Debian's redis-server 7 has
// it built in): a private server per test, on 127.0.0.1, with certificates of
// a throw-away CA (test::TlsTestFiles). Label `redis` (needs redis-server).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "net/redis_client.hpp"
#include "net/redis_test_util.hpp"

namespace signalhub::redis {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class RedisTls : public ::testing::Test {
   protected:
    static void SetUpTestSuite() { files_ = new test::TlsTestFiles(); }
    static void TearDownTestSuite() {
        delete files_;
        files_ = nullptr;
    }

    static test::TlsServerOptions Server(bool auth_clients = false) {
        return {.cert_file = files_->server_cert,
                .key_file = files_->server_key,
                .ca_file = files_->ca,
                .auth_clients = auth_clients};
    }
    static PoolOptions Client(const std::string& url, TlsOptions tls) {
        PoolOptions options = test::PoolFor(url);
        options.tls = std::move(tls);
        return options;
    }
    // The status of a PING through a new pool (Create must succeed).
    static Status Ping(const PoolOptions& options) {
        auto pool = test::MakePool(options);
        if (!pool) return Internal("no pool");
        Result<Reply> reply = pool->Command({"PING"});
        if (!reply.ok()) return reply.status();
        if (reply->type != Reply::Type::kStatus || reply->str != "PONG") return Internal("not PONG: " + reply->str);
        return Status::Ok();
    }

    static test::TlsTestFiles* files_;
};
test::TlsTestFiles* RedisTls::files_ = nullptr;

TEST_F(RedisTls, RedissWorksWithAuthSelectAndLargeValues) {
    test::PrivateRedis server(Server());
    ASSERT_TRUE(server.Start());
    // AUTH (the URL's password) and SELECT 2 run over TLS before the first command.
    std::string url = server.url();
    url.replace(url.size() - 2, 2, "/2");
    auto pool = test::MakePool(Client(url, {.ca_file = files_->ca}));
    ASSERT_NE(pool, nullptr);
    auto pong = pool->Command({"PING"});
    ASSERT_TRUE(pong.ok()) << pong.status().ToString();
    EXPECT_EQ(pong->str, "PONG");
    // 4 MiB each way: many TLS records and partial socket reads and writes.
    std::string big(4 << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
    const std::string key = test::UniquePrefix("tls") + "big";
    auto set = pool->Command({"SET", key, big});
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    auto get = pool->Command({"GET", key});
    ASSERT_TRUE(get.ok()) << get.status().ToString();
    EXPECT_TRUE(get->str == big);
    auto db = pool->Command({"CLIENT", "INFO"});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    EXPECT_THAT(db->str, HasSubstr(" db=2 "));
    (void)pool->Command({"DEL", key});
}

TEST_F(RedisTls, HostNameIsSentAsSniAndChecked) {
    test::PrivateRedis server(Server());
    ASSERT_TRUE(server.Start());
    // The server certificate names DNS:localhost and IP:127.0.0.1: both verify.
    EXPECT_TRUE(Ping(Client(server.url("localhost"), {.ca_file = files_->ca})).ok());
    EXPECT_TRUE(Ping(Client(server.url("127.0.0.1"), {.ca_file = files_->ca})).ok());
}

TEST_F(RedisTls, WrongCaIsRefusedNamingTheServerAndWhatToCheck) {
    test::PrivateRedis server(Server());
    ASSERT_TRUE(server.Start());
    Status wrong = Ping(Client(server.url(), {.ca_file = files_->other_ca}));
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.code(), ErrorCode::kUnavailable);
    EXPECT_THAT(wrong.message(), HasSubstr("rediss://:***@127.0.0.1:" + std::to_string(server.port()) + "/0"));
    EXPECT_THAT(wrong.message(), HasSubstr("cannot connect: TLS: the server's certificate was not accepted"));
    EXPECT_THAT(wrong.message(), HasSubstr("redis_tls_ca_file"));
    EXPECT_THAT(wrong.message(), Not(HasSubstr(server.password())));
    // Without a CA file the system store is used, and it does not know the test CA.
    Status system = Ping(Client(server.url(), {}));
    ASSERT_FALSE(system.ok());
    EXPECT_THAT(system.message(), HasSubstr("the system CA store does not trust it"));
}

TEST_F(RedisTls, HostNameMismatchIsRefused) {
    test::PrivateRedis server({.cert_file = files_->wrong_name_cert,
                               .key_file = files_->wrong_name_key,
                               .ca_file = files_->ca,
                               .auth_clients = false});
    ASSERT_TRUE(server.Start());
    Status by_ip = Ping(Client(server.url("127.0.0.1"), {.ca_file = files_->ca}));
    ASSERT_FALSE(by_ip.ok());
    EXPECT_THAT(by_ip.message(), HasSubstr("the server's certificate is not valid for '127.0.0.1'"));
    Status by_name = Ping(Client(server.url("localhost"), {.ca_file = files_->ca}));
    ASSERT_FALSE(by_name.ok());
    EXPECT_THAT(by_name.message(), HasSubstr("the server's certificate is not valid for 'localhost'"));
    EXPECT_THAT(by_name.message(), HasSubstr("subjectAltName"));
}

TEST_F(RedisTls, ClientCertificateRequiredByTheServer) {
    test::PrivateRedis server(Server(/*auth_clients=*/true));
    ASSERT_TRUE(server.Start());
    EXPECT_TRUE(Ping(Client(server.url(),
                            {.ca_file = files_->ca, .cert_file = files_->client_cert, .key_file = files_->client_key}))
                    .ok());
    Status without = Ping(Client(server.url(), {.ca_file = files_->ca}));
    ASSERT_FALSE(without.ok());
    EXPECT_EQ(without.code(), ErrorCode::kUnavailable);
    EXPECT_THAT(without.message(), HasSubstr("client certificate"));
    EXPECT_THAT(without.message(), HasSubstr("redis_tls_cert_file"));
    // Without a password in the URL the connect still finds out (a PING), not the first command: the
    // failure is a connect failure, which blocks reconnecting for reconnect_interval_seconds.
    PoolOptions anonymous = Client("rediss://127.0.0.1:" + std::to_string(server.port()), {.ca_file = files_->ca});
    anonymous.reconnect_interval_seconds = 3600;
    auto pool = test::MakePool(anonymous);
    ASSERT_NE(pool, nullptr);
    auto first = pool->Command({"GET", "k"});
    ASSERT_FALSE(first.ok());
    EXPECT_THAT(first.status().message(), HasSubstr("PING failed"));
    EXPECT_THAT(first.status().message(), HasSubstr("client certificate"));
    auto second = pool->Command({"GET", "k"});
    ASSERT_FALSE(second.ok());
    EXPECT_THAT(second.status().message(), HasSubstr("client certificate"));
    EXPECT_THAT(second.status().message(), HasSubstr("not retried for"));
}

TEST_F(RedisTls, PlaintextClientOnATlsPortFailsClearly) {
    test::PrivateRedis server(Server());
    ASSERT_TRUE(server.Start());
    std::string url = server.url();
    url.replace(0, 6, "redis");  // rediss:// -> redis://
    Status plain = Ping(test::PoolFor(url));
    ASSERT_FALSE(plain.ok());
    EXPECT_EQ(plain.code(), ErrorCode::kUnavailable);
    EXPECT_THAT(plain.message(), HasSubstr("redis://:***@127.0.0.1:"));
    EXPECT_THAT(plain.message(), HasSubstr("use rediss://"));
}

TEST_F(RedisTls, TlsClientOnAPlaintextPortFailsClearly) {
    test::PrivateRedis server;  // plaintext
    ASSERT_TRUE(server.Start());
    std::string url = server.url();
    url.replace(0, 5, "rediss");
    PoolOptions options = Client(url, {.ca_file = files_->ca});
    options.connect_timeout_seconds = 1;
    Status tls = Ping(options);
    ASSERT_FALSE(tls.ok());
    EXPECT_EQ(tls.code(), ErrorCode::kUnavailable);
    EXPECT_THAT(tls.message(), HasSubstr("cannot connect"));
    EXPECT_THAT(tls.message(), HasSubstr("TLS port"));
}

TEST_F(RedisTls, HandshakeThatNeverCompletesTimesOut) {
    test::SilentServer silent;
    PoolOptions options = Client("rediss://127.0.0.1:" + std::to_string(silent.port()), {.ca_file = files_->ca});
    options.connect_timeout_seconds = 0.05;
    Status status = Ping(options);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), ErrorCode::kUnavailable);
    EXPECT_THAT(status.message(), HasSubstr("no TLS handshake within the connect timeout (0.05 s)"));
}

TEST_F(RedisTls, PoolReconnectsAfterTheServerRestarts) {
    test::PrivateRedis server(Server());
    ASSERT_TRUE(server.Start());
    auto pool = test::MakePool(Client(server.url(), {.ca_file = files_->ca}));
    ASSERT_NE(pool, nullptr);
    ASSERT_TRUE(pool->Command({"PING"}).ok());
    server.Stop();
    auto down = pool->Command({"PING"});
    ASSERT_FALSE(down.ok());
    EXPECT_EQ(down.status().code(), ErrorCode::kUnavailable);
    ASSERT_TRUE(server.Start());
    auto again = pool->Command({"PING"});
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(again->str, "PONG");
}

// ---- options and files, no server needed ----

TEST(RedisTlsOptions, FilesAreLoadedAtCreateAndNamedWhenWrong) {
    test::TlsTestFiles files;
    auto create = [](const std::string& url, TlsOptions tls) {
        PoolOptions options = test::PoolFor(url);
        options.tls = std::move(tls);
        return RedisPool::Create(options).status();
    };
    EXPECT_TRUE(create("rediss://:pw@127.0.0.1:1", {.ca_file = files.ca}).ok());
    EXPECT_TRUE(create("rediss://127.0.0.1:1",
                       {.ca_file = files.ca, .cert_file = files.client_cert, .key_file = files.client_key})
                    .ok());

    Status missing = create("rediss://127.0.0.1:1", {.ca_file = "/nonexistent/ca.pem"});
    EXPECT_EQ(missing.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(missing.message(), HasSubstr("cannot read the TLS CA file /nonexistent/ca.pem"));

    Status not_pem = create("rediss://127.0.0.1:1", {.ca_file = files.client_key});
    EXPECT_EQ(not_pem.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(not_pem.message(), HasSubstr("cannot load CA certificates from " + files.client_key));

    Status mismatch =
        create("rediss://127.0.0.1:1", {.cert_file = files.client_cert, .key_file = files.server_key});
    EXPECT_EQ(mismatch.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(mismatch.message(), HasSubstr(files.server_key + " is not the private key of the TLS client "
                                              "certificate " + files.client_cert));

    Status half = create("rediss://127.0.0.1:1", {.cert_file = files.client_cert});
    EXPECT_THAT(half.message(), HasSubstr("needs both files"));

    // TLS files with a plaintext URL would be ignored: refused instead.
    Status plain = create("redis://:Sup3r@127.0.0.1:1", {.ca_file = files.ca});
    EXPECT_EQ(plain.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(plain.message(), HasSubstr("plaintext redis:// URL: use rediss://"));
    EXPECT_THAT(plain.message(), Not(HasSubstr("Sup3r")));

    auto made = MakePoolOptions("rediss://h:6380", {.ca_file = files.ca}, 0.5, 4, 0.25);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    EXPECT_TRUE(made->url.tls);
    EXPECT_EQ(made->tls.ca_file, files.ca);
    EXPECT_EQ(made->max_connections, 4);
    EXPECT_THAT(MakePoolOptions("redis://h", {.ca_file = files.ca}, 0.5, 4, 0.25).status().message(),
                HasSubstr("use rediss://"));
    EXPECT_THAT(MakePoolOptions("rediss://h", {}, 0, 4, 0.25).status().message(), HasSubstr("timeout"));
}

}  // namespace
}  // namespace signalhub::redis
