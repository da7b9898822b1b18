#include "net/redis_transport.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

namespace signalhub::redis {
namespace {

constexpr std::size_t kChunk = 16 * 1024;

std::string Errno(int err) { return std::strerror(err); }

// The reason of the first error in OpenSSL's queue (and empties it), or `fallback`.
std::string OpenSslReason(std::string_view fallback = "unknown error") {
    const unsigned long first = ERR_get_error();
    ERR_clear_error();
    if (first == 0) return std::string(fallback);
    const char* reason = ERR_reason_error_string(first);
    if (reason != nullptr) return reason;
    char text[256];
    ERR_error_string_n(first, text, sizeof text);
    return text;
}

bool IsIpLiteral(const std::string& host) {
    unsigned char addr[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), addr) == 1 || inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

// Waits until `fd` is ready for `events` (or has an error the next call will
// report). DeadlineExceeded when the deadline passes first.
Status WaitFor(int fd, short events, Deadline deadline) {
    for (;;) {
        const auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero()) return DeadlineExceeded("timed out");
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
        pollfd p{fd, events, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(std::clamp<long long>(ms, 1, INT_MAX)));
        if (rc > 0) return Status::Ok();
        if (rc < 0 && errno != EINTR) return Unavailable("poll failed: " + Errno(errno));
    }
}

// Readable file check, for a message with errno's reason (OpenSSL's is vaguer).
Status CheckReadable(const std::string& path, std::string_view what) {
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) return InvalidArgument("cannot read the " + std::string(what) + " " + path + ": " + Errno(errno));
    std::fclose(f);
    return Status::Ok();
}

}  // namespace

// ---- TLS context ------------------------------------------------------------------

TlsClientContext::~TlsClientContext() {
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

Result<std::shared_ptr<const TlsClientContext>> TlsClientContext::Create(const TlsOptions& options) {
    if (options.cert_file.empty() != options.key_file.empty()) {
        return InvalidArgument(
            "a TLS client certificate needs both files: the certificate and its private key (set both or neither)");
    }
    std::shared_ptr<TlsClientContext> out(new TlsClientContext());
    ERR_clear_error();
    out->ctx_ = SSL_CTX_new(TLS_client_method());
    if (out->ctx_ == nullptr) return Internal("cannot create a TLS context: " + OpenSslReason());
    SSL_CTX* ctx = out->ctx_;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (!options.ca_file.empty()) {
        SH_RETURN_IF_ERROR(CheckReadable(options.ca_file, "TLS CA file"));
        if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
            return InvalidArgument("cannot load CA certificates from " + options.ca_file + ": " + OpenSslReason() +
                                   " (expected PEM certificates, -----BEGIN CERTIFICATE-----)");
        }
        out->custom_ca_ = true;
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        return InvalidArgument("cannot load the system CA certificates: " + OpenSslReason() +
                               " (install ca-certificates, or set a CA file)");
    }
    if (!options.cert_file.empty()) {
        SH_RETURN_IF_ERROR(CheckReadable(options.cert_file, "TLS client certificate"));
        SH_RETURN_IF_ERROR(CheckReadable(options.key_file, "TLS client key"));
        if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
            return InvalidArgument("cannot load the TLS client certificate from " + options.cert_file + ": " +
                                   OpenSslReason() + " (expected PEM, -----BEGIN CERTIFICATE-----)");
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
            if (ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
                return InvalidArgument("cannot load the TLS client key from " + options.key_file + ": " +
                                       OpenSslReason() + " (expected an unencrypted PEM private key)");
            }
            ERR_clear_error();
            return InvalidArgument(options.key_file + " is not the private key of the TLS client certificate " +
                                   options.cert_file);
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            ERR_clear_error();
            return InvalidArgument(options.key_file + " is not the private key of the TLS client certificate " +
                                   options.cert_file);
        }
        out->has_client_certificate_ = true;
    }
    return std::shared_ptr<const TlsClientContext>(std::move(out));
}

// ---- transport --------------------------------------------------------------------

