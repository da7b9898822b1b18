#include "telemetry/trace.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

namespace signalhub::telemetry {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr std::string_view kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view kSpanId = "00f067aa0ba902b7";

TEST(Traceparent, ParsesTheSpecificationsExample) {
    auto ctx = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    ASSERT_TRUE(ctx.has_value());
    EXPECT_EQ(ctx->trace_id.Hex(), kTraceId);
    EXPECT_EQ(ctx->span_id.Hex(), kSpanId);
    EXPECT_TRUE(ctx->sampled);
    auto unsampled = ParseTraceparent(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\t");
    ASSERT_TRUE(unsampled.has_value());
    EXPECT_FALSE(unsampled->sampled);
    // Other flag bits do not make it sampled; bit 0 does.
    EXPECT_FALSE(ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02")->sampled);
    EXPECT_TRUE(ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03")->sampled);
}

TEST(Traceparent, RefusesWhatTheSpecificationCallsInvalid) {
    for (std::string_view bad : {
             "",
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",         // no flags
             "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",      // upper case
             "00-00000000000000000000000000000000-00f067aa0ba902b7-01",      // zero trace id
             "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",      // zero span id
             "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      // version ff
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx",   // version 00 has 4 fields
             "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      // separator
             "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      // version not hex
             "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",      // trace id not hex
             "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",     // future version, bad tail
         }) {
        EXPECT_FALSE(ParseTraceparent(bad).has_value()) << bad;
    }
}

TEST(Traceparent, ReadsAFutureVersionByItsKnownFields) {
    auto ctx = ParseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds");
    ASSERT_TRUE(ctx.has_value());
    EXPECT_EQ(ctx->trace_id.Hex(), kTraceId);
    EXPECT_TRUE(ParseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").has_value());
}

TEST(Traceparent, FormatsWhatItParses) {
    const std::string header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    EXPECT_EQ(FormatTraceparent(*ParseTraceparent(header)), header);
    SpanContext ctx = *ParseTraceparent(header);
    ctx.sampled = false;
    EXPECT_EQ(FormatTraceparent(ctx), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
}

TEST(Traceparent, KeepsOnlyAPlausibleTracestate) {
    EXPECT_EQ(AcceptTracestate(" congo=t61rcWkgMzE,rojo=00f067aa0ba902b7 "), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    EXPECT_EQ(AcceptTracestate(std::string(513, 'a')), "");
    EXPECT_EQ(AcceptTracestate("a=\n"), "");
}

TEST(TraceIds, AreRandomAndNeverZero) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        TraceId t = NewTraceId();
        SpanId s = NewSpanId();
        ASSERT_TRUE(t.valid());
        ASSERT_TRUE(s.valid());
        seen.insert(t.Hex());
    }
    EXPECT_EQ(seen.size(), 1000u);
}

SpanData SampleSpan() {
    SpanData s;
    s.trace_id = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")->trace_id;
    s.span_id = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01")->span_id;
    s.parent_span_id = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")->span_id;
    s.name = "POST /mcp";
    s.kind = SpanKind::kServer;
    s.start_unix_nano = 1764504000123456789ULL;
    s.end_unix_nano = 1764504000223456789ULL;
    s.attributes = {{"http.request.method", std::string("POST")},
                    {"http.response.status_code", std::int64_t{200}},
                    {"ratio", 0.5},
                    {"cache.hit", true}};
    s.status = SpanStatusCode::kError;
    s.status_message = "boom";
    return s;
}

TEST(OtlpJson, EncodesTheExportRequestAsTheSpecificationSays) {
    Resource resource{{{"service.name", std::string("signal-hub")}}};
    std::vector<SpanData> spans{SampleSpan()};
    spans.push_back(SampleSpan());
    spans[1].parent_span_id = SpanId{};
    spans[1].status = SpanStatusCode::kUnset;
    spans[1].trace_state = "congo=t61rcWkgMzE";
    Json body = Json::parse(EncodeOtlpJson(resource, "signal-hub", "1.2.3", spans));
    const Json& rs = body.at("resourceSpans").at(0);
    EXPECT_EQ(rs.at("resource").at("attributes"),
              Json::parse(R"([{"key":"service.name","value":{"stringValue":"signal-hub"}}])"));
    const Json& ss = rs.at("scopeSpans").at(0);
    EXPECT_EQ(ss.at("scope"), Json::parse(R"({"name":"signal-hub","version":"1.2.3"})"));
    const Json& s = ss.at("spans").at(0);
    EXPECT_EQ(s.at("traceId"), kTraceId);
    EXPECT_EQ(s.at("spanId"), "1111111111111111");
    EXPECT_EQ(s.at("parentSpanId"), kSpanId);
    EXPECT_EQ(s.at("kind"), 2);
    EXPECT_EQ(s.at("startTimeUnixNano"), "1764504000123456789");  // 64-bit integers as strings
    EXPECT_EQ(s.at("endTimeUnixNano"), "1764504000223456789");
    EXPECT_EQ(s.at("attributes"), Json::parse(R"([
        {"key":"http.request.method","value":{"stringValue":"POST"}},
        {"key":"http.response.status_code","value":{"intValue":"200"}},
        {"key":"ratio","value":{"doubleValue":0.5}},
        {"key":"cache.hit","value":{"boolValue":true}}])"));
    EXPECT_EQ(s.at("status"), Json::parse(R"({"code":2,"message":"boom"})"));
    EXPECT_FALSE(s.contains("traceState"));
    const Json& root = ss.at("spans").at(1);
    EXPECT_FALSE(root.contains("parentSpanId"));
    EXPECT_FALSE(root.contains("status"));
    EXPECT_EQ(root.at("traceState"), "congo=t61rcWkgMzE");
}

// A sender the test controls: records bodies, can block and can fail.
struct FakeCollector {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Json> bodies;
    std::vector<Status> replies;  // consumed in order; OK once empty
    bool blocked = false;
    int calls = 0;

    SpanSender Sender() {
        return [this](const std::string& body) {
            std::unique_lock<std::mutex> lock(mu);
            ++calls;
            cv.notify_all();
            cv.wait(lock, [&] { return !blocked; });
            Status reply = Status::Ok();
            if (!replies.empty()) {
                reply = replies.front();
                replies.erase(replies.begin());
            }
            if (reply.ok()) bodies.push_back(Json::parse(body));
            return reply;
        };
    }
    std::vector<Json> Spans() {
        std::lock_guard<std::mutex> lock(mu);
        std::vector<Json> out;
        for (const Json& b : bodies)
            for (const Json& s : b["resourceSpans"][0]["scopeSpans"][0]["spans"]) out.push_back(s);
        return out;
    }
};

struct TracerFixture : ::testing::Test {
    FakeCollector collector;
    std::shared_ptr<Tracer> tracer;

    void Install(TracerOptions options) {
        auto started = Tracer::Start(options, Resource{{{"service.name", std::string("test")}}}, collector.Sender());
        ASSERT_TRUE(started.ok()) << started.status().message();
        tracer = std::move(*started);
        SetTracer(tracer);
    }
    void TearDown() override {
        {
            std::lock_guard<std::mutex> lock(collector.mu);
            collector.blocked = false;
        }
        collector.cv.notify_all();
        SetTracer(nullptr);
        if (tracer) (void)tracer->Shutdown(5s);
    }
};

TEST_F(TracerFixture, ChildrenShareTheTraceAndNameTheirParent) {
    Install(TracerOptions{});
    const SpanContext remote = *ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    SpanContext server_ctx;
    {
        Span server = Span::Server("POST /mcp", remote);
        ASSERT_TRUE(server.recording());
        server_ctx = server.context();
        ScopedContext scope(server.context());
        {
            ScopedSpan tool("tools/call search_code");
            tool->SetAttribute("gen_ai.tool.name", "search_code");
            EXPECT_EQ(CurrentSpanContext().span_id, tool->context().span_id);
            ScopedSpan db("SELECT", SpanKind::kClient);
            db->SetStatus(Status(ErrorCode::kUnavailable, "server closed the connection"));
        }
        EXPECT_EQ(CurrentSpanContext().span_id, server.context().span_id);
    }
    EXPECT_FALSE(CurrentSpanContext().valid());
    ASSERT_TRUE(tracer->Flush(5s).ok());
    auto spans = collector.Spans();
    ASSERT_EQ(spans.size(), 3u);
    std::map<std::string, Json> by_name;
    for (const Json& s : spans) by_name[s["name"]] = s;
    for (const auto& [name, s] : by_name) EXPECT_EQ(s["traceId"], kTraceId) << name;
    EXPECT_EQ(by_name["POST /mcp"]["parentSpanId"], kSpanId);
    EXPECT_EQ(by_name["POST /mcp"]["spanId"], server_ctx.span_id.Hex());
    EXPECT_EQ(by_name["tools/call search_code"]["parentSpanId"], server_ctx.span_id.Hex());
    EXPECT_EQ(by_name["SELECT"]["parentSpanId"], by_name["tools/call search_code"]["spanId"]);
    EXPECT_EQ(by_name["SELECT"]["kind"], 3);
    EXPECT_EQ(by_name["SELECT"]["status"]["code"], 2);
    EXPECT_EQ(by_name["SELECT"]["status"]["message"], "server closed the connection");
    EXPECT_EQ(tracer->stats().spans_started, 3u);
    EXPECT_EQ(tracer->stats().spans_exported, 3u);
}

TEST_F(TracerFixture, AnUnsampledCallerIsNotRecordedButItsContextTravels) {
    Install(TracerOptions{});
    const SpanContext remote = *ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    Span server = Span::Server("POST /mcp", remote);
    EXPECT_FALSE(server.recording());
    EXPECT_EQ(server.context().trace_id.Hex(), kTraceId);
    ScopedContext scope(server.context());
    ScopedSpan child("search");
    EXPECT_FALSE(child->recording());
    EXPECT_EQ(FormatTraceparent(CurrentSpanContext()), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
}

TEST_F(TracerFixture, WorkWithoutAContextIsNotTracedUnlessItStartsATrace) {
    Install(TracerOptions{});
    {
        ScopedSpan background("embeddings");
        EXPECT_FALSE(background->recording());
        EXPECT_FALSE(CurrentSpanContext().valid());
        ScopedSpan stdio_request("tools/call", SpanKind::kServer, ScopedSpan::kStartTrace);
        EXPECT_TRUE(stdio_request->recording());
        EXPECT_TRUE(CurrentSpanContext().valid());
    }
    ASSERT_TRUE(tracer->Flush(5s).ok());
    auto spans = collector.Spans();
    ASSERT_EQ(spans.size(), 1u);
    EXPECT_FALSE(spans[0].contains("parentSpanId"));
}

TEST_F(TracerFixture, NewTracesAreSampledByRatioFromTheTraceId) {
    TracerOptions options;
    options.sample_ratio = 0.25;
    Install(options);
    int sampled = 0;
    for (int i = 0; i < 4000; ++i) sampled += Span::Server("GET /x", std::nullopt).recording() ? 1 : 0;
    EXPECT_GT(sampled, 800);   // 1000 expected; these bounds fail with probability < 1e-12
    EXPECT_LT(sampled, 1200);
    // The decision is a function of the trace id: every replica makes the same one.
    TraceId low{}, high{};
    low.bytes[15] = 1;
    high.bytes.fill(0xff);
    EXPECT_TRUE(tracer->SampleNewTrace(low));
    EXPECT_FALSE(tracer->SampleNewTrace(high));
}

TEST_F(TracerFixture, WithoutATracerNothingIsRecordedOrPropagated) {
    Span server = Span::Server("POST /mcp", ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    EXPECT_FALSE(server.recording());
    EXPECT_FALSE(server.context().valid());
    ScopedSpan child("search", SpanKind::kInternal, ScopedSpan::kStartTrace);
    EXPECT_FALSE(child->recording());
    EXPECT_FALSE(CurrentSpanContext().valid());
}

TEST_F(TracerFixture, AFullQueueDropsAndCountsInsteadOfBlocking) {
    TracerOptions options;
    options.max_queue_spans = 4;
    options.max_batch_spans = 2;
    options.export_interval_seconds = 10;  // only a full batch (or Flush) starts an export
    Install(options);
    {
        std::lock_guard<std::mutex> lock(collector.mu);
        collector.blocked = true;
    }
    // The first batch is taken out of the queue and its export blocks in the collector.
    Span::Start("a", SpanKind::kInternal, {}, true).End();
    Span::Start("b", SpanKind::kInternal, {}, true).End();
    {
        std::unique_lock<std::mutex> lock(collector.mu);
        ASSERT_TRUE(collector.cv.wait_for(lock, 10s, [&] { return collector.calls == 1; }));
    }
    // With the exporter stuck, ending spans still returns at once: 4 fit, the other 6 are dropped.
    for (int i = 0; i < 10; ++i) Span::Start("c", SpanKind::kInternal, {}, true).End();
    TracerStats stats = tracer->stats();
    EXPECT_EQ(stats.queued, 4u);
    EXPECT_EQ(stats.spans_dropped_queue_full, 6u);
    EXPECT_EQ(stats.queue_capacity, 4u);
    {
        std::lock_guard<std::mutex> lock(collector.mu);
        collector.blocked = false;
    }
    collector.cv.notify_all();
    ASSERT_TRUE(tracer->Flush(10s).ok());
    stats = tracer->stats();
    EXPECT_EQ(stats.spans_exported, 6u);
    EXPECT_EQ(stats.spans_started, 12u);
    EXPECT_EQ(collector.Spans().size(), 6u);
}

TEST_F(TracerFixture, RetriesOnceWhenTheCollectorIsUnavailableThenDrops) {
    TracerOptions options;
    options.retry_delay_seconds = 0;
    Install(options);
    collector.replies = {Status(ErrorCode::kUnavailable, "HTTP 503"), Status::Ok()};
    Span::Start("retried", SpanKind::kInternal, {}, true).End();
    ASSERT_TRUE(tracer->Flush(5s).ok());
    EXPECT_EQ(collector.Spans().size(), 1u);
    EXPECT_EQ(tracer->stats().export_requests_failed, 1u);
    EXPECT_EQ(tracer->stats().export_requests_ok, 1u);

    {
        std::lock_guard<std::mutex> lock(collector.mu);
        collector.replies = {Status(ErrorCode::kUnavailable, "HTTP 503"), Status(ErrorCode::kUnavailable, "HTTP 503"),
                             Status(ErrorCode::kInvalidArgument, "HTTP 400")};
    }
    Span::Start("lost", SpanKind::kInternal, {}, true).End();
    ASSERT_TRUE(tracer->Flush(5s).ok());
    Span::Start("refused", SpanKind::kInternal, {}, true).End();  // 400: not retried
    ASSERT_TRUE(tracer->Flush(5s).ok());
    TracerStats stats = tracer->stats();
    EXPECT_EQ(stats.spans_dropped_export_failed, 2u);
    EXPECT_EQ(stats.export_requests_failed, 4u);
    EXPECT_EQ(stats.spans_exported, 1u);
}

TEST_F(TracerFixture, ExportsAPartialBatchAfterTheInterval) {
    TracerOptions options;
    options.export_interval_seconds = 0.05;
    Install(options);
    Span::Start("lonely", SpanKind::kInternal, {}, true).End();
    for (int i = 0; i < 200 && tracer->stats().spans_exported == 0; ++i) std::this_thread::sleep_for(50ms);
    EXPECT_EQ(tracer->stats().spans_exported, 1u);  // without any Flush
}

TEST_F(TracerFixture, ShutdownDropsWhatItCouldNotSendInTime) {
    TracerOptions options;
    options.max_batch_spans = 1;
    Install(options);
    {
        std::lock_guard<std::mutex> lock(collector.mu);
        collector.blocked = true;
    }
    for (int i = 0; i < 3; ++i) Span::Start("x", SpanKind::kInternal, {}, true).End();
    std::thread unblock([&] {
        std::this_thread::sleep_for(300ms);
        std::lock_guard<std::mutex> lock(collector.mu);
        collector.blocked = false;
        collector.cv.notify_all();
    });
    Status shut = tracer->Shutdown(100ms);
    unblock.join();
    EXPECT_EQ(shut.code(), ErrorCode::kDeadlineExceeded) << shut.message();
    Span::Start("late", SpanKind::kInternal, {}, true).End();
    TracerStats stats = tracer->stats();
    // One batch was in flight when the deadline passed and got out; the rest, and the late span, did not.
    EXPECT_EQ(stats.spans_exported, 1u);
    EXPECT_EQ(stats.spans_dropped_shutdown, 3u);
}

TEST(TracerOptions, AreValidated) {
    auto sender = [](const std::string&) { return Status::Ok(); };
    TracerOptions bad_ratio;
    bad_ratio.sample_ratio = 1.5;
    EXPECT_EQ(Tracer::Start(bad_ratio, {}, sender).status().code(), ErrorCode::kInvalidArgument);
    TracerOptions bad_batch;
    bad_batch.max_batch_spans = bad_batch.max_queue_spans + 1;
    auto r = Tracer::Start(bad_batch, {}, sender);
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("max_batch_spans"), std::string::npos);
}

}  // namespace
}  // namespace signalhub::telemetry
