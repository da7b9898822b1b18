#pragma once
// Streamable HTTP transport for MCP (protocol 2025-03-26 / 2025-06-18) over
// HTTP/1.1 (Boost.Beast), plain or over TLS (OpenSSL), plus the Kubernetes
// probes.
//
//   POST/GET/DELETE /mcp   MCP (see server/mcp_endpoint.hpp for the statuses)
//   GET /health            200 {"status":"ok"} while the process serves (no store access)
//   GET /ready             200 {"status":"ready"}, or 503 {"status":"unavailable","reason":...}
//                          from the ReadinessCheck, or "shutting down"
// Other paths 404, other methods 405 with Allow; every error body is JSON
// {"error": "..."}. A request whose Origin header is not allowed gets 403.
// With a RequestGuard (options.guard), every /mcp request is first admitted or
// refused by it (401 / 429 / 503, on a worker thread for POST and DELETE, on
// the I/O thread for GET); /health and /ready are never guarded.
// Every response carries the security headers of server/http_policy.hpp, and
// CORS headers when allowed_origins is configured (OPTIONS /mcp preflights
// from listed origins get 204; otherwise OPTIONS is 405).
//
// Threads: `io_threads` run the sockets (they only read, write and enforce
// limits); `workers` run MCP handlers and readiness checks, whose results go
// back to the connection's strand. A connection pipelines at most 8 requests.
//
// Limits: connections beyond max_connections are answered 503 and closed; a
// request must arrive whole within request_timeout (else 408 if anything came,
// and close), which is also the keep-alive idle limit; bodies over
// max_body_bytes get 413 (from Content-Length, before the body is read). Open
// GET /mcp streams count as connections, are not subject to the idle limit,
// and get a ": keepalive" comment every sse_keepalive_seconds.
//
// Shutdown: the listener closes, /ready answers 503, requests already read or
// being read complete and their responses are written (the last one with
// Connection: close), idle keep-alive connections and streams close. What still
// runs at shutdown_timeout is abandoned: Wait() then returns DeadlineExceeded
// saying how much. Abandoned tool handlers keep running on detached threads, so
// after such a Wait() the process should exit rather than destroy the
// mcp::Server and the store its tools use.
//
// TLS (options.tls.enabled): TLS 1.2 (ECDHE with AES-GCM or ChaCha20-Poly1305
// only) and 1.3, server cipher preference, no compression, no renegotiation,
// session tickets on. The handshake must finish within request_timeout. Every
// response carries Strict-Transport-Security unless hsts_max_age_seconds is 0.
// Closing sends close_notify (waiting at most 2 s for the client's). Clients
// over max_connections are closed without a handshake (no 503). Certificates
// are reloaded by ReloadTls() and, when reload_interval_seconds > 0, when the
// files change; established connections keep the context they started with.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/status.hpp"
#include "mcp/server.hpp"