Transport::~Transport() {
    if (ssl_ != nullptr) {
        if (handshake_done_) {
            // close_notify, best effort and without waiting.
            ERR_clear_error();
            (void)SSL_shutdown(ssl_);
            ERR_clear_error();
            (void)FlushTls(std::chrono::steady_clock::now());
        }
        SSL_free(ssl_);  // frees both BIOs
    }
    if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<Transport>> Transport::Connect(const std::string& host, int port, const TlsClientContext* tls,
                                                      Deadline deadline) {
    std::unique_ptr<Transport> t(new Transport());
    t->host_ = host;
    t->port_ = port;
    t->tls_ = tls;

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
    if (rc != 0) {
        return Unavailable("cannot resolve host '" + host + "': " + std::string(::gai_strerror(rc)));
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
    Status last = Unavailable("no address for host '" + host + "'");
    for (const addrinfo* ai = addresses.get(); ai != nullptr; ai = ai->ai_next) {
        const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last = Unavailable(Errno(errno));
            continue;
        }
        if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                last = Unavailable(Errno(errno));
                ::close(fd);
                continue;
            }
            if (Status ready = WaitFor(fd, POLLOUT, deadline); !ready.ok()) {
                ::close(fd);
                if (ready.code() == ErrorCode::kDeadlineExceeded) {
                    return DeadlineExceeded("no TCP connection within the connect timeout");
                }
                return ready;
            }
            int err = 0;
            socklen_t len = sizeof err;
            if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
            if (err != 0) {
                last = Unavailable(Errno(err));
                ::close(fd);
                continue;
            }
        }
        t->fd_ = fd;
        break;
    }
    if (t->fd_ < 0) return last;
    // As hiredis did: no Nagle delay, and keepalive probes that notice a dead peer within about 30 s.
    const int one = 1, idle = 15, interval = 5, count = 3;
    (void)::setsockopt(t->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)::setsockopt(t->fd_, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    (void)::setsockopt(t->fd_, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    (void)::setsockopt(t->fd_, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    (void)::setsockopt(t->fd_, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
    if (tls == nullptr) return t;

    ERR_clear_error();
    t->ssl_ = SSL_new(tls->get());
    t->network_in_ = BIO_new(BIO_s_mem());
    t->network_out_ = BIO_new(BIO_s_mem());
    if (t->ssl_ == nullptr || t->network_in_ == nullptr || t->network_out_ == nullptr) {
        BIO_free(t->network_in_);  // not attached to ssl_ yet (BIO_free(nullptr) is a no-op)
        BIO_free(t->network_out_);
        t->network_in_ = t->network_out_ = nullptr;
        return Internal("cannot create a TLS session: " + OpenSslReason());
    }
    BIO_set_mem_eof_return(t->network_in_, -1);  // no bytes yet: "retry", not end of stream
    SSL_set_bio(t->ssl_, t->network_in_, t->network_out_);
    SSL_set_connect_state(t->ssl_);
    if (IsIpLiteral(host)) {
        // An IP address: the certificate must list it (subjectAltName IP); no SNI for addresses.
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl_), host.c_str()) != 1) {
            return Internal("cannot set the TLS peer address " + host + ": " + OpenSslReason());
        }
    } else {
        // SNI (what the SSL_set_tlsext_host_name macro expands to), and the name the certificate must hold.
        if (SSL_ctrl(t->ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                     const_cast<char*>(host.c_str())) != 1 ||
            SSL_set1_host(t->ssl_, host.c_str()) != 1) {
            return Internal("cannot set the TLS server name " + host + ": " + OpenSslReason());
        }
        SSL_set_hostflags(t->ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    Result<int> handshake = t->DriveTls([&ssl = t->ssl_] { return SSL_do_handshake(ssl); }, deadline, "handshake");
    if (!handshake.ok()) {
        if (handshake.status().code() == ErrorCode::kDeadlineExceeded) {
            return DeadlineExceeded("no TLS handshake within the connect timeout (a plaintext Redis never answers "
                                    "one: is " + host + ":" + std::to_string(port) + " the server's TLS port?)");
        }
        return handshake.status();
    }
    t->handshake_done_ = true;
    return t;
}

Status Transport::SendAll(const char* data, std::size_t size, Deadline deadline) {
    while (size > 0) {
        const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            size -= static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            SH_RETURN_IF_ERROR(WaitFor(fd_, POLLOUT, deadline));
            continue;
        }
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return ClosedByServer("sending");
        return Unavailable("sending failed: " + Errno(errno));
    }
    return Status::Ok();
}

Result<std::size_t> Transport::ReceiveSome(char* buffer, std::size_t size, Deadline deadline) {
    for (;;) {
        const ssize_t n = ::recv(fd_, buffer, size, 0);
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            SH_RETURN_IF_ERROR(WaitFor(fd_, POLLIN, deadline));
            continue;
        }
        if (errno == ECONNRESET) return ClosedByServer("reading");
        return Unavailable("reading failed: " + Errno(errno));
    }
}

Status Transport::FlushTls(Deadline deadline) {
    char buffer[kChunk];
    while (BIO_ctrl_pending(network_out_) > 0) {
        const int n = BIO_read(network_out_, buffer, static_cast<int>(sizeof buffer));
        if (n <= 0) break;
        SH_RETURN_IF_ERROR(SendAll(buffer, static_cast<std::size_t>(n), deadline));
    }
    return Status::Ok();
}

template <typename Op>
Result<int> Transport::DriveTls(Op op, Deadline deadline, std::string_view stage) {
    for (;;) {
        ERR_clear_error();
        const int rc = op();
        const int error = rc > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, rc);
        if (error != SSL_ERROR_NONE && error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
            Status failure = TlsFailure(error, rc, stage);
            (void)FlushTls(deadline);  // an alert telling the server why, best effort
            return failure;
        }
        SH_RETURN_IF_ERROR(FlushTls(deadline));
        if (error == SSL_ERROR_NONE) return rc;
        if (error == SSL_ERROR_WANT_READ) {
            char buffer[kChunk];
            SH_ASSIGN_OR_RETURN(std::size_t n, ReceiveSome(buffer, sizeof buffer, deadline));
            if (n == 0) return ClosedByServer(stage);
            if (BIO_write(network_in_, buffer, static_cast<int>(n)) != static_cast<int>(n)) {
                return Internal("cannot buffer TLS input: " + OpenSslReason());
            }
        }
    }
}

