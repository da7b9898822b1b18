#pragma once
// Server-side TLS contexts for HttpServer (OpenSSL through Boost.Asio), built
// from TlsOptions' PEM files, and a fingerprint of those files to notice when
// they change (including Kubernetes Secret volumes, where the files are
// symlinks into a directory that is swapped atomically).
//
// Thread safety: free functions without shared state.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "core/status.hpp"
#include "server/http_server.hpp"

namespace signalhub::server {

// Checks the options without touching the files: InvalidArgument naming the
// field ("tls.cert_file is required when TLS is enabled").
Status ValidateTlsOptions(const TlsOptions& tls);

// A context ready for ssl_stream's server handshakes. Errors name the file:
//   FailedPrecondition  a file is missing or unreadable
//   InvalidArgument     not PEM / no certificate in it, an encrypted key, a key
//                       that does not match the certificate, a bad CA file
Result<std::shared_ptr<boost::asio::ssl::context>> BuildServerTlsContext(const TlsOptions& tls);

// What identifies the current contents of the TLS files: for each one its
// resolved path, device, inode, size and modification time (stat follows
// symlinks). A file that cannot be stat'ed contributes its error. Compare two
// fingerprints with ==.
std::string TlsFilesFingerprint(const TlsOptions& tls);

// True when a connection's first byte can start TLS (a handshake record,
// 0x16); anything else on the TLS port is most likely plain HTTP.
bool StartsTlsHandshake(unsigned char first_byte);

// The whole HTTP/1.1 response (400, JSON body, Connection: close) for a plain
// HTTP request sent to the TLS port, saying to use https:// instead of an
// empty reply: "this port speaks HTTPS; use https://HOST/PATH". `received`
// is what the client sent first: its request line and Host header give the
// URL (when they are plausible; else `fallback_authority` "127.0.0.1:8443"
// and "/").
std::string PlainHttpOnTlsPortResponse(std::string_view received, std::string_view fallback_authority);

}  // namespace signalhub::server
