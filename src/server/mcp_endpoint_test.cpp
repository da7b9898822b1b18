// Socket-free parts of the HTTP transport: origin and Accept rules, the MCP
// session table (with a fake clock), and McpEndpoint on hand-made requests.
#include "server/mcp_endpoint.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "server/http_policy.hpp"
#include "server/mcp_sessions.hpp"

namespace signalhub::server {
namespace {

namespace http = boost::beast::http;
using Json = nlohmann::json;

TEST(OriginAllowed, LoopbackByDefault) {
    const std::vector<std::string> none;
    for (const char* ok : {"http://localhost", "http://localhost:3000", "https://127.0.0.1:8443", "http://[::1]:80",
                           "HTTP://LOCALHOST:5173/"}) {
        EXPECT_TRUE(OriginAllowed(ok, none)) << ok;
    }
    for (const char* bad : {"http://evil.example", "http://localhost.evil.example", "http://127.0.0.1.nip.io",
                            "null", "file://", "http://localhost:abc", "ftp://localhost", "http://[::2]"}) {
        EXPECT_FALSE(OriginAllowed(bad, none)) << bad;
    }
}

TEST(OriginAllowed, ConfiguredListAndWildcard) {
    const std::vector<std::string> list = {"https://app.example.com", "http://10.0.0.5:8080/"};
    EXPECT_TRUE(OriginAllowed("https://app.example.com", list));
    EXPECT_TRUE(OriginAllowed("HTTPS://APP.EXAMPLE.COM/", list));
    EXPECT_TRUE(OriginAllowed("http://10.0.0.5:8080", list));
    EXPECT_FALSE(OriginAllowed("http://localhost", list));  // the list replaces the loopback default
    EXPECT_FALSE(OriginAllowed("https://app.example.com:444", list));
    EXPECT_TRUE(OriginAllowed("http://anything.example", {"*"}));
}

TEST(ParseAccept, TypesWildcardsAndQZero) {
    auto both = [](std::string_view h) {
        AcceptedTypes t = ParseAccept(h);
        return t.json && t.sse;
    };
    EXPECT_TRUE(both("application/json, text/event-stream"));
    EXPECT_TRUE(both("text/event-stream;q=0.9,application/json"));
    EXPECT_TRUE(both("*/*"));
    EXPECT_TRUE(both(""));  // absent: anything
    EXPECT_TRUE(both("application/*, text/*"));
    EXPECT_FALSE(both("application/json"));
    EXPECT_FALSE(both("application/json, text/event-stream;q=0"));
    EXPECT_TRUE(ParseAccept("text/event-stream").sse);
    EXPECT_FALSE(ParseAccept("text/event-stream").json);
    EXPECT_FALSE(ParseAccept("text/html").sse);
}

class StreamProbe final : public SessionStream {
   public:
    void EndStream() override { ended.fetch_add(1); }
    std::atomic<int> ended{0};
};

TEST(McpSessions, IdsAreLongRandomHex) {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        auto id = NewSessionId();
        ASSERT_TRUE(id.ok());
        EXPECT_EQ(id->size(), 32u);
        EXPECT_EQ(id->find_first_not_of("0123456789abcdef"), std::string::npos) << *id;
        seen.insert(*id);
    }
    EXPECT_EQ(seen.size(), 100u);
}

TEST(McpSessions, ExpireWhenIdleButNeverWhileBusy) {
    FakeClock clock;
    mcp::Server server(mcp::ServerInfo{});
    McpSessions sessions(server, 10, std::chrono::seconds(60), clock);
    auto a = *sessions.Create();
    sessions.Release(a);
    auto b = *sessions.Create();  // stays busy
    EXPECT_EQ(sessions.active(), 2u);

    clock.Advance(std::chrono::seconds(59));
    EXPECT_EQ(sessions.ExpireIdle(), 0u);
    auto again = sessions.Acquire(a->id);  // use restarts the idle clock
    ASSERT_TRUE(again);
    sessions.Release(again);
    clock.Advance(std::chrono::seconds(59));
    EXPECT_EQ(sessions.ExpireIdle(), 0u);
    clock.Advance(std::chrono::seconds(2));
    EXPECT_EQ(sessions.ExpireIdle(), 1u);  // a; b is busy
    EXPECT_FALSE(sessions.Acquire(a->id));
    EXPECT_EQ(sessions.expired(), 1u);
    sessions.Release(b);
    clock.Advance(std::chrono::seconds(61));
    EXPECT_FALSE(sessions.Acquire(b->id));  // found expired on lookup, before any sweep
    EXPECT_EQ(sessions.expired(), 2u);
    EXPECT_EQ(sessions.active(), 0u);
}

TEST(McpSessions, LimitRemoveDiscardAndStreams) {
    FakeClock clock;
    mcp::Server server(mcp::ServerInfo{});
    McpSessions sessions(server, 2, std::chrono::seconds(60), clock);
    auto a = *sessions.Create();
    auto b = *sessions.Create();
    auto full = sessions.Create();
    ASSERT_FALSE(full.ok());
    EXPECT_EQ(full.status().code(), ErrorCode::kResourceExhausted);
    sessions.Discard(b);  // its initialize failed
    EXPECT_EQ(sessions.created(), 1u);
    sessions.Release(a);

    auto s1 = std::make_shared<StreamProbe>();
    auto s2 = std::make_shared<StreamProbe>();
    EXPECT_TRUE(sessions.AttachStream(a->id, s1));
    EXPECT_TRUE(sessions.AttachStream(a->id, s2));
    EXPECT_FALSE(sessions.AttachStream("nope", s1));
    EXPECT_TRUE(sessions.Remove(a->id));
    EXPECT_FALSE(sessions.Remove(a->id));
    EXPECT_EQ(s1->ended.load(), 1);
    EXPECT_EQ(s2->ended.load(), 1);
    EXPECT_EQ(sessions.deleted(), 1u);

    auto c = *sessions.Create();
    sessions.Release(c);
    auto s3 = std::make_shared<StreamProbe>();
    EXPECT_TRUE(sessions.AttachStream(c->id, s3));
    clock.Advance(std::chrono::seconds(61));
    EXPECT_EQ(sessions.ExpireIdle(), 1u);
    EXPECT_EQ(s3->ended.load(), 1);
}

HttpRequest Post(const Json& body, const std::string& session = "") {
    HttpRequest req{http::verb::post, "/mcp", 11};
    req.set(http::field::accept, "application/json, text/event-stream");
    req.set(http::field::content_type, "application/json");
    if (!session.empty()) req.set(kSessionHeader, session);
    req.body() = body.dump();
    req.prepare_payload();
    return req;
}

Json Initialize(int id = 1) {
    return {{"jsonrpc", "2.0"}, {"id", id}, {"method", "initialize"}, {"params", {{"protocolVersion", "2025-06-18"}}}};
}

TEST(McpEndpoint, FailedInitializeOpensNoSession) {
    FakeClock clock;
    mcp::Server server(mcp::ServerInfo{});
    McpSessions sessions(server, 10, std::chrono::seconds(60), clock);
    McpEndpoint endpoint(sessions);
    Json bad = {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"}, {"params", Json::object()}};
    HttpResponse res = endpoint.Post(Post(bad));
    EXPECT_EQ(res.result(), http::status::ok);  // a JSON-RPC error, in a 200
    EXPECT_EQ(Json::parse(res.body())["error"]["code"], mcp::kInvalidParams);
    EXPECT_EQ(res.find(kSessionHeader), res.end());
    EXPECT_EQ(sessions.active(), 0u);

    HttpResponse ok = endpoint.Post(Post(Initialize()));
    ASSERT_NE(ok.find(kSessionHeader), ok.end());
    EXPECT_EQ(sessions.active(), 1u);
    // initialize inside a batch cannot open a session
    EXPECT_EQ(endpoint.Post(Post(Json::array({Initialize()}))).result(), http::status::bad_request);
    // Content-Type must be JSON when given
    HttpRequest text = Post(Initialize());
    text.set(http::field::content_type, "text/plain");
    EXPECT_EQ(endpoint.Post(text).result(), http::status::unsupported_media_type);
}

mcp::Tool CountingTool(const std::string& name, const std::string& scope, std::atomic<int>* ran) {
    mcp::Tool tool;
    tool.name = name;
    tool.input_schema = {{"type", "object"}};
    tool.scope = scope;
    tool.handler = [ran](const Json&, const mcp::Caller&) -> Result<mcp::ToolResult> {
        if (ran) ran->fetch_add(1);
        return mcp::ToolResult{"ran", Json::object()};
    };
    return tool;
}

mcp::Caller MakeCaller(const std::string& id, std::vector<std::string> scopes,
                       std::optional<std::vector<std::string>> collections = std::nullopt) {
    mcp::Caller caller;
    caller.id = id;
    caller.scopes = std::move(scopes);
    caller.collections = std::move(collections);
    return caller;
}

Json Call(const std::string& tool, Json arguments, int id = 2) {
    return {{"jsonrpc", "2.0"},
            {"id", id},
            {"method", "tools/call"},
            {"params", {{"name", tool}, {"arguments", std::move(arguments)}}}};
}

TEST(McpEndpoint, ScopesCollectionsAndSessionOwnersAreEnforced) {
    FakeClock clock;
    mcp::Server server(mcp::ServerInfo{});
    std::atomic<int> ran{0};
    server.AddTool(CountingTool("read", "search", &ran));
    server.AddTool(CountingTool("write", "index", &ran));
    McpSessions sessions(server, 10, std::chrono::seconds(60), clock);
    std::vector<std::string> forbidden;
    McpEndpoint endpoint(sessions, [&](const mcp::Caller& c, const std::string& what) {
        forbidden.push_back(c.id + ": " + what);
    });
    const mcp::Caller reader = MakeCaller("aaaa", {"search"}, std::vector<std::string>{"mine"});
    const mcp::Caller other = MakeCaller("bbbb", {"search", "index"});

    HttpResponse opened = endpoint.Post(Post(Initialize()), reader);
    ASSERT_NE(opened.find(kSessionHeader), opened.end());
    const std::string sid(opened[kSessionHeader]);

    EXPECT_EQ(endpoint.Post(Post(Call("read", {{"collection", "mine"}}), sid), reader).result(), http::status::ok);
    HttpResponse scope = endpoint.Post(Post(Call("write", Json::object()), sid), reader);
    EXPECT_EQ(scope.result(), http::status::forbidden);
    EXPECT_EQ(Json::parse(scope.body())["error"], "API key aaaa lacks the 'index' scope that tool write needs");
    HttpResponse collection = endpoint.Post(Post(Call("read", {{"collection", "theirs"}}), sid), reader);
    EXPECT_EQ(collection.result(), http::status::forbidden);
    EXPECT_EQ(Json::parse(collection.body())["error"], "API key aaaa may not read collection 'theirs'");
    // One forbidden message refuses the whole batch: nothing in it runs.
    const int before = ran.load();
    HttpResponse batch = endpoint.Post(
        Post(Json::array({Call("read", Json::object(), 3), Call("write", Json::object(), 4)}), sid), reader);
    EXPECT_EQ(batch.result(), http::status::forbidden);
    EXPECT_EQ(ran.load(), before);
    EXPECT_EQ(forbidden.size(), 3u);
    EXPECT_EQ(forbidden[0], "aaaa: API key aaaa lacks the 'index' scope that tool write needs");

    // The session belongs to the key that opened it.
    EXPECT_EQ(endpoint.Post(Post(Call("read", Json::object()), sid), other).result(), http::status::not_found);
    HttpRequest del{http::verb::delete_, "/mcp", 11};
    del.set(kSessionHeader, sid);
    EXPECT_EQ(endpoint.Delete(del, other).result(), http::status::not_found);
    EXPECT_EQ(sessions.active(), 1u);
    HttpRequest get{http::verb::get, "/mcp", 11};
    get.set(http::field::accept, "text/event-stream");
    get.set(kSessionHeader, sid);
    EXPECT_TRUE(std::holds_alternative<HttpResponse>(endpoint.CheckStream(get, other)));
    EXPECT_TRUE(std::holds_alternative<std::string>(endpoint.CheckStream(get, reader)));
    EXPECT_EQ(endpoint.Delete(del, reader).result(), http::status::no_content);
}

TEST(McpEndpoint, TheServerRefusesAToolOutsideTheCallersScopesToo) {
    // Defence in depth: a transport that skipped McpEndpoint's check still
    // cannot run a tool without its scope.
    mcp::Server server(mcp::ServerInfo{});
    server.AddTool(CountingTool("write", "index", nullptr));
    mcp::Session session(server);
    const mcp::Caller reader = MakeCaller("aaaa", {"search"});
    ASSERT_TRUE(session.HandleJson(Initialize(), reader));
    std::optional<Json> reply = session.HandleJson(Call("write", Json::object()), reader);
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)["error"]["code"], mcp::kForbidden);
    std::optional<Json> allowed = session.HandleJson(Call("write", Json::object(), 3));
    ASSERT_TRUE(allowed);
    EXPECT_FALSE((*allowed).contains("error")) << allowed->dump();
}

