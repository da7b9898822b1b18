#include "telemetry/otlp_http.hpp"

#include <memory>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "net/http_client.hpp"
#include "telemetry/log.hpp"

namespace signalhub::telemetry {

Result<std::string> OtlpTracesUrl(std::string_view endpoint) {
    auto url = net::ParseHttpUrl(endpoint);
    if (!url.ok())
        return Status(ErrorCode::kInvalidArgument,
                      "monitoring.tracing.jaeger_endpoint: " + RedactText(url.status().message()));
    std::string out(endpoint);
    if (url->path.empty()) {
        const std::size_t q = out.find('?');
        std::string query = q == std::string::npos ? "" : out.substr(q);
        out = out.substr(0, q);
        while (!out.empty() && out.back() == '/') out.pop_back();
        out += "/v1/traces" + query;
    }
    return out;
}

Result<SpanSender> MakeOtlpHttpSender(const OtlpHttpOptions& options) {
    SH_ASSIGN_OR_RETURN(std::string full, OtlpTracesUrl(options.endpoint));
    SH_ASSIGN_OR_RETURN(net::HttpUrl url, net::ParseHttpUrl(full));
    struct State {
        std::unique_ptr<net::HttpClient> client;
        std::string target;
        std::optional<std::chrono::steady_clock::time_point> last_partial_warning;
    };
    auto state = std::make_shared<State>();
    state->target = url.Target("");
    state->client = std::make_unique<net::HttpClient>(url, options.timeout);
    const std::string where = RedactUrl(full);
    return SpanSender([state, where](const std::string& body) -> Status {
        Result<net::HttpResponse> r = state->client->Request(
            "POST", state->target, {{"Content-Type", "application/json"}, {"Accept", "application/json"}}, body);
        if (!r.ok()) {
            if (r.status().code() == ErrorCode::kDeadlineExceeded)
                return Status(ErrorCode::kUnavailable, "OTLP export to " + where + ": " + r.status().message());
            return r.status();
        }
        const int code = r->status;
        if (code >= 200 && code < 300) {
            // partialSuccess.rejectedSpans (an int64, as a string or a number) > 0: the collector kept the rest.
            auto answer = nlohmann::json::parse(r->body, nullptr, false);
            if (answer.is_object() && answer.contains("partialSuccess") && answer["partialSuccess"].is_object()) {
                const auto& partial = answer["partialSuccess"];
                std::string rejected = partial.contains("rejectedSpans") ? partial["rejectedSpans"].dump() : "0";
                if (rejected != "0" && rejected != "\"0\"") {
                    const auto now = std::chrono::steady_clock::now();
                    if (!state->last_partial_warning || now - *state->last_partial_warning >= std::chrono::minutes(1)) {
                        state->last_partial_warning = now;
                        Warn("the trace collector rejected some spans",
                             {{"endpoint", where}, {"rejected_spans", rejected},
                              {"error", partial.value("errorMessage", std::string())}});
                    }
                }
            }
            return Status::Ok();
        }
        std::string excerpt = r->body.substr(0, 300);
        const std::string message = "OTLP export to " + where + ": HTTP " + std::to_string(code) +
                                    (excerpt.empty() ? "" : ": " + excerpt);
        if (code == 429 || code == 502 || code == 503 || code == 504)
            return Status(ErrorCode::kUnavailable, message);
        return Status(ErrorCode::kInvalidArgument, message);
    });
}

}  // namespace signalhub::telemetry
