#include "mcp/server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "embed/embedder.hpp"
#include "mcp/stdio_transport.hpp"
#include "mcp/tools.hpp"

namespace signalhub::mcp {
namespace {

using Json = nlohmann::json;

Json Call(Session& s, const Json& message) {
    auto reply = s.HandleMessage(message.dump());
    EXPECT_TRUE(reply.has_value()) << message.dump();
    return reply ? Json::parse(*reply) : Json();
}

Json Request(int id, const std::string& method, Json params = Json::object()) {
    return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}

void Initialize(Session& s, const std::string& version = "2025-06-18") {
    Json r = Call(s, Request(1, "initialize",
                             {{"protocolVersion", version}, {"capabilities", Json::object()},
                              {"clientInfo", {{"name", "test"}, {"version", "1"}}}}));
    ASSERT_TRUE(r.contains("result")) << r.dump();
    EXPECT_FALSE(s.HandleMessage(R"({"jsonrpc":"2.0","method":"notifications/initialized"})").has_value());
}

Tool EchoTool() {
    return {.name = "echo",
            .title = "Echo",
            .description = "Echoes its text argument",
            .input_schema = Json::parse(R"({"type":"object","properties":{"text":{"type":"string"}},"required":["text"]})"),
            .output_schema = Json::parse(R"({"type":"object","properties":{"text":{"type":"string"}}})"),
            .handler = [](const Json& args, const Caller&) -> Result<ToolResult> {
                if (!args.contains("text") || !args["text"].is_string()) return InvalidArgument("text is required");
                std::string t = args["text"];
                if (t == "fail") return Unavailable("the backend is down");
                return ToolResult{t, Json{{"text", t}}};
            }};
}

TEST(McpServer, ObserverCountsRequestsAndToolCallsWithBoundedNames) {
    Server server(ServerInfo{});
    server.AddTool(EchoTool());
    std::vector<std::pair<std::string, bool>> requests;
    std::vector<std::pair<std::string, bool>> calls;
    ServerObserver observer;
    observer.on_request = [&](std::string_view method, bool ok) { requests.emplace_back(method, ok); };
    observer.on_tool_call = [&](std::string_view tool, bool ok, double seconds) {
        EXPECT_GE(seconds, 0);
        calls.emplace_back(tool, ok);
    };
    server.SetObserver(observer);
    Session s(server);
    Initialize(s);
    Call(s, Request(2, "tools/list"));
    Call(s, Request(3, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "hi"}}}}));
    Call(s, Request(4, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "fail"}}}}));  // isError
    Call(s, Request(5, "tools/call", {{"name", "echo"}, {"arguments", Json::object()}}));      // -32602
    Call(s, Request(6, "tools/call", {{"name", "no such tool"}}));
    Call(s, Request(7, "resources/list"));
    EXPECT_EQ(*s.HandleMessage("{not json"), s.HandleMessage("{not json").value());
    const std::vector<std::pair<std::string, bool>> want_requests = {
        {"initialize", true}, {"tools/list", true},  {"tools/call", true}, {"tools/call", true},
        {"tools/call", false}, {"tools/call", false}, {"other", false},    {"other", false},
        {"other", false}};
    EXPECT_EQ(requests, want_requests);
    const std::vector<std::pair<std::string, bool>> want_calls = {
        {"echo", true}, {"echo", false}, {"echo", false}, {"other", false}};
    EXPECT_EQ(calls, want_calls);
}

// A one-shot event with a bounded wait (a test that would hang fails instead).
class Event {
   public:
    void Set() {
        std::lock_guard<std::mutex> lock(mu_);
        set_ = true;
        cv_.notify_all();
    }
    bool WaitFor(std::chrono::seconds limit = std::chrono::seconds(60)) {
        std::unique_lock<std::mutex> lock(mu_);
        return cv_.wait_for(lock, limit, [&] { return set_; });
    }

