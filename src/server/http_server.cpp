#include "server/http_server.hpp"
#include "server/http_connection.hpp"
#include "server/http_shared.hpp"

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
#include "server/mcp_endpoint.hpp"
#include "server/mcp_sessions.hpp"
#include "server/request_guard.hpp"
#include "telemetry/log.hpp"
#include "telemetry/trace.hpp"
#include "server/tls_context.hpp"
#include "server/worker_pool.hpp"

namespace signalhub::server {

// The connection classes and the state they share (http_shared.hpp, http_connection.hpp), with their
// aliases (net, beast, http, tcp, Json, SteadyDuration, TlsContext).
using namespace http_internal;

std::string_view HttpRouteName(HttpRoute route) {
    switch (route) {
        case HttpRoute::kMcpPost: return "mcp_post";
        case HttpRoute::kMcpGet: return "mcp_get";
        case HttpRoute::kMcpDelete: return "mcp_delete";
        case HttpRoute::kHealth: return "health";
        case HttpRoute::kReady: return "ready";
        case HttpRoute::kOther: return "other";
    }
    return "other";
}


namespace {

std::string DescribeBindError(const beast::error_code& ec) {
    if (ec == net::error::address_in_use) return "address in use";
    if (ec == net::error::access_denied) return "permission denied";
    if (ec == boost::system::errc::address_not_available) return "address not available on this machine";
    return ec.message();
}

Status ValidateOptions(const HttpOptions& o) {
    auto bad = [](const std::string& what) { return InvalidArgument("http options: " + what); };
    if (o.host.empty()) return bad("host is empty");
    if (o.io_threads < 1 || o.io_threads > 256) return bad("io_threads must be 1..256 (got " + std::to_string(o.io_threads) + ")");
    if (o.workers < 1 || o.workers > 1024) return bad("workers must be 1..1024 (got " + std::to_string(o.workers) + ")");
    if (o.max_connections < 1) return bad("max_connections must be at least 1");
    if (!(o.request_timeout_seconds > 0)) return bad("request_timeout must be positive");
    if (o.max_body_bytes < 1) return bad("max_body_bytes must be at least 1");
    if (!(o.session_idle_timeout_seconds > 0)) return bad("session_idle_timeout must be positive");
    if (o.max_sessions < 1) return bad("max_sessions must be at least 1");
    if (!(o.shutdown_timeout_seconds >= 0)) return bad("shutdown_timeout must not be negative");
    if (!(o.sse_keepalive_seconds > 0)) return bad("sse_keepalive must be positive");
    return ValidateTlsOptions(o.tls);
}

}  // namespace

// ---------------------------------------------------------------------------

struct HttpServer::Impl {
    Impl(HttpOptions options, const mcp::Server& mcp, ReadinessCheck ready)
        : shared(std::make_shared<Shared>(std::move(options), mcp, std::move(ready))),
          pool(shared->options.pool ? shared->options.pool
                                    : std::make_shared<WorkerPool>(shared->options.workers)),
          ioc(shared->options.io_threads),
          acceptor(net::make_strand(ioc)),
          sweep_timer(acceptor.get_executor()),
          retry_timer(acceptor.get_executor()),
          tls_poll_timer(acceptor.get_executor()) {}

    ~Impl() {
        // Wait() joined the threads and closed the gate; the handlers still
        // queued in the io_context (holding connections) die with it, before
        // the pool declared above it.
        beast::error_code ec;
        acceptor.close(ec);
    }

    Status Listen() {
        const HttpOptions& o = shared->options;
        const std::string where = o.host + ":" + std::to_string(o.port);
        beast::error_code ec;
        tcp::resolver resolver(ioc);
        auto results = resolver.resolve(o.host, std::to_string(o.port),
                                        tcp::resolver::passive | tcp::resolver::numeric_service, ec);
        if (ec || results.empty())
            return InvalidArgument("cannot listen on " + where + ": cannot resolve '" + o.host + "': " + ec.message());
        const tcp::endpoint endpoint = results.begin()->endpoint();
        acceptor.open(endpoint.protocol(), ec);
        if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
        if (!ec) acceptor.bind(endpoint, ec);
        if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
        if (ec) return Unavailable("cannot listen on " + where + ": " + DescribeBindError(ec));
        port = acceptor.local_endpoint(ec).port();
        if (ec) return Unavailable("cannot listen on " + where + ": " + ec.message());
        return Status::Ok();
    }

    // Loads the first TLS context (before Listen, so a bad file fails Start).
    Status LoadTls() {
        const TlsOptions& tls = shared->options.tls;
        if (!tls.enabled) return Status::Ok();
        tls_fingerprint = TlsFilesFingerprint(tls);
        SH_ASSIGN_OR_RETURN(std::shared_ptr<TlsContext> context, BuildServerTlsContext(tls));
        shared->SetTls(std::move(context));
        return Status::Ok();
    }