TEST(McpEndpoint, RefusesDeepNestingAndLargeBatchesBeforeAnySession) {
    FakeClock clock;
    mcp::Server server(mcp::ServerInfo{});
    McpSessions sessions(server, 10, std::chrono::seconds(60), clock);
    McpEndpoint endpoint(sessions);
    auto rpc_error = [](const HttpResponse& res) {
        const Json body = Json::parse(res.body());
        return std::pair(body["error"]["code"].get<int>(), body["error"]["message"].get<std::string>());
    };

    // 65 levels: params {"x": [[...]]} inside the message object. Refused unparsed.
    HttpRequest deep = Post(Initialize());
    deep.body() = R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"x":)" + std::string(63, '[') +
                  std::string(63, ']') + "}}";
    deep.prepare_payload();
    HttpResponse res = endpoint.Post(deep);
    EXPECT_EQ(res.result(), http::status::bad_request);
    EXPECT_EQ(rpc_error(res),
              std::pair(mcp::kInvalidRequest, std::string("Invalid Request: JSON nested deeper than 64 levels")));
    EXPECT_EQ(sessions.active(), 0u);
    // 64 levels are fine (an unknown params key is ignored by initialize).
    deep.body() = R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","x":)" +
                  std::string(62, '[') + std::string(62, ']') + "}}";
    deep.prepare_payload();
    EXPECT_EQ(endpoint.Post(deep).result(), http::status::ok);
    // Brackets inside strings do not count.
    deep.body() = R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","x":")" +
                  std::string(1000, '[') + "\"}}";
    deep.prepare_payload();
    EXPECT_EQ(endpoint.Post(deep).result(), http::status::ok);

    const std::string session = std::string(Sv(endpoint.Post(Post(Initialize())).at(kSessionHeader)));
    Json batch = Json::array();
    for (int i = 0; i < 101; ++i) batch.push_back({{"jsonrpc", "2.0"}, {"id", i}, {"method", "ping"}});
    res = endpoint.Post(Post(batch, session));
    EXPECT_EQ(res.result(), http::status::bad_request);
    EXPECT_EQ(rpc_error(res), std::pair(mcp::kInvalidRequest,
                                        std::string("Invalid Request: a batch may hold at most 100 messages (got 101)")));
    batch.erase(batch.size() - 1);
    res = endpoint.Post(Post(batch, session));
    EXPECT_EQ(res.result(), http::status::ok);
    EXPECT_EQ(Json::parse(res.body()).size(), 100u);
}

