#include "telemetry/metrics_server.hpp"

#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "telemetry/metrics.hpp"

namespace signalhub::telemetry {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr std::chrono::seconds kTimeout{10};
constexpr std::size_t kBodyLimit = 64 * 1024;

beast::string_view Bsv(std::string_view s) { return {s.data(), s.size()}; }
std::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

Response Answer(const Request& req, const std::string& path, const std::function<std::string()>& render) {
    const std::string_view target = Sv(req.target());
    const std::string_view req_path = target.substr(0, target.find('?'));
    Response res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::server, "signal-hub");
    if (req_path != path) {
        res.result(http::status::not_found);
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.body() = "not found; metrics are at " + path + "\n";
    } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
        res.result(http::status::method_not_allowed);
        res.set(http::field::allow, "GET, HEAD");
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.body() = "method not allowed (allowed: GET, HEAD)\n";
    } else {
        res.result(http::status::ok);
        res.set(http::field::content_type, Bsv(kPrometheusContentType));
        res.body() = render();
    }
    res.prepare_payload();  // Content-Length of the body, also for HEAD
    if (req.method() == http::verb::head) res.body().clear();
    return res;
}

}  // namespace

struct MetricsServer::Impl {
    class Connection;
    MetricsServerOptions options;
    std::function<std::string()> render;
    std::unordered_map<Connection*, std::weak_ptr<Connection>> connections;  // the I/O thread's
    net::io_context io{1};
    tcp::acceptor acceptor{io};
    std::uint16_t port = 0;
    std::thread thread;
    std::once_flag stopped;

    class Connection : public std::enable_shared_from_this<Connection> {
       public:
        Connection(tcp::socket socket, Impl& impl) : stream_(std::move(socket)), impl_(impl) {}
        ~Connection() { impl_.connections.erase(this); }
        void Start() {
            impl_.connections.emplace(this, weak_from_this());
            Read();
        }
        void Close() {
            beast::error_code ignored;
            stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
            stream_.socket().close(ignored);
        }

       private:
        void Read() {
            parser_.emplace();
            parser_->body_limit(kBodyLimit);
            stream_.expires_after(kTimeout);
            http::async_read(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
        }

        void OnRead(beast::error_code ec) {
            if (ec) {
                Close();
                return;
            }
            Request req = parser_->release();
            res_ = Answer(req, impl_.options.path, impl_.render);
            stream_.expires_after(kTimeout);
            http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code wec, std::size_t) {
                if (wec || !self->res_.keep_alive()) {
                    self->Close();
                    return;
                }
                self->Read();
            });
        }
        beast::tcp_stream stream_;
        Impl& impl_;
        beast::flat_buffer buffer_;
        std::optional<http::request_parser<http::string_body>> parser_;
        Response res_;
    };

    void Accept() {
        acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
            if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
            if (!ec) std::make_shared<Connection>(std::move(socket), *this)->Start();
            Accept();
        });
    }
};

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(MetricsServerOptions options,
                                                            std::function<std::string()> render) {
    if (options.path.empty() || options.path[0] != '/')
        return InvalidArgument("the metrics path must start with '/' (got '" + options.path + "')");
    auto impl = std::make_unique<Impl>();
    impl->options = std::move(options);
    impl->render = std::move(render);
    const std::string where = impl->options.host + ":" + std::to_string(impl->options.port);
    beast::error_code ec;
    tcp::resolver resolver(impl->io);
    auto results = resolver.resolve(impl->options.host, std::to_string(impl->options.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) return Unavailable("cannot listen on " + where + ": " + ec.message());
    const tcp::endpoint endpoint = results.begin()->endpoint();
    impl->acceptor.open(endpoint.protocol(), ec);
    if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) impl->acceptor.bind(endpoint, ec);
    if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec == net::error::address_in_use) return Unavailable("cannot listen on " + where + ": address in use");
    if (ec) return Unavailable("cannot listen on " + where + ": " + ec.message());
    impl->port = impl->acceptor.local_endpoint(ec).port();
    impl->Accept();
    Impl* raw = impl.get();
    impl->thread = std::thread([raw] { raw->io.run(); });
    return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() { Stop(); }

std::uint16_t MetricsServer::port() const { return impl_->port; }

void MetricsServer::Stop() {
    std::call_once(impl_->stopped, [this] {
        // Closing the acceptor and every connection cancels their pending
        // operations; once those handlers ran, io.run() runs out of work.
        net::post(impl_->io, [impl = impl_.get()] {
            beast::error_code ignored;
            impl->acceptor.close(ignored);
            std::vector<std::shared_ptr<Impl::Connection>> open;
            for (auto& [raw, weak] : impl->connections) {
                if (auto c = weak.lock()) open.push_back(std::move(c));
            }
            for (auto& c : open) c->Close();
        });
        if (impl_->thread.joinable()) impl_->thread.join();
    });
}

}  // namespace signalhub::telemetry
