#include "net/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <utility>

namespace signalhub::redis {
namespace {

constexpr std::string_view kUsage = "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]";

std::string Lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decodes user info; false on a malformed escape.
bool PercentDecode(std::string_view in, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size()) return false;
        const int hi = HexValue(in[i + 1]);
        const int lo = HexValue(in[i + 2]);
        if (hi < 0 || lo < 0) return false;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return true;
}

bool ParseInt(std::string_view text, int min, int max, int& out) {
    if (text.empty()) return false;
    int value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value < min || value > max) return false;
    out = value;
    return true;
}

timeval ToTimeval(double seconds) {
    if (!(seconds > 0) || !std::isfinite(seconds)) seconds = 0.001;
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(seconds);
    tv.tv_usec = static_cast<suseconds_t>(std::llround((seconds - static_cast<double>(tv.tv_sec)) * 1e6));
    if (tv.tv_usec >= 1000000) {
        tv.tv_sec += 1;
        tv.tv_usec -= 1000000;
    }
    if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1000;
    return tv;
}

std::chrono::steady_clock::duration ToDuration(double seconds) {
    if (!(seconds > 0) || !std::isfinite(seconds)) return std::chrono::steady_clock::duration::zero();
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
}

Reply Convert(const redisReply* r) {
    Reply out;
    switch (r->type) {
        case REDIS_REPLY_STRING:
            out.type = Reply::Type::kString;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_STATUS:
            out.type = Reply::Type::kStatus;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_ERROR:
            out.type = Reply::Type::kError;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_INTEGER:
            out.type = Reply::Type::kInteger;
            out.integer = r->integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = Reply::Type::kArray;
            out.elements.reserve(r->elements);
            for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
            break;
        default:
            out.type = Reply::Type::kNil;
            break;
    }
    return out;
}

struct ReplyDeleter {
    void operator()(redisReply* r) const {
        if (r != nullptr) freeReplyObject(r);
    }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

}  // namespace

// ---- URL ------------------------------------------------------------------------

std::string RedisUrl::Display() const {
    std::string out = "redis://";
    if (!username.empty() || !password.empty()) out += username + ":***@";
    out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
    out += ":" + std::to_string(port) + "/" + std::to_string(db);
    return out;
}

Result<RedisUrl> ParseRedisUrl(std::string_view url) {
    const std::size_t sep = url.find("://");
    if (url.empty()) return InvalidArgument("the Redis URL is empty (expected " + std::string(kUsage) + ")");
    if (sep == std::string_view::npos) {
        return InvalidArgument("the Redis URL has no scheme (expected " + std::string(kUsage) + ")");
    }
    const std::string scheme = Lower(url.substr(0, sep));
    if (scheme == "rediss") {
        return InvalidArgument(
            "rediss:// (Redis over TLS) is not supported: this build uses Debian 12's hiredis 0.14, which has no "
            "TLS; use redis:// on a trusted network, or reach Redis through a TLS tunnel (e.g. stunnel) on "
            "127.0.0.1");
    }
    if (scheme != "redis") {
        const std::string shown = scheme.size() > 16 ? scheme.substr(0, 16) + "..." : scheme;
        return InvalidArgument("the Redis URL must start with redis://, got scheme '" + shown + "' (expected " +
                               std::string(kUsage) + ")");
    }
    std::string_view rest = url.substr(sep + 3);
    if (rest.find('?') != std::string_view::npos || rest.find('#') != std::string_view::npos) {
        return InvalidArgument("the Redis URL may not have a query (?...) or fragment (#...) (expected " +
                               std::string(kUsage) + ")");
    }
    const std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);

    RedisUrl out;
    if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
        std::string_view userinfo = authority.substr(0, at);
        authority.remove_prefix(at + 1);
        const std::size_t colon = userinfo.find(':');
        if (colon == std::string_view::npos) {
            return InvalidArgument("the Redis URL's user info has no ':' before the password (write "
                                   "redis://:PASSWORD@HOST or redis://USER:PASSWORD@HOST)");
        }
        if (!PercentDecode(userinfo.substr(0, colon), out.username)) {
            return InvalidArgument("the Redis URL's user name has a malformed percent escape");
        }
        if (!PercentDecode(userinfo.substr(colon + 1), out.password)) {
            return InvalidArgument("the Redis URL's password has a malformed percent escape (write %XX with two hex "
                                   "digits, e.g. %40 for '@')");
        }
        if (out.password.empty()) {
            return InvalidArgument("the Redis URL has user info with an empty password");
        }
    }
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return InvalidArgument("the Redis URL's IPv6 host has no closing ']'");
        out.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return InvalidArgument("the Redis URL has text after the IPv6 host's ']'");
            port_text = after.substr(1);
            if (port_text.empty()) return InvalidArgument("the Redis URL has an empty port after ':'");
        }
    } else {
        const std::size_t colon = authority.find(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.empty()) return InvalidArgument("the Redis URL has an empty port after ':'");
        }
    }
    if (out.host.empty()) return InvalidArgument("the Redis URL has no host (expected " + std::string(kUsage) + ")");
    if (!port_text.empty() && !ParseInt(port_text, 1, 65535, out.port)) {
        const std::string shown = port_text.size() > 16 ? std::string(port_text.substr(0, 16)) + "..." : std::string(port_text);
        return InvalidArgument("the Redis URL's port must be a number between 1 and 65535, got '" + shown + "'");
    }
    if (!path.empty() && !ParseInt(path, 0, 1'000'000, out.db)) {
        const std::string shown = path.size() > 16 ? std::string(path.substr(0, 16)) + "..." : std::string(path);
        return InvalidArgument("the Redis URL's database (after '/') must be a number such as 0, got '" + shown + "'");
    }
    return out;
}