Status Transport::ClosedByServer(std::string_view stage) const {
    std::string message = "the server closed the connection";
    if (!handshake_done_ && ssl_ != nullptr) {
        message += " during the TLS handshake (is " + host_ + ":" + std::to_string(port_) +
                   " the server's TLS port? A plaintext Redis needs redis://)";
    } else if (!exchanged_ && ssl_ != nullptr && !tls_->has_client_certificate()) {
        message += " after the TLS handshake: a server with tls-auth-clients refuses clients without a certificate "
                   "(set the client certificate and key: redis_tls_cert_file, redis_tls_key_file)";
    } else if (!exchanged_ && ssl_ == nullptr) {
        message += " before replying (a Redis that accepts only TLS does this to plaintext clients: use rediss://)";
    } else {
        message += " while " + std::string(stage);
    }
    return Unavailable(message);
}

Status Transport::TlsFailure(int ssl_error, int result, std::string_view stage) {
    const int saved_errno = errno;
    const unsigned long first = ERR_peek_error();
    const int reason_code = first == 0 ? 0 : ERR_GET_REASON(first);
    const std::string reason = OpenSslReason(ssl_error == SSL_ERROR_ZERO_RETURN ? "closed by the server" : "");
    const std::string where = host_ + ":" + std::to_string(port_);
    const long verify = SSL_get_verify_result(ssl_);
    if (reason_code == SSL_R_CERTIFICATE_VERIFY_FAILED && verify != X509_V_OK) {
        const std::string detail = X509_verify_cert_error_string(verify);
        if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
            return Unavailable("TLS: the server's certificate is not valid for '" + host_ + "' (" + detail +
                               "): use a host name or IP address listed in its subjectAltName in the URL, or have "
                               "the certificate reissued for '" + host_ + "'");
        }
        return Unavailable("TLS: the server's certificate was not accepted (" + detail + "): " +
                           (tls_->custom_ca() ? std::string("check that the CA file (redis_tls_ca_file) holds the CA that issued it")
                                              : std::string("the system CA store does not trust it; set "
                                                            "redis_tls_ca_file to the CA that issued it")));
    }
    if (reason_code == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED ||
        (!tls_->has_client_certificate() && reason_code == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE)) {
        return Unavailable("TLS: the server requires a client certificate (" + reason +
                           "): set the client certificate and key (redis_tls_cert_file, redis_tls_key_file)");
    }
    if (tls_->has_client_certificate() &&
        (reason_code == SSL_R_TLSV1_ALERT_UNKNOWN_CA || reason_code == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
         reason_code == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN || reason_code == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED ||
         reason_code == SSL_R_TLSV1_ALERT_DECRYPT_ERROR)) {
        return Unavailable("TLS: the server refused the client certificate (" + reason +
                           "): check that it was issued by a CA in the server's tls-ca-cert-file and has not "
                           "expired");
    }
    if (ssl_error == SSL_ERROR_ZERO_RETURN) return ClosedByServer(stage);
    if (ssl_error == SSL_ERROR_SYSCALL && first == 0) {
        return result == 0 || saved_errno == 0 ? ClosedByServer(stage)
                                               : Unavailable("TLS " + std::string(stage) + " failed: " + Errno(saved_errno));
    }
    if (!handshake_done_) {
        return Unavailable("TLS handshake failed (" + reason + "): is " + where +
                           " the server's TLS port? A plaintext Redis needs redis://");
    }
    return Unavailable("TLS " + std::string(stage) + " failed (" + reason + ")");
}

Status Transport::Write(std::string_view data, Deadline deadline) {
    if (ssl_ == nullptr) return SendAll(data.data(), data.size(), deadline);
    while (!data.empty()) {
        const int chunk = static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20));
        SH_ASSIGN_OR_RETURN(int n, DriveTls([&] { return SSL_write(ssl_, data.data(), chunk); }, deadline, "sending"));
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return Status::Ok();
}

Result<std::size_t> Transport::Read(char* buffer, std::size_t size, Deadline deadline) {
    std::size_t n = 0;
    if (ssl_ == nullptr) {
        SH_ASSIGN_OR_RETURN(n, ReceiveSome(buffer, size, deadline));
        if (n == 0) return ClosedByServer("reading");
    } else {
        const int want = static_cast<int>(std::min<std::size_t>(size, INT_MAX));
        SH_ASSIGN_OR_RETURN(int got, DriveTls([&] { return SSL_read(ssl_, buffer, want); }, deadline, "reading"));
        n = static_cast<std::size_t>(got);
    }
    exchanged_ = true;
    return n;
}

}  // namespace signalhub::redis