// CORS decisions as pure functions (http_policy.hpp).
TEST(CorsPolicy, OnlyForListedCrossOrigins) {
    auto request = [](http::verb verb, const char* target, const char* origin, const char* host) {
        HttpRequest req{verb, target, 11};
        if (origin) req.set(http::field::origin, origin);
        if (host) req.set(http::field::host, host);
        return req;
    };
    const std::vector<std::string> none;
    const std::vector<std::string> list = {"https://app.example.com"};
    const std::vector<std::string> any = {"*"};
    const auto post = http::verb::post;
    EXPECT_EQ(CorsOrigin(request(post, "/mcp", "http://localhost:3000", "127.0.0.1"), none), "");  // no list: off
    EXPECT_EQ(CorsOrigin(request(post, "/mcp", "https://app.example.com", "hub:8080"), list),
              "https://app.example.com");
    EXPECT_EQ(CorsOrigin(request(post, "/mcp", "https://evil.example", "hub:8080"), list), "");
    EXPECT_EQ(CorsOrigin(request(post, "/mcp", nullptr, "hub:8080"), list), "");
    // Same origin (Host names the origin's host, default ports ignored): no CORS headers.
    EXPECT_EQ(CorsOrigin(request(post, "/mcp", "https://app.example.com", "APP.example.com"), list), "");
    EXPECT_EQ(CorsOrigin(request(post, "/mcp", "http://hub:80", "hub"), any), "");
    EXPECT_EQ(CorsOrigin(request(post, "/mcp", "https://x.example", "hub"), any), "https://x.example");
    EXPECT_EQ(CorsOrigin(request(post, "/mcp", "null", "hub"), any), "");  // the opaque origin is never echoed
    EXPECT_EQ(CorsOrigin(request(post, "/mcp", "https://a.example, https://b.example", "hub"), any), "");

    auto preflight = CorsPreflight(request(http::verb::options, "/mcp?x=1", "https://app.example.com", "hub"), list);
    ASSERT_TRUE(preflight);
    EXPECT_EQ(preflight->result(), http::status::no_content);
    EXPECT_EQ(Sv((*preflight)[http::field::access_control_allow_methods]), "GET, POST, DELETE");
    EXPECT_FALSE(CorsPreflight(request(http::verb::options, "/mcp", "https://app.example.com", "hub"), none));
    EXPECT_FALSE(CorsPreflight(request(http::verb::options, "/health", "https://app.example.com", "hub"), list));
    EXPECT_FALSE(CorsPreflight(request(http::verb::options, "/mcp", "https://evil.example", "hub"), list));
    EXPECT_FALSE(CorsPreflight(request(post, "/mcp", "https://app.example.com", "hub"), list));

    HttpResponse res{http::status::ok, 11};
    FinalizeResponse(res, "");
    EXPECT_EQ(Sv(res["X-Content-Type-Options"]), "nosniff");
    EXPECT_EQ(res.find(http::field::access_control_allow_origin), res.end());
    FinalizeResponse(res, "https://app.example.com");
    EXPECT_EQ(Sv(res[http::field::access_control_allow_origin]), "https://app.example.com");
    EXPECT_EQ(Sv(res[http::field::vary]), "Origin");
    EXPECT_EQ(Sv(res[http::field::access_control_expose_headers]), "Mcp-Session-Id");
}

}  // namespace
}  // namespace signalhub::server
