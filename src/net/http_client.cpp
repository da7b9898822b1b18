#include "net/http_client.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <exception>

#include "telemetry/trace.hpp"

namespace signalhub::net {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr std::uint64_t kMaxResponseBytes = 256ULL * 1024 * 1024;

std::string Lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool IsIpLiteral(const std::string& host) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

std::string HttpUrl::HostHeader() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    bool default_port = (tls && port == "443") || (!tls && port == "80");
    if (!default_port) h += ":" + port;
    return h;
}

std::string HttpUrl::Target(std::string_view suffix) const {
    std::string t = path;
    t += suffix;
    if (t.empty() || t.front() != '/') t.insert(t.begin(), '/');
    if (!query.empty()) t += "?" + query;
    return t;
}

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
    HttpUrl out;
    std::string_view rest;
    std::string lower = Lower(url.substr(0, std::min<size_t>(url.size(), 8)));
    if (lower.rfind("https://", 0) == 0) {
        out.tls = true;
        rest = url.substr(8);
    } else if (lower.rfind("http://", 0) == 0) {
        rest = url.substr(7);
    } else {
        return InvalidArgument("URL '" + std::string(url) + "' must start with http:// or https://");
    }
    if (rest.find('#') != std::string_view::npos) {
        return InvalidArgument("URL '" + std::string(url) + "' must not contain a fragment");
    }
    size_t authority_end = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, authority_end);
    std::string_view tail = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
    if (authority.find('@') != std::string_view::npos) {
        return InvalidArgument("URL must not contain user info; put credentials in the API key variable");
    }
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        size_t close = authority.find(']');
        if (close == std::string_view::npos)
            return InvalidArgument("URL '" + std::string(url) + "' has a bad IPv6 host");
        out.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return InvalidArgument("URL '" + std::string(url) + "' has a bad host");
            port = after.substr(1);
        }
    } else {
        size_t colon = authority.find(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (out.host.empty()) return InvalidArgument("URL '" + std::string(url) + "' has no host");
    if (port.empty()) {
        out.port = out.tls ? "443" : "80";
    } else {
        bool digits =
            port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!digits || std::stoi(std::string(port)) == 0 || std::stoi(std::string(port)) > 65535) {
            return InvalidArgument("URL '" + std::string(url) + "' has a bad port '" + std::string(port) + "'");
        }
        out.port = std::string(port);
    }
    size_t q = tail.find('?');
    out.path = std::string(tail.substr(0, q));
    if (q != std::string_view::npos) out.query = std::string(tail.substr(q + 1));
    while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
    return out;
}

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
    std::string wanted = Lower(name);
    for (const auto& [k, v] : headers) {
        if (k == wanted) return v;
    }
    return std::nullopt;
}

struct HttpClient::Impl {
    HttpUrl origin;
    std::chrono::milliseconds timeout;
    asio::io_context ioc;
    std::optional<ssl::context> ssl_ctx;
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    beast::flat_buffer buffer;
    bool permanent_error = false;
    bool skip_host_name_check = false;  // SkipPeerVerificationForLoopbackProbe
    int connections_opened = 0;

    bool connected() const { return plain.has_value() || tls.has_value(); }

    void Close() {
        boost::system::error_code ignored;
        if (plain) plain->socket().close(ignored);
        if (tls) beast::get_lowest_layer(*tls).socket().close(ignored);
        plain.reset();
        tls.reset();
        buffer.clear();
    }

    // Runs queued work until it finishes or `deadline` passes; in that case
    // calls `cancel` and drains the cancelled handlers. Returns false on timeout.
    template <typename Cancel>
    bool RunUntil(const bool& done, SteadyTime deadline, Cancel cancel) {
        ioc.restart();
        ioc.run_until(deadline);
        if (done) return true;
        cancel();
        ioc.restart();
        ioc.run();
        return false;
    }

    Status TimeoutError(std::string_view stage) const {
        return DeadlineExceeded(std::string(stage) + " " + origin.HostHeader() + " timed out after " +
                                std::to_string(timeout.count()) + " ms");
    }

