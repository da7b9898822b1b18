// Outbound TLS of HttpClient against a local HTTPS server (server::HttpServer
// with a certificate from a throw-away CA): the certificate chain is verified
// against the trust store (here the test CA, given through SSL_CERT_FILE, the
// standard OpenSSL override of the system store) and the host name against
// the certificate; failures are permanent (no retry helps).
#include "net/http_client.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "mcp/server.hpp"
#include "server/http_server.hpp"
#include "tests/support/test_pki.hpp"

namespace signalhub::net {
namespace {

namespace fs = std::filesystem;

class HttpClientTlsTest : public ::testing::Test {
   protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "sh-net-test.XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        testing::WriteTextFile(dir_ + "/ca.pem", pki_.ca_pem());
        const char* previous = std::getenv("SSL_CERT_FILE");
        if (previous) previous_cert_file_ = previous;
    }

    void TearDown() override {
        if (server_) {
            server_->Shutdown();
            EXPECT_TRUE(server_->Wait().ok());
        }
        if (previous_cert_file_) {
            ::setenv("SSL_CERT_FILE", previous_cert_file_->c_str(), 1);
        } else {
            ::unsetenv("SSL_CERT_FILE");
        }
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    // An HTTPS server presenting a certificate for `san`.
    void StartServer(const std::string& san = "DNS:localhost,IP:127.0.0.1") {
        testing::IssuedCert cert = pki_.IssueServer("test server", 11, san);
        testing::WriteTextFile(dir_ + "/cert.pem", cert.cert_pem);
        testing::WriteTextFile(dir_ + "/key.pem", cert.key_pem);
        server::HttpOptions o;
        o.port = 0;
        o.tls.enabled = true;
        o.tls.cert_file = dir_ + "/cert.pem";
        o.tls.key_file = dir_ + "/key.pem";
        o.tls.reload_interval_seconds = 0;
        auto started = server::HttpServer::Start(o, mcp_, nullptr);
        ASSERT_TRUE(started.ok()) << started.status().ToString();
        server_ = std::move(*started);
    }

    void Trust(const std::string& ca_file) { ASSERT_EQ(::setenv("SSL_CERT_FILE", ca_file.c_str(), 1), 0); }

    Result<HttpResponse> GetHealth(const std::string& host, HttpClient** client_out = nullptr) {
        auto url = ParseHttpUrl("https://" + host + ":" + std::to_string(server_->port()));
        EXPECT_TRUE(url.ok());
        client_ = std::make_unique<HttpClient>(*url, std::chrono::seconds(60));
        if (client_out) *client_out = client_.get();
        return client_->Request("GET", "/health", {}, "");
    }

    testing::TestPki pki_;
    std::string dir_;
    std::optional<std::string> previous_cert_file_;
    mcp::Server mcp_{mcp::ServerInfo{}};
    std::unique_ptr<server::HttpServer> server_;
    std::unique_ptr<HttpClient> client_;
};

TEST_F(HttpClientTlsTest, TrustedCertificateForTheHostIsAccepted) {
    StartServer();
    Trust(dir_ + "/ca.pem");
    for (const std::string host : {"127.0.0.1", "localhost"}) {  // IP SAN; DNS SAN with SNI
        Result<HttpResponse> r = GetHealth(host);
        ASSERT_TRUE(r.ok()) << host << ": " << r.status().ToString();
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->Header("strict-transport-security"), "max-age=31536000");
    }
}

TEST_F(HttpClientTlsTest, CertificateFromAnUntrustedCaIsRefusedPermanently) {
    StartServer();
    testing::TestPki other("Another CA");
    testing::WriteTextFile(dir_ + "/other-ca.pem", other.ca_pem());
    Trust(dir_ + "/other-ca.pem");
    HttpClient* client = nullptr;
    Result<HttpResponse> r = GetHealth("127.0.0.1", &client);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kUnavailable);
    EXPECT_NE(r.status().message().find("certificate verify failed"), std::string::npos) << r.status().message();
    EXPECT_TRUE(client->PermanentError());
}

TEST_F(HttpClientTlsTest, CertificateForAnotherHostIsRefused) {
    StartServer("DNS:api.example.com");  // trusted chain, wrong name
    Trust(dir_ + "/ca.pem");
    for (const std::string host : {"127.0.0.1", "localhost"}) {
        HttpClient* client = nullptr;
        Result<HttpResponse> r = GetHealth(host, &client);
        ASSERT_FALSE(r.ok()) << host;
        EXPECT_EQ(r.status().code(), ErrorCode::kUnavailable);
        EXPECT_NE(r.status().message().find("certificate verify failed"), std::string::npos) << r.status().message();
        EXPECT_TRUE(client->PermanentError());
    }
}

}  // namespace
}  // namespace signalhub::net