    Status ReloadTls(std::string_view cause) {
        const HttpOptions& o = shared->options;
        if (!o.tls.enabled) return FailedPrecondition("TLS is not enabled: there is no certificate to reload");
        Status status;
        {
            std::lock_guard<std::mutex> lock(reload_mu);
            Result<std::shared_ptr<TlsContext>> context = BuildServerTlsContext(o.tls);
            if (context.ok()) {
                shared->SetTls(std::move(*context));
                shared->counters.tls_reloads_ok.fetch_add(1);
            } else {
                status = context.status();
                shared->counters.tls_reloads_failed.fetch_add(1);
            }
        }
        if (o.on_tls_reload) o.on_tls_reload(cause, status);
        return status;
    }

    // Polls the TLS files (on the acceptor's strand) and reloads when their
    // fingerprint changes. A failed reload is retried at the next change.
    void ArmTlsPoll() {
        const TlsOptions& tls = shared->options.tls;
        if (!tls.enabled || !(tls.reload_interval_seconds > 0)) return;
        tls_poll_timer.expires_after(Seconds(tls.reload_interval_seconds));
        tls_poll_timer.async_wait([this](beast::error_code ec) {
            if (ec || shared->shutting_down.load()) return;
            std::string fingerprint = TlsFilesFingerprint(shared->options.tls);
            if (fingerprint != tls_fingerprint) {
                tls_fingerprint = std::move(fingerprint);
                (void)ReloadTls("file change");  // reported through on_tls_reload
            }
            ArmTlsPoll();
        });
    }

    void Run() {
        net::dispatch(acceptor.get_executor(), [this] {
            DoAccept();
            ArmSweep();
            ArmTlsPoll();
        });
        const int n = shared->options.io_threads;
        io_threads.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) io_threads.emplace_back([this] { ioc.run(); });
    }

