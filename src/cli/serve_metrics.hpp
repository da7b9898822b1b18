#pragma once
// The metrics of `signal-hub serve --transport http`
// (docs/production/monitoring/metrics.md): one telemetry::Registry holding
// the catalogue's families, and the observers that feed it from the HTTP
// server, the MCP server, the API-key guard, the searcher, the embedder and
// the watcher. Values that live elsewhere (HTTP counters, caches, the rate
// limiter, collections, /proc) are read at scrape time.

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/pool_stats.hpp"
#include "core/record.hpp"
#include "embed/embedder.hpp"
#include "index/watch.hpp"
#include "mcp/server.hpp"
#include "search/cache.hpp"
#include "search/searcher.hpp"
#include "security/rate_limiter.hpp"
#include "server/api_key_guard.hpp"
#include "server/http_server.hpp"
#include "store/vector_store.hpp"
#include "telemetry/metrics.hpp"
#include "telemetry/trace.hpp"

namespace signalhub::cli {

class ServeMetrics {
   public:
    // `backend`: the store's kind ("embedded", "postgresql", "chromadb", "memory"),
    // `provider`: the embedding provider ("builtin", "openai").
    ServeMetrics(std::string backend, std::string provider);

    telemetry::Registry& registry() { return registry_; }
    std::string Render() const { return telemetry::RenderPrometheus(registry_.Collect()); }

    // Observers to install (each may be called concurrently).
    std::function<void(const server::RequestEvent&)> HttpObserver();
    mcp::ServerObserver McpObserver();
    server::GuardObserver GuardObserver();
    std::function<void(search::Mode, double)> SearchObserver();

    // Wraps `inner` so that every Embed call is counted and timed. When `inner`
    // reports token usage (Embedder::tokens_used), also exports
    // signal_hub_embedding_tokens_total, read at scrape time: the returned
    // embedder must then outlive the registry's last Collect.
    std::unique_ptr<embed::Embedder> Instrument(std::unique_ptr<embed::Embedder> inner);

    // signal_hub_ready: the outcome of the last readiness check.
    void SetReady(bool ready) { ready_->Get().Set(ready ? 1 : 0); }
    // One `serve --watch` pass over `collection`.
    void CountIndexPass(const std::string& collection, const index::WatchPass& pass);

    // Scrape-time sources; each pointer must outlive the registry's last Collect.
    void WatchHttpServer(const server::HttpServer* server);
    void WatchCache(const search::QueryCache* cache, std::string backend);
    void WatchRateLimiter(const security::RateLimiter* limiter, std::string fail_mode);
    // signal_hub_tls_certificate_expiry_timestamp_seconds: notAfter of the
    // first certificate in `cert_file` (PEM), read now; call TlsReloaded()
    // after every successful reload. A file that cannot be read keeps the
    // last value (the server keeps serving the certificate it had).
    void WatchTlsCertificate(std::string cert_file);
    void TlsReloaded();

    // signal_hub_tracing_*: the tracer's span counts, drops by reason and queue (monitoring.tracing).
    void WatchTracer(const telemetry::Tracer* tracer);

    // Collection gauges from store.ListCollections(), cached `max_age_seconds`
    // so that scrapes never hammer the store.
    void WatchCollections(store::VectorStore* store, double max_age_seconds = 5);

    // signal_hub_db_pool_*{pool}: the connection pool `stats` describes, read at
    // scrape time. `pool` names it ("store", "store_writer", "api_keys"). A
    // source that reports nullopt now (a backend without a pool) is not watched.
    // `stats` must be cheap, thread-safe and callable until the registry's last Collect.
    void WatchPool(std::string pool, std::function<std::optional<PoolStats>()> stats);
    // signal_hub_db_replica_up / _lag_seconds{replica} and signal_hub_db_reads_total{target}: the
    // store's read replicas (database.read_urls); registers nothing when `stats` reports none.
    void WatchReadRouting(std::function<std::optional<ReadRoutingStats>()> stats);

   private:
    class InstrumentedEmbedder;

    telemetry::Registry registry_;
    const std::string backend_;
    const std::string provider_;
    telemetry::GaugeFamily* ready_;
    telemetry::CounterFamily* http_requests_;
    telemetry::HistogramFamily* http_duration_;
    telemetry::CounterFamily* mcp_requests_;
    telemetry::CounterFamily* tool_calls_;
    telemetry::HistogramFamily* tool_duration_;
    telemetry::HistogramFamily* search_duration_;
    telemetry::CounterFamily* index_chunks_;
    telemetry::CounterFamily* index_runs_;
    telemetry::CounterFamily* embedding_requests_;
    telemetry::HistogramFamily* embedding_duration_;
    telemetry::CounterFamily* embedding_inputs_;
    telemetry::CounterFamily* rate_limit_decisions_;
    telemetry::CounterFamily* auth_failures_;
    telemetry::CounterFamily* auth_forbidden_;
    telemetry::GaugeFamily* tls_expiry_ = nullptr;
    std::string tls_cert_file_;

    const server::HttpServer* http_ = nullptr;  // set once, before scrapes
    std::vector<std::pair<const search::QueryCache*, std::string>> caches_;

    struct CollectionCache;
    std::shared_ptr<CollectionCache> collections_;

    struct PoolSources;
    std::shared_ptr<PoolSources> pools_;  // created (and its families registered) by the first WatchPool
};

}  // namespace signalhub::cli
