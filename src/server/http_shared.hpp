#pragma once
// Internal to HttpServer (http_server.cpp, http_connection.hpp): the state the
// listener, the connections and the worker tasks share, and small helpers.
// Not part of the server's interface; include http_server.hpp instead.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "server/http_policy.hpp"
#include "server/http_server.hpp"
#include "server/mcp_endpoint.hpp"
#include "server/mcp_sessions.hpp"
#include "server/request_guard.hpp"
#include "telemetry/log.hpp"
#include "telemetry/trace.hpp"
#include "server/tls_context.hpp"
#include "server/worker_pool.hpp"

namespace signalhub::server::http_internal {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Json = nlohmann::json;
using SteadyDuration = std::chrono::steady_clock::duration;
using TlsContext = net::ssl::context;


inline constexpr std::size_t kPipelineLimit = 8;      // requests read ahead of their responses, per connection
inline constexpr std::size_t kLingerBytes = 1 << 20;  // discarded after we close our side
inline constexpr std::chrono::seconds kLingerTime{2}; // how long a closing connection waits for the client's FIN
inline constexpr int kMaxRefusing = 64;               // refused connections being answered 503 at once
inline constexpr std::string_view kKeepalive = ": keepalive\n\n";

inline SteadyDuration Seconds(double s) {
    s = std::clamp(s, 0.0, 1e7);  // ~115 days: far beyond any sane setting, far from overflow
    return std::chrono::duration_cast<SteadyDuration>(std::chrono::duration<double>(s));
}

// Beast 1.74 takes boost::string_view.
inline beast::string_view Bsv(std::string_view s) { return {s.data(), s.size()}; }

// ---------------------------------------------------------------------------
// State shared by the listener, the connections and the worker tasks. Worker
// tasks hold it by shared_ptr, so an abandoned task never touches freed memory.

struct Counters {
    std::atomic<std::uint64_t> connections_accepted{0};
    std::atomic<std::uint64_t> connections_refused{0};
    std::atomic<std::uint64_t> connections_active{0};
    std::atomic<std::uint64_t> streams_active{0};
    std::atomic<std::uint64_t> requests_in_progress{0};
    std::atomic<std::uint64_t> bytes_received{0};
    std::atomic<std::uint64_t> bytes_sent{0};
    std::atomic<std::uint64_t> tls_handshakes_failed{0};
    std::atomic<std::uint64_t> tls_reloads_ok{0};
    std::atomic<std::uint64_t> tls_reloads_failed{0};
    std::array<std::array<std::atomic<std::uint64_t>, 5>, kHttpRouteCount> responses{};

    void CountResponse(HttpRoute route, unsigned status) {
        const unsigned cls = std::clamp(status / 100, 1u, 5u);
        responses[static_cast<std::size_t>(route)][cls - 1].fetch_add(1);
    }
};

// Lets worker threads hand results to the I/O side only while it exists.
class Gate {
   public:
    template <class F>
    void Run(F&& f) {
        std::lock_guard<std::mutex> lock(mu_);
        if (open_) f();
    }
    void Close() {
        std::lock_guard<std::mutex> lock(mu_);
        open_ = false;
    }

   private:
    std::mutex mu_;
    bool open_ = true;
};

class ConnectionBase {
   public:
    virtual ~ConnectionBase() = default;
    // The server is shutting down. Thread-safe, returns at once.
    virtual void NotifyShutdown() = 0;
    // The I/O threads have stopped for good and no worker reaches the
    // connection any more (the gate is closed): drop what keeps it alive.
    // Call only then, from the thread stopping the server.
    virtual void Abandon() = 0;
};

struct Shared {
    Shared(HttpOptions opts, const mcp::Server& mcp, ReadinessCheck check)
        : options(std::move(opts)),
          ready(std::move(check)),
          sessions(mcp, options.max_sessions,
                   std::chrono::duration_cast<std::chrono::nanoseconds>(Seconds(options.session_idle_timeout_seconds)),
                   options.clock ? *options.clock : Clock::Real()),
          endpoint(sessions, [guard = options.guard](const mcp::Caller& caller, const std::string& what) {
              if (guard) guard->Forbidden(caller, what);
          }),
          hsts(options.tls.enabled && options.tls.hsts_max_age_seconds > 0
                   ? "max-age=" + std::to_string(options.tls.hsts_max_age_seconds)
                   : std::string()) {}

