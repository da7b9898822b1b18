#pragma once
// Distributed tracing (monitoring.tracing): W3C Trace Context in and out,
// spans for the work a request does, and a batching exporter that never
// blocks the request path. docs/production/monitoring/tracing.md describes
// the spans; this header is the contract.
//
// Model (OpenTelemetry's, reduced to what Signal Hub needs):
//  - A SpanContext (trace id, span id, sampled flag, tracestate) is what
//    travels: in the `traceparent`/`tracestate` headers, and on each thread
//    as its *current* context.
//  - Span is one timed operation. It is *recording* only when a tracer is
//    installed (SetTracer) and its trace is sampled; otherwise every call on
//    it is a cheap no-op. Ending a recording span hands its data to the
//    tracer's queue (Tracer::Submit), which drops it (and counts the drop)
//    when full: a request never waits for the exporter.
//  - ScopedSpan is the usual way to trace a block of code: a child of the
//    thread's current context that becomes the current context until the
//    block ends. Code that creates no span of its own still sees the
//    context (e.g. the HTTP client puts it into `traceparent`).
//  - A span starts a new trace only where a request enters the process: the
//    HTTP server (Span::Server) and, for the stdio transport, each MCP
//    request (ScopedSpan with kStartTrace). Work without a current context
//    (the indexer, background passes) is not traced.
//
// Sampling is parent-based: a child follows its parent's sampled flag (the
// caller's `traceparent` decides); a new trace is sampled with probability
// TracerOptions::sample_ratio, decided from the trace id (OpenTelemetry's
// TraceIdRatioBased), so all replicas agree.
//
// Thread safety: everything here may be used from any thread. A Span may
// be moved to another thread and ended there; a ScopedSpan must end on the
// thread that created it (it is not movable).

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "core/status.hpp"

namespace signalhub::telemetry {

// ---------------------------------------------------------------------------
// Identifiers and W3C Trace Context (https://www.w3.org/TR/trace-context/).

struct TraceId {
    std::array<std::uint8_t, 16> bytes{};
    bool valid() const;                 // not all zero
    std::string Hex() const;            // 32 lower-case hex digits
    bool operator==(const TraceId&) const = default;
};

struct SpanId {
    std::array<std::uint8_t, 8> bytes{};
    bool valid() const;                 // not all zero
    std::string Hex() const;            // 16 lower-case hex digits
    bool operator==(const SpanId&) const = default;
};

// A fresh random id (a per-thread PRNG seeded from std::random_device; never
// all zero). Ids need to be unique, not secret.
TraceId NewTraceId();
SpanId NewSpanId();

struct SpanContext {
    TraceId trace_id;
    SpanId span_id;
    bool sampled = false;     // trace-flags bit 0
    std::string trace_state;  // the `tracestate` header, passed on unchanged ("" = none)