   private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool set_ = false;
};

// Counts arrivals; Wait returns once `n` have arrived.
class Barrier {
   public:
    explicit Barrier(int n) : left_(n) {}
    bool ArriveAndWait() {
        std::unique_lock<std::mutex> lock(mu_);
        if (--left_ <= 0) cv_.notify_all();
        return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return left_ <= 0; });
    }

   private:
    std::mutex mu_;
    std::condition_variable cv_;
    int left_;
};

// "block": signals `entered`, then waits for `release`.
Tool BlockingTool(Event& entered, Event& release) {
    return {.name = "block",
            .title = "Block",
            .description = "Waits until the test releases it",
            .input_schema = Json{{"type", "object"}},
            .output_schema = Json{{"type", "object"}},
            .handler = [&entered, &release](const Json&, const Caller&) -> Result<ToolResult> {
                entered.Set();
                if (!release.WaitFor()) return DeadlineExceeded("never released");
                return ToolResult{"done", Json::object()};
            }};
}

TEST(McpServer, NegotiatesProtocolVersion) {
    Server server(ServerInfo{});
    for (const std::string v : {"2025-06-18", "2025-03-26", "2024-11-05"}) {
        Session s(server);
        Json r = Call(s, Request(1, "initialize", {{"protocolVersion", v}, {"capabilities", Json::object()}}));
        EXPECT_EQ(r["result"]["protocolVersion"], v);
        EXPECT_EQ(r["result"]["serverInfo"]["name"], "signal-hub");
        EXPECT_TRUE(r["result"]["capabilities"].contains("tools"));
    }
    Session s(server);
    Json r = Call(s, Request(1, "initialize", {{"protocolVersion", "1999-01-01"}}));
    EXPECT_EQ(r["result"]["protocolVersion"], SupportedProtocolVersions().front());
    r = Call(s, Request(2, "initialize", Json::object()));
    EXPECT_EQ(r["error"]["code"], kInvalidParams);
}

TEST(McpServer, LifecycleAndPing) {
    Server server(ServerInfo{});
    server.AddTool(EchoTool());
    Session s(server);
    EXPECT_EQ(Call(s, Request(7, "ping"))["result"], Json::object());  // allowed any time
    Json early = Call(s, Request(8, "tools/list"));
    EXPECT_EQ(early["error"]["code"], kInvalidRequest);
    Initialize(s);
    EXPECT_TRUE(s.initialized());
    Json list = Call(s, Request(9, "tools/list"));
    ASSERT_EQ(list["result"]["tools"].size(), 1u);
    EXPECT_EQ(list["result"]["tools"][0]["name"], "echo");
    EXPECT_EQ(list["result"]["tools"][0]["inputSchema"]["type"], "object");
    EXPECT_TRUE(list["result"]["tools"][0].contains("outputSchema"));
    EXPECT_EQ(list["id"], 9);
}

TEST(McpServer, ProtocolErrorsHaveJsonRpcCodes) {
    Server server(ServerInfo{});
    server.AddTool(EchoTool());
    Session s(server);
    Initialize(s);
    EXPECT_EQ(Json::parse(*s.HandleMessage("{not json"))["error"]["code"], kParseError);
    EXPECT_EQ(Json::parse(*s.HandleMessage(R"({"id":1,"method":"ping"})"))["error"]["code"], kInvalidRequest);
    EXPECT_EQ(Json::parse(*s.HandleMessage(R"({"jsonrpc":"2.0","id":{"a":1},"method":"ping"})"))["error"]["code"],
              kInvalidRequest);
    EXPECT_EQ(Call(s, Request(2, "resources/list"))["error"]["code"], kMethodNotFound);
    EXPECT_EQ(Call(s, Request(3, "tools/call", {{"name", "nope"}}))["error"]["code"], kInvalidParams);
    EXPECT_EQ(Call(s, Request(4, "tools/call", {{"name", "echo"}, {"arguments", Json::object()}}))["error"]["code"],
              kInvalidParams);
    EXPECT_EQ(Call(s, Request(5, "tools/call", {{"name", "echo"}, {"arguments", 3}}))["error"]["code"], kInvalidParams);
}

