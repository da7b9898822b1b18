#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "cli/commands.hpp"
#include "embed/embedder.hpp"
#include "index/pipeline.hpp"
#include "index/watch.hpp"
#include "mcp/stdio_transport.hpp"
#include "mcp/tools.hpp"
#include "net/redis_client.hpp"
#include "search/cache.hpp"
#include "search/redis_cache.hpp"
#include "search/searcher.hpp"
#include "cli/security_setup.hpp"
#include "cli/serve_metrics.hpp"
#include "cli/serve_tracing.hpp"
#include "embed/traced_embedder.hpp"
#include "store/traced_store.hpp"
#include "security/rate_limiter.hpp"
#include "server/api_key_guard.hpp"
#include "server/http_server.hpp"
#include "server/worker_pool.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics_server.hpp"
#include "telemetry/trace.hpp"

namespace signalhub::cli {
namespace fs = std::filesystem;
namespace {

// The store URL with database.read_urls as read_url parameters (each %-encoded) and the replica
// settings (db/postgres/pg_client.hpp): only `serve` reads from replicas, so only its URL carries
// them (backup manifests and other commands never see the replicas' URLs).
std::string WithReadReplicas(std::string url, const config::DatabaseConfig& database) {
    if (database.type != "postgresql" || database.read_urls.empty()) return url;
    if (!url.starts_with("postgresql://") && !url.starts_with("postgres://")) return url;
    for (const std::string& replica : database.read_urls) {
        std::string encoded;
        for (unsigned char ch : replica) {
            if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
                encoded += static_cast<char>(ch);
            } else {
                char hex[4];
                std::snprintf(hex, sizeof hex, "%%%02X", ch);
                encoded += hex;
            }
        }
        url += (url.find('?') == std::string::npos ? "?" : "&") + std::string("read_url=") + encoded;
    }
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%g", database.max_replica_lag);
    url += std::string("&max_replica_lag=") + seconds;
    std::snprintf(seconds, sizeof seconds, "%g", database.replica_check_interval);
    url += std::string("&replica_check_interval=") + seconds;
    return url;
}

struct ServeOptions {
    std::string transport = "stdio";
    std::optional<std::string> host;
    std::optional<int> port;
    std::optional<int> metrics_port;
    std::optional<std::string> root;
    bool watch = false;
};

// The indexed tree a store belongs to: --root, else the directory the store
// sits in when it is at the relative store.path (repo/.signal-hub -> repo).
// nullopt when neither applies (then explain_code accepts only repo-relative
// paths and --watch needs --root).
Result<std::optional<fs::path>> ResolveRoot(const ServeOptions& options, const config::Config& cfg,
                                            const StoreLocation& location) {
    std::error_code ec;
    if (options.root) {
        fs::path root = fs::canonical(*options.root, ec);
        if (ec) return NotFound("--root " + *options.root + ": " + ec.message());
        if (!fs::is_directory(root, ec)) return InvalidArgument("--root " + *options.root + " is not a directory");
        return std::optional<fs::path>(root);
    }
    const fs::path configured(cfg.store.path);
    if (!location.dir || configured.is_absolute()) return std::optional<fs::path>();
    fs::path dir = fs::canonical(*location.dir, ec);
    if (ec) return std::optional<fs::path>();
    // Strip store.path's components from the end of the store directory.
    std::vector<fs::path> parts(configured.begin(), configured.end());
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (*it == "." || it->empty()) continue;
        if (dir.filename() != *it) return std::optional<fs::path>();
        dir = dir.parent_path();
    }
    return std::optional<fs::path>(dir);
}

// Loads every collection's vector index (the embedded store loads it lazily on
// the first search), so that the first request is not the slow one and /ready
// only says "ready" once the index is in memory.
Status WarmUp(store::VectorStore& store) {
    SH_ASSIGN_OR_RETURN(std::vector<CollectionInfo> collections, store.ListCollections());
    for (const CollectionInfo& c : collections) {
        if (c.spec.dimension <= 0) continue;
        std::vector<float> probe(static_cast<size_t>(c.spec.dimension), 0.0f);
        probe[0] = 1.0f;
        auto hits = store.VectorSearch(c.spec.name, probe, store::SearchOptions{.k = 1});
        if (!hits.ok()) return hits.status();
    }
    return Status::Ok();
}

