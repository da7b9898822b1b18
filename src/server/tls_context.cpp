#include "server/tls_context.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <system_error>

namespace signalhub::server {
namespace {

namespace ssl = boost::asio::ssl;

// TLS 1.2: forward secrecy (ECDHE) with AEAD ciphers only, strongest first.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
constexpr char kTls13Suites[] = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";
constexpr unsigned char kSessionIdContext[] = "signal-hub";

// The OpenSSL error queue as text (and emptied).
std::string OpenSslErrors() {
    std::string text;
    while (unsigned long e = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(e, buffer, sizeof(buffer));
        if (!text.empty()) text += "; ";
        text += buffer;
    }
    return text.empty() ? "unknown OpenSSL error" : text;
}

// Missing or unreadable files get FailedPrecondition before OpenSSL sees them.
Status CheckReadable(const char* key, const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        return FailedPrecondition(std::string(key) + " '" + path +
                                  "' cannot be read: " + std::error_code(err, std::generic_category()).message());
    }
    struct stat st {};
    const bool dir = ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    ::close(fd);
    if (dir) return FailedPrecondition(std::string(key) + " '" + path + "' is a directory, not a PEM file");
    return Status::Ok();
}

// Keys protected by a passphrase are refused (never prompt on a terminal).
int NoPassphrase(char*, int, int, void*) { return 0; }

}  // namespace

Status ValidateTlsOptions(const TlsOptions& tls) {
    if (!tls.enabled) return Status::Ok();
    auto bad = [](const std::string& what) { return InvalidArgument("http options: " + what); };
    if (tls.cert_file.empty()) return bad("tls.cert_file is required when TLS is enabled");
    if (tls.key_file.empty()) return bad("tls.key_file is required when TLS is enabled");
    if (tls.client_auth != TlsClientAuth::kNone && tls.client_ca_file.empty())
        return bad("tls.client_ca_file is required when tls.client_auth is optional or require");
    if (tls.min_version != "1.2" && tls.min_version != "1.3")
        return bad("tls.min_version must be \"1.2\" or \"1.3\" (got '" + tls.min_version + "')");
    if (tls.hsts_max_age_seconds < 0) return bad("tls.hsts_max_age must not be negative");
    if (!(tls.reload_interval_seconds >= 0)) return bad("tls.reload_interval must not be negative");
    return Status::Ok();
}

Result<std::shared_ptr<ssl::context>> BuildServerTlsContext(const TlsOptions& tls) {
    SH_RETURN_IF_ERROR(ValidateTlsOptions(tls));
    ERR_clear_error();
    std::shared_ptr<ssl::context> ctx;
    try {
        ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    } catch (const std::exception& e) {
        return Internal(std::string("cannot create a TLS context: ") + e.what());
    }
    SSL_CTX* native = ctx->native_handle();
    const int min_version = tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(native, min_version) != 1 ||
        SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1 || SSL_CTX_set_ciphersuites(native, kTls13Suites) != 1) {
        return Internal("cannot configure TLS protocol versions and ciphers: " + OpenSslErrors());
    }
    SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_default_passwd_cb(native, NoPassphrase);
    // Needed for session resumption when client certificates are verified.
    SSL_CTX_set_session_id_context(native, kSessionIdContext, sizeof(kSessionIdContext) - 1);

    SH_RETURN_IF_ERROR(CheckReadable("tls.cert_file", tls.cert_file));
    SH_RETURN_IF_ERROR(CheckReadable("tls.key_file", tls.key_file));
    if (SSL_CTX_use_certificate_chain_file(native, tls.cert_file.c_str()) != 1) {
        return InvalidArgument("tls.cert_file '" + tls.cert_file +
                               "' is not a PEM certificate chain: " + OpenSslErrors());
    }
    if (SSL_CTX_use_PrivateKey_file(native, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        const unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
            return InvalidArgument("tls.key_file '" + tls.key_file +
                                   "' does not match the certificate in tls.cert_file '" + tls.cert_file +
                                   "': " + OpenSslErrors());
        }
        return InvalidArgument("tls.key_file '" + tls.key_file +
                               "' is not an unencrypted PEM private key: " + OpenSslErrors());
    }
    if (SSL_CTX_check_private_key(native) != 1) {
        return InvalidArgument("tls.key_file '" + tls.key_file + "' does not match the certificate in tls.cert_file '" +
                               tls.cert_file + "': " + OpenSslErrors());
    }

    if (tls.client_auth != TlsClientAuth::kNone) {
        SH_RETURN_IF_ERROR(CheckReadable("tls.client_ca_file", tls.client_ca_file));
        if (SSL_CTX_load_verify_locations(native, tls.client_ca_file.c_str(), nullptr) != 1) {
            return InvalidArgument("tls.client_ca_file '" + tls.client_ca_file +
                                   "' holds no usable PEM CA certificate: " + OpenSslErrors());
        }
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str());
        if (names == nullptr || sk_X509_NAME_num(names) == 0) {
            if (names) sk_X509_NAME_pop_free(names, X509_NAME_free);
            return InvalidArgument("tls.client_ca_file '" + tls.client_ca_file +
                                   "' holds no PEM CA certificate: " + OpenSslErrors());
        }
        SSL_CTX_set_client_CA_list(native, names);  // takes ownership
        int mode = SSL_VERIFY_PEER;
        if (tls.client_auth == TlsClientAuth::kRequire) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(native, mode, nullptr);
    } else if (!tls.client_ca_file.empty()) {
        // Configured but unused: still check it, so a typo shows up now rather
        // than when client_auth is switched on.
        SH_RETURN_IF_ERROR(CheckReadable("tls.client_ca_file", tls.client_ca_file));
    }
    ERR_clear_error();
    return ctx;
}

