#pragma once
// MetricsServer: the Prometheus scrape endpoint, a plain-HTTP/1.1 listener on
// its own port (Boost.Beast), separate from the MCP listener.
//
//   GET or HEAD <path>   200, Content-Type "text/plain; version=0.0.4; charset=utf-8",
//                        the text `render` returns (HEAD: headers only)
//   another path         404
//   another method       405 with Allow: GET, HEAD
//
// No TLS and no authentication: keep the port on a private network (bind
// 127.0.0.1 or a pod address, and restrict it with a NetworkPolicy or a
// firewall). Requests must arrive within 10 s (also the keep-alive idle limit);
// request bodies over 64 KiB are refused. One I/O thread; `render` runs on it.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/status.hpp"

namespace signalhub::telemetry {

struct MetricsServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 9090;  // 0 = ephemeral (see MetricsServer::port())
    std::string path = "/metrics";
};

class MetricsServer {
   public:
    // Binds and listens (Unavailable: "cannot listen on HOST:PORT: ..."), then
    // serves on its own thread. InvalidArgument for a path not starting with '/'.
    // `render` is called once per GET and must be thread-safe with respect to
    // whatever it reads.
    static Result<std::unique_ptr<MetricsServer>> Start(MetricsServerOptions options,
                                                        std::function<std::string()> render);
    // Stop().
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    std::uint16_t port() const;
    // Closes the listener and every connection, joins the thread. Idempotent.
    void Stop();

   private:
    struct Impl;
    explicit MetricsServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace signalhub::telemetry
