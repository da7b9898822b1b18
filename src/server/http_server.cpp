#include "server/http_server.hpp"

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

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Json = nlohmann::json;
using SteadyDuration = std::chrono::steady_clock::duration;
using TlsContext = net::ssl::context;

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

constexpr std::size_t kPipelineLimit = 8;          // requests read ahead of their responses, per connection
constexpr std::size_t kLingerBytes = 1 << 20;      // discarded after we close our side
constexpr std::chrono::seconds kLingerTime{2};     // how long a closing connection waits for the client's FIN
constexpr int kMaxRefusing = 64;                   // refused connections being answered 503 at once
constexpr std::string_view kKeepalive = ": keepalive\n\n";

SteadyDuration Seconds(double s) {
    s = std::clamp(s, 0.0, 1e7);  // ~115 days: far beyond any sane setting, far from overflow
    return std::chrono::duration_cast<SteadyDuration>(std::chrono::duration<double>(s));
}

// Beast 1.74 takes boost::string_view.
beast::string_view Bsv(std::string_view s) { return {s.data(), s.size()}; }

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

void AddHeaders(HttpResponse& res, const std::vector<std::pair<std::string, std::string>>& headers) {
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

HttpResponse MethodNotAllowed(const HttpRequest& req, std::string_view allow) {
    HttpResponse res = ErrorResponse(req, http::status::method_not_allowed,
                                     "method " + std::string(Sv(req.method_string())) + " not allowed (allowed: " +
                                         std::string(allow) + ")");
    res.set(http::field::allow, Bsv(allow));
    return res;
}

bool IsHttpParseError(const beast::error_code& ec) {
    return ec.category() == http::make_error_code(http::error::bad_method).category() &&
           ec != http::error::partial_message && ec != http::error::end_of_stream;
}

// Half-closes our side (plain TCP; TLS sends close_notify instead, see
// HttpConnection::GracefulClose).
void ShutdownSend(beast::tcp_stream& stream) {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

// ---------------------------------------------------------------------------
// One client connection: reads requests (limits, timeouts, capped
// pipelining), hands them to McpEndpoint (on the worker pool when they may
// block), writes the responses in order; or turns into a GET /mcp SSE stream.
// Every member function runs on the connection's strand, except the
// thread-safe NotifyShutdown/EndStream which post there. Generic over the
// stream so a TLS stream (ssl_stream<tcp_stream>) can use the same code.

template <class Stream>
class HttpConnection final : public ConnectionBase,
                             public SessionStream,
                             public std::enable_shared_from_this<HttpConnection<Stream>> {
    static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

   public:
    // `tls` is the context `stream` was made with (TLS only): the connection
    // keeps it for its lifetime, whatever ReloadTls() installs meanwhile.
    HttpConnection(Stream&& stream, std::shared_ptr<Shared> shared, WorkerPool& pool,
                   std::shared_ptr<TlsContext> tls = nullptr)
        : tls_(std::move(tls)),
          stream_(std::move(stream)),
          shared_(std::move(shared)),
          pool_(pool),
          read_timer_(stream_.get_executor()),
          sse_timer_(stream_.get_executor()) {}

    ~HttpConnection() override {
        if (sse_active_) shared_->counters.streams_active.fetch_sub(1);
        shared_->counters.requests_in_progress.fetch_sub(queue_.size());
        if (id_ != 0) shared_->Unregister(id_);
    }

    void Start() {
        beast::error_code ec;
        const tcp::endpoint peer = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
        if (!ec) {
            const net::ip::address a = peer.address();
            remote_ = a.is_v6() && !a.to_v6().is_v4_mapped() ? "[" + a.to_string() + "]"
                      : a.is_v6()                            ? net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).to_string()
                                                             : a.to_string();
        }
        id_ = shared_->Register(this->weak_from_this());
        net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
            if constexpr (kTls) {
                self->DoHandshake();
            } else {
                self->DoRead();
            }
        });
    }

    void NotifyShutdown() override {
        net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->OnShutdown(); });
    }

    void EndStream() override {
        net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->EndSse(); });
    }

    void Abandon() override { hold_.reset(); }

   private:
    enum class SlotKind { kResponse, kStream };
    // A request read, in order, and its response once ready.
    struct Slot {
        HttpRoute route = HttpRoute::kOther;
        SlotKind kind = SlotKind::kResponse;
        bool ready = false;
        HttpResponse res;
        std::string session_id;  // kStream
        std::string cors_origin;  // Access-Control-Allow-Origin for the response ("" = none)
        unsigned version = 11;   // kStream
        // For HttpOptions::on_request:
        std::chrono::steady_clock::time_point read_at{};
        std::string method;
        std::string target;
        // Written by the worker running the request before its result is
        // posted back to the strand (so read after OnWorkerDone).
        std::shared_ptr<std::string> key_id;
        std::string request_id;  // X-Request-Id of the response
        // /mcp requests, with tracing on: the server span, ended when the response is written.
        telemetry::Span span;
    };

    const HttpOptions& options() const { return shared_->options; }
    auto& lowest() { return beast::get_lowest_layer(stream_); }

    // ---- TLS handshake ---------------------------------------------------

    void DoHandshake() {
        if constexpr (kTls) {
            if (shared_->shutting_down.load()) {
                Close();
                return;
            }
            handshaking_ = true;
            lowest().expires_after(Seconds(options().request_timeout_seconds));
            stream_.async_handshake(net::ssl::stream_base::server,
                                    [self = this->shared_from_this()](beast::error_code ec) { self->OnHandshake(ec); });
        }
    }

    void OnHandshake(beast::error_code ec) {
        handshaking_ = false;
        if (ec || closed_) {  // timeout, a refused protocol/cipher/client certificate, or the client left
            if (ec && !closed_) shared_->counters.tls_handshakes_failed.fetch_add(1);
            Close();
            return;
        }
        DoRead();
    }

    // ---- reading ---------------------------------------------------------

    void DoRead() {
        if (closing_ || read_done_ || reading_) return;
        if (shared_->shutting_down.load() && buffer_.size() == 0) {  // accept no new request
            read_done_ = true;
            MaybeFinish();
            return;
        }
        if (queue_.size() >= kPipelineLimit) return;  // OnWrite resumes
        parser_.emplace();
        parser_->header_limit(kHeaderLimit);
        parser_->body_limit(options().max_body_bytes);
        reading_ = true;
        ArmReadTimer();
        lowest().expires_never();  // our own timer decides (it knows whether we owe responses)
        http::async_read(stream_, buffer_, *parser_,
                         beast::bind_front_handler(&HttpConnection::OnRead, this->shared_from_this()));
    }

    bool PartialRequest() const {
        return buffer_.size() > 0 || (reading_ && parser_ && parser_->got_some());
    }

    void ArmReadTimer() {
        read_timer_.expires_after(Seconds(options().request_timeout_seconds));
        read_timer_.async_wait([self = this->shared_from_this(), gen = read_gen_](beast::error_code ec) {
            if (!ec) self->OnReadTimer(gen);
        });
    }

    void OnReadTimer(std::uint64_t gen) {
        if (gen != read_gen_ || !reading_ || closing_ || timed_out_) return;
        if (!PartialRequest()) {
            if (!queue_.empty() || writing_) {  // the client waits for us: not idle
                ArmReadTimer();
                return;
            }
            GracefulClose();  // keep-alive idle limit
            return;
        }
        // A request that did not arrive in time: 408, then close. The pending
        // read stays; its result is ignored.
        timed_out_ = true;
        read_done_ = true;
        PushReady(HttpRoute::kOther,
                  ErrorResponse(http::status::request_timeout, "the request did not arrive within " +
                                                                   FormatSeconds(options().request_timeout_seconds)));
        MaybeWrite();
    }

    static std::string FormatSeconds(double s) {
        std::string text = std::to_string(s);
        text.erase(text.find_last_not_of('0') + 1);
        if (!text.empty() && text.back() == '.') text.pop_back();
        return text + " s";
    }

    void OnRead(beast::error_code ec, std::size_t bytes) {
        reading_ = false;
        ++read_gen_;
        shared_->counters.bytes_received.fetch_add(bytes);
        if (ec) peer_done_ = true;  // never read again after an error (a read after EOF may never complete)
        if (kTls && closing_) {  // GracefulClose cancelled this read to send close_notify
            ContinueTlsClose(ec);
            return;
        }
        if (closing_) {  // read_timer_ is the linger deadline now: keep it
            if (peer_done_) {
                Close();
            } else {
                StartDrain();
            }
            return;
        }
        read_timer_.cancel();
        if (timed_out_) {  // answered 408 already
            MaybeFinish();
            return;
        }
        if (ec == http::error::end_of_stream) {  // the client closed between requests
            read_done_ = true;
            MaybeFinish();
            return;
        }
        if (ec == http::error::body_limit) {
            read_done_ = true;
            PushReady(HttpRoute::kOther,
                      ErrorResponse(http::status::payload_too_large,
                                    "the body exceeds " + std::to_string(options().max_body_bytes) + " bytes"));
            MaybeWrite();
            return;
        }
        if (ec == http::error::header_limit) {
            read_done_ = true;
            PushReady(HttpRoute::kOther, ErrorResponse(http::status::request_header_fields_too_large,
                                                       "the request headers exceed " + std::to_string(kHeaderLimit) +
                                                           " bytes"));
            MaybeWrite();
            return;
        }
        if (ec && IsHttpParseError(ec)) {
            read_done_ = true;
            PushReady(HttpRoute::kOther, ErrorResponse(http::status::bad_request, "malformed HTTP request: " + ec.message()));
            MaybeWrite();
            return;
        }
        if (ec) {  // reset, or the client left mid-request: nobody to answer
            Close();
            return;
        }
        HandleRequest(parser_->release());
        DoRead();
    }

    // ---- routing ---------------------------------------------------------

    std::uint64_t NewSlot(HttpRoute route) {
        queue_.push_back(Slot{});
        queue_.back().route = route;
        if (options().on_request) queue_.back().read_at = std::chrono::steady_clock::now();
        shared_->counters.requests_in_progress.fetch_add(1);
        return front_seq_ + queue_.size() - 1;
    }

    void PushReady(HttpRoute route, HttpResponse res) {
        NewSlot(route);
        queue_.back().res = std::move(res);
        queue_.back().ready = true;
    }

    void HandleRequest(HttpRequest req) {
        if (!req.keep_alive()) read_done_ = true;
        std::string_view target = Sv(req.target());
        const std::string_view path = target.substr(0, target.find('?'));
        const http::verb method = req.method();
        HttpRoute route = HttpRoute::kOther;
        if (path == "/mcp") {
            if (method == http::verb::post) route = HttpRoute::kMcpPost;
            if (method == http::verb::get) route = HttpRoute::kMcpGet;
            if (method == http::verb::delete_) route = HttpRoute::kMcpDelete;
        } else if (path == "/health" && method == http::verb::get) {
            route = HttpRoute::kHealth;
        } else if (path == "/ready" && method == http::verb::get) {
            route = HttpRoute::kReady;
        }
        const std::uint64_t seq = NewSlot(route);
        SlotFor(seq).cors_origin = CorsOrigin(req, options().allowed_origins);
        {
            auto incoming = req.find("X-Request-Id");
            SlotFor(seq).request_id =
                telemetry::AcceptRequestId(incoming == req.end() ? std::string_view() : Sv(incoming->value()));
        }
        if (options().on_request) {
            SlotFor(seq).method = std::string(Sv(req.method_string()));
            SlotFor(seq).target = std::string(target.substr(0, 2048));
        }
        auto key_id = std::make_shared<std::string>();
        SlotFor(seq).key_id = key_id;
        if (path == "/mcp" && telemetry::TracingEnabled()) StartSpan(SlotFor(seq), req);

        auto origin = req.find(http::field::origin);
        if (origin != req.end() && !OriginAllowed(Sv(origin->value()), options().allowed_origins)) {
            Complete(seq, ErrorResponse(req, http::status::forbidden,
                                        "origin '" + std::string(Sv(origin->value())) + "' is not allowed"));
            return;
        }
        if (auto preflight = CorsPreflight(req, options().allowed_origins)) {
            Complete(seq, std::move(*preflight));
            return;
        }
        switch (route) {
            case HttpRoute::kHealth:
                Complete(seq, JsonResponse(req, http::status::ok, Json{{"status", "ok"}}));
                return;
            case HttpRoute::kReady:
                if (shared_->shutting_down.load()) {
                    Complete(seq, JsonResponse(req, http::status::service_unavailable,
                                               Json{{"status", "unavailable"}, {"reason", "shutting down"}}));
                    return;
                }
                RunOnWorker(seq, [shared = shared_, req = std::move(req)] {
                    if (shared->shutting_down.load())  // it waited for a worker while the shutdown began
                        return JsonResponse(req, http::status::service_unavailable,
                                            Json{{"status", "unavailable"}, {"reason", "shutting down"}});
                    Status status = shared->ready ? shared->ready() : Status::Ok();
                    if (status.ok()) return JsonResponse(req, http::status::ok, Json{{"status", "ready"}});
                    return JsonResponse(req, http::status::service_unavailable,
                                        Json{{"status", "unavailable"}, {"reason", status.message()}});
                });
                return;
            case HttpRoute::kMcpPost:
                RunOnWorker(seq, [shared = shared_, remote = remote_, key_id, req = std::move(req)] {
                    return Guarded(*shared, req, remote, *key_id,
                                   [&](const mcp::Caller& caller) { return shared->endpoint.Post(req, caller); });
                });
                return;
            case HttpRoute::kMcpDelete:
                RunOnWorker(seq, [shared = shared_, remote = remote_, key_id, req = std::move(req)] {
                    return Guarded(*shared, req, remote, *key_id,
                                   [&](const mcp::Caller& caller) { return shared->endpoint.Delete(req, caller); });
                });
                return;
            case HttpRoute::kMcpGet: {
                // Authenticated here, on the I/O thread: a stream opens once per session.
                GuardDecision decision = shared_->Admit(req, remote_);
                if (!decision.refusal) *key_id = decision.caller.id;
                if (decision.refusal) {
                    AddHeaders(*decision.refusal, decision.headers);
                    Complete(seq, std::move(*decision.refusal));
                    return;
                }
                auto checked = shared_->endpoint.CheckStream(req, decision.caller);
                if (auto* refused = std::get_if<HttpResponse>(&checked)) {
                    Complete(seq, std::move(*refused));
                    return;
                }
                // The connection becomes the stream: no further requests on it.
                read_done_ = true;
                Slot& slot = SlotFor(seq);
                slot.kind = SlotKind::kStream;
                slot.session_id = std::get<std::string>(checked);
                slot.version = req.version();
                slot.ready = true;
                MaybeWrite();
                return;
            }
            case HttpRoute::kOther:
                break;
        }
        if (path == "/mcp") {
            Complete(seq, MethodNotAllowed(req, "GET, POST, DELETE"));
        } else if (path == "/health" || path == "/ready") {
            Complete(seq, MethodNotAllowed(req, "GET"));
        } else {
            Complete(seq, ErrorResponse(req, http::status::not_found, "no such endpoint: " + std::string(path)));
        }
    }

    // The server span of an /mcp request: a child of the caller's traceparent, else a new trace
    // (docs/production/monitoring/tracing.md lists its attributes).
    void StartSpan(Slot& slot, const HttpRequest& req) {
        std::optional<telemetry::SpanContext> parent;
        if (auto header = req.find("traceparent"); header != req.end()) {
            parent = telemetry::ParseTraceparent(Sv(header->value()));
            if (auto state = req.find("tracestate"); parent && state != req.end())
                parent->trace_state = telemetry::AcceptTracestate(Sv(state->value()));
        }
        const std::string method(Sv(req.method_string()));
        slot.span = telemetry::Span::Server(method + " /mcp", parent);
        if (!slot.span.recording()) return;
        telemetry::Span& span = slot.span;
        span.SetAttribute("http.request.method", method);
        span.SetAttribute("http.route", "/mcp");
        span.SetAttribute("url.path", "/mcp");
        span.SetAttribute("url.scheme", kTls ? "https" : "http");
        span.SetAttribute("network.protocol.version", req.version() == 10 ? "1.0" : "1.1");
        span.SetAttribute("client.address", remote_);
        span.SetAttribute("signal_hub.request_id", slot.request_id);
        if (auto agent = req.find(http::field::user_agent); agent != req.end())
            span.SetAttribute("user_agent.original", Sv(agent->value()).substr(0, 256));
        if (auto session = req.find("Mcp-Session-Id"); session != req.end())
            span.SetAttribute("mcp.session.id", Sv(session->value()).substr(0, 128));
    }

    // Runs `work` (returning the HttpResponse) on the worker pool; the result
    // comes back to this strand unless the connection or the server is gone.
    // The work runs under the slot's span context (when it has one).
    template <class Work>
    void RunOnWorker(std::uint64_t seq, Work work) {
        std::weak_ptr<HttpConnection> weak = this->weak_from_this();
        const bool posted = pool_.Post([shared = shared_, weak, seq, trace = SlotFor(seq).span.context(),
                                        work = std::move(work)]() mutable {
            HttpResponse res;
            try {
                std::optional<telemetry::ScopedContext> scope;
                if (trace.valid()) scope.emplace(trace);
                res = work();
            } catch (const std::exception& e) {
                res = ErrorResponse(http::status::internal_server_error, std::string("internal error: ") + e.what());
            }
            // Under the gate the I/O side is alive, so taking and dropping a
            // reference to the connection is safe here.
            shared->gate.Run([&] {
                if (auto self = weak.lock()) {
                    net::post(self->stream_.get_executor(),
                              [self, seq, res = std::move(res)]() mutable { self->OnWorkerDone(seq, std::move(res)); });
                }
            });
        });
        if (!posted) {
            Complete(seq, ErrorResponse(http::status::service_unavailable, "the server is shutting down"));
            return;
        }
        // The worker holds only a weak reference (it must never destroy the
        // connection off the I/O side). When nothing else is pending on the
        // connection (no read: the request said Connection: close, or the
        // pipeline is full), this keeps it alive until the result is back.
        ++on_workers_;
        if (!hold_) hold_ = this->shared_from_this();
    }

    void OnWorkerDone(std::uint64_t seq, HttpResponse res) {
        // The posted handler holds a reference too, so dropping hold_ here
        // never destroys the connection inside this call.
        if (--on_workers_ == 0) hold_.reset();
        Complete(seq, std::move(res));
    }

    Slot& SlotFor(std::uint64_t seq) { return queue_[static_cast<std::size_t>(seq - front_seq_)]; }

    void Complete(std::uint64_t seq, HttpResponse res) {
        if (seq < front_seq_ || seq >= front_seq_ + queue_.size()) return;  // dropped (connection closed)
        Slot& slot = SlotFor(seq);
        slot.res = std::move(res);
        slot.ready = true;
        MaybeWrite();
    }

    // ---- writing ---------------------------------------------------------

    void MaybeWrite() {
        if (writing_ || closing_ || queue_.empty() || !queue_.front().ready) return;
        Slot& slot = queue_.front();
        if (slot.kind == SlotKind::kStream) {
            StartStream();
            return;
        }
        // During shutdown the last response announces the close.
        if (shared_->shutting_down.load() && queue_.size() == 1 && (read_done_ || !PartialRequest()))
            slot.res.keep_alive(false);
        FinalizeResponse(slot.res, slot.cors_origin);
        if (!slot.request_id.empty()) slot.res.set("X-Request-Id", slot.request_id);
        if (!shared_->hsts.empty()) slot.res.set(http::field::strict_transport_security, shared_->hsts);
        writing_ = true;
        lowest().expires_after(Seconds(options().request_timeout_seconds));  // a client that stops reading
        http::async_write(stream_, slot.res,
                          beast::bind_front_handler(&HttpConnection::OnWrite, this->shared_from_this()));
    }

    void PopFront(unsigned status) {
        shared_->counters.CountResponse(queue_.front().route, status);
        std::string trace_id;
        if (telemetry::Span& span = queue_.front().span; span.context().valid()) {
            trace_id = span.context().trace_id.Hex();
            span.SetAttribute("http.response.status_code", static_cast<std::int64_t>(status));
            if (queue_.front().key_id && !queue_.front().key_id->empty())
                span.SetAttribute("signal_hub.key_id", *queue_.front().key_id);
            if (status >= 500) span.SetError("HTTP " + std::to_string(status));
            span.End();
        }
        if (options().on_request) {
            const Slot& slot = queue_.front();
            RequestEvent event;
            event.route = slot.route;
            event.method = slot.method;
            event.target = slot.target;
            event.status = status;
            event.duration_seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - slot.read_at).count();
            event.remote = remote_;
            if (slot.key_id) event.key_id = *slot.key_id;
            event.request_id = slot.request_id;
            event.trace_id = trace_id;
            if (slot.kind != SlotKind::kStream) event.body_bytes = slot.res.body().size();
            options().on_request(event);
        }
        shared_->counters.requests_in_progress.fetch_sub(1);
        queue_.pop_front();
        ++front_seq_;
    }

    void OnWrite(beast::error_code ec, std::size_t bytes) {
        writing_ = false;
        shared_->counters.bytes_sent.fetch_add(bytes);
        const bool keep_alive = !queue_.front().res.need_eof();
        PopFront(queue_.front().res.result_int());
        if (ec || closed_) {
            Close();
            return;
        }
        if (!keep_alive) {
            GracefulClose();
            return;
        }
        if (shared_->shutting_down.load() && queue_.empty() && !PartialRequest()) {
            GracefulClose();
            return;
        }
        if (reading_ && queue_.empty() && !PartialRequest()) ArmReadTimer();  // idle from now on
        if (!reading_) DoRead();  // resumes a pipeline that was full
        MaybeWrite();
        MaybeFinish();
    }

    // ---- GET /mcp stream -------------------------------------------------

    void StartStream() {
        Slot& slot = queue_.front();
        HttpRequest req{http::verb::get, "/mcp", slot.version};
        req.keep_alive(false);
        if (shared_->shutting_down.load()) {
            slot.kind = SlotKind::kResponse;
            slot.res = ErrorResponse(req, http::status::service_unavailable, "the server is shutting down");
            MaybeWrite();
            return;
        }
        if (!shared_->sessions.AttachStream(slot.session_id, this->weak_from_this())) {
            slot.kind = SlotKind::kResponse;
            slot.res = ErrorResponse(req, http::status::not_found, "unknown or expired MCP session");
            MaybeWrite();
            return;
        }
        sse_active_ = true;
        shared_->counters.streams_active.fetch_add(1);
        sse_res_.emplace(http::status::ok, slot.version);
        sse_res_->set(http::field::server, "signal-hub");
        sse_res_->set(http::field::content_type, "text/event-stream");
        sse_res_->set(http::field::cache_control, "no-cache");
        sse_res_->set("X-Accel-Buffering", "no");  // proxies must not buffer the stream
        if (!shared_->hsts.empty()) sse_res_->set(http::field::strict_transport_security, shared_->hsts);
        sse_res_->keep_alive(false);
        sse_res_->chunked(true);
        FinalizeResponse(*sse_res_, slot.cors_origin);
        sse_sr_.emplace(*sse_res_);
        writing_ = true;
        lowest().expires_after(Seconds(options().request_timeout_seconds));
        http::async_write_header(stream_, *sse_sr_,
                                 beast::bind_front_handler(&HttpConnection::OnStreamHeader, this->shared_from_this()));
    }

    void OnStreamHeader(beast::error_code ec, std::size_t bytes) {
        writing_ = false;
        shared_->counters.bytes_sent.fetch_add(bytes);
        PopFront(200);
        if (ec || closed_) {
            Close();
            return;
        }
        if (sse_end_requested_) {
            WriteLastChunk();
            return;
        }
        StartDrain();  // notices the client going away
        ArmKeepalive();
    }

    void ArmKeepalive() {
        sse_timer_.expires_after(Seconds(options().sse_keepalive_seconds));
        sse_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
            if (!ec) self->OnKeepalive();
        });
    }

    void OnKeepalive() {
        if (!sse_active_ || closing_ || sse_end_requested_ || writing_) return;
        writing_ = true;
        lowest().expires_after(Seconds(options().request_timeout_seconds));
        net::async_write(stream_, http::make_chunk(net::const_buffer(kKeepalive.data(), kKeepalive.size())),
                         [self = this->shared_from_this()](beast::error_code ec, std::size_t bytes) {
                             self->writing_ = false;
                             self->shared_->counters.bytes_sent.fetch_add(bytes);
                             if (ec || self->closed_) {
                                 self->Close();
                             } else if (self->sse_end_requested_) {
                                 self->WriteLastChunk();
                             } else {
                                 self->ArmKeepalive();
                             }
                         });
    }

    // Session deleted or expired, or the server shuts down.
    void EndSse() {
        if (!sse_active_ || closing_ || sse_end_requested_) return;
        sse_end_requested_ = true;
        sse_timer_.cancel();
        if (!writing_) WriteLastChunk();
    }

    void WriteLastChunk() {
        sse_timer_.cancel();
        writing_ = true;
        lowest().expires_after(Seconds(options().request_timeout_seconds));
        net::async_write(stream_, http::make_chunk_last(),
                         [self = this->shared_from_this()](beast::error_code ec, std::size_t bytes) {
                             self->writing_ = false;
                             self->shared_->counters.bytes_sent.fetch_add(bytes);
                             self->EndStreamCount();
                             if (ec || self->closed_) {
                                 self->Close();
                             } else {
                                 self->GracefulClose();
                             }
                         });
    }

    void EndStreamCount() {
        if (!sse_active_) return;
        sse_active_ = false;
        shared_->counters.streams_active.fetch_sub(1);
    }

    // ---- shutdown and closing -------------------------------------------

    void OnShutdown() {
        if (closing_) return;
        if (handshaking_) {  // no request yet: nothing to answer
            Close();
            return;
        }
        if (sse_active_) {
            EndSse();
            return;
        }
        // Idle keep-alive connection: close now. Otherwise what was read (or is
        // being read) is answered first; OnWrite closes after the last one.
        if (queue_.empty() && !writing_ && !PartialRequest()) GracefulClose();
    }

    void MaybeFinish() {
        if (closing_ || reading_ || writing_ || !queue_.empty() || sse_active_ || !read_done_) return;
        GracefulClose();
    }

    // Closes our side after the last response, then reads and discards what
    // the client still sends until it closes too (bounded in time and bytes),
    // so the close does not reset the connection under an unread response.
    void GracefulClose() {
        if (closing_) return;
        closing_ = true;
        read_done_ = true;
        sse_timer_.cancel();
        EndStreamCount();
        DropQueue();
        if constexpr (kTls) {
            TlsGracefulClose();
            return;
        }
        ShutdownSend(lowest());  // plain TCP (the TLS branch returned above)
        if (peer_done_) {  // the client closed its side already: nothing to wait for
            Close();
            return;
        }
        read_timer_.expires_after(std::min<SteadyDuration>(kLingerTime, Seconds(options().request_timeout_seconds)));
        read_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
            if (!ec) self->Close();
        });
        if (!reading_) StartDrain();  // a pending read drains when it completes (OnRead)
    }

    // TLS: sends close_notify (async_shutdown), which also waits for the
    // client's close_notify or EOF, bounded by the linger deadline. A read in
    // progress is cancelled first (an SSL stream runs one read at a time);
    // its handler continues here (ContinueTlsClose).
    void TlsGracefulClose() {
        if (peer_done_) {
            Close();
            return;
        }
        read_timer_.expires_after(std::min<SteadyDuration>(kLingerTime, Seconds(options().request_timeout_seconds)));
        read_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
            if (!ec) self->Close();
        });
        if (reading_ || draining_) {
            beast::error_code ignored;
            lowest().socket().cancel(ignored);
            return;
        }
        StartTlsShutdown();
    }

    void ContinueTlsClose(beast::error_code ec) {
        if (closed_) return;
        if (ec && ec != net::error::operation_aborted) {  // the client is gone
            Close();
            return;
        }
        if (reading_ || draining_) return;  // the other one completes later
        StartTlsShutdown();
    }

    void StartTlsShutdown() {
        if constexpr (kTls) {
            if (closed_ || tls_shutdown_started_) return;
            tls_shutdown_started_ = true;
            lowest().expires_never();  // read_timer_ is the deadline
            stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->Close(); });
        }
    }

    void StartDrain() {
        if (closed_ || draining_ || peer_done_) return;
        draining_ = true;
        lowest().expires_never();
        stream_.async_read_some(net::buffer(drain_buffer_),
                                [self = this->shared_from_this()](beast::error_code ec, std::size_t bytes) {
                                    self->OnDrain(ec, bytes);
                                });
    }

    void OnDrain(beast::error_code ec, std::size_t bytes) {
        draining_ = false;
        drained_ += bytes;
        if (ec) peer_done_ = true;
        shared_->counters.bytes_received.fetch_add(bytes);
        if (kTls && closing_) {
            ContinueTlsClose(ec);
            return;
        }
        if (ec || closed_ || drained_ > kLingerBytes) {
            Close();  // the client went away (or floods us)
            return;
        }
        StartDrain();
    }

    // Requests that will never be answered.
    void DropQueue() {
        const std::size_t keep = writing_ && !queue_.empty() ? 1 : 0;  // being written
        while (queue_.size() > keep) {
            queue_.pop_back();
            shared_->counters.requests_in_progress.fetch_sub(1);
        }
    }

    void Close() {
        if (closed_) return;
        closed_ = true;
        closing_ = true;
        read_done_ = true;
        read_timer_.cancel();
        sse_timer_.cancel();
        EndStreamCount();
        DropQueue();
        beast::error_code ec;
        lowest().socket().close(ec);
    }

    const std::shared_ptr<TlsContext> tls_;  // declared before stream_, which uses it
    Stream stream_;
    const std::shared_ptr<Shared> shared_;
    WorkerPool& pool_;
    std::uint64_t id_ = 0;
    std::string remote_;  // the client's address, for the guard and the audit log
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    net::steady_timer read_timer_;  // request/idle deadline, then linger deadline
    net::steady_timer sse_timer_;   // keepalive comments
    std::uint64_t read_gen_ = 0;    // tells a stale timer from the current read's
    std::deque<Slot> queue_;        // requests read, answered in this order
    std::size_t on_workers_ = 0;    // requests of this connection on the worker pool
    std::shared_ptr<HttpConnection> hold_;  // self, while on_workers_ > 0 (see RunOnWorker)
    std::uint64_t front_seq_ = 0;   // sequence number of queue_.front()
    bool reading_ = false;
    bool writing_ = false;
    bool read_done_ = false;  // no further request will be read
    bool timed_out_ = false;
    bool closing_ = false;    // our side is shut (or shutting)
    bool closed_ = false;     // socket closed
    bool draining_ = false;
    bool peer_done_ = false;  // a read failed or hit EOF: the client sends nothing more
    bool handshaking_ = false;          // TLS handshake in progress
    bool tls_shutdown_started_ = false; // close_notify sent (or being sent)
    std::size_t drained_ = 0;
    std::array<char, 4096> drain_buffer_{};
    bool sse_active_ = false;
    bool sse_end_requested_ = false;
    std::optional<http::response<http::empty_body>> sse_res_;
    std::optional<http::response_serializer<http::empty_body>> sse_sr_;
};

