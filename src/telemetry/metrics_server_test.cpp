#include "telemetry/metrics_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "telemetry/metrics.hpp"

namespace signalhub::telemetry {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

http::response<http::string_body> Send(std::uint16_t port, http::verb method, const std::string& target,
                                       int requests = 1) {
    net::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    http::response<http::string_body> res;
    for (int i = 0; i < requests; ++i) {  // several on one keep-alive connection
        http::request<http::string_body> req{method, target, 11};
        req.set(http::field::host, "127.0.0.1");
        http::write(stream, req);
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        if (method == http::verb::head) parser.skip(true);
        http::read(stream, buffer, parser);
        res = parser.release();
    }
    return res;
}

TEST(MetricsServer, ServesTheRenderingOnItsPath) {
    Registry registry;
    registry.AddGauge("up", "Up.").Get().Set(1);
    auto server = MetricsServer::Start(MetricsServerOptions{"127.0.0.1", 0, "/metrics"},
                                       [&] { return RenderPrometheus(registry.Collect()); });
    ASSERT_TRUE(server.ok()) << server.status().message();
    const std::uint16_t port = (*server)->port();
    ASSERT_NE(port, 0);

    auto get = Send(port, http::verb::get, "/metrics", 2);
    EXPECT_EQ(get.result_int(), 200);
    EXPECT_EQ(get[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(get.body(), "# HELP up Up.\n# TYPE up gauge\nup 1\n");

    auto head = Send(port, http::verb::head, "/metrics?x=1");
    EXPECT_EQ(head.result_int(), 200);
    EXPECT_EQ(head.body(), "");
    EXPECT_EQ(head[http::field::content_length], std::to_string(get.body().size()));

    EXPECT_EQ(Send(port, http::verb::get, "/other").result_int(), 404);
    EXPECT_EQ(Send(port, http::verb::get, "/metrics/x").result_int(), 404);
    auto post = Send(port, http::verb::post, "/metrics");
    EXPECT_EQ(post.result_int(), 405);
    EXPECT_EQ(post[http::field::allow], "GET, HEAD");
}

TEST(MetricsServer, RendersOnEveryScrape) {
    std::atomic<int> calls{0};
    auto server = MetricsServer::Start(MetricsServerOptions{"127.0.0.1", 0, "/m"},
                                       [&] { return "n " + std::to_string(++calls) + "\n"; });
    ASSERT_TRUE(server.ok());
    EXPECT_EQ(Send((*server)->port(), http::verb::get, "/m").body(), "n 1\n");
    EXPECT_EQ(Send((*server)->port(), http::verb::get, "/m").body(), "n 2\n");
}

TEST(MetricsServer, RefusesABadPathAndABusyPort) {
    EXPECT_EQ(MetricsServer::Start(MetricsServerOptions{"127.0.0.1", 0, "metrics"}, [] { return std::string(); })
                  .status()
                  .code(),
              ErrorCode::kInvalidArgument);
    auto first = MetricsServer::Start(MetricsServerOptions{"127.0.0.1", 0, "/metrics"}, [] { return std::string(); });
    ASSERT_TRUE(first.ok());
    auto second = MetricsServer::Start(MetricsServerOptions{"127.0.0.1", (*first)->port(), "/metrics"},
                                       [] { return std::string(); });
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), ErrorCode::kUnavailable);
    EXPECT_NE(second.status().message().find("cannot listen on 127.0.0.1:"), std::string::npos);
    EXPECT_NE(second.status().message().find(": address in use"), std::string::npos) << second.status().message();
}

TEST(MetricsServer, StopClosesOpenConnections) {
    auto server = MetricsServer::Start(MetricsServerOptions{"127.0.0.1", 0, "/metrics"}, [] { return std::string(); });
    ASSERT_TRUE(server.ok());
    net::io_context io;
    beast::tcp_stream idle(io);  // connected, never sends a request
    idle.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), (*server)->port()));
    (*server)->Stop();
    char byte = 0;
    beast::error_code ec;
    idle.socket().read_some(net::buffer(&byte, 1), ec);
    EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
}

}  // namespace
}  // namespace signalhub::telemetry