    // Both ids valid.
    bool valid() const { return trace_id.valid() && span_id.valid(); }
};

// Parses a `traceparent` header: "00-<32 hex>-<16 hex>-<2 hex>" in lower
// case, ids not all zero. Version ff is invalid; a higher version than 00 is
// read as 00 when its first four fields have the 00 shape (and anything after
// them starts with '-'), as the specification asks. nullopt when invalid: the
// caller then starts a new trace. Leading and trailing spaces and tabs are
// ignored.
std::optional<SpanContext> ParseTraceparent(std::string_view header);
// "00-<trace id>-<span id>-01" (or -00 when not sampled).
std::string FormatTraceparent(const SpanContext& context);
// The `tracestate` value to keep: `header` trimmed when it is at most 512
// characters of printable ASCII; "" otherwise (the specification allows
// dropping it).
std::string AcceptTracestate(std::string_view header);

// ---------------------------------------------------------------------------
// Span data, as exported.

// OTLP's numbering (opentelemetry/proto/trace/v1/trace.proto).
enum class SpanKind { kInternal = 1, kServer = 2, kClient = 3 };
enum class SpanStatusCode { kUnset = 0, kOk = 1, kError = 2 };

struct Attribute {
    using Value = std::variant<std::string, std::int64_t, double, bool>;
    std::string key;
    Value value;
};

struct SpanData {
    TraceId trace_id;
    SpanId span_id;
    SpanId parent_span_id;  // invalid (all zero) for a root span
    std::string trace_state;
    std::string name;
    SpanKind kind = SpanKind::kInternal;
    std::uint64_t start_unix_nano = 0;
    std::uint64_t end_unix_nano = 0;
    std::vector<Attribute> attributes;
    SpanStatusCode status = SpanStatusCode::kUnset;
    std::string status_message;  // only with kError
};

// What every span of this process shares (OTLP Resource): service.name and
// the like.
struct Resource {
    std::vector<Attribute> attributes;
};

// The OTLP/HTTP JSON body (an ExportTraceServiceRequest, "JSON Protobuf
// Encoding" of the OTLP specification) carrying `spans` under one resource and
// one instrumentation scope (`scope_name`, `scope_version`): ids as hex
// strings, enums as integers, 64-bit integers (times, int attributes) as
// decimal strings. Pure.
std::string EncodeOtlpJson(const Resource& resource, std::string_view scope_name, std::string_view scope_version,
                           std::span<const SpanData> spans);

// ---------------------------------------------------------------------------
// The tracer: sampling, the bounded queue and the export thread.

// Sends one encoded batch (EncodeOtlpJson) to the collector. Called on the
// tracer's export thread only, one batch at a time. OK = accepted;
// Unavailable = may succeed when retried (connection failure, 429, 502, 503,
// 504); any other error = retrying cannot help.
using SpanSender = std::function<Status(const std::string& body)>;

struct TracerOptions {
    double sample_ratio = 1.0;                // new traces sampled with this probability (0..1)
    std::size_t max_queue_spans = 2048;       // ended spans waiting for export; more are dropped
    std::size_t max_batch_spans = 512;        // spans per export request (1..max_queue_spans)
    double export_interval_seconds = 5;       // a partial batch waits at most this long
    double retry_delay_seconds = 1;           // before the one retry of a batch that failed with Unavailable
    std::string scope_name = "signal-hub";    // instrumentation scope of every span
    std::string scope_version;
};

struct TracerStats {
    std::uint64_t spans_started = 0;          // recording spans begun
    std::uint64_t spans_exported = 0;         // accepted by the collector
    std::uint64_t spans_dropped_queue_full = 0;
    std::uint64_t spans_dropped_export_failed = 0;  // in batches the collector refused or never got
    std::uint64_t spans_dropped_shutdown = 0;       // still queued when Shutdown's deadline passed
    std::uint64_t export_requests_ok = 0;
    std::uint64_t export_requests_failed = 0;  // each attempt, retries included
    std::uint64_t queued = 0;                 // waiting now
    std::uint64_t queue_capacity = 0;
};

class Tracer {
   public:
    // Starts the export thread. InvalidArgument for options out of range.
    static Result<std::unique_ptr<Tracer>> Start(TracerOptions options, Resource resource, SpanSender sender);
    // Shutdown(5 s) if not done.
    ~Tracer();
    Tracer(const Tracer&) = delete;
    Tracer& operator=(const Tracer&) = delete;

    // The sampling decision for a new trace with this id.
    bool SampleNewTrace(const TraceId& trace_id) const;

    // Queues an ended span for export; never blocks on the exporter (the
    // queue's mutex is held only to push). Counted as dropped when the queue
    // is full or the tracer shut down.
    void Submit(SpanData span);
    void CountStarted() { started_.fetch_add(1, std::memory_order_relaxed); }

    // Exports what is queued now (ignoring export_interval) and waits for it,
    // at most `deadline`. OK, or DeadlineExceeded saying how many spans were
    // still waiting.
    Status Flush(std::chrono::milliseconds deadline);
    // Flush, then stops the export thread; later spans are dropped. Idempotent.
    Status Shutdown(std::chrono::milliseconds deadline);

    TracerStats stats() const;
    const TracerOptions& options() const { return options_; }

   private:
    Tracer(TracerOptions options, Resource resource, SpanSender sender);
    void Run();
    bool SendWithRetry(const std::string& body);

    const TracerOptions options_;
    const Resource resource_;
    SpanSender sender_;

    mutable std::mutex mu_;
    std::condition_variable wake_;      // export thread: work or stop
    std::condition_variable progress_;  // Flush: a batch finished
    std::deque<SpanData> queue_;
    std::uint64_t submitted_ = 0;  // spans ever queued
    std::uint64_t finished_ = 0;   // spans ever taken out and sent (or failed)
    std::uint64_t flush_wanted_ = 0;  // export everything up to this submitted_ count now
    bool stopping_ = false;
    bool stopped_ = false;
    std::thread thread_;
    // Export thread only: when the last export failure was logged (at most one warning a minute).
    std::optional<std::chrono::steady_clock::time_point> last_warning_;

