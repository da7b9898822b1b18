#include "server/mcp_endpoint.hpp"

#include <algorithm>
#include <cctype>

#include "mcp/json_text.hpp"

namespace signalhub::server {

namespace http = boost::beast::http;
using Json = nlohmann::json;

namespace {

std::string Lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::string_view Trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// As j.dump(-1, ' ', false, replace), faster for long strings (ADR-34b).
std::string Dump(const Json& j) { return mcp::JsonText(j); }

// The media type of a Content-Type value, lower case, without parameters.
std::string MediaType(std::string_view value) {
    return Lower(Trim(value.substr(0, std::min(value.find(';'), value.size()))));
}

bool IsRequest(const Json& m) { return m.is_object() && m.contains("method") && m.contains("id"); }

bool WantsProgress(const Json& m) {
    if (!IsRequest(m) || !m.contains("params") || !m["params"].is_object()) return false;
    const Json& params = m["params"];
    return params.contains("_meta") && params["_meta"].is_object() && params["_meta"].contains("progressToken");
}

}  // namespace

HttpResponse JsonResponse(const HttpRequest& req, http::status status, const Json& body) {
    HttpResponse res{status, req.version()};
    res.set(http::field::server, "signal-hub");
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = Dump(body);
    res.prepare_payload();
    return res;
}

HttpResponse ErrorResponse(const HttpRequest& req, http::status status, std::string_view message) {
    return JsonResponse(req, status, Json{{"error", std::string(message)}});
}

HttpResponse ErrorResponse(http::status status, std::string_view message) {
    HttpRequest none{http::verb::unknown, "", 11};
    HttpResponse res = ErrorResponse(none, status, message);
    res.keep_alive(false);
    return res;
}

bool OriginAllowed(std::string_view origin, const std::vector<std::string>& allowed) {
    std::string o = Lower(Trim(origin));
    if (!o.empty() && o.back() == '/') o.pop_back();
    if (!allowed.empty()) {
        for (const std::string& a : allowed) {
            if (a == "*") return true;
            std::string want = Lower(Trim(a));
            if (!want.empty() && want.back() == '/') want.pop_back();
            if (want == o) return true;
        }
        return false;
    }
    std::string_view rest = o;
    if (rest.starts_with("http://")) {
        rest.remove_prefix(7);
    } else if (rest.starts_with("https://")) {
        rest.remove_prefix(8);
    } else {
        return false;  // includes the opaque origin "null"
    }
    std::string_view host;
    if (rest.starts_with("[::1]")) {
        host = rest.substr(0, 5);
        rest.remove_prefix(5);
    } else {
        const std::size_t colon = rest.find(':');
        host = rest.substr(0, colon);
        rest.remove_prefix(colon == std::string_view::npos ? rest.size() : colon);
    }
    if (host != "localhost" && host != "127.0.0.1" && host != "[::1]") return false;
    if (rest.empty()) return true;
    if (rest.front() != ':' || rest.size() < 2 || rest.size() > 6) return false;
    return std::all_of(rest.begin() + 1, rest.end(), [](char c) { return c >= '0' && c <= '9'; });
}

AcceptedTypes ParseAccept(std::string_view accept) {
    if (Trim(accept).empty()) return {true, true};
    AcceptedTypes t;
    while (!accept.empty()) {
        const std::size_t comma = accept.find(',');
        std::string_view item = accept.substr(0, comma);
        accept.remove_prefix(comma == std::string_view::npos ? accept.size() : comma + 1);
        const std::string type = MediaType(item);
        // q=0 means "not acceptable".
        bool refused = false;
        std::string_view params = item.substr(std::min(item.find(';'), item.size()));
        while (!params.empty()) {
            params.remove_prefix(1);  // ';'
            const std::size_t semi = params.find(';');
            const std::string p = Lower(Trim(params.substr(0, semi)));
            params.remove_prefix(semi == std::string_view::npos ? params.size() : semi);
            if (p.starts_with("q=")) {
                const std::string_view q = std::string_view(p).substr(2);
                refused = !q.empty() && std::all_of(q.begin(), q.end(), [](char c) { return c == '0' || c == '.'; });
            }
        }
        if (refused) continue;
        if (type == "*/*") t.json = t.sse = true;
        if (type == "application/json" || type == "application/*") t.json = true;
        if (type == "text/event-stream" || type == "text/*") t.sse = true;
    }
    return t;
}

std::optional<HttpResponse> McpEndpoint::CheckProtocolVersion(const HttpRequest& req) const {
    auto it = req.find(kProtocolVersionHeader);
    if (it == req.end()) return std::nullopt;  // 2025-03-26 clients do not send it
    const std::string version(Trim(Sv(it->value())));
    const auto& supported = mcp::SupportedProtocolVersions();
    if (std::find(supported.begin(), supported.end(), version) != supported.end()) return std::nullopt;
    std::string list;
    for (const auto& v : supported) list += (list.empty() ? "" : ", ") + v;
    return ErrorResponse(req, http::status::bad_request,
                         "unsupported MCP-Protocol-Version '" + version + "' (supported: " + list + ")");
}

std::optional<HttpResponse> McpEndpoint::Authorize(const HttpRequest& req, const Json& message,
                                                   const mcp::Caller& caller) const {
    if (!caller.scopes && !caller.collections) return std::nullopt;
    std::optional<std::string> refusal;
    auto check = [&](const Json& m) {
        if (refusal || !IsRequest(m) || m["method"] != "tools/call") return;
        const Json* params = m.contains("params") && m["params"].is_object() ? &m["params"] : nullptr;
        if (!params || !params->contains("name") || !(*params)["name"].is_string()) return;  // -32602 later
        const std::string tool = (*params)["name"];
        if (std::optional<std::string> scope = sessions_.server().ToolScope(tool); scope && !caller.HasScope(*scope)) {
            refusal = "API key " + caller.id + " lacks the '" + *scope + "' scope that tool " + tool + " needs";
            return;
        }
        if (params->contains("arguments") && (*params)["arguments"].is_object()) {
            const Json& args = (*params)["arguments"];
            if (args.contains("collection") && args["collection"].is_string()) {
                const std::string collection = args["collection"];
                if (!caller.AllowsCollection(collection))
                    refusal = "API key " + caller.id + " may not read collection '" + collection + "'";
            }
        }
    };
    if (message.is_array()) {
        for (const Json& m : message) check(m);
    } else {
        check(message);
    }
    if (!refusal) return std::nullopt;
    if (on_forbidden_) on_forbidden_(caller, *refusal);
    return ErrorResponse(req, http::status::forbidden, *refusal);
}

std::shared_ptr<McpSessions::Entry> McpEndpoint::AcquireOwn(std::string_view id, const mcp::Caller& caller) {
    std::shared_ptr<McpSessions::Entry> entry = sessions_.Acquire(id);
    if (entry && entry->owner != caller.id) {
        sessions_.Release(entry);
        return nullptr;
    }
    return entry;
}

HttpResponse McpEndpoint::Post(const HttpRequest& req, const mcp::Caller& caller) {
    if (auto refused = CheckProtocolVersion(req)) return std::move(*refused);
    const AcceptedTypes accepted = ParseAccept(Sv(req[http::field::accept]));
    if (!accepted.json || !accepted.sse)
        return ErrorResponse(req, http::status::not_acceptable,
                             "the Accept header must list application/json and text/event-stream");
    const std::string_view content_type = Sv(req[http::field::content_type]);
    if (!content_type.empty() && MediaType(content_type) != "application/json")
        return ErrorResponse(req, http::status::unsupported_media_type, "the body must be application/json");

    auto rpc_error = [&](int code, const std::string& message) {
        return JsonResponse(
            req, http::status::bad_request,
            Json{{"jsonrpc", "2.0"}, {"id", nullptr}, {"error", {{"code", code}, {"message", message}}}});
    };
    // Refused before parsing: the parsed value would be copied and compared recursively.
    if (mcp::JsonNestingDepth(req.body()) > mcp::kMaxJsonDepth)
        return rpc_error(mcp::kInvalidRequest, mcp::TooDeepMessage());
    const Json message = Json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
    if (message.is_discarded()) return rpc_error(mcp::kParseError, "Parse error: the body is not valid JSON");
    if (message.is_array() && message.size() > mcp::kMaxBatchSize)
        return rpc_error(mcp::kInvalidRequest, mcp::BatchTooLargeMessage(message.size()));
    if (auto forbidden = Authorize(req, message, caller)) return std::move(*forbidden);
    bool has_requests = false;
    bool has_initialize = false;
    bool wants_stream = false;
    auto classify = [&](const Json& m) {
        if (!IsRequest(m)) return;
        has_requests = true;
        if (m["method"] == "initialize") has_initialize = true;
        if (WantsProgress(m)) wants_stream = true;
    };
    if (message.is_array()) {
        for (const Json& m : message) classify(m);
    } else {
        classify(message);
    }

    const std::string session_id(Trim(Sv(req[kSessionHeader])));
    std::shared_ptr<McpSessions::Entry> entry;
    bool created = false;
    if (session_id.empty()) {
        if (!has_initialize)
            return ErrorResponse(req, http::status::bad_request,
                                 "the Mcp-Session-Id header is required (send initialize without it to open a session)");
        if (message.is_array())
            return ErrorResponse(req, http::status::bad_request, "initialize must be sent alone, not in a batch");
        Result<std::shared_ptr<McpSessions::Entry>> opened = sessions_.Create();
        if (!opened.ok()) {
            return ErrorResponse(req,
                                 opened.status().code() == ErrorCode::kResourceExhausted
                                     ? http::status::service_unavailable
                                     : http::status::internal_server_error,
                                 opened.status().message());
        }
        entry = std::move(*opened);
        entry->owner = caller.id;
        created = true;
    } else {
        entry = AcquireOwn(session_id, caller);
        if (!entry)
            return ErrorResponse(req, http::status::not_found,
                                 "unknown or expired MCP session; send initialize without Mcp-Session-Id to start a new one");
    }

    std::optional<Json> reply = entry->session.HandleJson(message, caller);
    const bool opened_ok = created && reply && reply->is_object() && reply->contains("result");
    if (created && !opened_ok) {
        sessions_.Discard(entry);
    } else {
        sessions_.Release(entry);
    }

    HttpResponse res;
    if (!has_requests) {
        // Only notifications/responses: nothing to answer unless some were invalid.
        if (reply) return JsonResponse(req, http::status::bad_request, *reply);
        res = HttpResponse{http::status::accepted, req.version()};
        res.set(http::field::server, "signal-hub");
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
    } else if (!reply) {
        // Every request was cancelled: the client does not want the replies.
        res = HttpResponse{http::status::accepted, req.version()};
        res.set(http::field::server, "signal-hub");
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
    } else if (wants_stream && accepted.sse) {
        res = HttpResponse{http::status::ok, req.version()};
        res.set(http::field::server, "signal-hub");
        res.set(http::field::content_type, "text/event-stream");
        res.set(http::field::cache_control, "no-cache");
        res.keep_alive(req.keep_alive());
        // One event per JSON-RPC message (clients parse each event as one message).
        std::string body;
        auto add_event = [&](const Json& m) {
            body += "id: " + std::to_string(next_event_id_.fetch_add(1)) + "\n";
            body += "data: " + Dump(m) + "\n\n";
        };
        if (reply->is_array()) {
            for (const Json& m : *reply) add_event(m);
        } else {
            add_event(*reply);
        }
        res.body() = std::move(body);
        res.prepare_payload();
    } else {
        res = JsonResponse(req, http::status::ok, *reply);
    }
    if (opened_ok) res.set(kSessionHeader, entry->id);
    return res;
}

HttpResponse McpEndpoint::Delete(const HttpRequest& req, const mcp::Caller& caller) {
    if (auto refused = CheckProtocolVersion(req)) return std::move(*refused);
    const std::string session_id(Trim(Sv(req[kSessionHeader])));
    if (session_id.empty()) return ErrorResponse(req, http::status::bad_request, "the Mcp-Session-Id header is required");
    if (auto own = AcquireOwn(session_id, caller)) {
        sessions_.Release(own);
    } else {
        return ErrorResponse(req, http::status::not_found, "unknown or expired MCP session");
    }
    if (!sessions_.Remove(session_id)) return ErrorResponse(req, http::status::not_found, "unknown or expired MCP session");
    HttpResponse res{http::status::no_content, req.version()};
    res.set(http::field::server, "signal-hub");
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

std::variant<std::string, HttpResponse> McpEndpoint::CheckStream(const HttpRequest& req, const mcp::Caller& caller) {
    if (auto refused = CheckProtocolVersion(req)) return std::move(*refused);
    if (!ParseAccept(Sv(req[http::field::accept])).sse)
        return ErrorResponse(req, http::status::not_acceptable, "GET /mcp opens an SSE stream: Accept must list text/event-stream");
    const std::string session_id(Trim(Sv(req[kSessionHeader])));
    if (session_id.empty()) return ErrorResponse(req, http::status::bad_request, "the Mcp-Session-Id header is required");
    auto entry = AcquireOwn(session_id, caller);
    if (!entry) return ErrorResponse(req, http::status::not_found, "unknown or expired MCP session");
    sessions_.Release(entry);
    return session_id;
}

}  // namespace signalhub::server