    void DoAccept() {
        acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
            OnAccept(ec, std::move(socket));
        });
    }

    void OnAccept(beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || shared->shutting_down.load() || !acceptor.is_open()) return;
        if (ec) {  // e.g. out of file descriptors: retry shortly rather than spin
            retry_timer.expires_after(std::chrono::milliseconds(50));
            retry_timer.async_wait([this](beast::error_code e) {
                if (!e && !shared->shutting_down.load()) DoAccept();
            });
            return;
        }
        Counters& c = shared->counters;
        std::shared_ptr<TlsContext> tls = shared->CurrentTls();
        if (c.connections_active.load() >= static_cast<std::uint64_t>(shared->options.max_connections)) {
            c.connections_refused.fetch_add(1);
            if (!tls && shared->refusing.load() < kMaxRefusing) {
                std::make_shared<Refusal>(std::move(socket), shared)->Start();
            } else {
                beast::error_code ignored;
                socket.close(ignored);
            }
        } else {
            c.connections_accepted.fetch_add(1);
            // Responses leave in more than one write (TLS: a record for the header, then the body;
            // SSE: event by event), so Nagle would hold the last segment for the client's delayed ACK.
            beast::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            if (tls) {
                beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls);
                std::make_shared<TlsConnection>(std::move(stream), shared, *pool, std::move(tls))->Start();
            } else {
                std::make_shared<PlainConnection>(beast::tcp_stream(std::move(socket)), shared, *pool)->Start();
            }
        }
        DoAccept();
    }

    void ArmSweep() {
        const double ttl = shared->options.session_idle_timeout_seconds;
        sweep_timer.expires_after(Seconds(std::clamp(ttl / 4, 0.01, 60.0)));
        sweep_timer.async_wait([this](beast::error_code ec) {
            if (ec || shared->shutting_down.load()) return;
            shared->sessions.ExpireIdle();
            ArmSweep();
        });
    }

    void Shutdown() {
        if (shared->shutting_down.exchange(true)) return;
        std::vector<std::weak_ptr<ConnectionBase>> connections;
        {
            std::lock_guard<std::mutex> lock(shared->mu);
            shared->shutdown_started = std::chrono::steady_clock::now();
            for (const auto& [id, c] : shared->connections) connections.push_back(c);
        }
        shared->cv.notify_all();
        net::post(acceptor.get_executor(), [this] {
            beast::error_code ec;
            acceptor.close(ec);
            sweep_timer.cancel();
            retry_timer.cancel();
            tls_poll_timer.cancel();
        });
        for (const auto& w : connections) {
            if (auto c = w.lock()) c->NotifyShutdown();
        }
    }

    Status Wait() {
        std::lock_guard<std::mutex> wait_lock(wait_mu);
        if (waited) return wait_status;
        std::size_t open_connections = 0;
        std::chrono::steady_clock::time_point deadline;
        {
            std::unique_lock<std::mutex> lock(shared->mu);
            shared->cv.wait(lock, [&] { return shared->shutting_down.load(); });
            deadline = shared->shutdown_started + Seconds(shared->options.shutdown_timeout_seconds);
            shared->cv.wait_until(lock, deadline, [&] { return shared->connections.empty(); });
            open_connections = shared->connections.size();
        }
        const std::uint64_t unanswered = shared->counters.requests_in_progress.load();
        shared->gate.Close();  // from here no worker touches the I/O side
        ioc.stop();
        for (auto& t : io_threads) t.join();
        io_threads.clear();
        // Connections still waiting for abandoned handlers keep themselves
        // alive; release them now that nothing runs on their side.
        std::vector<std::weak_ptr<ConnectionBase>> left;
        {
            std::lock_guard<std::mutex> lock(shared->mu);
            for (const auto& [id, c] : shared->connections) left.push_back(c);
        }
        for (const auto& w : left) {
            if (auto c = w.lock()) c->Abandon();
        }
        const std::size_t handlers = pool->Shutdown(deadline);
        waited = true;
        if (open_connections > 0 || handlers > 0) {
            wait_status = DeadlineExceeded(
                "shutdown deadline (" + std::to_string(shared->options.shutdown_timeout_seconds) +
                " s) passed: abandoned " + std::to_string(unanswered) + " unanswered request(s) on " +
                std::to_string(open_connections) + " open connection(s); " + std::to_string(handlers) +
                " handler(s) still running were left on detached threads");
        }
        return wait_status;
    }

    std::shared_ptr<Shared> shared;
    std::shared_ptr<WorkerPool> pool;  // destroyed after ioc (connections hold a reference)
    net::io_context ioc;
    tcp::acceptor acceptor;
    net::steady_timer sweep_timer;  // session expiry
    net::steady_timer retry_timer;  // accept errors
    net::steady_timer tls_poll_timer;  // TLS file changes
    std::string tls_fingerprint;       // of the files last loaded (only on the acceptor's strand after Start)
    std::mutex reload_mu;              // one TLS reload at a time
    // Keeps the io threads running while connections only wait for workers.
    net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
    std::vector<std::thread> io_threads;
    std::uint16_t port = 0;
    std::mutex wait_mu;
    bool waited = false;
    Status wait_status;
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
    if (!impl_) return;
    Shutdown();
    (void)Wait();
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(HttpOptions options, const mcp::Server& mcp,
                                                      ReadinessCheck ready) {
    SH_RETURN_IF_ERROR(ValidateOptions(options));
    auto impl = std::make_unique<Impl>(std::move(options), mcp, std::move(ready));
    SH_RETURN_IF_ERROR(impl->LoadTls());
    SH_RETURN_IF_ERROR(impl->Listen());
    impl->Run();
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

std::uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::Shutdown() { impl_->Shutdown(); }

Status HttpServer::Wait() { return impl_->Wait(); }

Status HttpServer::ReloadTls() { return impl_->ReloadTls("requested"); }

bool HttpServer::tls_enabled() const { return impl_->shared->options.tls.enabled; }

HttpStats HttpServer::stats() const {
    const Shared& s = *impl_->shared;
    const Counters& c = s.counters;
    HttpStats out;
    out.connections_accepted = c.connections_accepted.load();
    out.connections_refused = c.connections_refused.load();
    out.connections_active = c.connections_active.load();
    out.streams_active = c.streams_active.load();
    out.requests_in_progress = c.requests_in_progress.load();
    for (std::size_t r = 0; r < kHttpRouteCount; ++r)
        for (std::size_t k = 0; k < 5; ++k) out.responses[r][k] = c.responses[r][k].load();
    out.sessions_active = s.sessions.active();
    out.sessions_created = s.sessions.created();
    out.sessions_expired = s.sessions.expired();
    out.sessions_deleted = s.sessions.deleted();
    out.bytes_received = c.bytes_received.load();
    out.bytes_sent = c.bytes_sent.load();
    out.tls_handshakes_failed = c.tls_handshakes_failed.load();
    out.tls_reloads_ok = c.tls_reloads_ok.load();
    out.tls_reloads_failed = c.tls_reloads_failed.load();
    return out;
}

namespace {

// SIGHUP: reload, then wait for the next one.
void AwaitHangup(net::signal_set& hangup, HttpServer& server, const std::function<void()>& on_reload,
                 bool tls_enabled) {
    hangup.async_wait([&hangup, &server, &on_reload, tls_enabled](const beast::error_code& ec, int) {
        if (ec) return;
        if (tls_enabled) (void)server.ReloadTls();  // the outcome goes to HttpOptions::on_tls_reload
        if (on_reload) on_reload();
        AwaitHangup(hangup, server, on_reload, tls_enabled);
    });
}

}  // namespace

Status ServeUntilSignal(HttpServer& server, std::function<void()> on_reload) {
    net::io_context ioc;
    net::signal_set hangup(ioc, SIGHUP);
    AwaitHangup(hangup, server, on_reload, server.tls_enabled());
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&server, &signals](const beast::error_code& ec, int) {
        if (ec) return;
        server.Shutdown();
        // Back to the default disposition: a second signal ends the process at
        // once instead of waiting for the drain.
        beast::error_code ignored;
        signals.clear(ignored);
    });
    std::thread signal_thread([&ioc] { ioc.run(); });
    Status status = server.Wait();
    beast::error_code ec;
    signals.cancel(ec);
    hangup.cancel(ec);
    ioc.stop();
    signal_thread.join();
    return status;
}

}  // namespace signalhub::server
