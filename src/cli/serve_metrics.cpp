#include "cli/serve_metrics.hpp"

#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>

#include "telemetry/process_metrics.hpp"

namespace signalhub::cli {

namespace {

using telemetry::MetricType;
using telemetry::Sample;

double Elapsed(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string_view RouteLabel(server::HttpRoute route) {
    switch (route) {
        case server::HttpRoute::kMcpPost:
        case server::HttpRoute::kMcpGet:
        case server::HttpRoute::kMcpDelete: return "mcp";
        case server::HttpRoute::kHealth: return "health";
        case server::HttpRoute::kReady: return "ready";
        case server::HttpRoute::kOther: return "other";
    }
    return "other";
}

// HTTP verbs as label values: the common ones, everything else "other".
std::string_view MethodLabel(std::string_view method) {
    for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
        if (method == known) return known;
    }
    return "other";
}

std::string StatusLabel(unsigned status) {
    return status >= 100 && status <= 599 ? std::to_string(status) : std::string("other");
}

// notAfter (Unix seconds) of the first certificate in a PEM file.
std::optional<double> CertificateNotAfter(const std::string& pem_file) {
    std::FILE* f = std::fopen(pem_file.c_str(), "rb");
    if (!f) return std::nullopt;
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!cert) return std::nullopt;
    std::optional<double> out;
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) out = static_cast<double>(timegm(&tm));
    X509_free(cert);
    return out;
}

}  // namespace

// Counts and times every Embed call of the embedder it wraps.
class ServeMetrics::InstrumentedEmbedder final : public embed::Embedder {
   public:
    InstrumentedEmbedder(std::unique_ptr<embed::Embedder> inner, telemetry::Counter& ok, telemetry::Counter& error,
                         telemetry::Histogram& duration, telemetry::Counter& inputs)
        : inner_(std::move(inner)), ok_(ok), error_(error), duration_(duration), inputs_(inputs) {}
    const std::string& model() const override { return inner_->model(); }
    int dimension() const override { return inner_->dimension(); }
    DistanceMetric metric() const override { return inner_->metric(); }
    size_t batch_size() const override { return inner_->batch_size(); }
    std::optional<std::uint64_t> tokens_used() const override { return inner_->tokens_used(); }
    Result<std::vector<std::vector<float>>> Embed(std::span<const std::string> texts,
                                                  embed::Purpose purpose) override {
        const auto start = std::chrono::steady_clock::now();
        Result<std::vector<std::vector<float>>> out = inner_->Embed(texts, purpose);
        duration_.Observe(Elapsed(start));
        (out.ok() ? ok_ : error_).Inc();
        if (out.ok()) inputs_.Inc(static_cast<double>(texts.size()));
        return out;
    }

   private:
    std::unique_ptr<embed::Embedder> inner_;
    telemetry::Counter& ok_;
    telemetry::Counter& error_;
    telemetry::Histogram& duration_;
    telemetry::Counter& inputs_;
};

struct ServeMetrics::CollectionCache {
    store::VectorStore* store = nullptr;
    double max_age_seconds = 5;
    std::mutex mu;
    std::chrono::steady_clock::time_point taken{};
    bool valid = false;
    std::vector<CollectionInfo> collections;

    std::vector<CollectionInfo> Get() {
        std::lock_guard<std::mutex> lock(mu);
        const auto now = std::chrono::steady_clock::now();
        if (!valid || std::chrono::duration<double>(now - taken).count() >= max_age_seconds) {
            Result<std::vector<CollectionInfo>> listed = store->ListCollections();
            // A store that does not answer keeps the last values (the ready
            // gauge and the store's own monitoring say it is down).
            if (listed.ok()) collections = std::move(*listed);
            valid = true;
            taken = now;
        }
        return collections;
    }
};

struct ServeMetrics::PoolSources {
    std::mutex mu;
    std::vector<std::pair<std::string, std::function<std::optional<PoolStats>()>>> sources;

    // One sample per watched pool that reports now.
    template <class F>
    std::vector<Sample> Each(F sample) {
        std::lock_guard<std::mutex> lock(mu);
        std::vector<Sample> out;
        for (const auto& [pool, stats] : sources) {
            if (std::optional<PoolStats> s = stats()) sample(pool, *s, out);
        }
        return out;
    }
};

