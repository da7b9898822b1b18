#include "mcp/server.hpp"

#include <algorithm>
#include <chrono>

#include "mcp/json_text.hpp"
#include "telemetry/trace.hpp"

namespace signalhub::mcp {

using Json = nlohmann::json;

const std::vector<std::string>& SupportedProtocolVersions() {
    static const std::vector<std::string> kVersions = {"2025-06-18", "2025-03-26", "2024-11-05"};
    return kVersions;
}

namespace {

Json Error(const Json& id, int code, const std::string& message) {
    return Json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

Json Success(const Json& id, Json result) { return Json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}}; }

// A client-chosen name quoted in an error message, cut to a sane length.
std::string Quoted(const std::string& name) {
    constexpr std::size_t kMax = 100;
    if (name.size() <= kMax) return name;
    std::size_t cut = kMax;
    while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
    return name.substr(0, cut) + "...";
}

// Thrown inside Dispatch for protocol errors; caught in HandleOne.
struct ProtocolError {
    int code;
    std::string message;
};

}  // namespace

std::size_t JsonNestingDepth(std::string_view text, std::size_t stop_above) {
    std::size_t depth = 0;
    std::size_t deepest = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;  // the escaped character
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
            if (deepest > stop_above) return deepest;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

std::string TooDeepMessage() {
    return "Invalid Request: JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
}

std::string BatchTooLargeMessage(std::size_t size) {
    return "Invalid Request: a batch may hold at most " + std::to_string(kMaxBatchSize) + " messages (got " +
           std::to_string(size) + ")";
}

namespace {

// The bounded labels of the observer and the spans: `method` when the server implements it, else
// "other"; the registered tool a tools/call's params name, else "other".
std::string_view MethodLabel(const std::string& method) {
    static const std::vector<std::string> kMethods = {"initialize", "ping", "tools/list", "tools/call"};
    const bool known = std::find(kMethods.begin(), kMethods.end(), method) != kMethods.end();
    return known ? std::string_view(method) : std::string_view("other");
}

template <class Tools>
std::string_view ToolLabel(const Tools& tools, const Json& params) {
    if (params.contains("name") && params["name"].is_string()) {
        auto it = tools.find(params["name"].get_ref<const std::string&>());
        if (it != tools.end()) return it->first;
    }
    return "other";
}

}  // namespace

Server::Server(ServerInfo info) : info_(std::move(info)) {}

void Server::Observe(const std::string& method, const Json& params, const Json& reply, double seconds) const {
    const bool ok = !reply.contains("error");
    if (observer_.on_request) observer_.on_request(MethodLabel(method), ok);
    if (method == "tools/call" && observer_.on_tool_call) {
        const bool tool_ok = ok && !(reply.contains("result") && reply["result"].is_object() &&
                                     reply["result"].value("isError", false));
        observer_.on_tool_call(ToolLabel(tools_, params), tool_ok, seconds);
    }
}
Server::~Server() = default;

std::string Server::SpanName(const std::string& method, const Json& params) const {
    const std::string_view label = MethodLabel(method);
    if (label == "tools/call" && params.contains("name") && params["name"].is_string())
        return "tools/call " + std::string(ToolLabel(tools_, params));
    return std::string(label);
}

void Server::AddTool(Tool tool) {
    std::string name = tool.name;
    tools_[name] = std::move(tool);
}

Json Server::Dispatch(Session& session, const std::string& method, const Json& params, const Caller& caller) const {
    if (method == "initialize") {
        if (!params.contains("protocolVersion") || !params["protocolVersion"].is_string())
            throw ProtocolError{kInvalidParams, "Invalid params: protocolVersion (string) is required"};
        const std::string requested = params["protocolVersion"];
        const auto& supported = SupportedProtocolVersions();
        bool known = std::find(supported.begin(), supported.end(), requested) != supported.end();
        const std::string version = known ? requested : supported.front();
        {
            std::lock_guard<std::mutex> lock(session.mu_);
            session.version_ = version;
            session.initialize_seen_ = true;
        }
        Json result = {{"protocolVersion", version},
                       {"capabilities", {{"tools", {{"listChanged", false}}}}},
                       {"serverInfo", {{"name", info_.name}, {"version", info_.version}}}};
        if (!info_.instructions.empty()) result["instructions"] = info_.instructions;
        return result;
    }
    if (method == "ping") return Json::object();
    {
        std::lock_guard<std::mutex> lock(session.mu_);
        if (!session.initialize_seen_) throw ProtocolError{kInvalidRequest, "Invalid Request: send initialize first"};
    }
    if (method == "tools/list") {
        Json tools = Json::array();
        for (const auto& [name, t] : tools_) {
            Json tool = {{"name", t.name},
                         {"title", t.title},
                         {"description", t.description},
                         {"inputSchema", t.input_schema},
                         {"outputSchema", t.output_schema}};
            tools.push_back(std::move(tool));
        }
        return Json{{"tools", std::move(tools)}};
    }
    if (method == "tools/call") {
        if (!params.contains("name") || !params["name"].is_string())
            throw ProtocolError{kInvalidParams, "Invalid params: name (string) is required"};
        const std::string name = params["name"];
        auto it = tools_.find(name);
        if (it == tools_.end()) throw ProtocolError{kInvalidParams, "Unknown tool: " + Quoted(name)};
        if (!caller.HasScope(it->second.scope)) {
            throw ProtocolError{kForbidden, "Forbidden: tool " + name + " needs the '" + it->second.scope +
                                                "' scope, which this API key does not have"};
        }
        const Json arguments = params.contains("arguments") ? params["arguments"] : Json::object();
        if (!arguments.is_object())
            throw ProtocolError{kInvalidParams, "Invalid params: arguments must be an object"};
        Result<ToolResult> r = it->second.handler(arguments, caller);
        if (!r.ok()) {
            if (r.status().code() == ErrorCode::kInvalidArgument)
                throw ProtocolError{kInvalidParams, "Invalid params: " + r.status().message()};
            return Json{{"content", Json::array({{{"type", "text"}, {"text", r.status().message()}}})},
                        {"isError", true}};
        }
        return Json{{"content", Json::array({{{"type", "text"}, {"text", std::move(r->text)}}})},
                    {"structuredContent", std::move(r->structured)},
                    {"isError", false}};
    }
    throw ProtocolError{kMethodNotFound, "Method not found: " + Quoted(method)};
}

Session::Session(const Server& server) : server_(server) {}
Session::~Session() = default;

bool Session::initialized() const {
    std::lock_guard<std::mutex> lock(mu_);
    return initialized_;
}

std::string Session::negotiated_version() const {
    std::lock_guard<std::mutex> lock(mu_);
    return version_;
}

std::size_t Session::requests_in_flight() const {
    std::lock_guard<std::mutex> lock(mu_);
    return in_flight_.size();
}

bool Caller::HasScope(std::string_view scope) const {
    return !scopes || std::find(scopes->begin(), scopes->end(), scope) != scopes->end();
}

bool Caller::AllowsCollection(std::string_view collection) const {
    return !collections || std::find(collections->begin(), collections->end(), collection) != collections->end();
}

std::optional<std::string> Server::ToolScope(std::string_view name) const {
    auto it = tools_.find(name);
    if (it == tools_.end()) return std::nullopt;
    return it->second.scope;
}

std::optional<std::string> Session::HandleMessage(std::string_view message, const Caller& caller) {
    if (JsonNestingDepth(message) > kMaxJsonDepth) {
        Json error = Error(nullptr, kInvalidRequest, TooDeepMessage());
        server_.Observe("", Json::object(), error, 0);
        return error.dump();
    }
    Json parsed = Json::parse(message, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
        Json error = Error(nullptr, kParseError, "Parse error: the message is not valid JSON");
        server_.Observe("", Json::object(), error, 0);
        return error.dump();
    }
    std::optional<Json> reply = HandleJson(parsed, caller);
    if (!reply) return std::nullopt;
    return JsonText(*reply);
}

std::optional<Json> Session::HandleJson(const Json& message, const Caller& caller) {
    if (message.is_array()) {  // JSON-RPC batch (protocol 2025-03-26)
        if (message.empty() || message.size() > kMaxBatchSize) {
            Json error = Error(nullptr, kInvalidRequest,
                               message.empty() ? "Invalid Request: empty batch" : BatchTooLargeMessage(message.size()));
            server_.Observe("", Json::object(), error, 0);
            return error;
        }
        Json replies = Json::array();
        for (const auto& m : message) {
            bool reply = false;
            Json r = HandleOne(m, reply, caller);
            if (reply) replies.push_back(std::move(r));
        }
        if (replies.empty()) return std::nullopt;
        return replies;
    }
    bool reply = false;
    Json r = HandleOne(message, reply, caller);
    if (!reply) return std::nullopt;
    return r;
}

void Session::Cancel(const Json& params) {
    // Unknown or finished ids are ignored (the cancellation raced the reply);
    // initialize is never cancelled (MCP Cancellation).
    if (!params.contains("requestId")) return;
    const Json& id = params["requestId"];
    if (!(id.is_string() || id.is_number_integer())) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = in_flight_.find(id.dump());
    if (it != in_flight_.end() && it->second.method != "initialize") it->second.cancelled = true;
}

Json Session::HandleOne(const Json& message, bool& reply, const Caller& caller) {
    const auto start = std::chrono::steady_clock::now();
    Json answer = Answer(message, reply, caller);
    if (reply || (message.is_object() && message.contains("id") && message.contains("method"))) {
        // Answered, or a request whose reply was dropped because it was cancelled.
        const bool valid = message.is_object() && message.contains("method") && message["method"].is_string();
        const std::string method = valid ? message["method"].get<std::string>() : std::string();
        const Json params = valid && message.contains("params") ? message["params"] : Json::object();
        server_.Observe(method, params.is_object() ? params : Json::object(), answer,
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return answer;
}

Json Session::Answer(const Json& message, bool& reply, const Caller& caller) {
    reply = true;
    // (value() would throw for a non-string "jsonrpc".)
    if (!message.is_object() || !message.contains("jsonrpc") || message["jsonrpc"] != "2.0")
        return Error(nullptr, kInvalidRequest, "Invalid Request: not a JSON-RPC 2.0 message");
    const bool has_id = message.contains("id");
    if (!message.contains("method")) {
        // A response from the client (we send no requests): nothing to do.
        reply = false;
        return nullptr;
    }
    const Json id = has_id ? message["id"] : Json(nullptr);
    if (has_id && !(id.is_string() || id.is_number_integer()))
        return Error(nullptr, kInvalidRequest, "Invalid Request: id must be a string or an integer");
    if (!message["method"].is_string()) return Error(id, kInvalidRequest, "Invalid Request: method must be a string");
    const std::string method = message["method"];
    const Json params = message.contains("params") ? message["params"] : Json::object();
    if (!params.is_object()) return Error(id, kInvalidParams, "Invalid params: params must be an object");

    if (!has_id) {  // notification
        reply = false;
        if (method == "notifications/initialized") {
            std::lock_guard<std::mutex> lock(mu_);
            if (initialize_seen_) initialized_ = true;
        } else if (method == "notifications/cancelled") {
            Cancel(params);
        }
        return nullptr;
    }

    const std::string key = id.dump();
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!in_flight_.emplace(key, InFlight{method, false}).second)
            return Error(id, kInvalidRequest, "Invalid Request: a request with this id is already in progress");
    }
    // One span per request (monitoring.tracing): under the HTTP request's span, or the start of a trace
    // for a request that came over stdio.
    const bool nested = telemetry::CurrentSpanContext().valid();
    telemetry::ScopedSpan span(server_.SpanName(method, params),
                               nested ? telemetry::SpanKind::kInternal : telemetry::SpanKind::kServer,
                               telemetry::ScopedSpan::kStartTrace);
    if (span->recording()) {
        span->SetAttribute("mcp.method.name", std::string_view(method).substr(0, 128));
        span->SetAttribute("jsonrpc.request.id", key.substr(0, 128));
        if (method == "tools/call" && params.contains("name") && params["name"].is_string()) {
            span->SetAttribute("gen_ai.operation.name", "execute_tool");
            span->SetAttribute("gen_ai.tool.name", params["name"].get_ref<const std::string&>().substr(0, 128));
        }
    }
    Json result;
    try {
        result = Success(id, server_.Dispatch(*this, method, params, caller));
    } catch (const ProtocolError& e) {
        result = Error(id, e.code, e.message);
    } catch (const std::exception& e) {
        result = Error(id, kInternalError, std::string("Internal error: ") + e.what());
    }
    if (span->recording()) {
        if (result.contains("error")) {
            span->SetAttribute("rpc.jsonrpc.error_code", result["error"].value("code", 0));
            span->SetError(result["error"].value("message", std::string()));
        } else if (result["result"].is_object() && result["result"].value("isError", false)) {
            span->SetAttribute("error.type", "tool_error");
            const Json& content = result["result"]["content"];
            span->SetError(content.is_array() && !content.empty() ? content[0].value("text", std::string()) : "");
        }
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = in_flight_.find(key);
    if (it->second.cancelled) reply = false;  // the client no longer wants it
    in_flight_.erase(it);
    return result;
}

}  // namespace signalhub::mcp