// Regression: Json::value("jsonrpc", "") throws type_error for a non-string
// "jsonrpc"; the exception escaped HandleMessage (the stdio server died, the
// HTTP transport answered 500).
TEST(McpServer, NonStringJsonrpcIsAnInvalidRequestNotAnException) {
    Server server(ServerInfo{});
    Session s(server);
    for (const char* m : {R"({"jsonrpc":2,"id":1,"method":"ping"})", R"({"jsonrpc":null,"id":1,"method":"ping"})",
                          R"({"jsonrpc":["2.0"],"id":1,"method":"ping"})", R"([{"jsonrpc":{},"id":1}])"}) {
        std::optional<std::string> reply;
        ASSERT_NO_THROW(reply = s.HandleMessage(m)) << m;
        ASSERT_TRUE(reply) << m;
        Json r = Json::parse(*reply);
        if (r.is_array()) r = r[0];
        EXPECT_EQ(r["error"]["code"], kInvalidRequest) << m;
        EXPECT_EQ(r["error"]["message"], "Invalid Request: not a JSON-RPC 2.0 message") << m;
    }
}

TEST(McpServer, DeeplyNestedMessagesAreRefusedBeforeParsing) {
    Server server(ServerInfo{});
    Session s(server);
    Initialize(s);
    // nested(n): n + 1 levels (two objects, n - 1 arrays). 65 levels: refused; 64: handled.
    auto nested = [](int arrays) {
        return R"({"jsonrpc":"2.0","id":7,"method":"ping","params":{"x":)" + std::string(arrays - 1, '[') +
               std::string(arrays - 1, ']') + "}}";
    };
    Json refused = Json::parse(*s.HandleMessage(nested(64)));
    EXPECT_EQ(refused["error"]["code"], kInvalidRequest);
    EXPECT_EQ(refused["error"]["message"], "Invalid Request: JSON nested deeper than 64 levels");
    EXPECT_TRUE(refused["id"].is_null());
    Json handled = Json::parse(*s.HandleMessage(nested(63)));
    EXPECT_EQ(handled["id"], 7);
    EXPECT_TRUE(handled.contains("result")) << handled.dump();
    // A million levels: refused as quickly, no stack overflow.
    EXPECT_EQ(Json::parse(*s.HandleMessage(std::string(1000000, '[')))["error"]["code"], kInvalidRequest);

    EXPECT_EQ(JsonNestingDepth(R"({"a":"[[[{{{","b":[1,{"c":"\"]"}]})"), 3u);
    EXPECT_EQ(JsonNestingDepth("[[[]]][[]]"), 3u);
    EXPECT_EQ(JsonNestingDepth(std::string(100, '['), 10), 11u);  // stops scanning past the limit
}

TEST(McpServer, BatchesAreLimitedTo100Messages) {
    Server server(ServerInfo{});
    Session s(server);
    Initialize(s);
    Json batch = Json::array();
    for (int i = 0; i < 101; ++i) batch.push_back(Request(100 + i, "ping"));
    Json refused = Json::parse(*s.HandleMessage(batch.dump()));
    ASSERT_TRUE(refused.is_object()) << refused.dump();
    EXPECT_EQ(refused["error"]["code"], kInvalidRequest);
    EXPECT_EQ(refused["error"]["message"], "Invalid Request: a batch may hold at most 100 messages (got 101)");
    batch.erase(batch.size() - 1);
    EXPECT_EQ(Json::parse(*s.HandleMessage(batch.dump())).size(), 100u);
}

TEST(McpServer, ErrorsQuoteLongNamesShortened) {
    Server server(ServerInfo{});
    Session s(server);
    Initialize(s);
    const std::string long_name(5000, 'm');
    Json r = Call(s, Request(2, long_name));
    EXPECT_EQ(r["error"]["message"], "Method not found: " + std::string(100, 'm') + "...");
    r = Call(s, Request(3, "tools/call", {{"name", long_name}}));
    EXPECT_EQ(r["error"]["message"], "Unknown tool: " + std::string(100, 'm') + "...");
}

TEST(McpServer, ToolResultsCarryTextAndStructuredContentAndFailuresAreIsError) {
    Server server(ServerInfo{});
    server.AddTool(EchoTool());
    Session s(server);
    Initialize(s);
    Json ok = Call(s, Request(2, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "hi"}}}}));
    EXPECT_EQ(ok["result"]["content"][0]["type"], "text");
    EXPECT_EQ(ok["result"]["content"][0]["text"], "hi");
    EXPECT_EQ(ok["result"]["structuredContent"]["text"], "hi");
    EXPECT_EQ(ok["result"]["isError"], false);
    Json failed = Call(s, Request(3, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "fail"}}}}));
    EXPECT_EQ(failed["result"]["isError"], true);
    EXPECT_EQ(failed["result"]["content"][0]["text"], "the backend is down");
}