ServeMetrics::ServeMetrics(std::string backend, std::string provider)
    : backend_(std::move(backend)), provider_(std::move(provider)) {
    const std::vector<double>& buckets = telemetry::LatencyBuckets();
    registry_
        .AddGauge("signal_hub_build_info", "The running build (value 1).", {"version", "compiler"})
        .WithLabels({"0.1.0", "gcc " __VERSION__})
        .Set(1);
    ready_ = &registry_.AddGauge("signal_hub_ready", "1 when the last readiness check passed, else 0.");
    http_requests_ = &registry_.AddCounter("signal_hub_http_requests_total", "HTTP responses written.",
                                           {"route", "method", "status"});
    http_duration_ = &registry_.AddHistogram("signal_hub_http_request_duration_seconds",
                                             "From the request read to its response written.", {"route"}, buckets);
    mcp_requests_ = &registry_.AddCounter("signal_hub_mcp_requests_total", "JSON-RPC requests answered.",
                                          {"method", "outcome"});
    tool_calls_ = &registry_.AddCounter("signal_hub_mcp_tool_calls_total",
                                        "tools/call requests by tool; error is a JSON-RPC error or isError.",
                                        {"tool", "outcome"});
    tool_duration_ =
        &registry_.AddHistogram("signal_hub_mcp_tool_duration_seconds", "Tool call latency.", {"tool"}, buckets);
    search_duration_ = &registry_.AddHistogram("signal_hub_search_duration_seconds",
                                               "One search, embedding of the query included.", {"backend", "mode"},
                                               buckets);
    index_chunks_ = &registry_.AddCounter("signal_hub_index_chunks_total",
                                          "Chunks written by this process (serve --watch).", {"collection"});
    index_runs_ = &registry_.AddCounter("signal_hub_index_runs_total", "Index passes by this process (serve --watch).",
                                        {"collection", "outcome"});
    embedding_requests_ = &registry_.AddCounter("signal_hub_embedding_requests_total",
                                                "Calls to the embedding provider.", {"provider", "outcome"});
    embedding_duration_ = &registry_.AddHistogram("signal_hub_embedding_duration_seconds",
                                                  "One call to the embedding provider.", {"provider"}, buckets);
    embedding_inputs_ =
        &registry_.AddCounter("signal_hub_embedding_inputs_total", "Texts embedded.", {"provider"});
    rate_limit_decisions_ = &registry_.AddCounter("signal_hub_rate_limit_decisions_total", "Rate-limiter answers.",
                                                  {"scope", "decision"});
    auth_failures_ = &registry_.AddCounter("signal_hub_auth_failures_total", "Refused authentications.", {"reason"});
    auth_forbidden_ =
        &registry_.AddCounter("signal_hub_auth_forbidden_total", "403s for an authenticated key.", {"reason"});
    telemetry::AddProcessMetrics(registry_);

    // Known label values start at 0, so rate() and absent() behave from the first scrape.
    for (const char* reason :
         {"missing", "malformed", "unknown_key", "wrong_secret", "revoked", "expired", "store_unavailable"}) {
        auth_failures_->WithLabels({reason});
    }
    for (const char* reason : {"scope", "collection"}) auth_forbidden_->WithLabels({reason});
    for (const char* outcome : {"ok", "error"}) embedding_requests_->WithLabels({provider_, outcome});
    embedding_inputs_->WithLabels({provider_});
}

std::function<void(const server::RequestEvent&)> ServeMetrics::HttpObserver() {
    return [this](const server::RequestEvent& e) {
        const std::string_view route = RouteLabel(e.route);
        http_requests_->WithLabels({route, MethodLabel(e.method), StatusLabel(e.status)}).Inc();
        http_duration_->WithLabels({route}).Observe(e.duration_seconds);
    };
}

mcp::ServerObserver ServeMetrics::McpObserver() {
    mcp::ServerObserver observer;
    observer.on_request = [this](std::string_view method, bool ok) {
        mcp_requests_->WithLabels({method, ok ? "ok" : "error"}).Inc();
    };
    observer.on_tool_call = [this](std::string_view tool, bool ok, double seconds) {
        tool_calls_->WithLabels({tool, ok ? "ok" : "error"}).Inc();
        tool_duration_->WithLabels({tool}).Observe(seconds);
    };
    return observer;
}

