#pragma once
// MCP (Model Context Protocol) over JSON-RPC 2.0, transport-agnostic: a
// transport opens one Session per client and hands each received message (one
// JSON text) to Session::HandleMessage, or the parsed value to HandleJson, then
// sends back the reply, if any. No sockets, no threads, no I/O here.
//
// Implements the lifecycle (initialize with protocol-version negotiation,
// notifications/initialized, ping), tools/list, tools/call and
// notifications/cancelled. Protocol errors are JSON-RPC errors (-32700 parse
// error, -32600 invalid request, -32601 method not found, -32602 invalid
// params, -32603 internal); a tool that runs and fails reports a result with
// isError = true.
//
// Server = the tool registry and the protocol logic. Set it up (AddTool) before
// the first Session is created; afterwards it is immutable and may be shared by
// any number of sessions on any number of threads. It must outlive its sessions.
//
// Session = one client's lifecycle state (initialize seen, negotiated version,
// requests in flight). HandleMessage may be called concurrently on one session
// (an HTTP client may send several requests in parallel); each call runs the
// tool handler on the calling thread. Sessions are independent of each other.

#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.hpp"

namespace signalhub::mcp {

// Protocol versions this server speaks, newest first.
const std::vector<std::string>& SupportedProtocolVersions();

struct ToolResult {
    std::string text;             // human-readable content (content[0].text)
    nlohmann::json structured;    // structuredContent (a JSON object)
};

// Who is calling, as an authenticating transport established it (the HTTP
// server with security.api_keys). The default, Caller{}, may do everything:
// the stdio transport, and HTTP without keys.
struct Caller {
    std::string id;                                       // the API key id, for logs; "" = not authenticated
    std::string name;                                     // the key's name, for logs
    std::string remote;                                   // the client's address, for logs ("" = local)
    std::string request_id;                               // the HTTP request's X-Request-Id, for the audit log
    std::optional<std::vector<std::string>> scopes;       // nullopt = every scope
    std::optional<std::vector<std::string>> collections;  // allow-list; nullopt = every collection

    bool HasScope(std::string_view scope) const;
    bool AllowsCollection(std::string_view collection) const;
};

struct Tool {
    std::string name;
    std::string title;
    std::string description;
    nlohmann::json input_schema;   // JSON Schema (type: object)
    nlohmann::json output_schema;  // JSON Schema of structuredContent
    // The scope a caller needs (Caller::scopes): "search" for reading tools,
    // "index" for tools that write, "admin" for administration.
    std::string scope = "search";
    // InvalidArgument becomes JSON-RPC -32602; any other error becomes a tool
    // result with isError = true and the message as text. The caller has the
    // tool's scope (checked before); a handler honours caller.collections.
    std::function<Result<ToolResult>(const nlohmann::json& arguments, const Caller& caller)> handler;
};

// Told about the requests a Server answers, for metrics (no Prometheus types
// here). Label values are bounded: `method` is one the server implements
// ("initialize", "ping", "tools/list", "tools/call") or "other"; `tool` is a
// registered tool's name or "other". Called on the thread that handled the
// request, possibly concurrently: the functions must be thread-safe, quick and
// must not throw. Each is optional.
struct ServerObserver {
    // Every JSON-RPC request answered (notifications and client responses are
    // not requests), including invalid ones ("other"): ok = a result, not an error.
    std::function<void(std::string_view method, bool ok)> on_request;
    // Every tools/call: ok = neither a JSON-RPC error nor a result with
    // isError; `seconds` = the whole call, the tool handler included.
    std::function<void(std::string_view tool, bool ok, double seconds)> on_tool_call;
};

struct ServerInfo {
    std::string name = "signal-hub";
    std::string version = "0.1.0";
    std::string instructions;
};

class Session;

class Server {
   public:
    explicit Server(ServerInfo info);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Set-up only: not thread-safe, call before any Session uses this server.
    // Tool handlers may then be called concurrently from several threads.
    void AddTool(Tool tool);