// ---- pool -----------------------------------------------------------------------

struct RedisPool::Connection {
    redisContext* context = nullptr;
    ~Connection() {
        if (context != nullptr) redisFree(context);
    }
};

RedisPool::RedisPool(PoolOptions options) : options_(std::move(options)) {}

RedisPool::~RedisPool() = default;

Result<std::unique_ptr<RedisPool::Connection>> RedisPool::Connect() {
    const std::string where = options_.url.Display();
    auto connection = std::make_unique<Connection>();
    connection->context =
        redisConnectWithTimeout(options_.url.host.c_str(), options_.url.port, ToTimeval(options_.connect_timeout_seconds));
    redisContext* c = connection->context;
    if (c == nullptr) return Unavailable("redis " + where + ": cannot allocate a connection");
    if (c->err != 0) return Unavailable("redis " + where + ": cannot connect: " + std::string(c->errstr));
    if (redisSetTimeout(c, ToTimeval(options_.command_timeout_seconds)) != REDIS_OK) {
        return Unavailable("redis " + where + ": cannot set the command timeout");
    }
    redisEnableKeepAlive(c);
    auto run = [&](const std::vector<std::string>& args, const char* what) -> Status {
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        for (const auto& a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        ReplyPtr reply(static_cast<redisReply*>(
            redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
        if (!reply) {
            return Unavailable("redis " + where + ": " + what + " failed: " +
                               (c->err != 0 ? std::string(c->errstr) : std::string("no reply")));
        }
        if (reply->type == REDIS_REPLY_ERROR) {
            // Server messages (WRONGPASS ..., ERR invalid DB index) never echo the password.
            return Unavailable("redis " + where + ": " + what + " refused: " + std::string(reply->str, reply->len));
        }
        return Status::Ok();
    };
    if (!options_.url.password.empty()) {
        std::vector<std::string> auth = {"AUTH"};
        if (!options_.url.username.empty()) auth.push_back(options_.url.username);
        auth.push_back(options_.url.password);
        SH_RETURN_IF_ERROR(run(auth, "AUTH"));
    }
    if (options_.url.db != 0) SH_RETURN_IF_ERROR(run({"SELECT", std::to_string(options_.url.db)}, "SELECT"));
    return connection;
}

Result<std::unique_ptr<RedisPool::Connection>> RedisPool::Acquire() {
    const auto deadline = std::chrono::steady_clock::now() + ToDuration(options_.command_timeout_seconds);
    std::unique_lock lock(mu_);
    for (;;) {
        if (!idle_.empty()) {
            auto connection = std::move(idle_.back());
            idle_.pop_back();
            return connection;
        }
        if (open_ < std::max(1, options_.max_connections)) break;
        if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
            open_ >= std::max(1, options_.max_connections)) {
            return Unavailable("redis " + options_.url.Display() + ": all " +
                               std::to_string(std::max(1, options_.max_connections)) +
                               " connections stayed busy for the command timeout");
        }
    }
    if (std::chrono::steady_clock::now() < connect_blocked_until_) {
        return Unavailable(last_connect_error_ + " (not retried for " +
                           std::to_string(options_.reconnect_interval_seconds) + " s)");
    }
    ++open_;
    lock.unlock();
    Result<std::unique_ptr<Connection>> connection = Connect();
    lock.lock();
    if (!connection.ok()) {
        --open_;
        last_connect_error_ = connection.status().message();
        connect_blocked_until_ = std::chrono::steady_clock::now() + ToDuration(options_.reconnect_interval_seconds);
        freed_.notify_one();
    }
    return connection;
}

void RedisPool::Release(std::unique_ptr<Connection> connection, bool healthy) {
    std::lock_guard lock(mu_);
    if (healthy) {
        idle_.push_back(std::move(connection));
    } else {
        // The server likely went away (restart, failover, network): the idle
        // connections are stale too, so close them rather than fail on each.
        open_ -= 1 + static_cast<int>(idle_.size());
        idle_.clear();
        connection.reset();
    }
    freed_.notify_all();
}

Result<Reply> RedisPool::Command(const std::vector<std::string_view>& args) {
    if (args.empty()) return InvalidArgument("redis: empty command");
    std::unique_ptr<Connection> connection;
    try {
        SH_ASSIGN_OR_RETURN(connection, Acquire());
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        argv.reserve(args.size());
        lens.reserve(args.size());
        for (std::string_view a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        redisContext* c = connection->context;
        ReplyPtr reply(static_cast<redisReply*>(
            redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
        if (!reply || c->err != 0) {
            std::string reason = c->err != 0 ? std::string(c->errstr) : std::string("no reply");
            if (c->err == REDIS_ERR_IO && (reason.find("temporarily unavailable") != std::string::npos ||
                                           reason.find("timed out") != std::string::npos)) {
                reason = "no reply within the command timeout (" + reason + ")";
            }
            Release(std::move(connection), false);
            return Unavailable("redis " + options_.url.Display() + ": " + std::string(args[0]) + " failed: " + reason);
        }
        Reply converted = Convert(reply.get());
        Release(std::move(connection), true);
        return converted;
    } catch (const std::exception& e) {  // out of memory: nothing else throws here
        if (connection) Release(std::move(connection), false);
        return Internal(std::string("redis: ") + e.what());
    }
}

}  // namespace signalhub::redis