TEST(McpServer, NotificationsAndResponsesGetNoReplyBatchesGetArrays) {
    Server server(ServerInfo{});
    Session s(server);
    Initialize(s);
    EXPECT_FALSE(s.HandleMessage(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}})"));
    EXPECT_FALSE(s.HandleMessage(R"({"jsonrpc":"2.0","id":5,"result":{}})"));
    Json batch = Json::parse(*s.HandleMessage(
        R"([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},)"
        R"({"jsonrpc":"2.0","id":2,"method":"nope"}])"));
    ASSERT_EQ(batch.size(), 2u);
    EXPECT_EQ(batch[0]["id"], 1);
    EXPECT_EQ(batch[1]["error"]["code"], kMethodNotFound);
}

TEST(McpSession, ConcurrentCallsInOneSessionRunInParallel) {
    constexpr int kCalls = 4;
    Barrier all_inside(kCalls);  // every handler waits until all are running: serial handling would time out
    Server server(ServerInfo{});
    server.AddTool({.name = "meet",
                    .title = "Meet",
                    .description = "Returns once all concurrent calls are inside",
                    .input_schema = Json{{"type", "object"}},
                    .output_schema = Json{{"type", "object"}},
                    .handler = [&](const Json&, const Caller&) -> Result<ToolResult> {
                        if (!all_inside.ArriveAndWait()) return DeadlineExceeded("calls were not concurrent");
                        return ToolResult{"met", Json::object()};
                    }});
    Session s(server);
    Initialize(s);
    std::vector<Json> replies(kCalls);
    std::vector<std::thread> threads;
    for (int i = 0; i < kCalls; ++i) {
        threads.emplace_back([&, i] {
            auto r = s.HandleMessage(Request(100 + i, "tools/call", {{"name", "meet"}}).dump());
            if (r) replies[static_cast<std::size_t>(i)] = Json::parse(*r);
        });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < kCalls; ++i) {
        const Json& r = replies[static_cast<std::size_t>(i)];
        EXPECT_EQ(r["id"], 100 + i) << r.dump();
        EXPECT_EQ(r["result"]["isError"], false) << r.dump();
        EXPECT_EQ(r["result"]["content"][0]["text"], "met");
    }
    EXPECT_EQ(s.requests_in_flight(), 0u);
}

