#include "net/redis_client.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <exception>
#include <utility>

#include "net/redis_transport.hpp"
#include "telemetry/log.hpp"

namespace signalhub::redis {
namespace {

constexpr std::string_view kUsage = "redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB]";

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

struct ReaderDeleter {
    void operator()(redisReader* r) const {
        if (r != nullptr) redisReaderFree(r);
    }
};

// A command as a RESP array of bulk strings (binary-safe).
std::string EncodeCommand(const std::vector<std::string_view>& args) {
    std::size_t size = 16;
    for (std::string_view a : args) size += a.size() + 16;
    std::string out;
    out.reserve(size);
    out += '*';
    out += std::to_string(args.size());
    out += "\r\n";
    for (std::string_view a : args) {
        out += '$';
        out += std::to_string(a.size());
        out += "\r\n";
        out.append(a.data(), a.size());
        out += "\r\n";
    }
    return out;
}

// "0.5 s"
std::string Seconds(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%g s", seconds);
    return text;
}

// TLS files belong to rediss:// URLs only: with redis:// they would be ignored
// and the operator would believe the connection encrypted.
Status CheckTlsOptions(const PoolOptions& options) {
    if (!options.url.tls && !options.tls.empty()) {
        return InvalidArgument("TLS files (CA, client certificate or key) are set for " + options.url.Display() +
                               ", a plaintext redis:// URL: use rediss:// for TLS, or remove them");
    }
    if (options.tls.cert_file.empty() != options.tls.key_file.empty()) {
        return InvalidArgument("a TLS client certificate needs both files: the certificate and its private key "
                               "(set both or neither)");
    }
    return Status::Ok();
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
    std::string out = tls ? "rediss://" : "redis://";
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
    if (scheme != "redis" && scheme != "rediss") {
        const std::string shown = scheme.size() > 16 ? scheme.substr(0, 16) + "..." : scheme;
        return InvalidArgument("the Redis URL must start with redis:// or rediss:// (TLS), got scheme '" + shown +
                               "' (expected " + std::string(kUsage) + ")");
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
    out.tls = scheme == "rediss";
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

Result<PoolOptions> MakePoolOptions(std::string_view url, const TlsOptions& tls, double timeout_seconds,
                                    int max_connections, double reconnect_interval_seconds) {
    SH_ASSIGN_OR_RETURN(RedisUrl parsed, ParseRedisUrl(url));
    if (!(timeout_seconds > 0) || !std::isfinite(timeout_seconds)) {
        return InvalidArgument("the Redis timeout must be a number of seconds greater than 0");
    }
    if (max_connections < 1) return InvalidArgument("the Redis pool size must be at least 1");
    if (!(reconnect_interval_seconds >= 0) || !std::isfinite(reconnect_interval_seconds)) {
        return InvalidArgument("the Redis reconnect interval must be a number of seconds, at least 0");
    }
    PoolOptions options;
    options.url = std::move(parsed);
    options.tls = tls;
    options.connect_timeout_seconds = timeout_seconds;
    options.command_timeout_seconds = timeout_seconds;
    options.max_connections = max_connections;
    options.reconnect_interval_seconds = reconnect_interval_seconds;
    SH_RETURN_IF_ERROR(CheckTlsOptions(options));
    return options;
}

struct RedisPool::Connection {
    std::unique_ptr<Transport> transport;
    std::unique_ptr<redisReader, ReaderDeleter> reader{redisReaderCreate()};
};

Result<std::unique_ptr<RedisPool>> RedisPool::Create(PoolOptions options) {
    SH_RETURN_IF_ERROR(CheckTlsOptions(options));
    std::shared_ptr<const TlsClientContext> tls;
    if (options.url.tls) {
        SH_ASSIGN_OR_RETURN(tls, TlsClientContext::Create(options.tls));
    }
    try {
        return std::unique_ptr<RedisPool>(new RedisPool(std::move(options), std::move(tls)));
    } catch (const std::exception& e) {
        return Internal(std::string("cannot create the Redis pool: ") + e.what());
    }
}

RedisPool::RedisPool(PoolOptions options, std::shared_ptr<const TlsClientContext> tls)
    : options_(std::move(options)), tls_(std::move(tls)) {}

RedisPool::~RedisPool() = default;

Result<Reply> RedisPool::Exchange(Connection& connection, const std::vector<std::string_view>& args,
                                  double timeout_seconds) {
    const Deadline deadline = std::chrono::steady_clock::now() + ToDuration(timeout_seconds);
    SH_RETURN_IF_ERROR(connection.transport->Write(EncodeCommand(args), deadline));
    redisReader* reader = connection.reader.get();
    char buffer[16 * 1024];
    for (;;) {
        void* raw = nullptr;
        if (redisReaderGetReply(reader, &raw) != REDIS_OK) {
            return Unavailable("protocol error in the reply: " + std::string(reader->errstr));
        }
        if (raw != nullptr) {
            ReplyPtr reply(static_cast<redisReply*>(raw));
            return Convert(reply.get());
        }
        SH_ASSIGN_OR_RETURN(std::size_t n, connection.transport->Read(buffer, sizeof buffer, deadline));
        if (redisReaderFeed(reader, buffer, n) != REDIS_OK) {
            return Unavailable("protocol error in the reply: " + std::string(reader->errstr));
        }
    }
}

// The reason of a failed exchange, for "<command> failed: <reason>".
std::string RedisPool::Reason(const Status& status) const {
    if (status.code() == ErrorCode::kDeadlineExceeded) {
        return "no reply within the command timeout (" + Seconds(options_.command_timeout_seconds) + ")";
    }
    return status.message();
}

Result<std::unique_ptr<RedisPool::Connection>> RedisPool::Connect() {
    const std::string where = options_.url.Display();
    auto connection = std::make_unique<Connection>();
    if (!connection->reader) return Unavailable("redis " + where + ": cannot allocate a connection");
    const Deadline deadline = std::chrono::steady_clock::now() + ToDuration(options_.connect_timeout_seconds);
    Result<std::unique_ptr<Transport>> transport =
        Transport::Connect(options_.url.host, options_.url.port, tls_.get(), deadline);
    if (!transport.ok()) {
        std::string reason = transport.status().message();
        if (const std::size_t at = reason.find("the connect timeout"); at != std::string::npos) {
            reason.insert(at + std::string_view("the connect timeout").size(),
                          " (" + Seconds(options_.connect_timeout_seconds) + ")");
        }
        return Unavailable("redis " + where + ": cannot connect: " + reason);
    }
    connection->transport = std::move(transport).value();
    auto run = [&](const std::vector<std::string>& args, const char* what) -> Status {
        std::vector<std::string_view> views(args.begin(), args.end());
        Result<Reply> reply = Exchange(*connection, views, options_.command_timeout_seconds);
        if (!reply.ok()) return Unavailable("redis " + where + ": " + what + " failed: " + Reason(reply.status()));
        if (reply->IsError() && std::string_view(what) != "PING") {
            // Server messages (WRONGPASS ..., ERR invalid DB index) never echo the password.
            return Unavailable("redis " + where + ": " + what + " refused: " + reply->str);
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
    // TLS 1.3: a server that wants a client certificate says so after the
    // handshake; one round trip makes that a connect failure. (An error reply
    // such as NOAUTH is fine here: the commands will get it too.)
    if (tls_ && options_.url.password.empty() && options_.url.db == 0) SH_RETURN_IF_ERROR(run({"PING"}, "PING"));
    return connection;
}

void RedisPool::NoteConnect(const Status& status) {
    std::lock_guard lock(log_mu_);
    if (status.ok()) {
        if (!logged_error_.empty()) {
            telemetry::Info("redis: connected again", {{"server", options_.url.Display()}});
            logged_error_.clear();
        }
        return;
    }
    if (status.message() == logged_error_) return;
    logged_error_ = status.message();
    telemetry::Warn(logged_error_, {{"server", options_.url.Display()}});
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
        return Unavailable(last_connect_error_ + " (not retried for " + Seconds(options_.reconnect_interval_seconds) +
                           ")");
    }
    ++open_;
    lock.unlock();
    Result<std::unique_ptr<Connection>> connection = Connect();
    NoteConnect(connection.status());
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
        Result<Reply> reply = Exchange(*connection, args, options_.command_timeout_seconds);
        if (!reply.ok()) {
            Release(std::move(connection), false);
            return Unavailable("redis " + options_.url.Display() + ": " + std::string(args[0]) +
                               " failed: " + Reason(reply.status()));
        }
        Release(std::move(connection), true);
        return reply;
    } catch (const std::exception& e) {  // out of memory: nothing else throws here
        if (connection) Release(std::move(connection), false);
        return Internal(std::string("redis: ") + e.what());
    }
}

}  // namespace signalhub::redis