// Readiness: the store is reachable with the current schema, and holds at
// least one collection to search.
Status CheckReady(store::VectorStore& store) {
    SH_RETURN_IF_ERROR(store.CheckHealth());
    SH_ASSIGN_OR_RETURN(std::vector<CollectionSpec> collections, store.ListCollectionSpecs());
    if (collections.empty()) return Unavailable("the store has no collection yet: run `signal-hub index`");
    return Status::Ok();
}

// What names the store for a shared (Redis) query cache: replicas that open
// the same database share entries (its URL without the password); an embedded
// store is only shared by processes on this host opening that directory.
std::string CacheIdentity(const StoreLocation& location) {
    if (!location.dir) return location.display;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    std::error_code ec;
    const fs::path dir = fs::weakly_canonical(*location.dir, ec);
    return std::string("embedded://") + host + (ec ? location.dir->string() : dir.string());
}

// The store's kind, as the metrics' `backend` label: from the URL actually opened (--store may
// override database.type).
std::string StoreBackend(const StoreLocation& location) {
    if (location.dir) return "embedded";
    if (location.url.rfind("postgresql://", 0) == 0 || location.url.rfind("postgres://", 0) == 0) return "postgresql";
    if (location.url.rfind("chroma", 0) == 0) return "chromadb";
    return "other";
}

// A Redis backend that does not answer a PING at start is reported (WARN)
// with what the server will do meanwhile. The server still starts, as with
// any Redis that is down: the rate limiter and the cache recover by
// themselves once it answers. A certificate or host-name problem of rediss://
// is reported the same way and never bypassed (nothing is sent unverified).
void ReportRedisAtStart(std::string_view section, const std::string& url, const redis::TlsOptions& tls,
                        const std::string& meanwhile) {
    auto options = redis::MakePoolOptions(url, tls, 0.5, 1, 0);
    if (!options.ok()) return;  // creating the backend reported it already
    auto pool = redis::RedisPool::Create(*std::move(options));
    if (!pool.ok()) return;
    Result<redis::Reply> reply = (*pool)->Command({"PING"});
    if (reply.ok()) return;  // an error reply (NOAUTH ...) is the commands' to report
    telemetry::Warn(std::string(section) + ": Redis did not answer at start; " + meanwhile + " until it does",
                    {{"error", reply.status().message()}});
}

std::string HostForUrl(const std::string& host) { return host.find(':') != std::string::npos ? "[" + host + "]" : host; }

// security.tls -> the server's TLS options (the values are validated already).
server::TlsOptions TlsFromConfig(const config::TlsConfig& tls) {
    server::TlsOptions out;
    out.enabled = tls.enabled;
    out.cert_file = tls.cert_file;
    out.key_file = tls.key_file;
    out.client_ca_file = tls.client_ca_file;
    out.client_auth = tls.client_auth == "require"    ? server::TlsClientAuth::kRequire
                      : tls.client_auth == "optional" ? server::TlsClientAuth::kOptional
                                                      : server::TlsClientAuth::kNone;
    out.min_version = tls.min_version;
    out.hsts_max_age_seconds = tls.hsts_max_age;
    out.reload_interval_seconds = tls.reload_interval;
    return out;
}

// Every TLS reload (SIGHUP or a file change) is logged; a failed one keeps the
// previous certificate.
void LogTlsReload(std::string_view cause, const Status& status) {
    const std::string why(cause == "requested" ? "SIGHUP" : cause);
    if (status.ok()) {
        telemetry::Info("TLS certificate reloaded", {{"cause", why}});
    } else {
        telemetry::Error("TLS certificate reload failed, keeping the previous one",
                         {{"cause", why}, {"error", status.message()}});
    }
}

void LogPass(const index::WatchPass& pass) {
    const std::string trigger(index::TriggerName(pass.trigger));
    if (!pass.coverage_note.empty()) {
        telemetry::Warn("watch: not every directory is watched", {{"note", pass.coverage_note}});
    }
    if (!pass.result.ok()) {
        telemetry::Error("watch: re-index failed", {{"trigger", trigger}, {"error", pass.result.status().message()}});
        return;
    }
    const index::IndexStats& s = *pass.result;
    if (s.files_added + s.files_changed + s.files_removed == 0 && pass.trigger != index::WatchPass::Trigger::kStart)
        return;
    telemetry::Info("watch: re-indexed", {{"trigger", trigger},
                                          {"events", pass.events},
                                          {"files_added", s.files_added},
                                          {"files_changed", s.files_changed},
                                          {"files_removed", s.files_removed},
                                          {"chunks_written", s.chunks_written},
                                          {"chunks_deleted", s.chunks_deleted},
                                          {"seconds", s.seconds}});
}

