#include "mcp/server.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "embed/embedder.hpp"
#include "mcp/stdio_transport.hpp"
#include "mcp/tools.hpp"

namespace signalhub::mcp {
namespace {

using Json = nlohmann::json;

Json Call(Server& s, const Json& message) {
    auto reply = s.HandleMessage(message.dump());
    EXPECT_TRUE(reply.has_value()) << message.dump();
    return reply ? Json::parse(*reply) : Json();
}

Json Request(int id, const std::string& method, Json params = Json::object()) {
    return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}

void Initialize(Server& s, const std::string& version = "2025-06-18") {
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
            .handler = [](const Json& args) -> Result<ToolResult> {
                if (!args.contains("text") || !args["text"].is_string()) return InvalidArgument("text is required");
                std::string t = args["text"];
                if (t == "fail") return Unavailable("the backend is down");
                return ToolResult{t, Json{{"text", t}}};
            }};
}

TEST(McpServer, NegotiatesProtocolVersion) {
    for (const std::string v : {"2025-06-18", "2025-03-26", "2024-11-05"}) {
        Server s(ServerInfo{});
        Json r = Call(s, Request(1, "initialize", {{"protocolVersion", v}, {"capabilities", Json::object()}}));
        EXPECT_EQ(r["result"]["protocolVersion"], v);
        EXPECT_EQ(r["result"]["serverInfo"]["name"], "signal-hub");
        EXPECT_TRUE(r["result"]["capabilities"].contains("tools"));
    }
    Server s(ServerInfo{});
    Json r = Call(s, Request(1, "initialize", {{"protocolVersion", "1999-01-01"}}));
    EXPECT_EQ(r["result"]["protocolVersion"], SupportedProtocolVersions().front());
    r = Call(s, Request(2, "initialize", Json::object()));
    EXPECT_EQ(r["error"]["code"], kInvalidParams);
}

TEST(McpServer, LifecycleAndPing) {
    Server s(ServerInfo{});
    s.AddTool(EchoTool());
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
    Server s(ServerInfo{});
    s.AddTool(EchoTool());
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

TEST(McpServer, ToolResultsCarryTextAndStructuredContentAndFailuresAreIsError) {
    Server s(ServerInfo{});
    s.AddTool(EchoTool());
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
    Server s(ServerInfo{});
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
    Server s(ServerInfo{});
    AddCodeSearchTools(s, *store, searcher);
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
