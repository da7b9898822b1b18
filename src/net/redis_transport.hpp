#pragma once
// The byte transport under RedisPool (net/redis_client.hpp), internal to
// sh_redis: one TCP connection, plaintext or TLS, driven synchronously with
// deadlines (non-blocking socket + poll(2)). TLS runs OpenSSL on memory BIOs
// and this code moves the bytes, so plaintext and TLS share one socket path,
// every wait honours the deadline, and nothing ever raises SIGPIPE (sends use
// MSG_NOSIGNAL).
//
// Errors (Status; the caller prefixes the server's name):
//  - kDeadlineExceeded: the deadline passed (message says at which stage);
//  - kUnavailable: everything else, worded for an operator: what failed and
//    what to check (CA file, host name, client certificate, TLS vs plaintext
//    port).

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.hpp"
#include "net/redis_client.hpp"

namespace signalhub::redis {

using Deadline = std::chrono::steady_clock::time_point;

// The OpenSSL client context of one pool: TLS 1.2 or newer, peer
// verification on, trusted CAs from the system store or a CA file, an
// optional client certificate. Immutable after Create; shared by the pool's
// connections (OpenSSL contexts are safe to share between threads).
class TlsClientContext {
   public:
    // InvalidArgument naming the file and OpenSSL's reason when a file cannot
    // be loaded, or when the key does not belong to the certificate.
    static Result<std::shared_ptr<const TlsClientContext>> Create(const TlsOptions& options);
    ~TlsClientContext();
    TlsClientContext(const TlsClientContext&) = delete;
    TlsClientContext& operator=(const TlsClientContext&) = delete;

    SSL_CTX* get() const { return ctx_; }
    bool has_client_certificate() const { return has_client_certificate_; }
    bool custom_ca() const { return custom_ca_; }

   private:
    TlsClientContext() = default;
    SSL_CTX* ctx_ = nullptr;
    bool has_client_certificate_ = false;
    bool custom_ca_ = false;
};

class Transport {
   public:
    // Resolves and connects to host:port, then (tls != null) completes the
    // TLS handshake, verifying the certificate chain and that it names `host`.
    static Result<std::unique_ptr<Transport>> Connect(const std::string& host, int port, const TlsClientContext* tls,
                                                      Deadline deadline);
    ~Transport();
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    // Sends all of `data`.
    Status Write(std::string_view data, Deadline deadline);
    // Receives at least one byte (at most `size`); the count. The server
    // closing the connection is an error.
    Result<std::size_t> Read(char* buffer, std::size_t size, Deadline deadline);

   private:
    Transport() = default;
    Status SendAll(const char* data, std::size_t size, Deadline deadline);
    Result<std::size_t> ReceiveSome(char* buffer, std::size_t size, Deadline deadline);
    Status FlushTls(Deadline deadline);
    template <typename Op>
    Result<int> DriveTls(Op op, Deadline deadline, std::string_view stage);
    Status TlsFailure(int ssl_error, int result, std::string_view stage);
    Status ClosedByServer(std::string_view stage) const;

    int fd_ = -1;
    std::string host_;  // as connected to (for messages)
    int port_ = 0;
    const TlsClientContext* tls_ = nullptr;
    SSL* ssl_ = nullptr;
    BIO* network_in_ = nullptr;   // bytes from the server, read by OpenSSL (owned by ssl_)
    BIO* network_out_ = nullptr;  // bytes OpenSSL wants sent (owned by ssl_)
    bool handshake_done_ = false;
    bool exchanged_ = false;  // a byte of reply was read (hints for connections the server drops at once)
};

}  // namespace signalhub::redis