bool IsLoopbackHost(const std::string& host) {
    return host == "127.0.0.1" || host == "::1" || host == "localhost" || host.rfind("127.", 0) == 0;
}

// A listener that could not bind, with what to change: the setting in the config file, its
// environment variable and the command-line flag (docs/mcp.md "Ports"); for an address in use, who
// may hold it. `extra` is one more way out.
Status ListenFailed(const Status& failed, std::string_view what, std::string_view host_key, std::string_view port_key,
                    std::string_view port_flag, std::string_view extra) {
    auto env = [](std::string_view key) {
        std::string out = "SIGNAL_HUB_";
        for (char c : key) out += c == '.' ? std::string("__") : std::string(1, static_cast<char>(std::toupper(c)));
        return out;
    };
    std::string message = std::string(what) + ": " + failed.message();
    if (failed.message().find("address in use") != std::string::npos) {
        message += " (another process listens there: a second `signal-hub serve`, or another server such as "
                   "Prometheus)";
    }
    message += "; choose another port with " + std::string(port_flag) + " N, " + std::string(port_key) +
               " in the config file or " + env(port_key) + "=N (0 picks a free port), or another address with " +
               std::string(host_key) + " (" + env(host_key) + ")";
    if (!extra.empty()) message += "; " + std::string(extra);
    return Status(failed.code(), message);
}

