// libFuzzer target: the small parsers on the request path that see raw header
// values before anything else: security::ParseApiKey (+ Base64UrlDecode,
// ParseScopeList), ParseAccept, OriginAllowed (loopback default, a list, "*"),
// and the CORS decisions (CorsOrigin, CorsPreflight). The first input byte
// picks the parser; the rest is the header value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "security/api_key.hpp"
#include "server/http_policy.hpp"
#include "server/mcp_endpoint.hpp"

namespace sh = signalhub;
namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t selector = data[0];
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (selector % 5) {
        case 0: {
            auto parsed = sh::security::ParseApiKey(text);
            if (parsed.ok()) {
                // A key that parses formats back to itself, and its parts are what the header promises.
                if (sh::security::FormatApiKey(parsed->id, parsed->secret) != text) std::abort();
                if (parsed->id.size() != sh::security::kKeyIdLength) std::abort();
                if (parsed->secret.size() != sh::security::kSecretLength) std::abort();
            } else if (text.starts_with(sh::security::kKeyPrefix) && text.size() >= 4 + 16 + 1 + 8 &&
                       parsed.status().message().find(text.substr(4 + 16 + 1)) != std::string::npos) {
                // The message must never echo what would be the secret. The tail may also occur in the
                // message's own wording (", expected "): then the message of the same key with another
                // tail of the same length contains it too, and nothing was echoed.
                const std::string_view tail = text.substr(4 + 16 + 1);
                std::string other(text.substr(0, 4 + 16 + 1));
                other.append(tail.size(), tail.front() == 'x' ? 'y' : 'x');
                auto reparsed = sh::security::ParseApiKey(other);
                if (reparsed.ok() || reparsed.status().message().find(tail) == std::string::npos) std::abort();
            }
            break;
        }
        case 1: {
            auto decoded = sh::security::Base64UrlDecode(text);
            if (decoded.ok() && sh::security::Base64UrlEncode(*decoded) != text) std::abort();  // canonical
            (void)sh::security::ParseScopeList(text);
            break;
        }
        case 2:
            (void)sh::server::ParseAccept(text);
            break;
        case 3: {
            static const std::vector<std::string> none;
            static const std::vector<std::string> list = {"https://app.example.com", "http://10.0.0.5:8080/"};
            static const std::vector<std::string> any = {"*"};
            (void)sh::server::OriginAllowed(text, none);
            (void)sh::server::OriginAllowed(text, list);
            (void)sh::server::OriginAllowed(text, any);
            break;
        }
        case 4: {
            // Origin and Host from the input (split at the first newline), as Beast would hand them over.
            const std::size_t nl = text.find('\n');
            const std::string_view origin = text.substr(0, nl);
            const std::string_view host = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
            sh::server::HttpRequest req{(selector & 8) ? http::verb::options : http::verb::post, "/mcp", 11};
            req.set(http::field::origin, boost::beast::string_view(origin.data(), origin.size()));
            if (!host.empty()) req.set(http::field::host, boost::beast::string_view(host.data(), host.size()));
            static const std::vector<std::string> list = {"https://app.example.com", "*"};
            const std::string cors = sh::server::CorsOrigin(req, list);
            if (!cors.empty() && !sh::server::OriginAllowed(cors, list)) std::abort();
            if (!cors.empty() && cors.find_first_of("\r\n\0 ,", 0, 5) != std::string::npos) std::abort();
            auto preflight = sh::server::CorsPreflight(req, list);
            if (preflight && cors.empty()) std::abort();
            break;
        }
    }
    return 0;
}
