#pragma once
// A throw-away certificate authority for TLS tests (OpenSSL APIs, P-256 keys,
// SHA-256 signatures): the CA and the certificates it issues, as PEM text.
// Not thread-safe; each test makes its own.

#include <memory>
#include <string>

namespace signalhub::testing {

struct IssuedCert {
    std::string cert_pem;  // the leaf certificate only
    std::string key_pem;   // its private key (unencrypted PKCS#8)
    long serial = 0;
};

class TestPki {
   public:
    explicit TestPki(const std::string& ca_name = "Signal Hub Test CA");
    ~TestPki();
    TestPki(const TestPki&) = delete;
    TestPki& operator=(const TestPki&) = delete;

    const std::string& ca_pem() const;
    // A server certificate (serverAuth; subjectAltName `san`), or a client one
    // (clientAuth), valid from an hour ago for a day.
    IssuedCert IssueServer(const std::string& common_name, long serial,
                           const std::string& san = "DNS:localhost,IP:127.0.0.1");
    IssuedCert IssueClient(const std::string& common_name, long serial);

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Writes `content` to `path` (replacing it); aborts the test run on failure.
void WriteTextFile(const std::string& path, const std::string& content);

}  // namespace signalhub::testing
