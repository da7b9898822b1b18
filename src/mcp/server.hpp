#pragma once
// MCP (Model Context Protocol) over JSON-RPC 2.0, transport-agnostic: a
// transport hands each received message (one JSON text) to HandleMessage and
// sends back the reply, if any. No sockets, no threads, no I/O here.
//
// Implements the lifecycle (initialize with protocol-version negotiation,
// notifications/initialized, ping), tools/list and tools/call. Protocol
// errors are JSON-RPC errors (-32700 parse error, -32600 invalid request,
// -32601 method not found, -32602 invalid params, -32603 internal); a tool
// that runs and fails reports a result with isError = true.
//
// Thread safety: HandleMessage may be called from one thread at a time.

#include <functional>
#include <map>
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

struct Tool {
    std::string name;
    std::string title;
    std::string description;
    nlohmann::json input_schema;   // JSON Schema (type: object)
    nlohmann::json output_schema;  // JSON Schema of structuredContent
    // InvalidArgument becomes JSON-RPC -32602; any other error becomes a tool
    // result with isError = true and the message as text.
    std::function<Result<ToolResult>(const nlohmann::json& arguments)> handler;
};

struct ServerInfo {
    std::string name = "signal-hub";
    std::string version = "0.1.0";
    std::string instructions;
};

class Server {
   public:
    explicit Server(ServerInfo info);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    void AddTool(Tool tool);

    // Handles one JSON-RPC message (a request, a notification or a batch) and
    // returns the reply to send (nullopt for notifications and responses).
    std::optional<std::string> HandleMessage(std::string_view message);

    bool initialized() const { return initialized_; }
    const std::string& negotiated_version() const { return version_; }

   private:
    nlohmann::json HandleOne(const nlohmann::json& message, bool& reply);
    nlohmann::json Dispatch(const std::string& method, const nlohmann::json& params, const nlohmann::json& id);

    ServerInfo info_;
    std::map<std::string, Tool> tools_;  // by name; listed in name order
    bool initialize_seen_ = false;
    bool initialized_ = false;
    std::string version_;
};

// JSON-RPC error codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;

}  // namespace signalhub::mcp