using PlainConnection = HttpConnection<beast::tcp_stream>;
using TlsConnection = HttpConnection<beast::ssl_stream<beast::tcp_stream>>;

// A connection over max_connections: answered 503 and closed, without
// reading its request (it is drained briefly so the close does not reset it).
class Refusal : public std::enable_shared_from_this<Refusal> {
   public:
    Refusal(tcp::socket&& socket, std::shared_ptr<Shared> shared)
        : stream_(std::move(socket)),
          shared_(std::move(shared)),
          res_(ErrorResponse(http::status::service_unavailable, "too many connections")) {
        FinalizeResponse(res_, "");
        shared_->refusing.fetch_add(1);
    }
    ~Refusal() { shared_->refusing.fetch_sub(1); }

    void Start() {
        stream_.expires_after(kLingerTime);
        http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return;
            ShutdownSend(self->stream_);
            self->Drain();
        });
    }

   private:
    void Drain() {
        stream_.async_read_some(net::buffer(buffer_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
            self->drained_ += n;
            if (!ec && self->drained_ < kLingerBytes) self->Drain();
        });
    }

    beast::tcp_stream stream_;
    const std::shared_ptr<Shared> shared_;
    HttpResponse res_;
    std::array<char, 4096> buffer_{};
    std::size_t drained_ = 0;
};

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
          pool(shared->options.workers),
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
                std::make_shared<TlsConnection>(std::move(stream), shared, pool, std::move(tls))->Start();
            } else {
                std::make_shared<PlainConnection>(beast::tcp_stream(std::move(socket)), shared, pool)->Start();
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
        const std::size_t handlers = pool.Shutdown(deadline);
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
    WorkerPool pool;  // destroyed after ioc (connections hold a reference)
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