namespace signalhub::server {

enum class TlsClientAuth { kNone, kOptional, kRequire };

struct TlsOptions {
    bool enabled = false;
    std::string cert_file;       // PEM: the server certificate, then its intermediates
    std::string key_file;        // PEM private key (unencrypted) matching cert_file
    std::string client_ca_file;  // PEM CA certificates client certificates must chain to (mTLS)
    TlsClientAuth client_auth = TlsClientAuth::kNone;  // optional/require need client_ca_file
    std::string min_version = "1.2";          // "1.2" or "1.3"; older versions are never offered
    std::int64_t hsts_max_age_seconds = 31536000;  // Strict-Transport-Security max-age; 0 = no header
    double reload_interval_seconds = 60;      // poll the files for changes (symlink swaps too); 0 = off
};

class RequestGuard;  // server/request_guard.hpp
class WorkerPool;    // server/worker_pool.hpp

enum class HttpRoute { kMcpPost, kMcpGet, kMcpDelete, kHealth, kReady, kOther };
inline constexpr std::size_t kHttpRouteCount = 6;
// "mcp_post", "mcp_get", "mcp_delete", "health", "ready", "other".
std::string_view HttpRouteName(HttpRoute route);

// One response written (HttpOptions::on_request): for metrics and access logs.
// The views are valid during the call only.
struct RequestEvent {
    HttpRoute route = HttpRoute::kOther;
    // The request method as received ("GET"); "" when the request was refused
    // before it was read whole (400 malformed, 408 timeout, 413, 431).
    std::string_view method;
    std::string_view target;   // the request target as received (path and query); "" as for method
    unsigned status = 0;       // the status code written (200 for an opened GET /mcp stream)
    // From the moment the request was read whole (or refused) to the moment its
    // response (a stream: its headers) was written, queueing behind earlier
    // pipelined responses included.
    double duration_seconds = 0;
    std::string_view remote;   // the client's address ("203.0.113.7", "[2001:db8::1]")
    std::string_view key_id;   // the admitted caller's API key id; "" = none (no keys, refused, not /mcp)
    // The client's X-Request-Id when safe (telemetry::AcceptRequestId), else a fresh one; also sent back
    // as the response's X-Request-Id header.
    std::string_view request_id;
    // The W3C trace id of the request's server span (monitoring.tracing; /mcp only, sampled or not);
    // "" when tracing is off or for other routes.
    std::string_view trace_id;
    std::size_t body_bytes = 0;  // response body bytes (0 for a stream's headers)
};

struct HttpOptions {
    std::string host = "127.0.0.1";        // an address or a name resolving to one
    std::uint16_t port = 8080;             // 0 = ephemeral (tests; see HttpServer::port())
    int io_threads = 1;
    int workers = 4;                       // threads for MCP handlers and readiness checks
    // The pool those threads form, when the caller made it (to share it, e.g. with a
    // search::Searcher helper); null = the server makes its own of `workers` threads.
    // The server shuts it down in Wait().
    std::shared_ptr<WorkerPool> pool;
    int max_connections = 1000;            // open connections (streams included); more are refused with 503
    double request_timeout_seconds = 30;   // receive one whole request; also the keep-alive idle limit
    std::size_t max_body_bytes = 4 << 20;  // larger bodies: 413
    double session_idle_timeout_seconds = 3600;  // MCP sessions unused this long expire (404 afterwards)
    std::size_t max_sessions = 10000;      // open MCP sessions; initialize beyond this gets 503
    std::vector<std::string> allowed_origins;  // empty: loopback origins only, no CORS; "*": any
    double shutdown_timeout_seconds = 30;  // drain deadline
    double sse_keepalive_seconds = 15;     // comment sent on idle GET /mcp streams
    const Clock* clock = nullptr;          // session expiry; null = Clock::Real(). Must outlive the server.
    // Authentication and rate limiting of /mcp (request_guard.hpp); null = every request admitted.
    std::shared_ptr<RequestGuard> guard;
    TlsOptions tls{};
    // Told the outcome of every TLS reload (ReloadTls(), SIGHUP in
    // ServeUntilSignal, file change), with its cause ("requested", "file
    // change"). Runs on the reloading thread (an I/O thread for file changes);
    // must not block. Optional.
    std::function<void(std::string_view cause, const Status& status)> on_tls_reload;
    // Told about every response written on a connection (not the 503s of
    // connections refused over max_connections, which only count in
    // HttpStats::connections_refused), once, after the write completed, even
    // when the client had gone. Runs on an I/O thread, concurrently with
    // itself when io_threads > 1: must be thread-safe, must not block and must
    // not throw. Optional.
    std::function<void(const RequestEvent&)> on_request;
};

// OK = ready; otherwise its message is the 503 reason. Runs on a worker thread,
// possibly concurrently with itself.
using ReadinessCheck = std::function<Status()>;

// A snapshot of the counters (totals since Start unless named "active").
struct HttpStats {
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_refused = 0;  // over max_connections
    std::uint64_t connections_active = 0;   // open now, streams included
    std::uint64_t streams_active = 0;       // open GET /mcp streams
    std::uint64_t requests_in_progress = 0; // read, response not yet written
    // responses[route][c]: responses written with status class c+1 (1xx .. 5xx).
    std::array<std::array<std::uint64_t, 5>, kHttpRouteCount> responses{};
    std::uint64_t sessions_active = 0;
    std::uint64_t sessions_created = 0;
    std::uint64_t sessions_expired = 0;
    std::uint64_t sessions_deleted = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t tls_handshakes_failed = 0;  // includes handshake timeouts and refused client certificates
    std::uint64_t tls_reloads_ok = 0;         // certificate reloads that took effect
    std::uint64_t tls_reloads_failed = 0;     // reloads that kept the previous certificate

    std::uint64_t Responses(HttpRoute route, int status_class) const {
        return responses[static_cast<std::size_t>(route)][static_cast<std::size_t>(status_class - 1)];
    }
};

class HttpServer {
   public:
    // Validates the options (InvalidArgument), loads the TLS files when TLS is
    // on (FailedPrecondition naming a file that cannot be read, InvalidArgument
    // naming a file that is not PEM, a key that does not match the certificate,
    // a bad CA file), binds and listens (Unavailable:
    // "cannot listen on 127.0.0.1:8080: address in use"), starts the threads.
    // Borrows `mcp`, which must be fully set up and outlive the server.
    static Result<std::unique_ptr<HttpServer>> Start(HttpOptions options, const mcp::Server& mcp,
                                                     ReadinessCheck ready);
    // Shutdown() and Wait() if not done yet.
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // The bound port (the ephemeral one when options.port was 0).
    std::uint16_t port() const;
    // Begins the graceful shutdown. Thread-safe, idempotent, returns at once;
    // may be called from any thread (e.g. one waiting for signals), not from
    // an async signal handler.
    void Shutdown();
    // Blocks until Shutdown() was called and the server fully stopped. OK when
    // everything drained; DeadlineExceeded when work was abandoned at
    // shutdown_timeout. Later calls return the same status at once.
    Status Wait();
    // Thread-safe.
    HttpStats stats() const;
    // Builds a new TLS context from options.tls's files. OK: connections
    // accepted from now on use it (established ones keep theirs). Otherwise
    // the current context stays and the error (as from Start) is returned.
    // FailedPrecondition when TLS is off. Thread-safe; reloads are serialised.
    Status ReloadTls();
    bool tls_enabled() const;

   private:
    struct Impl;
    explicit HttpServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Blocks until SIGTERM or SIGINT (or until something else calls Shutdown()),
// then shuts the server down and returns Wait()'s status. A second signal
// during the drain gets the default action (the process ends at once).
// SIGHUP does not stop the server: it reloads the TLS certificate (when TLS is
// on; the outcome goes to HttpOptions::on_tls_reload), then calls `on_reload`
// (if set) on the signal thread.
Status ServeUntilSignal(HttpServer& server, std::function<void()> on_reload = {});

}  // namespace signalhub::server