TEST(McpSession, CancelledInFlightRequestGetsNoReply) {
    Event entered, release;
    Server server(ServerInfo{});
    server.AddTool(BlockingTool(entered, release));
    server.AddTool(EchoTool());
    Session s(server);
    Initialize(s);
    std::optional<std::string> blocked_reply = "unset";
    std::thread caller([&] { blocked_reply = s.HandleMessage(Request(5, "tools/call", {{"name", "block"}}).dump()); });
    ASSERT_TRUE(entered.WaitFor());
    EXPECT_EQ(s.requests_in_flight(), 1u);
    // A second request with the id in flight is refused; unknown ids are ignored.
    EXPECT_EQ(Call(s, Request(5, "ping"))["error"]["code"], kInvalidRequest);
    EXPECT_FALSE(s.HandleMessage(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":77}})"));
    EXPECT_FALSE(s.HandleMessage(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"5"}})"));
    // The matching id, with a reason.
    EXPECT_FALSE(s.HandleMessage(
        R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5,"reason":"user stopped"}})"));
    // Other requests carry on while it is still running.
    EXPECT_EQ(Call(s, Request(6, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "x"}}}}))["result"]
                  ["structuredContent"]["text"],
              "x");
    release.Set();
    caller.join();
    EXPECT_FALSE(blocked_reply.has_value()) << *blocked_reply;
    EXPECT_EQ(s.requests_in_flight(), 0u);
    // The id is free again, and a cancellation that arrives after the reply changes nothing.
    EXPECT_EQ(Call(s, Request(5, "ping"))["id"], 5);
    EXPECT_FALSE(s.HandleMessage(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}})"));
    EXPECT_EQ(Call(s, Request(5, "ping"))["result"], Json::object());
}

TEST(McpSession, BatchReplyLeavesOutCancelledRequests) {
    Event entered, release;
    Server server(ServerInfo{});
    server.AddTool(BlockingTool(entered, release));
    Session s(server);
    Initialize(s);
    std::optional<std::string> reply;
    std::thread caller([&] {
        reply = s.HandleMessage(Json::array({Request(1, "ping"), Request(2, "tools/call", {{"name", "block"}}),
                                             Request(3, "ping")})
                                    .dump());
    });
    ASSERT_TRUE(entered.WaitFor());
    EXPECT_FALSE(s.HandleMessage(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2}})"));
    release.Set();
    caller.join();
    ASSERT_TRUE(reply.has_value());
    Json batch = Json::parse(*reply);
    ASSERT_EQ(batch.size(), 2u) << batch.dump();
    EXPECT_EQ(batch[0]["id"], 1);
    EXPECT_EQ(batch[1]["id"], 3);
}

TEST(McpSession, SessionsAreIndependent) {
    Event entered, release;
    Server server(ServerInfo{});
    server.AddTool(BlockingTool(entered, release));
    Session a(server);
    Session b(server);
    Initialize(a, "2025-03-26");
    EXPECT_TRUE(a.initialized());
    EXPECT_FALSE(b.initialized());
    EXPECT_EQ(a.negotiated_version(), "2025-03-26");
    EXPECT_EQ(b.negotiated_version(), "");
    EXPECT_EQ(Call(b, Request(2, "tools/list"))["error"]["code"], kInvalidRequest);  // b has not initialized
    Initialize(b, "2024-11-05");
    EXPECT_EQ(a.negotiated_version(), "2025-03-26");
    EXPECT_EQ(b.negotiated_version(), "2024-11-05");

    // Cancelling id 9 in b does not touch a's request 9.
    std::optional<std::string> reply;
    std::thread caller([&] { reply = a.HandleMessage(Request(9, "tools/call", {{"name", "block"}}).dump()); });
    ASSERT_TRUE(entered.WaitFor());
    EXPECT_FALSE(b.HandleMessage(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9}})"));
    EXPECT_EQ(Call(b, Request(9, "ping"))["id"], 9);  // the id is free in b
    release.Set();
    caller.join();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(Json::parse(*reply)["result"]["content"][0]["text"], "done");
}