std::string TlsFilesFingerprint(const TlsOptions& tls) {
    std::string out;
    for (const std::string* path : {&tls.cert_file, &tls.key_file, &tls.client_ca_file}) {
        if (path->empty()) continue;
        char resolved[PATH_MAX];
        out += ::realpath(path->c_str(), resolved) ? resolved : *path;
        struct stat st {};
        if (::stat(path->c_str(), &st) != 0) {
            out += " error " + std::to_string(errno) + "\n";
            continue;
        }
        out += " " + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + " " + std::to_string(st.st_size) +
               " " + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "\n";
    }
    return out;
}

bool StartsTlsHandshake(unsigned char first_byte) { return first_byte == 0x16; }

std::string PlainHttpOnTlsPortResponse(std::string_view received, std::string_view fallback_authority) {
    auto all_of = [](std::string_view s, auto ok) {
        for (char c : s) {
            if (!ok(static_cast<unsigned char>(c))) return false;
        }
        return !s.empty();
    };
    // The Host header (an authority: letters, digits, '.', '-', ':', '[', ']'), case-insensitively.
    std::string authority(fallback_authority);
    std::string lower(received);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (std::size_t at = lower.find("\r\nhost:"); at != std::string::npos) {
        std::size_t begin = at + 7;
        const std::size_t end = received.find("\r\n", begin);
        if (end != std::string_view::npos) {
            while (begin < end && (received[begin] == ' ' || received[begin] == '\t')) ++begin;
            const std::string_view host = received.substr(begin, end - begin);
            if (host.size() <= 255 && all_of(host, [](unsigned char c) {
                    return std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
                })) {
                authority = std::string(host);
            }
        }
    }
    // The request target of "METHOD /path HTTP/1.1" (printable, no quotes or backslashes).
    std::string path = "/";
    if (std::size_t sp = received.find(' '); sp != std::string_view::npos) {
        const std::size_t end = received.find(' ', sp + 1);
        if (end != std::string_view::npos) {
            const std::string_view target = received.substr(sp + 1, end - sp - 1);
            if (target.size() <= 512 && target.front() == '/' && all_of(target, [](unsigned char c) {
                    return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
                })) {
                path = std::string(target);
            }
        }
    }
    const std::string body =
        "{\"error\":\"this port speaks HTTPS; use https://" + authority + path + " (not http://)\"}\n";
    return "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace signalhub::server
