#pragma once
// Streamable HTTP transport for MCP (protocol 2025-03-26 / 2025-06-18) over
// plain HTTP/1.1 (Boost.Beast), plus the Kubernetes probes.
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

class RequestGuard;  // server/request_guard.hpp

struct HttpOptions {
    std::string host = "127.0.0.1";        // an address or a name resolving to one
    std::uint16_t port = 8080;             // 0 = ephemeral (tests; see HttpServer::port())
    int io_threads = 1;
    int workers = 4;                       // threads for MCP handlers and readiness checks
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
};

// OK = ready; otherwise its message is the 503 reason. Runs on a worker thread,
// possibly concurrently with itself.
using ReadinessCheck = std::function<Status()>;

enum class HttpRoute { kMcpPost, kMcpGet, kMcpDelete, kHealth, kReady, kOther };
inline constexpr std::size_t kHttpRouteCount = 6;
// "mcp_post", "mcp_get", "mcp_delete", "health", "ready", "other".
std::string_view HttpRouteName(HttpRoute route);

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

    std::uint64_t Responses(HttpRoute route, int status_class) const {
        return responses[static_cast<std::size_t>(route)][static_cast<std::size_t>(status_class - 1)];
    }
};

class HttpServer {
   public:
    // Validates the options (InvalidArgument), binds and listens (Unavailable:
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

   private:
    struct Impl;
    explicit HttpServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Blocks until SIGTERM or SIGINT (or until something else calls Shutdown()),
// then shuts the server down and returns Wait()'s status. A second signal
// during the drain gets the default action (the process ends at once).
Status ServeUntilSignal(HttpServer& server);

}  // namespace signalhub::server