server::GuardObserver ServeMetrics::GuardObserver() {
    server::GuardObserver observer;
    observer.on_auth_failure = [this](std::string_view reason) { auth_failures_->WithLabels({reason}).Inc(); };
    observer.on_forbidden = [this](std::string_view reason) { auth_forbidden_->WithLabels({reason}).Inc(); };
    observer.on_rate_limit = [this](std::string_view scope, bool allowed, bool) {
        rate_limit_decisions_->WithLabels({scope, allowed ? "allowed" : "limited"}).Inc();
    };
    return observer;
}

std::function<void(search::Mode, double)> ServeMetrics::SearchObserver() {
    return [this](search::Mode mode, double seconds) {
        search_duration_->WithLabels({backend_, search::ModeName(mode)}).Observe(seconds);
    };
}

std::unique_ptr<embed::Embedder> ServeMetrics::Instrument(std::unique_ptr<embed::Embedder> inner) {
    const embed::Embedder* reporter = inner.get();
    const bool reports_tokens = reporter->tokens_used().has_value();
    auto out = std::make_unique<InstrumentedEmbedder>(
        std::move(inner), embedding_requests_->WithLabels({provider_, "ok"}),
        embedding_requests_->WithLabels({provider_, "error"}), embedding_duration_->WithLabels({provider_}),
        embedding_inputs_->WithLabels({provider_}));
    if (reports_tokens) {
        registry_.AddCallback("signal_hub_embedding_tokens_total", "Tokens the embedding provider reported using.",
                              MetricType::kCounter, {"provider"},
                              [reporter, provider = provider_]() -> std::vector<Sample> {
                                  return {Sample{{provider}, static_cast<double>(reporter->tokens_used().value_or(0))}};
                              });
    }
    return out;
}

void ServeMetrics::CountIndexPass(const std::string& collection, const index::WatchPass& pass) {
    index_runs_->WithLabels({collection, pass.result.ok() ? "ok" : "error"}).Inc();
    if (pass.result.ok()) index_chunks_->WithLabels({collection}).Inc(static_cast<double>(pass.result->chunks_written));
}

void ServeMetrics::WatchHttpServer(const server::HttpServer* http) {
    auto one = [http](auto field) {
        return [http, field]() -> std::vector<Sample> {
            return {Sample{{}, static_cast<double>(field(http->stats()))}};
        };
    };
    registry_.AddCallback("signal_hub_http_requests_in_flight", "Requests read and not yet answered.",
                          MetricType::kGauge, {},
                          one([](const server::HttpStats& s) { return s.requests_in_progress; }));
    registry_.AddCallback("signal_hub_http_connections_active", "Open connections, streams included.",
                          MetricType::kGauge, {}, one([](const server::HttpStats& s) { return s.connections_active; }));
    registry_.AddCallback("signal_hub_http_connections_refused_total",
                          "Connections refused over server.max_connections.", MetricType::kCounter, {},
                          one([](const server::HttpStats& s) { return s.connections_refused; }));
    registry_.AddCallback("signal_hub_mcp_sessions_active", "Open MCP sessions.", MetricType::kGauge, {},
                          one([](const server::HttpStats& s) { return s.sessions_active; }));
    registry_.AddCallback("signal_hub_tls_handshake_failures_total",
                          "Failed TLS handshakes (timeouts and refused client certificates included).",
                          MetricType::kCounter, {},
                          one([](const server::HttpStats& s) { return s.tls_handshakes_failed; }));
}

void ServeMetrics::WatchTlsCertificate(std::string cert_file) {
    tls_cert_file_ = std::move(cert_file);
    tls_expiry_ = &registry_.AddGauge("signal_hub_tls_certificate_expiry_timestamp_seconds",
                                      "notAfter of the certificate being served (Unix time).");
    TlsReloaded();
}

void ServeMetrics::TlsReloaded() {
    if (!tls_expiry_) return;
    if (std::optional<double> not_after = CertificateNotAfter(tls_cert_file_)) tls_expiry_->Get().Set(*not_after);
}

