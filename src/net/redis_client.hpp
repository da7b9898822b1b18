#pragma once
// A small synchronous Redis client (RESP2) shared by the Redis rate limiter
// (security/rate_limiter.hpp) and the Redis query cache
// (search/redis_cache.hpp): URL parsing and a bounded pool of connections.
// The transport is our own (net/redis_transport.hpp: non-blocking sockets,
// OpenSSL for rediss://); hiredis 0.14 only parses replies (redisReader).
//
// URLs: redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB] (port 6379, db 0 by
// default; USER and PASSWORD may be percent-encoded; HOST may be [IPv6]).
// rediss:// is Redis over TLS: the server's certificate is verified against
// the system CA store or TlsOptions::ca_file, and must name HOST (DNS name or
// IP address in its subjectAltName); SNI carries HOST when it is a name. A
// connection that fails verification is closed before anything is sent.
//
// Secrets: the password never appears in an error message or in Display();
// errors name the server as Display() does (redis://:***@host:port/db).
//
// Thread safety: RedisPool may be used from any number of threads; each
// command runs on a connection no other thread uses at that moment.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace signalhub::redis {

class TlsClientContext;  // net/redis_transport.hpp

struct RedisUrl {
    std::string host;        // without IPv6 brackets
    int port = 6379;
    std::string username;    // Redis 6 ACL user; empty: AUTH with the password only
    std::string password;    // empty: no AUTH
    int db = 0;              // SELECTed after connecting when not 0
    bool tls = false;        // rediss://

    // The URL with the password replaced by *** (for logs and errors).
    std::string Display() const;
};

// InvalidArgument naming what is wrong (scheme, host, port, database, percent
// escape); never quotes the password.
Result<RedisUrl> ParseRedisUrl(std::string_view url);

// TLS settings of a rediss:// connection (files are PEM). All empty: verify
// the server against the system CA store, no client certificate.
struct TlsOptions {
    std::string ca_file{};    // CA certificate(s) the server's certificate must chain to; "" = system store
    std::string cert_file{};  // client certificate (chain) for servers with tls-auth-clients; needs key_file
    std::string key_file{};   // its unencrypted private key; needs cert_file

    bool empty() const { return ca_file.empty() && cert_file.empty() && key_file.empty(); }
};

// A reply converted to plain values (RESP2). Error replies are values too:
// a Redis error ("NOSCRIPT ...", "WRONGTYPE ...") leaves the connection usable.
struct Reply {
    enum class Type { kNil, kString, kInteger, kArray, kStatus, kError };
    Type type = Type::kNil;
    std::string str;             // kString, kStatus, kError
    long long integer = 0;       // kInteger
    std::vector<Reply> elements; // kArray

    bool IsError() const { return type == Type::kError; }
};

struct PoolOptions {
    RedisUrl url;
    TlsOptions tls;  // only with url.tls (a plaintext URL with TLS files is refused)
    double connect_timeout_seconds = 0.5;
    double command_timeout_seconds = 0.5;  // per command, also the wait for a free connection
    int max_connections = 8;
    // After a failed connect, commands fail at once (Unavailable) for this
    // long instead of each trying to connect again (a down server costs no
    // timeout per call). 0: every command tries.
    double reconnect_interval_seconds = 0.25;
};

// The PoolOptions of a Redis URL, its TLS files, and the timeouts: what the
// rate limiter and the query cache share. InvalidArgument naming what is
// wrong (the URL, a non-positive timeout or pool size, TLS files with a
// plaintext redis:// URL, a certificate without its key).
Result<PoolOptions> MakePoolOptions(std::string_view url, const TlsOptions& tls, double timeout_seconds,
                                    int max_connections, double reconnect_interval_seconds);

// A bounded pool of connections, opened lazily (the server need not be up
// when the pool is created). A connection that fails (I/O error, timeout,
// protocol error) is closed, and the next command opens a new one, so the
// pool recovers by itself when the server comes back (a failure also closes
// the idle connections, which are likely stale too). Each new connection
// completes the TLS handshake (rediss://), then sends AUTH (when the URL has
// a password) and SELECT (db != 0); a TLS connection with neither sends a
// PING, so that a server refusing the client certificate (TLS 1.3 says so
// only after the handshake) fails the connect, not the first command.
// A failed connect is logged (WARN, once per distinct error; INFO when the
// server answers again).
class RedisPool {
   public:
    // Loads the TLS files of a rediss:// URL (the CA certificates, the client
    // certificate and key, which must match). InvalidArgument naming the file
    // and what is wrong; also for TLS files with a plaintext redis:// URL.
    static Result<std::unique_ptr<RedisPool>> Create(PoolOptions options);
    ~RedisPool();
    RedisPool(const RedisPool&) = delete;
    RedisPool& operator=(const RedisPool&) = delete;

    // Runs one command (arguments are binary-safe). Errors: Unavailable when
    // the server cannot be reached, refuses AUTH/SELECT, the connection
    // breaks, a reply does not arrive within command_timeout_seconds, or no
    // connection is free within that time. A Redis error reply is a
    // successful Result holding a Reply of type kError.
    Result<Reply> Command(const std::vector<std::string_view>& args);

    const PoolOptions& options() const { return options_; }

   private:
    struct Connection;
    RedisPool(PoolOptions options, std::shared_ptr<const TlsClientContext> tls);
    Result<std::unique_ptr<Connection>> Acquire();
    void Release(std::unique_ptr<Connection> connection, bool healthy);
    Result<std::unique_ptr<Connection>> Connect();

    Result<Reply> Exchange(Connection& connection, const std::vector<std::string_view>& args, double timeout_seconds);
    std::string Reason(const Status& status) const;
    void NoteConnect(const Status& status);

    const PoolOptions options_;
    const std::shared_ptr<const TlsClientContext> tls_;  // null for redis://
    std::mutex mu_;
    std::condition_variable freed_;
    std::vector<std::unique_ptr<Connection>> idle_;
    int open_ = 0;  // connections in idle_ or in use
    std::chrono::steady_clock::time_point connect_blocked_until_{};
    std::string last_connect_error_;
    std::mutex log_mu_;
    std::string logged_error_;  // the connect error last logged; "" while connects succeed
};

}  // namespace signalhub::redis
