#include "telemetry/trace.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include <nlohmann/json.hpp>

#include "telemetry/log.hpp"

namespace signalhub::telemetry {

namespace {

using Json = nlohmann::json;

constexpr char kHex[] = "0123456789abcdef";
constexpr std::size_t kMaxStringAttribute = 4096;
constexpr std::size_t kMaxStatusMessage = 512;
constexpr std::size_t kMaxAttributes = 64;

template <std::size_t N>
std::string ToHex(const std::array<std::uint8_t, N>& bytes) {
    std::string out(2 * N, '0');
    for (std::size_t i = 0; i < N; ++i) {
        out[2 * i] = kHex[bytes[i] >> 4];
        out[2 * i + 1] = kHex[bytes[i] & 0xf];
    }
    return out;
}

int HexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;  // upper case is invalid in traceparent
}

template <std::size_t N>
bool FromHex(std::string_view text, std::array<std::uint8_t, N>& out) {
    if (text.size() != 2 * N) return false;
    for (std::size_t i = 0; i < N; ++i) {
        const int hi = HexDigit(text[2 * i]), lo = HexDigit(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return true;
}

template <std::size_t N>
bool AllZero(const std::array<std::uint8_t, N>& bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

std::mt19937_64& Prng() {
    thread_local std::mt19937_64 prng = [] {
        std::random_device device;
        std::seed_seq seed{device(), device(), device(), device(), device(), device(), device(), device()};
        return std::mt19937_64(seed);
    }();
    return prng;
}

template <std::size_t N>
void FillRandom(std::array<std::uint8_t, N>& bytes) {
    do {
        for (std::size_t i = 0; i < N; i += 8) {
            const std::uint64_t word = Prng()();
            std::memcpy(bytes.data() + i, &word, std::min<std::size_t>(8, N - i));
        }
    } while (AllZero(bytes));
}

std::string_view Trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::uint64_t NowUnixNano() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

std::string Cut(std::string_view s, std::size_t max) {
    if (s.size() <= max) return std::string(s);
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // not inside a UTF-8 sequence
    return std::string(s.substr(0, n));
}

Json AnyValue(const Attribute::Value& value) {
    return std::visit(
        [](const auto& v) -> Json {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>) {
                return Json{{"stringValue", v}};
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
                return Json{{"intValue", std::to_string(v)}};  // int64 as a decimal string (proto3 JSON)
            } else if constexpr (std::is_same_v<T, double>) {
                if (std::isnan(v)) return Json{{"doubleValue", "NaN"}};
                if (std::isinf(v)) return Json{{"doubleValue", v > 0 ? "Infinity" : "-Infinity"}};
                return Json{{"doubleValue", v}};
            } else {
                return Json{{"boolValue", v}};
            }
        },
        value);
}

Json Attributes(const std::vector<Attribute>& attributes) {
    Json out = Json::array();
    for (const Attribute& a : attributes) out.push_back(Json{{"key", a.key}, {"value", AnyValue(a.value)}});
    return out;
}

// ---- the process-wide tracer and the thread's context ----------------------

std::mutex g_tracer_mu;
std::shared_ptr<Tracer> g_tracer;
std::atomic<bool> g_tracing{false};

thread_local SpanContext t_current;

}  // namespace

bool TraceId::valid() const { return !AllZero(bytes); }
std::string TraceId::Hex() const { return ToHex(bytes); }
bool SpanId::valid() const { return !AllZero(bytes); }
std::string SpanId::Hex() const { return ToHex(bytes); }

TraceId NewTraceId() {
    TraceId id;
    FillRandom(id.bytes);
    return id;
}

SpanId NewSpanId() {
    SpanId id;
    FillRandom(id.bytes);
    return id;
}

std::optional<SpanContext> ParseTraceparent(std::string_view header) {
    header = Trim(header);
    // version "-" trace-id "-" parent-id "-" trace-flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55
    constexpr std::size_t kLength = 55;
    if (header.size() < kLength) return std::nullopt;
    std::array<std::uint8_t, 1> version{}, flags{};
    if (!FromHex(header.substr(0, 2), version) || version[0] == 0xff) return std::nullopt;
    if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
    // Version 00 is exactly 55 characters; a later version may append "-...".
    if (version[0] == 0 ? header.size() != kLength : (header.size() > kLength && header[kLength] != '-'))
        return std::nullopt;
    SpanContext context;
    if (!FromHex(header.substr(3, 32), context.trace_id.bytes) || !FromHex(header.substr(36, 16), context.span_id.bytes) ||
        !FromHex(header.substr(53, 2), flags))
        return std::nullopt;
    if (!context.valid()) return std::nullopt;
    context.sampled = (flags[0] & 0x01) != 0;
    return context;
}

std::string FormatTraceparent(const SpanContext& context) {
    return "00-" + context.trace_id.Hex() + "-" + context.span_id.Hex() + (context.sampled ? "-01" : "-00");
}

std::string AcceptTracestate(std::string_view header) {
    header = Trim(header);
    if (header.size() > 512) return "";
    for (char c : header)
        if (c < 0x20 || c > 0x7e) return "";
    return std::string(header);
}

std::string EncodeOtlpJson(const Resource& resource, std::string_view scope_name, std::string_view scope_version,
                           std::span<const SpanData> spans) {
    Json list = Json::array();
    for (const SpanData& s : spans) {
        Json span = {{"traceId", s.trace_id.Hex()},
                     {"spanId", s.span_id.Hex()},
                     {"name", s.name},
                     {"kind", static_cast<int>(s.kind)},
                     {"startTimeUnixNano", std::to_string(s.start_unix_nano)},
                     {"endTimeUnixNano", std::to_string(s.end_unix_nano)},
                     {"attributes", Attributes(s.attributes)}};
        if (s.parent_span_id.valid()) span["parentSpanId"] = s.parent_span_id.Hex();
        if (!s.trace_state.empty()) span["traceState"] = s.trace_state;
        if (s.status != SpanStatusCode::kUnset) {
            Json status = {{"code", static_cast<int>(s.status)}};
            if (!s.status_message.empty()) status["message"] = s.status_message;
            span["status"] = std::move(status);
        }
        list.push_back(std::move(span));
    }
    Json scope = {{"name", scope_name}};
    if (!scope_version.empty()) scope["version"] = scope_version;
    Json body = {{"resourceSpans",
                  Json::array({Json{{"resource", {{"attributes", Attributes(resource.attributes)}}},
                                    {"scopeSpans", Json::array({Json{{"scope", scope}, {"spans", list}}})}}})}};
    return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// ---- Tracer -----------------------------------------------------------------

Result<std::unique_ptr<Tracer>> Tracer::Start(TracerOptions options, Resource resource, SpanSender sender) {
    auto bad = [](std::string message) { return Status(ErrorCode::kInvalidArgument, "tracing: " + message); };
    if (!(options.sample_ratio >= 0 && options.sample_ratio <= 1))
        return bad("sample_ratio must be between 0 and 1 (got " + std::to_string(options.sample_ratio) + ")");
    if (options.max_queue_spans < 1) return bad("max_queue_spans must be at least 1");
    if (options.max_batch_spans < 1 || options.max_batch_spans > options.max_queue_spans)
        return bad("max_batch_spans must be 1.." + std::to_string(options.max_queue_spans) + " (got " +
                   std::to_string(options.max_batch_spans) + ")");
    if (!(options.export_interval_seconds > 0)) return bad("export_interval must be above 0 seconds");
    if (!(options.retry_delay_seconds >= 0)) return bad("retry delay must not be negative");
    if (!sender) return bad("no span sender");
    std::unique_ptr<Tracer> tracer(new Tracer(std::move(options), std::move(resource), std::move(sender)));
    tracer->thread_ = std::thread([t = tracer.get()] { t->Run(); });
    return tracer;
}

Tracer::Tracer(TracerOptions options, Resource resource, SpanSender sender)
    : options_(std::move(options)), resource_(std::move(resource)), sender_(std::move(sender)) {}

Tracer::~Tracer() { (void)Shutdown(std::chrono::seconds(5)); }

bool Tracer::SampleNewTrace(const TraceId& trace_id) const {
    if (options_.sample_ratio >= 1) return true;
    if (options_.sample_ratio <= 0) return false;
    // TraceIdRatioBased: the trace id's last 8 bytes, read as a big-endian number, below ratio * 2^64.
    std::uint64_t low = 0;
    for (std::size_t i = 8; i < 16; ++i) low = low << 8 | trace_id.bytes[i];
    const double bound = options_.sample_ratio * 18446744073709551616.0;  // 2^64
    return static_cast<double>(low) < bound;
}

void Tracer::Submit(SpanData span) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
        dropped_shutdown_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    if (queue_.size() >= options_.max_queue_spans) {
        dropped_full_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    queue_.push_back(std::move(span));
    ++submitted_;
    if (queue_.size() == options_.max_batch_spans) wake_.notify_one();
}

Status Tracer::Flush(std::chrono::milliseconds deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    const std::uint64_t target = submitted_;
    flush_wanted_ = std::max(flush_wanted_, target);
    wake_.notify_one();
    const bool done = progress_.wait_for(lock, deadline, [&] { return finished_ >= target || stopped_; });
    if (done && finished_ >= target) return Status::Ok();
    return Status(ErrorCode::kDeadlineExceeded, "tracing: " + std::to_string(target - std::min(target, finished_)) +
                                    " spans not exported within " + std::to_string(deadline.count()) + " ms");
}

Status Tracer::Shutdown(std::chrono::milliseconds deadline) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return Status::Ok();
    }
    Status flushed = Flush(deadline);
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    return flushed;
}

TracerStats Tracer::stats() const {
    TracerStats s;
    s.spans_started = started_.load(std::memory_order_relaxed);
    s.spans_exported = exported_.load(std::memory_order_relaxed);
    s.spans_dropped_queue_full = dropped_full_.load(std::memory_order_relaxed);
    s.spans_dropped_export_failed = dropped_failed_.load(std::memory_order_relaxed);
    s.spans_dropped_shutdown = dropped_shutdown_.load(std::memory_order_relaxed);
    s.export_requests_ok = requests_ok_.load(std::memory_order_relaxed);
    s.export_requests_failed = requests_failed_.load(std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(mu_);
    s.queued = queue_.size();
    s.queue_capacity = options_.max_queue_spans;
    return s;
}

void Tracer::Run() {
    const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(options_.export_interval_seconds));
    std::unique_lock<std::mutex> lock(mu_);
    auto next_export = std::chrono::steady_clock::now() + interval;
    for (;;) {
        wake_.wait_until(lock, next_export, [&] {
            return stopping_ || queue_.size() >= options_.max_batch_spans ||
                   (flush_wanted_ > finished_ && !queue_.empty());
        });
        if (stopping_) break;
        if (queue_.empty()) {
            next_export = std::chrono::steady_clock::now() + interval;
            continue;
        }
        const bool full = queue_.size() >= options_.max_batch_spans;
        const bool flush = flush_wanted_ > finished_;
        if (!full && !flush && std::chrono::steady_clock::now() < next_export) continue;  // spurious wake-up
        const std::size_t n = std::min(queue_.size(), options_.max_batch_spans);
        std::vector<SpanData> batch;
        batch.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        lock.unlock();
        const bool ok = SendWithRetry(EncodeOtlpJson(resource_, options_.scope_name, options_.scope_version, batch));
        (ok ? exported_ : dropped_failed_).fetch_add(n, std::memory_order_relaxed);
        lock.lock();
        finished_ += n;
        progress_.notify_all();
        if (queue_.size() < options_.max_batch_spans) next_export = std::chrono::steady_clock::now() + interval;
    }
    // Whatever Shutdown's flush did not get out in time.
    dropped_shutdown_.fetch_add(queue_.size(), std::memory_order_relaxed);
    finished_ += queue_.size();
    queue_.clear();
    stopped_ = true;
    progress_.notify_all();
}

bool Tracer::SendWithRetry(const std::string& body) {
    Status status = sender_(body);
    if (status.ok()) {
        requests_ok_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    requests_failed_.fetch_add(1, std::memory_order_relaxed);
    if (status.code() == ErrorCode::kUnavailable) {
        bool stop = false;
        {
            std::unique_lock<std::mutex> lock(mu_);
            stop = wake_.wait_for(lock, std::chrono::duration<double>(options_.retry_delay_seconds),
                                  [&] { return stopping_; });
        }
        if (!stop) {
            status = sender_(body);
            if (status.ok()) {
                requests_ok_.fetch_add(1, std::memory_order_relaxed);
                return true;
            }
            requests_failed_.fetch_add(1, std::memory_order_relaxed);
        }
    }
    const auto now = std::chrono::steady_clock::now();
    if (!last_warning_ || now - *last_warning_ >= std::chrono::minutes(1)) {
        last_warning_ = now;
        Warn("trace export failed; the batch is dropped (more failures within a minute are not logged)",
             {{"error", status.message()}});
    }
    return false;
}

void SetTracer(std::shared_ptr<Tracer> tracer) {
    std::lock_guard<std::mutex> lock(g_tracer_mu);
    g_tracing.store(tracer != nullptr, std::memory_order_release);
    g_tracer = std::move(tracer);
}

std::shared_ptr<Tracer> CurrentTracer() {
    if (!g_tracing.load(std::memory_order_acquire)) return nullptr;
    std::lock_guard<std::mutex> lock(g_tracer_mu);
    return g_tracer;
}

bool TracingEnabled() { return g_tracing.load(std::memory_order_relaxed); }

// ---- context and spans --------------------------------------------------------

const SpanContext& CurrentSpanContext() { return t_current; }

ScopedContext::ScopedContext(const SpanContext& context) : previous_(std::move(t_current)) { t_current = context; }
ScopedContext::~ScopedContext() { t_current = std::move(previous_); }

Span Span::Server(std::string_view name, const std::optional<SpanContext>& remote_parent) {
    return Start(name, SpanKind::kServer, remote_parent ? *remote_parent : SpanContext{}, true);
}

Span Span::Start(std::string_view name, SpanKind kind, const SpanContext& parent, bool start_trace) {
    Span span;
    std::shared_ptr<Tracer> tracer = CurrentTracer();
    if (!tracer) return span;  // tracing off: no context at all, nothing is propagated
    SpanId parent_id;
    if (parent.valid()) {
        span.context_ = parent;
        if (!parent.sampled) return span;  // the caller decided not to record this trace
        span.context_.span_id = NewSpanId();
        parent_id = parent.span_id;
    } else {
        if (!start_trace) return span;
        span.context_.trace_id = NewTraceId();
        span.context_.span_id = NewSpanId();
        span.context_.sampled = tracer->SampleNewTrace(span.context_.trace_id);
        if (!span.context_.sampled) return span;
    }
    span.data_ = std::make_unique<SpanData>();
    span.data_->trace_id = span.context_.trace_id;
    span.data_->span_id = span.context_.span_id;
    span.data_->parent_span_id = parent_id;
    span.data_->trace_state = span.context_.trace_state;
    span.data_->name = std::string(name);
    span.data_->kind = kind;
    span.data_->start_unix_nano = NowUnixNano();
    tracer->CountStarted();
    span.tracer_ = std::move(tracer);
    return span;
}

Span::Span(Span&& other) noexcept
    : tracer_(std::move(other.tracer_)), context_(std::move(other.context_)), data_(std::move(other.data_)) {}

Span& Span::operator=(Span&& other) noexcept {
    if (this != &other) {
        End();
        tracer_ = std::move(other.tracer_);
        context_ = std::move(other.context_);
        data_ = std::move(other.data_);
    }
    return *this;
}

void Span::SetAttributeValue(std::string_view key, Attribute::Value value) {
    if (!tracer_) return;
    for (Attribute& a : data_->attributes) {
        if (a.key == key) {
            a.value = std::move(value);
            return;
        }
    }
    if (data_->attributes.size() < kMaxAttributes) data_->attributes.push_back(Attribute{std::string(key), std::move(value)});
}

void Span::SetAttribute(std::string_view key, std::string_view value) {
    if (tracer_) SetAttributeValue(key, Cut(value, kMaxStringAttribute));
}
void Span::SetAttribute(std::string_view key, std::int64_t value) { SetAttributeValue(key, value); }
void Span::SetAttribute(std::string_view key, double value) { SetAttributeValue(key, value); }
void Span::SetAttribute(std::string_view key, bool value) { SetAttributeValue(key, value); }

void Span::SetName(std::string_view name) {
    if (tracer_) data_->name = std::string(name);
}

void Span::SetError(std::string_view message) {
    if (!tracer_) return;
    data_->status = SpanStatusCode::kError;
    data_->status_message = Cut(message, kMaxStatusMessage);
}

void Span::SetStatus(const Status& status) {
    if (!status.ok()) SetError(status.message());
}

void Span::End() {
    if (!tracer_) return;
    data_->end_unix_nano = std::max(NowUnixNano(), data_->start_unix_nano);
    std::shared_ptr<Tracer> tracer = std::move(tracer_);
    tracer_.reset();
    tracer->Submit(std::move(*data_));
    data_.reset();
}

ScopedSpan::ScopedSpan(std::string_view name, SpanKind kind, Parentless parentless) {
    if (!TracingEnabled()) return;
    const SpanContext& current = CurrentSpanContext();
    span_ = Span::Start(name, kind, current, parentless == kStartTrace);
    // A new context (a recording child, or a new unsampled trace) becomes current.
    if (span_.context().valid() && !(span_.context().span_id == current.span_id)) scope_.emplace(span_.context());
}

ScopedSpan::~ScopedSpan() {
    scope_.reset();
    span_.End();
}

}  // namespace signalhub::telemetry