void ServeMetrics::WatchCache(const search::QueryCache* cache, std::string backend) {
    registry_.AddCallback("signal_hub_cache_requests_total", "Query-result cache lookups.", MetricType::kCounter,
                          {"backend", "result"}, [cache, backend]() -> std::vector<Sample> {
                              const search::CacheStats s = cache->Stats();
                              return {Sample{{backend, "hit"}, static_cast<double>(s.hits)},
                                      Sample{{backend, "miss"}, static_cast<double>(s.misses)}};
                          });
}

void ServeMetrics::WatchRateLimiter(const security::RateLimiter* limiter, std::string fail_mode) {
    registry_.AddCallback("signal_hub_rate_limit_backend_errors_total",
                          "Rate-limit decisions made without the Redis backend.", MetricType::kCounter, {"fail_mode"},
                          [limiter, fail_mode]() -> std::vector<Sample> {
                              return {Sample{{fail_mode}, static_cast<double>(limiter->Stats().backend_errors)}};
                          });
}

void ServeMetrics::WatchTracer(const telemetry::Tracer* tracer) {
    auto value = [](std::uint64_t v) { return static_cast<double>(v); };
    registry_.AddCallback("signal_hub_tracing_spans_started_total", "Spans recorded (sampled traces only).",
                          MetricType::kCounter, {}, [tracer, value]() -> std::vector<Sample> {
                              return {Sample{{}, value(tracer->stats().spans_started)}};
                          });
    registry_.AddCallback("signal_hub_tracing_spans_exported_total", "Spans the collector accepted.",
                          MetricType::kCounter, {}, [tracer, value]() -> std::vector<Sample> {
                              return {Sample{{}, value(tracer->stats().spans_exported)}};
                          });
    registry_.AddCallback(
        "signal_hub_tracing_spans_dropped_total",
        "Spans lost: queue_full (the export queue was full), export_failed (the collector refused the batch or "
        "could not be reached, after one retry), shutdown (still queued at exit).",
        MetricType::kCounter, {"reason"}, [tracer, value]() -> std::vector<Sample> {
            const telemetry::TracerStats s = tracer->stats();
            return {Sample{{"queue_full"}, value(s.spans_dropped_queue_full)},
                    Sample{{"export_failed"}, value(s.spans_dropped_export_failed)},
                    Sample{{"shutdown"}, value(s.spans_dropped_shutdown)}};
        });
    registry_.AddCallback("signal_hub_tracing_export_requests_total", "OTLP export requests, retries included.",
                          MetricType::kCounter, {"outcome"}, [tracer, value]() -> std::vector<Sample> {
                              const telemetry::TracerStats s = tracer->stats();
                              return {Sample{{"ok"}, value(s.export_requests_ok)},
                                      Sample{{"error"}, value(s.export_requests_failed)}};
                          });
    registry_.AddCallback("signal_hub_tracing_queue_spans", "Ended spans waiting for export.", MetricType::kGauge, {},
                          [tracer, value]() -> std::vector<Sample> {
                              return {Sample{{}, value(tracer->stats().queued)}};
                          });
    registry_.AddCallback("signal_hub_tracing_queue_capacity_spans",
                          "monitoring.tracing.max_queue_spans: spans beyond it are dropped.", MetricType::kGauge, {},
                          [tracer, value]() -> std::vector<Sample> {
                              return {Sample{{}, value(tracer->stats().queue_capacity)}};
                          });
}

void ServeMetrics::WatchCollections(store::VectorStore* store, double max_age_seconds) {
    collections_ = std::make_shared<CollectionCache>();
    collections_->store = store;
    collections_->max_age_seconds = max_age_seconds;
    auto gauge = [cache = collections_](auto value) {
        return [cache, value]() -> std::vector<Sample> {
            std::vector<Sample> out;
            for (const CollectionInfo& c : cache->Get()) {
                if (auto v = value(c)) out.push_back(Sample{{c.spec.name}, *v});
            }
            return out;
        };
    };
    registry_.AddCallback("signal_hub_collection_records", "Records stored.", MetricType::kGauge, {"collection"},
                          gauge([](const CollectionInfo& c) { return std::optional<double>(c.records); }));
    registry_.AddCallback("signal_hub_collection_bytes", "Document bytes stored.", MetricType::kGauge, {"collection"},
                          gauge([](const CollectionInfo& c) { return std::optional<double>(c.bytes); }));
    registry_.AddCallback("signal_hub_collection_last_indexed_timestamp_seconds",
                          "When the collection was last indexed (Unix time).", MetricType::kGauge, {"collection"},
                          gauge([](const CollectionInfo& c) -> std::optional<double> {
                              if (!c.last_indexed_unix) return std::nullopt;
                              return static_cast<double>(*c.last_indexed_unix);
                          }));
}