    // The guard's decision; everyone is admitted as Caller{} without one.
    GuardDecision Admit(const HttpRequest& req, const std::string& remote) const {
        if (!options.guard) {
            GuardDecision admitted;
            admitted.caller.remote = remote;
            return admitted;
        }
        return options.guard->Admit(req, remote);
    }

    std::uint64_t Register(std::weak_ptr<ConnectionBase> c) {
        std::lock_guard<std::mutex> lock(mu);
        const std::uint64_t id = ++next_connection_id;
        connections.emplace(id, std::move(c));
        counters.connections_active.store(connections.size());
        return id;
    }
    void Unregister(std::uint64_t id) {
        {
            std::lock_guard<std::mutex> lock(mu);
            connections.erase(id);
            counters.connections_active.store(connections.size());
        }
        cv.notify_all();
    }

    std::shared_ptr<TlsContext> CurrentTls() {
        std::lock_guard<std::mutex> lock(tls_mu);
        return tls;
    }
    void SetTls(std::shared_ptr<TlsContext> context) {
        std::lock_guard<std::mutex> lock(tls_mu);
        tls = std::move(context);
    }

    const HttpOptions options;
    const ReadinessCheck ready;
    McpSessions sessions;
    McpEndpoint endpoint;
    const std::string hsts;  // Strict-Transport-Security value; empty = none
    Counters counters;
    Gate gate;
    std::atomic<bool> shutting_down{false};
    std::atomic<int> refusing{0};  // Refusal objects alive

    std::mutex mu;  // guards the members below
    std::condition_variable cv;  // shutdown began, or a connection ended
    std::chrono::steady_clock::time_point shutdown_started;
    std::uint64_t next_connection_id = 0;
    std::unordered_map<std::uint64_t, std::weak_ptr<ConnectionBase>> connections;

    std::mutex tls_mu;                // guards tls
    std::shared_ptr<TlsContext> tls;  // for new connections (null: plain HTTP)
};

inline void AddHeaders(HttpResponse& res, const std::vector<std::pair<std::string, std::string>>& headers) {
    for (const auto& [name, value] : headers) res.set(Bsv(name), Bsv(value));
}

// Asks the guard about `req`, then runs `handle` for the admitted caller.
// `key_id` receives the admitted caller's key id (for HttpOptions::on_request).
template <class Handle>
HttpResponse Guarded(const Shared& shared, const HttpRequest& req, const std::string& remote, std::string& key_id,
                     Handle handle) {
    GuardDecision decision = shared.Admit(req, remote);
    if (!decision.refusal) key_id = decision.caller.id;
    HttpResponse res = decision.refusal ? std::move(*decision.refusal) : handle(decision.caller);
    AddHeaders(res, decision.headers);
    return res;
}

inline HttpResponse MethodNotAllowed(const HttpRequest& req, std::string_view allow) {
    HttpResponse res = ErrorResponse(req, http::status::method_not_allowed,
                                     "method " + std::string(Sv(req.method_string())) + " not allowed (allowed: " +
                                         std::string(allow) + ")");
    res.set(http::field::allow, Bsv(allow));
    return res;
}

inline bool IsHttpParseError(const beast::error_code& ec) {
    return ec.category() == http::make_error_code(http::error::bad_method).category() &&
           ec != http::error::partial_message && ec != http::error::end_of_stream;
}

// Half-closes our side (plain TCP; TLS sends close_notify instead, see
// HttpConnection::GracefulClose).
inline void ShutdownSend(beast::tcp_stream& stream) {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace signalhub::server::http_internal