TEST(StdioTransport, OneReplyLinePerRequestUntilEof) {
    Server s(ServerInfo{});
    s.AddTool(EchoTool());
    std::string big(200000, 'x');  // large messages pass whole
    std::istringstream in(Request(1, "initialize", {{"protocolVersion", "2025-06-18"}}).dump() + "\n\n" +
                          R"({"jsonrpc":"2.0","method":"notifications/initialized"})" + "\r\n" +
                          Request(2, "tools/call", {{"name", "echo"}, {"arguments", {{"text", big}}}}).dump() + "\n");
    std::ostringstream out;
    ASSERT_TRUE(ServeStdio(s, in, out).ok());
    std::istringstream lines(out.str());
    std::string first, second, third;
    ASSERT_TRUE(std::getline(lines, first));
    ASSERT_TRUE(std::getline(lines, second));
    EXPECT_FALSE(std::getline(lines, third));
    EXPECT_EQ(Json::parse(first)["id"], 1);
    EXPECT_EQ(Json::parse(second)["result"]["structuredContent"]["text"].get<std::string>().size(), big.size());
}

TEST(CodeSearchTools, SearchCodeAndIndexStatusOverAStore) {
    auto store = std::move(*store::OpenStore("memory://", {}));
    config::EmbeddingConfig ec;
    ec.dimension = 64;
    auto embedder = std::move(*embed::CreateEmbedder(ec));
    ASSERT_TRUE(store->EnsureCollection(embedder->SpecFor("repo")).ok());
    store::ChangeSet changes;
    Record r;
    r.id = "a";
    r.document = "def split_url(url):\n    return url.split('://')\n";
    r.metadata = {{"file_path", std::string("net/url.py")}, {"language", std::string("python")},
                  {"start_line", std::int64_t{1}},          {"end_line", std::int64_t{2}},
                  {"symbol", std::string("split_url")},     {"kind", std::string("function")}};
    std::vector<std::string> texts{*r.document};
    r.embedding = (*embedder->Embed(texts, embed::Purpose::kDocument))[0];
    changes.upserts.push_back(r);
    changes.touch_last_indexed = true;
    ASSERT_TRUE(store->Commit("repo", changes).ok());
    search::Searcher searcher(*store, *embedder, config::SearchConfig{});
    Server server(ServerInfo{});
    AddCodeSearchTools(server, *store, searcher);
    Session s(server);
    Initialize(s);

    Json found = Call(s, Request(2, "tools/call", {{"name", "search_code"},
                                                   {"arguments", {{"query", "split url"}, {"limit", 3}}}}));
    ASSERT_TRUE(found.contains("result")) << found.dump();
    EXPECT_EQ(found["result"]["structuredContent"]["results"][0]["file_path"], "net/url.py");
    EXPECT_EQ(found["result"]["structuredContent"]["results"][0]["symbol"], "split_url");
    EXPECT_NE(found["result"]["content"][0]["text"].get<std::string>().find("net/url.py:1-2"), std::string::npos);

    for (const Json& bad : {Json{{"limit", 3}}, Json{{"query", "x"}, {"limit", 0}}, Json{{"query", "x"}, {"mode", "fuzzy"}},
                            Json{{"query", "x"}, {"langauge", "go"}}}) {
        Json r2 = Call(s, Request(3, "tools/call", {{"name", "search_code"}, {"arguments", bad}}));
        EXPECT_EQ(r2["error"]["code"], kInvalidParams) << bad.dump();
    }
    Json missing = Call(s, Request(4, "tools/call", {{"name", "search_code"},
                                                     {"arguments", {{"query", "x"}, {"collection", "nope"}}}}));
    EXPECT_EQ(missing["result"]["isError"], true);

    Json status = Call(s, Request(5, "tools/call", {{"name", "index_status"}, {"arguments", Json::object()}}));
    EXPECT_EQ(status["result"]["structuredContent"]["collections"][0]["name"], "repo");
    EXPECT_EQ(status["result"]["structuredContent"]["collections"][0]["records"], 1);
}

}  // namespace
}  // namespace signalhub::mcp
