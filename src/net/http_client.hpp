#pragma once
// A small synchronous HTTP/1.1 client (Boost.Beast) shared by the embedding
// providers and the HTTP store backends (ChromaDB): one persistent keep-alive
// connection to one origin, http or https (OpenSSL, SNI, certificate
// verification against the system trust store and host name verification),
// one deadline per request covering resolve, connect, TLS handshake, write and
// read.
//
// Thread safety: an HttpClient serves one request at a time; callers lock or
// pool clients. Errors (as Status values, nothing throws):
//   Unavailable       resolve/connect/TLS/IO failure (PermanentError() tells
//                     whether retrying can help, e.g. a certificate failure)
//   DeadlineExceeded  the request did not finish within the timeout
// A response with any HTTP status is a success of the transport.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.hpp"

namespace signalhub::net {

struct HttpUrl {
    bool tls = false;
    std::string host;   // without IPv6 brackets
    std::string port;   // always set ("80"/"443" by default)
    std::string path;   // without trailing '/', may be empty
    std::string query;  // without '?', may be empty

    // "host" or "host:port" (brackets for IPv6) for the Host header.
    std::string HostHeader() const;
    // path + suffix, then "?query" if any: base "https://h/v1?x=1" with suffix
    // "/embeddings" gives "/v1/embeddings?x=1".
    std::string Target(std::string_view suffix) const;
};

// Parses "http[s]://host[:port][/path][?query]". InvalidArgument otherwise
// (unsupported scheme, empty host, user info, fragment, bad port).
Result<HttpUrl> ParseHttpUrl(std::string_view url);

struct HttpResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
    std::string body;

    // First header with that (case-insensitive) name.
    std::optional<std::string> Header(std::string_view name) const;
};

struct HttpHeader {
    std::string name;
    std::string value;
};

class HttpClient {
   public:
    HttpClient(HttpUrl origin, std::chrono::milliseconds timeout);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Sends one request on the persistent connection (opening it if needed; a
    // request that fails on a reused connection is re-sent once on a fresh one).
    // `method` is "GET", "POST", ...
    // Tracing: under a current span context (telemetry/trace.hpp) the request
    // is a client span and carries `traceparent` (and `tracestate`).
    Result<HttpResponse> Request(std::string_view method, const std::string& target,
                                 const std::vector<HttpHeader>& headers, const std::string& body);

    // Trust the CA certificates in this PEM file (instead of the system trust
    // store) for https origins, e.g. a private CA that signed Vault's
    // certificate. Call before the first request. InvalidArgument when the
    // file cannot be read or holds no certificate.
    Status SetCaFile(const std::string& pem_path);

    // Accept any server certificate (no chain or host name check): only for
    // a process probing its own listener on a loopback address, as Kubernetes'
    // HTTPS probes do (`signal-hub healthcheck`), where the certificate names
    // the service, not 127.0.0.1. Call before the first request.
    void SkipPeerVerificationForLoopbackProbe();

    // True when the last failure cannot be cured by retrying (TLS verification).
    bool PermanentError() const;
    // Number of TCP connections opened so far.
    int connections_opened() const;

   private:
    Result<HttpResponse> Send(std::string_view method, const std::string& target,
                              const std::vector<HttpHeader>& headers, const std::string& body);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace signalhub::net