// Calls `flush` every minute on its own thread, and once more when destroyed.
class UsageFlusher {
   public:
    explicit UsageFlusher(std::function<Status()> flush) : flush_(std::move(flush)) {
        if (!flush_) return;
        thread_ = std::thread([this] {
            std::unique_lock<std::mutex> lock(mu_);
            while (!cv_.wait_for(lock, std::chrono::minutes(1), [this] { return stop_; })) Flush();
        });
    }
    ~UsageFlusher() {
        if (!flush_) return;
        {
            std::lock_guard<std::mutex> lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
        Flush();
    }

   private:
    void Flush() {
        if (Status s = flush_(); !s.ok()) {
            telemetry::Warn("cannot record API key usage", {{"error", s.message()}});
        }
    }
    std::function<Status()> flush_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;
};

// Fail() (the "signal-hub: error:" line on stderr), and the same as a log
// record when the log goes elsewhere (stdout, a file), so that the log says why
// the server stopped.
int FailServe(const Status& status) {
    if (telemetry::CurrentLogger()->output() != "stderr") {
        telemetry::Error("serve failed",
                         {{"error", status.message()}, {"code", std::string(ErrorCodeName(status.code()))}});
    }
    return Fail(status);
}

Status RunServe(const GlobalOptions& global, const ServeOptions& options) {
    SH_ASSIGN_OR_RETURN(config::Config cfg, LoadConfiguration(global));
    if (options.host) cfg.server.host = *options.host;
    if (options.port) cfg.server.port = *options.port;
    if (options.metrics_port) {
        cfg.monitoring.metrics.enabled = true;
        cfg.monitoring.metrics.port = *options.metrics_port;
    }
    SH_RETURN_IF_ERROR(config::Validate(cfg));
    // monitoring.logging: from here on, status lines are log records.
    SH_ASSIGN_OR_RETURN(telemetry::LogOptions log_options, LogOptionsFor(cfg, global));
    if (options.transport == "stdio" && log_options.output == "stdout") {
        return InvalidArgument(
            "monitoring.logging.output is stdout, but `serve --transport stdio` speaks MCP on stdout: log to stderr "
            "or a file");
    }
    SH_RETURN_IF_ERROR(telemetry::ConfigureLogging(log_options));
    SH_ASSIGN_OR_RETURN(StoreLocation location, FindStore(global, cfg));
    SH_ASSIGN_OR_RETURN(std::optional<fs::path> root, ResolveRoot(options, cfg, location));
    // monitoring.tracing: first in, last out, so that every span of the server below is exported.
    std::unique_ptr<ServeTracing> tracing;
    if (cfg.monitoring.tracing.enabled) {
        SH_ASSIGN_OR_RETURN(tracing, ServeTracing::Start(cfg.monitoring.tracing));
    }
    SH_ASSIGN_OR_RETURN(auto embedder, embed::CreateEmbedder(cfg.embedding));
    if (tracing) embedder = embed::TraceEmbedder(std::move(embedder), cfg.embedding.provider);
    // monitoring.metrics: only the HTTP transport serves them (stdout is the protocol under stdio).
    // (Validate refused a metrics port equal to server.port, --port included.)
    std::unique_ptr<ServeMetrics> metrics;
    if (options.transport == "http" && cfg.monitoring.metrics.enabled) {
        metrics = std::make_unique<ServeMetrics>(StoreBackend(location), cfg.embedding.provider);
        embedder = metrics->Instrument(std::move(embedder));
    }

    // --watch: this process becomes the store's writer and re-indexes changes;
    // searches use a separate read-only open, which sees each commit.
    // The tree as `index` scans it: index_status compares it with the index.
    std::optional<index::IndexOptions> tree;
    if (root) {
        tree.emplace();
        tree->root = *root;
        tree->collection = !cfg.index.collection.empty() ? cfg.index.collection : index::DefaultCollectionName(*root);
        tree->store_dir = location.dir.value_or(fs::path());
        tree->config = cfg.index;
    }
    std::unique_ptr<store::VectorStore> writer;
    std::unique_ptr<index::Watcher> watcher;
    if (options.watch) {
        if (!tree) {
            return InvalidArgument("--watch needs the indexed tree: pass --root DIR (the store " + location.display +
                                   " is not at store.path inside a tree)");
        }
        // Named in the lock file: another writer (`index`) is told what holds the store and what to do.
        SH_ASSIGN_OR_RETURN(writer,
                            store::OpenStore(location.url, store::OpenOptions{.holder = "signal-hub serve --watch"}));
        if (metrics) metrics->WatchPool("store_writer", [w = writer.get()] { return w->pool_stats(); });
        index::WatchOptions watch;
        watch.index = *tree;
        index::Watcher::PassCallback on_pass = LogPass;
        if (metrics) {
            on_pass = [m = metrics.get(), collection = tree->collection](const index::WatchPass& pass) {
                m->CountIndexPass(collection, pass);
                LogPass(pass);
            };
        }
        SH_ASSIGN_OR_RETURN(watcher, index::Watcher::Start(*writer, *embedder, watch, on_pass));
    }

    SH_ASSIGN_OR_RETURN(auto store, store::OpenStore(WithReadReplicas(location.url, cfg.database),
                                                         store::OpenOptions{.read_only = true, .read_replicas = true}));
    if (tracing) store = store::TraceStore(std::move(store), StoreBackend(location));
    SH_ASSIGN_OR_RETURN(std::unique_ptr<search::QueryCache> cache,
                        search::MakeQueryCache(cfg.performance.caching, CacheIdentity(location), Clock::Real()));
    if (cache && cfg.performance.caching.backend == "redis") {
        const config::CachingConfig& cc = cfg.performance.caching;
        ReportRedisAtStart("performance.caching", cc.redis_url,
                           {.ca_file = cc.redis_tls_ca_file, .cert_file = cc.redis_tls_cert_file,
                            .key_file = cc.redis_tls_key_file},
                           "searches are not cached");
    }
    search::Searcher searcher(*store, *embedder, cfg.search, cache.get());
    if (metrics) {
        searcher.SetDurationObserver(metrics->SearchObserver());
        if (cache) metrics->WatchCache(cache.get(), cfg.performance.caching.backend);
        metrics->WatchCollections(store.get());
        metrics->WatchPool("store", [r = store.get()] { return r->pool_stats(); });
        metrics->WatchReadRouting([r = store.get()] { return r->read_routing(); });
        if (tracing) metrics->WatchTracer(&tracing->tracer());
    }
    // HTTP: the server's workers, shared with the searcher, which runs a hybrid search's lexical half on an
    // idle one beside the vector half (under the request's trace context; ADR-34a).
    std::shared_ptr<server::WorkerPool> workers;
    if (options.transport == "http") {
        workers = std::make_shared<server::WorkerPool>(cfg.performance.workers);
        searcher.SetHelper([run = workers->IdleExecutor()](std::function<void()> task) {
            return run([context = telemetry::CurrentSpanContext(), task = std::move(task)] {
                telemetry::ScopedContext scope(context);
                task();
            });
        });
    }
    mcp::Server server(mcp::ServerInfo{
        .instructions = "Code search over the repository indexed in " + location.display +
                        ". Use search_code to find code by description or identifier, find_similar for code like a "
                        "snippet, get_context to gather what a task needs within a token budget, explain_code for a "
                        "function or class with its enclosing definitions and uses, find_references for where a "
                        "symbol is defined and used, and index_status to see what is indexed and how fresh it is."});
    mcp::AddCodeSearchTools(server, mcp::ToolContext{.store = store.get(),
                                                     .searcher = &searcher,
                                                     .root = root,
                                                     .tree = tree,
                                                     .watching = watcher != nullptr});
    if (metrics) server.SetObserver(metrics->McpObserver());

    Status served;
    if (options.transport == "stdio") {
        telemetry::Info("serving over MCP stdio", {{"store", location.display}});
        served = mcp::ServeStdio(server, std::cin, std::cout);
    } else {
        SH_RETURN_IF_ERROR(WarmUp(*store));
        server::HttpOptions http;
        http.host = cfg.server.host;
        http.port = static_cast<std::uint16_t>(cfg.server.port);
        http.workers = cfg.performance.workers;
        http.pool = workers;
        http.max_connections = cfg.performance.max_connections;
        http.request_timeout_seconds = cfg.performance.request_timeout;
        http.max_body_bytes = static_cast<size_t>(cfg.performance.max_request_size.bytes);
        http.session_idle_timeout_seconds = cfg.server.session_timeout;
        http.allowed_origins = cfg.server.allowed_origins;
        http.shutdown_timeout_seconds = cfg.server.shutdown_timeout;
        http.tls = TlsFromConfig(cfg.security.tls);
        http.on_tls_reload = LogTlsReload;
        // One access record per response (info; warn/error for 5xx), and the HTTP metrics.
        std::function<void(const server::RequestEvent&)> observe_http;
        if (metrics) observe_http = metrics->HttpObserver();
        http.on_request = [observe_http](const server::RequestEvent& e) {
            if (observe_http) observe_http(e);
            telemetry::RequestLogFields r;
            r.request_id = std::string(e.request_id);
            if (!e.trace_id.empty()) r.trace_id = std::string(e.trace_id);
            if (!e.key_id.empty()) r.key_id = std::string(e.key_id);
            r.remote = std::string(e.remote);
            r.method = std::string(e.method);
            switch (e.route) {
                case server::HttpRoute::kMcpPost:
                case server::HttpRoute::kMcpGet:
                case server::HttpRoute::kMcpDelete: r.route = "/mcp"; break;
                case server::HttpRoute::kHealth: r.route = "/health"; break;
                case server::HttpRoute::kReady: r.route = "/ready"; break;
                case server::HttpRoute::kOther: r.route = "other"; break;
            }
            r.status = static_cast<int>(e.status);
            r.latency_ms = e.duration_seconds * 1000.0;
            r.bytes = static_cast<std::int64_t>(e.body_bytes);
            telemetry::LogRequest(r);
        };
        if (metrics) {
            if (http.tls.enabled) {
                metrics->WatchTlsCertificate(http.tls.cert_file);
                http.on_tls_reload = [m = metrics.get()](std::string_view cause, const Status& status) {
                    if (status.ok()) m->TlsReloaded();
                    LogTlsReload(cause, status);
                };
            }
        }
        // security.api_keys: the guard authenticates /mcp; failures and refusals go to the audit log.
        std::optional<OpenedKeyStore> keys;
        SH_ASSIGN_OR_RETURN(std::unique_ptr<security::AuditLog> audit, OpenAuditLog(cfg, Clock::Real()));
        if (cfg.security.api_keys.enabled) {
            SH_ASSIGN_OR_RETURN(keys, OpenApiKeyStore(cfg, location.dir, Clock::Real()));
            if (metrics) metrics->WatchPool("api_keys", [k = keys->store.get()] { return k->pool_stats(); });
        } else if (!IsLoopbackHost(cfg.server.host)) {
            telemetry::Warn("the server is reachable from other machines and security.api_keys.enabled is false: "
                            "anyone who can connect can read the code",
                            {{"host", cfg.server.host}});
        }
        // security.rate_limiting: per key (per address without one), in this process or in Redis.
        std::unique_ptr<security::RateLimiter> limiter;
        server::ApiKeyGuardOptions guard;
        guard.keys = keys ? keys->store.get() : nullptr;
        guard.audit = audit.get();
        if (cfg.security.rate_limiting.enabled) {
            SH_ASSIGN_OR_RETURN(limiter, security::MakeRateLimiter(cfg.security.rate_limiting, Clock::Real()));
            if (const config::RateLimitingConfig& rl = cfg.security.rate_limiting; rl.backend == "redis") {
                ReportRedisAtStart("security.rate_limiting", rl.redis_url,
                                   {.ca_file = rl.redis_tls_ca_file, .cert_file = rl.redis_tls_cert_file,
                                    .key_file = rl.redis_tls_key_file},
                                   rl.fail_mode == "open"
                                       ? "requests are admitted without a limit (fail_mode: open)"
                                       : "requests are refused with 429 (fail_mode: closed)");
            }
            const config::RateLimitLimits& l = cfg.security.rate_limiting.limits;
            guard.limiter = limiter.get();
            if (metrics) metrics->WatchRateLimiter(limiter.get(), cfg.security.rate_limiting.fail_mode);
            guard.limits = {.search = security::ToRateLimit(l.search),
                            .index = security::ToRateLimit(l.index),
                            .admin = security::ToRateLimit(l.admin),
                            .anonymous = security::ToRateLimit(l.anonymous)};
        }
        if (metrics) guard.observer = metrics->GuardObserver();
        http.guard = std::make_shared<server::ApiKeyGuard>(guard);
        // last_used times are kept in memory and written every minute and at exit.
        UsageFlusher flusher(keys ? keys->flush_usage : std::function<Status()>());
        store::VectorStore* readable = store.get();
        ServeMetrics* m = metrics.get();
        if (m) m->SetReady(CheckReady(*readable).ok());
        auto started_http = server::HttpServer::Start(http, server, [readable, m] {
            Status ready = CheckReady(*readable);
            if (m) m->SetReady(ready.ok());
            return ready;
        });
        if (!started_http.ok()) {
            if (started_http.status().message().rfind("cannot listen on ", 0) != 0) return started_http.status();
            return ListenFailed(started_http.status(), "MCP port", "server.host", "server.port", "--port", "");
        }
        std::unique_ptr<server::HttpServer> listener = std::move(*started_http);
        // Declared after the listener: stopped before it, while what it reads still exists. Started
        // before the addresses are announced, so that a metrics port in use never follows a
        // "serving" line.
        std::unique_ptr<telemetry::MetricsServer> metrics_listener;
        telemetry::MetricsServerOptions mo;
        if (metrics) {
            metrics->WatchHttpServer(listener.get());
            mo.host = cfg.monitoring.metrics.host;
            mo.port = static_cast<std::uint16_t>(cfg.monitoring.metrics.port);
            mo.path = cfg.monitoring.metrics.path;
            auto started = telemetry::MetricsServer::Start(mo, [m] { return m->Render(); });
            if (!started.ok()) {
                listener->Shutdown();
                (void)listener->Wait();
                return ListenFailed(started.status(), "monitoring.metrics", "monitoring.metrics.host",
                                    "monitoring.metrics.port", "--metrics-port",
                                    "or turn the metrics listener off with monitoring.metrics.enabled: false "
                                    "(SIGNAL_HUB_MONITORING__METRICS__ENABLED=false)");
            }
            metrics_listener = std::move(*started);
        }
        // Always written (also with --quiet or level warn): with --port 0 it is the only way to learn the port.
        // The URL is the last field, so that scripts find ".../mcp" at the end of the line in text format.
        telemetry::Announce("serving over MCP Streamable HTTP",
                            {{"store", location.display},
                             {"url", std::string(http.tls.enabled ? "https" : "http") + "://" +
                                         HostForUrl(cfg.server.host) + ":" + std::to_string(listener->port()) +
                                         "/mcp"}});
        if (metrics_listener) {
            // Always written, like the MCP address: with port 0 it is the only way to learn the port.
            telemetry::Announce("metrics at", {{"url", "http://" + HostForUrl(mo.host) + ":" +
                                                          std::to_string(metrics_listener->port()) + mo.path}});
        }
        if (keys) telemetry::Info("API keys required", {{"keys", keys->description}});
        if (limiter) {
            telemetry::Info("rate limiting on", {{"backend", cfg.security.rate_limiting.backend},
                                                 {"fail_mode", cfg.security.rate_limiting.fail_mode}});
        }
        // SIGHUP: the TLS certificate (HttpServer), the API key file and the log file are opened again.
        std::function<Status()> reload_keys = keys ? keys->reload : std::function<Status()>();
        auto on_reload = [reload_keys] {
            if (Status s = telemetry::CurrentLogger()->Reopen(); !s.ok()) {
                telemetry::Error("log file not reopened", {{"error", s.message()}});
            }
            if (!reload_keys) return;
            if (const Status s = reload_keys(); !s.ok()) {
                telemetry::Error("API keys not reloaded, the old ones stay", {{"error", s.message()}});
            } else {
                telemetry::Info("API keys reloaded");
            }
        };
        served = server::ServeUntilSignal(*listener, on_reload);
        if (metrics_listener) metrics_listener->Stop();
        if (served.code() == ErrorCode::kDeadlineExceeded) {
            // Tool handlers still run on abandoned threads and use the store,
            // searcher and server below: end the process without destroying
            // them. Store writes are transactional; nothing half-done remains.
            std::_Exit(FailServe(served));
        }
        if (served.ok()) telemetry::Info("shut down cleanly");
    }
    if (watcher) watcher->Stop();
    return served;
}

}  // namespace

void AddServeCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
    auto options = std::make_shared<ServeOptions>();
    auto* cmd = app.add_subcommand("serve", "Serve code search to AI assistants over the Model Context Protocol");
    cmd->add_option("--transport", options->transport,
                    "stdio: the assistant starts signal-hub as a child process; http: one Streamable HTTP server "
                    "(POST/GET/DELETE /mcp, GET /health, GET /ready) for many clients")
        ->check(CLI::IsMember({"stdio", "http"}))
        ->capture_default_str();
    cmd->add_option("--host", options->host, "http: address to listen on (default: server.host, 127.0.0.1)");
    cmd->add_option("--port", options->port, "http: port to listen on; 0 picks a free one (default: server.port, 8080)")
        ->check(CLI::Range(0, 65535));
    cmd->add_option("--metrics-port", options->metrics_port,
                    "http: serve Prometheus metrics on this port (turns monitoring.metrics on; default: off, or "
                    "monitoring.metrics.port when enabled in the config)")
        ->check(CLI::Range(0, 65535));
    cmd->add_flag("--watch", options->watch,
                  "Re-index changed files in the background (inotify) while serving; this process becomes the "
                  "store's writer");
    cmd->add_option("--root", options->root,
                    "The indexed tree (default: the directory holding the store when it is at store.path, e.g. "
                    "repo for repo/.signal-hub). Needed by --watch; explain_code refuses paths outside it");
    cmd->footer(
        "stdio: stdout carries only protocol messages, logs go to stderr (or a file); exits when stdin closes.\n"
        "http: logs the address (\"serving over MCP Streamable HTTP ... url=...\"); SIGTERM or SIGINT drain in-flight\n"
        "requests (server.shutdown_timeout) and exit 0. With security.tls.enabled it serves https; SIGHUP reloads the\n"
        "certificate and key, the API key file and reopens the log file. Limits and the result cache are set in the\n"
        "performance section of the configuration.\n"
        "Ports: http listens on one port (server.port, --port); metrics on a second one only when enabled\n"
        "(monitoring.metrics, --metrics-port). Two repositories side by side: one serve each, on two ports.\n"
        "Logs: monitoring.logging (level, format text|json, output stderr|stdout|FILE); see docs/configuration.md.\n"
        "Tools: search_code, find_similar, get_context, explain_code, find_references, index_status.\n"
        "See docs/mcp.md.");
    // The callback owns the option storage (CLI11 writes into it while parsing).
    cmd->callback([&global, &exit_code, options] {
        const Status served = RunServe(global, *options);
        exit_code = served.ok() ? 0 : FailServe(served);
    });
}

}  // namespace signalhub::cli
