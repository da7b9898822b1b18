#pragma once
// Internal to HttpServer (http_server.cpp): one client connection
// (HttpConnection, plain or TLS) and the 503 answer to a connection over
// performance.max_connections (Refusal). Not part of the server's interface.

#include "server/http_shared.hpp"

namespace signalhub::server::http_internal {

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
            // The first bytes decide: a TLS handshake record goes on to the handshake (with those
            // bytes), anything else is most likely plain HTTP, which gets a 400 saying to use https.
            lowest().async_read_some(net::buffer(drain_buffer_),
                                     [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                                         self->OnFirstBytes(ec, n);
                                     });
        }
    }

    void OnFirstBytes(beast::error_code ec, std::size_t n) {
        if constexpr (kTls) {
            if (ec || closed_ || n == 0) {  // as a failed handshake: timeout, or the client left
                OnHandshake(ec ? ec : beast::error_code(net::error::eof));
                return;
            }
            if (!StartsTlsHandshake(static_cast<unsigned char>(drain_buffer_[0]))) {
                AnswerPlainHttp(n);
                return;
            }
            // drain_buffer_ is not used otherwise before the connection closes.
            stream_.async_handshake(net::ssl::stream_base::server, net::buffer(drain_buffer_.data(), n),
                                    [self = this->shared_from_this()](beast::error_code e, std::size_t) {
                                        self->OnHandshake(e);
                                    });
        }
    }

    // Plain HTTP on the TLS port: a 400 naming the https:// URL, then close (after reading what the
    // client still sends, so that the close does not reset the connection before it reads the answer).
    void AnswerPlainHttp(std::size_t n) {
        shared_->counters.tls_handshakes_failed.fetch_add(1);
        beast::error_code ec;
        const tcp::endpoint local = lowest().socket().local_endpoint(ec);
        std::string authority = "localhost";
        if (!ec) {
            const net::ip::address a = local.address();
            authority = (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(local.port());
        }
        plain_reply_ = PlainHttpOnTlsPortResponse(std::string_view(drain_buffer_.data(), n), authority);
        lowest().expires_after(kLingerTime);
        net::async_write(lowest().socket(), net::buffer(plain_reply_),
                         [self = this->shared_from_this()](beast::error_code e, std::size_t) {
                             if (e || self->closed_) {
                                 self->Close();
                                 return;
                             }
                             beast::error_code ignored;
                             self->lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
                             self->DrainPlain();
                         });
    }

    void DrainPlain() {
        lowest().async_read_some(net::buffer(drain_buffer_),
                                 [self = this->shared_from_this()](beast::error_code e, std::size_t n) {
                                     self->drained_ += n;
                                     if (e || self->closed_ || self->drained_ >= kLingerBytes) {
                                         self->handshaking_ = false;
                                         self->Close();
                                         return;
                                     }
                                     self->DrainPlain();
                                 });
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
            // The id the response carries, also for the guard (its audit records name the request).
            req.set("X-Request-Id", SlotFor(seq).request_id);
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
    std::array<char, 4096> drain_buffer_{};  // also TLS: the first bytes read, before the handshake
    std::string plain_reply_;                 // TLS: the 400 for plain HTTP on this port
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

}  // namespace signalhub::server::http_internal
