#pragma once
// A small synchronous Redis client (hiredis 0.14, RESP2) shared by the Redis
// rate limiter (security/rate_limiter.hpp) and the Redis query cache
// (search/redis_cache.hpp): URL parsing and a bounded pool of connections.
//
// URLs: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (port 6379, db 0 by
// default; USER and PASSWORD may be percent-encoded; HOST may be [IPv6]).
// rediss:// (TLS) is refused: Debian 12's hiredis 0.14 has no TLS support.
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

struct RedisUrl {
    std::string host;        // without IPv6 brackets
    int port = 6379;
    std::string username;    // Redis 6 ACL user; empty: AUTH with the password only
    std::string password;    // empty: no AUTH
    int db = 0;              // SELECTed after connecting when not 0

    // The URL with the password replaced by *** (for logs and errors).
    std::string Display() const;
};

// InvalidArgument naming what is wrong (scheme, host, port, database, percent
// escape); never quotes the password.
Result<RedisUrl> ParseRedisUrl(std::string_view url);

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
    double connect_timeout_seconds = 0.5;
    double command_timeout_seconds = 0.5;  // per command, also the wait for a free connection
    int max_connections = 8;
    // After a failed connect, commands fail at once (Unavailable) for this
    // long instead of each trying to connect again (a down server costs no
    // timeout per call). 0: every command tries.
    double reconnect_interval_seconds = 0.25;
};

// A bounded pool of connections, opened lazily (the server need not be up
// when the pool is created). A connection that fails (I/O error, timeout,
// protocol error) is closed, and the next command opens a new one, so the
// pool recovers by itself when the server comes back (a failure also closes
// the idle connections, which are likely stale too). Each new connection
// sends AUTH (when the URL has a password) and SELECT (db != 0) first.
class RedisPool {
   public:
    explicit RedisPool(PoolOptions options);
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
    Result<std::unique_ptr<Connection>> Acquire();
    void Release(std::unique_ptr<Connection> connection, bool healthy);
    Result<std::unique_ptr<Connection>> Connect();

    const PoolOptions options_;
    std::mutex mu_;
    std::condition_variable freed_;
    std::vector<std::unique_ptr<Connection>> idle_;
    int open_ = 0;  // connections in idle_ or in use
    std::chrono::steady_clock::time_point connect_blocked_until_{};
    std::string last_connect_error_;
};

}  // namespace signalhub::redis