void ServeMetrics::WatchPool(std::string pool, std::function<std::optional<PoolStats>()> stats) {
    if (!stats().has_value()) return;
    if (!pools_) {
        pools_ = std::make_shared<PoolSources>();
        auto family = [pools = pools_](auto value) {
            return [pools, value]() -> std::vector<Sample> {
                return pools->Each([&value](const std::string& name, const PoolStats& s, std::vector<Sample>& out) {
                    out.push_back(Sample{{name}, static_cast<double>(value(s))});
                });
            };
        };
        registry_.AddCallback("signal_hub_db_pool_connections", "Open database connections by state.",
                              MetricType::kGauge, {"pool", "state"}, [pools = pools_]() -> std::vector<Sample> {
                                  return pools->Each([](const std::string& name, const PoolStats& s,
                                                        std::vector<Sample>& out) {
                                      out.push_back(Sample{{name, "idle"}, static_cast<double>(s.idle)});
                                      out.push_back(Sample{{name, "in_use"}, static_cast<double>(s.in_use)});
                                  });
                              });
        registry_.AddCallback("signal_hub_db_pool_max_connections",
                              "The most connections the pool opens (pool_size + max_overflow).", MetricType::kGauge,
                              {"pool"}, family([](const PoolStats& s) { return s.max_connections; }));
        registry_.AddCallback("signal_hub_db_pool_waiting", "Callers waiting for a free database connection.",
                              MetricType::kGauge, {"pool"}, family([](const PoolStats& s) { return s.waiting; }));
        registry_.AddCallback("signal_hub_db_pool_acquire_timeouts_total",
                              "Waits for a database connection that ended after pool_timeout without one.",
                              MetricType::kCounter, {"pool"},
                              family([](const PoolStats& s) { return s.acquire_timeouts; }));
    }
    std::lock_guard<std::mutex> lock(pools_->mu);
    pools_->sources.emplace_back(std::move(pool), std::move(stats));
}

void ServeMetrics::WatchReadRouting(std::function<std::optional<ReadRoutingStats>()> stats) {
    if (!stats().has_value()) return;
    auto source = std::make_shared<std::function<std::optional<ReadRoutingStats>()>>(std::move(stats));
    registry_.AddCallback("signal_hub_db_replica_up",
                          "1 when the read replica answered its last check within database.max_replica_lag.",
                          MetricType::kGauge, {"replica"}, [source]() -> std::vector<Sample> {
                              std::vector<Sample> out;
                              if (auto s = (*source)()) {
                                  for (const auto& r : s->replicas) out.push_back(Sample{{r.replica}, r.up ? 1.0 : 0.0});
                              }
                              return out;
                          });
    registry_.AddCallback("signal_hub_db_replica_lag_seconds",
                          "Replay lag of the read replica at its last check (absent while it is unreachable).",
                          MetricType::kGauge, {"replica"}, [source]() -> std::vector<Sample> {
                              std::vector<Sample> out;
                              if (auto s = (*source)()) {
                                  for (const auto& r : s->replicas) {
                                      if (r.lag_seconds) out.push_back(Sample{{r.replica}, *r.lag_seconds});
                                  }
                              }
                              return out;
                          });
    registry_.AddCallback("signal_hub_db_reads_total",
                          "Read-only store operations by the server that answered them (primary or replica).",
                          MetricType::kCounter, {"target"}, [source]() -> std::vector<Sample> {
                              std::vector<Sample> out;
                              if (auto s = (*source)()) {
                                  out.push_back(Sample{{"primary"}, static_cast<double>(s->primary_reads)});
                                  out.push_back(Sample{{"replica"}, static_cast<double>(s->replica_reads)});
                              }
                              return out;
                          });
}

}  // namespace signalhub::cli