    Status Connect(SteadyTime deadline) {
        Close();
        tcp::resolver resolver(ioc);
        boost::system::error_code ec;
        tcp::resolver::results_type endpoints;
        bool done = false;
        resolver.async_resolve(origin.host, origin.port,
                               [&](const boost::system::error_code& e, tcp::resolver::results_type r) {
                                   ec = e;
                                   endpoints = std::move(r);
                                   done = true;
                               });
        if (!RunUntil(done, deadline, [&] { resolver.cancel(); })) return TimeoutError("resolving");
        if (ec) return Unavailable("cannot resolve " + origin.host + ": " + ec.message());

        auto connect = [&](beast::tcp_stream& stream) -> Status {
            stream.expires_at(deadline);
            done = false;
            stream.async_connect(endpoints, [&](const boost::system::error_code& e, const tcp::endpoint&) {
                ec = e;
                done = true;
            });
            if (!RunUntil(done, deadline, [&] { stream.cancel(); }) || ec == beast::error::timeout) {
                return TimeoutError("connecting to");
            }
            if (ec) return Unavailable("cannot connect to " + origin.HostHeader() + ": " + ec.message());
            ++connections_opened;
            return Status::Ok();
        };

        if (!origin.tls) {
            plain.emplace(ioc);
            Status s = connect(*plain);
            if (!s.ok()) Close();
            return s;
        }
        if (!ssl_ctx) {
            ssl_ctx.emplace(ssl::context::tls_client);
            ssl_ctx->set_default_verify_paths(ec);
            if (ec) return Unavailable("cannot load the system certificate store: " + ec.message());
            ssl_ctx->set_verify_mode(ssl::verify_peer);
        }
        tls.emplace(ioc, *ssl_ctx);
        if (!IsIpLiteral(origin.host)) {
            // SNI (what the SSL_set_tlsext_host_name macro expands to).
            if (SSL_ctrl(tls->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                         const_cast<char*>(origin.host.c_str())) != 1) {
                Close();
                return Unavailable("cannot set TLS server name for " + origin.host);
            }
        }
        if (!skip_host_name_check) tls->set_verify_callback(ssl::host_name_verification(origin.host));
        Status s = connect(beast::get_lowest_layer(*tls));
        if (!s.ok()) {
            Close();
            return s;
        }
        done = false;
        tls->async_handshake(ssl::stream_base::client, [&](const boost::system::error_code& e) {
            ec = e;
            done = true;
        });
        if (!RunUntil(done, deadline, [&] { beast::get_lowest_layer(*tls).cancel(); }) || ec == beast::error::timeout) {
            Close();
            return TimeoutError("TLS handshake with");
        }
        if (ec) {
            Close();
            permanent_error = true;  // certificate or protocol mismatch: retrying will not help
            return Unavailable("TLS handshake with " + origin.HostHeader() + " failed: " + ec.message());
        }
        return Status::Ok();
    }

    // One exchange on the open connection. `stale` is set when the failure
    // looks like a connection the server closed while idle.
    template <typename Stream>
    Result<HttpResponse> Exchange(Stream& stream, beast::tcp_stream& lowest,
                                  const http::request<http::string_body>& req, SteadyTime deadline, bool& stale) {
        boost::system::error_code ec;
        bool done = false;
        lowest.expires_at(deadline);
        http::async_write(stream, req, [&](const boost::system::error_code& e, std::size_t) {
            ec = e;
            done = true;
        });
        if (!RunUntil(done, deadline, [&] { lowest.cancel(); }) || ec == beast::error::timeout) {
            return TimeoutError("sending a request to");
        }
        if (ec) {
            stale = true;
            return Unavailable("sending a request to " + origin.HostHeader() + " failed: " + ec.message());
        }
        http::response_parser<http::string_body> parser;
        parser.body_limit(kMaxResponseBytes);
        done = false;
        std::size_t read_bytes = 0;
        http::async_read(stream, buffer, parser, [&](const boost::system::error_code& e, std::size_t n) {
            ec = e;
            read_bytes = n;
            done = true;
        });
        if (!RunUntil(done, deadline, [&] { lowest.cancel(); }) || ec == beast::error::timeout) {
            return TimeoutError("waiting for a response from");
        }
        if (ec) {
            stale = read_bytes == 0 && buffer.size() == 0;
            return Unavailable("reading the response from " + origin.HostHeader() + " failed: " + ec.message());
        }
        auto& res = parser.get();
        HttpResponse out;
        out.status = static_cast<int>(res.result_int());
        for (const auto& field : res.base()) {
            beast::string_view name = field.name_string();
            beast::string_view value = field.value();
            out.headers.emplace_back(Lower(std::string_view(name.data(), name.size())),
                                     std::string(value.data(), value.size()));
        }
        out.body = std::move(res.body());
        if (!res.keep_alive()) Close();
        return out;
    }
};