    // Set-up only, like AddTool.
    void SetObserver(ServerObserver observer) { observer_ = std::move(observer); }

    const ServerInfo& info() const { return info_; }
    // The scope tool `name` requires; nullopt for an unknown tool.
    std::optional<std::string> ToolScope(std::string_view name) const;

   private:
    friend class Session;
    // Runs one request for `session`; throws ProtocolError (server.cpp) for
    // JSON-RPC errors. Thread-safe.
    nlohmann::json Dispatch(Session& session, const std::string& method, const nlohmann::json& params,
                            const Caller& caller) const;

    // The span name of a request: "tools/call <tool>" (a registered tool's name or "other"), a
    // method this server implements, or "other" (bounded, like the observer's labels).
    std::string SpanName(const std::string& method, const nlohmann::json& params) const;

    // Tells the observer about one answered request (`reply` = the response sent).
    void Observe(const std::string& method, const nlohmann::json& params, const nlohmann::json& reply,
                 double seconds) const;

    ServerInfo info_;
    std::map<std::string, Tool, std::less<>> tools_;  // by name; listed in name order
    ServerObserver observer_;
};

class Session {
   public:
    // Borrows `server`, which must outlive the session.
    explicit Session(const Server& server);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Handles one JSON-RPC message (a request, a notification or a batch) and
    // returns the reply to send: nullopt for notifications and responses, and
    // for requests cancelled (notifications/cancelled) while in flight — a
    // batch reply leaves cancelled requests out. Thread-safe. A tools/call
    // whose tool needs a scope `caller` lacks gets JSON-RPC error kForbidden.
    std::optional<std::string> HandleMessage(std::string_view message, const Caller& caller = {});
    // The same for a message the transport has already parsed.
    std::optional<nlohmann::json> HandleJson(const nlohmann::json& message, const Caller& caller = {});

    bool initialized() const;
    // Empty until initialize succeeded.
    std::string negotiated_version() const;
    // Requests being handled right now.
    std::size_t requests_in_flight() const;

   private:
    friend class Server;
    struct InFlight {
        std::string method;
        bool cancelled = false;
    };

    nlohmann::json HandleOne(const nlohmann::json& message, bool& reply, const Caller& caller);
    // HandleOne without telling the observer.
    nlohmann::json Answer(const nlohmann::json& message, bool& reply, const Caller& caller);
    void Cancel(const nlohmann::json& params);

    const Server& server_;
    mutable std::mutex mu_;  // guards everything below
    bool initialize_seen_ = false;
    bool initialized_ = false;
    std::string version_;
    std::map<std::string, InFlight> in_flight_;  // by the request id's JSON text ("7" and "\"7\"" differ)
};

// Input limits of every transport. A message nested deeper than
// kMaxJsonDepth arrays/objects is refused before it is parsed (-32600), so no
// recursive copy, comparison or dump of it can exhaust the stack; a batch of
// more than kMaxBatchSize messages is refused whole (-32600).
inline constexpr std::size_t kMaxJsonDepth = 64;
inline constexpr std::size_t kMaxBatchSize = 100;

// The deepest nesting of arrays and objects in a JSON text (brackets inside
// strings do not count), scanning no further once `stop_above` is exceeded.
// Not a validator: any text gives some answer, and for valid JSON it is exact
// up to stop_above + 1.
std::size_t JsonNestingDepth(std::string_view text, std::size_t stop_above = kMaxJsonDepth);

// The -32600 messages for those limits (the HTTP transport answers them too).
std::string TooDeepMessage();
std::string BatchTooLargeMessage(std::size_t size);

// JSON-RPC error codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
// Implementation-defined (JSON-RPC reserves -32000..-32099 for servers): the
// caller's key lacks the tool's scope.
inline constexpr int kForbidden = -32003;

}  // namespace signalhub::mcp
