#include "server/http_policy.hpp"

#include <algorithm>
#include <cctype>

namespace signalhub::server {

namespace http = boost::beast::http;

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

// "host[:port]" lower case, without the scheme's default port.
std::string Authority(std::string_view authority, bool https) {
    std::string a = Lower(authority);
    const std::string_view default_port = https ? ":443" : ":80";
    if (a.size() > default_port.size() && a.ends_with(default_port)) a.resize(a.size() - default_port.size());
    return a;
}

// Whether `origin` (scheme://host[:port]) names the host the request was sent to.
bool SameOrigin(std::string_view origin, std::string_view host) {
    const std::string o = Lower(origin);
    bool https = false;
    std::string_view rest = o;
    if (rest.starts_with("http://")) {
        rest.remove_prefix(7);
    } else if (rest.starts_with("https://")) {
        rest.remove_prefix(8);
        https = true;
    } else {
        return false;
    }
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    host = Trim(host);
    return !host.empty() && Authority(rest, https) == Authority(host, https);
}

// Printable ASCII without spaces or separators a header list could split on.
bool EchoableOrigin(std::string_view origin) {
    return !origin.empty() && origin.size() <= 2048 && std::all_of(origin.begin(), origin.end(), [](char c) {
        return c > 0x20 && c < 0x7f && c != ',' && c != ';' && c != '"';
    });
}

}  // namespace

std::string CorsOrigin(const HttpRequest& req, const std::vector<std::string>& allowed_origins) {
    if (allowed_origins.empty()) return {};
    auto it = req.find(http::field::origin);
    if (it == req.end()) return {};
    const std::string_view origin = Trim(Sv(it->value()));
    if (!EchoableOrigin(origin) || Lower(origin) == "null") return {};
    if (!OriginAllowed(origin, allowed_origins)) return {};
    if (SameOrigin(origin, Sv(req[http::field::host]))) return {};
    return std::string(origin);
}

std::optional<HttpResponse> CorsPreflight(const HttpRequest& req, const std::vector<std::string>& allowed_origins) {
    if (req.method() != http::verb::options) return std::nullopt;
    const std::string_view target = Sv(req.target());
    if (target.substr(0, target.find('?')) != "/mcp") return std::nullopt;
    const std::string origin = CorsOrigin(req, allowed_origins);
    if (origin.empty()) return std::nullopt;
    HttpResponse res{http::status::no_content, req.version()};
    res.set(http::field::server, "signal-hub");
    res.set(http::field::access_control_allow_methods, kCorsAllowMethods);
    res.set(http::field::access_control_allow_headers, kCorsAllowHeaders);
    res.set(http::field::access_control_max_age, kCorsMaxAgeSeconds);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

}  // namespace signalhub::server