    std::atomic<std::uint64_t> started_{0}, exported_{0}, dropped_full_{0}, dropped_failed_{0}, dropped_shutdown_{0};
    std::atomic<std::uint64_t> requests_ok_{0}, requests_failed_{0};
};

// The process-wide tracer; null (the default) = tracing off. Spans already
// started keep the tracer they started with.
void SetTracer(std::shared_ptr<Tracer> tracer);
std::shared_ptr<Tracer> CurrentTracer();
// Cheap check for the hot path: a tracer is installed.
bool TracingEnabled();

// ---------------------------------------------------------------------------
// Spans.

// This thread's current span context (invalid when none).
const SpanContext& CurrentSpanContext();

// Makes `context` this thread's current context until destroyed, then
// restores the previous one. Must be destroyed on the same thread, in
// reverse order of creation (a stack).
class ScopedContext {
   public:
    explicit ScopedContext(const SpanContext& context);
    ~ScopedContext();
    ScopedContext(const ScopedContext&) = delete;
    ScopedContext& operator=(const ScopedContext&) = delete;

   private:
    SpanContext previous_;
};

class Span {
   public:
    // A span that records nothing.
    Span() = default;
    // The span of one request entering over HTTP: a child of `remote_parent`
    // (the caller's traceparent), or else the root of a new trace (sampled by
    // sample_ratio). Without a tracer: a non-recording span whose context is
    // invalid.
    static Span Server(std::string_view name, const std::optional<SpanContext>& remote_parent);
    // A child of `parent` when it is valid (recording when parent.sampled);
    // otherwise, with `start_trace`, the root of a new trace; otherwise a
    // non-recording span whose context is `parent`.
    static Span Start(std::string_view name, SpanKind kind, const SpanContext& parent, bool start_trace = false);

    Span(Span&& other) noexcept;
    Span& operator=(Span&& other) noexcept;
    Span(const Span&) = delete;
    Span& operator=(const Span&) = delete;
    ~Span() { End(); }

    bool recording() const { return tracer_ != nullptr; }
    // The context children use: this span's when it has one, else the parent's.
    const SpanContext& context() const { return context_; }

    // No-ops unless recording. A later value for a key replaces the earlier one.
    void SetAttribute(std::string_view key, std::string_view value);
    void SetAttribute(std::string_view key, const char* value) { SetAttribute(key, std::string_view(value)); }
    void SetAttribute(std::string_view key, std::int64_t value);
    void SetAttribute(std::string_view key, int value) { SetAttribute(key, static_cast<std::int64_t>(value)); }
    void SetAttribute(std::string_view key, std::size_t value) {
        SetAttribute(key, static_cast<std::int64_t>(value));
    }
    void SetAttribute(std::string_view key, double value);
    void SetAttribute(std::string_view key, bool value);
    void SetName(std::string_view name);
    // Status Error with a message (cut to 512 bytes).
    void SetError(std::string_view message);
    // Error when !status.ok() (its message), otherwise nothing.
    void SetStatus(const Status& status);

    // Ends the span (now) and submits it. Later calls do nothing.
    void End();

   private:
    void SetAttributeValue(std::string_view key, Attribute::Value value);

    std::shared_ptr<Tracer> tracer_;  // set while recording
    SpanContext context_;
    std::unique_ptr<SpanData> data_;
};

// A child of this thread's current context that is the current context
// until the end of the scope:
//
//   telemetry::ScopedSpan span("search");
//   span->SetAttribute("signal_hub.search.mode", "hybrid");
//
// With kStartTrace and no current context, it starts a new trace instead.
class ScopedSpan {
   public:
    enum Parentless { kSkip, kStartTrace };
    explicit ScopedSpan(std::string_view name, SpanKind kind = SpanKind::kInternal, Parentless parentless = kSkip);
    ~ScopedSpan();
    ScopedSpan(const ScopedSpan&) = delete;
    ScopedSpan& operator=(const ScopedSpan&) = delete;

    Span* operator->() { return &span_; }
    Span& span() { return span_; }

   private:
    Span span_;
    std::optional<ScopedContext> scope_;
};

}  // namespace signalhub::telemetry