HttpClient::HttpClient(HttpUrl origin, std::chrono::milliseconds timeout) : impl_(std::make_unique<Impl>()) {
    impl_->origin = std::move(origin);
    impl_->timeout = timeout;
}

Status HttpClient::SetCaFile(const std::string& pem_path) {
    boost::system::error_code ec;
    ssl::context ctx(ssl::context::tls_client);
    ctx.load_verify_file(pem_path, ec);
    if (ec) return InvalidArgument("cannot load CA certificates from " + pem_path + ": " + ec.message());
    ctx.set_verify_mode(ssl::verify_peer);
    impl_->Close();
    impl_->ssl_ctx.emplace(std::move(ctx));
    return Status::Ok();
}

void HttpClient::SkipPeerVerificationForLoopbackProbe() {
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_verify_mode(ssl::verify_none);
    impl_->Close();
    impl_->ssl_ctx.emplace(std::move(ctx));
    impl_->skip_host_name_check = true;
}

HttpClient::~HttpClient() {
    if (impl_) impl_->Close();
}

bool HttpClient::PermanentError() const { return impl_->permanent_error; }
int HttpClient::connections_opened() const { return impl_->connections_opened; }

Result<HttpResponse> HttpClient::Request(std::string_view method, const std::string& target,
                                         const std::vector<HttpHeader>& headers, const std::string& body) {
    Impl& s = *impl_;
    s.permanent_error = false;
    // A client span under the request being served (if any); its context goes out as traceparent.
    telemetry::ScopedSpan span(method, telemetry::SpanKind::kClient);
    if (span->recording()) {
        span->SetAttribute("http.request.method", method);
        span->SetAttribute("server.address", s.origin.host);
        span->SetAttribute("server.port", static_cast<std::int64_t>(std::atoi(s.origin.port.c_str())));
        span->SetAttribute("url.full", std::string(s.origin.tls ? "https://" : "http://") + s.origin.HostHeader() +
                                           target.substr(0, target.find('?')));
    }
    Result<HttpResponse> result = Send(method, target, headers, body);
    if (result.ok()) {
        span->SetAttribute("http.response.status_code", static_cast<std::int64_t>(result->status));
        if (result->status >= 400) span->SetError("HTTP " + std::to_string(result->status));
    } else {
        span->SetStatus(result.status());
    }
    return result;
}

Result<HttpResponse> HttpClient::Send(std::string_view method, const std::string& target,
                                      const std::vector<HttpHeader>& headers, const std::string& body) {
    Impl& s = *impl_;
    try {
        http::verb verb = http::string_to_verb(beast::string_view(method.data(), method.size()));
        if (verb == http::verb::unknown) return InvalidArgument("unknown HTTP method '" + std::string(method) + "'");
        http::request<http::string_body> req{verb, target, 11};
        req.set(http::field::host, s.origin.HostHeader());
        req.set(http::field::user_agent, "signal-hub");
        for (const auto& h : headers) req.set(h.name, h.value);
        if (const telemetry::SpanContext& trace = telemetry::CurrentSpanContext(); trace.valid()) {
            req.set("traceparent", telemetry::FormatTraceparent(trace));
            if (!trace.trace_state.empty()) req.set("tracestate", trace.trace_state);
        }
        req.keep_alive(true);
        req.body() = body;
        req.prepare_payload();

        SteadyTime deadline = std::chrono::steady_clock::now() + s.timeout;
        for (int attempt = 0;; ++attempt) {
            bool reused = s.connected();
            if (!reused) SH_RETURN_IF_ERROR(s.Connect(deadline));
            bool stale = false;
            Result<HttpResponse> r = s.tls ? s.Exchange(*s.tls, beast::get_lowest_layer(*s.tls), req, deadline, stale)
                                           : s.Exchange(*s.plain, *s.plain, req, deadline, stale);
            if (r.ok()) return r;
            s.Close();
            // The server may close an idle keep-alive connection at any time:
            // re-send once on a fresh connection.
            if (reused && stale && attempt == 0) continue;
            return r;
        }
    } catch (const std::exception& e) {
        s.Close();
        return Unavailable("HTTP request to " + s.origin.HostHeader() + " failed: " + e.what());
    }
}

}  // namespace signalhub::net
